"""Alt text for the report's charts: what each chart shows, with its key figure.

Each function takes the frame the chart was drawn from and returns one or two plain
sentences for :func:`~isoanalytics.plots.chart_image`, figures written as the tables write
them (exact tCO2e, shares to one decimal), so a screen reader, or a PDF's text, gets what a
sighted reader gets from the chart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._format import percent, tonnes
from ..analysis.dimensions import check_summary, entity_noun, label, top_n
from ..analysis.metrics import Concentration, ratio, totals
from .sentences import concentration_terms, plural

__all__ = ["delivery_alt", "holdings_alt", "lorenz_alt", "retired_share_alt"]


def _shown(count: int, top: int, noun: str) -> str:
    noun = "durability class" if noun == "durability" else noun
    if count <= top:
        return f"all {count} {plural(noun, count)}"
    return (f"the top {top} of {count} {plural(noun, count)} and one Other bar for the "
            f"remaining {count - top}")


def holdings_alt(summary: pd.DataFrame, top: int = 10) -> str:
    """The alt text of :func:`~isoanalytics.plots.holdings_chart` (status ``total``).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from isoanalytics.analysis.metrics import summary_frame
    >>> from isoanalytics.present.alt import holdings_alt
    >>> summary = summary_frame(np.array([6_000, 1_000]), np.array([1_500, 500]),
    ...                         pd.Index(["spl_A", "spl_B"], name="supplier_id"))
    >>> print(holdings_alt(summary))
    ... # doctest: +NORMALIZE_WHITESPACE
    Bar chart of active and retired credits (tCO2e) by supplier, all 2 suppliers, largest
    first; the largest, spl_A, holds 7.500 tCO2e (83.3 % of 9.000 tCO2e).
    """
    check_summary(summary, "holdings_alt")
    noun = entity_noun(summary)
    whole = totals(summary).total_kgs
    start = (f"Bar chart of active and retired credits (tCO2e) by {noun}, "
             f"{_shown(len(summary), top, noun)}, largest first")
    if not whole:
        return f"{start}; nothing is held."
    folded = top_n(summary, top)
    first = int(np.argmax(folded["total_kgs"].to_numpy(np.int64)[~folded["other"].to_numpy(bool)]))
    largest = int(folded["total_kgs"].iloc[first])
    text = (f"{start}; the largest, {label(folded).iloc[first]}, holds {tonnes(largest)} tCO2e "
            f"({percent(ratio(largest, whole))} of {tonnes(whole)} tCO2e)")
    if folded["other"].any():
        rest = int(folded["total_kgs"].iloc[-1])
        text += f"; the Other bar holds {tonnes(rest)} tCO2e ({percent(ratio(rest, whole))})"
    return text + "."


def lorenz_alt(figures: Concentration) -> str:
    """The alt text of :func:`~isoanalytics.plots.lorenz_chart`.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import concentration
    >>> from isoanalytics.present.alt import lorenz_alt
    >>> print(lorenz_alt(concentration(pd.Series([60, 30, 10]))))
    ... # doctest: +NORMALIZE_WHITESPACE
    Lorenz curve of the credits held across 3 entities, against the diagonal of equal
    holdings: Gini 0.33, HHI 4,600 (high), largest entity 60.0 %.
    """
    noun = figures.by or "entity"
    terms = concentration_terms(figures, noun)
    start = (f"Lorenz curve of the credits held across {figures.n} "
             f"{plural(noun, figures.n)}, against the diagonal of equal holdings")
    if not terms:
        return f"{start}: nothing is held."
    return f"{start}: {terms['gini']}, {terms['hhi']}, {terms['largest']}."


def delivery_alt(orders: pd.DataFrame, top: int = 15) -> str:
    """The alt text of :func:`~isoanalytics.plots.delivery_chart`.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.present.alt import delivery_alt
    >>> orders = pd.DataFrame({"ordered_kgs": [10_000, 4_000], "delivered_kgs": [4_000, 4_000],
    ...                        "remaining_kgs": [6_000, 0]})
    >>> print(delivery_alt(orders))  # doctest: +NORMALIZE_WHITESPACE
    Bar chart of delivered and remaining credits (tCO2e) for all 2 orders, most remaining
    first: 8.000 of 14.000 tCO2e ordered delivered (57.1 %), 6.000 tCO2e remaining.
    """
    ordered, delivered, remaining = (int(orders[column].to_numpy(np.int64).sum())
                                     for column in ("ordered_kgs", "delivered_kgs",
                                                    "remaining_kgs"))
    return (f"Bar chart of delivered and remaining credits (tCO2e) for "
            f"{_shown(len(orders), top, 'order')}, most remaining first: {tonnes(delivered)} "
            f"of {tonnes(ordered)} tCO2e ordered delivered "
            f"({percent(ratio(delivered, ordered))}), {tonnes(remaining)} tCO2e remaining.")


def retired_share_alt(summary: pd.DataFrame, top: int = 10) -> str:
    """The alt text of :func:`~isoanalytics.plots.retired_share_chart`.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from isoanalytics.analysis.metrics import summary_frame
    >>> from isoanalytics.present.alt import retired_share_alt
    >>> summary = summary_frame(np.array([3_000, 0]), np.array([1_000, 0]),
    ...                         pd.Index(["org_A", "org_B"], name="organisation_id"))
    >>> print(retired_share_alt(summary))  # doctest: +NORMALIZE_WHITESPACE
    Bar chart of the retired share (% of kg held) of each organisation, all 2 organisations,
    largest holding first; all together 25.0 % retired.
    """
    check_summary(summary, "retired_share_alt")
    noun = entity_noun(summary)
    held = totals(summary)
    return (f"Bar chart of the retired share (% of kg held) of each {noun}, "
            f"{_shown(len(summary), top, noun)}, largest holding first; all together "
            f"{percent(ratio(held.retired_kgs, held.total_kgs))} retired.")
