"""The registry client against real HTTP servers on loopback (pytest-httpserver) and the demo."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time

import httpx
import pandas as pd
import pytest
from werkzeug import Request, Response

import isoanalytics as ia
from isoanalytics import demo
from isoanalytics.registry.http import PAGE_SIZE

from .benchmarks._slow_registry import BENCH_ORGANISATION, application
from .loopback import BASE_PATH, serve_demo, stopped_url

SECRET = "SECRET-7f3a9c1e-never-shown"
TOKEN = "TOKEN-eyJhbGciOi-never-shown"
ORG = "org_1TESTORGANISATION1"
LARGE = demo.registry().buyers["large"]


@pytest.fixture
def demo_url(server):
    return serve_demo(server)


class _Waits(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.scheduled: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "retry_wait"):
            self.scheduled.append(record.retry_wait)


@pytest.fixture
def waits():
    """The waits the client schedules between attempts (one record per retry on its logger)."""
    handler = _Waits()
    package = logging.getLogger("isoanalytics")
    level = package.level
    package.addHandler(handler)
    package.setLevel(logging.DEBUG)
    yield handler.scheduled
    package.removeHandler(handler)
    package.setLevel(level)


def live(url: str, **options) -> ia.RegistryClient:
    options = {"client_secret": SECRET, "access_token": TOKEN, "base_url": url,
               "backoff_initial": 0.01, "backoff_max": 0.05, **options}
    return ia.RegistryClient(**options)


def scripted(server, path: str, *answers: tuple[int, object, dict] | Response) -> list[float]:
    """Answer requests to ``path`` with ``answers`` in turn (the last one repeats)."""
    seen: list[float] = []
    queue = list(answers)

    def respond(request: Request) -> Response:
        seen.append(time.monotonic())
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Response):
            return answer
        status, body, headers = answer
        return Response(json.dumps(body), status=status, headers=headers,
                        content_type="application/json")

    server.expect_request(BASE_PATH + path).respond_with_handler(respond)
    return seen


def balance_body(kgs: int = 5000) -> dict:
    quantity = {"credit_kgs": kgs, "credits": kgs / 1000}
    zero = {"credit_kgs": 0, "credits": 0.0}
    total = {"active_credits_total": quantity, "retired_credits_total": zero}
    return {"total": total,
            "project_balances": [{"project_id": "prj_1AAAAAAAAAAAAAAAA", "total": total}],
            "supplier_balances": [{"supplier_id": "spl_1AAAAAAAAAAAAAAAA", "total": total}],
            "order_balances": []}


# -- the demo registry, in process and over real HTTP ----------------------------------------


def test_demo_client_reads_the_demo_registry():
    registry = demo.registry()
    with ia.RegistryClient.demo() as client:
        assert client.environment == "demo"
        balance = client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
        assert balance == ia.parse_balance(registry.credit_balance(demo.DEFAULT_ORGANISATION_ID),
                                           organisation_id=demo.DEFAULT_ORGANISATION_ID)
        assert client.current_organisation()["id"] == demo.DEFAULT_ORGANISATION_ID
        assert len(client.projects()) == len(registry.projects())
        assert len(client.suppliers()) == len(registry.suppliers())
        orders = client.orders(demo.DEFAULT_ORGANISATION_ID)
        assert list(orders["id"]) == [order["id"] for order in
                                      registry.orders(demo.DEFAULT_ORGANISATION_ID)]
        assert client.supplier(registry.suppliers()[0]["id"])["organisation"]["name"]
        with pytest.raises(ia.NotFoundError):
            client.project("prj_0000000000000000000")


def test_demo_async_client_matches_the_sync_one():
    async def read():
        async with ia.AsyncRegistryClient.demo() as client:
            return (await client.credit_balance(LARGE),
                    await client.credit_batches(LARGE, status="retired"))

    balance, retired = asyncio.run(read())
    with ia.RegistryClient.demo() as client:
        assert balance == client.credit_balance(LARGE)
        pd.testing.assert_frame_equal(retired, client.credit_batches(LARGE, status="retired"))


def test_listed_per_project_none_is_lost(server, demo_url):
    registry = demo.registry()
    with live(demo_url, client_secret=demo.CLIENT_SECRET, access_token=None,
              access_tokens=demo.accounts()) as client:
        batches = client.credit_batches(LARGE, by_project=True)
    expected = registry.credit_batches(LARGE)
    assert sorted(batches["id"]) == sorted(batch["id"] for batch in expected)
    assert batches["credit_kgs"].sum() == sum(batch["size"]["credit_kgs"] for batch in expected)
    assert batches["credit_kgs"].dtype == "int64"
    assert str(batches["issued_at"].dt.tz) == "UTC"
    paths = [request.args.get("project_id") for request, _ in server.log
             if request.path.endswith("/credit_batches")]
    held = set(ia.parse_balance(registry.credit_balance(LARGE)).entity_ids("project"))
    assert set(filter(None, paths)) == held  # one list per project the balance names
    assert all(request.method == "GET" for request, _ in server.log)


def test_by_default_per_project_only_when_it_saves_round_trips(server):
    # 3 projects x 200 batches: 12 pages along one chain, 4 rounds per project.
    server.expect_request(re.compile(f"^{BASE_PATH}/.*")).respond_with_handler(
        application(delay=0, batch_count=600, project_count=3))
    with live(server.url_for(BASE_PATH)) as client:
        per_project = client.credit_batches(BENCH_ORGANISATION)
        asked = [request.args.get("project_id") for request, _ in server.log
                 if request.path.endswith("/credit_batches")]
        chain = client.credit_batches(BENCH_ORGANISATION, by_project=False)
    assert len(set(filter(None, asked))) == 3
    pd.testing.assert_frame_equal(per_project, chain)
    assert len(chain) == 600 and chain["id"].is_unique


def test_many_small_projects_keep_the_chain(server, demo_url):
    # The large demo buyer: 3,093 batches over 540 projects, so 62 pages beat 540 requests.
    with live(demo_url, client_secret=demo.CLIENT_SECRET, access_token=None,
              access_tokens=demo.accounts()) as client:
        batches = client.credit_batches(LARGE)
    assert len(batches) == len(demo.registry().credit_batches(LARGE))
    assert not any(request.args.get("project_id") for request, _ in server.log)


def test_a_short_list_follows_the_cursor_chain(server, demo_url):
    organisation_id = demo.registry().buyers["typical"]
    with live(demo_url, client_secret=demo.CLIENT_SECRET,
              access_token=demo.access_token(organisation_id)) as client:
        batches = client.credit_batches(organisation_id)
    assert len(batches) == len(demo.registry().credit_batches(organisation_id))
    assert not any(request.args.get("project_id") for request, _ in server.log)
    assert list(batches["issued_at"]) == sorted(batches["issued_at"], reverse=True)


def test_requests_carry_the_credentials_as_headers_only(server):
    scripted(server, f"/organisations/{ORG}/credit_balance", (200, balance_body(), {}))
    with live(server.url_for(BASE_PATH)) as client:
        client.credit_balance(ORG)
    request = server.log[0][0]
    assert request.headers["x-client-secret"] == SECRET
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"].startswith("isoanalytics/")
    assert SECRET not in request.url and TOKEN not in request.url


def test_a_token_is_chosen_per_organisation(server, demo_url):
    accounts = demo.accounts()
    with live(demo_url, client_secret=demo.CLIENT_SECRET, access_token=None,
              access_tokens=accounts) as client:
        for organisation_id in accounts:
            assert client.credit_balance(organisation_id).organisation_id == organisation_id
    sent = {request.path.split("/")[-2]: request.headers["authorization"]
            for request, _ in server.log}
    assert sent == {org: f"Bearer {token}" for org, token in accounts.items()}


# -- credentials and configuration --------------------------------------------------------------


def test_a_missing_secret_names_the_variable_before_any_request(server):
    with pytest.raises(ia.MissingCredentialsError, match="ISOMETRIC_CLIENT_SECRET") as caught:
        ia.RegistryClient(base_url=server.url_for(BASE_PATH))
    assert caught.value.variable == "ISOMETRIC_CLIENT_SECRET"
    assert "demo()" in str(caught.value)
    assert server.log == []


def test_a_missing_token_names_the_variable_before_any_request(server):
    with (
        live(server.url_for(BASE_PATH), access_token=None) as client,
        pytest.raises(ia.MissingCredentialsError, match="ISOMETRIC_ACCESS_TOKEN"),
    ):
        client.credit_balance(ORG)
    assert server.log == []


def test_credentials_and_environment_come_from_the_variables(monkeypatch):
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("ISOMETRIC_ENVIRONMENT", "production")
    with ia.RegistryClient() as client:
        assert client.base_url == "https://api.isometric.com/registry/v0"
    with ia.RegistryClient("sandbox") as client:
        assert client.base_url == "https://api.sandbox.isometric.com/registry/v0"
    monkeypatch.setenv("ISOMETRIC_ENVIRONMENT", "staging")
    with pytest.raises(ValueError, match="ISOMETRIC_ENVIRONMENT"):
        ia.RegistryClient()


def test_a_portfolios_tokens_come_from_one_variable(server, monkeypatch):
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", demo.CLIENT_SECRET)
    monkeypatch.setenv("ISOMETRIC_BASE_URL", serve_demo(server))
    buyers = list(demo.registry().buyers.values())[:3]
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKENS", " ,\n".join(
        f"{org}={demo.access_token(org)}" for org in buyers))
    with ia.RegistryClient() as client:
        fetched = ia.fetch_balances(buyers, client=client, progress=False)
    assert fetched.ok and list(fetched.balances) == buyers
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKENS", f"{buyers[0]}=a-secret-value,{buyers[1]}")
    with pytest.raises(ia.MissingCredentialsError, match="entry 2 is not organisation_id=token") \
            as caught:
        ia.RegistryClient()
    assert "a-secret-value" not in str(caught.value)


@pytest.mark.parametrize("url", ["http://api.example.com/registry/v0", "ftp://127.0.0.1/x",
                                 "not a url"])
def test_a_secret_never_travels_in_clear_text(url):
    with pytest.raises(ValueError, match="base_url"):
        ia.RegistryClient(client_secret=SECRET, base_url=url)


@pytest.mark.parametrize("bad", ["../../credit_balance", "org_1", 42, "prj_1AAAAAAAAAAAAAAAA"])
def test_malformed_ids_are_refused_before_any_request(server, bad):
    with (
        live(server.url_for(BASE_PATH)) as client,
        pytest.raises(ValueError, match="organisation id"),
    ):
        client.credit_balance(bad)
    assert server.log == []


def test_unknown_filters_and_bad_values_are_refused(server):
    with live(server.url_for(BASE_PATH)) as client:
        with pytest.raises(TypeError, match="project_id"):
            client.credit_batches(ORG, projectid="prj_1AAAAAAAAAAAAAAAA")
        with pytest.raises(ValueError, match="status"):
            client.credit_batches(ORG, status="gone")
        with pytest.raises(ValueError, match="timezone"):
            client.credit_batches(ORG, issued_after="2025-01-01T00:00:00")
    assert server.log == []


# -- errors and retries -------------------------------------------------------------------------


@pytest.mark.parametrize("status, error, words", [
    (401, ia.AuthenticationError, "a year"),
    (403, ia.PermissionDeniedError, "scoped to one organisation"),
    (404, ia.NotFoundError, "check the id"),
    (400, ia.UnexpectedStatusError, "unexpected status 400"),
    (302, ia.UnexpectedStatusError, "unexpected status 302"),
])
def test_each_status_has_its_error(server, status, error, words):
    seen = scripted(server, f"/organisations/{ORG}/credit_balance",
                    (status, {"detail": "no"}, {"location": "https://elsewhere.example/"}))
    with live(server.url_for(BASE_PATH)) as client, pytest.raises(error, match=words) as caught:
        client.credit_balance(ORG)
    assert len(seen) == 1  # never retried, never redirected
    assert caught.value.status_code == status
    assert caught.value.organisation_id == ORG
    assert f"GET /organisations/{ORG}/credit_balance" in str(caught.value)


def test_a_422_quotes_the_apis_detail(server):
    detail = [{"loc": ["query", "first"], "msg": "Input should be less than or equal to 50",
               "type": "less_than_equal", "input": "51"}]
    scripted(server, "/projects", (422, {"detail": detail}, {}))
    with live(server.url_for(BASE_PATH)) as client, pytest.raises(ia.UnprocessableEntityError,
                       match="query.first: Input should be less than or equal to 50"):
        client.projects()


def test_server_errors_are_retried_with_backoff(server, waits):
    seen = scripted(server, f"/organisations/{ORG}/credit_balance",
                    (503, {"detail": "busy"}, {}), (502, "", {}), (200, balance_body(), {}))
    with live(server.url_for(BASE_PATH)) as client:
        assert client.credit_balance(ORG).active_kgs == 5000
    assert len(seen) == 3 and len(waits) == 2
    assert all(0 < wait <= 0.05 + 0.01 for wait in waits)


def test_retries_stop_after_max_retries(server):
    seen = scripted(server, f"/organisations/{ORG}/credit_balance", (500, {"detail": "down"}, {}))
    with (
        live(server.url_for(BASE_PATH), max_retries=2) as client,
        pytest.raises(ia.ServerError, match="after 3 attempts") as caught,
    ):
        client.credit_balance(ORG)
    assert len(seen) == 3 and caught.value.attempts == 3


def test_retry_after_is_honoured(server, waits):
    seen = scripted(server, f"/organisations/{ORG}/credit_balance",
                    (429, {"detail": "slow down"}, {"Retry-After": "0.2"}),
                    (503, {"detail": "maintenance"}, {"Retry-After": "0.1"}),
                    (200, balance_body(), {}))
    with live(server.url_for(BASE_PATH)) as client:
        client.credit_balance(ORG)
    assert waits == pytest.approx([0.2, 0.1])
    assert seen[1] - seen[0] >= 0.2  # the server saw the second attempt no sooner
    assert seen[2] - seen[1] >= 0.1


def test_rate_limit_beyond_retries_says_so(server):
    scripted(server, f"/organisations/{ORG}/credit_balance",
             (429, {"detail": "slow down"}, {"Retry-After": "0.01"}))
    with (
        live(server.url_for(BASE_PATH), max_retries=1) as client,
        pytest.raises(ia.RateLimitError, match="429") as caught,
    ):
        client.credit_balance(ORG)
    assert caught.value.retry_after == pytest.approx(0.01)
    assert caught.value.attempts == 2


def test_a_retry_after_past_the_deadline_is_not_waited_for(server, waits):
    seen = scripted(server, f"/organisations/{ORG}/credit_balance",
                    (429, {}, {"Retry-After": "3600"}))
    with (
        live(server.url_for(BASE_PATH), retry_deadline=5) as client,
        pytest.raises(ia.RateLimitError, match="3600 s"),
    ):
        client.credit_balance(ORG)
    assert len(seen) == 1 and waits == []


def test_timeouts_are_retried_then_reported(server):
    release = threading.Event()

    def slow(request: Request) -> Response:
        release.wait(2)
        return Response("{}", content_type="application/json")

    server.expect_request(BASE_PATH + "/projects").respond_with_handler(slow)
    with (
        live(server.url_for(BASE_PATH), timeout=0.2, max_retries=1) as client,
        pytest.raises(ia.APITimeoutError, match="within 0.2 s after 2 attempts"),
    ):
        client.projects()
    release.set()


def test_an_unreachable_registry_is_a_connection_error():
    with (
        live(stopped_url(), max_retries=1) as client,
        pytest.raises(ia.APIConnectionError, match="could not reach 127.0.0.1") as caught,
    ):
        client.projects()
    assert not isinstance(caught.value, ia.APITimeoutError)
    assert "demo()" in str(caught.value)


def test_a_body_that_is_not_json_names_the_endpoint(server):
    scripted(server, f"/organisations/{ORG}/credit_balance",
             Response("<html>maintenance</html>", status=200))
    with (
        live(server.url_for(BASE_PATH)) as client,
        pytest.raises(ia.SchemaError, match="not valid JSON") as caught,
    ):
        client.credit_balance(ORG)
    assert caught.value.endpoint == f"GET /organisations/{ORG}/credit_balance"
    assert caught.value.organisation_id == ORG


def test_a_malformed_balance_names_path_endpoint_and_organisation(server):
    body = json.loads(json.dumps(balance_body()))  # no shared sub-objects
    body["supplier_balances"][0]["total"]["active_credits_total"]["credit_kgs"] = -1
    scripted(server, f"/organisations/{ORG}/credit_balance", (200, body, {}))
    with live(server.url_for(BASE_PATH)) as client, pytest.raises(ia.SchemaError) as caught:
        client.credit_balance(ORG)
    message = str(caught.value)
    assert "supplier_balances[0].total.active_credits_total.credit_kgs" in message
    assert f"GET /organisations/{ORG}/credit_balance" in message and ORG in message


def test_null_for_an_unknown_id_is_not_found(server):
    scripted(server, "/suppliers/spl_1AAAAAAAAAAAAAAAA", (200, None, {}))
    with (
        live(server.url_for(BASE_PATH)) as client,
        pytest.raises(ia.NotFoundError, match="answered null"),
    ):
        client.supplier("spl_1AAAAAAAAAAAAAAAA")


# -- pagination -------------------------------------------------------------------------------


def organisations(count: int) -> list[dict]:
    return [{"id": f"org_1PAGE{index:013d}", "name": f"Org {index}", "domain": None}
            for index in range(count)]


def paged(server, path: str, records: list[dict], *, fail_page: int | None = None,
          failures: int = 0, mutate=None) -> list[str]:
    """Serve ``records`` in pages of ``first`` with cursor = index; optionally fail a page."""
    asked: list[str] = []
    failed = {"count": 0}

    def respond(request: Request) -> Response:
        start = int(request.args.get("after", "-1")) + 1
        size = int(request.args["first"])
        page = start // size + 1
        asked.append(request.args.get("after", ""))
        if page == fail_page and failed["count"] < failures:
            failed["count"] += 1
            return Response('{"detail": "hiccup"}', status=503, content_type="application/json")
        nodes = records[start:start + size]
        body = {"nodes": nodes, "total_count": len(records), "page_info": {
            "has_previous_page": start > 0, "start_cursor": str(start) if nodes else None,
            "has_next_page": start + size < len(records),
            "end_cursor": str(start + len(nodes) - 1) if nodes else None}}
        if mutate:
            mutate(body, page)
        return Response(json.dumps(body), content_type="application/json")

    server.expect_request(BASE_PATH + path).respond_with_handler(respond)
    return asked


def retirement(index: int) -> dict:
    org = {"id": "org_1PAGE0000000000000", "name": "Org", "domain": None}
    return {"id": f"ret_1PAGE{index:013d}", "retired_at": "2025-01-01T00:00:00Z",
            "purposes": ["other"], "beneficiary": org, "owner": org,
            "credit_batch_size_total": {"credit_kgs": index + 1, "credits": (index + 1) / 1000},
            "url": "https://registry.example/r", "notes": None}


def test_pages_are_followed_to_the_end(server):
    records = [retirement(index) for index in range(3 * PAGE_SIZE + 7)]
    asked = paged(server, "/retirements", records)
    with live(server.url_for(BASE_PATH)) as client:
        frame = client.retirements()
    assert len(asked) == 4
    assert list(frame["id"]) == [record["id"] for record in records]
    assert frame["retired_kgs"].sum() == sum(range(1, len(records) + 1))


def test_a_page_failing_midway_is_retried_and_nothing_is_lost(server):
    records = [retirement(index) for index in range(4 * PAGE_SIZE)]
    asked = paged(server, "/retirements", records, fail_page=3, failures=2)
    with live(server.url_for(BASE_PATH)) as client:
        frame = client.retirements()
    assert len(frame) == len(records) and frame["id"].is_unique
    assert len(asked) == 6  # 4 pages, page 3 twice more


def test_a_page_failing_for_good_names_the_page(server):
    paged(server, "/retirements", [retirement(index) for index in range(4 * PAGE_SIZE)],
          fail_page=3, failures=99)
    with (
        live(server.url_for(BASE_PATH), max_retries=1) as client,
        pytest.raises(ia.ServerError, match=r"GET /retirements \(page 3\)"),
    ):
        client.retirements()


@pytest.mark.parametrize("mutate, words", [
    (lambda body, page: body["page_info"].update(end_cursor="49"), "cursor page 1 gave, again"),
    (lambda body, page: body["nodes"].__setitem__(0, retirement(0)) if page == 2 else None,
     "arrived again, first seen on page 1"),
    (lambda body, page: body.update(total_count=body["total_count"] + page), "total_count changed"),
    (lambda body, page: body.update(total_count=body["total_count"] + 1), "but total_count says"),
    (lambda body, page: body.update(nodes=[]) if page == 2 else None, "an empty page"),
])
def test_pages_that_do_not_fit_together_are_an_error_not_a_loop(server, mutate, words):
    paged(server, "/retirements", [retirement(index) for index in range(3 * PAGE_SIZE)],
          mutate=mutate)
    with (
        live(server.url_for(BASE_PATH)) as client,
        pytest.raises(ia.PaginationError, match=words),
    ):
        client.retirements()
    assert len(server.log) <= 4


def test_a_bad_record_names_its_page_and_path(server):
    records = [retirement(index) for index in range(2 * PAGE_SIZE)]
    records[PAGE_SIZE + 3]["credit_batch_size_total"]["credit_kgs"] = 1.5
    paged(server, "/retirements", records)
    with (
        live(server.url_for(BASE_PATH)) as client,
        pytest.raises(ia.SchemaError, match=r"page 2\)\] nodes\[3\]\.credit_batch_size_total"),
    ):
        client.retirements()


# -- read only ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_nothing_but_get_can_leave_the_client(server, demo_url, method):
    with (
        live(demo_url) as client,
        pytest.raises(ia.ReadOnlyError, match=f"refused to send {method}"),
    ):
        client._http.request(method, "/retirements", json={"credit_kgs": 1})

    async def attempt():
        async with ia.AsyncRegistryClient(client_secret=SECRET, base_url=demo_url) as client:
            await client._http.request(method, "/transfers")

    with pytest.raises(ia.ReadOnlyError):
        asyncio.run(attempt())
    assert server.log == []


def test_every_public_method_sends_only_get(server, demo_url):
    registry = demo.registry()
    organisation_id = demo.DEFAULT_ORGANISATION_ID
    with live(demo_url, client_secret=demo.CLIENT_SECRET, access_token=None,
              access_tokens=demo.accounts()) as client:
        client.organisation(organisation_id)
        client.credit_balance(organisation_id)
        client.credit_batches(organisation_id)
        client.orders(organisation_id)
        client.projects()
        client.project(registry.projects()[0]["id"])
        client.suppliers()
        client.supplier(registry.suppliers()[0]["id"])
        client.retirements(owner_organisation_id=organisation_id)
        ia.enrich(ia.summarize(client.credit_balance(organisation_id), by="project"), client)
    assert server.log and {request.method for request, _ in server.log} == {"GET"}


# -- secrets ----------------------------------------------------------------------------------


def _chain(error: BaseException):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


@pytest.mark.parametrize("status", [401, 403, 404, 422, 429, 500, 400])
def test_no_error_log_or_repr_shows_a_credential(server, caplog, status):
    # A careless server echoing the credentials back in its detail is scrubbed too.
    echo = {"detail": f"bad secret {SECRET} with token {TOKEN}"}
    scripted(server, f"/organisations/{ORG}/credit_balance", (status, echo, {"Retry-After": "0"}))
    caplog.set_level(logging.DEBUG)
    with live(server.url_for(BASE_PATH), max_retries=1) as client:
        shown = [repr(client), str(client), repr(client._settings), repr(client._http)]
        with pytest.raises(ia.APIStatusError) as caught:
            client.credit_balance(ORG)
    for error in _chain(caught.value):
        shown += [str(error), repr(error), repr(error.args), repr(vars(error))]
    shown += [record.getMessage() + repr(record.__dict__) for record in caplog.records]
    assert "[redacted]" in str(caught.value)
    assert caplog.records  # DEBUG logging was on and did record the exchange
    for text in shown:
        assert SECRET not in text and TOKEN not in text


@pytest.mark.parametrize("trigger", ["timeout", "connection", "schema", "pagination", "missing"])
def test_no_other_error_shows_a_credential(server, caplog, trigger):
    caplog.set_level(logging.DEBUG)
    url = server.url_for(BASE_PATH)
    # The timed-out requests are held until the test ends, then answered and awaited: a
    # handler still sleeping would otherwise be logged in a later test's requests.
    released = threading.Event()
    if trigger == "timeout":
        server.expect_request(BASE_PATH + "/projects").respond_with_handler(
            lambda request: released.wait(30) and Response("{}"))
    elif trigger == "connection":
        url = stopped_url()
    elif trigger == "schema":
        scripted(server, "/projects", (200, {"nodes": SECRET}, {}))
    elif trigger == "pagination":
        paged(server, "/projects", organisations(60),
              mutate=lambda body, page: body["page_info"].update(end_cursor="49"))
    token = None if trigger == "missing" else TOKEN
    with (
        live(url, timeout=0.1, max_retries=1, access_token=token) as client,
        pytest.raises((ia.RegistryError, ia.SchemaError)) as caught,
    ):
        client.credit_balance(ORG) if trigger == "missing" else client.projects()
    released.set()
    if trigger == "timeout":
        settled = time.monotonic() + 30
        while len(server.log) < 2 and time.monotonic() < settled:  # both attempts answered
            time.sleep(0.01)
    shown = [str(error) + repr(error) + repr(vars(error)) for error in _chain(caught.value)]
    shown += [record.getMessage() + repr(record.__dict__) for record in caplog.records]
    for text in shown:
        assert SECRET not in text and TOKEN not in text


def test_credentials_cannot_be_pickled_into_a_file():
    import pickle

    client = ia.RegistryClient(client_secret=SECRET, base_url="http://127.0.0.1:9")
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(client._settings.secret)
    client.close()


def test_errors_survive_pickling():
    import pickle

    error = ia.RateLimitError("slow", status_code=429, retry_after=2.0, endpoint="GET /x",
                              organisation_id=ORG)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.retry_after, copy.status_code) == (str(error), 2.0, 429)


# -- enrich -------------------------------------------------------------------------------------


def test_enrich_fetches_each_id_once_per_client(server, demo_url):
    registry = demo.registry()
    names = {supplier["id"]: supplier["organisation"]["name"] for supplier in registry.suppliers()}
    with live(demo_url, client_secret=demo.CLIENT_SECRET, access_token=None,
              access_tokens=demo.accounts()) as client:
        summary = ia.summarize(client.credit_balance(LARGE), by="supplier")
        before = len(server.log)
        enriched = ia.enrich(summary, client)
        first_round = len(server.log) - before
        again = ia.enrich(summary, client)
        assert len(server.log) - before == first_round == len(summary)  # nothing twice
        projects = ia.enrich(ia.summarize(client.credit_balance(LARGE), by="project"), client)
    assert list(enriched["supplier_name"]) == [names[supplier_id] for supplier_id in summary.index]
    pd.testing.assert_frame_equal(enriched, again)
    assert enriched.drop(columns=["supplier_name", "supplier_country"]).equals(summary)
    assert projects["pathway"].notna().all() and projects["project_name"].notna().all()


def test_enrich_keeps_unknown_ids_and_warns(server):
    scripted(server, "/suppliers/spl_1UNKNOWN0000000000", (200, None, {}))
    summary = pd.DataFrame({"total_kgs": [5]},
                           index=pd.Index(["spl_1UNKNOWN0000000000"], name="supplier_id"))
    with (
        live(server.url_for(BASE_PATH)) as client,
        pytest.warns(UserWarning, match="spl_1UNKNOWN0000000000"),
    ):
        enriched = ia.enrich(summary, client)
    assert len(enriched) == 1 and enriched["supplier_name"].isna().all()


def test_enrich_needs_ids():
    with (
        ia.RegistryClient.demo() as client,
        pytest.raises(ValueError, match="project_id, supplier_id or organisation_id"),
    ):
        ia.enrich(pd.DataFrame({"x": [1]}), client)


def test_enrich_names_organisations():
    accounts = demo.accounts()
    portfolio = ia.fetch_balances(accounts, client_secret=demo.CLIENT_SECRET, environment="demo",
                                  progress=False).frame
    summary = ia.summarize(portfolio, by="organisation")
    with ia.RegistryClient.demo() as client:
        named = ia.enrich(summary, client)
        expected = {org: client.organisation(org)["name"] for org in accounts}
    assert dict(zip(named.index, named["organisation_name"], strict=False)) == expected
    assert named[summary.columns].equals(summary)


def test_enrich_survives_a_404_for_one_id(server):
    # The API may answer an unknown id with 404 rather than null: a missing name, not a crash.
    scripted(server, "/projects/prj_1GONE000000000000000", (404, {"detail": "Not Found"}, {}))
    summary = pd.DataFrame({"total_kgs": [5]},
                           index=pd.Index(["prj_1GONE000000000000000"], name="project_id"))
    with live(server.url_for(BASE_PATH)) as client, pytest.warns(UserWarning, match="GONE"):
        enriched = ia.enrich(summary, client)
    assert enriched["project_name"].isna().all()


def test_enrich_refuses_ids_that_are_not_ids(server):
    summary = pd.DataFrame({"total_kgs": [5]},
                           index=pd.Index(["../organisations/x"], name="supplier_id"))
    with live(server.url_for(BASE_PATH)) as client, pytest.raises(ValueError, match="supplier"):
        ia.enrich(summary, client)
    assert server.log == []


def test_connections_are_reused():
    # pytest-httpserver (werkzeug) closes every connection; the benchmark's stdlib server
    # keeps them open like a production server, so the client's pool can show it reuses.
    from http.server import ThreadingHTTPServer

    from .benchmarks._slow_registry import SyntheticRegistry, _handler

    ports: list[int] = []

    class Remembering(_handler(SyntheticRegistry(400, 2), delay=0)):
        def do_GET(self) -> None:
            ports.append(self.client_address[1])
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Remembering)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        with live(f"http://127.0.0.1:{server.server_port}{BASE_PATH}") as client:
            client.credit_batches(BENCH_ORGANISATION, by_project=False)
    finally:
        server.shutdown()
        server.server_close()
    assert len(ports) == 8 and len(set(ports)) == 1  # 8 pages, one connection


def test_a_demo_clients_errors_name_organisations_plainly():
    # The client scrubs every 8-character piece of its credentials out of what it says; a
    # demo token holding its organisation's id would blank that id out of every message.
    refused = ia.RegistryClient.demo(client_secret="wrong-7f3a9c21d0e4")
    with pytest.raises(ia.AuthenticationError) as caught:
        refused.credit_balance(demo.DEFAULT_ORGANISATION_ID)
    assert caught.value.organisation_id == demo.DEFAULT_ORGANISATION_ID
    assert "[redacted]" not in str(caught.value)
    for organisation_id, token in demo.accounts().items():
        assert not any(organisation_id[start:start + 8] in token
                       for start in range(len(organisation_id) - 7))


@pytest.mark.parametrize("asynchronous", [False, True])
def test_enrich_takes_echoed_credentials_out_of_names(server, asynchronous):
    # Names end up drawn in charts, where nothing can be scrubbed later: a registry that
    # echoes the request's credentials into a supplier's name has them redacted on the way in.
    supplier = re.compile(f"^{BASE_PATH}/suppliers/spl_[0-9A-Za-z]+$")

    def echoing(request, answer):
        if not supplier.match(request.url.path) or answer.status_code != 200:
            return answer
        body = answer.json()
        body["organisation"]["name"] = f"Deepwell {request.headers['x-client-secret']}"
        return httpx.Response(200, json=body)

    url = serve_demo(server, credentials=(SECRET, TOKEN), rewrite=echoing)
    if asynchronous:
        async def enriched():
            async with ia.AsyncRegistryClient(client_secret=SECRET, access_token=TOKEN,
                                              base_url=url) as client:
                balance = await client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
                return await ia.aenrich(ia.summarize(balance, by="supplier"), client)
        names = asyncio.run(enriched())["supplier_name"]
    else:
        with live(url) as client:
            balance = client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
            names = ia.enrich(ia.summarize(balance, by="supplier"), client)["supplier_name"]
    assert (names == "Deepwell [redacted]").all()
