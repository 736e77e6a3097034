"""Breakdowns along supplier, project, pathway and country; top N with an exact Other row."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import isoanalytics as ia
from isoanalytics import demo
from isoanalytics.analysis.dimensions import DIMENSIONS, UNKNOWN, breakdown, label, top_n
from isoanalytics.analysis.metrics import summary_frame

from .conftest import bodies
from .ledgers import ledger_from_batches

KG_COLUMNS = ["active_kgs", "retired_kgs", "total_kgs"]


@pytest.fixture(scope="module")
def registry_tables():
    with ia.RegistryClient.demo() as client:
        portfolio = ia.fetch_balances(list(demo.accounts()), client=client, progress=False)
        return portfolio.frame, client.projects()


@pytest.mark.parametrize("by", DIMENSIONS)
def test_every_kilogram_is_in_every_breakdown(registry_tables, by):
    frame, projects = registry_tables
    table = breakdown(frame, by, projects=projects)
    organisations = ia.summarize(frame, by="organisation")
    for column in KG_COLUMNS:
        assert table[column].dtype == np.int64
        assert int(table[column].sum()) == int(organisations[column].sum())
    assert table.index.is_unique
    assert UNKNOWN not in table.index  # every demo project is in the project table


def test_a_pathway_holds_exactly_its_projects(registry_tables):
    frame, projects = registry_tables
    by_project = breakdown(frame, "project", projects=projects)
    by_pathway = breakdown(frame, "pathway", projects=projects)
    expected = by_project.groupby("pathway")["total_kgs"].sum()
    assert by_pathway["total_kgs"].to_dict() == expected.to_dict()
    assert by_pathway["share"].sum() == pytest.approx(1.0)


def test_country_breakdown_names_the_countries(registry_tables):
    frame, projects = registry_tables
    by_country = breakdown(frame, "country", projects=projects)
    assert by_country.index.name == "country"
    names = dict(zip(projects["country_code"], projects["country_name"], strict=False))
    assert by_country["country_name"].to_dict() == {code: names[code] for code in by_country.index}


def test_supplier_and_project_breakdowns_are_summaries_with_names(registry_tables):
    frame, projects = registry_tables
    for by in ("supplier", "project"):
        plain = breakdown(frame, by)
        named = breakdown(frame, by, projects=projects)
        pd.testing.assert_frame_equal(plain, ia.summarize(frame, by=by))
        pd.testing.assert_frame_equal(named[plain.columns], plain)
        assert named[f"{by}_name"].notna().all()


def test_a_project_missing_from_the_table_is_counted_as_unknown_and_named(registry_tables):
    frame, projects = registry_tables
    largest = ia.summarize(frame, by="project").index[0]
    with pytest.warns(UserWarning, match=largest):
        table = breakdown(frame, "pathway", projects=projects[projects["id"] != largest])
    assert int(table.loc[UNKNOWN, "total_kgs"]) == int(
        ia.summarize(frame, by="project").loc[largest, "total_kgs"])
    assert (int(table["total_kgs"].sum())
            == int(ia.summarize(frame, by="project")["total_kgs"].sum()))


def test_pathway_and_country_need_the_project_table(registry_tables):
    frame, projects = registry_tables
    for by in ("pathway", "country"):
        with pytest.raises(ValueError, match=r"projects=client\.projects\(\)"):
            breakdown(frame, by)
    with pytest.raises(ValueError, match="country_code, country_name"):
        breakdown(frame, "country",
                  projects=projects.drop(columns=["country_code", "country_name"]))
    with pytest.raises(TypeError, match="client.projects"):
        breakdown(frame, "country", projects=[{"id": "prj_1"}])
    with pytest.raises(ValueError, match="by must be one of"):
        breakdown(frame, "region", projects=projects)


summaries = st.lists(
    st.tuples(st.integers(0, 10**15), st.integers(0, 10**15)), min_size=0, max_size=30,
).map(lambda rows: summary_frame(
    np.array([row[0] for row in rows], dtype=np.int64),
    np.array([row[1] for row in rows], dtype=np.int64),
    pd.Index([f"spl_{number}" for number in range(len(rows))], name="supplier_id"),
))


@given(summaries, st.integers(1, 40), st.sampled_from(["total", "active", "retired"]))
def test_top_n_keeps_the_largest_and_loses_no_kilogram(summary, n, status):
    folded = top_n(summary, n, status=status)
    for column in KG_COLUMNS:
        assert folded[column].dtype == np.int64
        assert int(folded[column].sum()) == int(summary[column].sum())
    kept = folded[~folded["other"]]
    assert len(kept) == min(n, len(summary))
    assert folded["other"].sum() == (1 if len(summary) > n else 0)
    if len(summary) > n:
        assert folded.index[-1] == f"Other ({len(summary) - n})"
        smallest_kept = kept[f"{status}_kgs"].min()
        assert smallest_kept >= summary.drop(kept.index)[f"{status}_kgs"].max()
        level_total = int(summary["total_kgs"].sum())
        if level_total:
            assert folded["share"].iloc[-1] == pytest.approx(
                int(folded["total_kgs"].iloc[-1]) / level_total)


def test_top_n_refuses_what_is_not_a_count_or_asummary_frame():
    summary = summary_frame(np.array([1]), np.array([0]), pd.Index(["a"], name="supplier_id"))
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            top_n(summary, bad)
    with pytest.raises(ValueError, match="missing column"):
        top_n(summary.drop(columns="retired_kgs"), 3)
    with pytest.raises(ValueError, match="status must be one of"):
        top_n(summary, 3, status="sold")


@given(bodies(), st.data())
def test_any_project_table_splits_a_balance_exactly(body, data):
    balance = ia.parse_balance(body, organisation_id="org_1TEST0000000000000")
    project_ids = list(balance.entity_ids("project"))
    # Each project is in the table with some pathway, or missing from it.
    pathways = data.draw(st.lists(st.sampled_from(["marine", "biochar", None]),
                                  min_size=len(project_ids), max_size=len(project_ids)))
    listed = [(pid, way) for pid, way in zip(project_ids, pathways, strict=True)
              if way is not None]
    projects = pd.DataFrame({
        "id": [pid for pid, _ in listed], "name": "n", "supplier_id": "spl_1",
        "supplier_name": "s", "pathway": [way for _, way in listed], "country_code": "USA",
        "country_name": "United States"}, columns=["id", "name", "supplier_id", "supplier_name",
                                                   "pathway", "country_code", "country_name"])
    by_project = ia.summarize(balance, by="project")
    expected: dict[str, int] = {}
    for pid, way in zip(project_ids, pathways, strict=False):
        key = way if way is not None else UNKNOWN
        expected[key] = expected.get(key, 0) + int(by_project.loc[pid, "total_kgs"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unknown projects' warning is tested above
        table = breakdown(balance, "pathway", projects=projects)
    assert {key: int(value) for key, value in table["total_kgs"].items()} == expected


def test_labels_use_names_then_ids():
    frame = pd.DataFrame({"project_name": ["Raven", None, ""]},
                         index=pd.Index(["prj_1", "prj_2", "prj_3"], name="project_id"))
    assert label(frame).tolist() == ["Raven", "prj_2", "prj_3"]
    pathways = pd.DataFrame(index=pd.Index(["enhanced_weathering", UNKNOWN], name="pathway"))
    assert label(pathways).tolist() == ["Enhanced weathering", UNKNOWN]
    bare = pd.DataFrame(index=pd.Index(["spl_1"], name="supplier_id"))
    assert label(bare).tolist() == ["spl_1"]


# -- vintage, and breakdowns of credit batches and ledgers ---------------------------------------


@pytest.fixture(scope="module")
def batch_tables():
    """Each demo buyer's balance, credit batches and ledger, with the project table."""
    with ia.RegistryClient.demo() as client:
        projects = client.projects()
        return {role: (client.credit_balance(org), client.credit_batches(org),
                       ledger_from_batches(client.credit_batches(org), org))
                for role, org in demo.registry().buyers.items()}, projects


def test_a_vintage_breakdown_holds_every_kilogram_of_the_balance(batch_tables):
    tables, _ = batch_tables
    for role, (balance, batches, ledger) in tables.items():
        for source in (batches, ledger):
            table = breakdown(source, "vintage")
            assert table.index.name == "vintage", role
            for column in KG_COLUMNS:
                assert table[column].dtype == np.int64
                assert int(table[column].sum()) == getattr(balance, column), (role, column)
            years = batches["sequestered_on"].dt.year
            for year in table.index:
                held = batches[(years == year).to_numpy()]
                assert int(table.loc[year, "total_kgs"]) == int(held["credit_kgs"].sum())


def test_batches_and_ledgers_break_down_like_the_balance(batch_tables):
    tables, projects = batch_tables
    balance, batches, ledger = tables["large"]
    for by in DIMENSIONS:
        expected = breakdown(balance, by, projects=projects)
        for source in (batches, ledger):
            pd.testing.assert_frame_equal(breakdown(source, by, projects=projects), expected,
                                          check_index_type=False)


def test_vintage_needs_batches_or_a_ledger_and_says_so(batch_tables):
    tables, projects = batch_tables
    balance, batches, _ = tables["typical"]
    for source in (balance, balance.to_frame()):
        with pytest.raises(ValueError, match=r"client\.credit_batches.*isoanalytics\.ledger"):
            breakdown(source, "vintage", projects=projects)
    with pytest.raises(ValueError, match="sequestered_on"):
        breakdown(batches.drop(columns="sequestered_on"), "vintage")
    with pytest.raises(ValueError, match="has none of their columns"):
        breakdown(pd.DataFrame({"credit_kgs": [1]}), "vintage")
    with pytest.raises(TypeError, match="breakdown\\(\\) takes a CreditBalance"):
        breakdown([{"credit_kgs": 1}], "vintage")


def _batches(rows):
    return pd.DataFrame({
        "id": [f"cbt_{i}" for i in range(len(rows))],
        "status": [status for status, _, _ in rows],
        "credit_kgs": np.array([kgs for _, kgs, _ in rows], dtype=np.int64),
        "sequestered_on": pd.to_datetime([day for _, _, day in rows]),
        "project_id": "prj_1", "supplier_id": "spl_1"})


def test_split_batches_are_not_counted_twice_and_missing_vintages_are_a_row():
    batches = _batches([("split", 1_000, "2024-05-01"), ("active", 600, "2024-05-01"),
                        ("retired", 400, "2024-05-01"), ("active", 250, None)])
    table = breakdown(batches, "vintage")
    assert int(table["total_kgs"].sum()) == 1_250  # the split parent's 1,000 kg are its children
    assert table.loc[2024, ["active_kgs", "retired_kgs"]].tolist() == [600, 400]
    assert table.index.hasnans and label(table).tolist() == ["2024", UNKNOWN]
    assert int(table.loc[table.index.isna(), "total_kgs"].iloc[0]) == 250


def test_a_status_or_event_the_registry_does_not_have_is_refused():
    with pytest.raises(ValueError, match="status at row 0 is 'sold'"):
        breakdown(_batches([("sold", 1, "2024-01-01")]), "vintage")
    ledger = pd.DataFrame({"event": ["delivered", "gifted"], "credit_kgs": [5, 5],
                           "vintage": pd.array([2024, 2024], dtype="Int64")})
    with pytest.raises(ValueError, match="event at row 1 is 'gifted'"):
        breakdown(ledger, "vintage")
    with pytest.raises(ValueError, match="integer kilograms"):
        breakdown(ledger.assign(event="delivered", credit_kgs=[5.0, 5.0]), "vintage")


def test_a_part_of_a_ledger_is_refused_rather_than_held_negative(batch_tables):
    tables, _ = batch_tables
    _, _, ledger = tables["large"]
    retirements = ledger[ledger["event"] == "retired"]
    with pytest.raises(ValueError, match="not a whole history"):
        breakdown(retirements, "vintage")
    # An organisation's own surplus does not cover another's shortfall.
    both = pd.DataFrame({"organisation_id": ["org_A", "org_B"],
                         "event": ["delivered", "transferred_out"], "credit_kgs": [10, 5],
                         "vintage": pd.array([2024, 2024], dtype="Int64")})
    with pytest.raises(ValueError, match="org_B"):
        breakdown(both, "vintage")


@given(st.lists(st.tuples(st.sampled_from(["active", "retired", "split"]),
                          st.integers(0, 10**15), st.sampled_from(
                              ["2023-06-30", "2024-01-01", "2024-12-31", "2026-02-02", None])),
                max_size=40))
def test_any_batches_break_down_by_vintage_exactly(rows):
    table = breakdown(_batches(rows), "vintage")
    for status in ("active", "retired"):
        expected = sum(kgs for row_status, kgs, _ in rows if row_status == status)
        assert int(table[f"{status}_kgs"].sum()) == expected
    years = {None if day is None else int(day[:4]) for status, _, day in rows if status != "split"}
    assert len(table) == len(years)


def test_a_ledger_holds_what_came_in_less_what_went_out():
    ledger = pd.DataFrame({
        "organisation_id": "org_A",
        "event": ["delivered", "transferred_in", "transferred_out", "refunded", "retired"],
        "credit_kgs": np.array([10_000, 1_000, 3_000, 2_000, 4_000], dtype=np.int64),
        "vintage": pd.array([2024, 2025, 2024, 2024, 2024], dtype="Int64"),
        "supplier_id": ["spl_1", "spl_2", "spl_1", "spl_1", "spl_1"]})
    by_vintage = breakdown(ledger, "vintage")
    assert by_vintage.loc[2024, ["active_kgs", "retired_kgs"]].tolist() == [5_000, 4_000]
    assert by_vintage.loc[2025, ["active_kgs", "retired_kgs"]].tolist() == [1_000, 0]
    by_supplier = breakdown(ledger, "supplier")
    assert by_supplier["total_kgs"].to_dict() == {"spl_1": 9_000, "spl_2": 1_000}
