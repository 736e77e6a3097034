"""How concentration figures are said, in one place: the chart notes, the explorer, the report
and the command line all word them from here.

:func:`concentration_terms` writes each headline figure the one way it is written everywhere
(``HHI 4,600 (high)``, ``CR1 60.0 %``, ``effective number 2.2``, ``Gini 0.33``); each view
picks the terms it has room for and joins them. :func:`concentration_verdict` is the sentence
a reader gets first.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._format import percent

if TYPE_CHECKING:
    from ..analysis.metrics import Concentration

__all__ = ["NOTHING_HELD", "concentration_terms", "concentration_verdict", "durability_sentence",
           "exposure_sentence", "lagging_sentence", "plural", "reconciliation_finding",
           "status_word"]

NOTHING_HELD = "nothing held"


def plural(noun: str, count: int = 2) -> str:
    """``noun`` for ``count`` of them: "supplier", "suppliers", "entities", "countries".

    Examples
    --------
    >>> from isoanalytics.present.sentences import plural
    >>> plural("supplier"), plural("supplier", 1), plural("entity"), plural("country")
    ('suppliers', 'supplier', 'entities', 'countries')
    >>> plural("durability class")
    'durability classes'
    """
    if count == 1:
        return noun
    if noun.endswith(("s", "x", "sh", "ch")):  # "durability class", "classes"
        return noun + "es"
    return noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"


def concentration_terms(figures: Concentration, noun: str | None = None) -> dict[str, str]:
    """Each headline figure of ``figures`` as words: the terms every view is written with.

    Keys: ``hhi``, ``cr1``, ``cr3``, ``effective_n``, ``gini`` and ``largest`` (CR1 as the
    share of the largest ``noun``, default ``figures.by``). Empty when nothing is held
    (``figures.n`` is 0): say :data:`NOTHING_HELD` or :func:`concentration_verdict` instead.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import concentration
    >>> from isoanalytics.present.sentences import concentration_terms
    >>> terms = concentration_terms(concentration(pd.Series([60, 30, 10])), "supplier")
    >>> ", ".join(terms[name] for name in ("hhi", "cr1", "effective_n", "gini"))
    'HHI 4,600 (high), CR1 60.0 %, effective number 2.2, Gini 0.33'
    >>> terms["largest"]
    'largest supplier 60.0 %'
    """
    if not figures.n:
        return {}
    noun = noun or figures.by or "entity"
    return {
        "hhi": f"HHI {_hhi(figures)} ({figures.level})",
        "cr1": f"CR1 {percent(figures.cr1)}",
        "cr3": f"CR3 {percent(figures.cr3)}",
        "effective_n": f"effective number {figures.effective_n:.1f}",
        "gini": f"Gini {figures.gini:.2f}",
        "largest": f"largest {noun} {percent(figures.cr1)}",
    }


def _hhi(figures: Concentration) -> str:
    return f"{figures.hhi:,.0f}"


def concentration_verdict(figures: Concentration, noun: str | None = None, *,
                          largest: str | None = None, markup: bool = False) -> str:
    """The sentence that says how concentrated a holding is, and how much its largest holds.

    Parameters
    ----------
    figures : Concentration
    noun : str, optional
        What the entities are (default ``figures.by``, else "entity").
    largest : str, optional
        The largest entity's name (or id), to name it.
    markup : bool
        HTML: the band in bold, the name escaped (it is the registry's text).

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import concentration
    >>> from isoanalytics.present.sentences import concentration_verdict
    >>> print(concentration_verdict(concentration(pd.Series([60, 30, 10])), "supplier",
    ...                             largest="Deepwell Carbon"))  # doctest: +NORMALIZE_WHITESPACE
    Supplier concentration is high: HHI 4,600 across 3 suppliers; the largest, Deepwell Carbon,
    holds 60.0 % of the credits.
    >>> concentration_verdict(concentration(pd.Series([0, 0])))
    'No credits are held, so there is no concentration to measure.'
    """
    if not figures.n:
        return "No credits are held, so there is no concentration to measure."
    noun = noun or figures.by or "entity"
    level = f"<b>{figures.level}</b>" if markup else str(figures.level)
    named = "" if largest is None else f", {html.escape(largest) if markup else largest},"
    return (f"{noun.capitalize()} concentration is {level}: HHI {_hhi(figures)} across "
            f"{figures.n} {plural(noun, figures.n)}; the largest{named} holds "
            f"{percent(figures.cr1)} of the credits.")


def status_word(status: object) -> str:
    """An order status as words: ``in_progress`` is "In progress", a missing one "Unknown".

    Examples
    --------
    >>> from isoanalytics.present.sentences import status_word
    >>> status_word("in_progress"), status_word("completed"), status_word(None)
    ('In progress', 'Completed', 'Unknown')
    """
    if status is None or (isinstance(status, float) and status != status):
        return "Unknown"
    return str(status).replace("_", " ").strip().capitalize() or "Unknown"


def durability_sentence(summary: pd.DataFrame, durable: str = "1000+ years") -> str:
    """What share of a holding is in the durable class, and what the classes rest on.

    ``summary`` is ``breakdown(balance, "durability", projects=...)``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from isoanalytics.analysis.metrics import summary_frame
    >>> from isoanalytics.present.sentences import durability_sentence
    >>> summary = summary_frame(np.array([3_000, 1_000]), np.array([0, 0]),
    ...                         pd.Index(["1000+ years", "100-1000 years"], name="durability"))
    >>> print(durability_sentence(summary))  # doctest: +NORMALIZE_WHITESPACE
    75.0 % of the credits (3.000 of 4.000 tCO2e) are stored for 1,000 years or more (class
    "1000+ years"). The classes are this package's reading of the Isometric protocol each
    project follows, not a figure the registry states (isoanalytics.durability_sources()
    cites the source of each).
    """
    from .._format import tonnes
    from ..analysis.metrics import ratio

    whole = int(summary["total_kgs"].to_numpy(np.int64).sum())
    caveat = ("The classes are this package's reading of the Isometric protocol each project "
              "follows, not a figure the registry states (isoanalytics.durability_sources() "
              "cites the source of each).")
    if not whole:
        return f"No credits are held, so there is no durability mix. {caveat}"
    kept = int(summary["total_kgs"].to_numpy(np.int64)[
        (summary.index.astype(str) == durable)].sum())
    return (f"{percent(ratio(kept, whole))} of the credits ({tonnes(kept)} of {tonnes(whole)} "
            f"tCO2e) are stored for 1,000 years or more (class \"{durable}\"). {caveat}")


def lagging_sentence(orders: pd.DataFrame, names: Mapping[str, str] | None = None, *,
                     stall_days: int = 730, markup: bool = False) -> str:
    """The orders that are behind, each named: its id, supplier, buyer (for several), how
    much was delivered and when last.

    ``orders`` is a delivery schedule's ``orders`` frame (``behind``, ``order_id``,
    ``supplier_name``, ``ordered_kgs``, ``delivered_kgs``, ``last_delivery_at``; with an
    ``organisation_id`` column, ``names`` names the buyers).

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.present.sentences import lagging_sentence
    >>> orders = pd.DataFrame({
    ...     "order_id": ["ord_A", "ord_B"], "supplier_name": ["Deepwell", "Basalt"],
    ...     "ordered_kgs": [10_000, 5_000], "delivered_kgs": [4_000, 5_000],
    ...     "last_delivery_at": pd.to_datetime(["2023-05-01", "2025-01-01"], utc=True),
    ...     "behind": [True, False]})
    >>> print(lagging_sentence(orders))  # doctest: +NORMALIZE_WHITESPACE
    1 of 2 orders is behind (open, with credits still to come and no delivery for more
    than 730 days): ord_A from Deepwell, 4.000 of 10.000 tCO2e delivered (40.0 %), last
    delivery 2023-05-01.
    """
    from .._format import name_or_id, tonnes
    from ..analysis.metrics import ratio

    def text(value: object) -> str:
        return html.escape(str(value)) if markup else str(value)

    behind = orders[orders["behind"].astype(bool).to_numpy()]
    rule = (f"open, with credits still to come and no delivery for more than {stall_days:,} "
            "days")
    if behind.empty:
        return (f"No order is behind: none of the {len(orders):,} "
                f"{plural('order', len(orders))} is {rule}.")
    labels = {} if names is None else names
    several = "organisation_id" in orders.columns and orders["organisation_id"].nunique() > 1
    named = []
    row: Any
    for row in behind.itertuples():  # fields as their checked columns hold them
        last = row.last_delivery_at
        when = "nothing delivered yet" if pd.isna(last) else f"last delivery {last:%Y-%m-%d}"
        buyer = (f" for {text(name_or_id(labels.get(row.organisation_id), row.organisation_id))}"
                 if several else "")
        order = f"<code>{text(row.order_id)}</code>" if markup else str(row.order_id)
        named.append(f"{order} from {text(name_or_id(row.supplier_name, ''))}{buyer}, "
                     f"{tonnes(int(row.delivered_kgs))} of {tonnes(int(row.ordered_kgs))} tCO2e "
                     f"delivered ({percent(ratio(int(row.delivered_kgs), int(row.ordered_kgs)))})"
                     f", {when}")
    verb = "is" if len(behind) == 1 else "are"
    return (f"{len(behind):,} of {len(orders):,} {plural('order', len(orders))} {verb} behind "
            f"({rule}): " + "; ".join(named) + ".")


def exposure_sentence(figures: Concentration, remaining_kgs: int, largest: str | None = None,
                      *, markup: bool = False) -> str:
    """How much is still to be delivered, from how many suppliers, and how concentrated.

    ``figures`` is a :class:`~isoanalytics.analysis.deliveries.DeliveryExposure`'s
    ``concentration``; ``largest`` the name of the supplier that owes the most.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import concentration
    >>> from isoanalytics.present.sentences import exposure_sentence
    >>> figures = concentration(pd.Series([11_000, 1_000]))
    >>> print(exposure_sentence(figures, 12_000, "Deepwell"))  # doctest: +NORMALIZE_WHITESPACE
    12.000 tCO2e are still to be delivered, by 2 suppliers: HHI 8,472 (high); the largest,
    Deepwell, owes 91.7 % of it.
    >>> exposure_sentence(concentration(pd.Series([0])), 0)
    'Nothing is still to be delivered: every order has been delivered in full.'
    """
    from .._format import tonnes

    if not figures.n or not remaining_kgs:
        return "Nothing is still to be delivered: every order has been delivered in full."
    level = f"<b>{figures.level}</b>" if markup else str(figures.level)
    if figures.n == 1:
        one = "" if largest is None else f", {html.escape(largest) if markup else largest}"
        return (f"{tonnes(remaining_kgs)} tCO2e are still to be delivered, all of it by one "
                f"supplier{one} (HHI {_hhi(figures)}, {level}).")
    named = "" if largest is None else f", {html.escape(largest) if markup else largest},"
    return (f"{tonnes(remaining_kgs)} tCO2e are still to be delivered, by {figures.n} "
            f"{plural('supplier', figures.n)}: HHI {_hhi(figures)} ({level}); the "
            f"largest{named} owes {percent(figures.cr1)} of it.")


_LEVEL_WORDS = {"project": "projects", "supplier": "suppliers", "order": "orders"}


def reconciliation_finding(level: str, status: str, listed_kgs: int, total_kgs: int,
                           organisation: str | None = None, *,
                           transferred_kgs: int | None = None) -> str:
    """One difference of :func:`~isoanalytics.reconcile` in words: which way and why.

    ``transferred_kgs``: what the registry lists as transferred into the organisation, said
    beside a shortfall of the orders (and whether it is exactly that shortfall).

    Examples
    --------
    >>> from isoanalytics.present.sentences import reconciliation_finding
    >>> print(reconciliation_finding("order", "active", 410_046, 450_431, "Corvid Payments"))
    ... # doctest: +NORMALIZE_WHITESPACE
    Corvid Payments: orders account for 40.385 tCO2e less than the active total (410.046 of
    450.431 tCO2e): credits that arrived outside any order, by transfer from another
    organisation or by a buffer-pool refund.
    """
    from .._format import tonnes

    difference = listed_kgs - total_kgs
    words = _LEVEL_WORDS.get(level, f"{level} balances")
    side = "less" if difference < 0 else "more"
    start = (f"{organisation + ': ' if organisation else ''}{words} account for "
             f"{tonnes(abs(difference))} tCO2e {side} than the {status} total "
             f"({tonnes(listed_kgs)} of {tonnes(total_kgs)} tCO2e)")
    if level == "order" and difference < 0:
        why = ("credits that arrived outside any order, by transfer from another organisation "
               "or by a buffer-pool refund")
        if transferred_kgs:
            why += (f"; the registry lists {tonnes(transferred_kgs)} tCO2e transferred in"
                    + (", exactly the difference" if transferred_kgs == -difference else ""))
    elif level == "order":
        why = ("the order balances count credits the organisation no longer holds (a "
               "transfer out?), or were read at another time than the total")
    else:
        why = (f"the registry's {level} balances do not cover the total: ask the registry "
               "(this is not explained by transfers)")
    return f"{start}: {why}."
