"""The package's version, in a bottom-layer module of its own.

``isoanalytics.__version__``, the client's User-Agent and ``isoanalytics --version`` all read
it from here, so none of them imports the package's ``__init__`` (the client once had to,
lazily, to break the cycle). ``importlib.metadata`` costs more to import than the rest of
``isoanalytics/__init__``, so the version is looked up on first use, once.
"""

from __future__ import annotations

import functools

__all__ = ["version"]


@functools.cache
def version() -> str:
    """The installed distribution's version; ``"0+unknown"`` in a source tree never installed.

    Examples
    --------
    >>> from isoanalytics._version import version
    >>> version() == __import__("isoanalytics").__version__
    True
    """
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("isoanalytics")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
