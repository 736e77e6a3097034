"""The ``isoanalytics summary --demo`` command."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from isoanalytics import demo
from isoanalytics.cli import EXIT_CREDENTIALS, EXIT_UNKNOWN_ORGANISATION, main


def _run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


def test_summary_of_the_default_demo_organisation():
    code, text = _run("summary", "--demo")
    registry = demo.registry()
    organisation = registry.organisation(demo.DEFAULT_ORGANISATION_ID)
    assert code == 0
    assert organisation["name"] in text and demo.DEFAULT_ORGANISATION_ID in text
    assert "DEMO DATA" in text
    for label in ["Active", "Retired", "Total", "Retired share", "HHI", "Supplier"]:
        assert label in text
    assert "(high)" in text  # the default buyer is the concentrated one
    # the largest supplier's name is printed, not only its id
    balance = registry.credit_balance(demo.DEFAULT_ORGANISATION_ID)
    top = max(balance["supplier_balances"],
              key=lambda row: sum(q["credit_kgs"] for q in row["total"].values()))
    assert registry.supplier(top["supplier_id"])["organisation"]["name"] in text


@pytest.mark.parametrize("role", list(demo.registry().buyers))
def test_summary_of_every_demo_organisation(role):
    organisation_id = demo.registry().buyers[role]
    code, text = _run("summary", "--demo", "--org", organisation_id, "--top", "3")
    assert code == 0, text
    assert organisation_id in text
    if role == "empty":
        assert "Holds no credits" in text and "n/a" in text


def test_exact_tonnes_are_printed():
    organisation_id = demo.DEFAULT_ORGANISATION_ID
    balance = demo.registry().credit_balance(organisation_id)
    active_kgs = balance["total"]["active_credits_total"]["credit_kgs"]
    _code, text = _run("summary", "--demo", "--org", organisation_id)
    assert f"({active_kgs:,} kg)" in text
    assert f"{active_kgs // 1000:,}.{active_kgs % 1000:03d} tCO2e" in text


def test_unknown_organisation(capsys):
    code, _ = _run("summary", "--demo", "--org", "org_0000000000000000")
    assert code == EXIT_UNKNOWN_ORGANISATION
    assert "org_0000000000000000" in capsys.readouterr().err


def test_live_mode_without_credentials_says_what_to_set(capsys, monkeypatch):
    monkeypatch.delenv("ISOMETRIC_CLIENT_SECRET", raising=False)
    code, _ = _run("summary")
    assert code == EXIT_CREDENTIALS
    error = capsys.readouterr().err
    assert "ISOMETRIC_CLIENT_SECRET" in error and "summary --demo" in error


def test_the_installed_command_runs():
    result = subprocess.run([sys.executable, "-m", "isoanalytics", "summary", "--demo"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "tCO2e" in result.stdout



def test_a_closed_pipe_ends_quietly():
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    assert main(["summary", "--demo"], out=ClosedPipe()) == 0


def test_the_readme_exit_code_table_is_the_cli_s():
    import re
    from pathlib import Path

    from isoanalytics import cli

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = {int(code) for code in re.findall(r"^\| (\d+) \|", readme, flags=re.MULTILINE)}
    constants = {value for name, value in vars(cli).items() if name.startswith("EXIT_")}
    assert table == constants | {0}
    documented = {int(code) for code in re.findall(r"(\d+) [a-z]", cli.__doc__.split(
        "Exit codes:")[1])}
    assert constants <= documented
