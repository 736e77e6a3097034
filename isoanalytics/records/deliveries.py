"""Deliveries against orders: each order's schedule and each supplier's monthly progress.

The pure half of :func:`isoanalytics.delivery_schedule` (frames in, frames out); the registry
layer fetches an organisation's orders and deliveries and calls :func:`schedule`.

The rules, so that a figure can be checked by hand:

- ``delivered_kgs`` is the sum of the order's deliveries (int64, exact), ``remaining_kgs``
  is ``ordered_kgs - delivered_kgs``. The order's own ``credits_delivered``
  (``order_delivered_kgs``) is checked against it: a difference is ``mismatch_kgs`` and a
  ``problem``, and a delivery naming an order that is not listed is a row of
  :attr:`DeliverySchedule.problems`; nothing is hidden.
- Days are counted from the contract date (its midnight, UTC) to each delivery, in whole
  days (floored).
- **Behind.** The registry records no promised delivery dates, so "behind" is a judgement,
  made at ``as_of``: an order that is not ``completed``, still has kilograms to come, and has
  had no delivery for more than ``stall_days`` days (730 by default; counted from its last
  delivery, or from its contract date when nothing has been delivered yet). Two years, not
  one: carbon removal is often verified and delivered once a year, so a year and a day
  without a delivery is routine; two missed cycles are not.
- Months are calendar months in UTC; a delivery at 2025-01-31T23:30-05:00 is in February.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from .._options import check_integer
from .frames import check_columns, strings
from .instants import utc_bound

__all__ = ["DELIVERY_COLUMNS", "ORDER_COLUMNS", "PROBLEM_COLUMNS", "PROGRESS_COLUMNS",
           "SCHEDULE_COLUMNS", "DeliverySchedule", "delivery_progress", "schedule"]

ORDER_COLUMNS = ("id", "status", "supplier_id", "supplier_name", "effective_contract_date",
                 "fulfilled_at", "ordered_kgs", "delivered_kgs")
DELIVERY_COLUMNS = ("id", "delivered_at", "order_id", "supplier_id", "supplier_name",
                    "delivered_kgs")
SCHEDULE_COLUMNS = (
    "order_id", "supplier_id", "supplier_name", "status", "effective_contract_date",
    "fulfilled_at", "ordered_kgs", "delivered_kgs", "remaining_kgs", "delivered_share",
    "deliveries", "first_delivery_at", "last_delivery_at", "days_to_first_delivery",
    "days_to_last_delivery", "days_since_delivery", "behind", "order_delivered_kgs",
    "mismatch_kgs", "problem",
)
PROGRESS_COLUMNS = ("supplier_id", "supplier_name", "month", "delivered_kgs",
                    "cumulative_delivered_kgs", "ordered_kgs", "remaining_kgs")
PROBLEM_COLUMNS = ("order_id", "delivery_id", "kgs", "problem")
STALL_DAYS = 730
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class DeliverySchedule:
    """An organisation's orders against their deliveries.

    Attributes
    ----------
    orders : DataFrame
        One row per order (:data:`SCHEDULE_COLUMNS`): ``order_id, supplier_id,
        supplier_name, status, effective_contract_date`` (a date), ``fulfilled_at``,
        ``ordered_kgs, delivered_kgs, remaining_kgs`` (int64; delivered from the
        deliveries), ``delivered_share``, ``deliveries`` (how many),
        ``first_delivery_at, last_delivery_at`` (UTC), ``days_to_first_delivery,
        days_to_last_delivery, days_since_delivery`` (Int64 whole days), ``behind``
        (bool, see the module's rule), ``order_delivered_kgs`` (what the order itself
        says), ``mismatch_kgs`` (delivered_kgs minus that) and ``problem``. Newest contract
        first, ties by id.
    progress : DataFrame
        Monthly cumulative delivered against ordered, per supplier: see
        :func:`delivery_progress`.
    deliveries : DataFrame
        The deliveries read (one row per delivery), with ``days_from_contract``: whole days
        from its order's contract date (midnight UTC) to it, missing for a delivery whose
        order is not listed.
    problems : DataFrame
        One row per thing that does not add up (:data:`PROBLEM_COLUMNS`: ``order_id,
        delivery_id, kgs, problem``): an order whose deliveries differ from its own
        delivered figure, a delivery whose order is not listed. Empty when all is well.
    as_of : Timestamp
        When ``behind`` and ``days_since_delivery`` were judged (UTC).
    stall_days : int
        Days without a delivery after which an open order is behind.

    Examples
    --------
    >>> from isoanalytics.records.deliveries import schedule
    >>> import pandas as pd
    >>> orders = pd.DataFrame({
    ...     "id": ["ord_A"], "status": ["in_progress"], "supplier_id": ["spl_S"],
    ...     "supplier_name": ["S"], "effective_contract_date": pd.to_datetime(["2024-01-01"]),
    ...     "fulfilled_at": pd.to_datetime([None], utc=True), "ordered_kgs": [10_000],
    ...     "delivered_kgs": [4_000]})
    >>> deliveries = pd.DataFrame({
    ...     "id": ["dlv_1"], "delivered_at": pd.to_datetime(["2024-03-01T00:00Z"]),
    ...     "order_id": ["ord_A"], "supplier_id": ["spl_S"], "supplier_name": ["S"],
    ...     "delivered_kgs": [4_000]})
    >>> result = schedule(orders, deliveries, as_of="2026-06-01")
    >>> result.orders[["order_id", "remaining_kgs", "days_to_first_delivery", "behind"]]
      order_id  remaining_kgs  days_to_first_delivery  behind
    0    ord_A           6000                      60    True
    >>> result.problems.empty
    True
    """

    orders: pd.DataFrame
    progress: pd.DataFrame
    deliveries: pd.DataFrame = field(repr=False)
    problems: pd.DataFrame
    as_of: pd.Timestamp
    stall_days: int = STALL_DAYS

    def __repr__(self) -> str:
        behind = int(self.orders["behind"].sum())
        return (f"DeliverySchedule({len(self.orders)} orders, {len(self.deliveries)} "
                f"deliveries, {behind} behind, {len(self.problems)} problems, "
                f"as_of={self.as_of.isoformat()})")


def _as_of(value: Any) -> pd.Timestamp:
    if value is None:
        return pd.Timestamp(datetime.now(UTC)).as_unit("us")
    moment = utc_bound(value, "as_of")
    assert moment is not None
    return moment


def _contracts(orders: pd.DataFrame) -> pd.Series:
    """Each order's contract date as its midnight UTC."""
    days = pd.to_datetime(orders["effective_contract_date"])
    if isinstance(days.dtype, pd.DatetimeTZDtype):
        days = days.dt.tz_convert("UTC").dt.tz_localize(None)
    return days.dt.normalize().dt.tz_localize("UTC").dt.as_unit("us")


def _instants(values: pd.Series, column: str) -> pd.Series:
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        if len(values) and values.notna().any():
            raise ValueError(f"{column} must be time-zone-aware datetimes (UTC), got dtype "
                             f"{values.dtype}; parse with pandas.to_datetime(..., utc=True)")
        values = pd.to_datetime(values, utc=True)
    return values.dt.tz_convert("UTC").dt.as_unit("us")


def _kilograms(values: pd.Series, column: str) -> np.ndarray:
    if not pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_bool_dtype(
            values.dtype):
        raise ValueError(f"{column} must be integer kilograms, got dtype {values.dtype}; keep "
                         "the exact int64 column")
    if values.isna().any() or (values < 0).any():
        raise ValueError(f"{column} must be non-negative kilograms; row "
                         f"{values.index[(values.isna() | (values < 0)).to_numpy()][0]!r} is not")
    return values.to_numpy(dtype=np.int64)


def _whole_days(span: pd.Series) -> pd.Series:
    days = [None if pd.isna(value) else int(value // _DAY) for value in span]
    return pd.Series(pd.array(days, dtype="Int64"), index=span.index)


def schedule(orders: pd.DataFrame, deliveries: pd.DataFrame, *, as_of: Any = None,
             stall_days: int = STALL_DAYS) -> DeliverySchedule:
    """Each order against its deliveries, and each supplier's monthly progress.

    Parameters
    ----------
    orders : DataFrame
        An order frame (``client.orders(org)``), with at least :data:`ORDER_COLUMNS`.
    deliveries : DataFrame
        A delivery frame (``client.deliveries(to_organisation_id=org)``), with at least
        :data:`DELIVERY_COLUMNS`.
    as_of : date or time-zone-aware datetime, optional
        When to judge ``behind`` and ``days_since_delivery``; default: now. Pass the time
        the frames were read (the demo's is ``demo.AS_OF``).
    stall_days : int
        Days without a delivery after which an open order is behind (default 730).

    Returns
    -------
    DeliverySchedule
        ``orders``, ``progress``, ``deliveries`` and ``problems`` (see its attributes). A
        mismatch is also a warning.

    Examples
    --------
    >>> from isoanalytics import demo
    >>> from isoanalytics.records.deliveries import schedule
    >>> from isoanalytics.records.resources import record_frame
    >>> registry = demo.registry()
    >>> typical = registry.buyers["typical"]
    >>> orders = record_frame("order", registry.orders(typical))
    >>> deliveries = record_frame("delivery", [
    ...     d for d in registry.deliveries() if d["to_organisation"]["id"] == typical])
    >>> result = schedule(orders, deliveries, as_of=demo.AS_OF)
    >>> result.orders.loc[result.orders["behind"], "order_id"].tolist()
    ['ord_18YKA4VE6WVXTGK3']
    """
    check_columns(orders, ORDER_COLUMNS, "schedule", "an order frame")
    check_columns(deliveries, DELIVERY_COLUMNS, "schedule", "a delivery frame")
    stall_days = check_integer("stall_days", stall_days, minimum=0)
    when = _as_of(as_of)
    ordered = _kilograms(orders["ordered_kgs"], "orders.ordered_kgs")
    own = _kilograms(orders["delivered_kgs"], "orders.delivered_kgs")
    delivered_each = _kilograms(deliveries["delivered_kgs"], "deliveries.delivered_kgs")
    delivered_at = _instants(deliveries["delivered_at"], "deliveries.delivered_at")
    order_ids = orders["id"].astype(object).tolist()
    if len(set(order_ids)) != len(order_ids):
        raise ValueError("orders lists an order more than once; each order may be listed once")
    position = {order_id: index for index, order_id in enumerate(order_ids)}
    count = np.zeros(len(orders), dtype=np.int64)
    total = [0] * len(orders)  # Python ints: exact whatever the sizes
    first: list[Any] = [pd.NaT] * len(orders)
    last: list[Any] = [pd.NaT] * len(orders)
    problems: list[dict[str, Any]] = []
    for delivery_id, order_id, at, kgs in zip(deliveries["id"], deliveries["order_id"],
                                              delivered_at, delivered_each, strict=True):
        index = position.get(order_id) if isinstance(order_id, str) else None
        if index is None:
            problems.append({"order_id": order_id if isinstance(order_id, str) else None,
                             "delivery_id": delivery_id, "kgs": int(kgs),
                             "problem": "the delivery names an order that is not listed"
                             if isinstance(order_id, str) else "the delivery names no order"})
            continue
        count[index] += 1
        total[index] += int(kgs)
        first[index] = at if pd.isna(first[index]) or at < first[index] else first[index]
        last[index] = at if pd.isna(last[index]) or at > last[index] else last[index]
    delivered = np.array(total, dtype=np.int64)
    mismatch = delivered - own
    for order_id, difference, counted, stated in zip(order_ids, mismatch, delivered, own,
                                                     strict=True):
        if difference:
            problems.append({"order_id": order_id, "delivery_id": None, "kgs": int(difference),
                             "problem": f"its deliveries hold {int(counted)} kg, the order "
                                        f"says {int(stated)} kg delivered"})
    contract = _contracts(orders)
    first_at = pd.Series(pd.DatetimeIndex(first, tz="UTC").as_unit("us"), index=orders.index)
    last_at = pd.Series(pd.DatetimeIndex(last, tz="UTC").as_unit("us"), index=orders.index)
    since = _whole_days(when - last_at.fillna(contract))
    remaining = ordered - delivered
    status = orders["status"].astype(object)
    behind = ((status != "completed").to_numpy() & (remaining > 0)
              & (since.fillna(0).to_numpy(dtype=np.int64) > stall_days))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(ordered == 0, np.nan, delivered / np.maximum(ordered, 1))
    result = pd.DataFrame({
        "order_id": strings(order_ids),
        "supplier_id": strings(orders["supplier_id"].astype(object)),
        "supplier_name": strings(orders["supplier_name"].astype(object)),
        "status": orders["status"].to_numpy(),
        "effective_contract_date": pd.to_datetime(orders["effective_contract_date"]).to_numpy(),
        "fulfilled_at": _instants(orders["fulfilled_at"], "orders.fulfilled_at").to_numpy(),
        "ordered_kgs": ordered,
        "delivered_kgs": delivered,
        "remaining_kgs": remaining,
        "delivered_share": share,
        "deliveries": count,
        "first_delivery_at": first_at.to_numpy(),
        "last_delivery_at": last_at.to_numpy(),
        "days_to_first_delivery": _whole_days(first_at - contract).array,
        "days_to_last_delivery": _whole_days(last_at - contract).array,
        "days_since_delivery": since.array,
        "behind": behind,
        "order_delivered_kgs": own,
        "mismatch_kgs": mismatch,
        "problem": strings([
            "" if not difference else f"its deliveries hold {int(counted)} kg, the order says "
                                      f"{int(stated)} kg delivered"
            for difference, counted, stated in zip(mismatch, delivered, own, strict=True)]),
    })
    if isinstance(orders["status"].dtype, pd.CategoricalDtype):
        result["status"] = pd.Categorical(result["status"], dtype=orders["status"].dtype)
    for column in ("fulfilled_at", "first_delivery_at", "last_delivery_at"):
        result[column] = pd.to_datetime(result[column], utc=True).dt.as_unit("us")
    result = result.sort_values(["effective_contract_date", "order_id"],
                                ascending=[False, True], kind="stable", ignore_index=True)
    problem_frame = pd.DataFrame({
        "order_id": strings([row["order_id"] for row in problems]),
        "delivery_id": strings([row["delivery_id"] for row in problems]),
        "kgs": np.array([row["kgs"] for row in problems], dtype=np.int64),
        "problem": strings([row["problem"] for row in problems]),
    }, columns=list(PROBLEM_COLUMNS))
    if problems:
        shown = "; ".join(f"{row['order_id'] or row['delivery_id']}: {row['problem']}"
                          for row in problems[:3])
        warnings.warn(f"{len(problems)} delivery figure(s) do not add up (see "
                      f".problems): {shown}{' and others' if len(problems) > 3 else ''}",
                      stacklevel=2)
    # Each delivery, with the days from its order's contract to it (missing for one whose
    # order is not listed).
    contract_of = dict(zip(order_ids, contract, strict=True))
    contracts = pd.Series([contract_of.get(order_id,
                                           pd.NaT) for order_id in deliveries["order_id"]],
                          index=deliveries.index, dtype="datetime64[us, UTC]")
    each = deliveries.assign(days_from_contract=_whole_days(delivered_at - contracts).array)
    return DeliverySchedule(result, delivery_progress(orders, deliveries, as_of=when),
                            each, problem_frame, when, stall_days)


def _months(instants: pd.Series) -> np.ndarray:
    """Months since 1970-01 of UTC instants."""
    naive = instants.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return naive.astype("datetime64[M]").astype(np.int64)


def delivery_progress(orders: pd.DataFrame, deliveries: pd.DataFrame, *,
                      as_of: Any = None) -> pd.DataFrame:
    """Monthly cumulative kilograms delivered against kilograms ordered, per supplier.

    Parameters
    ----------
    orders, deliveries : DataFrame
        As for :func:`schedule`. A delivery whose order is not listed still counts as
        delivered by its supplier.
    as_of : date or time-zone-aware datetime, optional
        The last month shown is the later of ``as_of``'s and the last event's; without
        ``as_of``, the last event's.

    Returns
    -------
    DataFrame
        One row per supplier and calendar month (UTC), every month from the supplier's
        first contract or delivery to the last month, with 0 where nothing happened:
        ``supplier_id``, ``supplier_name``, ``month`` (the month's first instant,
        ``datetime64[us, UTC]``), ``delivered_kgs`` (delivered in the month, int64),
        ``cumulative_delivered_kgs`` (delivered up to the month's end), ``ordered_kgs``
        (ordered in every order contracted up to the month's end) and ``remaining_kgs``
        (``ordered_kgs - cumulative_delivered_kgs``). Suppliers largest order book first,
        then by id; months in order.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.records.deliveries import delivery_progress
    >>> orders = pd.DataFrame({
    ...     "id": ["ord_A"], "status": ["in_progress"], "supplier_id": ["spl_S"],
    ...     "supplier_name": ["S"], "effective_contract_date": pd.to_datetime(["2025-01-15"]),
    ...     "fulfilled_at": pd.to_datetime([None], utc=True), "ordered_kgs": [9_000],
    ...     "delivered_kgs": [5_000]})
    >>> deliveries = pd.DataFrame({
    ...     "id": ["dlv_1", "dlv_2"],
    ...     "delivered_at": pd.to_datetime(["2025-02-03T00:00Z", "2025-04-30T23:00Z"]),
    ...     "order_id": ["ord_A", "ord_A"], "supplier_id": ["spl_S"] * 2,
    ...     "supplier_name": ["S"] * 2, "delivered_kgs": [2_000, 3_000]})
    >>> progress = delivery_progress(orders, deliveries)
    >>> progress["month"].dt.strftime("%Y-%m").tolist()
    ['2025-01', '2025-02', '2025-03', '2025-04']
    >>> progress["delivered_kgs"].tolist(), progress["cumulative_delivered_kgs"].tolist()
    ([0, 2000, 0, 3000], [0, 2000, 2000, 5000])
    >>> progress["ordered_kgs"].tolist()
    [9000, 9000, 9000, 9000]
    """
    check_columns(orders, ORDER_COLUMNS, "delivery_progress", "an order frame")
    check_columns(deliveries, DELIVERY_COLUMNS, "delivery_progress", "a delivery frame")
    ordered = _kilograms(orders["ordered_kgs"], "orders.ordered_kgs")
    delivered = _kilograms(deliveries["delivered_kgs"], "deliveries.delivered_kgs")
    contract_months = _months(_contracts(orders))
    delivery_months = _months(_instants(deliveries["delivered_at"], "deliveries.delivered_at"))
    suppliers = pd.Index(pd.unique(pd.concat(
        [orders["supplier_id"].astype(object), deliveries["supplier_id"].astype(object)],
        ignore_index=True)))
    names: dict[Any, Any] = {}
    for supplier, name in zip(pd.concat([deliveries["supplier_id"], orders["supplier_id"]]),
                              pd.concat([deliveries["supplier_name"], orders["supplier_name"]]),
                              strict=True):
        names[supplier] = name  # an order's name last: it wins
    empty = pd.DataFrame({
        "supplier_id": strings([]),
        "supplier_name": strings([]),
        "month": pd.DatetimeIndex([], dtype="datetime64[us, UTC]"),
        **{column: np.zeros(0, dtype=np.int64) for column in PROGRESS_COLUMNS[3:]}})
    months_seen = np.concatenate([contract_months, delivery_months])
    if len(suppliers) == 0 or len(months_seen) == 0:
        return empty
    end = int(months_seen.max())
    if as_of is not None:
        end = max(end, int(_months(pd.Series([_as_of(as_of)]))[0]))
    supplier_of_order = suppliers.get_indexer(pd.Index(orders["supplier_id"].astype(object)))
    supplier_of_delivery = suppliers.get_indexer(
        pd.Index(deliveries["supplier_id"].astype(object)))
    begin = np.full(len(suppliers), end, dtype=np.int64)
    np.minimum.at(begin, supplier_of_order, contract_months)
    np.minimum.at(begin, supplier_of_delivery, delivery_months)
    start = int(begin.min())
    width = end - start + 1
    delivered_grid = np.zeros((len(suppliers), width), dtype=np.int64)
    ordered_grid = np.zeros((len(suppliers), width), dtype=np.int64)
    # np.add.at keeps int64 (no float on the way), and a month past the end cannot occur.
    np.add.at(delivered_grid, (supplier_of_delivery, delivery_months - start), delivered)
    np.add.at(ordered_grid, (supplier_of_order, np.maximum(contract_months - start, 0)),
              ordered)
    cumulative = np.cumsum(delivered_grid, axis=1)
    ordered_to_date = np.cumsum(ordered_grid, axis=1)
    book = ordered_to_date[:, -1]
    order = np.lexsort((np.asarray(suppliers.astype(str)), -book))
    frames = []
    for index in order:
        offset = int(begin[index] - start)
        months = np.arange(begin[index], end + 1).astype("datetime64[M]")
        frames.append(pd.DataFrame({
            "supplier_id": suppliers[index],
            "supplier_name": names.get(suppliers[index]),
            "month": pd.DatetimeIndex(months.astype("datetime64[us]")).tz_localize("UTC"),
            "delivered_kgs": delivered_grid[index, offset:],
            "cumulative_delivered_kgs": cumulative[index, offset:],
            "ordered_kgs": ordered_to_date[index, offset:],
            "remaining_kgs": ordered_to_date[index, offset:] - cumulative[index, offset:],
        }))
    frame = pd.concat(frames, ignore_index=True)
    frame["supplier_id"] = strings(frame["supplier_id"].astype(object))
    frame["supplier_name"] = strings(frame["supplier_name"].astype(object))
    return frame[list(PROGRESS_COLUMNS)]
