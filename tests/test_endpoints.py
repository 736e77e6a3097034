"""Every read-only operation an organisation's token can use, on both clients (issue 14, item 1).

The demo registry serves each route from one history (its bodies are checked against the
OpenAPI schemas in ``test_demo_routes``); here each client method must give exactly the
demo's records, as the frames the records layer builds from them, the async client the same,
and a server that answers badly (a count that does not add up, another record's id) must
meet a SchemaError naming the endpoint and the JSON path. Ids are checked before any request.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import threading
import time
from collections.abc import Callable

import pandas as pd
import pytest

import isoanalytics as ia
from isoanalytics import demo
from isoanalytics.records.resources import record_frame

from .conftest import OPENAPI
from .recording_server import page, recording_server

REGISTRY = demo.registry()
LARGE = REGISTRY.buyers["large"]
DEFAULT = demo.DEFAULT_ORGANISATION_ID
DELIVERY = next(d for d in REGISTRY.deliveries() if d["to_organisation"]["id"] == LARGE)
TRANSFER = next(t for t in REGISTRY.transfers() if t["from_organisation"]["id"] == LARGE)
REFUND = REGISTRY.refunds()[0]
RETIREMENT = next(r for r in REGISTRY.retirements() if r["owner"]["id"] == LARGE)
ISSUANCE = REGISTRY.issuances()[0]
SUPPLIER = DELIVERY["from_supplier"]["id"]
PROJECT = REGISTRY.projects()[0]["id"]
BATCH = REGISTRY.credit_batches(LARGE)[0]

# Each GET of the API an organisation's token can use, and the client method that reads it.
METHODS = {
    "/organisation": "current_organisation",
    "/organisations/{id}": "organisation",
    "/organisations/{id}/credit_balance": "credit_balance",
    "/organisations/{id}/credit_batches": "credit_batches",
    "/organisations/{id}/orders": "orders",
    "/projects": "projects",
    "/projects/{id}": "project",
    "/projects/{id}/documents": "project_documents",
    "/suppliers": "suppliers",
    "/suppliers/{id}": "supplier",
    "/suppliers/{id}/projects": "supplier_projects",
    "/suppliers/{id}/issuances": "supplier_issuances",
    "/suppliers/{id}/deliveries": "supplier_deliveries",
    "/suppliers/{id}/orders": "supplier_orders",
    "/retirements": "retirements",
    "/retirements/{id}": "retirement",
    "/retirements/{id}/credit_batches": "retirement_credit_batches",
    "/credit_batches/{id}": "credit_batch",
    "/orders/{id}": "order",
    "/orders/{id}/deliveries": "order_deliveries",
    "/deliveries": "deliveries",
    "/deliveries/{id}": "delivery",
    "/deliveries/{id}/credit_batches": "delivery_credit_batches",
    "/transfers": "transfers",
    "/transfers/{id}": "transfer",
    "/transfers/{id}/credit_batches": "transfer_credit_batches",
    "/refunds/{id}": "refund",
    "/refunds/{id}/credit_batches": "refund_credit_batches",
    "/issuances": "issuances",
    "/issuances/{id}": "issuance",
    "/issuances/{id}/credit_batches": "issuance_credit_batches",
    "/beneficiaries": "beneficiaries",
    "/transferees": "transferees",
}
# The two a buyer's token cannot use: they read a supplier's own account.
SUPPLIERS_ONLY = {"/supplier", "/stripe/configuration"}


def test_every_get_a_buyer_can_use_has_a_method_on_both_clients():
    if not OPENAPI.is_file():
        pytest.skip(f"{OPENAPI} is not here (../shared is absent)")
    with open(OPENAPI) as file:
        spec = json.load(file)
    gets = {path for path, operations in spec["paths"].items() if "get" in operations}
    assert gets - SUPPLIERS_ONLY == set(METHODS)
    for name in METHODS.values():
        sync, asynchronous = getattr(ia.RegistryClient, name), getattr(ia.AsyncRegistryClient, name)
        assert inspect.iscoroutinefunction(asynchronous), name
        assert inspect.signature(sync) == inspect.signature(asynchronous), name
        assert sync.__doc__, name


# (method, arguments, the demo's records, their kind): lists compare as frames.
LISTS = [
    ("retirement_credit_batches", (RETIREMENT["id"],), {},
     lambda: REGISTRY.retirement_credit_batches(RETIREMENT["id"]), "credit_batch"),
    ("order_deliveries", (DELIVERY["order_id"],), {"organisation_id": LARGE},
     lambda: [d for d in REGISTRY.deliveries() if d["order_id"] == DELIVERY["order_id"]],
     "delivery"),
    ("deliveries", (), {"to_organisation_id": LARGE},
     lambda: [d for d in REGISTRY.deliveries() if d["to_organisation"]["id"] == LARGE],
     "delivery"),
    ("deliveries", (), {"from_supplier_id": SUPPLIER, "organisation_id": LARGE},
     lambda: [d for d in REGISTRY.deliveries() if d["to_organisation"]["id"] == LARGE
              and d["from_supplier"]["id"] == SUPPLIER], "delivery"),
    ("delivery_credit_batches", (DELIVERY["id"],), {"organisation_id": LARGE},
     lambda: REGISTRY.delivery_credit_batches(DELIVERY["id"]), "credit_batch"),
    ("transfers", (), {"from_organisation_id": LARGE},
     lambda: [t for t in REGISTRY.transfers() if t["from_organisation"]["id"] == LARGE],
     "transfer"),
    ("transfer_credit_batches", (TRANSFER["id"],), {"organisation_id": LARGE},
     lambda: REGISTRY.transfer_credit_batches(TRANSFER["id"]), "credit_batch"),
    ("refund_credit_batches", (REFUND["id"],), {"organisation_id": LARGE},
     lambda: REGISTRY.refund_credit_batches(REFUND["id"]), "credit_batch"),
    ("issuances", (), {}, REGISTRY.issuances, "issuance"),
    ("supplier_issuances", (SUPPLIER,), {},
     lambda: [i for i in REGISTRY.issuances() if i["supplier"]["id"] == SUPPLIER], "issuance"),
    ("supplier_projects", (SUPPLIER,), {},
     lambda: [p for p in REGISTRY.projects() if p["supplier"]["id"] == SUPPLIER], "project"),
    ("supplier_deliveries", (SUPPLIER,), {"organisation_id": LARGE},
     lambda: [d for d in REGISTRY.deliveries() if d["to_organisation"]["id"] == LARGE
              and d["from_supplier"]["id"] == SUPPLIER], "delivery"),
    ("supplier_orders", (SUPPLIER,), {"organisation_id": LARGE},
     lambda: [o for o in REGISTRY.orders(LARGE) if o["supplier"]["id"] == SUPPLIER], "order"),
    ("project_documents", (PROJECT,), {}, lambda: REGISTRY.project_documents(PROJECT),
     "project_document"),
    ("beneficiaries", (), {"organisation_id": LARGE}, lambda: REGISTRY.beneficiaries(LARGE),
     "organisation"),
    ("transferees", (), {"organisation_id": LARGE}, lambda: REGISTRY.transferees(LARGE),
     "organisation"),
]
RECORDS = [
    ("retirement", (RETIREMENT["id"],), {}, RETIREMENT),
    ("order", (DELIVERY["order_id"],), {"organisation_id": LARGE},
     REGISTRY.order(DELIVERY["order_id"])),
    ("delivery", (DELIVERY["id"],), {"organisation_id": LARGE}, DELIVERY),
    ("transfer", (TRANSFER["id"],), {"organisation_id": LARGE}, TRANSFER),
    ("refund", (REFUND["id"],), {"organisation_id": LARGE}, REFUND),
    ("issuance", (ISSUANCE["id"],), {}, ISSUANCE),
    ("credit_batch", (BATCH["id"],), {"organisation_id": LARGE}, BATCH),
]


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("id", ignore_index=True)


@pytest.fixture(scope="module")
def client():
    with ia.RegistryClient.demo() as registry:
        yield registry


@pytest.mark.parametrize(("method", "args", "kwargs", "records", "kind"), LISTS,
                         ids=[f"{case[0]}-{'-'.join(case[2])}" for case in LISTS])
def test_lists_are_the_registrys_records(client, method, args, kwargs, records, kind):
    expected = record_frame(kind, records())
    got = getattr(client, method)(*args, **kwargs)
    assert len(got) > 0 or method in ("beneficiaries",), f"{method} found nothing to compare"
    pd.testing.assert_frame_equal(by_id(got), by_id(expected))


@pytest.mark.parametrize(("method", "args", "kwargs", "record"), RECORDS,
                         ids=[case[0] for case in RECORDS])
def test_single_records_are_the_registrys(client, method, args, kwargs, record):
    assert getattr(client, method)(*args, **kwargs) == record


def test_an_issuances_batches_are_the_suppliers_and_the_pools(client):
    batches = client.issuance_credit_batches(ISSUANCE["id"])
    listing = REGISTRY.issuance_credit_batches(ISSUANCE["id"])
    for pool in ("supplier", "buffer_pool"):
        part = batches[batches["pool"] == pool].drop(columns="pool").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, record_frame(
            "credit_batch", listing[f"{pool}_credit_batches"]))
    assert int(batches["credit_kgs"].sum()) == ISSUANCE["credit_batch_size_total"]["credit_kgs"]


def test_the_async_client_gives_the_same(client):
    async def read():
        async with ia.AsyncRegistryClient.demo() as registry:
            lists = [await getattr(registry, method)(*args, **kwargs)
                     for method, args, kwargs, _, _ in LISTS]
            records = [await getattr(registry, method)(*args, **kwargs)
                       for method, args, kwargs, _ in RECORDS]
            return lists, records, await registry.issuance_credit_batches(ISSUANCE["id"])

    lists, records, issued = asyncio.run(read())
    for (method, args, kwargs, _, _), got in zip(LISTS, lists, strict=True):
        pd.testing.assert_frame_equal(got, getattr(client, method)(*args, **kwargs))
    assert records == [record for *_, record in RECORDS]
    pd.testing.assert_frame_equal(issued, client.issuance_credit_batches(ISSUANCE["id"]))


def test_another_organisations_records_are_not_found(client):
    # The default organisation's token cannot see the large buyer's delivery: a 404, as the
    # registry answers for an id it does not know.
    with pytest.raises(ia.NotFoundError) as caught:
        client.delivery(DELIVERY["id"])
    assert caught.value.endpoint == f"GET /deliveries/{DELIVERY['id']}"


# -- against a server on loopback that answers what it is told --------------------------------

@pytest.fixture(scope="module")
def server():
    with recording_server() as running:
        yield running


@pytest.fixture
def recorded(server):
    server.reset()
    with ia.RegistryClient(**server.client_options()) as registry:
        yield server, registry


@pytest.mark.parametrize(("method", "args", "kwargs"), [
    ("retirement", ("ret_1/../admin",), {}),
    ("delivery_credit_batches", ("dlv_1C454ZXA61S03Z9T?x=1",), {}),
    ("transfers", (), {"from_organisation_id": "org_%2e%2e"}),
    ("deliveries", (), {"from_supplier_id": "org_1GB56M1ST1S0GVNA"}),  # an org, not a supplier
    ("order", ("ord_1FAN3S3WV1S0B842",), {"organisation_id": "org_ x"}),
    ("issuance_credit_batches", ("iss_1EWT8R5FY1S0GFC\n",), {}),
    ("credit_batch", ("prj_1CTWZQGKE1S0VAXA",), {}),
])
def test_ids_are_checked_before_any_request(recorded, method, args, kwargs):
    server, registry = recorded
    with pytest.raises(ia.InvalidIdError):
        getattr(registry, method)(*args, **kwargs)
    assert server.requests == []


def test_filters_go_in_the_query_as_the_api_names_them(recorded):
    server, registry = recorded
    server.routes["/deliveries"] = page([])
    server.routes["/transfers"] = page([])
    registry.deliveries(from_supplier_id=SUPPLIER, to_organisation_id=LARGE)
    registry.transfers(to_organisation_id=LARGE)
    assert server.requests == [
        f"/registry/v0/deliveries?from_supplier_id={SUPPLIER}&to_organisation_id={LARGE}"
        "&first=50",
        f"/registry/v0/transfers?to_organisation_id={LARGE}&first=50",
    ]


def test_a_route_that_needs_a_token_fails_before_sending_without_one(server):
    server.reset()
    options = server.client_options()
    del options["access_token"]
    with ia.RegistryClient(**options) as registry, pytest.raises(ia.MissingCredentialsError):
        registry.transfer(TRANSFER["id"])
    assert server.requests == []


def listing(nodes: list, total_count: int | None = None) -> bytes:
    return json.dumps({"nodes": nodes, "total_count": len(nodes) if total_count is None
                       else total_count}).encode()


def test_a_list_whose_count_disagrees_is_refused(recorded):
    server, registry = recorded
    batches = REGISTRY.retirement_credit_batches(RETIREMENT["id"])
    server.routes[f"/retirements/{RETIREMENT['id']}/credit_batches"] = listing(
        batches, len(batches) + 1)
    with pytest.raises(ia.SchemaError) as caught:
        registry.retirement_credit_batches(RETIREMENT["id"])
    error = caught.value
    assert (error.path, error.endpoint) == (
        "total_count", f"GET /retirements/{RETIREMENT['id']}/credit_batches")
    assert f"says {len(batches) + 1} but nodes holds {len(batches)}" in str(error)


def test_a_bad_batch_in_a_list_is_named_by_its_path(recorded):
    server, registry = recorded
    batches = copy.deepcopy(REGISTRY.delivery_credit_batches(DELIVERY["id"]))
    batches[-1]["size"]["credit_kgs"] = 1.5
    server.routes[f"/deliveries/{DELIVERY['id']}/credit_batches"] = listing(batches)
    with pytest.raises(ia.SchemaError) as caught:
        registry.delivery_credit_batches(DELIVERY["id"])
    assert caught.value.path == f"nodes[{len(batches) - 1}].size.credit_kgs"


def test_a_batch_listed_twice_is_refused(recorded):
    server, registry = recorded
    batch = REGISTRY.transfer_credit_batches(TRANSFER["id"])[0]
    server.routes[f"/transfers/{TRANSFER['id']}/credit_batches"] = listing([batch, batch])
    with pytest.raises(ia.SchemaError, match="was already added"):
        registry.transfer_credit_batches(TRANSFER["id"])


def issuance_body(**changes) -> bytes:
    body = copy.deepcopy(REGISTRY.issuance_credit_batches(ISSUANCE["id"]))
    body.update(changes)
    return json.dumps(body).encode()


@pytest.mark.parametrize(("changes", "path"), [
    ({"supplier_credit_batch_size_total": {"credit_kgs": 1, "credits": 0.001}},
     "supplier_credit_batch_size_total.credit_kgs"),
    ({"buffer_pool_credit_batches": []}, "buffer_pool_credit_batch_size_total.credit_kgs"),
    ({"credit_batch_size_total": {"credit_kgs": 0, "credits": 0.0}},
     "credit_batch_size_total.credit_kgs"),
    ({"issuance_id": "iss_1CSVDDHH3SBXRP6K"}, "issuance_id"),
])
def test_an_issuances_batches_must_add_up(recorded, changes, path):
    server, registry = recorded
    server.routes[f"/issuances/{ISSUANCE['id']}/credit_batches"] = issuance_body(**changes)
    with pytest.raises(ia.SchemaError) as caught:
        registry.issuance_credit_batches(ISSUANCE["id"])
    assert caught.value.path == path
    assert caught.value.endpoint == f"GET /issuances/{ISSUANCE['id']}/credit_batches"


def test_a_record_of_another_id_is_refused(recorded):
    server, registry = recorded
    other = next(t for t in REGISTRY.transfers() if t["id"] != TRANSFER["id"])
    server.routes[f"/transfers/{TRANSFER['id']}"] = json.dumps(other).encode()
    with pytest.raises(ia.SchemaError, match="another transfer"):
        registry.transfer(TRANSFER["id"])


# -- many ids at once ---------------------------------------------------------------------------

def test_many_reads_each_id_as_its_method_does(client):
    deliveries = client.deliveries(to_organisation_id=LARGE)["id"].tolist()[:20]
    arrived: list[str] = []
    batches = client.many("delivery_credit_batches", deliveries + deliveries[:3],
                          organisation_id=LARGE, on_each=arrived.append)
    assert list(batches) == deliveries and sorted(arrived) == sorted(deliveries)
    for delivery_id in deliveries[:5]:
        pd.testing.assert_frame_equal(
            batches[delivery_id], client.delivery_credit_batches(delivery_id,
                                                                 organisation_id=LARGE))

    async def read():
        async with ia.AsyncRegistryClient.demo() as registry:
            return await registry.many("delivery_credit_batches", deliveries,
                                       organisation_id=LARGE)

    for delivery_id, frame in asyncio.run(read()).items():
        pd.testing.assert_frame_equal(frame, batches[delivery_id])


def test_many_refuses_what_it_cannot_run(client):
    with pytest.raises(ValueError, match="reads by one id"):
        client.many("deliveries", [DELIVERY["id"]])
    with pytest.raises(ia.InvalidIdError):
        client.many("delivery", [DELIVERY["id"], "dlv_1/../../admin"], organisation_id=LARGE)


def test_many_keeps_to_the_clients_concurrency_and_fails_on_the_first_failure(server):
    server.reset()

    def slow_route(counter: dict, body) -> Callable[[dict], bytes]:
        def respond(query) -> bytes:
            with counter["lock"]:
                counter["now"] += 1
                counter["most"] = max(counter["most"], counter["now"])
            time.sleep(0.05)
            with counter["lock"]:
                counter["now"] -= 1
            return body
        return respond

    def counter() -> dict:
        return {"lock": threading.Lock(), "now": 0, "most": 0}

    # Each answer carries another id than the one asked for: a SchemaError, the first
    # failure, ends the call.
    failing, ids = counter(), [f"ret_1MANY{number:011d}" for number in range(12)]
    for retirement_id in ids:
        server.routes[f"/retirements/{retirement_id}"] = slow_route(
            failing, json.dumps(RETIREMENT).encode())
    with ia.RegistryClient(**server.client_options(concurrency=3)) as registry:
        with pytest.raises(ia.SchemaError, match="another retirement"):
            registry.many("retirement", ids)
    assert 1 <= failing["most"] <= 3

    # Fresh ids and a counter of their own: requests the failure stopped may still be ending.
    honest, ids = counter(), [f"ret_1FINE{number:011d}" for number in range(12)]
    for retirement_id in ids:
        server.routes[f"/retirements/{retirement_id}"] = slow_route(
            honest, json.dumps({**RETIREMENT, "id": retirement_id}).encode())
    with ia.RegistryClient(**server.client_options(concurrency=3)) as registry:
        found = registry.many("retirement", ids)
    assert [record["id"] for record in found.values()] == ids
    assert 2 <= honest["most"] <= 3  # concurrent, and no more than asked
