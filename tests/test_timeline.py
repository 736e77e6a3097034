"""timeline(): kilograms per period, exact, with every period present and none lost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoanalytics import timeline

FREQS = ("Y", "Q", "M", "W", "D")
EVENTS = ("delivered", "retired", "transferred_out")


def _moves(rows: list[tuple[int, str, int, str | None]]) -> pd.DataFrame:
    """(seconds since 2020 in UTC, event, kg, supplier) rows as a ledger-shaped frame."""
    seconds = np.array([row[0] for row in rows], dtype=np.int64)
    return pd.DataFrame({
        "at": pd.to_datetime(seconds, unit="s", origin="2020-01-01").tz_localize("UTC"),
        "event": pd.Series([row[1] for row in rows], dtype=object),
        "credit_kgs": np.array([row[2] for row in rows], dtype=np.int64),
        "supplier_id": pd.Series([row[3] for row in rows], dtype=object),
    })


MOVES = st.lists(
    st.tuples(
        st.integers(0, 7 * 365 * 86400),
        st.sampled_from(EVENTS),
        st.integers(0, 2**50),
        st.sampled_from(["spl_a", "spl_b", "spl_c", None]),
    ),
    max_size=60,
).map(_moves)


@settings(max_examples=80, deadline=None)
@given(moves=MOVES, freq=st.sampled_from(FREQS), year_start=st.integers(1, 12),
       by=st.sampled_from([None, "supplier_id"]))
def test_no_kilogram_is_lost_and_every_period_is_there(moves, freq, year_start, by):
    if freq in ("M", "W", "D"):
        year_start = 1
    result = timeline(moves, freq, event="retired", by=by, year_start=year_start)
    retired = moves[moves["event"] == "retired"]
    assert int(result["credit_kgs"].sum()) == sum(map(int, retired["credit_kgs"]))
    assert result["credit_kgs"].dtype == np.int64
    groups = [result] if by is None else [group for _, group in
                                          result.groupby(by, dropna=False, sort=False)]
    for group in groups:
        # contiguous periods, one row each, and the running total ends at the group's total
        ordinals = group["period"].array.asi8
        assert list(np.diff(ordinals)) == [1] * (len(group) - 1)
        assert list(group["cumulative_kgs"]) == list(np.cumsum(group["credit_kgs"]))
    if by is not None:
        assert len({len(group) for group in groups}) <= 1  # every group spans every period


@settings(max_examples=60, deadline=None)
@given(moves=MOVES, freq=st.sampled_from(FREQS), year_start=st.integers(1, 12))
def test_each_period_equals_an_independent_pandas_computation(moves, freq, year_start):
    if freq in ("M", "W", "D"):
        year_start = 1
    result = timeline(moves, freq, event=None, year_start=year_start)
    alias = result["period"].dtype.freq if len(result) else None
    if alias is None:
        assert moves.empty
        return
    periods = moves["at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(alias)
    expected = moves.groupby(periods)["credit_kgs"].sum()
    got = result.set_index("period")["credit_kgs"]
    assert got[got > 0].to_dict() == expected[expected > 0].to_dict()
    # a period's start is the first instant of the period pandas names
    starts = result["period"].dt.start_time.dt.tz_localize("UTC")
    assert (starts.to_numpy() == result["period_start"].to_numpy()).all()


@settings(max_examples=60, deadline=None)
@given(moves=MOVES, year_start=st.integers(1, 12))
def test_months_add_up_to_quarters_and_years(moves, year_start):
    months = timeline(moves, "M", event=None)
    for freq in ("Q", "Y"):
        coarse = timeline(moves, freq, event=None, year_start=year_start)
        if months.empty:
            assert coarse.empty
            continue
        alias = coarse["period"].dtype.freq
        regrouped = months.groupby(months["period"].dt.asfreq(alias))["credit_kgs"].sum()
        regrouped = regrouped[regrouped > 0]
        got = coarse.set_index("period")["credit_kgs"]
        assert got[got > 0].to_dict() == regrouped.to_dict()


def test_kilograms_beyond_float_precision_stay_exact():
    moves = _moves([(0, "retired", 2**53 + 1, None), (10, "retired", 1, None)])
    result = timeline(moves, "Y")
    assert int(result["credit_kgs"].iloc[0]) == 2**53 + 2


def test_periods_are_utc_and_weeks_start_on_monday():
    moves = pd.DataFrame({
        "at": pd.to_datetime(["2025-12-31T23:30:00-05:00", "2024-03-03T23:59:59Z",
                              "2024-03-04T00:00:00Z"], format="ISO8601", utc=True),
        "event": ["retired"] * 3,
        "credit_kgs": [7, 1, 2],
    })
    years = timeline(moves.iloc[:1], "Y")
    assert years["period"].astype(str).tolist() == ["2026"]
    weeks = timeline(moves.iloc[1:], "W")
    assert weeks["period_start"].dt.day_name().tolist() == ["Monday", "Monday"]
    assert weeks["credit_kgs"].tolist() == [1, 2]


def test_fiscal_years_are_named_by_the_year_they_end_in():
    moves = pd.DataFrame({
        "at": pd.to_datetime(["2025-03-31T23:59:59Z", "2025-04-01T00:00:00Z"], utc=True),
        "event": ["retired", "retired"],
        "credit_kgs": [1, 2],
    })
    result = timeline(moves, "Y", year_start=4)
    assert result["period"].astype(str).tolist() == ["2025", "2026"]
    assert result["period_start"].dt.strftime("%Y-%m-%d").tolist() == ["2024-04-01",
                                                                       "2025-04-01"]
    quarters = timeline(moves, "Q", year_start=4)
    assert quarters["period_start"].dt.month.tolist() == [1, 4]


def test_start_and_end_widen_the_range_with_zeros():
    moves = _moves([(400 * 86400, "retired", 5, "spl_a")])  # early 2021
    result = timeline(moves, "Y", by="supplier_id", start="2020-06-01", end="2023-01-01")
    assert result["period"].astype(str).tolist() == ["2020", "2021", "2022", "2023"]
    assert result["credit_kgs"].tolist() == [0, 5, 0, 0]
    empty = timeline(moves.iloc[:0], "Y", start="2025-01-01", end="2025-12-31")
    assert empty["credit_kgs"].tolist() == [0]


def test_groups_run_largest_first_with_missing_values_kept():
    moves = _moves([(0, "retired", 1, "spl_a"), (0, "retired", 5, "spl_b"),
                    (0, "retired", 3, None)])
    result = timeline(moves, "Y", by="supplier_id")
    labels = result["supplier_id"]
    assert labels[0] == "spl_b" and pd.isna(labels[1]) and labels[2] == "spl_a"
    assert result["credit_kgs"].tolist() == [5, 3, 1]


def test_empty_result_has_the_columns_and_dtypes():
    result = timeline(_moves([]), "M", by="supplier_id")
    assert list(result.columns) == ["period", "period_start", "supplier_id", "credit_kgs",
                                    "credits", "cumulative_kgs"]
    assert result["credit_kgs"].dtype == np.int64


@pytest.mark.parametrize(("change", "call", "message"), [
    (None, {"freq": "A"}, "freq must be one of"),
    (None, {"freq": "Y", "year_start": 13}, "year_start must be a month number"),
    (None, {"freq": "M", "year_start": 4}, "year_start applies to years and quarters"),
    (None, {"event": "retire"}, "'retire' is not in this frame"),
    (lambda f: f.assign(at=f["at"].dt.tz_localize(None)), {}, "time-zone-aware"),
    (lambda f: f.assign(at=f["at"].astype(str)), {}, "at as datetimes"),
    (lambda f: f.assign(credit_kgs=f["credit_kgs"] / 1000), {}, "integer kilograms"),
    (lambda f: f.assign(credit_kgs=-f["credit_kgs"]), {}, "credit_kgs at row 0"),
    (lambda f: f.assign(at=f["at"].where(f.index > 0)), {}, "at is missing at row 0"),
    (lambda f: f.drop(columns="event"), {}, "missing column(s) event"),
    (None, {"by": "vintage"}, "missing column(s) vintage"),
    (None, {"start": "not a date"}, "start must be a date"),
])
def test_bad_input_is_named(change, call, message):
    moves = _moves([(0, "retired", 5, "spl_a"), (86400, "retired", 2, "spl_b")])
    if change is not None:
        moves = change(moves)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        timeline(moves, **call)


def test_a_frame_is_required():
    with pytest.raises(TypeError, match="timeline"):
        timeline([{"at": 1}])


def test_a_categorical_by_column_keeps_its_dtype():
    moves = _moves([(0, "retired", 1, "spl_a"), (0, "retired", 5, "spl_b")])
    moves["supplier_id"] = moves["supplier_id"].astype("category")
    result = timeline(moves, "Y", by="supplier_id")
    assert isinstance(result["supplier_id"].dtype, pd.CategoricalDtype)
    assert result["supplier_id"].tolist() == ["spl_b", "spl_a"]
