"""The one id rule (isoanalytics.ids): what it accepts, its bulk form, and request paths."""

from __future__ import annotations

import csv
import json
import pickle
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import isoanalytics as ia
from isoanalytics import demo, ids

SHARED = Path("/work/shared/isometric")
_ANY_ID = re.compile(r"\b[a-z]{3}_[0-9A-Za-z]+\b")


def test_every_id_the_registry_and_the_demo_publish_passes():
    published = {record["id"] for record in demo.registry().projects()}
    published |= {record["id"] for record in demo.registry().suppliers()}
    published |= set(demo.accounts())
    if SHARED.exists():  # the API's own examples and the sample records
        text = json.dumps(json.loads((SHARED / "registry-openapi.json").read_text("utf-8")))
        for path in (SHARED / "registry-sample").glob("*.csv"):
            with path.open(encoding="utf-8") as handle:
                text += " ".join(" ".join(row) for row in csv.reader(handle))
        published |= {found for found in _ANY_ID.findall(text) if len(found) >= 20}
    by_prefix = {kind.prefix: kind.name for kind in ids.ID_KINDS.values()}
    checked = [value for value in published if value[:4] in by_prefix]
    assert len(checked) > 50
    assert [value for value in checked if not ids.is_id(value, by_prefix[value[:4]])] == []


@given(st.lists(st.one_of(
    st.text(max_size=40),
    st.text("0123456789ABCDEFGHJKMNPQRSTVWXYZ\n_/", min_size=14, max_size=40).map(
        lambda tail: "prj_" + tail),
    st.sampled_from(["prj_1CTWZQGKE1S0VAXA", "prj_1CTWZQGKE1S0VAXA\nprj_1CTWZQGKE1S0VAXB",
                     "prj_1CTWZQGKE1S0VAXA\n"]),
    st.integers(),
), max_size=6))
def test_the_bulk_check_agrees_with_the_rule_one_id_at_a_time(values):
    assert ids.all_ids(values, "project") == all(ids.is_id(value, "project") for value in values)


def test_paths_are_only_the_apis():
    assert ids.resource_path("organisations", demo.DEFAULT_ORGANISATION_ID, "orders") == (
        f"/organisations/{demo.DEFAULT_ORGANISATION_ID}/orders")
    for bad in [("admin",), ("organisations", demo.DEFAULT_ORGANISATION_ID, "../admin"),
                ("projects", "prj_1CTWZQGKE1S0VAXA", "credit_balance"),
                ("beneficiaries", demo.DEFAULT_ORGANISATION_ID), ("supplier",),
                ("stripe", "configuration"),
                ("retirements", "ret_1CGV2XADRSBX1CHB", "documents")]:
        with pytest.raises(ValueError) as caught:
            ids.resource_path(*bad)
        assert not isinstance(caught.value, ia.InvalidIdError)
    with pytest.raises(ia.InvalidIdError, match="^project_id: "):
        ids.resource_path("projects", "prj_1CTWZQGKE1S0VAXA/..")


def test_invalid_id_error_states_the_rule_and_survives_pickling():
    with pytest.raises(ia.InvalidIdError) as caught:
        ids.check_id("org_1/../x", "organisation", argument="--org")
    error = caught.value
    assert isinstance(error, ValueError) and "InvalidIdError" in ia.errors.__all__
    assert (error.argument, error.kind) == ("--org", "organisation")
    assert error.rule in str(error) and "20 to 37 characters" in error.rule
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.argument, copy.rule) == (str(error), error.argument, error.rule)
