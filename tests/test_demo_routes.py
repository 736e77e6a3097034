"""The demo transport's history routes: deliveries, transfers, refunds, issuances, orders and
retirements by id, supplier sub-lists, documents, beneficiaries and transferees.

Contract tests validate every answer against the OpenAPI schemas (skipped without
``../shared``); the others check visibility, filters, paging and errors over the transport.
"""

from __future__ import annotations

import json

import httpx
import pytest

from isoanalytics import demo
from isoanalytics.demo.transport import transport

from .conftest import OPENAPI

ORG = demo.DEFAULT_ORGANISATION_ID
REG = demo.registry()
LARGE, TYPICAL = REG.buyers["large"], REG.buyers["typical"]
# Route -> (schema of its 200 body, its query parameters, whether it needs a token).
PAGING = frozenset({"first", "after", "last", "before"})
ROUTES = {
    "/retirements/{id}": ("Retirement", frozenset(), False),
    "/retirements/{id}/credit_batches": ("ListResource_CreditBatch_", frozenset(), False),
    "/credit_batches/{id}": ("CreditBatch", frozenset(), True),
    "/orders/{id}": ("Order", frozenset(), True),
    "/orders/{id}/deliveries": ("PaginatedListResource_Delivery_", PAGING, True),
    "/deliveries": ("PaginatedListResource_Delivery_",
                    PAGING | {"from_supplier_id", "to_organisation_id"}, True),
    "/deliveries/{id}": ("Delivery", frozenset(), True),
    "/deliveries/{id}/credit_batches": ("ListResource_CreditBatch_", frozenset(), True),
    "/transfers": ("PaginatedListResource_Transfer_",
                   PAGING | {"from_organisation_id", "to_organisation_id"}, True),
    "/transfers/{id}": ("Transfer", frozenset(), True),
    "/transfers/{id}/credit_batches": ("ListResource_CreditBatch_", frozenset(), True),
    "/refunds/{id}": ("BufferPoolRefund", frozenset(), True),
    "/refunds/{id}/credit_batches": ("ListResource_CreditBatch_", frozenset(), True),
    "/issuances": ("PaginatedListResource_Issuance_", PAGING, False),
    "/issuances/{id}": ("Issuance", frozenset(), False),
    "/issuances/{id}/credit_batches": ("IssuanceCreditBatches", frozenset(), False),
    "/projects/{id}/documents": ("PaginatedListResource_ProjectDocument_", PAGING, False),
    "/suppliers/{id}/projects": ("PaginatedListResource_Project_", PAGING, False),
    "/suppliers/{id}/issuances": ("PaginatedListResource_Issuance_", PAGING, False),
    "/suppliers/{id}/deliveries": ("PaginatedListResource_Delivery_", PAGING, True),
    "/suppliers/{id}/orders": ("PaginatedListResource_Order_", PAGING, True),
    "/beneficiaries": ("PaginatedListResource_Organisation_", PAGING, True),
    "/transferees": ("PaginatedListResource_Organisation_", PAGING, True),
}
# Served before this history; tests/test_demo_transport.py checks them.
EARLIER = {"/organisation", "/organisations/{id}", "/organisations/{id}/credit_balance",
           "/organisations/{id}/credit_batches", "/organisations/{id}/orders", "/projects",
           "/projects/{id}", "/suppliers", "/suppliers/{id}", "/retirements"}
# What a buyer's token cannot use: a supplier's own routes.
SUPPLIERS_ONLY = {"/supplier", "/stripe/configuration"}


def some(kind: str) -> str:
    """An id of a record of ``kind`` that the default organisation may see."""
    order = REG.orders(ORG)[-1]
    delivery = next(d for d in REG.deliveries() if d["to_organisation"]["id"] == ORG)
    return {
        "retirements": REG.retirements()[0]["id"],
        "credit_batches": REG.credit_batches(ORG)[0]["id"], "orders": order["id"],
        "deliveries": delivery["id"], "issuances": REG.issuances()[0]["id"],
        "projects": REG.projects()[0]["id"], "suppliers": REG.suppliers()[0]["id"],
    }[kind]


def concrete(route: str, org: str = ORG) -> tuple[str, str]:
    """A path of ``route`` that ``org`` may read, and the token's organisation to send."""
    kind = route.split("/")[1]
    if kind == "transfers" and "{id}" in route:
        return route.replace("{id}", REG.transfers()[-1]["id"]), TYPICAL
    if kind == "refunds":
        return route.replace("{id}", REG.refunds()[0]["id"]), LARGE
    return (route.replace("{id}", some(kind)) if "{id}" in route else route), org


@pytest.fixture(scope="module")
def client():
    with httpx.Client(transport=transport(), base_url=demo.BASE_URL) as session:
        yield session


def headers(org: str | None) -> dict[str, str]:
    sent = {"x-client-secret": demo.CLIENT_SECRET}
    if org is not None:
        sent["authorization"] = f"Bearer {demo.access_token(org)}"
    return sent


def get(client: httpx.Client, path: str, org: str | None = ORG, **params) -> httpx.Response:
    return client.get(path, headers=headers(org), params=params)


def ok(client: httpx.Client, path: str, org: str | None = ORG, **params):
    response = get(client, path, org, **params)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def pages(client: httpx.Client, path: str, org: str | None = ORG, **params) -> list[dict]:
    found, after = [], None
    while True:
        page = ok(client, path, org, **params, **({"after": after} if after else {}))
        found.append(page)
        if not page["page_info"]["has_next_page"]:
            return found
        after = page["page_info"]["end_cursor"]


def nodes(client: httpx.Client, path: str, org: str | None = ORG, **params) -> list[dict]:
    return [node for page in pages(client, path, org, first=50, **params)
            for node in page["nodes"]]


# -- the API description ------------------------------------------------------------------------

def spec() -> dict:
    if not OPENAPI.exists():
        pytest.skip(f"contract tests need the API description at {OPENAPI}, which is absent")
    return json.loads(OPENAPI.read_text(encoding="utf-8"))


def test_every_get_a_buyer_can_use_is_served():
    document = spec()
    gets = {path for path, operations in document["paths"].items() if "get" in operations}
    assert gets - SUPPLIERS_ONLY == EARLIER | ROUTES.keys()
    prefix = "#/components/schemas/"
    for route, (name, query, _) in ROUTES.items():
        operation = document["paths"][route]["get"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": prefix + name}, route  # none of these answers null
        parameters = {(p["in"], p["name"]) for p in operation["parameters"]}
        assert {n for where, n in parameters if where == "query"} == query, route
        assert (("path", "id") in parameters) == ("{id}" in route), route


def test_the_routes_answer_by_their_schemas(client, openapi_validator):
    for route, (name, _, _) in ROUTES.items():
        path, org = concrete(route)
        openapi_validator(name, ok(client, path, org))


def test_every_buyers_history_matches_the_schemas(client, openapi_validator):
    for org in REG.buyers.values():
        for route in ("/deliveries", "/transfers", "/beneficiaries", "/transferees"):
            for page in pages(client, route, org, first=50):
                openapi_validator(ROUTES[route][0], page)
        for order in REG.orders(org):
            openapi_validator("Order", ok(client, f"/orders/{order['id']}", org))
            for page in pages(client, f"/orders/{order['id']}/deliveries", org, first=3):
                openapi_validator("PaginatedListResource_Delivery_", page)
                for d in page["nodes"][:1]:
                    openapi_validator("Delivery", ok(client, f"/deliveries/{d['id']}", org))
                    openapi_validator("ListResource_CreditBatch_",
                                      ok(client, f"/deliveries/{d['id']}/credit_batches", org))
        for supplier in {o["supplier"]["id"] for o in REG.orders(org)}:
            for tail in ("deliveries", "orders"):
                openapi_validator(ROUTES[f"/suppliers/{{id}}/{tail}"][0],
                                  ok(client, f"/suppliers/{supplier}/{tail}", org, first=50))
        for b in REG.credit_batches(org, include_split=True)[:5]:
            openapi_validator("CreditBatch", ok(client, f"/credit_batches/{b['id']}", org))
    for t in REG.transfers():
        for org in (t["from_organisation"]["id"], t["to_organisation"]["id"]):
            if org in REG.buyers.values():
                openapi_validator("Transfer", ok(client, f"/transfers/{t['id']}", org))
                openapi_validator("ListResource_CreditBatch_",
                                  ok(client, f"/transfers/{t['id']}/credit_batches", org))
    for r in REG.refunds():
        org = r["to_organisation"]["id"]
        openapi_validator("BufferPoolRefund", ok(client, f"/refunds/{r['id']}", org))
        openapi_validator("ListResource_CreditBatch_",
                          ok(client, f"/refunds/{r['id']}/credit_batches", org))


def test_every_public_record_matches_the_schemas(client, openapi_validator):
    issuances = pages(client, "/issuances", None, first=50)
    for page in issuances:
        openapi_validator("PaginatedListResource_Issuance_", page)
    for i in issuances[0]["nodes"][:10] + issuances[-1]["nodes"][-5:]:
        openapi_validator("Issuance", ok(client, f"/issuances/{i['id']}", None))
        openapi_validator("IssuanceCreditBatches",
                          ok(client, f"/issuances/{i['id']}/credit_batches", None))
    for r in REG.retirements()[:40]:
        openapi_validator("Retirement", ok(client, f"/retirements/{r['id']}", None))
        openapi_validator("ListResource_CreditBatch_",
                          ok(client, f"/retirements/{r['id']}/credit_batches", None))
    for supplier in REG.suppliers()[::4]:
        for tail in ("projects", "issuances"):
            page = ok(client, f"/suppliers/{supplier['id']}/{tail}", None, first=50)
            openapi_validator(ROUTES[f"/suppliers/{{id}}/{tail}"][0], page)
    for project in REG.projects()[::40]:
        openapi_validator("PaginatedListResource_ProjectDocument_",
                          ok(client, f"/projects/{project['id']}/documents", None))


def test_error_bodies_match_the_schema(client, openapi_validator):
    for route in ROUTES:
        path, org = concrete(route)
        if "{id}" in route:
            bad = get(client, route.replace("{id}", "xyz"), org)
            assert bad.status_code == 422
            openapi_validator("HTTPValidationError", bad.json())
        if ROUTES[route][1]:
            bad = get(client, path, org, first=0)
            assert bad.status_code == 422
            openapi_validator("HTTPValidationError", bad.json())


# -- the same records as the registry's ---------------------------------------------------------

def test_lists_are_the_registrys_in_the_apis_order(client):
    assert nodes(client, "/issuances", None) == REG.issuances()
    for org in REG.buyers.values():
        mine = [d for d in REG.deliveries() if d["to_organisation"]["id"] == org]
        assert nodes(client, "/deliveries", org) == mine  # most recently delivered first
        assert [d["delivered_at"] for d in mine] == sorted(
            (d["delivered_at"] for d in mine), reverse=True)
        assert nodes(client, "/transfers", org) == [
            t for t in REG.transfers()
            if org in (t["from_organisation"]["id"], t["to_organisation"]["id"])]
        assert nodes(client, "/beneficiaries", org) == REG.beneficiaries(org)
        assert nodes(client, "/transferees", org) == REG.transferees(org)
        for order in REG.orders(org):
            assert ok(client, f"/orders/{order['id']}", org) == order
            assert nodes(client, f"/orders/{order['id']}/deliveries", org) == [
                d for d in mine if d["order_id"] == order["id"]]
    assert ok(client, "/deliveries", LARGE)["total_count"] > 300


def test_single_records_are_the_registrys(client):
    for r in REG.retirements()[:20]:
        assert ok(client, f"/retirements/{r['id']}", None) == r
        listed = ok(client, f"/retirements/{r['id']}/credit_batches", None)
        assert listed == {"nodes": REG.retirement_credit_batches(r["id"]),
                          "total_count": len(REG.retirement_credit_batches(r["id"]))}
    for i in REG.issuances()[:20]:
        assert ok(client, f"/issuances/{i['id']}", None) == i
        assert ok(client, f"/issuances/{i['id']}/credit_batches", None) == (
            REG.issuance_credit_batches(i["id"]))
    for d in REG.deliveries()[:20]:
        org = d["to_organisation"]["id"]
        assert ok(client, f"/deliveries/{d['id']}", org) == d
        assert ok(client, f"/deliveries/{d['id']}/credit_batches", org)["nodes"] == (
            REG.delivery_credit_batches(d["id"]))
    refund = REG.refunds()[0]
    assert ok(client, f"/refunds/{refund['id']}", LARGE) == refund
    assert ok(client, f"/refunds/{refund['id']}/credit_batches", LARGE)["nodes"] == (
        REG.refund_credit_batches(refund["id"]))
    project = REG.projects()[0]["id"]
    assert nodes(client, f"/projects/{project}/documents", None) == REG.project_documents(project)


def test_supplier_lists(client):
    # The giant (most issuances), a few others and one that sells to no demo buyer.
    for supplier in [*REG.suppliers()[:3], *REG.suppliers()[-2:]]:
        sid = supplier["id"]
        projects = nodes(client, f"/suppliers/{sid}/projects", None)
        assert sorted(p["id"] for p in projects) == sorted(
            p["id"] for p in REG.projects() if p["supplier"]["id"] == sid)
        starts = [p["crediting_period_start"] or "" for p in projects]
        assert starts == sorted(starts, reverse=True)  # most recently created first
        assert nodes(client, f"/suppliers/{sid}/issuances", None) == [
            i for i in REG.issuances() if i["supplier"]["id"] == sid]
    for org in REG.buyers.values():
        seen = 0
        for supplier in {o["supplier"]["id"] for o in REG.orders(org)}:
            orders = nodes(client, f"/suppliers/{supplier}/orders", org)
            assert orders == [o for o in REG.orders(org) if o["supplier"]["id"] == supplier]
            delivered = nodes(client, f"/suppliers/{supplier}/deliveries", org)
            assert delivered == nodes(client, "/deliveries", org, from_supplier_id=supplier)
            seen += len(delivered)
        assert seen == ok(client, "/deliveries", org)["total_count"]  # the filter partitions


def test_filters(client):
    received = [t["id"] for t in REG.transfers() if t["to_organisation"]["id"] == TYPICAL]
    assert [t["id"] for t in nodes(client, "/transfers", TYPICAL,
                                   to_organisation_id=TYPICAL)] == received
    assert nodes(client, "/transfers", TYPICAL, from_organisation_id=TYPICAL) == []
    passed = nodes(client, "/transfers", LARGE, from_organisation_id=LARGE)
    assert [t["to_organisation"]["name"] for t in passed] == ["Kestrel Outdoor Co."]
    assert nodes(client, "/deliveries", ORG, to_organisation_id=ORG) == nodes(
        client, "/deliveries", ORG)
    # Filters narrow what the caller may see; they never widen it.
    assert nodes(client, "/deliveries", ORG, to_organisation_id=LARGE) == []
    assert nodes(client, "/transfers", ORG, to_organisation_id=TYPICAL) == []
    response = get(client, "/deliveries", ORG, from_supplier_id="prj_1ZZZZZZZZZZZZZZZ",
                   to_organisation_id="short")
    assert [p["loc"] for p in response.json()["detail"]] == [
        ["query", "from_supplier_id"], ["query", "to_organisation_id"]]
    response = get(client, "/transfers", ORG, from_organisation_id="x", to_organisation_id="y")
    assert [p["loc"] for p in response.json()["detail"]] == [
        ["query", "from_organisation_id"], ["query", "to_organisation_id"]]


def test_paging_backwards_and_forwards_agree(client):
    forwards = nodes(client, "/issuances", None)
    backwards: list[dict] = []
    before = None
    while True:
        page = ok(client, "/issuances", None, last=50, **({"before": before} if before else {}))
        backwards = page["nodes"] + backwards
        if not page["page_info"]["has_previous_page"]:
            break
        before = page["page_info"]["start_cursor"]
    assert backwards == forwards and len(forwards) == ok(client, "/issuances", None)[
        "total_count"]
    default = ok(client, "/deliveries", LARGE)
    assert len(default["nodes"]) == 10 and default["page_info"]["has_next_page"]


# -- who sees what ------------------------------------------------------------------------------

def test_private_records_are_their_organisations_only(client):
    delivery = next(d for d in REG.deliveries() if d["to_organisation"]["id"] == LARGE)
    order = REG.orders(LARGE)[0]
    transfer = REG.transfers()[-1]  # Lumina Ledger to the typical buyer
    refund = REG.refunds()[0]
    batch = REG.credit_batches(LARGE)[0]
    private = [f"/deliveries/{delivery['id']}", f"/deliveries/{delivery['id']}/credit_batches",
               f"/orders/{order['id']}", f"/orders/{order['id']}/deliveries",
               f"/transfers/{transfer['id']}", f"/transfers/{transfer['id']}/credit_batches",
               f"/refunds/{refund['id']}", f"/refunds/{refund['id']}/credit_batches",
               f"/credit_batches/{batch['id']}"]
    owners = {"/transfers": TYPICAL}
    for path in private:
        owner = owners.get(path[:10], LARGE)
        assert get(client, path, owner).status_code == 200, path
        stranger = ORG if owner != ORG else LARGE
        hidden = get(client, path, stranger)
        assert hidden.status_code == 404, path
        unknown_id = path.split("/")[2][:4] + "1ZZZZZZZZZZZZZZZ"
        unknown = get(client, path.replace(path.split("/")[2], unknown_id), stranger)
        # Another's record and an unknown id are told apart only by the id in the message.
        assert hidden.json()["detail"].replace(path.split("/")[2], "?") == (
            unknown.json()["detail"].replace(unknown_id, "?"))
        assert "demo-token" not in hidden.text
        assert client.get(path, headers=headers(None)).status_code == 401
    # A batch retired on another's behalf: the marketplace sees it, the others do not.
    retired = next(b for b in REG.credit_batches(LARGE)
                   if b["beneficiary"] and b["beneficiary"]["id"] != LARGE)
    assert get(client, f"/credit_batches/{retired['id']}", LARGE).status_code == 200
    assert get(client, f"/credit_batches/{retired['id']}", TYPICAL).status_code == 404


@pytest.mark.parametrize("route", sorted(r for r, (_, _, token) in ROUTES.items() if not token))
def test_public_routes_take_a_token_or_none(client, route):
    path, _ = concrete(route)
    without = client.get(path, headers=headers(None))
    assert without.status_code == 200
    assert get(client, path, LARGE).content == without.content


@pytest.mark.parametrize("route", sorted(r for r, (_, _, token) in ROUTES.items() if token))
def test_private_routes_need_a_token(client, route):
    path, org = concrete(route)
    response = client.get(path, headers=headers(None))
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert client.get(path, headers={}).status_code == 401
    assert get(client, path, org).status_code == 200


@pytest.mark.parametrize("route", sorted(r for r in ROUTES if "{id}" in r))
@pytest.mark.parametrize(("bad", "kind"), [
    ("xyz", "string_too_short"), ("ctb_" + "A" * 40, "string_too_long"),
    ("org_1ZZZZZZZZZZZZZZZ", "value_error"), ("ret_1ZZZZZZZ-ZZZZZZZ", "value_error")])
def test_malformed_path_ids_are_422(client, route, bad, kind):
    response = get(client, route.replace("{id}", bad), LARGE)
    detail = response.json()["detail"]
    assert response.status_code == 422
    assert [(p["loc"], p["input"]) for p in detail] == [(["path", "id"], bad)]
    if kind != "value_error":
        assert detail[0]["type"] == kind


@pytest.mark.parametrize("route", sorted(r for r in ROUTES if "{id}" in r))
def test_unknown_ids_are_404(client, route):
    kind = concrete(route)[0].split("/")[2][:4]
    response = get(client, route.replace("{id}", kind + "1ZZZZZZZZZZZZZZZ"), LARGE)
    assert response.status_code == 404
    assert kind + "1ZZZZZZZZZZZZZZZ" in response.json()["detail"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_only_get(client, method, route):
    path, org = concrete(route)
    response = client.request(method, path, headers=headers(org))
    assert response.status_code == 405 and response.headers["allow"] == "GET"
