"""Answers from a balance: retired share, per-entity summaries, concentration, reconciliation.

Every function takes a :class:`~isoanalytics.CreditBalance` or a tidy frame (one
organisation's, or a stacked portfolio's, where entities are summed over organisations) and
works in exact integer kilograms; ratios are computed from integers in one division.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._options import check_choice
from ..records.balance import CreditBalance
from ..records.frames import (
    KGS_PER_CREDIT,
    LEVELS,
    STATUSES,
    check_sum_fits,
    check_tidy,
    entity_totals,
)

__all__ = [
    "Concentration",
    "Totals",
    "concentration",
    "ratio",
    "reconcile",
    "retired_share",
    "summarize",
    "summary_frame",
    "totals",
]

Source = CreditBalance | pd.DataFrame
Level = Literal["organisation", "project", "supplier", "order"]
Status = Literal["active", "retired", "total"]

# 2023 US Merger Guidelines: above 1,800 highly concentrated; 1,000 to 1,800 moderately.
HHI_HIGH = 1800
HHI_MODERATE = 1000


def _frame(source: Source) -> pd.DataFrame:
    if isinstance(source, CreditBalance):
        return source.to_frame()
    return check_tidy(source)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` in one correctly rounded division; NaN over zero.

    Python divides integers exactly however large they are, so a share of kilograms is never
    the ratio of two rounded floats.

    Examples
    --------
    >>> from isoanalytics.analysis.metrics import ratio
    >>> ratio(1, 3), ratio(5, 0)
    (0.3333333333333333, nan)
    """
    return numerator / denominator if denominator else math.nan


@dataclass(frozen=True)
class Totals:
    """The exact kilograms of a summary (or of any rows with ``active_kgs`` and ``retired_kgs``).

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.analysis.metrics import totals
    >>> held = totals(pd.DataFrame({"active_kgs": [600, 300], "retired_kgs": [100, 0]}))
    >>> held.total_kgs, held.retired_share
    (1000, 0.1)
    """

    active_kgs: int
    retired_kgs: int

    @property
    def total_kgs(self) -> int:
        return self.active_kgs + self.retired_kgs

    @property
    def retired_share(self) -> float:
        """Retired over held; NaN when nothing is held."""
        return ratio(self.retired_kgs, self.total_kgs)

    def kgs(self, status: str) -> int:
        """The kilograms of ``status``: ``"active"``, ``"retired"`` or ``"total"``."""
        return {"active": self.active_kgs, "retired": self.retired_kgs,
                "total": self.total_kgs}[check_choice("status", status, (*STATUSES, "total"))]


def totals(rows: pd.DataFrame) -> Totals:
    """Active and retired kilograms of ``rows`` summed as integers (never through floats).

    Examples
    --------
    >>> from isoanalytics import demo, parse_balance, summarize
    >>> from isoanalytics.analysis.metrics import totals
    >>> balance = parse_balance(demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID))
    >>> totals(summarize(balance, by="supplier")).total_kgs == balance.total_kgs
    True
    """
    return Totals(int(rows["active_kgs"].sum()), int(rows["retired_kgs"].sum()))


def retired_share(balance: Source) -> float:
    """Retired kilograms over active plus retired, for the organisation (or whole portfolio).

    NaN when nothing is held.

    Examples
    --------
    >>> from isoanalytics import demo, parse_balance, retired_share
    >>> registry = demo.registry()
    >>> retired_share(parse_balance(registry.credit_balance(registry.buyers["fully_retired"])))
    1.0
    """
    return totals(entity_totals(_frame(balance), "organisation")).retired_share


def summarize(balance: Source, by: Level = "supplier") -> pd.DataFrame:
    """One row per entity at level ``by``, largest holding first.

    Parameters
    ----------
    balance : CreditBalance or tidy frame
        A portfolio frame is summed over its organisations; ``by="organisation"`` compares them.
    by : {"supplier", "project", "order", "organisation"}

    Returns
    -------
    DataFrame
        Indexed by ``<by>_id``: ``active_kgs, retired_kgs, total_kgs`` (int64, exact),
        ``retired_share`` (retired / total; NaN for a zero row), ``share`` (the entity's part
        of the level's total_kgs), and ``active_credits, retired_credits, total_credits`` for
        display. Sorted by total_kgs descending, ties by id. Zero-kg rows the API listed stay.

    Examples
    --------
    >>> from isoanalytics import demo, parse_balance, summarize
    >>> balance = parse_balance(demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID))
    >>> top = summarize(balance, by="supplier").iloc[0]
    >>> bool(top["share"] > 0.5)
    True
    """
    check_choice("by", by, LEVELS)
    entities = entity_totals(_frame(balance), by)
    return summary_frame(entities["active_kgs"].to_numpy(), entities["retired_kgs"].to_numpy(),
                         entities.index.rename(f"{by}_id"))


def summary_frame(active: np.ndarray, retired: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """The columns of :func:`summarize` from exact kilograms, largest total first (ties by index).

    For summaries along other keys (a pathway, a country, an "Other" row): every summary of
    the package has these columns, computed here.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from isoanalytics.analysis.metrics import summary_frame
    >>> rows = summary_frame(np.array([100, 300]), np.array([0, 100]),
    ...                      pd.Index(["marine", "forest"], name="pathway"))
    >>> rows.index.tolist(), rows["share"].tolist()
    (['forest', 'marine'], [0.8, 0.2])
    """
    check_sum_fits(np.concatenate([active, retired]))
    total = active + retired
    level_total = int(total.sum())
    summary = pd.DataFrame(
        {
            "active_kgs": active,
            "retired_kgs": retired,
            "total_kgs": total,
            # a zero row has no retired share; np.maximum only keeps the division quiet
            "retired_share": np.where(total > 0, retired / np.maximum(total, 1), np.nan),
            "share": total / level_total if level_total else np.full(len(total), np.nan),
            "active_credits": active / KGS_PER_CREDIT,
            "retired_credits": retired / KGS_PER_CREDIT,
            "total_credits": total / KGS_PER_CREDIT,
        },
        index=index,
    )
    summary = summary.sort_index(kind="stable")
    return summary.sort_values("total_kgs", ascending=False, kind="stable")


@dataclass(frozen=True)
class Concentration:
    """How concentrated a holding is across entities (suppliers, projects, ...).

    Attributes
    ----------
    n : int
        Entities holding a positive quantity (the population; zero rows are not part of it).
    hhi : float
        Herfindahl-Hirschman index on the 0-10,000 scale: 10,000 * sum(share**2).
    hhi_normalized : float
        (HHI/10,000 - 1/n) / (1 - 1/n), from 0 (equal shares) to 1; 1.0 when n = 1.
    cr1, cr3, cr5 : float
        Combined share of the largest 1, 3 and 5 entities.
    effective_n : float
        10,000 / HHI: the number of equal holdings that would be as concentrated.
    gini : float
        Mean-absolute-difference Gini, ``sum_i sum_j |x_i - x_j| / (2 n sum x)``, over the n
        entities (the convention of quantecon.gini_coefficient); 0 for equal holdings.
    level : {"high", "moderate", "unconcentrated"} or None
        The 2023 US Merger Guidelines band: HHI above 1,800 is high, 1,000 to 1,800 moderate.
    lorenz : DataFrame
        Lorenz-curve points ``population_share, quantity_share`` from (0, 0) to (1, 1),
        entities from smallest to largest.
    total_kgs : int or float
        The quantity shared out (kilograms for balances; the Series' own unit otherwise).

    When the total is zero, ``n`` is 0, every other figure is NaN and ``level`` is None.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import concentration
    >>> figures = concentration(pd.Series([600, 300, 100]))
    >>> round(figures.hhi), figures.level, figures.cr1, round(figures.effective_n, 2)
    (4600, 'high', 0.6, 2.17)
    >>> concentration(pd.Series([0, 0])).n
    0
    """

    n: int
    hhi: float
    hhi_normalized: float
    cr1: float
    cr3: float
    cr5: float
    effective_n: float
    gini: float
    level: str | None
    lorenz: pd.DataFrame = field(repr=False, compare=False)
    total_kgs: int | float = 0
    by: str | None = None
    status: str | None = None

    def to_series(self) -> pd.Series:
        """The headline figures as a Series, for tables and reports."""
        names = ["n", "hhi", "hhi_normalized", "cr1", "cr3", "cr5", "effective_n", "gini", "level"]
        return pd.Series({name: getattr(self, name) for name in names}, dtype=object)


def _concentration_level(hhi: float) -> str | None:
    if math.isnan(hhi):
        return None
    if hhi > HHI_HIGH:
        return "high"
    return "moderate" if hhi >= HHI_MODERATE else "unconcentrated"


def _series_quantities(values: pd.Series) -> list[int] | list[float]:
    if not (pd.api.types.is_numeric_dtype(values.dtype) or values.dtype == object):
        raise ValueError(f"concentration needs numeric quantities; got dtype {values.dtype}")
    bad: list[Any] = [label for label, value in values.items()
           if isinstance(value, bool)
           or not isinstance(value, (int, float, np.integer, np.floating))
           or not (value >= 0)
           or (isinstance(value, (float, np.floating)) and not math.isfinite(value))]
    if bad:
        raise ValueError(
            f"concentration needs finite non-negative quantities; entry {bad[0]!r} is "
            f"{values.loc[bad[0]]!r}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
        )
    if pd.api.types.is_integer_dtype(values.dtype) or all(
        isinstance(value, (int, np.integer)) for value in values
    ):
        return [int(value) for value in values]
    return [float(value) for value in values]


def concentration(
    source: Source | pd.Series, by: Level = "supplier", status: Status = "total"
) -> Concentration:
    """Concentration of a holding across the entities at level ``by``.

    Parameters
    ----------
    source : CreditBalance, tidy frame, or Series
        A Series is taken as it is: one non-negative quantity per entity (``by`` and
        ``status`` are then ignored).
    by : {"supplier", "project", "order", "organisation"}
    status : {"total", "active", "retired"}
        Which kilograms to share out; ``total`` is active plus retired.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import concentration
    >>> figures = concentration(pd.Series([60, 30, 10]))
    >>> figures.hhi, figures.cr1, figures.level
    (4600.0, 0.6, 'high')
    """
    if isinstance(source, pd.Series):
        return _concentration(_series_quantities(source), by=None, status=None)
    check_choice("by", by, LEVELS)
    check_choice("status", status, (*STATUSES, "total"))
    entities = entity_totals(_frame(source), by)
    columns = ["active_kgs", "retired_kgs"] if status == "total" else [f"{status}_kgs"]
    quantities = [int(value) for value in entities[columns].sum(axis=1).tolist()]
    return _concentration(quantities, by=by, status=status)


def _concentration(quantities: list, *, by: str | None, status: str | None) -> Concentration:
    held = sorted(value for value in quantities if value > 0)
    exact = all(isinstance(value, int) for value in held)
    total = sum(held) if exact else math.fsum(held)
    n = len(held)
    if n == 0:
        empty = pd.DataFrame({"population_share": [], "quantity_share": []}, dtype=float)
        nan = math.nan
        return Concentration(0, nan, nan, nan, nan, nan, nan, nan, None, empty, total, by, status)
    # Integers are summed exactly; a Series of floats (credits, say) with fsum.
    add = sum if exact else math.fsum
    sum_squares = add(value * value for value in held)
    # sum_i sum_j |x_i - x_j| = 2 * sum_i x_(i) * (2i - n + 1) over ascending x (0-based i)
    spread = add(value * (2 * index - n + 1) for index, value in enumerate(held))
    largest_first = list(accumulate(reversed(held)))
    cumulative = list(accumulate(held))
    hhi = ratio(10_000 * sum_squares, total * total)
    hhi_normalized = 1.0 if n == 1 else ratio(n * sum_squares - total * total,
                                              (n - 1) * total * total)
    lorenz = pd.DataFrame(
        {
            "population_share": np.arange(n + 1) / n,
            "quantity_share": [0.0] + [ratio(value, total) for value in cumulative],
        }
    )
    return Concentration(
        n=n,
        hhi=hhi,
        hhi_normalized=max(0.0, hhi_normalized),
        cr1=ratio(largest_first[0], total),
        cr3=ratio(largest_first[min(3, n) - 1], total),
        cr5=ratio(largest_first[min(5, n) - 1], total),
        effective_n=ratio(total * total, sum_squares),
        gini=ratio(spread, n * total),
        level=_concentration_level(hhi),
        lorenz=lorenz,
        total_kgs=total,
        by=by,
        status=status,
    )


def reconcile(balance: Source) -> pd.DataFrame:
    """Do the project, supplier and order balances add up to the organisation's total?

    A difference is reported, never raised: orders, for instance, do not cover credits an
    organisation received by transfer.

    Returns
    -------
    DataFrame
        One row per (organisation_id, level, status) for the project, supplier and order
        levels: ``listed_kgs`` (the sum over that level's entities), ``total_kgs`` (the
        organisation's total), ``difference_kgs`` (listed minus total) and ``balanced``.
        When the body had no ``order_balances`` the order rows have ``listed_kgs``,
        ``difference_kgs`` and ``balanced`` missing (<NA>) and ``note`` says why.

    Examples
    --------
    >>> from isoanalytics import demo, parse_balance, reconcile
    >>> balance = parse_balance(demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID))
    >>> bool(reconcile(balance)["balanced"].all())
    True
    """
    frame = _frame(balance)
    orders_absent = isinstance(balance, CreditBalance) and not balance.order_balances_present
    rows = []
    for organisation_id, part in frame.groupby("organisation_id", sort=False, dropna=False):
        organisation = entity_totals(part, "organisation")
        for level in LEVELS[1:]:
            listed = entity_totals(part, level)
            for status in STATUSES:
                column = f"{status}_kgs"
                total = int(organisation[column].sum())
                absent = orders_absent and level == "order"
                listed_kgs = None if absent else int(listed[column].sum())
                rows.append(
                    {
                        "organisation_id": None if pd.isna(organisation_id) else organisation_id,
                        "level": level,
                        "status": status,
                        "listed_kgs": listed_kgs,
                        "total_kgs": total,
                        "difference_kgs": None if listed_kgs is None else listed_kgs - total,
                        "balanced": None if absent else listed_kgs == total,
                        "note": "order_balances absent from the response" if absent else "",
                    }
                )
    columns = ["organisation_id", "level", "status", "listed_kgs", "total_kgs",
               "difference_kgs", "balanced", "note"]
    # Build each column from Python values with its final dtype: letting pandas infer a
    # column that holds None would pass the kilograms through float64 first.
    dtypes: dict[str, Any] = {"listed_kgs": "Int64", "total_kgs": "int64",
                              "difference_kgs": "Int64", "balanced": "boolean"}
    return pd.DataFrame(
        {
            column: pd.array([row[column] for row in rows], dtype=dtypes.get(column, object))
            for column in columns
        }
    )
