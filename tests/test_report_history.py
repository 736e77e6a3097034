"""The report's history (``--history DIR``, ``history=``): a snapshot store's holdings over time.

Two kernels run here (a store with the report's organisation, one without); the default
report, without a store, is the shared ``demo_report`` and must not show the section at all.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st

import isoanalytics as ia
from isoanalytics import changes, demo, report, tonnes
from isoanalytics.cli import EXIT_USAGE
from isoanalytics.present.datasets import DatasetPathError
from isoanalytics.present.report import HISTORY_TAG, TemplateError
from isoanalytics.present.snapshots import STORE_MARKER, append_snapshot
from isoanalytics.tables import changes_html

from .conftest import REPO

ORG = demo.DEFAULT_ORGANISATION_ID
OTHER = demo.registry().buyers["diversified"]
HEADING = "Holdings over time (snapshots)"
PNG = re.compile(r'<img[^>]+src="data:image/png;base64,')
# Drawn through plots.chart_image like every chart of the report; its alt text names it.
HISTORY_IMAGE = re.compile(r'<img alt="(Step chart of active and retired holdings[^"]*)" '
                           r'src="data:image/png;base64,[^"]+"')
FIRST, LAST = "2026-01-01T06:00:00+00:00", "2026-10-31T06:00:00+00:00"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The default buyer as its ledger stood on 1 January 2026 and as it is now, and another
    organisation in between (not the report's: it must be left out)."""
    folder = tmp_path_factory.mktemp("history") / "store"
    with ia.RegistryClient.demo() as client:
        now = client.credit_balance(ORG)
        then = ia.holdings_as_of(ia.ledger(client, ORG, progress=False), "2026-01-01")
        other = client.credit_balance(OTHER)
    append_snapshot(folder, {ORG: then}, at=FIRST)
    append_snapshot(folder, {OTHER: other}, at="2026-05-01")
    append_snapshot(folder, {ORG: now}, at=LAST)
    return folder, now


@pytest.fixture(scope="module")
def history_report(store, tmp_path_factory):
    folder = tmp_path_factory.mktemp("history-report")
    report.build(demo=True, output=folder / "report.html", history=store[0],
                 notebook=folder / "report.ipynb", progress=False)
    return (folder / "report.html").read_text(), folder / "report.ipynb"


def _table_rows(page: str) -> list[list[str]]:
    table = re.search(r'<table class="isoanalytics-table isoanalytics-changes">(.*?)</table>',
                      page, re.DOTALL)
    assert table, "no table of changes in the page"
    return [[html.unescape(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table.group(1))]


def _signed(kgs: int) -> str:
    return ("+" if kgs > 0 else "") + tonnes(kgs)


def test_the_section_comes_after_the_holdings_with_its_chart(history_report, store):
    page, _ = history_report
    _, now = store
    positions = [page.index(f">{heading}<") for heading in
                 ("Holdings by project", HEADING, "Concentration")]
    assert positions == sorted(positions)
    assert len(PNG.findall(page)) == 9  # the eight of the default report and the history
    (alt,) = HISTORY_IMAGE.findall(page)
    assert html.unescape(alt) == (
        "Step chart of active and retired holdings in tCO2e at 2 snapshots, from 2026-01-01 "
        f"to 2026-10-31; at the latest, {tonnes(now.active_kgs)} tCO2e active and "
        f"{tonnes(now.retired_kgs)} tCO2e retired.")


def test_the_table_is_exactly_what_changes_gives(history_report, store):
    page, _ = history_report
    folder, _ = store
    moved = changes(folder, FIRST, LAST)
    moved = moved[(moved["organisation_id"] == ORG).to_numpy()].reset_index(drop=True)
    assert moved["active_change_kgs"].ne(0).any()  # something moved, or this proves little
    names = dict(zip(ia.RegistryClient.demo().suppliers()["id"],
                     ia.RegistryClient.demo().suppliers()["name"], strict=True))
    header, *rows, total = _table_rows(page)
    assert header[0] == "Supplier" and len(rows) == len(moved)
    columns = ["active_kgs_from", "active_kgs_to", "active_change_kgs", "retired_kgs_from",
               "retired_kgs_to", "retired_change_kgs"]
    for row, expected in zip(rows, moved.itertuples(), strict=True):
        figures = [getattr(expected, column) for column in columns]
        assert row == [names.get(expected.supplier_id, expected.supplier_id),
                       *(_signed(kgs) if "change" in column else tonnes(kgs)
                         for column, kgs in zip(columns, figures, strict=True))]
    assert total[1:] == [_signed(int(moved[column].sum())) if "change" in column
                         else tonnes(int(moved[column].sum())) for column in columns]
    assert ("What moved between the first snapshot, 2026-01-01 06:00 UTC, and the last, "
            "2026-10-31 06:00 UTC") in page
    assert OTHER not in page  # the other organisation's snapshot is not the report's


def test_the_executed_notebook_carries_the_store_as_a_parameter(history_report, store):
    _, notebook = history_report
    node = nbformat.read(notebook, as_version=4)
    (injected,) = [cell for cell in node.cells
                   if "injected-parameters" in cell.metadata.get("tags", [])]
    assert f"history_store = {str(store[0].resolve())!r}" in injected.source
    outputs = [output for cell in node.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output["output_type"] == "error"]


def test_a_store_without_these_organisations_says_so(tmp_path):
    store = tmp_path / "store"
    with ia.RegistryClient.demo() as client:
        append_snapshot(store, {OTHER: client.credit_balance(OTHER)}, at="2026-05-01")
    output = report.build(demo=True, output=tmp_path / "report.html", history=store,
                          progress=False)
    page = output.read_text()
    assert f">{HEADING}<" in page
    assert "The snapshot store holds no snapshot of this organisation yet" in page
    assert not HISTORY_IMAGE.search(page) and "isoanalytics-changes" not in page
    assert len(PNG.findall(page)) == 8  # no empty chart


def test_without_a_store_the_report_is_as_it_was(demo_report):
    page = (demo_report / "report.html").read_text()
    assert HEADING not in page and "history_store" not in page
    node = nbformat.read(demo_report / "report.ipynb", as_version=4)
    assert not [cell for cell in node.cells if HISTORY_TAG in cell.metadata.get("tags", [])]
    # The template has the section; a report without a store leaves it out, cell for cell.
    template = nbformat.read(report.TEMPLATE, as_version=4)
    assert len([cell for cell in template.cells
                if HISTORY_TAG in cell.metadata.get("tags", [])]) == 3


# --- a DIR that is not a store: refused before any work --------------------------------------


def _not_stores(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("not a store")
    (tmp_path / "file.txt").write_text("a file")
    return {"does not exist": tmp_path / "missing",
            "is a folder but not a snapshot store": tmp_path / "folder",
            "is not a folder": tmp_path / "file.txt"}


def test_the_python_api_refuses_a_folder_that_is_not_a_store(tmp_path):
    for problem, path in _not_stores(tmp_path).items():
        with pytest.raises(DatasetPathError, match=f"^history '.*' {problem}\\b.*snapshot "
                                                   "--store DIR"):
            report.build(demo=True, output=tmp_path / "report.html", history=path)
    assert not (tmp_path / "report.html").exists()
    assert not (tmp_path / "missing").exists()  # reading never makes a store


def test_the_command_says_which_option_and_exits_with_the_usage_code(tmp_path):
    for problem, path in _not_stores(tmp_path).items():
        result = subprocess.run(
            [sys.executable, "-m", "isoanalytics", "report", "--demo", "--history", str(path),
             "-o", str(tmp_path / "report.html")],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == EXIT_USAGE, result.stderr
        assert f"error: --history {str(path)!r} {problem}" in result.stderr
        assert "Traceback" not in result.stderr
        if path.name == "folder":
            assert STORE_MARKER in result.stderr  # what makes a folder a store
    assert not (tmp_path / "report.html").exists()


def test_a_template_without_the_section_is_refused_with_a_store(tmp_path, store):
    template = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "organisation_ids = []", metadata={"tags": ["parameters"]})]), template)
    with pytest.raises(TemplateError, match="no cell tagged 'history'"):
        report.build(demo=True, output=tmp_path / "r.html", template=template, history=store[0])


# --- the table on its own --------------------------------------------------------------------


@given(st.lists(st.tuples(st.integers(0, 10**12), st.integers(0, 10**12),
                          st.integers(0, 10**12), st.integers(0, 10**12)),
                min_size=1, max_size=6))
def test_changes_html_rows_and_total_are_exact(held):
    import pandas as pd

    rows = []
    for position, (active_from, retired_from, active_to, retired_to) in enumerate(held):
        for at, snapshot_id, active, retired in (("2025-01-01", "a", active_from, retired_from),
                                                 ("2025-02-01", "b", active_to, retired_to)):
            rows += [(at, snapshot_id, f"spl_{position}", "active", active),
                     (at, snapshot_id, f"spl_{position}", "retired", retired)]
    frame = pd.DataFrame(rows, columns=["snapshot_at", "snapshot_id", "entity_id", "status",
                                        "credit_kgs"])
    frame = frame.assign(snapshot_at=pd.to_datetime(frame["snapshot_at"], utc=True),
                         organisation_id="org_1", level="supplier",
                         credits=frame["credit_kgs"] / 1000)
    moved = changes(frame, "2025-01-01", "2025-02-01")
    table = _table_rows(changes_html(moved, units="kg"))
    active_change = sum(to - start for start, _, to, _ in held)
    retired_change = sum(to - start for _, start, _, to in held)
    assert table[-1][0] == f"Total ({len(held)} {'supplier' if len(held) == 1 else 'suppliers'})"
    assert table[-1][3] == ("+" if active_change > 0 else "") + f"{active_change:,}"
    assert table[-1][6] == ("+" if retired_change > 0 else "") + f"{retired_change:,}"
    assert len(table) == len(held) + 2

