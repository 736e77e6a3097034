"""fetch_balances: a portfolio read concurrently, with nothing lost on partial failure."""

from __future__ import annotations

import asyncio
import json
import re

import pandas as pd
import pytest
from werkzeug import Request, Response

import isoanalytics as ia
from isoanalytics import demo
from isoanalytics.demo.transport import transport

from .loopback import BASE_PATH, bridge


def test_the_demo_portfolio():
    accounts = demo.accounts()
    result = ia.fetch_balances(accounts, environment="demo", progress=False)
    assert result.ok and result.failures.empty
    assert list(result.balances) == list(accounts)  # account order, not completion order
    expected = ia.stack_balances({org: ia.parse_balance(demo.registry().credit_balance(org),
                                                        organisation_id=org)
                                  for org in accounts})
    pd.testing.assert_frame_equal(result.frame, expected)


def test_partial_failure_loses_nothing(server):
    accounts = dict(demo.accounts())
    broken = demo.registry().buyers["typical"]
    refused = demo.registry().buyers["empty"]
    accounts[refused] = "an-expired-token"
    demo_answer = bridge(transport(base_path=BASE_PATH).handler)

    def respond(request: Request) -> Response:
        if broken in request.path:
            return Response(json.dumps({"detail": "boom"}), status=500,
                            content_type="application/json")
        return demo_answer(request)

    server.expect_request(re.compile(f"^{BASE_PATH}/.*")).respond_with_handler(respond)
    result = ia.fetch_balances(accounts, client_secret=demo.CLIENT_SECRET,
                               base_url=server.url_for(BASE_PATH), progress=False,
                               max_retries=1, backoff_initial=0.01)
    assert not result.ok
    assert set(result.balances) == set(accounts) - {broken, refused}
    assert set(result.frame["organisation_id"]) == set(accounts) - {broken, refused}
    failures = result.failures.set_index("organisation_id")
    assert failures.loc[broken, "error"] == "ServerError"
    assert failures.loc[broken, "status_code"] == 500
    assert failures.loc[refused, "error"] == "AuthenticationError"
    assert "an-expired-token" not in result.failures.to_csv()
    assert "a year" in failures.loc[refused, "message"]
    with pytest.raises(ia.AuthenticationError):
        result.raise_for_failures()
    assert repr(result) == "PortfolioFetch(5 organisations answered, 2 failed)"


def test_works_inside_a_running_event_loop():
    # A Jupyter cell runs inside an event loop; the sync call must still work there.
    async def in_a_cell():
        return ia.fetch_balances(demo.accounts(), environment="demo", progress=False)

    assert asyncio.run(in_a_cell()).ok


def test_the_async_twin():
    result = asyncio.run(ia.afetch_balances(demo.accounts(), environment="demo", progress=False))
    assert len(result.balances) == len(demo.accounts())


def test_bad_accounts_are_refused_before_any_request(monkeypatch):
    with pytest.raises(ValueError, match="organisation id"):
        ia.fetch_balances({"not-an-org": "token"}, environment="demo", progress=False)
    with pytest.raises(TypeError, match="map organisation ids"):
        ia.fetch_balances(["org_1J7BT1V2GFMC75MZ"], environment="demo", progress=False)
    with pytest.raises(ia.MissingCredentialsError, match="ISOMETRIC_CLIENT_SECRET"):
        ia.fetch_balances(demo.accounts(), progress=False)


def test_an_empty_portfolio_is_empty():
    result = ia.fetch_balances({}, environment="demo", progress=False)
    assert result.ok and result.frame.empty and result.failures.empty
    assert list(result.frame.columns) == list(ia.COLUMNS)


def test_no_progress_bar_when_not_interactive(capsys):
    # Under pytest stderr is not a terminal: progress=True must stay silent (CI logs, pipes).
    ia.fetch_balances(demo.accounts(), environment="demo", progress=True)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_through_a_client_with_its_own_tokens():
    accounts = demo.accounts()
    with ia.RegistryClient.demo() as client:
        through_client = ia.fetch_balances(list(accounts), client=client, progress=False)
        with pytest.raises(TypeError, match="pass the organisation ids"):
            ia.fetch_balances(accounts, client=client)
        with pytest.raises(ia.InvalidIdError, match="accounts: expected an organisation id"):
            ia.fetch_balances(["not-an-id"], client=client)
    separately = ia.fetch_balances(accounts, environment="demo", progress=False)
    assert list(through_client.balances) == list(accounts)
    pd.testing.assert_frame_equal(through_client.frame, separately.frame)
