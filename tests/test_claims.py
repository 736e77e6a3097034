"""claims() and claims_summary(): retirements per reporting period, exact, nothing dropped.

On the demo registry (every buyer, over the real client code path), on hand-made and
generated frames (the period rule, problems reported), and on the 100 real retirements in
``../shared`` (skipped cleanly without it).
"""

from __future__ import annotations

import ast
import asyncio
import csv
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoanalytics import (
    AsyncRegistryClient,
    PermissionDeniedError,
    RegistryClient,
    demo,
    timeline,
)
from isoanalytics.analysis.claims import claims_summary
from isoanalytics.records.claims import CLAIM_COLUMNS, claims_frame
from isoanalytics.records.instants import in_period, utc_bound
from isoanalytics.records.resources import RETIREMENT_PURPOSES, record_frame
from isoanalytics.registry.claims import aclaims, claims

REGISTRY = demo.registry()
BUYERS = dict(REGISTRY.buyers)
CLIENTS = sorted({r["beneficiary"]["id"] for r in REGISTRY.retirements()
                  if r["beneficiary"]["id"] != r["owner"]["id"]})


@pytest.fixture(scope="module")
def client():
    with RegistryClient.demo() as opened:
        yield opened


@pytest.fixture(scope="module")
def made(client) -> dict[str, pd.DataFrame]:
    """Each demo buyer's claims of all time, read once."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the demo is consistent: no problem is warned about
        return {role: claims(client, organisation, progress=False)
                for role, organisation in BUYERS.items()}


@pytest.fixture(scope="module")
def large_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The large buyer's retirements, their batches, its retired batches and the projects,
    straight from the demo's dicts (no client): input for the pure join."""
    owner = BUYERS["large"]
    retirements = record_frame("retirement", [r for r in REGISTRY.retirements()
                                              if r["owner"]["id"] == owner])
    batches = record_frame("credit_batch", [b for r in retirements["id"]
                                            for b in REGISTRY.retirement_credit_batches(r)])
    retired = record_frame("credit_batch", [b for b in REGISTRY.credit_batches(owner)
                                            if b["status"] == "retired"])
    return retirements, batches, retired, record_frame("project", REGISTRY.projects())


# -- the demo, over the client ------------------------------------------------------------------

@pytest.mark.parametrize("role", list(BUYERS))
def test_claims_of_all_time_add_up_to_the_retired_total(client, made, role):
    rows = made[role]
    assert list(rows.columns) == list(CLAIM_COLUMNS)
    assert rows["credit_kgs"].dtype == np.int64
    assert int(rows["credit_kgs"].sum()) == client.credit_balance(BUYERS[role]).retired_kgs
    assert rows["listed"].all() and (rows["problem"] == "").all()
    # every row is a distinct batch, and each retirement's rows add up to what it states
    assert rows["credit_batch_id"].is_unique
    stated = rows.groupby("retirement_id")["retirement_kgs"].first()
    held = rows.groupby("retirement_id")["credit_kgs"].sum()
    assert (stated.astype("int64") == held).all()
    assert rows["pathway"].notna().all() and rows["vintage"].notna().all()


def test_the_owner_role_lists_every_retirement_the_buyer_made(made):
    for role, organisation in BUYERS.items():
        listed = {r["id"] for r in REGISTRY.retirements() if r["owner"]["id"] == organisation}
        assert set(made[role]["retirement_id"]) == listed
        assert (made[role]["owner_id"] == organisation).all()


@pytest.mark.parametrize("beneficiary", CLIENTS)
def test_the_beneficiary_role_finds_retirements_made_for_it_by_another(client, made,
                                                                      beneficiary):
    rows = claims(client, beneficiary, role="beneficiary", progress=False)
    expected = {r["id"] for r in REGISTRY.retirements()
                if r["beneficiary"]["id"] == beneficiary}
    assert expected and set(rows["retirement_id"]) == expected
    assert (rows["beneficiary_id"] == beneficiary).all()
    assert (rows["owner_id"] != beneficiary).all()  # made by the large buyer, for it
    # and the owner's own claims hold the same rows
    owner = made["large"]
    assert int(owner.loc[owner["beneficiary_id"] == beneficiary, "credit_kgs"].sum()) == int(
        rows["credit_kgs"].sum())


def test_every_purpose_appears(made):
    named = {purpose for rows in made.values() for text in rows["purposes"].dropna()
             for purpose in text.split(", ") if purpose}
    assert named == set(RETIREMENT_PURPOSES)


def test_a_period_keeps_only_its_retirements(client):
    organisation = BUYERS["large"]
    year = claims(client, organisation, start="2025-01-01", end=date(2026, 1, 1),
                  progress=False)
    assert len(year) and (year["retired_at"].dt.year == 2025).all()
    listed = [r for r in REGISTRY.retirements() if r["owner"]["id"] == organisation
              and r["retired_at"].startswith("2025")]
    assert set(year["retirement_id"]) == {r["id"] for r in listed}
    assert int(year["credit_kgs"].sum()) == sum(r["credit_batch_size_total"]["credit_kgs"]
                                                for r in listed)


def test_aclaims_reads_the_same_as_claims(made):
    async def read(organisation: str) -> pd.DataFrame:
        async with AsyncRegistryClient.demo() as opened:
            return await aclaims(opened, organisation, progress=False)

    pd.testing.assert_frame_equal(asyncio.run(read(BUYERS["typical"])), made["typical"])


def test_arguments_are_checked_before_any_request(client):
    organisation = BUYERS["typical"]
    with pytest.raises(ValueError, match="role must be one of 'owner', 'beneficiary'"):
        claims(client, organisation, role="buyer", progress=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="has a time but no zone"):
        claims(client, organisation, start=datetime(2025, 1, 1, 12), progress=False)
    with pytest.raises(ValueError, match="start .* is after end"):
        claims(client, organisation, start="2026-01-01", end="2025-01-01", progress=False)
    with pytest.raises(TypeError, match="start must be a date"):
        claims(client, organisation, start=2025, progress=False)
    with pytest.raises(TypeError, match="use `await aclaims"):
        claims(AsyncRegistryClient.demo(), organisation)  # type: ignore[arg-type]


def test_a_failed_request_fails_the_call(client):
    stranger = "org_00000000000000000000"  # no token of the demo client opens its batches
    with pytest.raises(PermissionDeniedError, match="credit_batches"):
        claims(client, stranger, progress=False)
    # its public side reads: nobody retired anything for it
    assert claims(client, stranger, role="beneficiary", progress=False).empty


# -- the period rule ----------------------------------------------------------------------------

def test_bounds_are_utc_dates_or_aware_instants():
    midnight = pd.Timestamp("2025-01-01T00:00Z")
    assert utc_bound("2025-01-01", "start") == midnight
    assert utc_bound(date(2025, 1, 1), "start") == midnight
    assert utc_bound(datetime(2024, 12, 31, 19, tzinfo=UTC) + timedelta(hours=5), "x") == midnight
    assert utc_bound("2024-12-31T19:00-05:00", "start") == midnight
    for naive in ("2025-01-01T00:00", datetime(2025, 1, 1), pd.Timestamp("2025-01-01 00:00")):
        with pytest.raises(ValueError, match="no zone"):
            utc_bound(naive, "start")
    with pytest.raises(ValueError, match="start must be a date"):
        utc_bound("next year", "start")


def test_the_start_is_in_the_period_and_the_end_is_not():
    at = pd.Series(pd.to_datetime(["2025-01-01T00:00Z", "2025-12-31T23:59:59.999999Z",
                                   "2026-01-01T00:00Z", None], utc=True, format="ISO8601"))
    assert in_period(at, "2025-01-01", "2026-01-01").tolist() == [True, True, False, False]
    assert in_period(at).tolist() == [True, True, True, True]  # all time: even the undated
    # a retirement late on 31 December in New York is in the next year, in UTC
    late = pd.Series([pd.Timestamp("2025-12-31T23:30-05:00")])
    assert in_period(late, "2026-01-01", "2027-01-01").tolist() == [True]


INSTANTS = st.integers(0, 5 * 366 * 86400).map(
    lambda seconds: pd.Timestamp("2022-06-01T00:00Z") + pd.Timedelta(seconds=seconds))


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(INSTANTS, min_size=3, max_size=3, unique=True).map(sorted),
       as_dates=st.booleans())
def test_claims_of_adjacent_periods_add_up_to_the_whole(large_frames, cuts, as_dates):
    retirements, batches, retired, projects = large_frames
    a, b, c = (cut.date() if as_dates else cut.tz_convert("Asia/Tokyo") for cut in cuts)
    first = claims_frame(retirements, batches, projects=projects, retired=retired, start=a, end=b)
    second = claims_frame(retirements, batches, projects=projects, retired=retired, start=b,
                          end=c)
    whole = claims_frame(retirements, batches, projects=projects, retired=retired, start=a,
                         end=c)
    joined = pd.concat([first, second], ignore_index=True)
    assert sorted(joined["credit_batch_id"]) == sorted(whole["credit_batch_id"])
    assert int(joined["credit_kgs"].sum()) == int(whole["credit_kgs"].sum())
    assert not set(first["retirement_id"]) & set(second["retirement_id"])


# -- problems are reported, never dropped -------------------------------------------------------

def test_a_retired_batch_whose_retirement_is_missing_is_a_row_of_its_own(large_frames):
    retirements, batches, retired, projects = large_frames
    everything = claims_frame(retirements, batches, projects=projects, retired=retired)
    gone = retirements["id"].iloc[3]
    fewer = retirements[retirements["id"] != gone]
    with pytest.warns(UserWarning, match=f"retirement {gone} not listed"):
        rows = claims_frame(fewer, batches, projects=projects, retired=retired)
    assert int(rows["credit_kgs"].sum()) == int(everything["credit_kgs"].sum())
    stray = rows[~rows["listed"]]
    assert set(stray["retirement_id"]) == {gone}
    assert stray["problem"].str.contains("missing from the retirements list").all()
    assert stray["retirement_kgs"].isna().all() and stray["purposes"].isna().all()
    assert stray["pathway"].notna().all()  # its composition is still known
    summary = claims_summary(rows)
    assert int(summary.loc[summary["dimension"] == "total", "credit_kgs"].iloc[0]) == int(
        everything["credit_kgs"].sum())


def test_a_retirement_whose_batches_do_not_add_up_keeps_its_rows(large_frames):
    retirements, batches, retired, projects = large_frames
    off = retirements["id"].iloc[0]
    changed = batches.copy()
    first = changed.index[changed["retirement_id"] == off][0]
    changed.loc[first, "credit_kgs"] = int(changed.loc[first, "credit_kgs"]) + 7
    with pytest.warns(UserWarning, match=f"{off} \\(batches"):
        rows = claims_frame(retirements, changed, projects=projects)
    mine = rows[rows["retirement_id"] == off]
    assert len(mine) == int((batches["retirement_id"] == off).sum())
    assert mine["problem"].str.contains("the retirement states").all()
    assert (rows.loc[rows["retirement_id"] != off, "problem"] == "").all()
    assert int(rows["credit_kgs"].sum()) == int(changed["credit_kgs"].sum())


def test_a_retirement_without_batches_is_a_row_of_no_kilograms(large_frames):
    retirements, batches, _, projects = large_frames
    empty = retirements["id"].iloc[1]
    with pytest.warns(UserWarning, match="no credit batches"):
        rows = claims_frame(retirements, batches[batches["retirement_id"] != empty],
                            projects=projects)
    mine = rows[rows["retirement_id"] == empty]
    assert len(mine) == 1 and int(mine["credit_kgs"].iloc[0]) == 0
    assert mine["credit_batch_id"].isna().all()
    assert mine["problem"].iloc[0] == "the registry lists no credit batches for this retirement"


def test_a_batch_listed_twice_is_refused(large_frames):
    retirements, batches, _, _ = large_frames
    with pytest.raises(ValueError, match="more than once"):
        claims_frame(retirements, pd.concat([batches, batches.iloc[:1]], ignore_index=True))
    with pytest.raises(ValueError, match="missing column"):
        claims_frame(retirements.drop(columns=["purposes"]), batches)


# -- claims_summary -----------------------------------------------------------------------------

DURABILITY = {"direct_air_capture": "1,000+ years", "carbon_mineralization": "1,000+ years",
              "biomass_carbon_removal_and_storage": "1,000+ years",
              "enhanced_weathering": "1,000+ years", "marine": "1,000+ years",
              "reforestation": "under 100 years"}


def test_the_summary_adds_up_in_every_dimension(client, made):
    rows = made["large"]
    held = client.credit_balance(BUYERS["large"])
    summary = claims_summary(rows, holdings=held, durability=DURABILITY, durable="1,000+ years")
    total = int(rows["credit_kgs"].sum())
    retired = summary[summary["section"] == "retired"]
    for dimension in ("pathway", "vintage", "purpose", "durability"):
        part = retired[retired["dimension"] == dimension]
        assert int(part["credit_kgs"].sum()) == total, dimension
        assert part["share"].sum() == pytest.approx(1.0)
    # several purposes: counted once, under their combination, never once per purpose
    purposes = retired[retired["dimension"] == "purpose"]
    assert purposes["value"].str.contains(", ").any()
    assert purposes["value"].is_unique
    assert (purposes["value"] == "(none)").any()  # the demo has retirements without a purpose
    assert int(summary.loc[summary["section"] == "held", "credit_kgs"].iloc[0]) == held.active_kgs
    durable = retired[retired["dimension"] == "durable"].iloc[0]
    not_durable = int(rows.loc[rows["pathway"].isin(["reforestation", "superpollutants"]),
                               "credit_kgs"].sum())
    assert int(durable["credit_kgs"]) == total - not_durable
    assert summary["credit_kgs"].dtype == np.int64
    assert int(retired.loc[retired["dimension"] == "total", "retirements"].iloc[0]) == rows[
        "retirement_id"].nunique()


def test_durable_classes_need_a_mapping(made):
    with pytest.raises(ValueError, match="pass durability="):
        claims_summary(made["typical"], durable="1,000+ years")
    with pytest.raises(ValueError, match="integer kilograms"):
        claims_summary(made["typical"].assign(credit_kgs=made["typical"]["credits"]))


PATHWAYS = ["direct_air_capture", "reforestation", None]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2**40),
                               st.sampled_from(PATHWAYS), st.sampled_from([2021, 2024, None]),
                               st.sampled_from(["corporate_targets", "other, insetting", ""])),
                     max_size=30))
def test_no_kilogram_is_lost_in_the_summary(rows):
    frame = pd.DataFrame({
        "retirement_id": [f"ret_{row[0]}" for row in rows],
        "credit_kgs": np.array([row[1] for row in rows], dtype=np.int64),
        "pathway": pd.Series([row[2] for row in rows], dtype=object),
        "vintage": pd.array([row[3] for row in rows], dtype="Int64"),
        "purposes": pd.Series([row[4] for row in rows], dtype=object),
    })
    summary = claims_summary(frame, durability={"direct_air_capture": "1,000+ years"})
    total = sum(row[1] for row in rows)
    for dimension in ("total", "pathway", "vintage", "purpose", "durability"):
        part = summary[summary["dimension"] == dimension]
        assert sum(map(int, part["credit_kgs"])) == total, dimension


# -- real data: the 100 real retirements ---------------------------------------------------------

def _real_retirements(shared: Path) -> list[dict]:
    """retirements.csv (OffsetsDB's flattening of the API's Retirement records) as records."""
    with (shared / "isometric" / "registry-sample" / "retirements.csv").open() as file:
        rows = list(csv.DictReader(file))

    def organisation(row: dict, prefix: str) -> dict:
        return {"id": row[f"{prefix}.id"], "name": row[f"{prefix}.name"],
                "domain": row[f"{prefix}.domain"] or None}

    return [{
        "id": row["retirement_id"], "retired_at": row["retired_at"],
        "purposes": ast.literal_eval(row["purposes"]),
        "beneficiary": organisation(row, "beneficiary"), "owner": organisation(row, "owner"),
        "credit_batch_size_total": {"credit_kgs": int(row["credit_batch_size_total.credit_kgs"]),
                                    "credits": float(row["credit_batch_size_total.credits"])},
        "url": row["url"], "notes": row["notes"] or None,
    } for row in rows]


@pytest.fixture(scope="module")
def real() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The real retirements read through the records layer, and the CSV read by pandas alone."""
    from .conftest import SHARED

    if not SHARED.is_dir():
        pytest.skip("../shared is not present (it is only on development machines)")
    frame = record_frame("retirement", _real_retirements(SHARED))
    plain = pd.read_csv(SHARED / "isometric" / "registry-sample" / "retirements.csv")
    return frame, plain


def _ledger(retirements: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"at": retirements["retired_at"], "event": "retired",
                         "credit_kgs": retirements["retired_kgs"],
                         "beneficiary_id": retirements["beneficiary_id"]})


def test_real_retirements_read_through_the_records_layer(real):
    frame, plain = real
    assert len(frame) == len(plain) == 100
    assert frame["retired_kgs"].dtype == np.int64
    assert int(frame["retired_kgs"].sum()) == int(plain["credit_batch_size_total.credit_kgs"].sum())
    named = {p for text in frame["purposes"] for p in text.split(", ") if p}
    assert named <= set(RETIREMENT_PURPOSES)


@pytest.mark.parametrize(("freq", "pandas_freq"), [("M", "M"), ("Y", "Y")])
def test_real_timelines_equal_an_independent_pandas_computation(real, freq, pandas_freq):
    frame, plain = real
    periods = timeline(_ledger(frame), freq)
    at = pd.to_datetime(plain["retired_at"], utc=True, format="ISO8601")
    expected = plain.groupby(at.dt.tz_localize(None).dt.to_period(pandas_freq))[
        "credit_batch_size_total.credit_kgs"].sum()
    got = periods.set_index(periods["period"].astype(str))["credit_kgs"]
    # every period with a retirement has its pandas sum; the periods between have 0
    assert {str(period): int(kgs) for period, kgs in expected.items()} == {
        period: int(kgs) for period, kgs in got.items() if kgs}
    assert int(got.sum()) == int(expected.sum())
    assert list(periods["cumulative_kgs"]) == list(np.cumsum(periods["credit_kgs"]))


def test_real_totals_per_beneficiary_equal_a_pandas_groupby(real):
    frame, plain = real
    yearly = timeline(_ledger(frame), "Y", by="beneficiary_id")
    got = yearly.groupby("beneficiary_id")["credit_kgs"].sum()
    expected = plain.groupby("beneficiary.id")["credit_batch_size_total.credit_kgs"].sum()
    assert {key: int(value) for key, value in got.items()} == {
        key: int(value) for key, value in expected.items()}
    # and per year: what timeline gives each beneficiary each year is pandas' sum
    at = pd.to_datetime(plain["retired_at"], utc=True, format="ISO8601")
    per_year = plain.groupby([plain["beneficiary.id"], at.dt.year])[
        "credit_batch_size_total.credit_kgs"].sum()
    shown = yearly[yearly["credit_kgs"] > 0]
    assert {(row.beneficiary_id, row.period.year): int(row.credit_kgs)
            for row in shown.itertuples()} == {key: int(value) for key, value in per_year.items()}
