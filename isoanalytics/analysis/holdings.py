"""Holdings as they stood at any instant, from a ledger; and the ledger against a balance.

:func:`holdings_as_of` replays a ledger (one row per movement, ``isoanalytics.ledger``) up
to an instant and returns the :class:`~isoanalytics.CreditBalance` of that moment:

- ``active = delivered + transferred_in + refunded - transferred_out - retired`` and
  ``retired = retired``, per project, supplier and order, summed in exact int64 kilograms
  over the movements **before** ``when`` (a movement at ``when`` itself is not yet counted,
  so ``holdings_as_of(ledger, "2026-01-01")`` is the close of 2025, as the periods of
  :func:`~isoanalytics.timeline` run from their first instant up to the next period's);
- ``when`` is a date (``"2025-12-31"``: its midnight UTC) or a time-zone-aware instant, as
  everywhere in the package (:func:`~isoanalytics.records.instants.utc_bound`); ``None``
  replays every row;
- entities are listed as the API lists them: largest total (active + retired) first, ties
  by id; an entity with nothing at all is left out, except the organisation's orders
  contracted before ``when`` and their suppliers (their 0-kg rows are the API's too), which
  the ledger carries in ``ledger.attrs["ledger"]["orders"]``.

:func:`reconcile_ledger` says where a ledger and a balance differ, and why, without raising.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..records.balance import CreditBalance, parse_balance
from ..records.frames import (
    LEVELS,
    STRING_DTYPE,
    check_columns,
    check_sum_fits,
    check_tidy,
    entity_totals,
    tidy_frame,
)
from ..records.instants import utc_bound
from ..records.ledger import ATTRIBUTE, CAUSES
from ..records.movements import EVENTS, INBOUND

__all__ = ["RECONCILE_COLUMNS", "holdings_as_of", "reconcile_ledger"]

_WHAT = "a ledger frame (isoanalytics.ledger)"
_NEEDED = ("organisation_id", "at", "event", "credit_kgs", "project_id", "supplier_id",
           "order_id")
# Per event (in EVENTS order): what it does to the active balance.
_ACTIVE_SIGN = np.array([1 if event in INBOUND else -1 for event in EVENTS], dtype=np.int64)
_RETIRED = EVENTS.index("retired")
RECONCILE_COLUMNS = ("organisation_id", "level", "entity_id", "status", "ledger_kgs",
                     "balance_kgs", "difference_kgs", "credit_kgs", "cause")
_REPORT_LEVELS = (*LEVELS, "credit_batch", "record")


class _Positions:
    """Signed kilograms per entity at each level (before any check that they are >= 0)."""

    def __init__(self, organisation_id: str | None, active: int, retired: int,
                 levels: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        self.organisation_id, self.active, self.retired = organisation_id, active, retired
        self.levels = levels  # level -> (ids, active, retired), ids as an object array


def _event_codes(events: pd.Series, function: str) -> np.ndarray:
    known = pd.Index(EVENTS)
    if isinstance(events.dtype, pd.CategoricalDtype):  # look the categories up, not each row
        raw = events.cat.codes.to_numpy()
        lookup = np.append(known.get_indexer(events.cat.categories), -1)  # [-1]: a missing one
        codes = raw if tuple(events.cat.categories) == EVENTS else lookup[raw]
    else:
        codes = known.get_indexer(pd.Index(events))
    bad = codes < 0
    if bad.any():
        row = events.index[bad][0]
        raise ValueError(f"{function}(): event at row {row!r} is {events.loc[row]!r}; a "
                         f"ledger's events are {', '.join(EVENTS)}")
    return codes.astype(np.intp)


def _kilograms(kgs: pd.Series, function: str) -> np.ndarray:
    if not pd.api.types.is_integer_dtype(kgs.dtype) or pd.api.types.is_bool_dtype(kgs.dtype):
        raise ValueError(f"{function}() takes credit_kgs as integer kilograms, got dtype "
                         f"{kgs.dtype}; keep the exact int64 column")
    if kgs.hasnans:
        raise ValueError(f"{function}(): credit_kgs is missing at row "
                         f"{kgs.index[kgs.isna().to_numpy()][0]!r}")
    values = kgs.to_numpy(dtype=np.int64)
    if len(values) and values.min() < 0:
        row = kgs.index[int(np.argmax(values < 0))]
        raise ValueError(f"{function}(): credit_kgs at row {row!r} is {kgs.loc[row]!r}; a "
                         "movement is a non-negative number of kilograms (its event says "
                         "which way it goes)")
    return values


def _kept(at: pd.Series, cutoff: pd.Timestamp | None, function: str) -> np.ndarray | None:
    if cutoff is None:
        return None
    if not isinstance(at.dtype, pd.DatetimeTZDtype):
        if len(at) == 0:
            return np.zeros(0, dtype=bool)
        raise ValueError(f"{function}() takes at as time-zone-aware datetimes, got dtype "
                         f"{at.dtype}; use at.dt.tz_localize('UTC') if the times are UTC")
    if at.hasnans:
        row = at.index[at.isna().to_numpy()][0]
        raise ValueError(f"{function}(): at is missing at row {row!r}, so it is neither "
                         "before nor after when")
    return (at < cutoff).to_numpy()


def _organisation(ledger: pd.DataFrame, context: dict[str, Any] | None,
                  function: str) -> str | None:
    column = ledger["organisation_id"]
    if len(column) == 0:
        return None if context is None else context.get("organisation_id")
    first = column.iloc[0]
    if pd.isna(first) or bool((column != first).any()):
        found = pd.unique(column.dropna())
        raise ValueError(f"{function}() replays one organisation's ledger; this one holds "
                         f"{len(found)} organisation ids{' and missing ones' * column.hasnans}"
                         ": take one with ledger[ledger['organisation_id'] == ...]")
    return str(first)


def _positions(ledger: pd.DataFrame, when: Any, function: str) -> _Positions:
    check_columns(ledger, _NEEDED, function, _WHAT)
    context = ledger.attrs.get(ATTRIBUTE)
    cutoff = utc_bound(when, "when")
    organisation_id = _organisation(ledger, context, function)
    kgs = _kilograms(ledger["credit_kgs"], function)
    events = _event_codes(ledger["event"], function)
    keep = _kept(ledger["at"], cutoff, function)
    active = kgs * _ACTIVE_SIGN[events]
    retired = np.where(events == _RETIRED, kgs, 0)
    if keep is not None:
        active, retired = np.where(keep, active, 0), np.where(keep, retired, 0)
    check_sum_fits(kgs)
    levels = {}
    listed = _listed_orders(context, cutoff)
    for level in LEVELS[1:]:
        # Factorised whole and masked by value: cheaper than indexing a column of strings.
        codes, uniques = pd.factorize(ledger[f"{level}_id"], use_na_sentinel=True)
        ids = np.asarray(uniques, dtype=object)
        level_active = np.zeros(len(ids), dtype=np.int64)
        level_retired = np.zeros(len(ids), dtype=np.int64)
        named = codes >= 0
        if not named.all():
            codes, active_part, retired_part = codes[named], active[named], retired[named]
        else:
            active_part, retired_part = active, retired
        # np.add.at keeps int64 (bincount would go through float64).
        np.add.at(level_active, codes, active_part)
        np.add.at(level_retired, codes, retired_part)
        held = (level_active != 0) | (level_retired != 0)
        wanted = listed.get(level, [])
        missing: list[str] = []
        if wanted:  # an order with nothing delivered, and its supplier: listed with 0 kg
            held |= np.isin(ids, wanted)
            known = set(ids.tolist())
            missing = [entity for entity in dict.fromkeys(wanted) if entity not in known]
        ids, level_active, level_retired = ids[held], level_active[held], level_retired[held]
        if missing:
            ids = np.concatenate([ids, np.array(missing, dtype=object)])
            level_active = np.concatenate([level_active, np.zeros(len(missing), np.int64)])
            level_retired = np.concatenate([level_retired, np.zeros(len(missing), np.int64)])
        levels[level] = (ids, level_active, level_retired)
    return _Positions(organisation_id, int(active.sum()), int(retired.sum()), levels)


def _listed_orders(context: dict[str, Any] | None,
                   cutoff: pd.Timestamp | None) -> dict[str, list[str]]:
    """The orders (and their suppliers) a balance lists even with nothing delivered."""
    if not context or context.get("orders") is None or len(context["orders"]) == 0:
        return {}
    orders = context["orders"]
    contracted = orders["effective_contract_date"]
    if cutoff is not None:
        days = pd.to_datetime(contracted).dt.tz_localize("UTC")
        orders = orders[(days.isna() | (days < cutoff)).to_numpy()]
    return {"order": [str(value) for value in orders["order_id"].dropna()],
            "supplier": [str(value) for value in orders["supplier_id"].dropna()]}


def _ranked(ids: np.ndarray, active: np.ndarray, retired: np.ndarray) -> np.ndarray:
    """Largest total first, ties by id: the order the API lists a balance's entities in."""
    by_id = np.argsort(ids.astype(str), kind="stable")
    return by_id[np.argsort(-(active + retired)[by_id], kind="stable")]


def holdings_as_of(ledger: pd.DataFrame, when: Any = None) -> CreditBalance:
    """The credit balance a ledger gives at ``when``: active and retired per project,
    supplier and order.

    Parameters
    ----------
    ledger : DataFrame
        One organisation's movements, with at least ``organisation_id, at, event,
        credit_kgs, project_id, supplier_id, order_id``: the frame of
        :func:`isoanalytics.ledger` (or of your own records).
    when : instant, date or text, optional
        Count the movements before this instant (a movement exactly at ``when`` is not yet
        counted). Naive datetimes and text without an offset are read as UTC. ``None``
        (the default) counts every movement: the balance when the ledger was read.

    Returns
    -------
    CreditBalance
        As :meth:`RegistryClient.credit_balance` gives it: for a ledger read from the
        registry, ``holdings_as_of(ledger)`` equals the ``credit_balance`` read with it, to
        the kilogram, entity for entity. Entities run largest first, ties by id.

    Raises
    ------
    ValueError
        A ledger of several organisations, a column missing, an unknown event, kilograms
        that are not non-negative integers, a naive ``at`` with ``when`` given; or
        movements that take more out of an entity than came in by ``when`` (a movement in
        is missing from the ledger: :func:`reconcile_ledger` names it).

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.analysis.holdings import holdings_as_of
    >>> moves = pd.DataFrame({
    ...     "organisation_id": "org_1GB56M1ST1S0GVNA",
    ...     "at": pd.to_datetime(["2024-03-01", "2025-02-01", "2025-06-01"], utc=True),
    ...     "event": ["delivered", "retired", "transferred_out"],
    ...     "credit_kgs": [10_000, 2_500, 1_000],
    ...     "project_id": "prj_1CTWZQGKE1S0VAXA", "supplier_id": "spl_1GB56M1ST1S0GVNA",
    ...     "order_id": "ord_1GB56M1ST1S0GVNA",
    ... })
    >>> then = holdings_as_of(moves, "2025-03-01")
    >>> then.active_kgs, then.retired_kgs
    (7500, 2500)
    >>> holdings_as_of(moves).to_frame().query("level == 'supplier'")[
    ...     ["entity_id", "status", "credit_kgs"]]
                  entity_id   status  credit_kgs
    4  spl_1GB56M1ST1S0GVNA   active        6500
    5  spl_1GB56M1ST1S0GVNA  retired        2500
    """
    positions = _positions(ledger, when, "holdings_as_of")
    for level, (ids, active, retired) in positions.levels.items():
        short = np.flatnonzero((active < 0) | (retired < 0))
        if len(short):
            entity = ids[short[0]]
            raise ValueError(
                f"holdings_as_of(): the ledger takes {-int(active[short[0]])} kg more out of "
                f"{level} {entity} than came into it{' by ' + str(when) if when else ''}: a "
                "movement in is missing (a buffer-pool refund? pass refund_ids to "
                "isoanalytics.ledger); reconcile_ledger(ledger, balance) names the batches")
    organisation = np.array([positions.organisation_id], dtype=object)
    id_parts, active_parts, retired_parts, counts = [organisation], [
        np.array([positions.active], dtype=np.int64)], [
        np.array([positions.retired], dtype=np.int64)], [1]
    for level in LEVELS[1:]:
        ids, active, retired = positions.levels[level]
        order = _ranked(ids, active, retired)
        id_parts.append(ids[order])
        active_parts.append(active[order])
        retired_parts.append(retired[order])
        counts.append(len(ids))
    kgs = np.column_stack([np.concatenate(active_parts),
                           np.concatenate(retired_parts)]).ravel()
    ids = np.concatenate(id_parts)
    frame = tidy_frame(
        organisation_id=np.full(len(kgs), positions.organisation_id, dtype=object),
        level_codes=np.repeat(np.arange(len(LEVELS), dtype=np.int8), np.array(counts) * 2),
        entity_id=np.repeat(ids, 2),
        status_codes=np.tile(np.arange(2, dtype=np.int8), len(ids)),
        credit_kgs=kgs,
    )
    return CreditBalance.from_frame(frame)


def _balance_levels(balance: CreditBalance) -> dict[str, dict[str, tuple[int, int]]]:
    frame = check_tidy(balance.to_frame())
    found = {}
    for level in LEVELS:
        totals = entity_totals(frame, level)
        found[level] = {str(entity): (int(active), int(retired)) for entity, active, retired in
                        zip(totals.index, totals["active_kgs"], totals["retired_kgs"],
                            strict=True)}
    return found


def _findings(ledger: pd.DataFrame) -> pd.DataFrame | None:
    context = ledger.attrs.get(ATTRIBUTE)
    return None if not context else context.get("findings")


def _cause_of(level: str, entity: str, status: str, difference: int,
              findings: pd.DataFrame | None) -> str:
    """The findings touching this entity, or what the sign of the difference suggests."""
    if findings is not None and len(findings):
        touching = findings
        if level != "organisation":
            touching = findings[(findings[f"{level}_id"] == entity).fillna(False).to_numpy()]
        touching = touching[(touching["status"] == status).fillna(False).to_numpy()]
        sign = {"inbound_not_listed": 1, "outbound_not_listed": -1}
        explained = [cause for cause in dict.fromkeys(touching["cause"])
                     if sign.get(cause, 0) * difference > 0]
        if explained:
            return "; ".join(f"{cause}: credits that {CAUSES[cause]}" for cause in explained)
    if difference > 0:
        return ("the balance holds more than the ledger shows: inbound not listed (a "
                "buffer-pool refund? pass refund_ids)")
    return ("the ledger shows more than the balance holds: an outbound movement missing from "
            "the lists (a transfer out or a retirement), or a balance read at another time")


def reconcile_ledger(ledger: pd.DataFrame, balance: Any, *, when: Any = None) -> pd.DataFrame:
    """Where a ledger and a balance differ, by level and cause; empty when they agree.

    Compares :func:`holdings_as_of` of ``ledger`` at ``when`` with ``balance``, for the
    organisation, every project, supplier and order and both statuses, and lists what the
    ledger's own findings say (``ledger.attrs["ledger"]["findings"]``: a batch that arrived
    by no listed route, a retired batch whose retirement the list lacks, a delivery naming
    no order...). It never raises over a difference and never drops one: a ledger that
    takes more out than came in is compared as it is (negative holdings included).

    Parameters
    ----------
    ledger : DataFrame
        The frame of :func:`isoanalytics.ledger`.
    balance : CreditBalance, or a ``credit_balance`` body
        The balance to compare with, usually ``client.credit_balance(org)`` read with the
        ledger.
    when : instant, date or text, optional
        Replay the ledger up to here (see :func:`holdings_as_of`); by default all of it.

    Returns
    -------
    DataFrame
        Columns ``organisation_id, level, entity_id, status, ledger_kgs, balance_kgs,
        difference_kgs`` (balance minus ledger), ``credit_kgs`` (the kilograms the row is
        about) and ``cause``. First one row per (level, entity, status) that differs, its
        cause taken from the findings that touch it, else from the sign of the difference;
        then one row per finding (``level`` ``"credit_batch"``, or ``"record"`` for a record
        whose batches do not add up to its total), whose ``difference_kgs`` is what it
        accounts for (0 when the ledger counts it anyway, as a retired batch counted from
        itself). Why not :func:`isoanalytics.reconcile`: that one checks a balance against
        its own totals; this one checks a history against a balance.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.analysis.holdings import reconcile_ledger
    >>> from isoanalytics.registry.ledger import ledger
    >>> org = demo.registry().buyers["large"]
    >>> with RegistryClient.demo() as client:
    ...     moves = ledger(client, org, progress=False)  # without its refund's id
    ...     balance = client.credit_balance(org)
    >>> report = reconcile_ledger(moves, balance)
    >>> report.query("level == 'organisation'")[["status", "difference_kgs"]]
       status  difference_kgs
    0  active           13690
    >>> report["cause"].iloc[0][:40]
    'inbound_not_listed: credits that arrived'
    """
    positions = _positions(ledger, when, "reconcile_ledger")
    balance = parse_balance(balance)
    if (positions.organisation_id and balance.organisation_id
            and positions.organisation_id != balance.organisation_id):
        raise ValueError(f"reconcile_ledger(): the ledger is {positions.organisation_id}'s "
                         f"and the balance {balance.organisation_id}'s; compare one "
                         "organisation's")
    organisation_id = positions.organisation_id or balance.organisation_id
    held = _balance_levels(balance)
    mine = {"organisation": {str(organisation_id): (positions.active, positions.retired)}}
    for level, (ids, active, retired) in positions.levels.items():
        mine[level] = {str(entity): (int(a), int(r))
                       for entity, a, r in zip(ids, active.tolist(), retired.tolist(),
                                               strict=True)}
    if held["organisation"]:  # the balance's organisation row is keyed by its own id
        totals = mine["organisation"].popitem()[1]
        mine["organisation"] = {next(iter(held["organisation"])): totals}
    findings = _findings(ledger)
    rows: list[tuple[Any, ...]] = []
    for level in LEVELS:
        differing = []
        for entity in dict.fromkeys([*held[level], *mine[level]]):
            theirs, ours = held[level].get(entity, (0, 0)), mine[level].get(entity, (0, 0))
            for position, status in enumerate(("active", "retired")):
                difference = theirs[position] - ours[position]
                if difference:
                    differing.append((entity, status, ours[position], theirs[position],
                                      difference))
        differing.sort(key=lambda row: (-abs(row[4]), row[0], row[1]))
        for entity, status, ours_kgs, theirs_kgs, difference in differing:
            rows.append((level, entity, status, ours_kgs, theirs_kgs, difference,
                         abs(difference), _cause_of(level, entity, status, difference,
                                                    findings)))
    if findings is not None:
        sign = {"inbound_not_listed": 1, "outbound_not_listed": -1}
        for finding in findings.itertuples(index=False):
            batch: Any = finding.credit_batch_id
            level = "credit_batch" if isinstance(batch, str) else "record"
            rows.append((level, batch if level == "credit_batch" else finding.record_id,
                         finding.status if isinstance(finding.status, str) else None, None,
                         None, sign.get(str(finding.cause), 0) * int(str(finding.credit_kgs)),
                         int(str(finding.credit_kgs)), f"{finding.cause}: {finding.detail}"))
    columns = list(zip(*rows, strict=True)) if rows else [()] * 8
    return pd.DataFrame({
        "organisation_id": pd.Series([organisation_id] * len(rows), dtype=STRING_DTYPE),
        "level": pd.Categorical(columns[0], categories=_REPORT_LEVELS),
        "entity_id": pd.Series(columns[1], dtype=STRING_DTYPE),
        "status": pd.Categorical(columns[2], categories=("active", "retired")),
        "ledger_kgs": pd.array(columns[3], dtype="Int64"),
        "balance_kgs": pd.array(columns[4], dtype="Int64"),
        "difference_kgs": np.array(columns[5], dtype=np.int64),
        "credit_kgs": np.array(columns[6], dtype=np.int64),
        "cause": pd.Series(columns[7], dtype=STRING_DTYPE),
    }, columns=list(RECONCILE_COLUMNS))
