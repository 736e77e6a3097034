"""The demo registry served as the Registry API v0 over an httpx transport."""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx
import pytest

from isoanalytics import demo
from isoanalytics.demo.transport import DemoHandler, transport

from .conftest import OPENAPI

ORG = demo.DEFAULT_ORGANISATION_ID
UNKNOWN = {"org": "org_1ZZZZZZZZZZZZZZZ", "prj": "prj_1ZZZZZZZZZZZZZZZ",
           "spl": "spl_1ZZZZZZZZZZZZZZZ"}
# Route -> the schema name of its 200 body; the nullable ones may also answer null.
SCHEMAS = {
    "/organisation": "Organisation",
    "/organisations/{id}": "Organisation",
    "/organisations/{id}/credit_balance": "OrganisationCreditBalance",
    "/organisations/{id}/credit_batches": "PaginatedListResource_CreditBatch_",
    "/organisations/{id}/orders": "PaginatedListResource_Order_",
    "/projects": "PaginatedListResource_Project_",
    "/projects/{id}": "Project",
    "/suppliers": "PaginatedListResource_Supplier_",
    "/suppliers/{id}": "Supplier",
    "/retirements": "PaginatedListResource_Retirement_",
}
NULLABLE = {"/organisations/{id}", "/projects/{id}", "/suppliers/{id}"}
PAGING = {"first", "after", "last", "before"}
QUERY = {  # the query parameters each route implements
    "/organisations/{id}/credit_batches": PAGING | {
        "supplier_id", "project_id", "issuance_id", "delivery_id", "order_id", "retirement_id",
        "status", "issued_after", "issued_before", "sort_field", "sort_direction"},
    "/organisations/{id}/orders": PAGING,
    "/projects": PAGING,
    "/suppliers": PAGING,
    "/retirements": PAGING | {"owner_org_id", "beneficiary_org_id"},
}


# -- helpers ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reg() -> demo.DemoRegistry:
    return demo.registry()


@pytest.fixture(scope="module")
def client():
    # One client for the module: requests share nothing, and a handler takes ~50 ms to build.
    with httpx.Client(transport=transport(), base_url=demo.BASE_URL) as session:
        yield session


def headers(org: str | None = ORG, secret: str | None = demo.CLIENT_SECRET) -> dict[str, str]:
    sent = {}
    if secret is not None:
        sent["x-client-secret"] = secret
    if org is not None:
        sent["authorization"] = f"Bearer {demo.access_token(org)}"
    return sent


def get(client: httpx.Client, path: str, org: str | None = ORG, **params) -> httpx.Response:
    return client.get(path, params=params, headers=headers(org))


def ok(client: httpx.Client, path: str, org: str | None = ORG, **params):
    response = get(client, path, org, **params)
    assert response.status_code == 200, response.text
    return response.json()


def pages(client: httpx.Client, path: str, org: str | None = ORG, **params) -> list[dict]:
    """Every page of a list, following end_cursor."""
    found = [ok(client, path, org, **params)]
    while found[-1]["page_info"]["has_next_page"]:
        found.append(ok(client, path, org, **params, after=found[-1]["page_info"]["end_cursor"]))
    return found


def nodes(client: httpx.Client, path: str, org: str | None = ORG, **params) -> list[dict]:
    return [node for page in pages(client, path, org, first=50, **params)
            for node in page["nodes"]]


def ids(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


def batches_path(org: str) -> str:
    return f"/organisations/{org}/credit_batches"


def problems(response: httpx.Response) -> list[dict]:
    """The detail of a 422, checked to have FastAPI's HTTPValidationError shape."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail and all({"loc", "msg", "type", "input"} <= set(p) for p in detail)
    assert all(isinstance(p["msg"], str) and isinstance(p["type"], str) for p in detail)
    return detail


def locations(response: httpx.Response) -> list[list]:
    return [p["loc"] for p in problems(response)]


# -- credentials --------------------------------------------------------------------------------

def test_credentials_and_base_url(reg):
    url = httpx.URL(demo.BASE_URL)
    assert url.scheme == "https" and url.host.endswith(".invalid")
    assert url.path == DemoHandler().base_path == "/registry/v0"
    accounts = demo.accounts()
    assert list(accounts) == list(reg.buyers.values())
    assert len(set(accounts.values())) == len(demo.ROLES)
    for org, token in accounts.items():
        assert token == demo.access_token(org) and token.startswith("demo-token-")
        assert org not in token  # a client scrubs pieces of its tokens out of its messages
    supplier_org = reg.suppliers()[0]["organisation"]["id"]
    for not_a_buyer in (supplier_org, UNKNOWN["org"], "prj_1ZZZZZZZZZZZZZZZ", "", None):
        with pytest.raises(LookupError) as raised:
            demo.access_token(not_a_buyer)
        assert type(raised.value) is LookupError
        assert f"{ORG} (concentrated)" in str(raised.value)


# -- every route's shape ------------------------------------------------------------------------

@pytest.mark.parametrize("role", demo.ROLES)
def test_current_organisation_is_the_tokens(client, reg, role):
    org = reg.buyers[role]
    assert ok(client, "/organisation", org) == reg.organisation(org)


def test_organisation_by_id_is_public(client, reg):
    supplier_org = reg.suppliers()[3]["organisation"]["id"]
    beneficiaries = {r["beneficiary"]["id"] for r in reg.retirements()} - set(reg.buyers.values())
    assert beneficiaries  # the large buyer retires for its clients
    for org in (ORG, reg.buyers["empty"], supplier_org, *beneficiaries):
        assert ok(client, f"/organisations/{org}") == reg.organisation(org)
        assert ok(client, f"/organisations/{org}", None) == reg.organisation(org)


@pytest.mark.parametrize(("route", "unknown"), [
    ("organisations", UNKNOWN["org"]), ("projects", UNKNOWN["prj"]),
    ("suppliers", UNKNOWN["spl"])])
def test_unknown_ids_answer_null(client, route, unknown):
    response = get(client, f"/{route}/{unknown}")
    assert response.status_code == 200 and response.content == b"null"


@pytest.mark.parametrize("role", demo.ROLES)
def test_credit_balance_is_the_registrys(client, reg, role):
    org = reg.buyers[role]
    assert ok(client, f"/organisations/{org}/credit_balance", org) == reg.credit_balance(org)


@pytest.mark.parametrize("role", demo.ROLES)
def test_orders_are_the_registrys_in_its_order(client, reg, role):
    org = reg.buyers[role]
    listed = pages(client, f"/organisations/{org}/orders", org, first=5)
    assert [n for page in listed for n in page["nodes"]] == reg.orders(org)
    assert {page["total_count"] for page in listed} == {len(reg.orders(org))}


def test_projects_are_sorted_by_name(client, reg):
    listed = nodes(client, "/projects", None)
    assert sorted(ids(listed)) == sorted(ids(reg.projects()))
    assert listed == sorted(reg.projects(), key=lambda p: (p["name"], p["id"]))
    some = listed[17]
    assert ok(client, f"/projects/{some['id']}", None) == some == reg.project(some["id"])


def test_suppliers_are_the_registrys_in_its_order(client, reg):
    assert nodes(client, "/suppliers", None) == reg.suppliers()
    some = reg.suppliers()[5]
    assert ok(client, f"/suppliers/{some['id']}", None) == some


def test_retirements_and_their_filters(client, reg):
    everything = reg.retirements()
    assert nodes(client, "/retirements", None) == everything
    large = reg.buyers["large"]
    owned = nodes(client, "/retirements", None, owner_org_id=large)
    assert owned == [r for r in everything if r["owner"]["id"] == large] != []
    clients = {r["beneficiary"]["id"] for r in owned} - {large}
    for beneficiary in clients:
        got = nodes(client, "/retirements", None, beneficiary_org_id=beneficiary)
        assert got == [r for r in everything if r["beneficiary"]["id"] == beneficiary] != []
        both = nodes(client, "/retirements", None, beneficiary_org_id=beneficiary,
                     owner_org_id=ORG)
        assert both == []
    assert nodes(client, "/retirements", None, owner_org_id=UNKNOWN["org"]) == []


def test_responses_are_json_with_a_request_id(client):
    first = get(client, "/projects", first=3)
    again = get(client, "/projects", first=3)
    other = get(client, "/projects", first=4)
    assert first.headers["content-type"] == "application/json"
    assert first.headers["x-request-id"] == again.headers["x-request-id"]
    assert first.headers["x-request-id"] != other.headers["x-request-id"]
    assert first.content == again.content
    for response in (get(client, "/nope"), get(client, "/projects", first=0),
                     client.get("/projects")):
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-request-id"].startswith("demo-")


def test_responses_are_fresh(client, reg):
    body = ok(client, f"/organisations/{ORG}/credit_balance")
    body["total"]["active_credits_total"]["credit_kgs"] = -1
    page = ok(client, batches_path(ORG))
    page["nodes"][0]["owner"]["name"] = "changed"
    assert ok(client, f"/organisations/{ORG}/credit_balance") == reg.credit_balance(ORG)
    assert ok(client, batches_path(ORG))["nodes"][0]["owner"]["name"] != "changed"


# -- paging -------------------------------------------------------------------------------------

def test_paging_the_large_buyers_batches_collects_each_once(client, reg):
    org = reg.buyers["large"]
    expected = reg.credit_batches(org)
    listed = pages(client, batches_path(org), org, first=50)
    collected = [n for page in listed for n in page["nodes"]]
    assert len(expected) > 2000 and len(listed) == -(-len(expected) // 50)
    assert Counter(ids(collected)) == Counter(ids(expected))  # every id exactly once
    assert collected == expected[::-1]  # newest first by default, ties by id
    assert {page["total_count"] for page in listed} == {len(expected)}
    assert all(len(page["nodes"]) == 50 for page in listed[:-1])
    for number, page in enumerate(listed):
        info = page["page_info"]
        assert info["has_previous_page"] == (number > 0)
        assert info["has_next_page"] == (number < len(listed) - 1)


def test_default_page_and_an_empty_list(client, reg):
    page = ok(client, "/projects")
    assert len(page["nodes"]) == 10 and page["total_count"] == len(reg.projects())
    empty = reg.buyers["empty"]
    for path in (batches_path(empty), f"/organisations/{empty}/orders"):
        assert ok(client, path, empty) == {"nodes": [], "total_count": 0, "page_info": {
            "has_previous_page": False, "start_cursor": None,
            "has_next_page": False, "end_cursor": None}}


def test_cursors_are_opaque_and_stable(client, reg):
    first = ok(client, "/suppliers", first=4)
    info = first["page_info"]
    start, end = info["start_cursor"], info["end_cursor"]
    assert start != end and reg.suppliers()[0]["id"] not in start
    assert all(c.isalnum() or c in "-_" for c in start + end)  # safe in a URL as it is
    assert ok(client, "/suppliers", first=4) == first
    # The same cursor works with any page size.
    assert ids(ok(client, "/suppliers", first=2, after=end)["nodes"]) == ids(reg.suppliers()[4:6])
    assert ids(ok(client, "/suppliers", first=7, after=start)["nodes"]) == ids(
        reg.suppliers()[1:8])


def test_paging_backwards(client, reg):
    expected = ids(reg.suppliers())
    page = ok(client, "/suppliers", last=15)
    assert ids(page["nodes"]) == expected[-15:]
    assert page["page_info"]["has_previous_page"] and not page["page_info"]["has_next_page"]
    collected = []
    while True:
        collected[:0] = ids(page["nodes"])
        if not page["page_info"]["has_previous_page"]:
            break
        page = ok(client, "/suppliers", last=15, before=page["page_info"]["start_cursor"])
    assert collected == expected
    # before alone pages backwards by the default size; after and before bound a window.
    cursor = ok(client, "/suppliers", first=20)["page_info"]["end_cursor"]
    assert ids(ok(client, "/suppliers", before=cursor)["nodes"]) == expected[9:19]
    start = ok(client, "/suppliers", first=5)["page_info"]["end_cursor"]
    window = ok(client, "/suppliers", after=start, before=cursor, first=50)
    assert ids(window["nodes"]) == expected[5:19]
    assert window["page_info"]["has_next_page"] and window["page_info"]["has_previous_page"]


# -- credit batch filters -----------------------------------------------------------------------

def test_sort_direction(client, reg):
    org = reg.buyers["diversified"]
    newest = nodes(client, batches_path(org), org)
    oldest = nodes(client, batches_path(org), org, sort_direction="asc", sort_field="issued_at")
    assert oldest == reg.credit_batches(org) == newest[::-1]
    assert nodes(client, batches_path(org), org, sort_direction="desc") == newest


@pytest.mark.parametrize("role", ["concentrated", "large"])
def test_project_filter_partitions_the_batches(client, reg, role):
    org = reg.buyers[role]
    everything = nodes(client, batches_path(org), org)
    union = []
    for row in reg.credit_balance(org)["project_balances"]:
        part = nodes(client, batches_path(org), org, project_id=row["project_id"])
        assert part and {b["project_id"] for b in part} == {row["project_id"]}
        kgs = sum(b["size"]["credit_kgs"] for b in part)
        assert kgs == row["total"]["active_credits_total"]["credit_kgs"] + row["total"][
            "retired_credits_total"]["credit_kgs"]
        union += part
    assert sorted(ids(union)) == sorted(ids(everything))
    assert len(union) == len(everything)


def test_status_filter(client, reg):
    org = reg.buyers["large"]
    everything = reg.credit_batches(org, include_split=True)
    by_status = Counter(b["status"] for b in everything)
    assert by_status["split"] > 0
    default = ok(client, batches_path(org), org)["total_count"]
    assert default == by_status["active"] + by_status["retired"] == len(reg.credit_batches(org))
    split = nodes(client, batches_path(org), org, status="split")
    assert split == [b for b in everything if b["status"] == "split"][::-1]
    for statuses in (["active"], ["retired", "split"], ["active", "retired", "split"]):
        listed = nodes(client, batches_path(org), org, status=statuses)
        assert listed == [b for b in everything if b["status"] in statuses][::-1]
    repeated = ok(client, batches_path(org), org, status=["split", "split"])
    assert repeated["total_count"] == by_status["split"]


@pytest.mark.parametrize("field", ["supplier_id", "issuance_id", "delivery_id",
                                   "retirement_id"])
def test_id_filters(client, reg, field):
    org = reg.buyers["large"]
    everything = reg.credit_batches(org, include_split=True)
    values = Counter(b[field] for b in everything if b["status"] != "split" and b[field])
    for value, _count in values.most_common(3):
        listed = nodes(client, batches_path(org), org, **{field: value})
        assert listed == [b for b in everything
                          if b[field] == value and b["status"] != "split"][::-1]
    tried = 0
    for status in ("split", "active", "retired"):  # filters intersect
        candidates = [b[field] for b in everything if b[field] and b["status"] == status]
        if candidates:
            wanted = {field: candidates[0]}
            listed = nodes(client, batches_path(org), org, status=status, **wanted)
            assert listed and all(b[field] == candidates[0] and b["status"] == status
                                  for b in listed)
            tried += 1
    assert tried
    value = values.most_common(1)[0][0]
    missing = {"active", "retired", "split"} - {b["status"] for b in everything
                                                if b[field] == value}
    if missing:
        assert nodes(client, batches_path(org), org, status=sorted(missing),
                     **{field: value}) == []


@pytest.mark.parametrize("role", ["concentrated", "typical", "large"])
def test_order_filter_matches_the_order_balances(client, reg, role):
    org = reg.buyers[role]
    union = []
    for row in reg.credit_balance(org)["order_balances"]:
        part = nodes(client, batches_path(org), org, order_id=row["order_id"])
        expected = {status: row["total"][f"{status}_credits_total"]["credit_kgs"]
                    for status in ("active", "retired")}
        got = Counter()
        for b in part:
            got[b["status"]] += b["size"]["credit_kgs"]
        assert dict(got) == {k: v for k, v in expected.items() if v}
        union += part
    # Only the typical buyer's transferred batch belongs to no order.
    rest = set(ids(reg.credit_batches(org))) - set(ids(union))
    assert len(rest) == (1 if role == "typical" else 0)
    assert nodes(client, batches_path(org), org, order_id="ord_1ZZZZZZZZZZZZZZZ") == []


def test_issued_after_and_before_are_strict(client, reg):
    org = reg.buyers["diversified"]
    everything = reg.credit_batches(org)
    moments = sorted({datetime.fromisoformat(b["issued_at"]) for b in everything})
    pivot = moments[len(moments) // 2]
    stamp = pivot.isoformat().replace("+00:00", "Z")

    def issued(b):
        return datetime.fromisoformat(b["issued_at"])

    after = nodes(client, batches_path(org), org, issued_after=stamp, sort_direction="asc")
    before = nodes(client, batches_path(org), org, issued_before=stamp, sort_direction="asc")
    assert after == [b for b in everything if issued(b) > pivot]
    assert before == [b for b in everything if issued(b) < pivot]
    at = [b for b in everything if issued(b) == pivot]
    assert len(after) + len(before) + len(at) == len(everything) and at
    # Any offset works; the window between two moments is open at both ends.
    low = (moments[2] + timedelta(hours=2)).astimezone().isoformat()
    window = nodes(client, batches_path(org), org, issued_after=moments[1].isoformat(),
                   issued_before=low, sort_direction="asc")
    assert window == [b for b in everything if moments[1] < issued(b) < moments[2]
                      + timedelta(hours=2)]
    empty = ok(client, batches_path(org), org, issued_after=stamp, issued_before=stamp)
    assert empty["total_count"] == 0


# -- auth ---------------------------------------------------------------------------------------

PRIVATE = ["/organisation", f"/organisations/{ORG}/credit_balance", batches_path(ORG),
           f"/organisations/{ORG}/orders"]
PUBLIC = [f"/organisations/{ORG}", "/projects", f"/projects/{UNKNOWN['prj']}", "/suppliers",
          f"/suppliers/{UNKNOWN['spl']}", "/retirements"]


@pytest.mark.parametrize("path", PRIVATE + PUBLIC)
def test_every_route_needs_the_client_secret(client, path):
    for sent in (headers(secret=None), headers(secret="wrong"), headers(secret="")):
        response = client.get(path, headers=sent)
        assert response.status_code == 401, response.text
        assert "x-client-secret" in response.json()["detail"]
        assert demo.CLIENT_SECRET not in response.text


@pytest.mark.parametrize("path", PRIVATE)
def test_private_routes_need_a_valid_token(client, path):
    no_token = client.get(path, headers=headers(None))
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"] == "Bearer"
    assert "Authorization" in no_token.json()["detail"]
    for value in ("Bearer demo-token-org_1ZZZZZZZZZZZZZZZ", "Bearer ", "Basic abc",
                  demo.access_token(ORG)):
        response = client.get(path, headers={**headers(None), "authorization": value})
        assert response.status_code == 401 and isinstance(response.json()["detail"], str)
    lower = {**headers(None), "authorization": f"bearer {demo.access_token(ORG)}"}
    assert client.get(path, headers=lower).status_code == 200


@pytest.mark.parametrize("path", PRIVATE[1:])
def test_another_organisations_token_is_forbidden(client, reg, path):
    for role in ("diversified", "large", "empty"):
        response = get(client, path, reg.buyers[role])
        assert response.status_code == 403
        detail = response.json()["detail"]
        assert "different organisation" in detail and ORG in detail
        assert "demo-token" not in detail
    # Organisations that are not buyers have no token, so nobody may see their data.
    supplier_org = reg.suppliers()[0]["organisation"]["id"]
    for org in (supplier_org, UNKNOWN["org"]):
        assert get(client, path.replace(ORG, org)).status_code == 403


@pytest.mark.parametrize("path", PUBLIC)
def test_public_routes_take_a_token_or_none(client, path):
    without = client.get(path, headers=headers(None))
    assert without.status_code == 200
    assert get(client, path, demo.registry().buyers["large"]).content == without.content
    bad = client.get(path, headers={**headers(None), "authorization": "Bearer nonsense"})
    assert bad.status_code == 401


# -- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [batches_path(ORG), f"/organisations/{ORG}/orders", "/projects",
                                  "/suppliers", "/retirements"])
@pytest.mark.parametrize(("params", "loc", "kind"), [
    ({"first": 0}, ["query", "first"], "greater_than"),
    ({"first": 51}, ["query", "first"], "less_than_equal"),
    ({"first": -3}, ["query", "first"], "greater_than"),
    ({"first": "ten"}, ["query", "first"], "int_parsing"),
    ({"last": 0}, ["query", "last"], "greater_than"),
    ({"last": 99}, ["query", "last"], "less_than_equal"),
    ({"after": "not a cursor!"}, ["query", "after"], "value_error"),
    ({"before": "%%%"}, ["query", "before"], "value_error"),
    ({"after": ""}, ["query", "after"], "string_too_short"),
    ({"first": 5, "last": 5}, ["query", "last"], "value_error"),
])
def test_bad_paging_is_422(client, path, params, loc, kind):
    detail = problems(get(client, path, **params))
    assert [(p["loc"], p["type"]) for p in detail] == [(loc, kind)]
    assert detail[0]["input"] == str(params[loc[1]])


def test_a_cursor_of_another_list_is_422(client, reg):
    project_cursor = ok(client, "/projects", first=1)["page_info"]["end_cursor"]
    assert locations(get(client, "/suppliers", after=project_cursor)) == [["query", "after"]]
    unknown = base64.urlsafe_b64encode(b"spl_1ZZZZZZZZZZZZZZZ").decode().rstrip("=")
    assert locations(get(client, "/suppliers", before=unknown)) == [["query", "before"]]
    padded = ok(client, "/suppliers", first=1)["page_info"]["end_cursor"] + "=="
    assert locations(get(client, "/suppliers", after=padded)) == [["query", "after"]]
    # A split parent is not in the default list, so its cursor is not valid there.
    org = reg.buyers["large"]
    split = ok(client, batches_path(org), org, status="split", first=1)["page_info"]
    assert locations(get(client, batches_path(org), org, after=split["end_cursor"])) == [
        ["query", "after"]]


@pytest.mark.parametrize("path", ["/organisations/{}", "/organisations/{}/credit_balance",
                                  "/organisations/{}/credit_batches", "/organisations/{}/orders",
                                  "/projects/{}", "/suppliers/{}"])
@pytest.mark.parametrize(("bad", "kind"), [
    ("xyz", "string_too_short"), ("org_" + "A" * 40, "string_too_long"),
    ("ctb_1ZZZZZZZZZZZZZZZ", "value_error"), ("org_1ZZZZZZZ-ZZZZZZZ", "value_error")])
def test_malformed_path_ids_are_422(client, path, bad, kind):
    detail = problems(get(client, path.format(bad)))
    assert [(p["loc"], p["type"], p["input"]) for p in detail] == [(["path", "id"], kind, bad)]


def test_bad_filter_values_are_422_all_at_once(client):
    response = get(client, batches_path(ORG), project_id="xyz", supplier_id=UNKNOWN["prj"],
                   status=["active", "bogus"], issued_after="2024-01-01",
                   issued_before="yesterday", sort_field="retired_at", sort_direction="up",
                   first=0, after="?")
    assert locations(response) == [
        ["query", "supplier_id"], ["query", "project_id"], ["query", "status", 1],
        ["query", "issued_after"], ["query", "issued_before"], ["query", "sort_field"],
        ["query", "sort_direction"], ["query", "first"], ["query", "after"]]
    kinds = {tuple(p["loc"][1:2]): p for p in problems(response)}
    assert kinds[("issued_after",)]["type"] == "timezone_aware"
    assert kinds[("status",)]["msg"] == "Input should be 'active', 'split' or 'retired'"
    assert kinds[("sort_direction",)]["ctx"] == {"expected": "'asc' or 'desc'"}
    retirements = get(client, "/retirements", owner_org_id="prj_1ZZZZZZZZZZZZZZZ",
                      beneficiary_org_id="short")
    assert locations(retirements) == [["query", "owner_org_id"], ["query", "beneficiary_org_id"]]


def test_auth_comes_before_validation_and_validation_before_ownership(client, reg):
    path = "/organisations/xyz/credit_balance"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=headers(None)).status_code == 401
    assert get(client, path, reg.buyers["large"]).status_code == 422
    other = get(client, batches_path(ORG), reg.buyers["large"], first=0)
    assert other.status_code == 422


@pytest.mark.parametrize("path", ["/nope", "/organisations", "/organisations/", "/projects/",
                                  f"/organisations/{ORG}/credit_balance/extra",
                                  f"/organisations/{ORG}/transfers", "/organisations//orders",
                                  "/credit_batches"])
def test_unknown_routes_are_404(client, path):
    response = get(client, path)
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    assert client.post(path).status_code == 404  # no route: 404 before 405, as in Starlette


def test_outside_the_base_path_is_404(client):
    for url in ("https://demo.isoanalytics.invalid/projects",
                "https://demo.isoanalytics.invalid/registry/v1/projects",
                "https://demo.isoanalytics.invalid/registry/v0"):
        assert client.get(url, headers=headers()).status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@pytest.mark.parametrize("path", PRIVATE + PUBLIC)
def test_other_methods_are_405(client, method, path):
    response = client.request(method, path, headers=headers())
    assert response.status_code == 405 and response.headers["allow"] == "GET"
    if method != "HEAD":
        assert response.json() == {"detail": "Method Not Allowed"}


# -- serving: other registries, other mounts, concurrency ---------------------------------------

def test_serves_another_registry_and_base_path():
    other = demo.generate(demo.DEFAULT_SEED + 1)
    handler = DemoHandler(other, base_path="/api/")
    assert handler.registry is other and handler.base_path == "/api"
    with httpx.Client(transport=httpx.MockTransport(handler),
                      base_url="http://127.0.0.1:8123/api") as session:
        assert ok(session, "/suppliers", None, first=50)["nodes"] == other.suppliers()
        body = ok(session, f"/organisations/{ORG}/credit_balance")
        assert body == other.credit_balance(ORG) != demo.registry().credit_balance(ORG)
        assert get(session, "/registry/v0/suppliers").status_code == 404


def test_handler_reads_only_method_path_query_and_headers():
    handle = DemoHandler()
    request = httpx.Request("GET", "http://localhost:9/registry/v0/projects?first=2",
                            headers=headers(), content=b"ignored")
    again = httpx.Request("GET", "https://elsewhere.example/registry/v0/projects",
                          params={"first": 2}, headers=headers())
    assert handle(request).content == handle(again).content
    assert len(handle(request).json()["nodes"]) == 2


def test_threads_get_the_same_answers(reg):
    org = reg.buyers["large"]
    handle = DemoHandler()
    paths = [f"/organisations/{org}/credit_balance", "/projects", "/retirements",
             f"/organisations/{org}/orders", batches_path(org)] * 8
    with httpx.Client(transport=httpx.MockTransport(handle), base_url=demo.BASE_URL) as session:
        expected = {path: get(session, path, org, first=50).content for path in paths}
        with ThreadPoolExecutor(max_workers=8) as pool:
            got = list(pool.map(lambda path: (path, get(session, path, org, first=50).content),
                                paths))
    assert all(content == expected[path] for path, content in got)


def test_async_client_pages_every_buyer_concurrently(reg):
    async def collect(session: httpx.AsyncClient, org: str) -> list[str]:
        found, after = [], None
        while True:
            params = {"first": 50, **({"after": after} if after else {})}
            response = await session.get(batches_path(org), params=params, headers=headers(org))
            assert response.status_code == 200, response.text
            page = response.json()
            found += ids(page["nodes"])
            if not page["page_info"]["has_next_page"]:
                return found
            after = page["page_info"]["end_cursor"]

    async def main() -> dict[str, list[str]]:
        async with httpx.AsyncClient(transport=transport(), base_url=demo.BASE_URL) as session:
            orgs = list(reg.buyers.values())
            results = await asyncio.gather(*(collect(session, org) for org in orgs))
            forbidden = await session.get(batches_path(ORG), headers=headers(orgs[1]))
            assert forbidden.status_code == 403
        return dict(zip(orgs, results, strict=True))

    for org, found in asyncio.run(main()).items():
        assert found == ids(reg.credit_batches(org))[::-1]


# -- contract -----------------------------------------------------------------------------------

def spec() -> dict:
    if not OPENAPI.exists():
        pytest.skip(f"contract tests need the API description at {OPENAPI}, which is absent")
    return json.loads(OPENAPI.read_text(encoding="utf-8"))


def test_routes_match_the_api_description():
    document = spec()
    prefix = "#/components/schemas/"
    for route, name in SCHEMAS.items():
        operation = document["paths"][route]["get"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        if route in NULLABLE:
            assert schema["anyOf"] == [{"$ref": prefix + name}, {"type": "null"}], route
        else:
            assert schema == {"$ref": prefix + name}, route
        error = operation["responses"]["422"]["content"]["application/json"]["schema"]
        assert error == {"$ref": prefix + "HTTPValidationError"}
        parameters = {(p["in"], p["name"]) for p in operation["parameters"]}
        assert {name for where, name in parameters if where == "query"} == QUERY.get(route, set())
        assert ("header", "x-client-secret") in parameters
        assert operation["security"] == [{"HTTPBearer": []}]
    batches = document["paths"]["/organisations/{id}/credit_batches"]["get"]["parameters"]
    defaults = {p["name"]: p["schema"].get("default") for p in batches}
    assert defaults["first"] == defaults["last"] == 10
    assert defaults["sort_field"] == "issued_at" and defaults["sort_direction"] == "desc"
    servers = {httpx.URL(s["url"]).path for s in document["servers"]}
    assert servers == {httpx.URL(demo.BASE_URL).path}
    schemas = document["components"]["schemas"]
    assert schemas["CreditBatchStatus"]["enum"] == ["active", "split", "retired"]
    assert schemas["SortDirection"]["enum"] == ["asc", "desc"]
    assert schemas["CreditBatchSortField"]["enum"] == ["issued_at"]


def test_every_route_answers_by_its_schema(client, reg, openapi_validator):
    for org in reg.buyers.values():
        openapi_validator("Organisation", ok(client, "/organisation", org))
        openapi_validator("Organisation", ok(client, f"/organisations/{org}", None))
        openapi_validator("OrganisationCreditBalance",
                          ok(client, f"/organisations/{org}/credit_balance", org))
        for page in pages(client, f"/organisations/{org}/orders", org, first=7):
            openapi_validator("PaginatedListResource_Order_", page)
        first = ok(client, batches_path(org), org, status=["active", "retired", "split"])
        openapi_validator("PaginatedListResource_CreditBatch_", first)
    for path, name in (("/projects", "Project"), ("/suppliers", "Supplier"),
                       ("/retirements", "Retirement")):
        listed = pages(client, path, None, first=50)
        for page in listed:
            openapi_validator(f"PaginatedListResource_{name}_", page)
        if path != "/retirements":
            some = listed[-1]["nodes"][-1]
            openapi_validator(name, ok(client, f"{path}/{some['id']}", None))
    supplier_org = reg.suppliers()[0]["organisation"]["id"]
    openapi_validator("Organisation", ok(client, f"/organisations/{supplier_org}", None))


def test_every_page_of_the_large_buyer_matches_the_schema(client, reg, openapi_validator):
    org = reg.buyers["large"]
    listed = pages(client, batches_path(org), org, first=50, status=["active", "retired", "split"])
    assert sum(len(page["nodes"]) for page in listed) == len(
        reg.credit_batches(org, include_split=True))
    for page in listed:
        openapi_validator("PaginatedListResource_CreditBatch_", page)
    for page in pages(client, "/retirements", None, first=50, owner_org_id=org):
        openapi_validator("PaginatedListResource_Retirement_", page)


def test_error_bodies_match_the_schema(client, openapi_validator):
    bad = [
        get(client, "/projects", first=0), get(client, "/suppliers", first=51),
        get(client, "/retirements", after="nonsense", owner_org_id="x"),
        get(client, "/organisations/xyz/credit_balance"),
        get(client, "/projects/ctb_1ZZZZZZZZZZZZZZZ"),
        get(client, batches_path(ORG), status="bogus", issued_after="2024-01-01",
            project_id="prj_", sort_direction="up", last=5, first=5),
    ]
    for response in bad:
        problems(response)
        openapi_validator("HTTPValidationError", response.json())
    for response in (client.get("/projects"), get(client, "/nope"), client.post("/projects"),
                     get(client, f"/organisations/{ORG}/orders", demo.registry().buyers["large"])):
        assert response.status_code in (401, 403, 404, 405)
        assert set(response.json()) == {"detail"} and isinstance(response.json()["detail"], str)
