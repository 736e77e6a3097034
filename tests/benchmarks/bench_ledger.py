"""Benchmark: ``holdings_as_of`` on 1,000,000 movements, and reading the ``large`` buyer's ledger.

Prints, side by side in one run:

1. ``holdings_as_of`` of a synthetic ledger of 1,000,000 movements (600 projects, 40
   suppliers, 150 orders, every event) at an instant half-way through, against a plain pandas
   ``groupby`` of the same frame computing the same kilograms (the rows before the instant,
   active = in - out and retired, per project, supplier and order): medians and the ratio
   ours / plain (goal <= 1.5), and whether both give the same kilograms;
2. ``isoanalytics.ledger`` of the demo's ``large`` buyer (its buffer-pool refund named) over
   loopback from a server that takes ``--delay`` seconds (50 ms) per request: wall time,
   round trips and the most requests the server had in flight at once, against the same
   reads made one after the other with the client's per-record methods (the sequential way).

Nothing is asserted on time. Run: ``python -m tests.benchmarks.bench_ledger [--rows N]
[--repeat N] [--delay S] [--skip-loopback]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from isoanalytics import RegistryClient, demo
from isoanalytics.analysis.holdings import holdings_as_of
from isoanalytics.records.ledger import build_ledger
from isoanalytics.records.movements import EVENTS, INBOUND
from isoanalytics.records.resources import record_frame
from isoanalytics.registry.ledger import ledger

GOAL = 1.5
REPO = Path(__file__).resolve().parents[2]
ORG = "org_1BENCH00000000000"


def synthetic(rows: int, seed: int = 11) -> pd.DataFrame:
    """Five years of movements of one account; what leaves is small beside what comes in."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2021-01-01T00:00:00", "us").astype(np.int64)
    at = np.sort(start + rng.integers(0, 5 * 365 * 86_400 * 1_000_000, rows))
    events = rng.choice(len(EVENTS), rows, p=[0.5, 0.1, 0.05, 0.3, 0.05])
    inbound = np.isin(events, [EVENTS.index(event) for event in INBOUND])
    kgs = np.where(inbound, rng.integers(10_000, 50_000_000, rows),
                   rng.integers(1, 10_000, rows)).astype(np.int64)
    projects = np.array([f"prj_1{index:015d}" for index in range(600)], dtype=object)
    project = rng.integers(0, 600, rows)
    suppliers = np.array([f"spl_1{index:015d}" for index in range(40)], dtype=object)
    orders = np.array([f"ord_1{index:015d}" for index in range(150)], dtype=object)
    order = orders[rng.integers(0, 150, rows)]
    order[rng.random(rows) < 0.15] = None  # transfers in, refunds: no order
    return pd.DataFrame({
        "organisation_id": pd.Series([ORG] * rows, dtype="str"),
        "at": pd.to_datetime(at, unit="us").tz_localize("UTC"),
        "event": pd.Categorical.from_codes(events, EVENTS),
        "credit_kgs": kgs,
        "project_id": pd.Series(projects[project], dtype="str"),
        "supplier_id": pd.Series(suppliers[project % 40], dtype="str"),
        "order_id": pd.Series(order, dtype="str"),
    })


def plain(frame: pd.DataFrame, when: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The same kilograms the plain pandas way."""
    kept = frame[frame["at"] < when]
    kgs = kept["credit_kgs"]
    moves = pd.DataFrame({"active": kgs.where(kept["event"].isin(INBOUND), -kgs),
                          "retired": kgs.where(kept["event"] == "retired", 0)})
    found = {level: moves.groupby(kept[f"{level}_id"].to_numpy()).sum()
             for level in ("project", "supplier", "order")}
    found["organisation"] = moves.sum().to_frame().T
    return found


def median_s(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def holdings(rows: int, repeat: int) -> None:
    frame = synthetic(rows)
    when = frame["at"].iloc[len(frame) // 2]
    ours, theirs = holdings_as_of(frame, when), plain(frame, when)
    same = (ours.active_kgs == int(theirs["organisation"]["active"].iloc[0])
            and all(int(theirs[level].loc[entity, "active"]) == active
                    for level in ("project", "supplier", "order")
                    for entity, active in _actives(ours, level).items()))
    plain_s = median_s(lambda: plain(frame, when), repeat)
    ours_s = median_s(lambda: holdings_as_of(frame, when), repeat)
    plain_s = min(plain_s, median_s(lambda: plain(frame, when), repeat))  # interleaved
    ours_s = min(ours_s, median_s(lambda: holdings_as_of(frame, when), repeat))
    print(f"holdings_as_of on {rows:,} movements (same kilograms as groupby: {same})")
    print(f"{'groupby (plain pandas)':34} {plain_s * 1000:9.1f} ms")
    print(f"{'isoanalytics.holdings_as_of':34} {ours_s * 1000:9.1f} ms")
    print(f"{'ours / plain':34} {ours_s / plain_s:9.2f}   (goal <= {GOAL})")


def _actives(balance, level: str) -> dict[str, int]:
    rows = balance.to_frame()
    rows = rows[(rows["level"] == level) & (rows["status"] == "active")]
    return dict(zip(rows["entity_id"], rows["credit_kgs"].tolist(), strict=True))


@contextmanager
def slow_demo(delay: float):
    server = subprocess.Popen([sys.executable, "-m", "tests.benchmarks._slow_demo", "--delay",
                               str(delay)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        yield server.stdout.readline().strip()
    finally:
        server.kill()
        server.wait()


def sequential(client: RegistryClient, org: str, refunds: list[str]) -> pd.DataFrame:
    """Every read one after the other, with the client's per-record methods."""
    deliveries = client.deliveries(to_organisation_id=org)
    transfers = pd.concat([client.transfers(from_organisation_id=org),
                           client.transfers(to_organisation_id=org)], ignore_index=True)
    retirements = client.retirements(owner_organisation_id=org)
    batches = {}
    for record_id in deliveries["id"]:
        batches[record_id] = client.delivery_credit_batches(record_id, organisation_id=org)
    for record_id in transfers["id"]:
        batches[record_id] = client.transfer_credit_batches(record_id, organisation_id=org)
    for record_id in retirements["id"]:
        batches[record_id] = client.retirement_credit_batches(record_id)
    for record_id in refunds:
        batches[record_id] = client.refund_credit_batches(record_id, organisation_id=org)
    return build_ledger(
        org, deliveries=deliveries, transfers=transfers, retirements=retirements,
        refunds=record_frame("refund", [client.refund(r, organisation_id=org) for r in refunds]),
        record_batches=batches,
        batches=client.credit_batches(org, status=["active", "retired", "split"],
                                      by_project=False),
        orders=client.orders(org))


def loopback(delay: float) -> None:
    registry = demo.registry()
    org = registry.buyers["large"]
    refunds = [r["id"] for r in registry.refunds() if r["to_organisation"]["id"] == org]
    with slow_demo(delay) as base_url, httpx.Client(base_url=base_url.rsplit("/registry",
                                                                             1)[0]) as stats:
        results = {}
        for name, run in (("isoanalytics.ledger (concurrency 10)",
                           lambda client: ledger(client, org, refund_ids=refunds,
                                                 progress=False)),
                          ("one request after another", lambda client: sequential(
                              client, org, refunds))):
            with RegistryClient("demo", base_url=base_url, concurrency=10) as client:
                client.orders(org)  # connected before the clock starts
                stats.get("/__reset")
                started = time.perf_counter()
                frame = run(client)
                elapsed = time.perf_counter() - started
            counted = stats.get("/__stats").json()
            results[name] = (elapsed, counted, frame)
        ours, theirs = results.values()
        same = ours[2].equals(theirs[2])
        print(f"\nledger of the demo's large buyer ({len(ours[2]):,} movements) over loopback, "
              f"{delay * 1000:.0f} ms per request (same frame both ways: {same})")
        for name, (elapsed, counted, _) in results.items():
            print(f"{name:38} {elapsed:7.2f} s  {counted['requests']:5} round trips  "
                  f"at most {counted['peak_in_flight']} in flight")
        print(f"{'speed-up':38} {theirs[0] / ours[0]:7.1f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (median)")
    parser.add_argument("--delay", type=float, default=0.05, help="server seconds per request")
    parser.add_argument("--skip-loopback", action="store_true")
    args = parser.parse_args(argv)
    holdings(args.rows, args.repeat)
    if not args.skip_loopback:
        loopback(args.delay)


if __name__ == "__main__":
    main()
