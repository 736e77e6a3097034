"""summarize, retired_share, concentration and reconcile, against from-scratch calculations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from isoanalytics import (
    Concentration,
    SchemaError,
    concentration,
    parse_balance,
    reconcile,
    retired_share,
    stack_balances,
    summarize,
)

from .conftest import ORG, OTHER_ORG, bodies, entity_id, make_body

LIST_KEYS = {"project": ("project_balances", "project_id"),
             "supplier": ("supplier_balances", "supplier_id"),
             "order": ("order_balances", "order_id")}


def _scratch_rows(body: dict, by: str) -> dict[str, tuple[int, int]]:
    list_key, id_key = LIST_KEYS[by]
    return {
        entry[id_key]: (entry["total"]["active_credits_total"]["credit_kgs"],
                        entry["total"]["retired_credits_total"]["credit_kgs"])
        for entry in body.get(list_key) or []
    }


def _scratch_gini(values: list[float]) -> float:
    # quantecon.gini_coefficient, written out: sum_i sum_j |y_i - y_j| / (2 n sum y)
    n = len(values)
    return sum(abs(a - b) for a in values for b in values) / (2 * n * sum(values))


def _scratch_concentration(values: list[int]) -> dict:
    held = [v for v in values if v > 0]
    total = sum(held)
    shares = sorted((v / total for v in held), reverse=True)
    hhi = 10_000 * sum(s * s for s in shares)
    n = len(held)
    return {
        "n": n,
        "hhi": hhi,
        "hhi_normalized": 1.0 if n == 1 else (hhi / 10_000 - 1 / n) / (1 - 1 / n),
        "cr1": shares[0], "cr3": sum(shares[:3]), "cr5": sum(shares[:5]),
        "effective_n": 10_000 / hhi,
        "gini": _scratch_gini([float(v) for v in held]),
    }


@pytest.mark.parametrize("by", ["project", "supplier", "order"])
@given(body=bodies())
def test_summary_agrees_with_a_from_scratch_calculation(body, by):
    rows = _scratch_rows(body, by)
    summary = summarize(parse_balance(body, organisation_id=ORG), by=by)
    assert summary.index.name == f"{by}_id"
    assert set(summary.index) == set(rows)  # zero rows included: nothing dropped
    level_total = sum(a + r for a, r in rows.values())
    for entity, (active, retired) in rows.items():
        row = summary.loc[entity]
        assert (row["active_kgs"], row["retired_kgs"]) == (active, retired)
        assert row["total_kgs"] == active + retired
        if active + retired:
            assert row["retired_share"] == pytest.approx(retired / (active + retired))
        else:
            assert math.isnan(row["retired_share"])
        if level_total:
            assert row["share"] == pytest.approx((active + retired) / level_total)
    for column in ["active_kgs", "retired_kgs", "total_kgs"]:
        assert summary[column].dtype == np.int64
    totals = summary["total_kgs"].tolist()
    assert totals == sorted(totals, reverse=True)


@pytest.mark.parametrize("status", ["total", "active", "retired"])
@given(body=bodies())
def test_concentration_agrees_with_a_from_scratch_calculation(body, status):
    rows = _scratch_rows(body, "supplier")
    pick = {"active": lambda a, r: a, "retired": lambda a, r: r,
            "total": lambda a, r: a + r}[status]
    values = [pick(a, r) for a, r in rows.values()]
    figures = concentration(parse_balance(body), by="supplier", status=status)
    if sum(values) == 0:
        assert figures.n == 0 and figures.level is None
        assert all(math.isnan(getattr(figures, name)) for name in
                   ["hhi", "hhi_normalized", "cr1", "cr3", "cr5", "effective_n", "gini"])
        return
    expected = _scratch_concentration(values)
    assert figures.n == expected.pop("n")
    for name, value in expected.items():
        assert getattr(figures, name) == pytest.approx(value, rel=1e-9, abs=1e-12), name
    lorenz = figures.lorenz
    assert len(lorenz) == figures.n + 1
    assert lorenz.iloc[0].tolist() == [0.0, 0.0]
    assert lorenz.iloc[-1].tolist() == pytest.approx([1.0, 1.0])
    assert lorenz["quantity_share"].is_monotonic_increasing
    # the Lorenz curve lies on or below the diagonal
    assert (lorenz["quantity_share"] <= lorenz["population_share"] + 1e-12).all()


@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=40))
def test_concentration_of_a_series_matches_the_balance_path(values):
    series = pd.Series(values, index=[entity_id("spl", i) for i in range(len(values))])
    body = make_body(suppliers=[(key, value, 0) for key, value in series.items()])
    from_series = concentration(series)
    from_balance = concentration(parse_balance(body), by="supplier", status="active")
    for name in ["n", "hhi", "cr1", "cr3", "gini", "level"]:
        a, b = getattr(from_series, name), getattr(from_balance, name)
        assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def test_concentration_known_values():
    figures = concentration(pd.Series([60, 30, 10]))
    assert figures.hhi == 4600.0
    assert figures.cr1 == 0.6 and figures.cr3 == 1.0 and figures.cr5 == 1.0
    assert figures.effective_n == pytest.approx(10_000 / 4600)
    assert figures.gini == pytest.approx(1 / 3)
    assert figures.hhi_normalized == pytest.approx((0.46 - 1 / 3) / (2 / 3))
    assert figures.level == "high"
    assert figures.lorenz["quantity_share"].tolist() == pytest.approx([0, 0.1, 0.4, 1.0])


@pytest.mark.parametrize(
    "values, level",
    [
        ([1], "high"),                      # 10,000
        ([1] * 5, "high"),                  # 2,000
        ([1] * 6, "moderate"),              # 1,666.7
        ([1] * 10, "moderate"),             # exactly 1,000: moderate from 1,000
        ([1] * 11, "unconcentrated"),       # 909
        ([3, 1, 1, 1, 1, 1, 1, 1], "moderate"),
    ],
)
def test_merger_guideline_levels(values, level):
    assert concentration(pd.Series(values)).level == level


def test_one_entity_and_equal_entities():
    one = concentration(pd.Series([7]))
    assert (one.n, one.hhi, one.hhi_normalized, one.effective_n, one.gini) == (
        1, 10_000, 1.0, 1.0, 0.0)
    equal = concentration(pd.Series([5] * 4))
    assert (equal.hhi, equal.hhi_normalized, equal.effective_n, equal.gini) == (2500, 0.0, 4.0, 0.0)


def test_zero_rows_are_not_part_of_the_population():
    assert concentration(pd.Series([0, 0, 10, 10])).n == 2
    assert concentration(pd.Series([0, 0, 10, 10])).hhi == 5000


@pytest.mark.parametrize("values", [[], [0, 0]])
def test_nothing_held(values):
    figures = concentration(pd.Series(values, dtype="int64"))
    assert figures.n == 0 and figures.level is None and math.isnan(figures.hhi)
    assert figures.lorenz.empty


@pytest.mark.parametrize("values", [[1, -1], [1.0, float("nan")], [1, float("inf")], ["a", 1]])
def test_series_must_hold_non_negative_quantities(values):
    with pytest.raises(ValueError, match="non-negative|numeric"):
        concentration(pd.Series(values))


def test_float_series_works_in_credits():
    figures = concentration(pd.Series([0.6, 0.3, 0.1]))
    assert figures.hhi == pytest.approx(4600)


def test_concentration_is_exact_for_huge_integers():
    big = 2**60
    figures = concentration(pd.Series([big, big + 1]))
    assert figures.hhi == pytest.approx(5000) and figures.n == 2


def test_bad_arguments_say_what_is_allowed():
    balance = parse_balance(make_body())
    with pytest.raises(ValueError, match="by must be one of"):
        summarize(balance, by="pathway")
    with pytest.raises(ValueError, match="status must be one of"):
        concentration(balance, status="pending")


# -- retired share ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "total, expected",
    [((0, 0), math.nan), ((0, 5), 1.0), ((5, 0), 0.0), ((3, 1), 0.25)],
)
def test_retired_share(total, expected):
    share = retired_share(parse_balance(make_body(total=total)))
    assert share == expected or (math.isnan(share) and math.isnan(expected))


@given(body=bodies())
def test_retired_share_from_scratch(body):
    active = body["total"]["active_credits_total"]["credit_kgs"]
    retired = body["total"]["retired_credits_total"]["credit_kgs"]
    share = retired_share(parse_balance(body))
    if active + retired == 0:
        assert math.isnan(share)
    else:
        assert share == retired / (active + retired)


def test_portfolio_retired_share_and_summary_add_organisations_up():
    spl = entity_id("spl", 1)
    first = make_body(suppliers=[(spl, 10, 30)], total=(10, 30))
    second = make_body(suppliers=[(spl, 50, 10)], total=(50, 10))
    frame = stack_balances([(ORG, first), (OTHER_ORG, second)])
    assert retired_share(frame) == pytest.approx(40 / 100)
    row = summarize(frame, by="supplier").loc[spl]
    assert (row["active_kgs"], row["retired_kgs"]) == (60, 40)
    by_org = summarize(frame, by="organisation")
    assert by_org.loc[ORG, "total_kgs"] == 40 and by_org.loc[OTHER_ORG, "total_kgs"] == 60


# -- reconcile ----------------------------------------------------------------------------------

def test_reconcile_reports_differences_and_never_raises():
    prj, spl, ord_ = entity_id("prj", 1), entity_id("spl", 1), entity_id("ord", 1)
    body = make_body(projects=[(prj, 100, 50)], suppliers=[(spl, 90, 50)],
                     orders=[(ord_, 100, 0)], total=(100, 50))
    table = reconcile(parse_balance(body, organisation_id=ORG))
    assert list(table.columns) == ["organisation_id", "level", "status", "listed_kgs", "total_kgs",
                                   "difference_kgs", "balanced", "note"]
    by_key = table.set_index(["level", "status"])
    assert by_key.loc[("project", "active"), "balanced"]
    assert by_key.loc[("supplier", "active"), "difference_kgs"] == -10
    assert not by_key.loc[("supplier", "active"), "balanced"]
    assert by_key.loc[("order", "retired"), "difference_kgs"] == -50
    assert len(table) == 6


def test_reconcile_says_when_order_balances_were_absent():
    body = make_body(projects=[(entity_id("prj", 1), 1, 2)], with_orders=False)
    table = reconcile(parse_balance(body)).set_index(["level", "status"])
    assert table.loc[("order", "active"), "note"] == "order_balances absent from the response"
    assert pd.isna(table.loc[("order", "active"), "balanced"])
    assert table.loc[("project", "active"), "balanced"]


@given(body=bodies())
def test_reconcile_from_scratch(body):
    table = reconcile(parse_balance(body)).set_index(["level", "status"])
    totals = {s: body["total"][f"{s}_credits_total"]["credit_kgs"] for s in ["active", "retired"]}
    for level in ["project", "supplier"] + (["order"] if "order_balances" in body else []):
        rows = _scratch_rows(body, level)
        for index, status in enumerate(["active", "retired"]):
            listed = sum(pair[index] for pair in rows.values())
            assert table.loc[(level, status), "difference_kgs"] == listed - totals[status]
            assert table.loc[(level, status), "balanced"] == (listed == totals[status])


def test_reconcile_a_portfolio_per_organisation():
    prj = entity_id("prj", 1)
    frame = stack_balances([(ORG, make_body(projects=[(prj, 5, 5)])),
                            (OTHER_ORG, make_body(projects=[(prj, 5, 5)], total=(6, 5)))])
    table = reconcile(frame)
    assert set(table["organisation_id"]) == {ORG, OTHER_ORG}
    project_active = table[(table.level == "project") & (table.status == "active")]
    differences = project_active.set_index("organisation_id")["difference_kgs"]
    assert differences.to_dict() == {ORG: 0, OTHER_ORG: -1}


# -- frames as input ----------------------------------------------------------------------------

def test_metrics_accept_the_tidy_frame_and_refuse_other_frames():
    body = make_body(suppliers=[(entity_id("spl", 1), 3, 4)], total=(3, 4))
    balance = parse_balance(body, organisation_id=ORG)
    frame = balance.to_frame()
    pd.testing.assert_frame_equal(summarize(frame), summarize(balance))
    assert isinstance(concentration(frame), Concentration)
    with pytest.raises(SchemaError, match="credit_kgs: expected integer kilograms"):
        summarize(frame.assign(credit_kgs=frame["credit_kgs"].astype(float)))
    with pytest.raises(SchemaError, match="missing column"):
        summarize(frame.drop(columns="entity_id"))
    with pytest.raises(SchemaError, match="frame.level"):
        summarize(frame.assign(level="country"))
    with pytest.raises(SchemaError, match="expected a DataFrame"):
        summarize({"credit_kgs": [1]})


def test_sums_never_wrap_around():
    spl = entity_id("spl", 1)
    half = 2**62
    frame = stack_balances([(ORG, make_body(suppliers=[(spl, half, 0)], total=(half, 0))),
                            (OTHER_ORG, make_body(suppliers=[(spl, half, 0)], total=(half, 0)))])
    with pytest.raises(OverflowError, match="beyond the 64-bit range"):
        summarize(frame, by="supplier")
