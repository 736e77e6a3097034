"""``python -m isoanalytics``: the same as the ``isoanalytics`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
