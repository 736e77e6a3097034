"""The package's one progress bar: a tqdm widget in Jupyter, text in a terminal, else nothing.

A portfolio fetch counts organisations and a report counts cells with it; neither draws one
where nobody watches (CI, a pipe, a kernel without a front end). tqdm loads with the first bar.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["interactive", "progress_bar"]


def interactive() -> bool:
    """A terminal, or a notebook kernel with a front end to draw a bar in.

    Examples
    --------
    >>> from isoanalytics._progress import interactive
    >>> interactive()  # doctests run with standard error captured: no terminal
    False
    """
    ipython = sys.modules.get("IPython")  # never imported here: only looked at if loaded
    shell = ipython.get_ipython() if ipython is not None else None
    if getattr(shell, "kernel", None) is not None:
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress_bar(total: int, description: str, unit: str, *,
                 shown: bool | None = None) -> Any:
    """A tqdm bar of ``total`` steps (a context manager; ``update(1)`` per step).

    ``shown``: None draws it only when :func:`interactive`; False never, True always.

    Examples
    --------
    >>> from isoanalytics._progress import progress_bar
    >>> with progress_bar(3, "credit balances", "org", shown=False) as bar:
    ...     for _ in range(3):
    ...         _ = bar.update(1)  # a step done: drawn only when shown
    >>> bar.disable, bar.total
    (True, 3)
    """
    from tqdm.auto import tqdm

    wanted = interactive() if shown is None else shown
    return tqdm(total=total, desc=description, unit=unit, disable=not wanted, leave=False)
