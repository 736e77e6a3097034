"""Claims: retirements joined to the credit batches they retired, one row per batch retired.

The pure half of :func:`isoanalytics.claims` (frames in, frame out); the registry layer
fetches the frames and calls :func:`claims_frame`.

The rules, so that a figure can be checked by hand:

- **Which retirements.** Those whose ``retired_at`` falls in ``[start, end)``: in UTC, the
  start included, the end excluded. ``start`` and ``end`` are dates (midnight UTC:
  ``"2025-01-01"`` or ``datetime.date(2025, 1, 1)``) or time-zone-aware instants; a naive
  date-time is refused, since its instant depends on where it was written. So the claims of
  ``[a, b)`` and of ``[b, c)`` together are exactly the claims of ``[a, c)``.
- **One row per credit batch retired.** ``credit_kgs`` is the batch's kilograms (int64,
  exact), so the rows of a retirement add up to what its batches hold and the rows of all
  time add up to the organisation's retired total. The retirement's own columns
  (``retired_at``, beneficiary, ``purposes``, ``url``...) repeat on each of its rows;
  ``retirement_kgs`` is the total the retirement states (``credit_batch_size_total``).
- **Nothing is dropped.** A retirement whose batches do not add up to its stated total keeps
  its rows and says so in ``problem``; one the registry lists no batch for is a row with no
  batch and 0 kg. A retired batch of the organisation whose retirement is missing from the
  retirements list is a row of its own (``listed`` False; ``problem`` says why), placed in
  a period by the batch's ``retired_at``. Each is also a warning.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .frames import KGS_PER_CREDIT, check_columns, strings
from .instants import in_period

__all__ = ["BATCH_COLUMNS", "CLAIM_COLUMNS", "RETIREMENT_COLUMNS", "claims_frame"]

CLAIM_COLUMNS = (
    "retirement_id", "retired_at", "owner_id", "owner_name", "beneficiary_id",
    "beneficiary_name", "purposes", "url", "notes", "retirement_kgs", "credit_batch_id",
    "serial_number", "project_id", "project_name", "supplier_id", "pathway", "country",
    "vintage", "ccp_approved", "credit_kgs", "credits", "listed", "problem",
)
# What the join reads of a retirement frame (client.retirements()) and a credit-batch frame
# (client.retirement_credit_batches(id), client.credit_batches(org, status="retired")).
RETIREMENT_COLUMNS = ("id", "retired_at", "owner_id", "owner_name", "beneficiary_id",
                      "beneficiary_name", "retired_kgs", "purposes", "url", "notes")
BATCH_COLUMNS = ("id", "serial_number", "project_id", "supplier_id", "credit_kgs", "retired_at",
                 "sequestered_on", "retirement_id", "owner_id", "owner_name", "beneficiary_id",
                 "beneficiary_name", "ccp_approved")


def claims_frame(
    retirements: pd.DataFrame,
    batches: pd.DataFrame,
    *,
    projects: pd.DataFrame | None = None,
    retired: pd.DataFrame | None = None,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Retirements in ``[start, end)`` joined to their credit batches: one row per batch.

    Parameters
    ----------
    retirements : DataFrame
        A retirement frame (``client.retirements(...)``): one row per retirement, with
        ``id, retired_at, owner_id, owner_name, beneficiary_id, beneficiary_name,
        retired_kgs, purposes, url, notes``.
    batches : DataFrame
        The retirements' credit batches (``client.retirement_credit_batches(id)`` of each,
        stacked), a credit-batch frame whose ``retirement_id`` says which retirement each
        batch belongs to.
    projects : DataFrame, optional
        A project frame (``client.projects()``) with ``id, name, pathway, country_code``:
        it gives each row ``project_name``, ``pathway`` and ``country`` (missing without it,
        or for a project it does not hold).
    retired : DataFrame, optional
        The organisation's own retired batches (``client.credit_batches(org,
        status="retired")``): any whose retirement is not in ``retirements`` becomes a row
        of its own, so the claims of all time add up to the organisation's retired total.
    start, end : date, date-like text or time-zone-aware datetime, optional
        The period ``[start, end)`` in UTC (see the module's rules).

    Returns
    -------
    DataFrame
        The columns of :data:`CLAIM_COLUMNS`, ordered by ``retired_at``, then retirement
        and batch id: ``credit_kgs`` (int64) and ``retirement_kgs`` (Int64; missing on a row
        whose retirement is not listed), ``vintage`` (Int64, the year of the batch's
        ``sequestered_on``), ``ccp_approved`` (boolean), ``listed`` (bool) and ``problem``
        (empty text when there is none).

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.records.claims import claims_frame
    >>> at = pd.Timestamp("2025-03-01T12:00Z")
    >>> retirements = pd.DataFrame({
    ...     "id": ["ret_A"], "retired_at": [at], "owner_id": ["org_X"], "owner_name": ["X"],
    ...     "beneficiary_id": ["org_X"], "beneficiary_name": ["X"], "retired_kgs": [1_500],
    ...     "purposes": ["corporate_targets"], "url": ["https://r/ret_A"], "notes": [None]})
    >>> batches = pd.DataFrame({
    ...     "id": ["cbt_1", "cbt_2"], "serial_number": ["S-1", "S-2"],
    ...     "project_id": ["prj_P", "prj_P"], "supplier_id": ["spl_S", "spl_S"],
    ...     "credit_kgs": [1_000, 500], "retired_at": [at, at],
    ...     "sequestered_on": pd.to_datetime(["2024-05-01", "2023-07-01"]),
    ...     "retirement_id": ["ret_A", "ret_A"], "owner_id": ["org_X"] * 2,
    ...     "owner_name": ["X"] * 2, "beneficiary_id": ["org_X"] * 2,
    ...     "beneficiary_name": ["X"] * 2, "ccp_approved": [True, False]})
    >>> rows = claims_frame(retirements, batches, start="2025-01-01", end="2026-01-01")
    >>> rows[["retirement_id", "credit_batch_id", "vintage", "credit_kgs"]]
      retirement_id credit_batch_id  vintage  credit_kgs
    0         ret_A           cbt_1     2024        1000
    1         ret_A           cbt_2     2023         500
    >>> int(rows["credit_kgs"].sum()), claims_frame(retirements, batches, end="2025-01-01").empty
    (1500, True)
    """
    check_columns(retirements, RETIREMENT_COLUMNS, "claims_frame", "a retirement frame")
    check_columns(batches, BATCH_COLUMNS, "claims_frame", "a credit-batch frame")
    if retired is not None:
        check_columns(retired, BATCH_COLUMNS, "claims_frame",
                      "a credit-batch frame as retired=")
    _check_unique(retirements["id"], "retirements", "retirement")
    _check_unique(batches["id"], "batches", "credit batch")
    kept = retirements[in_period(retirements["retired_at"], start, end)]
    listed_ids = set(retirements["id"].tolist())
    parts: list[pd.DataFrame] = []
    problems: list[str] = []
    mine = batches[batches["retirement_id"].isin(kept["id"]).to_numpy(dtype=bool)]
    found = _batch_totals(mine)
    retirement_id: Any
    for retirement_id, retired_kgs in zip(kept["id"], kept["retired_kgs"], strict=True):
        held = found.get(retirement_id)
        stated = int(retired_kgs)
        if held is None:
            problems.append(f"{retirement_id} (no credit batches)")
        elif held != stated:
            problems.append(f"{retirement_id} (batches {held} kg, stated {stated} kg)")
    parts.append(_listed_rows(kept, mine, found))
    # Batches that name a retirement the list lacks: from the per-retirement lists (the
    # registry answered for an id with another's batches) or from the organisation's own.
    strays = [frame[~frame["retirement_id"].isin(listed_ids).to_numpy(dtype=bool)]
              for frame in (batches, retired) if frame is not None]
    stray = pd.concat([frame for frame in strays if len(frame)], ignore_index=True) if any(
        len(frame) for frame in strays) else batches.iloc[:0]
    stray = stray.drop_duplicates("id")
    undated = stray["retired_at"].isna().to_numpy()
    bounded = start is not None or end is not None
    if bounded and undated.any():
        warnings.warn(f"{int(undated.sum())} retired credit batch(es) whose retirement is not "
                      "listed have no retired_at: they are in the claims of all time only "
                      f"({', '.join(stray.loc[undated, 'id'].astype(str).tolist()[:5])})",
                      stacklevel=2)
    stray = stray[in_period(stray["retired_at"], start, end)]
    if len(stray):
        parts.append(_unlisted_rows(stray))
        problems.extend(
            f"{batch} (retirement {'not named' if pd.isna(ret) else ret + ' not listed'})"
            for batch, ret in zip(stray["id"], stray["retirement_id"], strict=True))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    frame = _described(frame, projects)
    frame = frame.sort_values(["retired_at", "retirement_id", "credit_batch_id"],
                              kind="stable", ignore_index=True, na_position="last")
    if problems:
        warnings.warn(f"{len(problems)} claim(s) need a look (see the problem column): "
                      f"{'; '.join(problems[:5])}{' and others' if len(problems) > 5 else ''}",
                      stacklevel=2)
    return frame[list(CLAIM_COLUMNS)]


def _check_unique(ids: pd.Series, argument: str, noun: str) -> None:
    repeated = ids[ids.duplicated()]
    if len(repeated):
        raise ValueError(f"{argument} lists {noun} {repeated.iloc[0]} more than once; each "
                         f"{noun} may be listed once (its kilograms would count twice)")


def _batch_totals(batches: pd.DataFrame) -> dict[str, int]:
    totals: dict[str, int] = {}
    for retirement_id, kgs in zip(batches["retirement_id"], batches["credit_kgs"], strict=True):
        totals[retirement_id] = totals.get(retirement_id, 0) + int(kgs)  # Python ints: exact
    return totals


def _listed_rows(kept: pd.DataFrame, batches: pd.DataFrame,
                 found: dict[str, int]) -> pd.DataFrame:
    """Each listed retirement's batches, and a 0 kg row for one that has none."""
    head = kept.rename(columns={"id": "retirement_id", "retired_kgs": "retirement_kgs"})[
        ["retirement_id", "retired_at", "owner_id", "owner_name", "beneficiary_id",
         "beneficiary_name", "purposes", "url", "notes", "retirement_kgs"]]
    body = _batch_part(batches).drop(
        columns=["retired_at", "owner_id", "owner_name", "beneficiary_id", "beneficiary_name"])
    rows = head.merge(body, on="retirement_id", how="left", validate="one_to_many")
    rows["credit_kgs"] = rows["credit_kgs"].fillna(0).astype(np.int64)  # a row without batches
    stated = rows["retirement_kgs"].astype(np.int64)
    held = rows["retirement_id"].map(found)
    rows["problem"] = strings(
        ["the registry lists no credit batches for this retirement" if pd.isna(total)
         else "" if int(total) == int(claim)
         else f"its credit batches hold {int(total)} kg, the retirement states {int(claim)} kg"
         for total, claim in zip(held, stated, strict=True)])
    rows["retirement_kgs"] = pd.array(stated.to_numpy(), dtype="Int64")
    rows["listed"] = True
    return rows


def _unlisted_rows(stray: pd.DataFrame) -> pd.DataFrame:
    rows = _batch_part(stray)
    for column in ("purposes", "url", "notes"):
        rows[column] = strings([None] * len(rows))
    rows["retirement_kgs"] = pd.array([None] * len(rows), dtype="Int64")
    rows["listed"] = False
    rows["problem"] = strings(
        ["the batch names no retirement" if pd.isna(ret)
         else f"its retirement {ret} is missing from the retirements list"
         for ret in rows["retirement_id"]])
    return rows


def _batch_part(batches: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "retirement_id": batches["retirement_id"].to_numpy(dtype=object),
        "retired_at": batches["retired_at"].to_numpy(),
        "owner_id": batches["owner_id"].to_numpy(dtype=object),
        "owner_name": batches["owner_name"].to_numpy(dtype=object),
        "beneficiary_id": batches["beneficiary_id"].to_numpy(dtype=object),
        "beneficiary_name": batches["beneficiary_name"].to_numpy(dtype=object),
        "credit_batch_id": batches["id"].to_numpy(dtype=object),
        "serial_number": batches["serial_number"].to_numpy(dtype=object),
        "project_id": batches["project_id"].to_numpy(dtype=object),
        "supplier_id": batches["supplier_id"].to_numpy(dtype=object),
        "vintage": pd.Series(pd.DatetimeIndex(batches["sequestered_on"]).year, dtype="Int64"),
        "ccp_approved": pd.array(batches["ccp_approved"].to_numpy(dtype=object),
                                 dtype="boolean"),
        "credit_kgs": batches["credit_kgs"].to_numpy(dtype=np.int64),
    })


def _described(frame: pd.DataFrame, projects: pd.DataFrame | None) -> pd.DataFrame:
    """Project name, pathway and country on each row, from the project frame when given."""
    names: dict[str, tuple[Any, Any, Any]] = {}
    if projects is not None:
        check_columns(projects, ["id", "name", "pathway", "country_code"], "claims_frame",
                      "a project frame as projects=")
        names = {project: (name, None if pd.isna(pathway) else str(pathway), country)
                 for project, name, pathway, country in zip(
                     projects["id"], projects["name"], projects["pathway"],
                     projects["country_code"], strict=True)}
    described = [names.get(project, (None, None, None)) for project in frame["project_id"]]
    result = frame.copy()
    for position, column in enumerate(("project_name", "pathway", "country")):
        result[column] = strings([row[position] for row in described])
    for column in ("retirement_id", "owner_id", "owner_name", "beneficiary_id",
                   "beneficiary_name", "purposes", "url", "notes", "credit_batch_id",
                   "serial_number", "project_id", "supplier_id"):
        result[column] = strings(result[column].to_numpy(dtype=object))
    result["retired_at"] = pd.to_datetime(result["retired_at"], utc=True).dt.as_unit("us")
    result["credits"] = result["credit_kgs"] / KGS_PER_CREDIT
    result["listed"] = result["listed"].astype(bool)
    return result
