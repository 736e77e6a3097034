"""isoanalytics: Isometric Registry credit balances as tidy frames, shares and concentration.

Read the registry with :class:`RegistryClient` (or :class:`AsyncRegistryClient`;
``RegistryClient.demo()`` works offline on the embedded demo registry) and a portfolio with
:func:`fetch_balances`; or start from a ``GET /organisations/{id}/credit_balance`` body with
:func:`parse_balance`. Then :func:`summarize`, :func:`enrich`, :func:`retired_share`,
:func:`concentration` and :func:`reconcile`; :func:`breakdown` by supplier, project, pathway or
country and :func:`top_n` for the largest. ``isoanalytics.plots`` draws them and
``isoanalytics.widgets`` explores them.

``isoanalytics.report.build`` writes the HTML report, ``isoanalytics.tables`` formats tables.

Every name loads on first use (PEP 562), so ``import isoanalytics`` imports nothing heavy:
pandas and httpx come with the first frame or client, matplotlib, ipywidgets and nbclient
with the first plot, widget or report, and a command line can be interrupted cleanly from its
first instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and editors see; at run time each loads on first use
    from . import demo
    from ._format import percent, tonnes
    from .analysis.claims import claims_summary, retirements_of
    from .analysis.deliveries import DeliveryExposure, delivery_exposure
    from .analysis.dimensions import BREAKDOWNS, DIMENSIONS, breakdown, top_n
    from .analysis.durability import (
        DURABILITY,
        DURABILITY_CLASSES,
        durability_sources,
        project_durability,
    )
    from .analysis.holdings import holdings_as_of, reconcile_ledger
    from .analysis.metrics import Concentration, concentration, reconcile, retired_share, summarize
    from .analysis.timeline import pivot_timeline, timeline
    from .errors import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        InvalidCredentialsError,
        InvalidIdError,
        MissingCredentialsError,
        NotFoundError,
        PaginationError,
        PermissionDeniedError,
        RateLimitError,
        ReadOnlyError,
        RegistryError,
        ResponseTooLargeError,
        SchemaDriftWarning,
        SchemaError,
        ServerError,
        UnexpectedStatusError,
        UnprocessableEntityError,
        UnreadableResponseError,
    )
    from .present.export import export
    from .present.snapshots import append_snapshot, changes, history, snapshot
    from .records.balance import (
        COLUMNS,
        LEVELS,
        STATUSES,
        CreditBalance,
        parse_balance,
        split_portfolio,
        stack_balances,
    )
    from .records.deliveries import DeliverySchedule, delivery_progress
    from .records.periods import Period, reporting_period
    from .registry.claims import aclaims, claims
    from .registry.client import AsyncRegistryClient, RegistryClient
    from .registry.deliveries import adelivery_schedule, delivery_schedule
    from .registry.enrich import aenrich, enrich
    from .registry.fetch import PortfolioFetch, afetch_balances, fetch_balances
    from .registry.ledger import aledger, ledger

# Each public name and the module it lives in; ``demo`` is a module itself.
_HOMES = {
    "_format": ("percent", "tonnes"),
    "records.balance": ("COLUMNS", "LEVELS", "STATUSES", "CreditBalance", "parse_balance",
                "split_portfolio", "stack_balances"),
    "registry.client": ("AsyncRegistryClient", "RegistryClient"),
    "analysis.dimensions": ("BREAKDOWNS", "DIMENSIONS", "breakdown", "top_n"),
    "analysis.durability": ("DURABILITY", "DURABILITY_CLASSES", "durability_sources",
                            "project_durability"),
    "registry.enrich": ("aenrich", "enrich"),
    "errors": ("APIConnectionError", "APIStatusError", "APITimeoutError", "AuthenticationError",
               "InvalidCredentialsError", "InvalidIdError", "MissingCredentialsError",
               "NotFoundError", "PaginationError", "PermissionDeniedError", "RateLimitError",
               "ReadOnlyError", "RegistryError", "ResponseTooLargeError", "SchemaDriftWarning",
               "SchemaError",
               "ServerError", "UnexpectedStatusError", "UnprocessableEntityError",
               "UnreadableResponseError"),
    "registry.fetch": ("PortfolioFetch", "afetch_balances", "fetch_balances"),
    "analysis.metrics": ("Concentration", "concentration", "reconcile", "retired_share",
                         "summarize"),
    "analysis.timeline": ("pivot_timeline", "timeline"),
    "registry.claims": ("aclaims", "claims"),
    "analysis.claims": ("claims_summary", "retirements_of"),
    "records.periods": ("Period", "reporting_period"),
    "registry.deliveries": ("adelivery_schedule", "delivery_schedule"),
    "records.deliveries": ("DeliverySchedule", "delivery_progress"),
    "analysis.deliveries": ("DeliveryExposure", "delivery_exposure"),
    "analysis.holdings": ("holdings_as_of", "reconcile_ledger"),
    "registry.ledger": ("aledger", "ledger"),
    "present.export": ("export",),
    "present.snapshots": ("append_snapshot", "changes", "history", "snapshot"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}
# Submodules reached as attributes: ``isoanalytics.report.build(...)`` after
# ``import isoanalytics``.
_SUBMODULES = ("demo", "plots", "report", "tables", "widgets")

__all__ = [
    "BREAKDOWNS",
    "COLUMNS",
    "DIMENSIONS",
    "DURABILITY",
    "DURABILITY_CLASSES",
    "LEVELS",
    "STATUSES",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncRegistryClient",
    "AuthenticationError",
    "Concentration",
    "CreditBalance",
    "DeliveryExposure",
    "DeliverySchedule",
    "InvalidCredentialsError",
    "InvalidIdError",
    "MissingCredentialsError",
    "NotFoundError",
    "PaginationError",
    "Period",
    "PermissionDeniedError",
    "PortfolioFetch",
    "RateLimitError",
    "ReadOnlyError",
    "RegistryClient",
    "RegistryError",
    "ResponseTooLargeError",
    "SchemaDriftWarning",
    "SchemaError",
    "ServerError",
    "UnexpectedStatusError",
    "UnprocessableEntityError",
    "UnreadableResponseError",
    "__version__",
    "aclaims",
    "adelivery_schedule",
    "aenrich",
    "afetch_balances",
    "aledger",
    "append_snapshot",
    "breakdown",
    "changes",
    "claims",
    "claims_summary",
    "concentration",
    "delivery_exposure",
    "delivery_progress",
    "delivery_schedule",
    "demo",
    "durability_sources",
    "enrich",
    "export",
    "fetch_balances",
    "history",
    "holdings_as_of",
    "ledger",
    "parse_balance",
    "percent",
    "pivot_timeline",
    "project_durability",
    "reconcile",
    "reconcile_ledger",
    "reporting_period",
    "retired_share",
    "retirements_of",
    "snapshot",
    "split_portfolio",
    "stack_balances",
    "summarize",
    "timeline",
    "tonnes",
    "top_n",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # importlib.metadata alone costs more than the rest of __init__
        from ._version import version

        value: Any = version()
    elif name in _HOME_OF:
        value = getattr(importlib.import_module(f".{_HOME_OF[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # loaded once: later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME_OF, *_SUBMODULES})
