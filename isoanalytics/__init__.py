"""isoanalytics: Isometric Registry credit balances as tidy frames, shares and concentration.

Read the registry with :class:`RegistryClient` (or :class:`AsyncRegistryClient`;
``RegistryClient.demo()`` works offline on the embedded demo registry) and a portfolio with
:func:`fetch_balances`; or start from a ``GET /organisations/{id}/credit_balance`` body with
:func:`parse_balance`. Then :func:`summarize`, :func:`enrich`, :func:`retired_share`,
:func:`concentration` and :func:`reconcile`; :func:`breakdown` by supplier, project, pathway or
country and :func:`top_n` for the largest. ``isoanalytics.plots`` draws them and
``isoanalytics.widgets`` explores them.

``isoanalytics.report.build`` writes the HTML report, ``isoanalytics.tables`` formats tables.

Plotting, widgets and reports (matplotlib, ipywidgets, nbclient) are imported only by the
modules that use them, on first use, so ``import isoanalytics`` stays light.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from . import demo
from ._format import percent, tonnes
from .balance import (
    COLUMNS,
    LEVELS,
    STATUSES,
    CreditBalance,
    parse_balance,
    split_portfolio,
    stack_balances,
)
from .client import AsyncRegistryClient, RegistryClient
from .dimensions import DIMENSIONS, breakdown, top_n
from .enrich import aenrich, enrich
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    InvalidCredentialsError,
    MissingCredentialsError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    ReadOnlyError,
    RegistryError,
    ResponseTooLargeError,
    SchemaError,
    ServerError,
    UnexpectedStatusError,
    UnprocessableEntityError,
    UnreadableResponseError,
)
from .fetch import PortfolioFetch, afetch_balances, fetch_balances
from .metrics import Concentration, concentration, reconcile, retired_share, summarize

try:
    __version__ = version("isoanalytics")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "COLUMNS",
    "DIMENSIONS",
    "LEVELS",
    "STATUSES",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncRegistryClient",
    "AuthenticationError",
    "Concentration",
    "CreditBalance",
    "InvalidCredentialsError",
    "MissingCredentialsError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "PortfolioFetch",
    "RateLimitError",
    "ReadOnlyError",
    "RegistryClient",
    "RegistryError",
    "ResponseTooLargeError",
    "SchemaError",
    "ServerError",
    "UnexpectedStatusError",
    "UnprocessableEntityError",
    "UnreadableResponseError",
    "__version__",
    "aenrich",
    "afetch_balances",
    "breakdown",
    "concentration",
    "demo",
    "enrich",
    "fetch_balances",
    "parse_balance",
    "percent",
    "reconcile",
    "retired_share",
    "split_portfolio",
    "stack_balances",
    "summarize",
    "tonnes",
    "top_n",
]

_SUBMODULES = ("plots", "report", "tables", "widgets")


def __getattr__(name: str) -> Any:
    # ``isoanalytics.report.build(...)`` after a bare ``import isoanalytics``: the heavier
    # submodules load on first use (PEP 562), not at import.
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
