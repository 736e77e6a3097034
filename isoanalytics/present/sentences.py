"""How concentration figures are said, in one place: the chart notes, the explorer, the report
and the command line all word them from here.

:func:`concentration_terms` writes each headline figure the one way it is written everywhere
(``HHI 4,600 (high)``, ``CR1 60.0 %``, ``effective number 2.2``, ``Gini 0.33``); each view
picks the terms it has room for and joins them. :func:`concentration_verdict` is the sentence
a reader gets first.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from .._format import percent

if TYPE_CHECKING:
    from ..analysis.metrics import Concentration

__all__ = ["NOTHING_HELD", "concentration_terms", "concentration_verdict", "plural"]

NOTHING_HELD = "nothing held"


def plural(noun: str, count: int = 2) -> str:
    """``noun`` for ``count`` of them: "supplier", "suppliers", "entities", "countries".

    Examples
    --------
    >>> from isoanalytics.present.sentences import plural
    >>> plural("supplier"), plural("supplier", 1), plural("entity"), plural("country")
    ('suppliers', 'supplier', 'entities', 'countries')
    """
    if count == 1:
        return noun
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
