"""``python -m isoanalytics`` and the ``isoanalytics`` command: the command line's entry point.

It imports the command line inside a guard, so Ctrl-C during that import (pandas and httpx
load later, in the commands, but argparse and the package's small modules load here) ends as
the command line's own interrupt does: one line on stderr, exit 130, no traceback. Only the
interpreter's own start-up, before any code of ours runs, is outside it.
"""

from __future__ import annotations

import sys

INTERRUPTED = 130  # as isoanalytics.cli.EXIT_INTERRUPTED, without importing it


def main() -> int:
    """Run the command line with ``sys.argv``; returns the exit code."""
    try:
        from .cli import main as command_line
    except KeyboardInterrupt:
        print("isoanalytics: interrupted before it started; nothing was written", file=sys.stderr)
        return INTERRUPTED
    return command_line()


if __name__ == "__main__":
    sys.exit(main())
