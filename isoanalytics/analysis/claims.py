"""The reporting-period table of a sustainability report: :func:`claims_summary`.

It reads the frame of :func:`isoanalytics.claims` (one row per credit batch retired) and,
optionally, the organisation's balance for what it still holds. Every figure is an exact
integer sum of ``credit_kgs``; each dimension's rows add up to the section's total.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..records.balance import CreditBalance
from ..records.frames import KGS_PER_CREDIT, check_columns, check_sum_fits, strings
from .metrics import ratio, summarize, totals

__all__ = ["SUMMARY_COLUMNS", "claims_summary"]

SUMMARY_COLUMNS = ("section", "dimension", "value", "credit_kgs", "credits", "share",
                   "retirements")
_NEEDED = ("retirement_id", "credit_kgs", "pathway", "vintage", "purposes")
UNKNOWN, NO_PURPOSE = "(unknown)", "(none)"


def claims_summary(
    claims: pd.DataFrame,
    *,
    holdings: CreditBalance | pd.DataFrame | None = None,
    durability: Mapping[str, str] | None = None,
    durable: str | Collection[str] | None = None,
) -> pd.DataFrame:
    """Retired in the period by pathway, vintage and purpose; held for future retirement.

    Parameters
    ----------
    claims : DataFrame
        The frame of :func:`isoanalytics.claims` for the reporting period (or any frame with
        ``retirement_id, credit_kgs, pathway, vintage, purposes``).
    holdings : CreditBalance or tidy balance frame, optional
        The organisation's balance (``client.credit_balance(org)``): its active credits are
        the ``held`` section, the credits held for future retirement (ESRS E1-7's "planned
        for future cancellation"; they are held today, not at the period's end).
    durability : mapping of pathway to durability class, optional
        Adds a ``durability`` dimension: each row's class is its pathway's; a pathway the
        mapping lacks is ``(unknown)``.
    durable : str or collection of str, optional
        The durability class (or classes) that count as removals stored for 1,000 years or
        more; with ``durability``, adds the ``durable`` row: their kilograms and share.

    Returns
    -------
    DataFrame
        Columns :data:`SUMMARY_COLUMNS`: ``section`` (``retired`` or ``held``),
        ``dimension`` (``total``, ``pathway``, ``vintage``, ``purpose``, ``durability``,
        ``durable``), ``value`` (text: the pathway, the year, the purposes...; ``all`` for a
        total), ``credit_kgs`` (int64), ``credits`` (tCO2e, for display), ``share`` (of
        the section's total) and ``retirements`` (how many retirements the row draws on;
        missing for ``held``). Within a dimension, rows run largest first (vintages by
        year); a missing pathway or vintage is ``(unknown)``, a retirement with no
        purpose ``(none)``.

    Notes
    -----
    **Purposes are never double-counted.** A retirement made for several purposes is counted
    once, under the combination it names (``"corporate_targets, insetting"``), so the
    purpose rows add up to the retired total like every other dimension.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.analysis.claims import claims_summary
    >>> claims = pd.DataFrame({
    ...     "retirement_id": ["ret_A", "ret_A", "ret_B"],
    ...     "credit_kgs": [600, 200, 200],
    ...     "pathway": ["direct_air_capture", "reforestation", "direct_air_capture"],
    ...     "vintage": pd.array([2024, 2023, 2024], dtype="Int64"),
    ...     "purposes": ["corporate_targets", "corporate_targets",
    ...                  "corporate_targets, insetting"]})
    >>> table = claims_summary(claims, durability={"direct_air_capture": "1,000+ years",
    ...                                            "reforestation": "under 100 years"},
    ...                        durable="1,000+ years")
    >>> table[table["dimension"] == "purpose"][["value", "credit_kgs", "retirements"]]
                              value  credit_kgs  retirements
    5             corporate_targets         800            1
    6  corporate_targets, insetting         200            1
    >>> table.loc[table["dimension"] == "durable", ["value", "share"]].to_dict("records")
    [{'value': '1,000+ years', 'share': 0.8}]
    >>> int(table.loc[table["dimension"] == "vintage", "credit_kgs"].sum())  # = the total
    1000
    """
    check_columns(claims, _NEEDED, "claims_summary", "the frame of isoanalytics.claims()")
    kgs = claims["credit_kgs"]
    if not pd.api.types.is_integer_dtype(kgs.dtype) or pd.api.types.is_bool_dtype(kgs.dtype):
        raise ValueError(f"claims_summary() takes credit_kgs as integer kilograms, got dtype "
                         f"{kgs.dtype}; keep the exact int64 column")
    kilograms = kgs.to_numpy(dtype=np.int64)
    check_sum_fits(kilograms)
    total = int(kilograms.sum())
    retirement = claims["retirement_id"].astype(object).to_numpy()
    dimensions: list[tuple[str, np.ndarray]] = [
        ("pathway", _text(claims["pathway"], UNKNOWN)),
        ("vintage", np.array([UNKNOWN if pd.isna(year) else str(int(year))
                              for year in claims["vintage"]], dtype=object)),
        ("purpose", np.array([UNKNOWN if pd.isna(text) else (text or NO_PURPOSE)
                              for text in claims["purposes"]], dtype=object)),
    ]
    if durability is not None:
        if not isinstance(durability, Mapping):
            raise TypeError(f"durability must map pathways to durability classes, got "
                            f"{type(durability).__name__}")
        classes = np.array([durability.get(pathway, UNKNOWN) if pathway != UNKNOWN else UNKNOWN
                            for pathway in dimensions[0][1]], dtype=object)
        dimensions.append(("durability", classes))
    rows: list[dict[str, Any]] = [_row("retired", "total", "all", total, total,
                                       len(pd.unique(retirement)))]
    for name, values in dimensions:
        rows.extend(_grouped(name, values, kilograms, retirement, total))
    if durable is not None:
        if durability is None:
            raise ValueError("durable names durability classes; pass durability= too (a "
                             "mapping of pathway to class)")
        wanted = {durable} if isinstance(durable, str) else set(durable)
        chosen = np.isin(dimensions[-1][1], list(wanted))
        rows.append(_row("retired", "durable", ", ".join(sorted(wanted)),
                         int(kilograms[chosen].sum()), total,
                         len(pd.unique(retirement[chosen]))))
    if holdings is not None:
        active = totals(summarize(holdings, by="organisation")).active_kgs
        rows.append(_row("held", "total", "all", active, active, None))
    return pd.DataFrame({
        "section": strings([row["section"] for row in rows]),
        "dimension": strings([row["dimension"] for row in rows]),
        "value": strings([row["value"] for row in rows]),
        "credit_kgs": np.array([row["credit_kgs"] for row in rows], dtype=np.int64),
        "credits": np.array([row["credit_kgs"] for row in rows], dtype=np.int64)
        / KGS_PER_CREDIT,
        "share": np.array([row["share"] for row in rows], dtype=np.float64),
        "retirements": pd.array([row["retirements"] for row in rows], dtype="Int64"),
    }, columns=list(SUMMARY_COLUMNS))


def _text(values: pd.Series, missing: str) -> np.ndarray:
    return np.array([missing if pd.isna(value) else str(value) for value in values],
                    dtype=object)


def _row(section: str, dimension: str, value: str, kgs: int, whole: int,
         retirements: int | None) -> dict[str, Any]:
    return {"section": section, "dimension": dimension, "value": value, "credit_kgs": kgs,
            "share": ratio(kgs, whole), "retirements": retirements}


def _grouped(dimension: str, values: np.ndarray, kgs: np.ndarray, retirement: np.ndarray,
             total: int) -> list[dict[str, Any]]:
    codes, labels = pd.factorize(values)
    sums = np.zeros(len(labels), dtype=np.int64)
    np.add.at(sums, codes, kgs)  # int64 throughout: never through float
    counts = [len(pd.unique(retirement[codes == index])) for index in range(len(labels))]
    if dimension == "vintage":  # years in order, the unknown last
        order = sorted(range(len(labels)), key=lambda i: (labels[i] == UNKNOWN, labels[i]))
    else:  # largest first, ties by name
        order = sorted(range(len(labels)), key=lambda i: (-int(sums[i]), str(labels[i])))
    return [_row("retired", dimension, str(labels[i]), int(sums[i]), total, counts[i])
            for i in order]
