"""The reporting-period tables of a sustainability report: :func:`claims_summary` and
:func:`retirements_of`.

They read the frame of :func:`isoanalytics.claims` (one row per credit batch retired) and,
optionally, the organisation's balance for what it still holds. Every figure is an exact
integer sum of ``credit_kgs``; each dimension's rows add up to the section's total, and the
retirements of :func:`retirements_of` add up to the frame's kilograms.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._format import name_or_id
from ..records.balance import CreditBalance
from ..records.frames import KGS_PER_CREDIT, check_columns, check_sum_fits, strings
from .durability import DURABILITY, DURABLE, classify
from .metrics import ratio, summarize, totals

__all__ = ["SUMMARY_COLUMNS", "claims_summary", "retirements_of"]

SUMMARY_COLUMNS = ("section", "dimension", "value", "credit_kgs", "credits", "share",
                   "retirements")
_NEEDED = ("retirement_id", "credit_kgs", "pathway", "vintage", "purposes")
UNKNOWN, NO_PURPOSE = "(unknown)", "(none)"
# What retirements_of() reads of a claims frame, and the retirement's own columns it keeps.
_PER_RETIREMENT = ("retirement_id", "retired_at", "owner_id", "owner_name", "beneficiary_id",
                   "beneficiary_name", "purposes", "url", "credit_batch_id", "pathway",
                   "credit_kgs", "listed", "problem")


def claims_summary(
    claims: pd.DataFrame,
    *,
    holdings: CreditBalance | pd.DataFrame | None = None,
    durability: Mapping[str, str] | None = None,
    durable: str | Collection[str] | None = None,
) -> pd.DataFrame:
    """Retired in the period by beneficiary, pathway, vintage and purpose; held for future
    retirement.

    Parameters
    ----------
    claims : DataFrame
        The frame of :func:`isoanalytics.claims` for the reporting period (or any frame with
        ``retirement_id, credit_kgs, pathway, vintage, purposes``).
    holdings : CreditBalance or tidy balance frame, optional
        The organisation's balance (``client.credit_balance(org)``): its active credits are
        the ``held`` section, the credits held for future retirement (ESRS E1-7's "planned
        for future cancellation"; they are held today, not at the period's end).
    durability : mapping of protocol slug or pathway to durability class, optional
        The ``durability`` dimension: each row's class is its protocol's (``protocol_slug``,
        when the frame has it), else its pathway's; one the mapping lacks is
        ``(unknown)``. Default: :data:`~isoanalytics.DURABILITY`, the package's documented
        reading of Isometric's protocols (see :func:`~isoanalytics.durability_sources`).
    durable : str or collection of str, optional
        The durability class (or classes) that count as removals stored for 1,000 years or
        more: the ``durable`` row gives their kilograms and share. Default: ``"1000+ years"``
        with the default mapping; with a mapping of your own, name your class here (without
        it, no ``durable`` row).

    Returns
    -------
    DataFrame
        Columns :data:`SUMMARY_COLUMNS`: ``section`` (``retired`` or ``held``),
        ``dimension`` (``total``, ``beneficiary``, ``pathway``, ``vintage``, ``purpose``,
        ``durability``, ``durable``), ``value`` (text: the beneficiary's name, the pathway,
        the year, the purposes...; ``all`` for a
        total), ``credit_kgs`` (int64), ``credits`` (tCO2e, for display), ``share`` (of
        the section's total) and ``retirements`` (how many retirements the row draws on;
        missing for ``held``). Within a dimension, rows run largest first (vintages by
        year); a missing pathway or vintage is ``(unknown)``, a retirement with no
        purpose ``(none)``.

    Notes
    -----
    **Beneficiaries** are a dimension when the frame has ``beneficiary_id`` or
    ``beneficiary_name`` (the frame of :func:`isoanalytics.claims` has both): grouped by id,
    shown by name (the id when there is none, or beside the name when two beneficiaries
    share it); a retirement naming none is ``(unknown)``.

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
    dimensions: list[tuple[str, np.ndarray]] = []
    if "beneficiary_id" in claims.columns or "beneficiary_name" in claims.columns:
        dimensions.append(("beneficiary", _beneficiaries(claims)))
    dimensions += [
        ("pathway", _text(claims["pathway"], UNKNOWN)),
        ("vintage", np.array([UNKNOWN if pd.isna(year) else str(int(year))
                              for year in claims["vintage"]], dtype=object)),
        ("purpose", np.array([UNKNOWN if pd.isna(text) else (text or NO_PURPOSE)
                              for text in claims["purposes"]], dtype=object)),
    ]
    if durability is None:
        durability, durable = DURABILITY, DURABLE if durable is None else durable
    protocols = claims["protocol_slug"] if "protocol_slug" in claims.columns else None
    classes = classify(claims["pathway"], protocols, durability=durability)
    dimensions.append(("durability", classes.to_numpy(dtype=object)))
    rows: list[dict[str, Any]] = [_row("retired", "total", "all", total, total,
                                       len(pd.unique(retirement)))]
    for name, values in dimensions:
        rows.extend(_grouped(name, values, kilograms, retirement, total))
    if durable is not None:
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


def _beneficiaries(claims: pd.DataFrame) -> np.ndarray:
    """Each row's beneficiary as a label: grouped by id, named by name, never merged by name."""
    missing = pd.Series([None] * len(claims), index=claims.index, dtype=object)
    ids = claims["beneficiary_id"] if "beneficiary_id" in claims.columns else missing
    names = claims["beneficiary_name"] if "beneficiary_name" in claims.columns else missing
    keys = [None if pd.isna(key) else str(key) for key in ids]
    labels: dict[str, str] = {}
    for key, name in zip(keys, names, strict=True):
        if key is not None:
            labels.setdefault(key, name_or_id(None if pd.isna(name) else name, key))
    shared = pd.Series(list(labels.values()), dtype=object).value_counts()
    shown = {key: f"{text} ({key})" if shared[text] > 1 and text != key else text
             for key, text in labels.items()}
    return np.array([UNKNOWN if key is None and (pd.isna(name) or not str(name).strip())
                     else name_or_id(name, UNKNOWN) if key is None else shown[key]
                     for key, name in zip(keys, names, strict=True)], dtype=object)


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


def retirements_of(claims: pd.DataFrame) -> pd.DataFrame:
    """One row per retirement (not per credit batch): what a register of claims lists.

    Parameters
    ----------
    claims : DataFrame
        The frame of :func:`isoanalytics.claims` (one row per credit batch retired), for
        one organisation or several stacked.

    Returns
    -------
    DataFrame
        ``retirement_id, retired_at, owner_id, owner_name, beneficiary_id, beneficiary_name,
        purposes, pathways, url, batches, credit_kgs, credits, listed, problem``, ordered by
        ``retired_at`` then ``retirement_id``. ``credit_kgs`` (int64) is the exact sum of the
        retirement's batches, so the rows add up to the frame's kilograms; ``pathways`` the
        pathways its batches come from (sorted, comma-separated); ``batches`` how many batches
        it retired; ``problem`` what the frame said about any of them. A batch whose
        retirement is not named (``listed`` False, no ``retirement_id``) is a row of its own,
        never merged with another.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.analysis.claims import retirements_of
    >>> at = pd.Timestamp("2025-03-01T12:00Z")
    >>> claims = pd.DataFrame({
    ...     "retirement_id": ["ret_A", "ret_A", "ret_B"], "retired_at": [at, at, at],
    ...     "owner_id": "org_X", "owner_name": "X", "beneficiary_id": "org_X",
    ...     "beneficiary_name": "X", "purposes": "corporate_targets",
    ...     "url": ["https://r/ret_A", "https://r/ret_A", None],
    ...     "credit_batch_id": ["cbt_1", "cbt_2", "cbt_3"],
    ...     "pathway": ["reforestation", "direct_air_capture", "reforestation"],
    ...     "credit_kgs": [1_000, 500, 250], "listed": True, "problem": ""})
    >>> rows = retirements_of(claims)
    >>> rows[["retirement_id", "pathways", "batches", "credit_kgs"]]
      retirement_id                           pathways  batches  credit_kgs
    0         ret_A  direct_air_capture, reforestation        2        1500
    1         ret_B                      reforestation        1         250
    """
    check_columns(claims, _PER_RETIREMENT, "retirements_of", "the frame of isoanalytics.claims()")
    kgs = claims["credit_kgs"]
    if not pd.api.types.is_integer_dtype(kgs.dtype) or pd.api.types.is_bool_dtype(kgs.dtype):
        raise ValueError(f"retirements_of() takes credit_kgs as integer kilograms, got dtype "
                         f"{kgs.dtype}; keep the exact int64 column")
    kilograms = kgs.to_numpy(dtype=np.int64)
    check_sum_fits(kilograms)
    # A retirement is its id; a batch that names none stands alone, under its own batch id.
    keys = [f"batch:{batch}" if pd.isna(retirement) else f"retirement:{retirement}"
            for retirement, batch in zip(claims["retirement_id"], claims["credit_batch_id"],
                                         strict=True)]
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object))
    sums = np.zeros(len(uniques), dtype=np.int64)
    np.add.at(sums, codes, kilograms)  # int64 throughout
    first = pd.Series(np.arange(len(claims))).groupby(codes).first().to_numpy()
    rows = claims.iloc[first].reset_index(drop=True)
    grouped = pd.Series(range(len(claims))).groupby(codes)
    retired_at = pd.Series(claims["retired_at"].to_numpy()).groupby(codes).min()
    pathways = [", ".join(sorted({str(p) for p in claims["pathway"].iloc[list(members)]
                                  if not pd.isna(p)})) or UNKNOWN
                for _, members in grouped]
    problems = ["; ".join(dict.fromkeys(str(text) for text in claims["problem"].iloc[list(members)]
                                        if isinstance(text, str) and text))
                for _, members in grouped]
    listed = pd.Series(claims["listed"].to_numpy(dtype=bool)).groupby(codes).all()
    batches = grouped.size().to_numpy(dtype=np.int64)
    frame = pd.DataFrame({
        "retirement_id": strings(rows["retirement_id"].to_numpy(dtype=object)),
        "retired_at": pd.to_datetime(retired_at.to_numpy(), utc=True),
        **{column: strings(rows[column].to_numpy(dtype=object)) for column in (
            "owner_id", "owner_name", "beneficiary_id", "beneficiary_name", "purposes")},
        "pathways": strings(pathways),
        "url": strings(rows["url"].to_numpy(dtype=object)),
        "batches": batches,
        "credit_kgs": sums,
        "credits": sums / KGS_PER_CREDIT,
        "listed": listed.to_numpy(dtype=bool),
        "problem": strings(problems),
    })
    return frame.sort_values(["retired_at", "retirement_id"], kind="stable", ignore_index=True,
                             na_position="last")
