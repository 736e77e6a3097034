"""The demo registry's history: deliveries, transfers, refunds, issuances and retirements that
add up to today's batches and balances.

The replay below is an independent computation: it reads only the history's records and their
batch lists (never ``credit_batches`` or the balance code), so a ledger built from the same
records reconciles with ``credit_balance`` because the history is consistent, not by sharing
code with it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoanalytics import demo

PURPOSES = {"corporate_targets", "public_environmental_claims", "insetting",
            "regulatory_requirement", "other"}
# "Behind schedule", the demo's definition (an order has no due date in the API): still in
# progress two years after its effective contract date, less than 60% of it delivered, and
# nothing delivered in the last 18 months.
BEHIND_AFTER = timedelta(days=730)
BEHIND_SHARE = 0.6
STALLED_FOR = timedelta(days=548)


@pytest.fixture(scope="module")
def reg() -> demo.DemoRegistry:
    return demo.registry()


def kg(quantity: dict) -> int:
    assert quantity["credits"] == round(quantity["credit_kgs"] / 1000, 3)
    return quantity["credit_kgs"]


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def all_orders(reg: demo.DemoRegistry) -> list[dict]:
    return [o for org in reg.buyers.values() for o in reg.orders(org)]


# -- the replay ---------------------------------------------------------------------------------

def replay(reg: demo.DemoRegistry, organisation: str) -> dict[str, dict]:
    """A buyer's balance from its history alone: {level: {key: [active, retired]}}.

    Deliveries, transfers in and refunds add active kilograms; transfers out take them away;
    a retirement moves its batches' kilograms from active to retired. A batch's order is that
    of the delivery it came in (a CreditBatch does not name its order).
    """
    order_of = {d["id"]: d["order_id"] for d in reg.deliveries()}
    levels: dict[str, dict] = {"project": defaultdict(lambda: [0, 0]),
                               "supplier": defaultdict(lambda: [0, 0]),
                               "order": defaultdict(lambda: [0, 0]), "total": defaultdict(
                                   lambda: [0, 0])}

    def move(batch: dict, column: int, sign: int) -> None:
        amount = sign * kg(batch["size"])
        keys = {"project": batch["project_id"], "supplier": batch["supplier_id"],
                "order": order_of.get(batch["delivery_id"]), "total": "total"}
        for level, key in keys.items():
            if key is not None:
                levels[level][key][column] += amount

    for d in reg.deliveries():
        if d["to_organisation"]["id"] == organisation:
            for b in reg.delivery_credit_batches(d["id"]):  # the original batches
                move(b, 0, +1)
    for t in reg.transfers():
        for b in reg.transfer_credit_batches(t["id"]):
            if t["to_organisation"]["id"] == organisation:
                move(b, 0, +1)
            if t["from_organisation"]["id"] == organisation:
                move(b, 0, -1)
    for r in reg.refunds():
        if r["to_organisation"]["id"] == organisation:
            for b in reg.refund_credit_batches(r["id"]):
                move(b, 0, +1)
    for r in reg.retirements():
        if r["owner"]["id"] == organisation:
            for b in reg.retirement_credit_batches(r["id"]):
                move(b, 0, -1)
                move(b, 1, +1)
    return {level: {key: kgs for key, kgs in rows.items() if kgs != [0, 0]}
            for level, rows in levels.items()}


def balance_rows(body: dict) -> dict[str, dict]:
    rows = {"total": {"total": [kg(body["total"]["active_credits_total"]),
                                kg(body["total"]["retired_credits_total"])]}}
    for level in ("project", "supplier", "order"):
        rows[level] = {}
        for row in body[f"{level}_balances"]:
            kgs = [kg(row["total"]["active_credits_total"]),
                   kg(row["total"]["retired_credits_total"])]
            if kgs != [0, 0]:
                rows[level][row[f"{level}_id"]] = kgs
    if rows["total"]["total"] == [0, 0]:
        rows["total"] = {}
    return rows


def check_replay(reg: demo.DemoRegistry) -> None:
    for role, organisation in reg.buyers.items():
        assert replay(reg, organisation) == balance_rows(reg.credit_balance(organisation)), role


def check_orders(reg: demo.DemoRegistry) -> None:
    deliveries = reg.deliveries()
    for order in all_orders(reg):
        own = [d for d in deliveries if d["order_id"] == order["id"]]
        assert sum(kg(d["credit_batch_size_total"]) for d in own) == kg(
            order["credits_delivered"])
        delivered = 0
        for d in own:
            assert d["to_organisation"] == order["buyer_organisation"]
            assert d["from_supplier"] == order["supplier"]
            assert when(d["delivered_at"]).date() >= date.fromisoformat(
                order["effective_contract_date"])
            batches = reg.delivery_credit_batches(d["id"])
            assert batches and sum(kg(b["size"]) for b in batches) == kg(
                d["credit_batch_size_total"])
            for b in batches:
                assert b["delivery_id"] == d["id"] and b["delivered_at"] == d["delivered_at"]
                assert b["parent_id"] is None and b["supplier_id"] == order["supplier"]["id"]
            delivered += sum(kg(b["size"]) for b in batches)
        assert delivered == kg(order["credits_delivered"])
        if order["status"] == "completed":
            assert order["fulfilled_at"] == max(d["delivered_at"] for d in own)
            assert kg(order["credits_delivered"]) == kg(order["credits_ordered"])
        if order["status"] == "placed":
            assert not own


def check_retirements(reg: demo.DemoRegistry) -> None:
    listed = set()
    for r in reg.retirements():
        batches = reg.retirement_credit_batches(r["id"])
        assert batches and sum(kg(b["size"]) for b in batches) == kg(r["credit_batch_size_total"])
        for b in batches:
            assert (b["retirement_id"], b["retired_at"], b["status"]) == (
                r["id"], r["retired_at"], "retired")
            assert b["owner"] == r["owner"] and b["beneficiary"] == r["beneficiary"]
            listed.add(b["id"])
    retired = {b["id"] for org in reg.buyers.values() for b in reg.credit_batches(org)
               if b["status"] == "retired"}
    assert retired == listed  # every retired batch is in exactly the retirement it names


def check_splits(reg: demo.DemoRegistry) -> None:
    batches = {b["id"]: b for org in reg.buyers.values()
               for b in reg.credit_batches(org, include_split=True)}
    for t in reg.transfers():
        for b in reg.transfer_credit_batches(t["id"]):
            batches.setdefault(b["id"], b)
    for i in reg.issuances():
        body = reg.issuance_credit_batches(i["id"])
        for b in body["buffer_pool_credit_batches"] + body["supplier_credit_batches"]:
            batches.setdefault(b["id"], b)
    parents = [b for b in batches.values() if b["status"] == "split"]
    assert parents
    for parent in parents:
        left = reg.credit_batch(parent["left_child_id"])
        right = reg.credit_batch(parent["right_child_id"])
        assert left["parent_id"] == right["parent_id"] == parent["id"]
        assert kg(left["size"]) + kg(right["size"]) == kg(parent["size"])
        assert left["issuance_id"] == right["issuance_id"] == parent["issuance_id"]
        # The children share the parent's serial range, left then right.
        *_, start, end = parent["serial_number"].rsplit("-", 2)
        assert left["serial_number"].endswith(f"-{start}-{int(start) + kg(left['size'])}")
        assert right["serial_number"].endswith(f"-{int(start) + kg(left['size'])}-{end}")
    for b in batches.values():
        if b["status"] != "split":
            assert b["left_child_id"] is None and b["right_child_id"] is None


def check_transfers(reg: demo.DemoRegistry) -> None:
    buyers = set(reg.buyers.values())
    transfers = reg.transfers()
    assert {t["to_organisation"]["id"] for t in transfers} & buyers
    assert {t["from_organisation"]["id"] for t in transfers} & buyers  # in and out
    for t in transfers:
        assert t["from_organisation"] != t["to_organisation"]
        batches = reg.transfer_credit_batches(t["id"])
        assert sum(kg(b["size"]) for b in batches) == kg(t["credit_batch_size_total"])
        for b in batches:
            # Ownership moved: the receiver holds them now, the sender no longer does.
            assert b["owner"] == t["to_organisation"]
            assert b["delivery_id"] is None
            sender = t["from_organisation"]["id"]
            if sender in buyers:
                assert b["id"] not in {x["id"] for x in
                                       reg.credit_batches(sender, include_split=True)}
            receiver = t["to_organisation"]["id"]
            if receiver in buyers:
                assert b["id"] in {x["id"] for x in reg.credit_batches(receiver)}


def check_issuances(reg: demo.DemoRegistry) -> None:
    issuances = {i["id"]: i for i in reg.issuances()}
    for org in reg.buyers.values():
        for b in reg.credit_batches(org, include_split=True):
            i = issuances[b["issuance_id"]]  # every batch has its issuance
            assert i["project_id"] == b["project_id"] and i["supplier"]["id"] == b["supplier_id"]
            assert b["issued_at"] == i["issued_at"]
            assert i["reporting_period_start_at"] <= b["sequestered_on"] <= i[
                "reporting_period_end_at"]
    for i in issuances.values():
        assert i["reporting_period_start_at"] <= i["reporting_period_end_at"] < i["issued_at"]
        body = reg.issuance_credit_batches(i["id"])
        assert body["issuance_id"] == i["id"]
        for part in ("supplier", "buffer_pool"):
            total = sum(kg(b["size"]) for b in body[f"{part}_credit_batches"])
            assert total == kg(body[f"{part}_credit_batch_size_total"]) == kg(
                i[f"{part}_credit_batch_size_total"]) > 0
        assert kg(i["credit_batch_size_total"]) == kg(i["supplier_credit_batch_size_total"]) + kg(
            i["buffer_pool_credit_batch_size_total"])
        pool = {b["owner"]["name"] for b in body["buffer_pool_credit_batches"]}
        assert pool == {"Registry Buffer Pool"}


def check_refunds(reg: demo.DemoRegistry) -> None:
    refunds = reg.refunds()
    assert len(refunds) == 1
    for r in refunds:
        batches = reg.refund_credit_batches(r["id"])
        assert sum(kg(b["size"]) for b in batches) == kg(r["credit_batch_size_total"]) > 0
        for b in batches:
            parent = reg.credit_batch(b["parent_id"])  # a piece of a buffer-pool batch
            assert parent["owner"] == r["from_buffer_pool_organisation"]
            assert parent["status"] == "split"
            assert when(parent["issued_at"]) < when(r["refunded_at"])


def check_dates(reg: demo.DemoRegistry) -> None:
    low, high = datetime(2023, 1, 1, tzinfo=demo.AS_OF.tzinfo), demo.AS_OF
    stamps = ([d["delivered_at"] for d in reg.deliveries()]
              + [t["transferred_at"] for t in reg.transfers()]
              + [r["refunded_at"] for r in reg.refunds()]
              + [i["issued_at"] for i in reg.issuances()])
    assert all(low <= when(s) <= high for s in stamps)


CHECKS = (check_replay, check_orders, check_retirements, check_splits, check_transfers,
          check_issuances, check_refunds, check_dates)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_the_default_history_is_consistent(reg, check):
    check(reg)


@settings(max_examples=4)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_every_seeds_history_is_consistent(seed):
    generated = demo.generate(seed)
    for check in CHECKS:
        check(generated)


def test_the_replay_sees_every_kind_of_movement(reg):
    large, typical = reg.buyers["large"], reg.buyers["typical"]
    assert [r["to_organisation"]["id"] for r in reg.refunds()] == [large]
    assert {t["from_organisation"]["id"] for t in reg.transfers()} >= {large}
    assert {t["to_organisation"]["id"] for t in reg.transfers()} >= {typical}
    # The marketplace passed its refund on: both movements leave its balance as it was.
    refund = reg.refunds()[0]
    out = [t for t in reg.transfers() if t["from_organisation"]["id"] == large]
    assert [kg(t["credit_batch_size_total"]) for t in out] == [
        kg(refund["credit_batch_size_total"])]
    assert when(out[0]["transferred_at"]) > when(refund["refunded_at"])
    assert ([b["id"] for b in reg.transfer_credit_batches(out[0]["id"])]
            == [b["id"] for b in reg.refund_credit_batches(refund["id"])])


def test_the_typical_buyers_batch_came_by_transfer(reg):
    typical = reg.buyers["typical"]
    received = [b for b in reg.credit_batches(typical) if b["delivery_id"] is None]
    transfers = [t for t in reg.transfers() if t["to_organisation"]["id"] == typical]
    assert len(received) == len(transfers) == 1
    assert reg.transfer_credit_batches(transfers[0]["id"]) == received
    assert transfers[0]["from_organisation"]["name"] == "Lumina Ledger"
    assert transfers[0]["transferred_at"] == "2025-06-03T09:30:12.345678Z"
    assert reg.transferees(typical) == []


def test_deliveries_spread_over_2023_to_2026(reg):
    years = Counter(d["delivered_at"][:4] for d in reg.deliveries())
    assert set(years) == {"2023", "2024", "2025", "2026"}
    assert len(reg.deliveries()) == len({d["id"] for d in reg.deliveries()})
    assert len(reg.deliveries()) == 446  # the figure the demo module's docstring gives


def behind(order: dict, deliveries: list[dict]) -> bool:
    contract = date.fromisoformat(order["effective_contract_date"])
    if order["status"] != "in_progress" or demo.AS_OF.date() - contract < BEHIND_AFTER:
        return False
    share = kg(order["credits_delivered"]) / kg(order["credits_ordered"])
    last = max(when(d["delivered_at"]) for d in deliveries if d["order_id"] == order["id"])
    return share < BEHIND_SHARE and demo.AS_OF - last > STALLED_FOR


def test_one_order_is_clearly_behind_schedule(reg):
    deliveries = reg.deliveries()
    late = [o for o in all_orders(reg) if behind(o, deliveries)]
    assert len(late) == 1
    order = late[0]
    assert order["buyer_organisation"]["id"] == reg.buyers["typical"]
    assert order["effective_contract_date"] == "2023-10-16"
    own = [d for d in deliveries if d["order_id"] == order["id"]]
    assert [d["delivered_at"][:10] for d in own] == ["2024-10-05"]
    assert kg(order["credits_delivered"]) / kg(order["credits_ordered"]) < 0.58
    # Other orders in progress two years on keep delivering.
    assert any(o["status"] == "in_progress" and not behind(o, deliveries)
               and demo.AS_OF.date() - date.fromisoformat(o["effective_contract_date"])
               > BEHIND_AFTER for o in all_orders(reg))


def test_every_purpose_and_several_beneficiaries(reg):
    retirements = reg.retirements()
    assert {p for r in retirements for p in r["purposes"]} == PURPOSES
    for_others = [r for r in retirements if r["beneficiary"]["id"] != r["owner"]["id"]]
    assert for_others and all(r["owner"]["id"] == reg.buyers["large"] for r in for_others)
    assert all(r["notes"] for r in for_others)  # the client allocation
    beneficiaries = {r["beneficiary"]["id"] for r in retirements}
    assert len(beneficiaries) >= 8  # the six buyers that retire and the marketplace's clients
    names = [o["name"] for o in reg.beneficiaries(reg.buyers["large"])]
    assert names == ["Kestrel Outdoor Co.", "Lumina Ledger", "Tern Analytics"]
    assert reg.beneficiaries(reg.buyers["typical"]) == []


def test_project_documents(reg):
    for project in reg.projects()[:60]:
        documents = reg.project_documents(project["id"])
        names = [d["display_name"] for d in documents]
        assert names == sorted(names) and "Project Design Document" in names
        assert all(d["project_id"] == project["id"] and d["id"].startswith("pjd_")
                   for d in documents)
        assert ("Validation Report" in names) == (
            project["status"] in ("validated", "validation_unsuccessful"))
    assert len({d["id"] for p in reg.projects() for d in reg.project_documents(p["id"])}) > 1000


def test_single_records_are_the_listed_ones(reg):
    for listed, single in ((reg.deliveries(), reg.delivery), (reg.transfers(), reg.transfer),
                           (reg.refunds(), reg.refund), (reg.issuances(), reg.issuance),
                           (reg.retirements(), reg.retirement), (all_orders(reg), reg.order)):
        for record in listed[:25]:
            assert single(record["id"]) == record
    some = reg.credit_batches(reg.buyers["large"], include_split=True)[:25]
    assert [reg.credit_batch(b["id"]) for b in some] == some


def test_history_is_deterministic_and_leaves_todays_demo_alone(reg):
    def history(r: demo.DemoRegistry) -> str:
        return json.dumps([r.deliveries(), r.transfers(), r.refunds(), r.issuances()[:50]],
                          sort_keys=True)

    assert history(demo.generate()) == history(reg)
    # Written on first use by a pure maker: writing it again, or from threads, gives the same.
    fresh = demo.generate()
    with ThreadPoolExecutor(4) as pool:
        written = list(pool.map(lambda _: fresh._make_history(), range(4)))
    assert all(w == reg._make_history() == reg._history for w in written)
    assert history(demo.generate(demo.DEFAULT_SEED + 1)) != history(reg)
    # The buffer pool holds no credits of a buyer: the buyers' batches are all they had.
    pool = reg.refunds()[0]["from_buffer_pool_organisation"]
    assert reg.organisation(pool["id"]) == pool
    assert pool["id"] not in reg.buyers.values()


@pytest.mark.parametrize(("method", "unknown"), [
    ("retirement", "ret_1ZZZZZZZZZZZZZZZ"), ("retirement_credit_batches", "ret_1ZZZZZZZZZZZZZZZ"),
    ("order", "ord_1ZZZZZZZZZZZZZZZ"), ("delivery", "dlv_1ZZZZZZZZZZZZZZZ"),
    ("delivery_credit_batches", "dlv_1ZZZZZZZZZZZZZZZ"), ("transfer", "tfr_1ZZZZZZZZZZZZZZZ"),
    ("transfer_credit_batches", "tfr_1ZZZZZZZZZZZZZZZ"), ("refund", "bpr_1ZZZZZZZZZZZZZZZ"),
    ("refund_credit_batches", "bpr_1ZZZZZZZZZZZZZZZ"), ("issuance", "iss_1ZZZZZZZZZZZZZZZ"),
    ("issuance_credit_batches", "iss_1ZZZZZZZZZZZZZZZ"), ("credit_batch", "ctb_1ZZZZZZZZZZZZZZZ"),
    ("project_documents", "prj_1ZZZZZZZZZZZZZZZ"), ("beneficiaries", "org_1ZZZZZZZZZZZZZZZ"),
    ("transferees", "org_1ZZZZZZZZZZZZZZZ"),
])
def test_unknown_ids_raise_lookup_error_naming_them(reg, method, unknown):
    with pytest.raises(LookupError) as raised:
        getattr(reg, method)(unknown)
    assert type(raised.value) is LookupError and unknown in str(raised.value)
    with pytest.raises(LookupError, match="not an id of the right kind"):
        getattr(reg, method)("xyz_1ZZZZZZZZZZZZZZZ")
