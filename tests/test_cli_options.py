"""Options and messages of the command line: usage errors per subcommand, ids, the portfolio
summary, DEMO DATA whichever way the demo is chosen, and words for options and variables."""

from __future__ import annotations

import io
import json
import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isoanalytics import demo
from isoanalytics.cli import (
    EXIT_CREDENTIALS,
    EXIT_TEMPLATE,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    main,
)
from isoanalytics.present import report

from .loopback import BASE_PATH, bridge, stopped_url

BUYERS = demo.registry().buyers
PYTHON_WORDS = re.compile(r"client_secret=|access_tokens?=|RegistryClient|timeout=|\bpass\b")


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


# --- usage errors: the subcommand's own usage, exit 2 ---------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["summary", "--top", "0"], "--top: must be a positive integer"),
    (["summary", "--demo", "--environment", "production"], "leave it out with --demo"),
    (["report", "--top", "0"], "--top: must be a positive integer"),
    (["report", "--timeout", "0"], "--timeout: must be a positive number"),
    (["report", "--timeout", "-3"], "--timeout: must be a positive number"),
    (["report", "--timeout", "nan"], "--timeout: must be a positive number"),
    (["report", "--timeout", "soon"], "expected a number of seconds"),
    (["report", "--demo", "--environment", "sandbox"], "leave it out with --demo"),
])
def test_usage_errors_print_the_subcommands_usage(args, message, capsys):
    try:
        code, _ = run(*args)
    except SystemExit as exit_:  # argparse's own errors exit; ours return
        code = exit_.code
    error = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert error.startswith(f"usage: isoanalytics {args[0]} ")
    assert f"isoanalytics {args[0]}: error:" in error and message in error


@pytest.mark.parametrize("command", ["summary", "report"])
@pytest.mark.parametrize("organisation_id", ["../../suppliers", "org_", "ORG 1", "x" * 200])
def test_a_malformed_id_is_a_usage_error_stating_the_rule(command, organisation_id, capsys):
    code, _ = run(command, "--demo", "--org", organisation_id)
    error = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert f"usage: isoanalytics {command}" in error
    assert "organisation id" in error and "org_" in error  # the rule
    assert all(org in error for org in BUYERS.values())  # on the demo, its organisations


# --- summary of a portfolio --------------------------------------------------------------------


def test_summary_of_several_organisations_is_the_portfolio():
    from isoanalytics import RegistryClient, concentration, stack_balances

    ids = [BUYERS["concentrated"], BUYERS["diversified"]]
    code, text = run("summary", "--demo", "--org", ids[0], "--org", ids[1])
    assert code == 0, text
    assert "Portfolio of 2 organisations" in text and all(org in text for org in ids)
    with RegistryClient.demo() as client:
        balances = [client.credit_balance(org) for org in ids]
    active = sum(balance.active_kgs for balance in balances)
    total = sum(balance.total_kgs for balance in balances)
    assert f"({active:,} kg)" in text and f"({total:,} kg)" in text
    figures = concentration(stack_balances(list(zip(ids, balances, strict=False))), by="supplier")
    assert f"HHI {figures.hhi:,.0f}" in text and f"{figures.n} holding credits" in text
    # the same organisation twice is counted once
    assert run("summary", "--demo", "--org", ids[0], "--org", ids[0])[1] == \
        run("summary", "--demo", "--org", ids[0])[1]


# --- ISOMETRIC_ENVIRONMENT=demo reads as DEMO DATA, as --demo does --------------------------


def test_the_demo_environment_variable_says_demo_data(monkeypatch, capsys):
    monkeypatch.setenv("ISOMETRIC_ENVIRONMENT", "demo")
    code, text = run("summary")
    assert code == 0 and "DEMO DATA" in text and "Isometric Registry (demo)" not in text
    assert "Other demo organisations" in text
    assert run("summary", "--org", "org_0000000000000000")[0] == 3
    assert "Demo organisations:" in capsys.readouterr().err


# --- words for the command line ----------------------------------------------------------------


def test_missing_credentials_speak_of_variables_and_options(server, monkeypatch, capsys):
    from .loopback import serve_demo

    assert run("summary")[0] == EXIT_CREDENTIALS
    error = capsys.readouterr().err
    assert "ISOMETRIC_CLIENT_SECRET" in error and "--demo" in error
    assert not PYTHON_WORDS.search(error), error
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", demo.CLIENT_SECRET)
    monkeypatch.setenv("ISOMETRIC_BASE_URL", serve_demo(server))
    assert run("summary", "--org", BUYERS["typical"])[0] == EXIT_CREDENTIALS  # no token
    error = capsys.readouterr().err
    assert "ISOMETRIC_ACCESS_TOKEN" in error and "ISOMETRIC_ACCESS_TOKENS" in error
    assert not PYTHON_WORDS.search(error), error


def test_an_unreachable_registry_speaks_of_the_network_and_demo(monkeypatch, capsys):
    import stamina

    stamina.set_testing(True)
    monkeypatch.setenv("ISOMETRIC_BASE_URL", stopped_url())
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", "made-up-client-secret")
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKEN", "made-up-access-token")
    try:
        assert run("summary", "--org", BUYERS["typical"])[0] == EXIT_UNAVAILABLE
    finally:
        stamina.set_testing(False)
    error = capsys.readouterr().err
    assert "could not reach" in error and "ISOMETRIC_BASE_URL" in error and "--demo" in error
    assert not PYTHON_WORDS.search(error), error


def test_someone_elses_organisation_names_the_variable(server, monkeypatch, capsys):
    from .loopback import serve_demo

    monkeypatch.setenv("ISOMETRIC_BASE_URL", serve_demo(server))
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", demo.CLIENT_SECRET)
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKEN", demo.access_token(demo.DEFAULT_ORGANISATION_ID))
    assert run("summary", "--org", BUYERS["large"])[0] == EXIT_CREDENTIALS
    error = capsys.readouterr().err
    assert "scoped to one organisation" in error and "ISOMETRIC_ACCESS_TOKENS=" in error
    assert not PYTHON_WORDS.search(error), error


# --- registry text on the terminal, and differences that are differences --------------------


HOSTILE = "Deepwell\x1b]52;c;ZXZpbA==\x07 Carbon\x1b[2J\x9b31m\u0007"


def _doctored_registry(server, monkeypatch, change) -> None:
    from isoanalytics.demo.transport import transport

    demo_answer = transport(base_path=BASE_PATH).handler

    def answer(request: httpx.Request) -> httpx.Response:
        response = demo_answer(request)
        body = change(request.url.path, json.loads(response.content))
        return httpx.Response(response.status_code, json=body)

    server.expect_request(re.compile(f"^{BASE_PATH}/.*")).respond_with_handler(bridge(answer))
    monkeypatch.setenv("ISOMETRIC_BASE_URL", server.url_for(BASE_PATH))
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", demo.CLIENT_SECRET)
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKEN", demo.access_token(demo.DEFAULT_ORGANISATION_ID))


def test_registry_names_cannot_drive_the_terminal(server, monkeypatch):
    def change(path, body):
        if path.startswith(f"{BASE_PATH}/suppliers/") and isinstance(body, dict) \
                and "organisation" in body:
            body["organisation"]["name"] = HOSTILE
        if path.endswith(f"/organisations/{demo.DEFAULT_ORGANISATION_ID}"):
            body["name"] = "Harbour\x1b[1A\x1b[2Kline"
        return body

    _doctored_registry(server, monkeypatch, change)
    code, text = run("summary")
    assert code == 0, text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text), repr(text)
    assert "Deepwell" in text and "Harbour" in text


def test_a_reconciliation_difference_is_labelled_a_difference(server, monkeypatch):
    def change(path, body):
        if path.endswith("/credit_balance"):
            body["total"]["active_credits_total"]["credit_kgs"] += 1000
            body["total"]["active_credits_total"]["credits"] += 1
        return body

    _doctored_registry(server, monkeypatch, change)
    code, text = run("summary")
    assert code == 0, text
    lines = [line for line in text.splitlines() if "against the total" in line]
    assert lines and all(line.split()[0] == "Difference" for line in lines), text
    assert "-1,000 kg against the total" in text
    assert not any(line.strip().startswith("Reconciled") for line in text.splitlines())


# --- templates and timeouts (no kernel: refused before one starts) --------------------------


@pytest.mark.parametrize("content", ["{}", "[]", "null", "3", '{"cells": 3}',
                                     '{"cells": [], "nbformat": "4"}', "{", "\xff\xfe",
                                     ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, '
                                      '"cells": [{"cell_type": "code"}]}')])
def test_a_bad_template_is_exit_7_never_a_traceback(tmp_path, capsys, content):
    template = tmp_path / "template.ipynb"
    template.write_bytes(content.encode("utf-8", "surrogateescape")
                         if content != "\xff\xfe" else b"\xff\xfe\x00")
    code, _ = run("report", "--demo", "--template", str(template),
                  "-o", str(tmp_path / "r.html"))
    error = capsys.readouterr().err
    assert code == EXIT_TEMPLATE, error
    assert "report template" in error and "Traceback" not in error
    assert len(error.splitlines()) == 1


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["cells", "nbformat", "metadata",
                                                       "nbformat_minor", "cell_type", "source"]),
                                      inner, max_size=4), max_leaves=12))
def test_any_json_is_a_template_or_a_template_error(tmp_path, value):
    template = tmp_path / "any.ipynb"
    template.write_text(json.dumps(value))
    try:
        report._read_template(template)
    except report.TemplateError:
        pass


# --- the same words when the kernel raises, and DEMO DATA from the variable, in a report -----


def test_a_refused_token_inside_the_report_speaks_of_variables(server, monkeypatch, tmp_path,
                                                               capsys):
    from .loopback import serve_demo

    monkeypatch.setenv("ISOMETRIC_BASE_URL", serve_demo(server))
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", demo.CLIENT_SECRET)
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKEN", demo.access_token(demo.DEFAULT_ORGANISATION_ID))
    output = tmp_path / "r.html"
    assert run("report", "--org", BUYERS["large"], "-o", str(output))[0] == EXIT_CREDENTIALS
    error = capsys.readouterr().err
    assert "ISOMETRIC_ACCESS_TOKENS=" in error and BUYERS["large"] in error
    assert not PYTHON_WORDS.search(error), error
    assert not output.exists()


def test_a_report_from_the_demo_variable_says_demo_data(monkeypatch, tmp_path):
    monkeypatch.setenv("ISOMETRIC_ENVIRONMENT", "demo")
    output = tmp_path / "r.html"
    code, said = run("report", "-o", str(output))
    assert code == 0 and "It shows DEMO DATA" in said
    assert "<b>DEMO DATA</b>" in output.read_text()
