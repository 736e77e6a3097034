"""Stacking many balances into one tidy frame, and splitting it back, loses no kilogram."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from isoanalytics import (
    COLUMNS,
    CreditBalance,
    SchemaError,
    parse_balance,
    split_portfolio,
    stack_balances,
)

from .conftest import ORG, OTHER_ORG, bodies, entity_id, make_body


def _kgs_in(body: dict) -> int:
    lists = ["project_balances", "supplier_balances", "order_balances"]
    entries = [entry for key in lists for entry in body.get(key) or []]
    return sum(
        part["total"][key]["credit_kgs"]
        for part in [*entries, {"total": body["total"]}]
        for key in ["active_credits_total", "retired_credits_total"]
    )


def test_to_frame_is_tidy():
    body = make_body(projects=[(entity_id("prj", 1), 1500, 0)],
                     suppliers=[(entity_id("spl", 1), 1500, 0)])
    frame = parse_balance(body, organisation_id=ORG).to_frame()
    assert tuple(frame.columns) == COLUMNS
    assert frame["credit_kgs"].dtype == np.int64 and frame["credits"].dtype == np.float64
    assert set(frame["level"]) == {"organisation", "project", "supplier"}
    assert set(frame["status"]) == {"active", "retired"}
    assert not frame.duplicated(["level", "entity_id", "status"]).any()
    assert (frame["credits"] == frame["credit_kgs"] / 1000).all()
    assert (frame["organisation_id"] == ORG).all()
    org_rows = frame[frame["level"] == "organisation"]
    assert org_rows["entity_id"].tolist() == [ORG, ORG]


@given(st.lists(bodies(), max_size=5))
def test_stack_and_split_lose_no_kilogram(portfolio):
    ids = [entity_id("org", index) for index in range(len(portfolio))]
    frame = stack_balances(list(zip(ids, portfolio, strict=False)))
    assert tuple(frame.columns) == COLUMNS
    assert int(frame["credit_kgs"].sum()) == sum(_kgs_in(body) for body in portfolio)
    assert frame["organisation_id"].unique().tolist() == ids
    parts = split_portfolio(frame)
    assert list(parts) == ids
    for organisation_id, body in zip(ids, portfolio, strict=False):
        original = parse_balance(body, organisation_id=organisation_id)
        back = parts[organisation_id]
        assert back.to_dict()["total"] == original.to_dict()["total"]
        for level in ["project", "supplier", "order"]:
            assert back.entity_ids(level) == original.entity_ids(level)
        pd.testing.assert_frame_equal(back.to_frame(), original.to_frame())


def test_stack_takes_a_mapping_and_parsed_balances():
    body = make_body(projects=[(entity_id("prj", 2), 7, 8)])
    parsed = parse_balance(body, organisation_id=OTHER_ORG)
    frame = stack_balances({ORG: body, OTHER_ORG: parsed})
    totals = frame.groupby("organisation_id")["credit_kgs"].sum()
    assert totals.to_dict() == {ORG: 30, OTHER_ORG: 30}


def test_empty_portfolio_has_the_columns():
    frame = stack_balances([])
    assert tuple(frame.columns) == COLUMNS and frame.empty
    assert frame["credit_kgs"].dtype == np.int64
    assert split_portfolio(frame) == {}


def test_stack_names_the_organisation_of_a_bad_body():
    bad = make_body(projects=[(entity_id("prj", 1), 1, 1)])
    bad["project_balances"][0]["total"]["active_credits_total"]["credit_kgs"] = -1
    with pytest.raises(SchemaError) as caught:
        stack_balances([(ORG, make_body()), (OTHER_ORG, bad)])
    assert caught.value.organisation_id == OTHER_ORG
    assert OTHER_ORG in str(caught.value) and "project_balances[0]" in str(caught.value)


def test_an_organisation_twice_would_double_count():
    with pytest.raises(SchemaError, match="given twice"):
        stack_balances([(ORG, make_body()), (ORG, make_body())])


@pytest.mark.parametrize("pair", [("x",), "org", (ORG, make_body(), 1)])
def test_stack_refuses_what_is_not_a_pair(pair):
    with pytest.raises(SchemaError, match="pair"):
        stack_balances([pair])


def test_from_frame_refuses_a_portfolio_and_a_frame_without_totals():
    frame = stack_balances([(ORG, make_body()), (OTHER_ORG, make_body())])
    with pytest.raises(SchemaError, match="split_portfolio"):
        CreditBalance.from_frame(frame)
    single = frame[frame["organisation_id"] == ORG]
    with pytest.raises(SchemaError, match="level 'organisation'"):
        CreditBalance.from_frame(single[single["level"] != "organisation"])


def test_a_balance_without_organisation_id():
    frame = parse_balance(make_body(total=(1, 2))).to_frame()
    assert frame["organisation_id"].isna().all()
    with pytest.raises(SchemaError, match="organisation_id"):
        split_portfolio(frame)
    assert CreditBalance.from_frame(frame).total_kgs == 3


def test_parse_balance_passes_a_balance_through():
    parsed = parse_balance(make_body(total=(1, 2)))
    assert parse_balance(parsed) is parsed
    assert parse_balance(parsed, organisation_id=ORG).organisation_id == ORG
    with pytest.raises(SchemaError, match="belongs to"):
        parse_balance(parse_balance(parsed, organisation_id=ORG), organisation_id=OTHER_ORG)


def test_balances_are_immutable():
    parsed = parse_balance(make_body(projects=[(entity_id("prj", 1), 1, 2)]))
    with pytest.raises(ValueError):
        parsed._entities["project"].active_kgs[0] = 99
    with pytest.raises(AttributeError):
        parsed.active_kgs = 5
