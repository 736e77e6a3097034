"""The ledger of an account, built from the registry's records: :func:`build_ledger`.

Pure: frames in, the ledger frame out (its columns are :data:`~.movements.LEDGER_COLUMNS`);
``isoanalytics.ledger`` fetches the frames and calls this.

The rule that keeps split batches from being counted twice: **a movement in is recorded at
the batch as it arrived, a movement out at the batch as it left.** A batch delivered whole
and retired in part is one ``delivered`` row of the delivered batch and one ``retired`` row
of the retired child; the split itself moves nothing and is no row. Children share their
parent's project, supplier and vintage, so for every project, supplier and order

    active(t) = inbound(t) - outbound(t),   retired(t) = retired rows up to t

where inbound is ``delivered``, ``transferred_in`` and ``refunded`` and outbound is
``transferred_out`` and ``retired``.

``order_id`` and ``delivery_id`` name the delivery the credits arrived by (and its order),
on every row of those credits, outbound rows included: a retired child is traced through
its own ``delivery_id`` or, lacking one, its parents', to one of the organisation's
deliveries. Credits that came by transfer or refund have none, as in the API's balance.

Nothing read is dropped: what the records cannot explain is a *finding*, kept with the
frame in ``frame.attrs["ledger"]["findings"]`` (see :data:`FINDING_COLUMNS`) for
:func:`isoanalytics.reconcile_ledger` to report. The organisation's orders ride along in
``frame.attrs["ledger"]["orders"]``, so that ``holdings_as_of`` lists an order with
nothing delivered yet, as the API's balance does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..ids import check_id
from .frames import STRING_DTYPE, check_columns
from .movements import EVENTS, LEDGER_COLUMNS

__all__ = ["ATTRIBUTE", "CAUSES", "FINDING_COLUMNS", "ORDER_COLUMNS", "build_ledger",
           "empty_ledger", "ledger_context"]

#: The key of ``frame.attrs`` that holds the ledger's organisation, orders and findings.
ATTRIBUTE = "ledger"
#: What a finding can be, and what it means.
CAUSES = {
    "inbound_not_listed": "arrived by no listed route (a buffer-pool refund? pass refund_ids)",
    "outbound_not_listed": "came in but is neither held now nor listed as leaving (a transfer "
                           "out or retirement missing from the lists?)",
    "retirement_not_listed": "retired batch whose retirement is missing from the retirements "
                             "list (counted from the batch itself)",
    "batch_without_order": "delivered by a delivery that names none of the organisation's "
                           "orders",
    "total_mismatch": "a record whose credit batches do not add up to its stated total",
}
FINDING_COLUMNS = ("cause", "credit_batch_id", "record_id", "project_id", "supplier_id",
                   "order_id", "status", "credit_kgs", "detail")
ORDER_COLUMNS = ("order_id", "supplier_id", "effective_contract_date")
# What each record kind is read from: (frame's time column, counterparty column, ledger id
# column, its total column).
_RECORDS = {
    "delivered": ("delivered_at", None, "delivery_id", "delivered_kgs"),
    "transferred_in": ("transferred_at", "from_organisation_id", "transfer_id",
                       "transferred_kgs"),
    "transferred_out": ("transferred_at", "to_organisation_id", "transfer_id",
                        "transferred_kgs"),
    "retired": ("retired_at", "beneficiary_id", "retirement_id", "retired_kgs"),
    "refunded": ("refunded_at", None, "refund_id", "refunded_kgs"),
}
_BATCH_COLUMNS = ("id", "status", "project_id", "supplier_id", "credit_kgs", "retired_at",
                  "sequestered_on", "delivery_id", "retirement_id", "parent_id",
                  "beneficiary_id")
_WHAT_BATCHES = "a credit-batch frame (client.credit_batches or a record's credit_batches)"


class _Batch(NamedTuple):
    id: str
    status: str | None
    project_id: str | None
    supplier_id: str | None
    credit_kgs: int
    retired_at: Any
    vintage: int | None
    delivery_id: str | None
    retirement_id: str | None
    parent_id: str | None
    beneficiary_id: str | None


class _Row(NamedTuple):
    at: Any
    event: str
    batch: _Batch
    record_id: str
    counterparty_id: str | None


def _values(column: pd.Series) -> list[Any]:
    """The column's values, missing ones as None (never NaN or <NA>)."""
    return [None if value is None or value is pd.NA or value is pd.NaT
            or (isinstance(value, float) and value != value) else value
            for value in column.tolist()]


def _read_batches(frame: pd.DataFrame, where: str) -> list[_Batch]:
    check_columns(frame, _BATCH_COLUMNS, "build_ledger", f"{_WHAT_BATCHES} for {where}")
    vintages = _values(frame["sequestered_on"].dt.year.astype("Int64"))
    kgs = frame["credit_kgs"].to_numpy(dtype=np.int64).tolist()
    columns = {name: _values(frame[name]) for name in _BATCH_COLUMNS
               if name not in ("credit_kgs", "sequestered_on", "retired_at")}
    retired_at = frame["retired_at"].tolist()
    return [_Batch(columns["id"][i], columns["status"][i], columns["project_id"][i],
                   columns["supplier_id"][i], kgs[i],
                   None if pd.isna(retired_at[i]) else retired_at[i], vintages[i],
                   columns["delivery_id"][i], columns["retirement_id"][i],
                   columns["parent_id"][i], columns["beneficiary_id"][i])
            for i in range(len(frame))]


def _records(frame: pd.DataFrame | None, event: str, organisation_id: str,
             side: str | None) -> pd.DataFrame:
    """The records of ``frame`` that belong to the organisation's side of ``event``."""
    at, counterparty, _, total = _RECORDS[event]
    needed = ["id", at, total, *([counterparty] if counterparty else []),
              *([side] if side else [])]
    if frame is None:
        return pd.DataFrame({name: [] for name in needed})
    check_columns(frame, needed, "build_ledger", f"a {event} record frame")
    if side is None:
        return frame
    return frame[(frame[side] == organisation_id).fillna(False).to_numpy(dtype=bool)]


def build_ledger(
    organisation_id: str,
    *,
    deliveries: pd.DataFrame | None = None,
    transfers: pd.DataFrame | None = None,
    retirements: pd.DataFrame | None = None,
    refunds: pd.DataFrame | None = None,
    record_batches: Mapping[str, pd.DataFrame] | None = None,
    batches: pd.DataFrame | None = None,
    orders: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ledger frame of ``organisation_id`` from its records and their credit batches.

    Parameters
    ----------
    organisation_id : str
        The account. Records of other organisations in the frames are left out (a delivery
        to someone else, a retirement another owner made).
    deliveries, transfers, retirements, refunds : DataFrame, optional
        The record frames as the client gives them (``client.deliveries()``,
        ``client.transfers()``, ``client.retirements()``; refunds from
        ``record_frame("refund", [client.refund(id), ...])``). Transfers in both directions
        may be in one frame.
    record_batches : mapping of record id to credit-batch frame
        Each record's credit batches (``client.delivery_credit_batches(id)`` and the like).
    batches : DataFrame, optional
        The organisation's current credit batches, split parents included
        (``client.credit_batches(org, status=["active", "retired", "split"])``): the
        lineage of split batches, and what the organisation holds, to find what the lists
        miss. Without it, the findings cover only what the records themselves show.
    orders : DataFrame, optional
        The organisation's orders (``client.orders(org)``), kept with the frame so that an
        order with nothing delivered is listed by ``holdings_as_of`` (with 0 kg).

    Returns
    -------
    DataFrame
        The columns of :data:`~.movements.LEDGER_COLUMNS`, one row per movement, ordered by
        ``at``, then event (in :data:`~.movements.EVENTS` order), then batch id. Its
        ``attrs["ledger"]`` holds ``organisation_id``, ``orders`` (:data:`ORDER_COLUMNS`)
        and ``findings`` (:data:`FINDING_COLUMNS`: one row per batch or record the lists do
        not explain, with its cause, a key of :data:`CAUSES`).

    Raises
    ------
    InvalidIdError
        ``organisation_id`` is not an organisation id.
    TypeError, ValueError
        A frame that is not one, or lacks a column, named with what it should be.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.records.ledger import build_ledger
    >>> org = demo.registry().buyers["typical"]
    >>> with RegistryClient.demo() as client:
    ...     deliveries = client.deliveries(to_organisation_id=org)
    ...     transfers = client.transfers(to_organisation_id=org)
    ...     retirements = client.retirements(owner_organisation_id=org)
    ...     record_batches = {
    ...         **client.many("delivery_credit_batches", deliveries["id"], organisation_id=org),
    ...         **client.many("transfer_credit_batches", transfers["id"], organisation_id=org),
    ...         **client.many("retirement_credit_batches", retirements["id"])}
    >>> moves = build_ledger(org, deliveries=deliveries, transfers=transfers,
    ...                      retirements=retirements, record_batches=record_batches)
    >>> moves.groupby("event", observed=True)["credit_kgs"].sum().to_dict()
    ... # doctest: +NORMALIZE_WHITESPACE
    {'delivered': 544962, 'transferred_in': 40385, 'retired': 134916}
    """
    organisation_id = check_id(organisation_id, "organisation", argument="organisation_id")
    record_batches = dict(record_batches or {})
    findings: list[dict[str, Any]] = []
    index: dict[str, _Batch] = {}  # every batch seen, by id, for lineage
    held: list[_Batch] = []
    if batches is not None:
        held = _read_batches(batches, "the organisation's batches")
        index.update((batch.id, batch) for batch in held)
    read: dict[str, list[_Batch]] = {}
    for record_id, frame in record_batches.items():
        read[record_id] = _read_batches(frame, f"record {record_id}")
        for batch in read[record_id]:
            index.setdefault(batch.id, batch)

    sources = (
        ("delivered", _records(deliveries, "delivered", organisation_id, "to_organisation_id")),
        ("transferred_in", _records(transfers, "transferred_in", organisation_id,
                                    "to_organisation_id")),
        ("refunded", _records(refunds, "refunded", organisation_id, "to_organisation_id")),
        ("transferred_out", _records(transfers, "transferred_out", organisation_id,
                                     "from_organisation_id")),
        ("retired", _records(retirements, "retired", organisation_id, "owner_id")),
    )
    order_of_delivery: dict[str, str | None] = {}
    if deliveries is not None:
        mine = sources[0][1]
        order_of_delivery = dict(zip(_values(mine["id"]), _values(mine["order_id"]),
                                     strict=True))
    rows: list[_Row] = []
    for event, records in sources:
        at_column, counterparty, _, total_column = _RECORDS[event]
        ids, moments = _values(records["id"]), records[at_column].tolist()
        totals = records[total_column].tolist()
        others = _values(records[counterparty]) if counterparty else [None] * len(ids)
        for record_id, at, total, other in zip(ids, moments, totals, others, strict=True):
            listed = read.get(record_id)
            if listed is None:
                raise ValueError(f"build_ledger(): record_batches has no credit batches for "
                                 f"{record_id}; read every record's (client.many("
                                 "'delivery_credit_batches', ids) and the like)")
            rows.extend(_Row(at, event, batch, record_id, other) for batch in listed)
            listed_kgs = sum(batch.credit_kgs for batch in listed)
            if total is not None and listed_kgs != int(total):
                findings.append(_finding("total_mismatch", None, record_id, None, None,
                                         abs(listed_kgs - int(total)),
                                         f"{record_id} says {int(total)} kg but its credit "
                                         f"batches hold {listed_kgs} kg"))

    retired_listed = {row.batch.id for row in rows if row.event == "retired"}
    for batch in held:
        if batch.status == "retired" and batch.id not in retired_listed:
            detail = (f"{batch.id} ({batch.credit_kgs} kg) was retired by "
                      f"{batch.retirement_id or 'a retirement it does not name'}, which the "
                      "retirements list does not hold")
            if batch.retired_at is None:
                findings.append(_finding("retirement_not_listed", batch, batch.retirement_id,
                                         None, "retired", batch.credit_kgs,
                                         detail + "; it has no retired_at either, so it is "
                                         "in no row"))
                continue
            findings.append(_finding("retirement_not_listed", batch, batch.retirement_id, None,
                                     "retired", batch.credit_kgs,
                                     detail + "; counted from the batch itself"))
            rows.append(_Row(batch.retired_at, "retired", batch,
                             batch.retirement_id or "", batch.beneficiary_id))

    delivery_of = _Lineage(index, order_of_delivery)
    frame = _frame(organisation_id, rows, delivery_of)
    for row in rows:
        if row.event == "delivered" and order_of_delivery.get(row.record_id) is None:
            findings.append(_finding("batch_without_order", row.batch, row.record_id, None,
                                     "active", row.batch.credit_kgs,
                                     f"{row.batch.id} came by {row.record_id}, which names "
                                     "no order"))
    if batches is not None:
        findings.extend(_unexplained(rows, held, index, delivery_of))
    frame.attrs[ATTRIBUTE] = ledger_context(organisation_id, orders, findings)
    return frame


class _Lineage:
    """A batch's delivery (its own ``delivery_id``, else its nearest parent's) and order."""

    def __init__(self, index: Mapping[str, _Batch], orders: Mapping[str, str | None]) -> None:
        self.index, self.orders = index, orders
        self._delivery: dict[str, str | None] = {}

    def delivery(self, batch: _Batch) -> str | None:
        """The organisation's delivery that brought the batch's credits, if one did."""
        path: list[str] = []
        current: _Batch | None = batch
        found: str | None = None
        while current is not None and current.id not in self._delivery:
            path.append(current.id)
            if current.delivery_id is not None:
                found = current.delivery_id
                break
            current = self.index.get(current.parent_id) if current.parent_id else None
            if current is not None and current.id in path:  # a cycle: the data is wrong
                current = None
        else:
            if current is not None:
                found = self._delivery[current.id]
        found = found if found in self.orders else None
        for batch_id in path:
            self._delivery[batch_id] = found
        return found

    def order(self, batch: _Batch) -> str | None:
        delivery = self.delivery(batch)
        return None if delivery is None else self.orders[delivery]


def _frame(organisation_id: str, rows: list[_Row], lineage: _Lineage) -> pd.DataFrame:
    if not rows:
        return empty_ledger()
    event_codes = {event: code for code, event in enumerate(EVENTS)}
    at = pd.to_datetime(pd.Series([row.at for row in rows], dtype=object), utc=True)
    ids: dict[str, list[str | None]] = {
        name: [] for name in ("delivery_id", "transfer_id", "retirement_id", "refund_id")}
    deliveries = [lineage.delivery(row.batch) for row in rows]
    for row, delivery in zip(rows, deliveries, strict=True):
        id_column = _RECORDS[row.event][2]
        for name, values in ids.items():
            if name == "delivery_id":
                values.append(row.record_id if row.event == "delivered" else delivery)
            else:
                values.append(row.record_id if name == id_column else None)
    frame = pd.DataFrame({
        "organisation_id": pd.Series([organisation_id] * len(rows), dtype=STRING_DTYPE),
        "at": at.dt.as_unit("us"),
        "event": pd.Categorical([row.event for row in rows], categories=EVENTS),
        "credit_kgs": np.array([row.batch.credit_kgs for row in rows], dtype=np.int64),
        "credit_batch_id": _strings(row.batch.id for row in rows),
        "project_id": _strings(row.batch.project_id for row in rows),
        "supplier_id": _strings(row.batch.supplier_id for row in rows),
        "vintage": pd.array([row.batch.vintage for row in rows], dtype="Int64"),
        "order_id": _strings(lineage.orders.get(d) if d else None for d in ids["delivery_id"]),
        "delivery_id": _strings(ids["delivery_id"]),
        "transfer_id": _strings(ids["transfer_id"]),
        "retirement_id": _strings(value or None for value in ids["retirement_id"]),
        "refund_id": _strings(ids["refund_id"]),
        "counterparty_id": _strings(row.counterparty_id for row in rows),
    }, columns=list(LEDGER_COLUMNS))
    order = np.lexsort((frame["credit_batch_id"].to_numpy(dtype=object).astype(str),
                        np.array([event_codes[row.event] for row in rows]),
                        frame["at"].to_numpy()))
    return frame.take(order).reset_index(drop=True)


def _strings(values: Iterable[Any]) -> pd.Series:
    return pd.Series(list(values), dtype=STRING_DTYPE)


def empty_ledger() -> pd.DataFrame:
    """A ledger frame with no rows and every column's dtype.

    Examples
    --------
    >>> from isoanalytics.records.ledger import empty_ledger
    >>> frame = empty_ledger()
    >>> len(frame), str(frame["at"].dtype), str(frame["credit_kgs"].dtype)
    (0, 'datetime64[us, UTC]', 'int64')
    """
    none: list[Any] = []
    return pd.DataFrame({
        "organisation_id": _strings(none),
        "at": pd.Series(none, dtype="datetime64[us, UTC]"),
        "event": pd.Categorical(none, categories=EVENTS),
        "credit_kgs": np.zeros(0, dtype=np.int64),
        **{name: _strings(none) for name in ("credit_batch_id", "project_id", "supplier_id")},
        "vintage": pd.array(none, dtype="Int64"),
        **{name: _strings(none) for name in LEDGER_COLUMNS[8:]},
    }, columns=list(LEDGER_COLUMNS))


def _finding(cause: str, batch: _Batch | None, record_id: str | None, order_id: str | None,
             status: str | None, credit_kgs: int, detail: str) -> dict[str, Any]:
    return {"cause": cause, "credit_batch_id": batch.id if batch else None,
            "record_id": record_id, "project_id": batch.project_id if batch else None,
            "supplier_id": batch.supplier_id if batch else None, "order_id": order_id,
            "status": status, "credit_kgs": credit_kgs, "detail": detail}


def _unexplained(rows: list[_Row], held: list[_Batch], index: Mapping[str, _Batch],
                 lineage: _Lineage) -> list[dict[str, Any]]:
    """Credits that end somewhere (held now, or transferred out) but came by no listed route,
    and credits that came in but end nowhere listed.

    Each end is traced up its lineage to the nearest batch that came in by a listed row; the
    kilograms ending below an inbound batch must add up to what came in by it.
    """
    inbound: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.event in ("delivered", "transferred_in", "refunded"):
            inbound[row.batch.id] += row.batch.credit_kgs
    ends = [batch for batch in held if batch.status != "split"]
    ends += [row.batch for row in rows if row.event == "transferred_out"]
    found: list[dict[str, Any]] = []
    ended: dict[str, int] = defaultdict(int)
    for batch in ends:
        current: _Batch | None = batch
        seen = set()
        while current is not None and current.id not in inbound and current.id not in seen:
            seen.add(current.id)
            current = index.get(current.parent_id) if current.parent_id else None
        if current is not None and current.id in inbound:
            ended[current.id] += batch.credit_kgs
            continue
        found.append(_finding(
            "inbound_not_listed", batch, None, lineage.order(batch), "active", batch.credit_kgs,
            f"{batch.id} ({batch.credit_kgs} kg, {batch.status}) came into the account by no "
            "listed delivery, transfer or refund (a buffer-pool refund? pass refund_ids)"))
    for batch_id, kgs in inbound.items():
        if ended[batch_id] != kgs:
            batch = index[batch_id]
            missing = kgs - ended[batch_id]
            cause = "outbound_not_listed" if missing > 0 else "inbound_not_listed"
            found.append(_finding(
                cause, batch, None, lineage.order(batch), "active", abs(missing),
                f"{batch_id} brought {kgs} kg, and {ended[batch_id]} kg of it is held now or "
                "listed as leaving" + (": the rest went by no listed movement" if missing > 0
                                       else ": more than came in")))
    return found


def ledger_context(organisation_id: str | None, orders: pd.DataFrame | None,
                   findings: list[dict[str, Any]] | pd.DataFrame | None = None) -> dict[str, Any]:
    """The value of a ledger's ``attrs["ledger"]``: its organisation, orders and findings.

    Examples
    --------
    >>> from isoanalytics.records.ledger import ledger_context
    >>> context = ledger_context("org_1GB56M1ST1S0GVNA", None)
    >>> context["organisation_id"], len(context["orders"]), len(context["findings"])
    ('org_1GB56M1ST1S0GVNA', 0, 0)
    """
    if orders is None:
        order_frame = pd.DataFrame({"order_id": _strings([]), "supplier_id": _strings([]),
                                    "effective_contract_date": pd.Series(
                                        [], dtype="datetime64[us]")})
    else:
        check_columns(orders, ["id", "supplier_id", "effective_contract_date"], "build_ledger",
                      "an order frame (client.orders(org))")
        order_frame = pd.DataFrame({
            "order_id": pd.Series(_values(orders["id"]), dtype=STRING_DTYPE),
            "supplier_id": pd.Series(_values(orders["supplier_id"]), dtype=STRING_DTYPE),
            "effective_contract_date": pd.to_datetime(
                orders["effective_contract_date"]).reset_index(drop=True),
        })
    if isinstance(findings, pd.DataFrame):
        finding_frame = findings
    else:
        finding_frame = pd.DataFrame(findings or [], columns=list(FINDING_COLUMNS))
        finding_frame["credit_kgs"] = finding_frame["credit_kgs"].astype(np.int64)
        for name in FINDING_COLUMNS:
            if name != "credit_kgs":
                finding_frame[name] = finding_frame[name].astype(STRING_DTYPE)
    return {"organisation_id": organisation_id, "orders": order_frame,
            "findings": finding_frame}
