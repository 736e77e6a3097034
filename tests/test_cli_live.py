"""``isoanalytics summary`` against the live API's shape: a loopback server, ISOMETRIC_* vars."""

from __future__ import annotations

import io

import pytest
import stamina

from isoanalytics import demo
from isoanalytics.cli import (
    EXIT_BAD_DATA,
    EXIT_CREDENTIALS,
    EXIT_UNAVAILABLE,
    EXIT_UNKNOWN_ORGANISATION,
    EXIT_USAGE,
    main,
)

from .loopback import BASE_PATH, serve_demo, stopped_url


@pytest.fixture
def registry(monkeypatch, server):
    """A loopback server with the demo registry, and the variables a live user would set."""
    monkeypatch.setenv("ISOMETRIC_BASE_URL", serve_demo(server))
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", demo.CLIENT_SECRET)
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKEN", demo.access_token(demo.DEFAULT_ORGANISATION_ID))
    return server


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


def test_live_summary_of_the_tokens_organisation(registry):
    code, text = run("summary")
    assert code == 0, text
    assert demo.DEFAULT_ORGANISATION_ID in text
    assert "Isometric Registry (sandbox)" in text and "DEMO DATA" not in text
    assert "Deepwell Carbon" in text  # supplier names come from the registry
    assert {request.method for request, _ in registry.log} == {"GET"}


def test_live_summary_of_a_named_organisation(registry, monkeypatch):
    monkeypatch.setenv("ISOMETRIC_ENVIRONMENT", "production")
    code, text = run("summary", "--org", demo.DEFAULT_ORGANISATION_ID, "--top", "2")
    assert code == 0 and "Isometric Registry (production)" in text


def test_missing_secret_says_which_variable(registry, monkeypatch, capsys):
    monkeypatch.delenv("ISOMETRIC_CLIENT_SECRET")
    code, _ = run("summary")
    error = capsys.readouterr().err
    assert code == EXIT_CREDENTIALS
    assert "ISOMETRIC_CLIENT_SECRET" in error and "--demo" in error
    assert registry.log == []


def test_someone_elses_organisation_is_a_credentials_error(registry, capsys):
    code, _ = run("summary", "--org", demo.registry().buyers["large"])
    assert code == EXIT_CREDENTIALS
    assert "scoped to one organisation" in capsys.readouterr().err


def test_unknown_and_malformed_organisations(registry, capsys):
    assert run("summary", "--org", "org_0000000000000000")[0] == EXIT_UNKNOWN_ORGANISATION
    assert run("summary", "--org", "../../suppliers")[0] == EXIT_USAGE  # malformed: a usage error
    error = capsys.readouterr().err
    assert "organisation id" in error and "usage: isoanalytics summary" in error
    assert len(registry.log) == 1  # only the well-formed id was asked for


def test_an_unreachable_registry(monkeypatch, capsys):
    stamina.set_testing(True)  # stamina's own switch: same attempts, no backoff sleeps
    monkeypatch.setenv("ISOMETRIC_BASE_URL", stopped_url())
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", "secret-value")
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKEN", "token-value")
    try:
        code, _ = run("summary", "--org", demo.DEFAULT_ORGANISATION_ID)
    finally:
        stamina.set_testing(False)
    assert code == EXIT_UNAVAILABLE
    assert "could not reach" in capsys.readouterr().err


def test_bad_data_exit_code(registry, capsys):
    registry.clear()
    registry.expect_request(f"{BASE_PATH}/organisations/{demo.DEFAULT_ORGANISATION_ID}") \
        .respond_with_json({"id": demo.DEFAULT_ORGANISATION_ID, "name": "X", "domain": None})
    registry.expect_request(
        f"{BASE_PATH}/organisations/{demo.DEFAULT_ORGANISATION_ID}/credit_balance"
    ).respond_with_json({"total": 1})
    code, _ = run("summary", "--org", demo.DEFAULT_ORGANISATION_ID)
    assert code == EXIT_BAD_DATA
    assert "failed validation" in capsys.readouterr().err


def test_an_answer_that_cannot_be_read_is_bad_data(registry, capsys):
    # Compressed data that is not gzip at all: the client refuses to read it (never a raw
    # zlib or httpx error), and the command says so as bad data, not as an outage.
    registry.clear()
    registry.expect_request(f"{BASE_PATH}/organisations/{demo.DEFAULT_ORGANISATION_ID}") \
        .respond_with_data(b"this is not gzip", headers={"content-encoding": "gzip",
                                                         "content-type": "application/json"})
    code, _ = run("summary", "--org", demo.DEFAULT_ORGANISATION_ID)
    error = capsys.readouterr().err
    assert code == EXIT_BAD_DATA, error
    assert "could not be read" in error and "Traceback" not in error
    assert error.count("\n") == 1


def test_an_unusable_environment_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", "secret-value")
    monkeypatch.setenv("ISOMETRIC_ENVIRONMENT", "staging")
    assert run("summary")[0] == 2
    assert "ISOMETRIC_ENVIRONMENT" in capsys.readouterr().err
