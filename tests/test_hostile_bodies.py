"""A hostile registry's bodies: endless pages, deep nesting, numbers too big (issue 12, items 3-4).

Each test serves one misbehaviour from a loopback server that records every request, and
checks the package's error (PaginationError or SchemaError, naming the endpoint and path) and,
for pages, how many requests the misbehaviour cost: bounded by ``total_count``.
"""

from __future__ import annotations

import copy
import functools
import json

import pandas as pd
import pytest

import isoanalytics as ia
from isoanalytics import demo
from isoanalytics.registry.http import PAGE_SIZE

from .recording_server import page, recording_server

REGISTRY = demo.registry()
ORG = REGISTRY.buyers["typical"]
RETIREMENT = REGISTRY.retirements()[0]
SERVER_CAP = 400  # pages a misbehaving route serves before it gives up, so old code ends too


def retirement(number: int) -> dict:
    record = copy.deepcopy(RETIREMENT)
    record["id"] = f"ret_1PAGE{number:011d}"
    return record


@pytest.fixture(scope="module")
def server():
    with recording_server() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(server):
    server.reset()


def client(server, **options) -> ia.RegistryClient:
    return ia.RegistryClient(**server.client_options(**options))


# -- pages ---------------------------------------------------------------------------------------

def endless(per_page: int, total_count: int):
    """Fresh ids and cursors on every page, has_next_page always true, total_count fixed."""
    def respond(query: dict) -> bytes:
        number = int(query.get("after", ["0"])[0])
        nodes = [retirement(number * per_page + index) for index in range(per_page)]
        return page(nodes, total_count, has_next=number + 1 < SERVER_CAP,
                    end_cursor=str(number + 1))
    return respond


@pytest.mark.parametrize(("per_page", "total_count", "requests"), [
    (2, 5, 3),     # the case: pages 1 and 2 hold 4, page 3 would make 6
    (1, 5, 6),     # one record a page: the sixth page is one too many
    (10, 5, 1),    # the first page alone is more than the list
    (50, 120, 3),  # full pages: the third takes 150 past 120
    (1, 0, 1),     # an empty list that claims a next page with a record
])
def test_pages_beyond_total_count_stop_at_once(server, per_page, total_count, requests):
    server.routes["/retirements"] = endless(per_page, total_count)
    with client(server) as registry, pytest.raises(ia.PaginationError) as caught:
        registry.retirements()
    assert f"total_count says {total_count}" in str(caught.value)
    assert caught.value.endpoint.startswith("GET /retirements (page ")
    assert len(server.requests) == requests


def test_a_page_larger_than_asked_for_is_refused(server):
    server.routes["/retirements"] = page([retirement(n) for n in range(3 * PAGE_SIZE)])
    with client(server) as registry, pytest.raises(ia.PaginationError,
                                                   match=f"more than the {PAGE_SIZE} asked for"):
        registry.retirements()
    assert len(server.requests) == 1


def test_the_page_bound_holds_for_credit_batches_listed_per_project_too(server):
    # The organisation's batches, first page and then the chain, both from the endless route.
    batch = REGISTRY.credit_batches(ORG)[0]

    def respond(query: dict) -> bytes:
        number = int(query.get("after", ["0"])[0])
        nodes = []
        for index in range(2):
            record = copy.deepcopy(batch)
            record["id"] = f"ctb_1PAGE{number * 2 + index:011d}"
            nodes.append(record)
        return page(nodes, 5, has_next=number + 1 < SERVER_CAP, end_cursor=str(number + 1))

    server.routes[f"/organisations/{ORG}/credit_batches"] = respond
    with client(server) as registry, pytest.raises(ia.PaginationError):
        registry.credit_batches(ORG, by_project=False)
    assert len(server.requests) == 3


def test_short_pages_that_add_up_are_read_in_full(server):
    # A server may send fewer than `first`: every page but the last brings a record, so the
    # bound (total_count + 1 requests) never refuses an honest list.
    records = [retirement(n) for n in range(7)]

    def respond(query: dict) -> bytes:
        start = int(query.get("after", ["0"])[0])
        return page(records[start:start + 1], 7, has_next=start + 1 < 7,
                    end_cursor=str(start + 1))

    server.routes["/retirements"] = respond
    with client(server) as registry:
        frame = registry.retirements()
    assert frame["id"].tolist() == [record["id"] for record in records]
    assert len(server.requests) == 7


@pytest.mark.parametrize("total_count", ["10" + "0" * 30, "9223372036854775808", "-1", "5.0"])
def test_a_total_count_beyond_int64_is_a_schema_error(server, total_count):
    body = page([retirement(0)], 1).replace(b'"total_count": 1', f'"total_count": {total_count}'
                                            .encode())
    server.routes["/retirements"] = body
    server.routes[f"/organisations/{ORG}/credit_batches"] = body
    with client(server) as registry:
        with pytest.raises(ia.SchemaError) as caught:
            registry.retirements()
        assert caught.value.path == "total_count"
        with pytest.raises(ia.SchemaError) as caught:
            registry.credit_batches(ORG)
        assert caught.value.path == "total_count"


# -- depth ---------------------------------------------------------------------------------------

def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def with_raw(record: dict, key: str, raw: str) -> str:
    """``record`` as JSON text with ``raw`` (any JSON text) as the value of ``key``."""
    return json.dumps({**record, key: "__RAW__"}).replace('"__RAW__"', raw)


SINGLE = {  # endpoint -> (client call, a valid body for it)
    f"/organisations/{ORG}": (lambda c: c.organisation(ORG), REGISTRY.organisation(ORG)),
    "/organisation": (lambda c: c.current_organisation(), REGISTRY.organisation(ORG)),
    f"/projects/{REGISTRY.projects()[0]['id']}": (
        lambda c: c.project(REGISTRY.projects()[0]["id"]), REGISTRY.projects()[0]),
    f"/suppliers/{REGISTRY.suppliers()[0]['id']}": (
        lambda c: c.supplier(REGISTRY.suppliers()[0]["id"]), REGISTRY.suppliers()[0]),
}
LISTS = {  # endpoint -> (client call, a valid record)
    f"/organisations/{ORG}/credit_batches": (lambda c: c.credit_batches(ORG, by_project=False),
                                             REGISTRY.credit_batches(ORG)[0]),
    f"/organisations/{ORG}/orders": (lambda c: c.orders(ORG), REGISTRY.orders(ORG)[0]),
    "/projects": (lambda c: c.projects(), REGISTRY.projects()[0]),
    "/suppliers": (lambda c: c.suppliers(), REGISTRY.suppliers()[0]),
    "/retirements": (lambda c: c.retirements(), RETIREMENT),
}


def _assert_too_deep(error: ia.SchemaError, endpoint: str) -> None:
    assert error.path == "$"
    assert "more than 1024 levels deep" in str(error)
    assert error.endpoint.startswith(f"GET {endpoint}")


def _too_deep_or_ignored(call, endpoint: str, levels: int, shallow) -> None:
    """A deep value in an unknown field: refused as too deep, or, where the decoder of this
    Python reads that deep (msgspec on 3.12+ reads past 1024 levels in a value it skips),
    ignored like any unknown field, the result equal to the body's without it. Beyond what
    any decoder reads (100,000 levels) it is always refused."""
    try:
        result = call()
    except ia.SchemaError as error:
        _assert_too_deep(error, endpoint)
        return
    assert levels < 100_000, "a body 100,000 levels deep was read"
    if isinstance(result, pd.DataFrame):
        pd.testing.assert_frame_equal(result, shallow)
    elif isinstance(result, dict):
        assert {key: value for key, value in result.items() if key != "unknown"} == shallow
    else:
        assert result == shallow


@pytest.mark.parametrize("levels", [1025, 5_000, 100_000])
def test_a_deeply_nested_balance_is_a_schema_error(server, levels):
    endpoint = f"/organisations/{ORG}/credit_balance"
    with client(server) as registry:
        server.routes[endpoint] = deep(levels).encode()
        with pytest.raises(ia.SchemaError) as caught:
            registry.credit_balance(ORG)
        _assert_too_deep(caught.value, endpoint)
        assert caught.value.organisation_id == ORG
        server.routes[endpoint] = json.dumps(REGISTRY.credit_balance(ORG)).encode()
        shallow = registry.credit_balance(ORG)
        server.routes[endpoint] = with_raw(REGISTRY.credit_balance(ORG), "unknown",
                                           deep(levels)).encode()
        _too_deep_or_ignored(lambda: registry.credit_balance(ORG), endpoint, levels, shallow)


@pytest.mark.parametrize("endpoint", [*SINGLE, *LISTS])
def test_deep_nesting_in_any_record_kind_is_a_schema_error(server, endpoint):
    with client(server) as registry:
        for levels in (5_000, 100_000):
            if endpoint in SINGLE:
                call, record = SINGLE[endpoint]
                shallow_body = json.dumps(record)
                body = with_raw(record, "unknown", deep(levels))
            else:
                call, record = LISTS[endpoint]
                shallow_body = page([record]).decode()
                body = page([json.loads("{}")]).decode().replace(
                    "{}", with_raw(record, "unknown", deep(levels)))
            server.routes[endpoint] = shallow_body.encode()
            shallow = call(registry)
            server.routes[endpoint] = body.encode()
            _too_deep_or_ignored(functools.partial(call, registry), endpoint, levels, shallow)


def test_fetch_balances_makes_a_deep_balance_one_failure(server):
    organisations = list(demo.accounts())[:3]
    for org in organisations:
        body = json.dumps(REGISTRY.credit_balance(org))
        if org == organisations[1]:
            body = with_raw(REGISTRY.credit_balance(org), "unknown", deep(100_000))
        server.routes[f"/organisations/{org}/credit_balance"] = body.encode()
    result = ia.fetch_balances({org: "recorded-token" for org in organisations}, progress=False,
                               **server.client_options())
    assert result.failures["organisation_id"].tolist() == [organisations[1]]
    assert result.failures["error"].tolist() == ["SchemaError"]
    assert sorted(result.balances) == sorted(organisations[::2])


# -- numbers -------------------------------------------------------------------------------------

def _project_list(key: str, raw: str) -> bytes:
    record = copy.deepcopy(REGISTRY.projects()[0])
    record["location"] = record["location"] or {"country_code": "USA", "country_name": "USA",
                                                "latitude": 0.0, "longitude": 0.0,
                                                "description": None}
    record["location"][key] = "__RAW__"
    return page([record]).replace(b'"__RAW__"', raw.encode())


@pytest.mark.parametrize("raw", ["1" * 400, "-" + "9" * 400, "1" * 400 + ".5", "1e400",
                                 "NaN", "Infinity", "-Infinity", "180.0000001"])
@pytest.mark.parametrize("key", ["latitude", "longitude"])
def test_a_coordinate_no_float_holds_is_a_schema_error_naming_its_path(server, key, raw):
    server.routes["/projects"] = _project_list(key, raw)
    supplier = copy.deepcopy(REGISTRY.suppliers()[0])
    supplier["location"] = {"country_code": "USA", "country_name": "USA", "latitude": 0,
                            "longitude": 0, "description": None, key: "__RAW__"}
    server.routes["/suppliers"] = page([supplier]).replace(b'"__RAW__"', raw.encode())
    with client(server) as registry:
        for call in (registry.projects, registry.suppliers):
            with pytest.raises(ia.SchemaError) as caught:
                call()
            assert caught.value.path == f"nodes[0].location.{key}"
            assert "expected a number from" in str(caught.value)


@pytest.mark.parametrize(("raw", "problem"), [
    ("18446744073709551616", "beyond the 64-bit integer range"),  # orjson reads it as a float
    ("-9223372036854775809", "beyond the 64-bit integer range"),
    ("1" * 400, "beyond the 64-bit integer range"),
    ("1e400", "expected an integer"),
])
def test_an_integer_beyond_int64_is_a_schema_error_naming_its_path(server, raw, problem):
    batch = copy.deepcopy(next(b for b in REGISTRY.credit_batches(ORG) if b["carbon_removal_data"]))
    batch["carbon_removal_data"]["gross_carbon_removed_kg"] = "__RAW__"
    server.routes[f"/organisations/{ORG}/credit_batches"] = page([batch]).replace(
        b'"__RAW__"', raw.encode())
    with client(server) as registry, pytest.raises(ia.SchemaError) as caught:
        registry.credit_batches(ORG, by_project=False)
    assert caught.value.path == "nodes[0].carbon_removal_data.gross_carbon_removed_kg"
    assert problem in str(caught.value)


def test_a_number_too_long_for_python_to_read_is_a_schema_error(server):
    # Beyond 4,300 digits Python refuses to convert an integer literal (a plain ValueError).
    body = with_raw(REGISTRY.credit_balance(ORG), "unknown", "1" * 5_000)
    server.routes[f"/organisations/{ORG}/credit_balance"] = body.encode()
    with client(server) as registry, pytest.raises(ia.SchemaError) as caught:
        registry.credit_balance(ORG)
    assert caught.value.path == "$"
    assert caught.value.organisation_id == ORG
