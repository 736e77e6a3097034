"""The HTML report: the packaged template run with parameters, exported as one offline file.

The builds are shared (``demo_report``, ``portfolio_report`` in conftest): each runs a kernel,
about two seconds. Errors found before a kernel starts are tested without one.
"""

from __future__ import annotations

import ast
import base64
import html
import logging
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import httpx
import nbformat
import pytest
import stamina
from hypothesis import given
from hypothesis import strategies as st

import isoanalytics as ia
from isoanalytics import demo, percent, report, tonnes
from isoanalytics.cli import (
    EXIT_BAD_DATA,
    EXIT_CREDENTIALS,
    EXIT_REPORT_FAILED,
    EXIT_TEMPLATE,
    EXIT_UNAVAILABLE,
    EXIT_UNKNOWN_ORGANISATION,
    EXIT_USAGE,
    main,
)
from isoanalytics.present.report import ReportError, TemplateError, _Parameters

from .conftest import PORTFOLIO_TITLE, REPO
from .loopback import BASE_PATH, bridge, serve_demo, stopped_url

PNG_DATA = re.compile(r'<img[^>]+src="data:image/png;base64,([^"]+)"')
FAKE_SECRET = "fake-client-secret-5b1e0c7d"  # values that exist nowhere but in these tests
FAKE_TOKEN = "fake-access-token-9a4f2e68"


def _parameter_values(source: str) -> dict:
    """The values an injected-parameters cell assigns, read as Python literals."""
    return {node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(source).body if isinstance(node, ast.Assign)}


def png_size(encoded: str) -> tuple[int, int]:
    data = base64.b64decode(encoded)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])  # IHDR: width, height


@pytest.fixture(scope="module")
def page(demo_report) -> str:
    return (demo_report / "report.html").read_text()


@pytest.fixture(scope="module")
def default_buyer():
    with ia.RegistryClient.demo() as client:
        balance = client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
        by_supplier = ia.breakdown(balance, "supplier", projects=client.projects())
        by_project = ia.breakdown(balance, "project", projects=client.projects())
    return balance, by_supplier, by_project


# --- the one source ------------------------------------------------------------------------


def test_the_notebook_for_readers_is_the_packaged_template():
    link = REPO / "notebooks" / "04-report.ipynb"
    assert link.is_symlink() and link.resolve() == report.TEMPLATE.resolve()
    assert report.TEMPLATE.is_file()


# --- what the report says ------------------------------------------------------------------


def test_it_says_where_the_data_comes_from(page):
    assert "<b>DEMO DATA</b>: fictional organisations from the embedded demo registry" in page
    assert "demo registry as of 2026-10-31" in page
    assert "<title>Carbon-removal credit holdings</title>" in page
    assert f"Harbourline Freight (<code>{demo.DEFAULT_ORGANISATION_ID}</code>)" in page


def test_headline_figures_are_exact(page, default_buyer):
    balance, _, _ = default_buyer
    for figure in (f"{tonnes(balance.active_kgs)} tCO2e", f"{tonnes(balance.retired_kgs)} tCO2e",
                   f"{tonnes(balance.total_kgs)} tCO2e", percent(ia.retired_share(balance)),
                   f"{balance.active_kgs:,} kg active"):
        assert figure in page


def test_holdings_by_supplier_and_project_are_named(page, default_buyer):
    _, by_supplier, by_project = default_buyer
    for name in [*by_supplier["supplier_name"], *by_project["project_name"]]:
        assert f">{html.escape(name)}</th>" in page
    # The holdings tables' Total rows (supplier, project, pathway, country, durability); the
    # claims section's tables have their own.
    claims = page[page.index(">Claims in the period<"):page.index(">Holdings by supplier<")]
    assert page.count("<b>Total</b>") == 0
    assert page.count(">Total</th>") - claims.count(">Total</th>") == 5


def test_concentration_figures_and_the_lorenz_curve(page, default_buyer):
    balance, _, _ = default_buyer
    figures = ia.concentration(balance, by="supplier")
    assert f"Supplier concentration is <b>{figures.level}</b>: HHI {figures.hhi:,.0f}" in page
    for value in (percent(figures.cr1), percent(figures.cr3), f"{figures.effective_n:.1f}",
                  f"{figures.gini:.2f}"):
        assert f'nowrap">{value}</td>' in page
    images = PNG_DATA.findall(page)
    # retirements per quarter, suppliers, projects, pathways, countries, durability, Lorenz
    # curve, order delivery
    assert len(images) == 8
    assert all(min(png_size(image)) > 100 for image in images)


def test_orders_reconciliation_and_methods(page):
    assert "Total (6 orders)" in page
    said = ("All 6 checks (project, supplier and order balances, active and retired) add up "
            "to their organisation")
    assert said in page
    for formula in ("10,000 × Σ sᵢ²", "10,000 ÷ HHI", "Σᵢ Σⱼ |qᵢ − qⱼ| ÷ (2 n Σᵢ qᵢ)",
                    "retired kg ÷ (active kg + retired kg)"):
        assert formula in page


def test_code_and_the_template_notes_are_hidden(page):
    assert 'class="highlight' not in page and "fetch_balances" not in page
    assert "You will learn" not in page  # the template's introduction (tagged remove-cell)


def test_nothing_is_fetched_from_the_internet(page):
    # A link is followed only when clicked: the retirements' certificate links (<a href>) are
    # the only addresses outside the page, and nothing else points anywhere but data: or #.
    links = re.findall(r'<a href="(https://registry\.example/retirements/ret_\w+)">certificate'
                       r"</a>", page)
    addresses = re.findall(r'(?:src|href)\s*=\s*["\']?([^"\'\s>]+)', page)
    assert links and addresses
    assert all(address.startswith(("data:", "#")) or address in links
               for address in addresses), \
        sorted({a for a in addresses if not a.startswith(("data:", "#")) and a not in links})
    assert not re.search(r"""import\(\s*["']https?:""", page)  # no module loaded from a CDN
    assert "cdnjs" not in page and "cdn.jsdelivr" not in page


def test_the_executed_notebook_has_the_parameters_and_no_errors(demo_report):
    notebook = nbformat.read(demo_report / "report.ipynb", as_version=4)
    injected = [cell for cell in notebook.cells
                if "injected-parameters" in cell.metadata.get("tags", [])]
    assert len(injected) == 1
    assert _parameter_values(injected[0].source) == {
        "organisation_ids": [demo.DEFAULT_ORGANISATION_ID], "environment": "demo",
        "title": report.DEFAULT_TITLE, "top": 10}
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output["output_type"] == "error"]
    assert not [output for output in outputs if output.get("name") == "stderr"]


def test_a_portfolio_report_compares_the_organisations(portfolio_report):
    page = (portfolio_report / "report.html").read_text()
    buyers = demo.registry().buyers
    assert "<h2>Portfolio</h2>" in page and "Portfolio (3 organisations)" in page
    for role in ("concentrated", "diversified", "empty"):
        name = demo.registry().organisation(buyers[role])["name"]
        assert f">{html.escape(name)}</th>" in page
    assert "Other (" in page  # top=3 folds the rest into one exact row
    # retirements per quarter, suppliers, projects, pathways, countries, durability, Lorenz
    # curve, order delivery, and the retired-share chart per organisation
    assert len(PNG_DATA.findall(page)) == 9


def test_the_title_is_escaped_and_code_shown_on_request(portfolio_report):
    page = (portfolio_report / "report.html").read_text()
    for element in ("h1", "title"):
        shown = re.findall(f"<{element}>(.*?)</{element}>", page)
        assert [html.unescape(text) for text in shown] == [PORTFOLIO_TITLE]
    assert "<draft>" not in page
    assert 'class="highlight' in page and "fetch_balances" in page


def test_an_organisation_holding_nothing_still_gets_a_whole_report(tmp_path):
    output = tmp_path / "empty.html"
    output.write_text("an older report, kept private")
    output.chmod(0o600)
    assert run("--demo", "--org", demo.registry().buyers["empty"], "-o", str(output)) == 0
    assert output.stat().st_mode & 0o777 == 0o600  # the replaced file's mode is kept
    page = output.read_text()
    assert "No credits are held, so there is no concentration to measure." in page
    assert "No orders are recorded for these organisations." in page
    assert '<div style="font-size:1.5em;font-weight:bold">n/a</div>' in page  # retired share


@given(st.lists(st.text(), max_size=4), st.sampled_from(["demo", "sandbox", "production"]),
       st.text(min_size=1), st.integers(1, 10**6))
def test_parameters_read_back_exactly_whatever_they_hold(ids, environment, title, top):
    parameters = _Parameters(ids, environment, title, top)
    assert _parameter_values(parameters.source()) == vars(parameters)


# --- bad input, before any kernel starts ----------------------------------------------------


@pytest.mark.parametrize(("arguments", "error", "message"), [
    ({"output": "missing-folder/report.html"}, FileNotFoundError, "does not exist; create it"),
    ({"output": "."}, IsADirectoryError, "is a directory; name a file in it"),
    ({"top": 0}, ValueError, "top must be a positive integer"),
    ({"timeout": 0}, ValueError, "timeout must be a positive number of seconds"),
    ({"title": "  "}, ValueError, "title must be a non-empty string"),
    ({"environment": "production"}, ValueError, "leave it out with demo=True"),
    ({"organisation_ids": ["../suppliers"]}, ValueError, "organisation id"),
    ({"organisation_ids": ["org_0000000000000000"]}, ia.NotFoundError, "no organisation"),
])
def test_bad_arguments_fail_before_a_kernel_starts(tmp_path, monkeypatch, arguments, error,
                                                   message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=message):
        report.build(**{"output": "report.html", "demo": True, **arguments})
    assert list(tmp_path.iterdir()) == []


def test_live_mode_without_credentials_names_the_variable(tmp_path):
    with pytest.raises(ia.MissingCredentialsError, match="ISOMETRIC_CLIENT_SECRET"):
        report.build(output=tmp_path / "report.html")


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist. The template ships inside the package"),
    ("not a notebook", "is not a readable notebook"),
    (nbformat.writes(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("a = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("b = 2", metadata={"tags": ["parameters"]})])),
     "needs at most one code cell tagged 'parameters'.*it has 2"),
])
def test_an_unusable_template(tmp_path, content, message):
    template = tmp_path / "template.ipynb"
    if content is not None:
        template.write_text(content)
    with pytest.raises(TemplateError, match=message):
        report.build(output=tmp_path / "report.html", demo=True, template=template)
    assert not (tmp_path / "report.html").exists()


# --- failures while it runs: named, and nothing half-written --------------------------------


def failing_template(path: Path, failing_code: str) -> Path:
    cells = [nbformat.v4.new_code_cell("organisation_ids = []", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_markdown_cell("## Holdings"),
             nbformat.v4.new_code_cell(failing_code)]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_a_failing_cell_names_its_section_and_leaves_the_old_report(tmp_path):
    output = tmp_path / "report.html"
    output.write_text("yesterday's report")
    template = failing_template(tmp_path / "broken.ipynb", "raise ValueError('no such column')")
    with pytest.raises(ReportError, match="in section 'Holdings': ValueError: no such column; "
                       "to see the notebook as far as it ran.*--notebook FILE") as caught:
        report.build(output=output, demo=True, template=template, progress=False)
    assert caught.value.error_name == "ValueError" and caught.value.registry_error is None
    assert output.read_text() == "yesterday's report"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.ipynb", "report.html"]


# --- the command line: one exit code per kind of failure ------------------------------------


def run(*args: str) -> int:
    return main(["report", *args])


def test_the_command_says_where_it_wrote_the_report(demo_report):
    said = (demo_report / "said.txt").read_text()
    output = demo_report / "report.html"
    assert re.search(rf"Wrote {re.escape(str(output))} \(\d+\.\d MB\) in \d+\.\d s", said)
    assert output.as_uri() in said
    assert "It shows DEMO DATA" in said
    assert output.stat().st_mode & 0o777 == 0o644  # readable by others: it is for sharing


def test_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run() == EXIT_CREDENTIALS
    assert "ISOMETRIC_CLIENT_SECRET" in capsys.readouterr().err
    assert run("--demo", "--org", "org_0000000000000000") == EXIT_UNKNOWN_ORGANISATION
    assert "Demo organisations:" in capsys.readouterr().err
    assert run("--demo", "--template", "missing.ipynb") == EXIT_TEMPLATE
    assert run("--demo", "-o", "no/such/folder/report.html") == EXIT_USAGE
    assert list(tmp_path.iterdir()) == []


def test_a_registry_error_inside_the_kernel_keeps_its_exit_code(tmp_path, capsys):
    template = failing_template(
        tmp_path / "lookup.ipynb",
        "import isoanalytics as ia\nia.RegistryClient.demo().organisation('org_0000000000000000')")
    assert run("--demo", "--template", str(template), "-o", str(tmp_path / "r.html")) \
        == EXIT_UNKNOWN_ORGANISATION
    assert "NotFoundError" in capsys.readouterr().err
    template = failing_template(tmp_path / "bug.ipynb", "1 / 0")
    assert run("--demo", "--template", str(template), "-o", str(tmp_path / "r.html"),
               "--notebook", str(tmp_path / "as-far-as-it-ran.ipynb")) == EXIT_REPORT_FAILED
    said = capsys.readouterr().err
    assert "ZeroDivisionError" in said and "as-far-as-it-ran.ipynb" in said
    assert not (tmp_path / "r.html").exists()
    ran = nbformat.read(tmp_path / "as-far-as-it-ran.ipynb", as_version=4)
    assert [output["ename"] for cell in ran.cells for output in cell.get("outputs", [])
            if output["output_type"] == "error"] == ["ZeroDivisionError"]


@pytest.fixture
def no_backoff():
    stamina.set_testing(True)  # stamina's own switch: the same attempts, no sleeps
    yield
    stamina.set_testing(False)


def test_an_unreachable_or_rate_limited_registry(monkeypatch, server, tmp_path, capsys,
                                                 no_backoff):
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", FAKE_SECRET)
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("ISOMETRIC_BASE_URL", stopped_url())
    assert run("-o", str(tmp_path / "r.html")) == EXIT_UNAVAILABLE
    assert "connect" in capsys.readouterr().err.lower()
    server.expect_request(re.compile(f"^{BASE_PATH}/.*")).respond_with_json(
        {"detail": "slow down"}, status=429, headers={"Retry-After": "1"})
    monkeypatch.setenv("ISOMETRIC_BASE_URL", server.url_for(BASE_PATH))
    assert run("-o", str(tmp_path / "r.html")) == EXIT_UNAVAILABLE
    assert "429" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_live_portfolio_report_with_one_token_per_organisation(server, monkeypatch, tmp_path):
    buyers = [demo.registry().buyers[role] for role in ("concentrated", "diversified")]
    monkeypatch.setenv("ISOMETRIC_BASE_URL", serve_demo(server))
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", demo.CLIENT_SECRET)
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKENS",
                       ",".join(f"{org}={demo.access_token(org)}" for org in buyers))
    output = tmp_path / "portfolio.html"
    assert run("--org", buyers[0], "--org", buyers[1], "-o", str(output)) == 0
    page = output.read_text()
    assert "<b>SANDBOX</b>" in page and "Portfolio (2 organisations)" in page
    assert "retrieved from the registry on" in page


def test_a_malformed_answer_is_bad_data_before_and_inside_the_kernel(server, monkeypatch,
                                                                     tmp_path, capsys):
    from isoanalytics.demo.transport import transport

    demo_answer = transport(base_path=BASE_PATH).handler
    broken = {"path": "/organisations/"}

    def answer(request: httpx.Request) -> httpx.Response:
        if broken["path"] in request.url.path:
            return httpx.Response(200, json={"total": "lots"})
        return demo_answer(request)

    server.expect_request(re.compile(f"^{BASE_PATH}/.*")).respond_with_handler(bridge(answer))
    monkeypatch.setenv("ISOMETRIC_BASE_URL", server.url_for(BASE_PATH))
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", demo.CLIENT_SECRET)
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKEN", demo.access_token(demo.DEFAULT_ORGANISATION_ID))
    output = str(tmp_path / "r.html")
    assert run("--org", demo.DEFAULT_ORGANISATION_ID, "-o", output) == EXIT_BAD_DATA  # checks
    broken["path"] = "/credit_balance"
    assert run("--org", demo.DEFAULT_ORGANISATION_ID, "-o", output) == EXIT_BAD_DATA  # kernel
    said = capsys.readouterr().err
    assert said.count("failed validation") == 2 and "SchemaError" in said
    assert not (tmp_path / "r.html").exists()


# --- secrets --------------------------------------------------------------------------------


def assert_no_secret(text: str, where: str) -> None:
    assert FAKE_SECRET not in text, f"the client secret is in {where}"
    assert FAKE_TOKEN not in text, f"the access token is in {where}"


def test_secrets_stay_out_of_the_report_the_notebook_and_every_log(server, tmp_path):
    base_url = serve_demo(server, credentials=(FAKE_SECRET, FAKE_TOKEN))
    environment = {**os.environ, "ISOMETRIC_CLIENT_SECRET": FAKE_SECRET,
                   "ISOMETRIC_ACCESS_TOKEN": FAKE_TOKEN, "ISOMETRIC_BASE_URL": base_url}
    finished = subprocess.run(
        [sys.executable, "-m", "isoanalytics", "report", "-o", str(tmp_path / "report.html"),
         "--notebook", str(tmp_path / "report.ipynb"), "--with-code"],
        check=False, env=environment, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    page = (tmp_path / "report.html").read_text()
    assert "<b>SANDBOX</b>" in page and "<b>DEMO DATA</b>" not in page  # the "live" registry
    # the fake credentials really were sent, on every request
    assert all(request.headers["x-client-secret"] == FAKE_SECRET for request, _ in server.log)
    assert any(request.headers.get("authorization") == f"Bearer {FAKE_TOKEN}"
               for request, _ in server.log)
    assert {request.method for request, _ in server.log} == {"GET"}
    for path in tmp_path.iterdir():
        assert_no_secret(path.read_text(), path.name)
    assert_no_secret(finished.stdout + finished.stderr, "the command's output")


# Credentials for the echo test: random letters, so no piece of them is ordinary text.
ECHO_SECRET, ECHO_TOKEN = "Xq7vR2kP9mW4tZ8nB3cJ", "Hy6uL1dF5sG0aE9wQ2rT"
ECHO_FORMS = {
    "raw": lambda value: value,
    "base64": lambda value: base64.b64encode(value.encode()).decode(),
    "url": lambda value: value.replace("Q", "%51"),  # a percent-encoded letter
    "repr": lambda value: repr(["'", value]),
}


def _pieces(*credentials: str) -> set[str]:
    """Every 8-character piece of each credential and of its base64 (at each alignment)."""
    forms = set(credentials)
    for credential in credentials:
        for offset in range(3):
            forms.add(base64.b64encode(b"\0" * offset + credential.encode()).decode()[4:-4])
    return {form[start:start + 8] for form in forms for start in range(len(form) - 7)}


def _echo(request: httpx.Request, encode) -> str:
    """The request's credentials, as a hostile registry sends them back."""
    return (f"{encode(request.headers['x-client-secret'])} "
            f"{encode(request.headers['authorization'])}")


def _report_from_echoing_registry(server, tmp_path, rewrite):
    """Run the command against the demo registry with ``rewrite`` on its answers; returns
    the process and every text that got out (its output streams and the files it wrote)."""
    base_url = serve_demo(server, credentials=(ECHO_SECRET, ECHO_TOKEN), rewrite=rewrite)
    environment = {**os.environ, "ISOMETRIC_CLIENT_SECRET": ECHO_SECRET,
                   "ISOMETRIC_ACCESS_TOKEN": ECHO_TOKEN, "ISOMETRIC_BASE_URL": base_url}
    finished = subprocess.run(
        [sys.executable, "-m", "isoanalytics", "report", "-o", str(tmp_path / "r.html"),
         "--notebook", str(tmp_path / "r.ipynb"), "--with-code"],
        check=False, env=environment, capture_output=True, text=True, timeout=300)
    texts = {"stdout": finished.stdout, "stderr": finished.stderr,
             **{path.name: path.read_text() for path in tmp_path.iterdir()}}
    return finished, texts


def _leaked(texts: dict[str, str]) -> list[tuple[str, str]]:
    return [(piece, where) for piece in _pieces(ECHO_SECRET, ECHO_TOKEN)
            for where, text in texts.items() if piece in text]


@pytest.mark.parametrize("form", sorted(ECHO_FORMS))
def test_a_registry_echoing_the_credentials_into_a_balance_draws_nothing_out(
        server, tmp_path, form):
    # The balance is read in the report's kernel: a value there that fails validation is
    # quoted by the SchemaError that fails the report (on stderr, in the saved notebook's
    # traceback). Whatever form the echo takes, no 8-character piece of it gets out.
    def echoing(request: httpx.Request, answer: httpx.Response) -> httpx.Response:
        if not request.url.path.endswith("/credit_balance"):
            return answer
        body = answer.json()
        body["total"]["active_credits_total"]["credit_kgs"] = _echo(request, ECHO_FORMS[form])
        return httpx.Response(200, json=body)

    finished, texts = _report_from_echoing_registry(server, tmp_path, echoing)
    assert finished.returncode == EXIT_BAD_DATA, finished.stderr
    assert "credit_kgs" in finished.stderr and "r.html" not in texts
    assert "r.ipynb" in texts  # as far as it ran, traceback included
    assert not _leaked(texts), _leaked(texts)


@pytest.mark.parametrize("form", ["raw", "base64"])
def test_credentials_echoed_into_a_name_are_taken_out_of_the_report(server, tmp_path, form):
    # A name is valid data, so the report is made; the echo in it is redacted from the
    # HTML and the saved notebook all the same.
    single = re.compile(f"^{BASE_PATH}/organisations/org_[0-9A-Za-z]+$")

    def echoing(request: httpx.Request, answer: httpx.Response) -> httpx.Response:
        if not single.match(request.url.path) or answer.status_code != 200:
            return answer
        body = answer.json()
        body["name"] = f"Harbourline {_echo(request, ECHO_FORMS[form])}"
        return httpx.Response(200, json=body)

    finished, texts = _report_from_echoing_registry(server, tmp_path, echoing)
    assert finished.returncode == 0, finished.stderr
    assert "Harbourline [redacted]" in texts["r.html"]
    assert not _leaked(texts), _leaked(texts)


def test_secrets_stay_out_of_python_logs_and_errors(server, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", FAKE_SECRET)
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("ISOMETRIC_BASE_URL", serve_demo(server,
                                                        credentials=(FAKE_SECRET, "other")))
    caplog.set_level(logging.DEBUG)  # httpx, httpcore, isoanalytics: everything
    with pytest.raises(ia.AuthenticationError) as caught:
        report.build(output=tmp_path / "report.html", progress=False)
    assert server.log, "the request was sent"
    assert_no_secret(str(caught.value) + repr(caught.value), "the error")
    assert_no_secret(caplog.text, "the log")


# --- a cell that shows an error is a failed report, never a traceback in the HTML ------------


@pytest.mark.parametrize(("failing_code", "shown"), [
    # matplotlib raises while the inline backend draws the figure, after the cell "succeeded"
    (("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
      "ax.set_title(r'$\\undefinedmacro{x}$')"), "ValueError"),
    # IPython catches a failing rich display and shows its traceback instead
    (("class Broken:\n    def _repr_html_(self):\n        raise RuntimeError('no html')\n"
      "Broken()"), "RuntimeError: no html"),
    # a template that catches an error and prints its traceback
    ("import traceback\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    traceback.print_exc()",
     "it wrote to its error stream: ZeroDivisionError: division by zero"),
])
def test_a_cell_that_shows_an_error_fails_the_report(tmp_path, capsys, failing_code, shown):
    output = tmp_path / "report.html"
    output.write_text("yesterday's report")
    template = failing_template(tmp_path / "shows-error.ipynb", failing_code)
    assert run("--demo", "--template", str(template), "-o", str(output)) == EXIT_REPORT_FAILED
    said = capsys.readouterr().err
    assert "in section 'Holdings'" in said and shown in said, said
    assert "Traceback" not in said and "in Python" not in said
    assert output.read_text() == "yesterday's report"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.html",
                                                                 "shows-error.ipynb"]


def test_a_warning_on_the_error_stream_fails_nothing_and_stays_out_of_the_report(
        tmp_path, caplog):
    # A library's warning (a font cache rebuilt on a fresh machine, a deprecation) is not a
    # failure; the report is written, without the warning, and the warning is logged. An
    # error after a warning is still named as the error (the next test's first case).
    template = failing_template(
        tmp_path / "warns.ipynb",
        "import sys\nprint('findfont: Font family not found; falling back', file=sys.stderr)")
    with caplog.at_level(logging.WARNING, logger="isoanalytics.report"):
        path = report.build(output=tmp_path / "r.html", demo=True, template=template,
                            progress=False)
    assert "findfont" not in path.read_text()
    assert any("findfont" in record.getMessage() and "Holdings" in record.getMessage()
               for record in caplog.records)


def test_an_error_is_named_before_a_warning_printed_ahead_of_it(tmp_path, capsys):
    template = failing_template(
        tmp_path / "warns-then-fails.ipynb",
        "import sys\nprint('findfont: Font family not found', file=sys.stderr)\n"
        "raise KeyError('column')")
    assert run("--demo", "--template", str(template), "-o", str(tmp_path / "r.html")) \
        == EXIT_REPORT_FAILED
    said = capsys.readouterr().err
    assert "KeyError" in said and "findfont" not in said, said


def test_a_cell_allowed_to_raise_still_fails_the_report(tmp_path):
    template = failing_template(tmp_path / "allowed.ipynb", "raise KeyError('column')")
    node = nbformat.read(template, as_version=4)
    node.cells[-1].metadata["tags"] = ["raises-exception"]  # nbclient then carries on
    nbformat.write(node, template)
    with pytest.raises(ReportError, match="in section 'Holdings': KeyError"):
        report.build(output=tmp_path / "r.html", demo=True, template=template, progress=False)
    assert not (tmp_path / "r.html").exists()


def test_a_fractional_timeout_is_rounded_up(tmp_path):
    template = failing_template(tmp_path / "quick.ipynb", "import time\ntime.sleep(0.2)")
    assert run("--demo", "--template", str(template), "-o", str(tmp_path / "r.html"),
               "--timeout", "0.5") == 0
    assert (tmp_path / "r.html").is_file()


def test_a_kernel_that_dies_is_a_failed_report_with_its_last_words(tmp_path, capsys,
                                                                   monkeypatch):
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    template = failing_template(
        tmp_path / "dies.ipynb",
        "import os, sys\nsys.__stderr__.write('out of luck\\n'); sys.__stderr__.flush()\n"
        "os._exit(1)")
    assert run("--demo", "--template", str(template), "-o", str(tmp_path / "r.html")) \
        == EXIT_REPORT_FAILED
    said = capsys.readouterr().err
    assert "kernel died" in said and "out of luck" in said and "Traceback" not in said
    assert not (tmp_path / "r.html").exists()
    assert list(private.iterdir()) == []  # its temporary folder is gone too
