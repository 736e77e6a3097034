"""Durability classes: the default mapping, its sources, replacing it, and what it does not list."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import isoanalytics as ia
from isoanalytics import demo
from isoanalytics.analysis.dimensions import UNKNOWN, breakdown
from isoanalytics.analysis.durability import (
    DURABILITY,
    DURABILITY_CLASSES,
    durability_sources,
    project_durability,
)
from isoanalytics.records.fields import PATHWAYS

KG_COLUMNS = ["active_kgs", "retired_kgs", "total_kgs"]


@pytest.fixture(scope="module")
def tables():
    with ia.RegistryClient.demo() as client:
        balance = client.credit_balance(demo.registry().buyers["large"])
        return balance, client.projects()


def test_every_pathway_of_the_api_has_a_default_class():
    assert set(PATHWAYS) <= set(DURABILITY)
    assert set(DURABILITY.values()) <= set(DURABILITY_CLASSES)
    assert DURABILITY["direct_air_capture"] == "1000+ years"
    assert DURABILITY["superpollutants"] == "not a removal"


def test_every_entry_cites_its_public_source():
    sources = durability_sources()
    assert sources["key"].tolist() == list(DURABILITY)  # one row per entry, in lookup order
    assert dict(zip(sources["key"], sources["durability"], strict=True)) == dict(DURABILITY)
    assert sources["kind"].isin(["protocol", "pathway"]).all()
    assert set(sources.loc[sources["kind"] == "pathway", "key"]) == set(PATHWAYS)
    assert sources["evidence"].isin(["stated", "reading"]).all()
    assert sources["url"].str.match(r"https://(registry\.)?isometric\.com/").all()
    assert (sources["basis"].str.len() > 40).all()


def test_the_default_mapping_is_read_only():
    with pytest.raises(TypeError):
        DURABILITY["reforestation"] = "1000+ years"  # type: ignore[index]


def test_a_protocol_is_looked_up_before_its_pathway(tables):
    _, projects = tables
    classes = project_durability(projects)
    slugs = projects.drop_duplicates("id").set_index("id")["protocol_slug"]
    bicrs = projects.drop_duplicates("id").set_index("id")["pathway"] == (
        "biomass_carbon_removal_and_storage")
    assert set(classes[slugs == "biochar"]) == {"100-1000 years"}
    assert set(classes[slugs == "bio-oil-geological-storage"]) == {"1000+ years"}
    assert bicrs[slugs == "bio-oil-geological-storage"].all()
    # Without protocol_slug, the pathway decides: the pathway's conservative class.
    by_pathway = project_durability(projects.drop(columns="protocol_slug"))
    assert set(by_pathway[bicrs[by_pathway.index].to_numpy()]) == {"100-1000 years"}


def test_every_demo_project_has_a_class_without_a_warning(tables):
    _, projects = tables
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classes = project_durability(projects)
    assert UNKNOWN not in set(classes)
    assert classes.index.is_unique and len(classes) == projects["id"].nunique()


def test_every_real_project_has_a_class(shared_dir):
    with (shared_dir / "isometric" / "registry-sample" / "projects.csv").open() as file:
        rows = list(csv.DictReader(file))
    projects = pd.DataFrame({"id": [row["id"] for row in rows],
                             "pathway": [row["pathway"] for row in rows],
                             "protocol_slug": [row["protocol_slug"] for row in rows]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert UNKNOWN not in set(project_durability(projects))


def test_breakdown_by_durability_holds_every_kilogram(tables):
    balance, projects = tables
    table = breakdown(balance, "durability", projects=projects)
    assert table.index.name == "durability"
    assert set(table.index) <= set(DURABILITY_CLASSES)
    for column in KG_COLUMNS:
        assert table[column].dtype == np.int64
        assert int(table[column].sum()) == getattr(balance, column)
    by_project = breakdown(balance, "project", projects=projects)
    classes = project_durability(projects)
    expected = by_project["total_kgs"].groupby(classes.reindex(by_project.index)).sum()
    assert table["total_kgs"].to_dict() == expected.to_dict()


def test_a_mapping_of_your_own_replaces_the_default(tables):
    balance, projects = tables
    mine = {pathway: ("durable" if pathway != "reforestation" else "temporary")
            for pathway in PATHWAYS}
    table = breakdown(balance, "durability", projects=projects, durability=mine)
    assert set(table.index) <= {"durable", "temporary"}
    assert int(table["total_kgs"].sum()) == balance.total_kgs
    by_pathway = breakdown(balance, "pathway", projects=projects)
    assert int(table.loc["temporary", "total_kgs"]) == int(
        by_pathway.loc["reforestation", "total_kgs"])
    # One changed entry on top of the default: biochar's 1,000-year option.
    upgraded = breakdown(balance, "durability", projects=projects,
                         durability={**DURABILITY, "biochar": "1000+ years"})
    assert int(upgraded.loc["1000+ years", "total_kgs"]) > int(
        breakdown(balance, "durability", projects=projects).loc["1000+ years", "total_kgs"])


def test_an_unmapped_pathway_is_an_unknown_row_named_in_a_warning(tables):
    balance, projects = tables
    partial = {key: value for key, value in DURABILITY.items()
               if key not in ("reforestation",)}
    with pytest.warns(UserWarning, match="reforestation / reforestation"):
        table = breakdown(balance, "durability", projects=projects, durability=partial)
    by_pathway = breakdown(balance, "pathway", projects=projects)
    assert int(table.loc[UNKNOWN, "total_kgs"]) == int(
        by_pathway.loc["reforestation", "total_kgs"])
    assert int(table["total_kgs"].sum()) == balance.total_kgs


def test_bad_mappings_and_tables_are_refused_with_what_to_pass(tables):
    balance, projects = tables
    with pytest.raises(TypeError, match="durability must be a mapping"):
        breakdown(balance, "durability", projects=projects, durability=["1000+ years"])
    with pytest.raises(TypeError, match="non-empty text"):
        project_durability(projects, {"marine": 1000})
    with pytest.raises(ValueError, match=r"projects=client\.projects\(\)"):
        breakdown(balance, "durability")
    with pytest.raises(ValueError, match="lacks the column"):
        project_durability(projects.drop(columns="pathway"))
    with pytest.raises(TypeError, match="client.projects"):
        project_durability({"id": ["prj_1"]})


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(list(DURABILITY)), st.sampled_from(["A", "B", "C"]),
                       min_size=0, max_size=len(DURABILITY)))
def test_any_mapping_loses_no_kilogram(tables, mapping):
    balance, projects = tables
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unknown pathways' warning is tested above
        table = breakdown(balance, "durability", projects=projects, durability=mapping)
    assert set(table.index) <= {"A", "B", "C", UNKNOWN}
    for column in KG_COLUMNS:
        assert int(table[column].sum()) == getattr(balance, column)
