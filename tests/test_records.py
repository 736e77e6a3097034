"""Registry records (credit batches, projects, ...) to tidy frames: columns, dtypes, exact
kilograms, and a SchemaError naming the JSON path of every kind of bad input."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from isoanalytics import SchemaError, demo
from isoanalytics.ids import ID_KINDS
from isoanalytics.records import columns as builds
from isoanalytics.records.frames import STRING_DTYPE
from isoanalytics.records.kinds import KINDS_BY_NAME
from isoanalytics.records.resources import (
    CREDIT_BATCH_STATUSES,
    KINDS,
    ORDER_STATUSES,
    PATHWAYS,
    PROJECT_STATUSES,
    RETIREMENT_PURPOSES,
    Table,
    check_record,
    columns,
    id_columns,
    page_reader,
    record_frame,
)

from .conftest import KGS, entity_id

# The columns the client and the notebooks rely on; a kind may have more.
MINIMUM = {
    "credit_batch": (
        "id serial_number status project_id supplier_id credit_kgs credits issued_at "
        "delivered_at retired_at sequestered_on country_of_issue issuance_id delivery_id "
        "retirement_id removal_id parent_id left_child_id right_child_id owner_id owner_name "
        "beneficiary_id beneficiary_name ccp_approved gross_carbon_removed_kg "
        "net_carbon_removed_kg emissions_kg counterfactuals_kg losses_kg"
    ),
    "project": (
        "id name supplier_id supplier_name status short_code url process_key pathway "
        "protocol_slug country_code validator_name current_verifier_name crediting_period_start "
        "crediting_period_end issued_kgs retired_kgs issued_buffer_pool_kgs "
        "retired_buffer_pool_kgs country_name latitude longitude"
    ),
    "supplier": (
        "id name organisation_id domain short_description country_code country_name latitude "
        "longitude"
    ),
    "order": (
        "id status supplier_id supplier_name buyer_organisation_id buyer_organisation_name "
        "effective_contract_date fulfilled_at ordered_kgs delivered_kgs remaining_kgs "
        "delivered_share"
    ),
    "retirement": (
        "id retired_at owner_id owner_name beneficiary_id beneficiary_name retired_kgs purposes "
        "url notes"
    ),
    "organisation": "id name domain",
    "delivery": (
        "id delivered_at order_id supplier_id supplier_name to_organisation_id "
        "to_organisation_name delivered_kgs url notes"
    ),
    "transfer": (
        "id transferred_at from_organisation_id from_organisation_name to_organisation_id "
        "to_organisation_name transferred_kgs notes"
    ),
    "refund": (
        "id refunded_at from_organisation_id from_organisation_name to_organisation_id "
        "to_organisation_name refunded_kgs notes"
    ),
    "issuance": (
        "id issued_at supplier_id supplier_name project_id reporting_period_start "
        "reporting_period_end issued_kgs supplier_kgs buffer_pool_kgs"
    ),
    "project_document": "id display_name project_id url",
}

UTC = "datetime64[us, UTC]"
DAY = "datetime64[us]"
DTYPES = {  # column -> dtype, for the columns whose dtype matters most
    "credit_batch": {
        "id": STRING_DTYPE, "status": pd.CategoricalDtype(CREDIT_BATCH_STATUSES),
        "credit_kgs": "int64", "credits": "float64", "issued_at": UTC, "delivered_at": UTC,
        "retired_at": UTC, "sequestered_on": DAY, "beneficiary_name": STRING_DTYPE,
        "ccp_approved": "bool", "gross_carbon_removed_kg": "Int64", "losses_kg": "Int64",
        "parent_id": STRING_DTYPE,
    },
    "project": {
        "status": pd.CategoricalDtype(PROJECT_STATUSES), "pathway": pd.CategoricalDtype(PATHWAYS),
        "crediting_period_start": DAY, "crediting_period_end": DAY, "issued_kgs": "int64",
        "retired_kgs": "int64", "issued_buffer_pool_kgs": "int64",
        "retired_buffer_pool_kgs": "int64", "latitude": "float64", "longitude": "float64",
        "supplier_id": STRING_DTYPE,
    },
    "supplier": {"id": STRING_DTYPE, "latitude": "float64", "domain": STRING_DTYPE},
    "order": {
        "status": pd.CategoricalDtype(ORDER_STATUSES), "effective_contract_date": DAY,
        "fulfilled_at": UTC, "ordered_kgs": "int64", "delivered_kgs": "int64",
        "remaining_kgs": "int64", "delivered_share": "float64",
    },
    "retirement": {
        "retired_at": UTC, "retired_kgs": "int64", "purposes": STRING_DTYPE,
        "notes": STRING_DTYPE,
    },
    "organisation": {"id": STRING_DTYPE, "domain": STRING_DTYPE},
    "delivery": {"delivered_at": UTC, "delivered_kgs": "int64", "order_id": STRING_DTYPE,
                 "notes": STRING_DTYPE},
    "transfer": {"transferred_at": UTC, "transferred_kgs": "int64"},
    "refund": {"refunded_at": UTC, "refunded_kgs": "int64", "notes": STRING_DTYPE},
    "issuance": {"issued_at": UTC, "reporting_period_start": DAY, "reporting_period_end": DAY,
                 "issued_kgs": "int64", "supplier_kgs": "int64", "buffer_pool_kgs": "int64"},
    "project_document": {"id": STRING_DTYPE, "url": STRING_DTYPE},
}
KG_COLUMNS = {  # frame column -> (path of its CreditQuantity in the record)
    "credit_batch": {"credit_kgs": "size"},
    "project": {
        "issued_kgs": "issued_credits_total", "retired_kgs": "retired_credits_total",
        "issued_buffer_pool_kgs": "issued_buffer_pool_credits_total",
        "retired_buffer_pool_kgs": "retired_buffer_pool_credits_total",
    },
    "order": {"ordered_kgs": "credits_ordered", "delivered_kgs": "credits_delivered"},
    "retirement": {"retired_kgs": "credit_batch_size_total"},
    "delivery": {"delivered_kgs": "credit_batch_size_total"},
    "transfer": {"transferred_kgs": "credit_batch_size_total"},
    "refund": {"refunded_kgs": "credit_batch_size_total"},
    "issuance": {"issued_kgs": "credit_batch_size_total",
                 "supplier_kgs": "supplier_credit_batch_size_total",
                 "buffer_pool_kgs": "buffer_pool_credit_batch_size_total"},
}


@functools.cache
def _demo_json(kind: str) -> bytes:
    registry = demo.registry()
    large = registry.buyers["large"]
    records = {
        "credit_batch": lambda: registry.credit_batches(large),
        "project": registry.projects,
        "supplier": registry.suppliers,
        "order": lambda: registry.orders(large),
        "retirement": registry.retirements,
        "organisation": registry.organisations,
        "delivery": registry.deliveries,
        "transfer": registry.transfers,
        "refund": registry.refunds,
        "issuance": registry.issuances,
        "project_document": lambda: [document for project in registry.projects()
                                     for document in registry.project_documents(project["id"])],
    }[kind]()
    return orjson.dumps(records)


def records(kind: str, count: int | None = None) -> list[dict]:
    """Fresh demo records: a JSON round trip, so no two records share a nested object."""
    return orjson.loads(_demo_json(kind))[:count]


def _error(kind: str, nodes, **kwargs) -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        Table(kind).add(nodes, **kwargs)
    return caught.value


def _path(column_path: str) -> str:
    return column_path.replace("?", "")


# -- the frames -------------------------------------------------------------------------------

def test_the_kinds():
    assert KINDS == ("credit_batch", "project", "supplier", "order", "retirement", "organisation",
                     "delivery", "transfer", "refund", "issuance", "project_document")
    assert tuple(KINDS_BY_NAME) == KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_columns_include_the_minimum(kind):
    names = columns(kind)
    assert len(set(names)) == len(names)
    assert set(MINIMUM[kind].split()) <= set(names)


@pytest.mark.parametrize("kind", KINDS)
def test_each_demo_kind_converts(kind):
    nodes = records(kind)
    frame = record_frame(kind, nodes)
    assert tuple(frame.columns) == columns(kind)
    assert len(frame) == len(nodes) > 0
    assert frame["id"].tolist() == [node["id"] for node in nodes]
    assert isinstance(frame.index, pd.RangeIndex)
    for column, dtype in DTYPES[kind].items():
        assert frame[column].dtype == dtype, column


@pytest.mark.parametrize("kind", KG_COLUMNS)
def test_kilograms_are_exact(kind):
    nodes = records(kind)
    frame = record_frame(kind, nodes)
    for column, key in KG_COLUMNS[kind].items():
        expected = [node[key]["credit_kgs"] for node in nodes]
        assert frame[column].tolist() == expected
        assert int(frame[column].sum()) == sum(expected)


def test_credit_batch_details():
    nodes = records("credit_batch")
    frame = record_frame("credit_batch", nodes)
    np.testing.assert_array_equal(frame["credits"], frame["credit_kgs"] / 1000)
    for row in (0, len(nodes) - 1):
        node, got = nodes[row], frame.iloc[row]
        assert got["issued_at"] == pd.Timestamp(node["issued_at"])
        assert got["sequestered_on"] == pd.Timestamp(node["sequestered_on"])
        assert got["owner_name"] == node["owner"]["name"]
    # nullable parents: no beneficiary, no carbon removal data
    without = [i for i, n in enumerate(nodes) if n["carbon_removal_data"] is None]
    with_ = [i for i, n in enumerate(nodes) if n["carbon_removal_data"] is not None]
    assert without and with_
    assert frame["losses_kg"].isna().to_numpy()[without].all()
    assert frame["losses_kg"].iloc[with_].tolist() == [
        nodes[i]["carbon_removal_data"]["losses_kg"] for i in with_
    ]
    no_beneficiary = frame["beneficiary_id"].isna().to_numpy()
    assert no_beneficiary.tolist() == [n["beneficiary"] is None for n in nodes]
    assert frame["beneficiary_name"].isna().to_numpy().tolist() == no_beneficiary.tolist()
    assert frame["retired_at"].isna().tolist() == [n["retired_at"] is None for n in nodes]


def test_order_derived_columns():
    nodes = records("order", 3)
    nodes[0]["credits_ordered"] = {"credit_kgs": 0, "credits": 0}
    nodes[0]["credits_delivered"] = {"credit_kgs": 0, "credits": 0.0}
    nodes[1]["credits_ordered"] = {"credit_kgs": 2**62, "credits": 2**62 / 1000}
    nodes[1]["credits_delivered"] = {"credit_kgs": 2**61 + 1, "credits": (2**61 + 1) / 1000}
    frame = record_frame("order", nodes)
    assert math.isnan(frame["delivered_share"].iloc[0])
    assert frame["remaining_kgs"].tolist()[:2] == [0, 2**62 - 2**61 - 1]
    assert frame["delivered_share"].iloc[1] == pytest.approx(0.5)


def test_retirement_purposes_are_joined():
    nodes = records("retirement", 3)
    nodes[0]["purposes"] = ["corporate_targets", "insetting"]
    nodes[1]["purposes"] = []
    frame = record_frame("retirement", nodes)
    assert frame["purposes"].tolist()[:2] == ["corporate_targets, insetting", ""]


@pytest.mark.parametrize("kind", KINDS)
def test_an_empty_table_has_the_columns_and_dtypes(kind):
    empty = Table(kind).to_frame()
    full = record_frame(kind, records(kind))
    assert len(empty) == 0
    assert tuple(empty.columns) == columns(kind)
    pd.testing.assert_series_equal(empty.dtypes, full.dtypes)
    assert record_frame(kind, []).dtypes.equals(full.dtypes)


@given(sizes=st.lists(st.integers(1, 60), min_size=1, max_size=8))
def test_pages_round_trip_ids_and_counts(sizes):
    nodes = records("credit_batch", sum(sizes))
    table = Table("credit_batch")
    start = 0
    for size in sizes:
        table.add(nodes[start:start + size])
        start += size
    assert len(table) == len(nodes)
    assert table.ids == [node["id"] for node in nodes]
    frame = table.to_frame()
    pd.testing.assert_frame_equal(frame, record_frame("credit_batch", nodes))


@given(st.lists(KGS, min_size=1, max_size=20))
def test_kilograms_near_the_float_limit_stay_exact(kgs):
    template = records("credit_batch", 1)[0]
    nodes = []
    for number, kg in enumerate(kgs):
        node = dict(template, id=entity_id("ctb", number))
        node["size"] = {"credit_kgs": kg, "credits": round(kg / 1000, 3)}
        nodes.append(node)
    frame = record_frame("credit_batch", nodes)
    assert frame["credit_kgs"].dtype == np.int64
    assert frame["credit_kgs"].tolist() == kgs
    assert sum(map(int, frame["credit_kgs"])) == sum(kgs)


def test_datetimes_are_converted_to_utc():
    nodes = records("credit_batch", 2)
    nodes[0]["issued_at"] = "2024-05-01T12:00:00+02:00"
    nodes[1]["issued_at"] = "2024-05-01t10:00:00.5z"  # RFC 3339 allows lower case
    frame = record_frame("credit_batch", nodes)
    assert frame["issued_at"].tolist() == [
        pd.Timestamp("2024-05-01T10:00:00Z"), pd.Timestamp("2024-05-01T10:00:00.5Z")
    ]


def test_unknown_keys_are_ignored():
    nodes = records("project", 3)
    expected = record_frame("project", nodes)
    nodes[0]["new_field"] = {"anything": [1, 2]}
    nodes[1]["supplier"]["organisation"]["logo"] = "x.png"
    nodes[2]["issued_credits_total"]["unit"] = "kg"
    pd.testing.assert_frame_equal(record_frame("project", nodes), expected)


def test_tolerated_credits_rounding_is_accepted():
    nodes = records("credit_batch", 4)
    kgs = nodes[2]["size"]["credit_kgs"]
    nodes[2]["size"]["credits"] = kgs / 1000 + 0.0004
    assert record_frame("credit_batch", nodes)["credit_kgs"].iloc[2] == kgs


@pytest.mark.parametrize("kind", KINDS)
def test_pages_from_bytes_and_records_from_dicts_agree(kind):
    # plans decode a page's bytes straight into structs; Table.add converts dicts
    nodes = records(kind)
    page = page_reader(kind).decode(orjson.dumps(
        {"nodes": nodes, "total_count": len(nodes), "page_info": {"has_next_page": False}}))
    table = Table(kind)
    table.add_decoded(page.nodes)
    pd.testing.assert_frame_equal(table.to_frame(), record_frame(kind, nodes))


# -- single records ---------------------------------------------------------------------------

def test_check_record_returns_the_record():
    project = records("project", 1)[0]
    assert check_record("project", project) is project


def test_check_record_paths():
    project = records("project", 1)[0]
    project["supplier"]["id"] = "prj_1CTWZQGKE1S0VAXA"
    with pytest.raises(SchemaError) as caught:
        check_record("project", project)
    assert caught.value.path == "supplier.id"
    with pytest.raises(SchemaError) as caught:
        check_record("project", project, "project")
    assert caught.value.path == "project.supplier.id"
    with pytest.raises(SchemaError) as caught:
        check_record("organisation", ["org_1GB56M1ST1S0GVNA"])
    assert (caught.value.path, caught.value.problem) == ("$", "expected an object")


@pytest.mark.parametrize("kind", ["credit_batches", "Project", None, ["project"]])
def test_unknown_kind(kind):
    with pytest.raises(ValueError, match="unknown record kind"):
        Table(kind)
    with pytest.raises(ValueError, match="unknown record kind"):
        columns(kind)


# -- bad input, one class at a time -----------------------------------------------------------

def _set(kind: str, nodes: list, where: str, value) -> None:
    """Set (or, for ``...``, delete) the value at ``where``, e.g. ``[2].location.latitude``.

    A null object on the way is first replaced by a real one from another demo record.
    """
    index, _, path = where.partition(".")
    target = nodes[int(index.strip("[]"))]
    *parents, last = path.split(".")
    for depth, key in enumerate(parents):
        if target[key] is None:
            donor = next(n for n in records(kind) if n[parents[0]] is not None)
            for step in parents[: depth + 1]:
                donor = donor[step]
            target[key] = donor
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value


BAD = [
    # (kind, where, new value (... deletes), problem text)
    ("credit_batch", "[2].serial_number", ..., "required key is missing"),
    ("credit_batch", "[1].size.credit_kgs", ..., "required key is missing"),
    ("credit_batch", "[3].retired_at", ..., "required key is missing"),  # nullable, still required
    ("credit_batch", "[0].carbon_removal_data.losses_kg", ..., "required key is missing"),
    ("project", "[4].supplier.organisation.name", ..., "required key is missing"),
    ("credit_batch", "[0].ccp_approved", "yes", "expected true or false"),
    ("credit_batch", "[0].serial_number", 12, "expected a string"),
    ("credit_batch", "[0].owner", "org_1GB56M1ST1S0GVNA", "expected an object"),
    ("credit_batch", "[0].carbon_removal_data.emissions_kg", 1.5, "expected an integer"),
    ("credit_batch", "[0].carbon_removal_data.emissions_kg", 2**63, "64-bit"),
    ("credit_batch", "[1].size", 1299, "expected an object"),
    ("organisation", "[1].name", None, "expected a string"),
    ("supplier", "[2].location.latitude", 91, "expected a number from -90 to 90"),
    ("supplier", "[2].location.longitude", float("nan"), "expected a number"),
    ("supplier", "[2].location.longitude", True, "expected a number"),
    ("credit_batch", "[3].project_id", "spl_1CC712KFS1S0YKPS", "expected a project id"),
    ("credit_batch", "[3].parent_id", "ctb_1DRB", "expected a credit batch id"),
    ("order", "[1].buyer_organisation.id", "ORG_1GB56M1ST1S0GVNA", "expected an organisation id"),
    ("retirement", "[0].id", 1234567890123456789012, "expected a retirement id"),
    ("credit_batch", "[0].issuance_id", "dlv_1C454ZXA61S03Z9T", "expected an issuance id"),
    ("credit_batch", "[0].delivery_id", "iss_1C454ZXA61S03Z9T", "expected a delivery id"),
    ("credit_batch", "[0].removal_id", "ret_1C454ZXA61S03Z9T", "expected a removal id"),
    ("credit_batch", "[3].project_id", "prj_AAAAAAAA/../../../../../admin",
     "expected a project id"),
    ("credit_batch", "[3].supplier_id", "spl_/../spl_1CC712KFS1S0YKPS", "ASCII letters and digits"),
    ("project", "[1].id", "prj_1CTWZQGKE1S0VAXA\n", "expected a project id"),
    ("supplier", "[1].organisation.id", "org_1GB56M1ST1S0GVN\u0410", "expected an organisation"),
    ("order", "[2].supplier.id", "spl_1CC712KFS1S0YKP#", "expected a supplier id"),
    ("supplier", "[2].location.latitude", 10**400, "expected a number from -90 to 90"),
    ("credit_batch", "[0].carbon_removal_data.emissions_kg", float(2**64), "64-bit"),
    ("credit_batch", "[5].status", "cancelled", "active, split, retired"),
    ("credit_batch", "[5].status", ["active"], "expected a CreditBatchStatus string"),
    ("project", "[0].pathway", "ocean_alkalinity", "direct_air_capture"),
    ("project", "[0].status", "Validated", "under_validation"),
    ("order", "[0].status", "cancelled", "placed, in_progress, completed"),
    ("retirement", "[1].purposes", ["offsetting"], "corporate_targets"),
    ("retirement", "[1].purposes", "other", "expected an array"),
    ("credit_batch", "[2].issued_at", "2023-06-20T14:09:43.125445", "no UTC offset"),
    ("credit_batch", "[2].issued_at", "2023-06-20 14:09:43", "no UTC offset"),
    ("order", "[0].fulfilled_at", "2023-06-20T14:09:43", "no UTC offset"),
    ("credit_batch", "[2].issued_at", "2023-06-20", "expected an RFC 3339 date-time"),
    ("credit_batch", "[2].issued_at", "2023-06-20T14:09Z", "expected an RFC 3339 date-time"),
    ("credit_batch", "[2].issued_at", 1687270183, "expected an RFC 3339 date-time"),
    ("credit_batch", "[2].sequestered_on", "2023/05/06", "expected a date"),
    ("credit_batch", "[2].sequestered_on", "2023-05-06T00:00:00Z", "expected a date"),
    ("project", "[2].crediting_period_end", "31-12-2030", "expected a date"),
    ("credit_batch", "[4].size.credit_kgs", -5, "expected a non-negative integer"),
    ("project", "[4].retired_credits_total.credit_kgs", 12.5, "expected a non-negative integer"),
    ("credit_batch", "[4].size.credits", 1e9, "disagrees with credit_kgs"),
    ("order", "[1].credits_ordered.credits", "44.0", "expected a number"),
]


@pytest.mark.parametrize("kind, where, value, problem", BAD)
def test_bad_values_name_their_path(kind, where, value, problem):
    nodes = records(kind, 8)
    _set(kind, nodes, where, value)
    error = _error(kind, nodes)
    assert error.path == f"nodes{where}" or error.path.startswith(f"nodes{where}[")
    assert problem in str(error)


def test_an_unknown_enum_value_says_to_upgrade():
    nodes = records("credit_batch", 3)
    nodes[1]["status"] = "cancelled"
    error = _error("credit_batch", nodes)
    assert error.path == "nodes[1].status"
    assert "may have added" in error.hint and "upgrade isoanalytics" in error.hint


def test_a_node_that_is_not_an_object():
    nodes = records("credit_batch", 5)
    nodes[4] = nodes[4]["id"]
    error = _error("credit_batch", nodes)
    assert (error.path, error.problem) == ("nodes[4]", "expected an object")


@pytest.mark.parametrize("nodes", [{"nodes": []}, None, "[]", (), 3])
def test_nodes_that_are_not_an_array(nodes):
    error = _error("project", nodes)
    assert error.path == "nodes"
    assert error.problem == "expected an array of Project objects"


def test_the_path_argument_starts_the_error_path():
    nodes = records("supplier", 3)
    del nodes[2]["organisation"]["id"]
    assert _error("supplier", nodes, path="data.nodes").path == "data.nodes[2].organisation.id"


@pytest.mark.parametrize(
    "key, value", [("sequestered_on", "2023-02-30"), ("retired_at", "2023-02-29T00:00:00Z"),
                   ("issued_at", "2024-13-01T00:00:00+01:00")],
)
def test_impossible_dates_are_named_by_add(key, value):
    # msgspec reads each date while it decodes (faster than a pattern and a bulk parse,
    # tests/benchmarks/bench_parse.py), so the page that holds one is refused whole.
    nodes = records("credit_batch", 60)
    table = Table("credit_batch")
    table.add(nodes[:50])
    nodes[57][key] = value
    with pytest.raises(SchemaError) as caught:
        table.add(nodes[50:], path="page2")
    error = caught.value
    assert error.path == f"page2[7].{key}"
    assert "is not a real date" in str(error)
    assert value in str(error)
    assert len(table) == 50


def test_a_failed_page_leaves_the_table_as_it_was():
    nodes = records("retirement", 10)
    table = Table("retirement")
    table.add(nodes[:5])
    before = table.to_frame()
    nodes[8]["credit_batch_size_total"]["credit_kgs"] = -1
    with pytest.raises(SchemaError):
        table.add(nodes[5:])
    assert len(table) == 5 and table.ids == [n["id"] for n in nodes[:5]]
    pd.testing.assert_frame_equal(table.to_frame(), before)


def test_a_record_added_twice_is_refused():
    nodes = records("order", 6)
    table = Table("order")
    table.add(nodes[:4])
    with pytest.raises(SchemaError) as caught:
        table.add(nodes[3:6])
    assert caught.value.path == "nodes[0].id"
    assert "nodes[3] of add() call 1" in caught.value.problem
    with pytest.raises(SchemaError) as caught:
        table.add([nodes[4], nodes[5], nodes[4]])
    assert caught.value.path == "nodes[2].id"
    assert "(as nodes[0])" in caught.value.problem
    assert len(table) == 4


# -- a corrupted field anywhere is found, at its record -----------------------------------------

def _bad_values(kind: str, column) -> list:
    """Values the column's schema type refuses, beyond deleting the key and {"unexpected": 1}."""
    if column.name in id_columns(kind):
        return ["x", 12, "prj_AAAAAAAA/../../../../../admin"]
    return {
        builds.TEXT: [12, False], builds.KGS: [12, "1.0"],
        builds.INTEGER: ["1", 1.0, True, 10**400, float(2**64)],
        builds.NUMBER: ["1", 200.5, True, 10**400, -(10**400)], builds.BOOLEAN: [1, "true"],
        builds.JOINED: ["other", [12], ["nope"]], builds.INSTANT: [20240501, "2024-05-01"],
        builds.DAY: [20240501, "2024-05-01T12:00:00Z"],
    }.get(column.build, ["x", 12])  # an enum


@st.composite
def corruptions(draw):
    kind = draw(st.sampled_from(KINDS))
    nodes = records(kind, 12)
    index = draw(st.integers(0, len(nodes) - 1))
    column = draw(st.sampled_from([c for c in KINDS_BY_NAME[kind].columns if c.path]))
    # corrupt the value or one of the objects on its way (a null one ends the way)
    target, keys = nodes[index], []
    for key in column.steps:
        keys.append(key)
        if target[key] is None or len(keys) == len(column.steps) or draw(st.booleans()):
            break
        target = target[key]
    leaf = len(keys) == len(column.steps)
    choices = [..., {"unexpected": 1}] + (_bad_values(kind, column) if leaf else ["x", 12])
    value = draw(st.sampled_from(choices))
    if value is ...:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return kind, nodes, index, ".".join(keys), value is ... and len(keys) == 1


@given(corruptions())
def test_a_corrupted_field_is_named_at_its_record(case):
    kind, nodes, index, where, deleted = case
    if deleted and where in KINDS_BY_NAME[kind].tolerated:
        # a field older versions of the API lack: read as null, and reported
        frame = record_frame(kind, nodes)
        assert frame.attrs["schema_drift"]["missing"] == [where]
        assert frame[where].isna().iloc[index] if where in frame else True
        return
    error = _error(kind, nodes)
    prefix = f"nodes[{index}].{where}"
    assert error.path == prefix or error.path.startswith((prefix + ".", prefix + "["))


# -- the OpenAPI description (only where ../shared is present) ----------------------------------

@functools.cache
def _openapi_schemas(path: Path) -> dict:
    return json.loads(path.read_text("utf-8"))["components"]["schemas"]


@pytest.fixture
def spec_schemas(shared_dir: Path) -> dict:
    return _openapi_schemas(shared_dir / "isometric" / "registry-openapi.json")


def _resolve(schemas: dict, schema: dict) -> tuple[dict, bool]:
    """A property's schema with $ref and ``anyOf [X, null]`` undone, and whether it is nullable."""
    nullable = False
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        nullable = len(options) < len(schema["anyOf"])
        assert len(options) == 1, schema
        schema = {**schema, **options[0]}
        del schema["anyOf"]
    if "$ref" in schema:
        schema = {**schemas[schema["$ref"].rsplit("/", 1)[1]], **schema}
    return schema, nullable


# Spec properties a Struct leaves out on purpose, and the one it reads under an earlier name.
UNREAD = {"Location": {"description"}, "PageInfo": {"has_previous_page", "start_cursor"}}
EARLIER_NAMES = {"CreditBatch": {"sequestered_at"}}
SPEC_NAME = {"StatusTotals": "CreditBalance"}


def _matches(info, schema: dict, schemas: dict) -> bool:
    import msgspec.inspect as mi

    extra = {}
    while isinstance(info, mi.Metadata):
        extra.update(info.extra or {})
        info = info.type
    kind = schema.get("type")
    if "id_kind" in extra:
        return (kind == "string" and (schema["minLength"], schema["maxLength"]) == (20, 37)
                and schema["example"].startswith(ID_KINDS[extra["id_kind"]].prefix))
    if isinstance(info, mi.LiteralType):
        return set(schema["enum"]) == set(info.values) and schema["title"] == extra["enum"]
    if isinstance(info, mi.StructType):
        return SPEC_NAME.get(info.cls.__name__, info.cls.__name__) == schema["title"]
    if isinstance(info, mi.ListType):
        item = _resolve(schemas, schema["items"])[0]
        return kind == "array" and _matches(info.item_type, item, schemas)
    return {
        mi.StrType: kind == "string" and "format" not in schema,
        mi.IntType: kind == "integer", mi.BoolType: kind == "boolean",
        mi.DateTimeType: schema.get("format") == "date-time",
        mi.DateType: schema.get("format") == "date",
        mi.FloatType: kind == "number" and (schema.get("minimum"), schema.get("maximum"))
        == (getattr(info, "ge", None), getattr(info, "le", None)),
    }.get(type(info), False)


def _structs():
    import msgspec.inspect as mi

    from isoanalytics.records.balance_schema import OrganisationCreditBalance
    from isoanalytics.records.page import PageInfo

    seen, todo = {}, [k.schema for k in KINDS_BY_NAME.values()] + [OrganisationCreditBalance,
                                                                     PageInfo]
    while todo:
        info = mi.type_info(todo.pop())
        seen[info.cls.__name__] = info
        stack = [field.type for field in info.fields]
        while stack:
            item = stack.pop()
            item = getattr(item, "type", item) if isinstance(item, mi.Metadata) else item
            if isinstance(item, mi.StructType) and item.cls.__name__ not in seen:
                todo.append(item.cls)
            stack.extend(getattr(item, "types", ()) + ((item.item_type,) if isinstance(
                item, mi.ListType) else ()))
    return seen


@pytest.mark.parametrize("name", sorted(_structs()))
def test_structs_match_the_schema(name, spec_schemas):
    """Every field of every Struct is a property of its spec schema: required unless a
    documented variant lacks it, nullable as the spec says, of the spec's type; every
    property is a field or deliberately left out."""
    import msgspec.inspect as mi

    info = _structs()[name]
    schema = spec_schemas[SPEC_NAME.get(name, name)]
    tolerated = next((k.tolerated for k in KINDS_BY_NAME.values() if k.schema is info.cls), ())
    fields = {field.encode_name: field for field in info.fields}
    for key, field in fields.items():
        if key in EARLIER_NAMES.get(name, ()):
            continue
        assert key in schema["properties"], f"{name}.{key} is not in the spec"
        assert (field.required or key in tolerated or key == "order_balances"
                or key == "end_cursor") == (key in schema.get("required", [])), f"{name}.{key}"
        spec, nullable = _resolve(spec_schemas, schema["properties"][key])
        types = (field.type.types if isinstance(field.type, mi.UnionType) else (field.type,))
        # order_balances: absent or null in the API's documented example, so tolerated as null
        assert (any(isinstance(t, mi.NoneType) for t in types)
                == (nullable or key == "order_balances")), f"{name}.{key}"
        value_type = next(t for t in types if not isinstance(t, mi.NoneType))
        assert _matches(value_type, spec, spec_schemas), f"{name}.{key}: {value_type}"
    left = set(schema["properties"]) - set(fields) - UNREAD.get(name, set())
    assert not left, f"{name}: spec properties neither fields nor left out: {left}"


def test_enums_match_the_schema(spec_schemas):
    assert tuple(spec_schemas["CreditBatchStatus"]["enum"]) == CREDIT_BATCH_STATUSES
    assert tuple(spec_schemas["OrderStatus"]["enum"]) == ORDER_STATUSES
    assert tuple(spec_schemas["Pathway"]["enum"]) == PATHWAYS
    assert tuple(spec_schemas["ProjectStatus"]["enum"]) == PROJECT_STATUSES
    assert tuple(spec_schemas["RetirementPurpose"]["enum"]) == RETIREMENT_PURPOSES
