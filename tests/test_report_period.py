"""The reporting period: its one reading (records.periods), and the report's "Claims in the
period" section, whose figures are claims()' own sums with the boundaries on the right side.

The reports are built by the command line and ``report.render`` on the demo registry
(``period_report`` in conftest: the "diversified" buyer, ``--period 2025``).
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, date, datetime

import nbformat
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from isoanalytics import RegistryClient, claims, demo, report, tonnes
from isoanalytics.cli import EXIT_USAGE, main
from isoanalytics.present.report import TemplateError
from isoanalytics.records.periods import Period, reporting_period

from .conftest import PERIOD_ORGANISATION

BUYERS = demo.registry().buyers
ORGANISATION = BUYERS[PERIOD_ORGANISATION]
HEADING = re.compile(r"<h2[^>]*>(.*?)<", re.S)


def section(page: str, heading: str = "Claims in the period") -> str:
    """The HTML from the section's h2 to the next h2."""
    start = page.index(f">{heading}<")
    following = page.find("<h2", start)
    return page[start:following if following != -1 else len(page)]


def claimed(organisation_id: str, start=None, end=None) -> pd.DataFrame:
    with RegistryClient.demo() as client:
        return claims(client, organisation_id, start=start, end=end, progress=False)


# --- the period, read once ----------------------------------------------------------------


@pytest.mark.parametrize(("given", "options", "start", "end", "label"), [
    (2025, {}, "2025-01-01", "2026-01-01", "2025"),
    ("2025", {}, "2025-01-01", "2026-01-01", "2025"),
    ("2025-Q3", {}, "2025-07-01", "2025-10-01", "2025-Q3 (2025-07-01 to 2025-09-30)"),
    ("2025q4", {}, "2025-10-01", "2026-01-01", "2025-Q4 (2025-10-01 to 2025-12-31)"),
    ("2025-06", {}, "2025-06-01", "2025-07-01", "June 2025"),
    ("2024-02", {}, "2024-02-01", "2024-03-01", "February 2024"),
    # A fiscal year is named by the calendar year it ends in, as timeline() and pandas name it.
    (2026, {"year_start": 4}, "2025-04-01", "2026-04-01",
     "fiscal year 2026 (2025-04-01 to 2026-03-31)"),
    ("2026-Q1", {"year_start": 4}, "2025-04-01", "2025-07-01",
     "fiscal 2026-Q1 (2025-04-01 to 2025-06-30)"),
    (2025, {"year_start": 7}, "2024-07-01", "2025-07-01",
     "fiscal year 2025 (2024-07-01 to 2025-06-30)"),
])
def test_a_named_period(given, options, start, end, label):
    period = reporting_period(given, **options)
    assert period.start == pd.Timestamp(start, tz="UTC")
    assert period.end == pd.Timestamp(end, tz="UTC")
    assert period.label == label
    assert not period.all_time


def test_a_fiscal_year_is_the_one_timeline_names_the_same():
    import isoanalytics as ia

    moves = pd.DataFrame({"at": [pd.Timestamp("2025-04-01", tz="UTC"),
                                 pd.Timestamp("2026-03-31T23:59:59Z")],
                          "event": "retired", "credit_kgs": [1, 2]})
    years = ia.timeline(moves, "Y", year_start=4)
    assert years["period"].astype(str).tolist() == ["2026"]
    period = reporting_period(2026, year_start=4)
    assert years["period_start"].iloc[0] == period.start


def test_dates_and_instants():
    # --to is the last day included; end= (Python) the first instant excluded.
    by_days = reporting_period(start="2025-01-01", last_day="2025-12-31")
    assert by_days == reporting_period(start=date(2025, 1, 1), end=date(2026, 1, 1))
    assert (by_days.start, by_days.end) == (reporting_period(2025).start,
                                            reporting_period(2025).end)
    assert by_days.label == "2025-01-01 to 2025-12-31"
    aware = reporting_period(start=datetime(2025, 1, 1, 12, tzinfo=UTC),
                             end="2025-06-30T20:00-05:00")
    assert aware.end == pd.Timestamp("2025-07-01T01:00Z")
    assert aware.label == "2025-01-01 12:00:00 UTC up to 2025-07-01 01:00:00 UTC (excluded)"
    assert reporting_period(start="2025-06-01").label == "from 2025-06-01"
    assert reporting_period(end="2025-06-01").label == "up to 2025-05-31"
    everything = reporting_period()
    assert everything.all_time and everything.label == "all time"
    assert everything.iso() == (None, None)
    assert reporting_period(by_days) is by_days  # a Period read already is kept


@pytest.mark.parametrize(("arguments", "error", "said"), [
    ({"period": "20x5"}, ValueError, "period must be a year (2025), a quarter"),
    ({"period": 25}, ValueError, "period must be a year"),
    ({"period": "2025-13"}, ValueError, "13 is not a month"),
    ({"period": "2025-Q5"}, ValueError, "period must be a year"),
    ({"period": 3000}, ValueError, "3000 is not a year from 1900 to 2999"),
    ({"period": 2025.0}, TypeError, "period must be a year (2025) or text"),
    ({"period": True}, TypeError, "period must be a year"),
    ({"period": 2025, "start": "2025-01-01"}, ValueError, "leave out start"),
    ({"period": 2025, "end": "2025-01-01", "last_day": "2025-01-01"}, ValueError,
     "leave out end and last_day"),
    ({"start": "2025-02-01", "end": "2025-02-01"}, ValueError, "must come before end"),
    ({"start": "2025-02-01", "last_day": "2025-01-31"}, ValueError,
     "start (2025-02-01) must come before last_day (2025-01-31)"),
    ({"end": "2025-01-01", "last_day": "2025-01-01"}, ValueError, "not both"),
    ({"start": "2025-01-01T12:00"}, ValueError, "has a time but no zone"),
    ({"start": datetime(2025, 1, 1, 12)}, ValueError, "has a time but no zone"),
    ({"last_day": "2025-12-31T00:00Z"}, ValueError, "last_day is the last day included"),
    ({"period": 2025, "year_start": 0}, ValueError, "year_start must be a month number"),
    ({"period": 2025, "year_start": "4"}, ValueError, "year_start must be a month number"),
    ({"period": "2025-06", "year_start": 4}, ValueError, "applies to years and quarters"),
    ({"start": "2025-01-01", "year_start": 4}, ValueError, "not with dates or alone"),
    ({"year_start": 4}, ValueError, "not with dates or alone"),
])
def test_bad_periods_name_the_argument(arguments, error, said):
    with pytest.raises(error) as raised:
        reporting_period(**arguments)
    assert said in str(raised.value)


def test_messages_name_the_options_they_are_given():
    names = {"period": "--period", "start": "--from", "last_day": "--to",
             "year_start": "--year-start"}
    with pytest.raises(ValueError, match="^--from must be a date"):
        reporting_period(start="2025-01-01T00:00", names=names)
    with pytest.raises(ValueError, match="^--period is a whole period: leave out --from$"):
        reporting_period("2025", start="2025-01-01", names=names)


@given(year=st.integers(1901, 2998), year_start=st.integers(1, 12),
       moment=st.datetimes(min_value=datetime(1900, 6, 1), max_value=datetime(2999, 6, 1),
                           timezones=st.just(UTC)))
def test_consecutive_periods_partition_time(year, year_start, moment):
    years = [reporting_period(year + offset, year_start=year_start) for offset in (-1, 0, 1)]
    for earlier, later in zip(years, years[1:], strict=False):
        assert earlier.end == later.start  # no gap, no overlap
    this = years[1]
    quarters = [reporting_period(f"{year}-Q{quarter}", year_start=year_start)
                for quarter in (1, 2, 3, 4)]
    assert quarters[0].start == this.start and quarters[-1].end == this.end
    for earlier, later in zip(quarters, quarters[1:], strict=False):
        assert earlier.end == later.start
    months = [reporting_period(f"{year}-{month:02d}") for month in range(1, 13)]
    assert months[0].start == reporting_period(year).start
    assert months[-1].end == reporting_period(year).end
    for earlier, later in zip(months, months[1:], strict=False):
        assert earlier.end == later.start
    # Any instant is in exactly one fiscal year: the one pandas puts it in.
    instant = pd.Timestamp(moment)
    ends = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()[(year_start - 2) % 12]
    named = instant.tz_localize(None).to_period(f"Y-{ends}").year
    holding = reporting_period(named, year_start=year_start)
    assert holding.start <= instant < holding.end
    assert not reporting_period(named + 1, year_start=year_start).start <= instant


@given(first=st.dates(date(2000, 1, 1), date(2040, 1, 1)),
       lengths=st.tuples(st.integers(1, 800), st.integers(1, 800)))
def test_from_and_to_periods_that_follow_each_other_leave_no_day_out(first, lengths):
    last = first + pd.Timedelta(days=lengths[0] - 1)
    after = (pd.Timestamp(last) + pd.Timedelta(days=1)).date()
    one = reporting_period(start=first.isoformat(), last_day=last.isoformat())
    two = reporting_period(start=after.isoformat(),
                           last_day=(after + pd.Timedelta(days=lengths[1] - 1)).isoformat())
    assert one.end == two.start
    assert (one.end - one.start).days == lengths[0]


# --- the report's section -------------------------------------------------------------------


@pytest.fixture(scope="module")
def period_page(period_report) -> str:
    return (period_report / "report.html").read_text()


def test_the_section_comes_first_after_the_headline(period_page, demo_report):
    for page in (period_page, (demo_report / "report.html").read_text()):
        headings = [text.strip() for text in HEADING.findall(page)]
        assert headings[0] == "Claims in the period", headings
        assert page.index("isoanalytics-headline") < page.index(">Claims in the period<")
        assert page.index("<h1") < page.index(">Claims in the period<")


def test_the_periods_figures_are_claims_own_sums(period_page):
    rows = claimed(ORGANISATION, "2025-01-01", "2026-01-01")
    kgs = int(rows["credit_kgs"].sum())
    retirements = rows["retirement_id"].nunique()
    assert kgs > 0 and retirements > 1  # the fixture's buyer retired in 2025
    text = section(period_page)
    assert "<b>Reporting period: 2025</b>" in text
    assert "from 2025-01-01 00:00 UTC (included) to 2026-01-01 00:00 UTC (excluded)" in text
    assert f"<b>{tonnes(kgs)} tCO2e retired</b> ({kgs:,} kg) in {retirements} retirements" in text
    for heading in ("By beneficiary", "By purpose", "By pathway", "By vintage",
                    "By durability", "Retirements", "Held for future retirement"):
        assert f"<h3>{heading}</h3>" in text
    # every table's Total is the period's total, to the kilogram
    totals = re.findall(r'<tfoot[^>]*><tr><th[^>]*>Total</th><td[^>]*>([\d,.]+)</td>'
                        r'<td[^>]*>([\d,]+)</td>', text)
    assert len(totals) == 5
    assert set(totals) == {(tonnes(kgs), f"{kgs:,}")}
    assert f"Total ({retirements} retirements)" in text
    # each retirement of the period is a row with its certificate link; none from outside
    for retirement, url in zip(rows["retirement_id"], rows["url"], strict=True):
        assert f">{retirement}</th>" in text
        assert f'<a href="{url}">certificate</a>' in text
    others = set(claimed(ORGANISATION)["retirement_id"]) - set(rows["retirement_id"])
    assert others and not any(retirement in text for retirement in others)


def test_held_for_future_retirement_is_the_active_balance(period_page):
    with RegistryClient.demo() as client:
        active = client.credit_balance(ORGANISATION).active_kgs
    assert (f"holds today (not at the period's end): <b>{tonnes(active)} tCO2e</b> "
            f"({active:,} kg)") in section(period_page)


def test_the_timeline_chart_marks_the_period_and_says_its_figure(period_page):
    text = section(period_page)
    kgs = int(claimed(ORGANISATION, "2025-01-01", "2026-01-01")["credit_kgs"].sum())
    images = re.findall(r"<img[^>]*>", text)
    assert len(images) == 1
    alt = re.search(r'alt="([^"]*)"', images[0]).group(1)
    assert alt == ("Bar chart of credits retired per calendar quarter, 2024Q1 to 2026Q4, in "
                   f"tCO2e, with the reporting period 2025 shaded: {tonnes(kgs)} tCO2e retired "
                   "in it in 2 retirements.")


def test_the_executed_notebook_has_the_period_parameters(period_report, demo_report):
    node = nbformat.read(period_report / "report.ipynb", as_version=4)
    injected = next(cell for cell in node.cells
                    if "injected-parameters" in cell.metadata.get("tags", []))
    values = {item.targets[0].id: ast.literal_eval(item.value)
              for item in ast.parse(injected.source).body}
    assert values["period_start"] == "2025-01-01T00:00:00+00:00"
    assert values["period_end"] == "2026-01-01T00:00:00+00:00"
    assert values["period_label"] == "2025"
    # without a period, the parameters are as they were
    node = nbformat.read(demo_report / "report.ipynb", as_version=4)
    injected = next(cell for cell in node.cells
                    if "injected-parameters" in cell.metadata.get("tags", []))
    assert "period_" not in injected.source


def test_without_a_period_the_section_covers_all_time_and_says_so(demo_report):
    text = section((demo_report / "report.html").read_text())
    assert ("This report covers all time; <code>isoanalytics report --period 2025</code> "
            "reports one year.") in text
    rows = claimed(demo.DEFAULT_ORGANISATION_ID)
    kgs = int(rows["credit_kgs"].sum())
    with RegistryClient.demo() as client:
        assert kgs == client.credit_balance(demo.DEFAULT_ORGANISATION_ID).retired_kgs
    assert f"({kgs:,} kg) in {rows['retirement_id'].nunique()} retirements" in text
    assert "in all." in re.search(r'alt="([^"]*)"', text).group(1)


def test_boundaries_fall_on_the_right_side_in_a_portfolio():
    # The period runs from one retirement's instant (included) to another's (excluded).
    first, second = BUYERS["diversified"], BUYERS["fully_retired"]
    mine = claimed(first, "2025-01-01", "2026-01-01").sort_values("retired_at")
    theirs = claimed(second, "2025-01-01", "2026-01-01")
    start, end = mine["retired_at"].iloc[0], theirs["retired_at"].iloc[0]
    assert start < end
    page = report.render([first, second], demo=True, start=start.isoformat(),
                         end=end.isoformat(), progress=False)
    text = section(page)
    inside = pd.concat([claimed(first, start, end), claimed(second, start, end)])
    kgs = int(inside["credit_kgs"].sum())
    assert mine["retirement_id"].iloc[0] in set(inside["retirement_id"])  # the start: in
    assert theirs["retirement_id"].iloc[0] not in set(inside["retirement_id"])  # the end: out
    assert f">{mine['retirement_id'].iloc[0]}</th>" in text
    assert theirs["retirement_id"].iloc[0] not in text
    assert f"({kgs:,} kg) in {inside['retirement_id'].nunique()} retirements" in text
    # the tables carry the organisation: a row per organisation, even one with nothing
    assert "isoanalytics-claims-organisations" in text
    assert ">Quillon Air</th><td" in text and ">Fernhill Software</th><td" in text
    assert '<th style="text-align:left">Organisation</th>' in text.split(
        "isoanalytics-retirements")[1]
    assert f"Total (2 organisations)</th><td style=\"text-align:right;white-space:nowrap\">" \
           f"{tonnes(kgs)}</td>" in text


def test_nothing_retired_in_the_period_is_a_sentence_not_an_empty_chart(tmp_path):
    # The default buyer retired only in 2026.
    assert claimed(demo.DEFAULT_ORGANISATION_ID, "2025-01-01", "2026-01-01").empty
    page = report.render(demo=True, period="2025", progress=False)
    text = section(page)
    assert "Nothing was retired by this organisation in the period." in text
    assert "<img" not in text and "<table" not in text
    assert "Held for future retirement" in text


def test_bad_period_arguments_fail_before_any_kernel(tmp_path):
    output = tmp_path / "r.html"
    for arguments, said in (({"period": "2025-13"}, "13 is not a month"),
                            ({"period": 2025, "start": "2025-01-01"}, "leave out start"),
                            ({"start": "2025-01-01T00:00"}, "has a time but no zone"),
                            ({"period": 2025, "year_start": 13}, "year_start must be")):
        with pytest.raises(ValueError, match=re.escape(said)):
            report.build(demo=True, output=output, **arguments)
        with pytest.raises(ValueError, match=re.escape(said)):
            report.render(demo=True, **arguments)
    assert not output.exists()


def test_a_template_without_period_parameters_refuses_a_period(tmp_path):
    template = tmp_path / "mine.ipynb"
    node = nbformat.v4.new_notebook()
    node.cells = [nbformat.v4.new_code_cell("organisation_ids = []",
                                            metadata={"tags": ["parameters"]})]
    nbformat.write(node, template)
    with pytest.raises(TemplateError, match="sets no period_start"):
        report.build(demo=True, output=tmp_path / "r.html", template=template, period=2025)
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(("args", "said"), [
    (["--period", "2025", "--from", "2025-01-01"], "--period is a whole period: leave out --from"),
    (["--from", "2025-12-01", "--to", "2025-01-31"], "--from (2025-12-01) must come before --to"),
    (["--period", "twenty"], "--period must be a year"),
    (["--to", "2025-12-31T00:00Z"], "--to is the last day included"),
    (["--year-start", "4"], "--year-start names the month a year starts in"),
])
def test_the_command_line_refuses_bad_periods_with_exit_2(tmp_path, capsys, args, said):
    output = tmp_path / "r.html"
    code = main(["report", "--demo", "-o", str(output), *args])
    error = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert said in error and "Traceback" not in error
    assert not output.exists()


def test_period_accepts_a_period_object():
    period = reporting_period("2025-Q3")
    assert isinstance(period, Period)
    with pytest.raises(ValueError, match="leave out year_start"):
        reporting_period(period, year_start=4)
