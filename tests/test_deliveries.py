"""delivery_schedule(), delivery_progress() and delivery_exposure(): orders against deliveries.

On the demo registry (every buyer, over the real client code path) and on generated orders
and deliveries (hypothesis): exact kilograms, every month present, mismatches reported, the
order behind schedule flagged, exposure concentration as holdings'.
"""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoanalytics import AsyncRegistryClient, RegistryClient, concentration, demo
from isoanalytics.analysis.deliveries import EXPOSURE_COLUMNS, delivery_exposure
from isoanalytics.records.deliveries import (
    PROGRESS_COLUMNS,
    SCHEDULE_COLUMNS,
    delivery_progress,
    schedule,
)
from isoanalytics.records.resources import record_frame
from isoanalytics.registry.deliveries import adelivery_schedule, delivery_schedule

REGISTRY = demo.registry()
BUYERS = dict(REGISTRY.buyers)
BEHIND = "ord_18YKA4VE6WVXTGK3"


@pytest.fixture(scope="module")
def planned():
    with RegistryClient.demo() as client:
        return {role: (delivery_schedule(client, organisation, as_of=demo.AS_OF),
                       client.orders(organisation),
                       client.deliveries(to_organisation_id=organisation))
                for role, organisation in BUYERS.items()}


def _frames(role: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A buyer's orders and deliveries straight from the demo's dicts (no client)."""
    organisation = BUYERS[role]
    return (record_frame("order", REGISTRY.orders(organisation)),
            record_frame("delivery", [d for d in REGISTRY.deliveries()
                                      if d["to_organisation"]["id"] == organisation]))


# -- the demo, over the client ------------------------------------------------------------------

@pytest.mark.parametrize("role", list(BUYERS))
def test_every_order_against_its_deliveries(planned, role):
    result, orders, deliveries = planned[role]
    rows = result.orders
    assert list(rows.columns) == list(SCHEDULE_COLUMNS)
    assert set(rows["order_id"]) == set(orders["id"])
    assert result.problems.empty and (rows["mismatch_kgs"] == 0).all()
    for column in ("ordered_kgs", "delivered_kgs", "remaining_kgs", "order_delivered_kgs"):
        assert rows[column].dtype == np.int64
    by_order = deliveries.groupby("order_id")["delivered_kgs"].sum()
    delivered = rows.set_index("order_id")["delivered_kgs"]
    assert all(int(delivered[order]) == int(kgs) for order, kgs in by_order.items())
    assert int(rows["delivered_kgs"].sum()) == int(deliveries["delivered_kgs"].sum())
    assert (rows["remaining_kgs"] == rows["ordered_kgs"] - rows["delivered_kgs"]).all()
    # orders() says the same as the deliveries, to the kilogram
    stated = orders.set_index("id")["delivered_kgs"]
    assert (rows.set_index("order_id")["order_delivered_kgs"] == stated[delivered.index]).all()
    # first and last deliveries, and the days to them
    for row in rows[rows["deliveries"] > 0].itertuples():
        mine = deliveries[deliveries["order_id"] == row.order_id]["delivered_at"]
        assert row.first_delivery_at == mine.min() and row.last_delivery_at == mine.max()
        contract = pd.Timestamp(row.effective_contract_date, tz="UTC")
        assert row.days_to_first_delivery == (mine.min() - contract).days
        assert row.days_to_last_delivery == (mine.max() - contract).days
        # and each delivery's own days from the contract
        each = result.deliveries[result.deliveries["order_id"] == row.order_id]
        assert each["days_from_contract"].tolist() == [
            (at - contract).days for at in each["delivered_at"]]
    assert len(result.deliveries) == len(deliveries)
    assert rows.loc[rows["deliveries"] == 0, "first_delivery_at"].isna().all()
    assert not rows.loc[rows["status"] == "completed", "behind"].any()


def test_the_order_behind_schedule_is_flagged_and_only_it(planned):
    flagged = {row for result, _, _ in planned.values()
               for row in result.orders.loc[result.orders["behind"], "order_id"]}
    assert flagged == {BEHIND}
    typical = planned["typical"][0].orders.set_index("order_id").loc[BEHIND]
    assert typical["status"] == "in_progress" and typical["remaining_kgs"] > 0
    assert typical["days_since_delivery"] > 730
    # a year earlier it had had a delivery recently enough
    orders, deliveries = _frames("typical")
    earlier = schedule(orders, deliveries, as_of="2025-06-01")
    assert not earlier.orders.set_index("order_id").loc[BEHIND, "behind"]
    # and a stricter judgement flags more
    strict = schedule(orders, deliveries, as_of=demo.AS_OF, stall_days=30)
    assert strict.orders["behind"].sum() > 1


@pytest.mark.parametrize("role", list(BUYERS))
def test_monthly_progress_per_supplier(planned, role):
    result, orders, deliveries = planned[role]
    progress = result.progress
    assert list(progress.columns) == list(PROGRESS_COLUMNS)
    assert str(progress["month"].dtype) == "datetime64[us, UTC]"
    assert set(progress["supplier_id"]) == set(orders["supplier_id"]) | set(
        deliveries["supplier_id"])
    last_month = pd.Timestamp(demo.AS_OF.replace(day=1, hour=0, minute=0, second=0,
                                                 microsecond=0))
    for supplier, part in progress.groupby("supplier_id", sort=False):
        months = part["month"].dt.tz_localize(None).dt.to_period("M")
        assert list(np.diff(months.array.asi8)) == [1] * (len(part) - 1)  # every month
        assert part["month"].iloc[-1] == last_month
        mine = deliveries[deliveries["supplier_id"] == supplier]
        assert int(part["delivered_kgs"].sum()) == int(mine["delivered_kgs"].sum())
        assert list(part["cumulative_delivered_kgs"]) == list(np.cumsum(part["delivered_kgs"]))
        assert int(part["ordered_kgs"].iloc[-1]) == int(
            orders.loc[orders["supplier_id"] == supplier, "ordered_kgs"].sum())
        assert (part["ordered_kgs"].diff().dropna() >= 0).all()
        assert (part["remaining_kgs"] == part["ordered_kgs"]
                - part["cumulative_delivered_kgs"]).all()


def test_the_async_twin_reads_the_same(planned):
    async def read() -> object:
        async with AsyncRegistryClient.demo() as client:
            return await adelivery_schedule(client, BUYERS["large"], as_of=demo.AS_OF)

    result = asyncio.run(read())
    expected = planned["large"][0]
    pd.testing.assert_frame_equal(result.orders, expected.orders)
    pd.testing.assert_frame_equal(result.progress, expected.progress)


def test_arguments_are_checked():
    orders, deliveries = _frames("typical")
    with pytest.raises(ValueError, match="no zone"):
        schedule(orders, deliveries, as_of="2026-01-01T00:00")
    with pytest.raises(ValueError, match="stall_days"):
        schedule(orders, deliveries, stall_days=-1)
    with pytest.raises(ValueError, match="missing column"):
        schedule(orders.drop(columns=["ordered_kgs"]), deliveries)
    with pytest.raises(ValueError, match="integer kilograms"):
        schedule(orders, deliveries.assign(delivered_kgs=deliveries["delivered_kgs"] / 1000))
    with RegistryClient.demo() as client, pytest.raises(TypeError, match="AsyncRegistryClient"):
        asyncio.run(adelivery_schedule(client, BUYERS["typical"]))  # type: ignore[arg-type]


# -- mismatches are reported --------------------------------------------------------------------

def test_a_delivery_that_does_not_add_up_is_reported():
    orders, deliveries = _frames("large")
    changed = deliveries.copy()
    changed.loc[0, "delivered_kgs"] = int(changed.loc[0, "delivered_kgs"]) + 5
    order = changed.loc[0, "order_id"]
    with pytest.warns(UserWarning, match="do not add up"):
        result = schedule(orders, changed, as_of=demo.AS_OF)
    row = result.orders.set_index("order_id").loc[order]
    assert row["mismatch_kgs"] == 5 and "the order says" in row["problem"]
    assert result.problems["order_id"].tolist() == [order]
    assert result.problems["kgs"].tolist() == [5]


def test_a_delivery_without_a_listed_order_is_kept_and_reported():
    orders, deliveries = _frames("large")
    lost = deliveries.loc[0, "order_id"]
    with pytest.warns(UserWarning, match="not listed"):
        result = schedule(orders[orders["id"] != lost], deliveries, as_of=demo.AS_OF)
    assert set(result.problems["delivery_id"].dropna()) == set(
        deliveries.loc[deliveries["order_id"] == lost, "id"])
    # still delivered by its supplier, month by month
    assert int(result.progress["delivered_kgs"].sum()) == int(deliveries["delivered_kgs"].sum())


# -- exposure -----------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["large", "diversified", "typical", "empty"])
def test_exposure_is_what_is_still_to_come_by_supplier(planned, role):
    result = planned[role][0]
    exposure = delivery_exposure(result)
    suppliers = exposure.suppliers
    assert list(suppliers.columns) == list(EXPOSURE_COLUMNS)
    assert int(suppliers["remaining_kgs"].sum()) == int(
        result.orders["remaining_kgs"].clip(lower=0).sum())
    assert int(suppliers["orders"].sum()) == len(result.orders)
    assert int(suppliers["behind_kgs"].sum()) == int(
        result.orders.loc[result.orders["behind"], "remaining_kgs"].sum())
    # the same figures as a holding's, by the same function
    direct = concentration(result.orders.groupby("supplier_id")["remaining_kgs"].sum())
    # Field by field, NaN equal to NaN (the figures of nothing held): dataclass equality
    # compares the fields with == from Python 3.13, where nan != nan.
    mine = dataclasses.replace(exposure.concentration, by=None, status=None)
    for field in dataclasses.fields(direct):
        a, b = getattr(mine, field.name), getattr(direct, field.name)
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b)
        else:
            assert a == b or (a != a and b != b), field.name
    assert exposure.concentration.by == "supplier"
    assert list(suppliers["remaining_kgs"]) == sorted(suppliers["remaining_kgs"], reverse=True)


# -- generated orders and deliveries ------------------------------------------------------------

SUPPLIERS = ("spl_A", "spl_B", "spl_C")
DAY_SECONDS = 86400


@st.composite
def books(draw):
    """Orders (with their deliveries) over 2023 to 2026, delivered figures consistent."""
    orders, deliveries = [], []
    for number in range(draw(st.integers(0, 6))):
        supplier = draw(st.sampled_from(SUPPLIERS))
        contract = pd.Timestamp("2023-01-01") + pd.Timedelta(days=draw(st.integers(0, 1000)))
        ordered = draw(st.integers(0, 2**40))
        parts = draw(st.lists(st.tuples(st.integers(0, 600 * DAY_SECONDS),
                                        st.integers(0, 2**36)), max_size=5))
        delivered = 0
        for index, (after, kgs) in enumerate(parts):
            deliveries.append({
                "id": f"dlv_{number}_{index}",
                "delivered_at": contract.tz_localize("UTC") + pd.Timedelta(seconds=after),
                "order_id": f"ord_{number}", "supplier_id": supplier,
                "supplier_name": supplier.upper(), "delivered_kgs": kgs})
            delivered += kgs
        status = draw(st.sampled_from(["placed", "in_progress", "completed"]))
        orders.append({"id": f"ord_{number}", "status": status, "supplier_id": supplier,
                       "supplier_name": supplier.upper(), "effective_contract_date": contract,
                       "fulfilled_at": pd.NaT, "ordered_kgs": ordered,
                       "delivered_kgs": delivered})
    order_frame = pd.DataFrame(orders, columns=["id", "status", "supplier_id", "supplier_name",
                                                "effective_contract_date", "fulfilled_at",
                                                "ordered_kgs", "delivered_kgs"])
    order_frame = order_frame.astype({"ordered_kgs": "int64", "delivered_kgs": "int64",
                                      "effective_contract_date": "datetime64[us]"})
    order_frame["fulfilled_at"] = pd.to_datetime(order_frame["fulfilled_at"], utc=True)
    delivery_frame = pd.DataFrame(deliveries, columns=["id", "delivered_at", "order_id",
                                                       "supplier_id", "supplier_name",
                                                       "delivered_kgs"])
    delivery_frame = delivery_frame.astype({"delivered_kgs": "int64"})
    delivery_frame["delivered_at"] = pd.to_datetime(delivery_frame["delivered_at"], utc=True)
    return order_frame, delivery_frame


@settings(max_examples=60, deadline=None)
@given(book=books(), stall=st.integers(0, 900))
def test_no_kilogram_is_lost_and_behind_follows_its_rule(book, stall):
    orders, deliveries = book
    as_of = pd.Timestamp("2027-01-01T00:00Z")
    result = schedule(orders, deliveries, as_of=as_of, stall_days=stall)
    rows = result.orders
    assert result.problems.empty
    assert sum(map(int, rows["delivered_kgs"])) == sum(map(int, deliveries["delivered_kgs"]))
    progress = result.progress
    assert sum(map(int, progress["delivered_kgs"])) == sum(map(int, deliveries["delivered_kgs"]))
    # the last month is as_of's, or a later delivery's
    last = max([as_of, *deliveries["delivered_at"]])
    last_month = pd.Timestamp(year=last.year, month=last.month, day=1, tz="UTC")
    for supplier, part in progress.groupby("supplier_id"):
        assert int(part["ordered_kgs"].iloc[-1]) == sum(
            map(int, orders.loc[orders["supplier_id"] == supplier, "ordered_kgs"]))
        assert part["month"].iloc[-1] == last_month
    for row in rows.itertuples():
        stalled = row.days_since_delivery > stall
        assert row.behind == (row.status != "completed" and row.remaining_kgs > 0 and stalled)
    exposure = delivery_exposure(result)
    assert int(exposure.suppliers["remaining_kgs"].sum()) == sum(
        max(int(value), 0) for value in rows["remaining_kgs"])


def test_progress_of_nothing_is_an_empty_frame():
    orders, deliveries = _frames("empty")
    progress = delivery_progress(orders, deliveries)
    assert progress.empty and list(progress.columns) == list(PROGRESS_COLUMNS)
