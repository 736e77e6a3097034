"""isoanalytics: Isometric Registry credit balances as tidy frames, shares and concentration.

Start with :func:`parse_balance` on a ``GET /organisations/{id}/credit_balance`` body, or
with the embedded demo registry (:mod:`isoanalytics.demo`), then :func:`summarize`,
:func:`retired_share`, :func:`concentration` and :func:`reconcile`.

Plotting and widgets (matplotlib, ipywidgets) are imported only by the modules that use
them, so ``import isoanalytics`` stays light.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import demo
from .balance import (
    COLUMNS,
    LEVELS,
    STATUSES,
    CreditBalance,
    parse_balance,
    split_portfolio,
    stack_balances,
)
from .errors import SchemaError
from .metrics import Concentration, concentration, reconcile, retired_share, summarize

try:
    __version__ = version("isoanalytics")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "COLUMNS",
    "LEVELS",
    "STATUSES",
    "Concentration",
    "CreditBalance",
    "SchemaError",
    "__version__",
    "concentration",
    "demo",
    "parse_balance",
    "reconcile",
    "retired_share",
    "split_portfolio",
    "stack_balances",
    "summarize",
]
