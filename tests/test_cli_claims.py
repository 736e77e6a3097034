"""``isoanalytics claims``: one row per retirement of a period, as a table or CSV, exact.

On the embedded demo registry; the figures are checked against :func:`isoanalytics.claims`
read independently, the exit codes against the documented ones, Ctrl-C in a real process.
"""

from __future__ import annotations

import csv
import io

import pytest

from isoanalytics import RegistryClient, claims, demo
from isoanalytics.cli import main

from . import test_cli_signals as _signals
from .test_cli_signals import Run, _until

blocking_registry = _signals.blocking_registry  # the fixture: the demo on loopback, one hang

BUYERS = demo.registry().buyers
DIVERSIFIED, FULLY_RETIRED = BUYERS["diversified"], BUYERS["fully_retired"]

# The diversified buyer's 2025, as the command prints it (the demo registry is fixed).
TABLE_2025 = """\
Claims of Fernhill Software (org_1MT6511YC1TQJGFM): 2025 (UTC; start included, end excluded)
DEMO DATA (fictional, generated), as of 2026-10-31

Retirement             Retired at (UTC)  Beneficiary        Purposes                     \
Pathways                                                      kg    tCO2e  Certificate
---------------------  ----------------  -----------------  ---------------------------  \
-------------------------------------------------------  -------  -------  \
---------------------------------------------------------
ret_1RP9G1P1K7RR9RGF   2025-08-17 17:49  Fernhill Software  public_environmental_claims  \
enhanced_weathering                                       40,987   40.987  \
https://registry.example/retirements/ret_1RP9G1P1K7RR9RGF
ret_1NEEQR9ME9SGZCEZ   2025-10-07 16:47  Fernhill Software  corporate_targets            \
biomass_carbon_removal_and_storage, enhanced_weathering  178,441  178.441  \
https://registry.example/retirements/ret_1NEEQR9ME9SGZCEZ
---------------------  ----------------  -----------------  ---------------------------  \
-------------------------------------------------------  -------  -------  \
---------------------------------------------------------
Total (2 retirements)                                                                     \
                                                        219,428  219.428
"""


def run(*args: str, capsys) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(["claims", *args], out=out)
    return code, out.getvalue(), capsys.readouterr().err


def independent(organisation_id: str, start=None, end=None) -> dict[str, int]:
    """Each retirement's kilograms, summed here from claims()' batch rows."""
    with RegistryClient.demo() as client:
        rows = claims(client, organisation_id, start=start, end=end, progress=False)
    kgs: dict[str, int] = {}
    for retirement, amount in zip(rows["retirement_id"], rows["credit_kgs"], strict=True):
        kgs[retirement] = kgs.get(retirement, 0) + int(amount)
    return kgs


def test_the_table_is_exact(capsys):
    code, out, err = run("--demo", "--org", DIVERSIFIED, "--period", "2025", capsys=capsys)
    assert code == 0, err
    assert out == TABLE_2025
    assert err == ""


def test_from_and_to_name_the_same_year_as_period(capsys):
    # --to is the last day included: --from 2025-01-01 --to 2025-12-31 is 2025.
    code, out, _ = run("--demo", "--org", DIVERSIFIED, "--from", "2025-01-01", "--to",
                       "2025-12-31", capsys=capsys)
    assert code == 0
    assert out.splitlines()[3:] == TABLE_2025.splitlines()[3:]
    assert out.splitlines()[0].endswith(": 2025-01-01 to 2025-12-31 (UTC; start included, "
                                        "end excluded)")


def test_the_csv_holds_every_retirement_of_the_period_exactly(capsys):
    code, out, err = run("--demo", "--org", DIVERSIFIED, "--org", FULLY_RETIRED, "--period",
                         "2025", "--format", "csv", capsys=capsys)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["retirement_id", "retired_at_utc", "organisation_id",
                             "organisation_name", "beneficiary_id", "beneficiary_name",
                             "purposes", "pathways", "credit_kgs", "tco2e", "certificate_url",
                             "problem"]
    expected = {**independent(DIVERSIFIED, "2025-01-01", "2026-01-01"),
                **independent(FULLY_RETIRED, "2025-01-01", "2026-01-01")}
    assert {row["retirement_id"]: int(row["credit_kgs"]) for row in rows} == expected
    assert len(rows) == len(expected)  # one row per retirement, not per batch
    for row in rows:
        kgs = int(row["credit_kgs"])
        assert row["tco2e"] == f"{kgs // 1000}.{kgs % 1000:03d}"
        assert row["retired_at_utc"].startswith("2025-") and row["retired_at_utc"].endswith("Z")
        assert row["certificate_url"].startswith("https://")
        assert row["organisation_id"] in (DIVERSIFIED, FULLY_RETIRED)
    assert [row["retired_at_utc"] for row in rows] == sorted(row["retired_at_utc"]
                                                             for row in rows)
    assert {row["organisation_name"] for row in rows} == {"Fernhill Software", "Quillon Air"}


def test_several_organisations_get_an_organisation_column(capsys):
    code, out, _ = run("--demo", "--org", DIVERSIFIED, "--org", FULLY_RETIRED, "--period",
                       "2025", capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert "Organisation" in lines[3]
    total = sum(independent(DIVERSIFIED, "2025-01-01", "2026-01-01").values()) + sum(
        independent(FULLY_RETIRED, "2025-01-01", "2026-01-01").values())
    assert lines[-1].startswith("Total (3 retirements)")
    assert f"{total:,}" in lines[-1]


def test_without_a_period_it_is_all_time_and_says_so(capsys):
    code, out, err = run("--demo", "--format", "csv", capsys=capsys)
    assert code == 0
    assert "all time" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    with RegistryClient.demo() as client:
        retired = client.credit_balance(demo.DEFAULT_ORGANISATION_ID).retired_kgs
    assert sum(int(row["credit_kgs"]) for row in rows) == retired


def test_a_period_with_nothing_retired(capsys):
    code, out, _ = run("--demo", "--period", "2025-Q1", capsys=capsys)
    assert code == 0
    assert out.splitlines()[0].endswith("2025-Q1 (2025-01-01 to 2025-03-31) (UTC; start "
                                        "included, end excluded)")
    assert out.rstrip().endswith("Nothing was retired in the period.")
    code, out, _ = run("--demo", "--period", "2025-Q1", "--format", "csv", capsys=capsys)
    assert code == 0 and len(out.splitlines()) == 1  # the header alone


@pytest.mark.parametrize(("args", "said"), [
    (["--period", "20x5"], "--period must be a year (2025)"),
    (["--period", "1850"], "--period: 1850 is not a year from 1900 to 2999"),
    (["--period", "2025", "--from", "2025-01-01"], "--period is a whole period: leave out --from"),
    (["--from", "2025-02-01", "--to", "2025-01-31"], "--from (2025-02-01) must come before --to"),
    (["--from", "2025-01-01T00:00"], "--from must be a date"),
    (["--to", "2025-12-31T12:00Z"], "--to is the last day included"),
    (["--period", "2025", "--year-start", "13"], "--year-start must be a month number"),
    (["--year-start", "4"], "--year-start names the month a year starts in"),
    (["--period", "2025-06", "--year-start", "4"], "--year-start applies to years and quarters"),
    (["--org", "org_bad"], "--org: expected an organisation id"),
    (["--environment", "sandbox"], "--environment chooses a live registry"),
])
def test_bad_options_are_usage_errors(args, said, capsys):
    code, out, err = run("--demo", *args, capsys=capsys)
    assert code == 2
    assert out == ""
    assert said in err and "Traceback" not in err
    assert err.startswith("usage: isoanalytics claims")


def test_argparse_refuses_what_it_checks(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["claims", "--demo", "--format", "xlsx"])
    assert stopped.value.code == 2
    with pytest.raises(SystemExit) as stopped:
        main(["claims", "--demo", "--year-start", "April"])
    assert stopped.value.code == 2
    assert "--year-start: expected a whole number" in capsys.readouterr().err


def test_an_unknown_organisation_exits_3(capsys):
    code, out, err = run("--demo", "--org", "org_1AAAAAAAAAAAAAAA", "--period", "2025",
                         capsys=capsys)
    assert code == 3
    assert out == ""
    assert "org_1AAAAAAAAAAAAAAA" in err and "Demo organisations:" in err


def test_live_mode_without_credentials_exits_5(capsys):
    code, out, err = run("--period", "2025", capsys=capsys)
    assert code == 5
    assert "ISOMETRIC_CLIENT_SECRET" in err and "isoanalytics claims --demo" in err
    assert "Traceback" not in err


def test_interrupted_while_reading(tmp_path, blocking_registry):
    environment, reached, _ = blocking_registry
    process = Run(tmp_path, ["claims", "--org", demo.DEFAULT_ORGANISATION_ID, "--period",
                             "2025"], env=environment)
    _until(lambda: reached.is_set(), process.process, "the organisation read")
    code, error = process.interrupt()
    assert code == 130, error
    assert error.strip() == ("isoanalytics claims: interrupted while reading the registry; "
                             "nothing was written")
    assert process.said == b""
