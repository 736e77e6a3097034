"""The snapshot store: appended, read back whole, compared, and never merged or corrupted.

history() against what was appended (dtypes, UTC times, an identical balance kept twice);
changes() against summarize() of the two balances (hypothesis); DuckDB reading the store with
hive partitioning; the command's store checks; and plots.history_chart.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import isoanalytics
from isoanalytics import RegistryClient, changes, demo, history, stack_balances, summarize
from isoanalytics.cli import EXIT_USAGE, main
from isoanalytics.plots import history_chart
from isoanalytics.present.datasets import DatasetPathError
from isoanalytics.present.snapshots import (
    PARTITION,
    SNAPSHOT_COLUMNS,
    STORE_MARKER,
    append_snapshot,
    snapshot,
)
from isoanalytics.records.frames import LEVEL_DTYPE, STATUS_DTYPE

BUYERS = demo.registry().buyers
ORGS = [BUYERS["typical"], BUYERS["large"]]


@pytest.fixture(scope="module")
def balances() -> dict:
    with RegistryClient.demo() as client:
        return {organisation_id: client.credit_balance(organisation_id)
                for organisation_id in ORGS}


def test_history_is_what_was_appended_with_its_times(tmp_path, balances):
    store = tmp_path / "store"
    times = ["2025-03-01T06:00:00Z", "2025-03-01T06:00:00Z", "2025-03-02T06:00:00+02:00"]
    paths = [append_snapshot(store, balances, at=at) for at in times]
    assert (store / STORE_MARKER).is_file()
    assert [path.parent.name for path in paths] == [f"{PARTITION}=2025-03-01"] * 2 + [
        f"{PARTITION}=2025-03-02"]
    kept = history(store)
    assert tuple(kept.columns) == SNAPSHOT_COLUMNS
    assert str(kept["snapshot_at"].dtype) == "datetime64[us, UTC]"
    assert kept["level"].dtype == LEVEL_DTYPE and kept["status"].dtype == STATUS_DTYPE
    assert kept["credit_kgs"].dtype == np.int64
    # The identical balance read twice at the same instant: two snapshots, never merged.
    assert kept["snapshot_id"].nunique() == 3
    assert sorted(set(kept["snapshot_at"])) == [pd.Timestamp("2025-03-01T06:00:00Z"),
                                                pd.Timestamp("2025-03-02T04:00:00Z")]
    stacked = stack_balances(list(balances.items()))
    for _, one in kept.groupby("snapshot_id", sort=False):
        pd.testing.assert_frame_equal(one[list(stacked.columns)].reset_index(drop=True),
                                      stacked, check_exact=True)


def test_an_empty_or_missing_store(tmp_path):
    assert tuple(history(tmp_path).columns) == SNAPSHOT_COLUMNS
    assert history(tmp_path).empty
    with pytest.raises(DatasetPathError, match="isoanalytics snapshot --store"):
        history(tmp_path / "nothing")


def test_duckdb_reads_the_store_with_hive_partitioning(tmp_path, balances):
    duckdb = pytest.importorskip("duckdb")
    store = tmp_path / "store"
    for day in ("2025-01-01", "2025-06-01", "2026-01-01"):
        append_snapshot(store, balances, at=day)
    rows = duckdb.sql(
        f"SELECT {PARTITION}, organisation_id, sum(credit_kgs) FROM read_parquet("
        f"'{store}/*/*.parquet', hive_partitioning = true) WHERE level = 'organisation' "
        "GROUP BY ALL ORDER BY ALL").fetchall()
    assert len(rows) == 6
    for day, organisation_id, kgs in rows:
        assert str(day) in ("2025-01-01", "2025-06-01", "2026-01-01")
        assert kgs == balances[organisation_id].total_kgs


def _balance(entities: dict[str, tuple[int, int]]) -> dict:
    def amount(kgs: int) -> dict:
        return {"credit_kgs": kgs, "credits": kgs / 1000}

    def total(active: int, retired: int) -> dict:
        return {"active_credits_total": amount(active), "retired_credits_total": amount(retired)}

    return {"total": total(sum(a for a, _ in entities.values()),
                           sum(r for _, r in entities.values())),
            "project_balances": [],
            "supplier_balances": [{"supplier_id": supplier_id, "total": total(*kgs)}
                                  for supplier_id, kgs in entities.items()]}


SUPPLIER = st.integers(0, 6).map(lambda n: f"spl_{n:016d}")
HOLDING = st.dictionaries(SUPPLIER, st.tuples(st.integers(0, 2**53 + 7), st.integers(0, 2**40)),
                          max_size=5)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=HOLDING, after=HOLDING)
def test_changes_are_the_difference_of_the_two_summaries(tmp_path_factory, before, after):
    organisation_id = "org_0000000000000001"
    store = tmp_path_factory.mktemp("s") / "store"
    first = stack_balances([(organisation_id, _balance(before))])
    second = stack_balances([(organisation_id, _balance(after))])
    append_snapshot(store, first, at="2025-01-01T00:00:00Z")
    append_snapshot(store, second, at="2025-02-01T00:00:00Z")
    moved = changes(store, "2025-01-15", "2025-02-15").set_index("supplier_id")
    summaries = [summarize(frame, by="supplier") for frame in (first, second)]
    suppliers = sorted(set(before) | set(after))
    assert list(moved.index) == suppliers
    for status in ("active", "retired"):
        was = summaries[0][f"{status}_kgs"].reindex(suppliers, fill_value=0)
        now = summaries[1][f"{status}_kgs"].reindex(suppliers, fill_value=0)
        assert moved[f"{status}_kgs_from"].tolist() == was.tolist()
        assert moved[f"{status}_change_kgs"].tolist() == (now - was).tolist()
        assert moved[f"{status}_change_kgs"].dtype == np.int64
    # Between the two bounds of one snapshot nothing moved.
    still = changes(store, "2025-01-02", "2025-01-30")
    assert (still[["active_change_kgs", "retired_change_kgs"]] == 0).all().all()


def test_changes_say_which_snapshots_they_compare(tmp_path, balances):
    store = tmp_path / "store"
    late = {BUYERS["large"]: balances[BUYERS["large"]]}
    append_snapshot(store, {BUYERS["typical"]: balances[BUYERS["typical"]]}, at="2025-01-01")
    append_snapshot(store, late, at="2025-03-01")
    moved = changes(store, "2025-02-01", "2025-04-01", by="project")
    assert "project_id" in moved.columns
    typical = moved[moved["organisation_id"] == BUYERS["typical"]]
    large = moved[moved["organisation_id"] == BUYERS["large"]]
    assert set(typical["from_snapshot_at"]) == {pd.Timestamp("2025-01-01", tz="UTC")}
    # No snapshot of this one by the start: compared from its earliest, which says so.
    assert set(large["from_snapshot_at"]) == {pd.Timestamp("2025-03-01", tz="UTC")}
    # Before any of its snapshots, an organisation has no rows.
    assert set(changes(store, "2025-01-01", "2025-02-01")["organisation_id"]) == {
        BUYERS["typical"]}
    with pytest.raises(ValueError, match="after end"):
        changes(store, "2025-05-01", "2025-01-01")
    with pytest.raises(ValueError, match="by must be one of"):
        changes(store, "2025-01-01", "2025-05-01", by="country")
    with pytest.raises(ValueError, match="start must be a date"):
        changes(store, "not a date", "2025-05-01")


def test_the_snapshot_command(tmp_path, capsys):
    out = io.StringIO()
    store = tmp_path / "store"
    for _ in range(2):
        assert main(["snapshot", "--demo", "--store", str(store), "--org", ORGS[0],
                     "--org", ORGS[1]], out=out) == 0
    assert "Appended a snapshot to" in out.getvalue()
    kept = history(store)
    assert kept["snapshot_id"].nunique() == 2 and set(kept["organisation_id"]) == set(ORGS)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert main(["snapshot", "--demo", "--store", str(mine)], out=out) == EXIT_USAGE
    assert "is not a snapshot store" in capsys.readouterr().err
    assert [path.name for path in mine.iterdir()] == ["notes.txt"]
    # The Python function: a failed read writes nothing.
    with pytest.raises(isoanalytics.PermissionDeniedError):
        snapshot(["org_1234567890123456"], store, demo=True)
    assert history(store)["snapshot_id"].nunique() == 2


def test_history_chart_carries_each_organisation_forward(tmp_path, balances):
    store = tmp_path / "store"
    typical, large = (balances[BUYERS["typical"]], balances[BUYERS["large"]])
    append_snapshot(store, {BUYERS["typical"]: typical}, at="2025-01-01")
    append_snapshot(store, {BUYERS["large"]: large}, at="2025-02-01")
    ax = history_chart(history(store))
    active = next(line for line in ax.get_lines() if line.get_gid() == "active")
    # At the second time, the first organisation's holding still counts.
    assert list(active.get_ydata()) == [typical.active_kgs / 1000,
                                        (typical.active_kgs + large.active_kgs) / 1000]
    assert ax.get_ylabel() == "Credits (tCO2e)"
    one = history_chart(history(store), organisation_id=BUYERS["large"], units="kg")
    retired = next(line for line in one.get_lines() if line.get_gid() == "retired")
    assert list(retired.get_ydata()) == [large.retired_kgs]  # its own snapshots only
    assert one.get_ylabel() == "Quantity (kg CO2e)"
    empty = history_chart(history(tmp_path))
    assert "No snapshots" in [text.get_text() for text in empty.texts]
    with pytest.raises(ValueError, match="history_chart"):
        history_chart(pd.DataFrame({"x": [1]}))
