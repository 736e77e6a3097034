"""Benchmark: ``timeline`` on a ledger of 1,000,000 movements against a plain pandas groupby.

Both answer the same question, side by side in one run: the retired kilograms per month per
supplier. The usual way is ``groupby([supplier, pd.Grouper(key="at", freq="MS")]).sum()``
on the retired rows; ``timeline`` also puts in the months where nothing moved, orders the
suppliers, keeps a running total and checks its input. Prints the medians and the ratio
ours / usual (goal <= 1.5), and checks that both give the same non-zero kilograms.

Run: ``python -m tests.benchmarks.bench_timeline [--rows N] [--repeat N]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from isoanalytics import timeline

GOAL = 1.5


def ledger(rows: int, seed: int = 7) -> pd.DataFrame:
    """A synthetic ledger: five years of movements, 40 suppliers, five events."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2021-01-01T00:00:00", "us").astype(np.int64)
    span_us = 5 * 365 * 86_400 * 1_000_000
    at = np.sort(start + rng.integers(0, span_us, rows))
    return pd.DataFrame({
        "at": pd.to_datetime(at, unit="us").tz_localize("UTC"),
        "event": pd.Categorical.from_codes(
            rng.integers(0, 5, rows),
            ["delivered", "transferred_in", "transferred_out", "retired", "refunded"]),
        "credit_kgs": rng.integers(1, 50_000_000, rows, dtype=np.int64),
        "supplier_id": pd.Categorical.from_codes(
            rng.integers(0, 40, rows), [f"spl_{index:020d}" for index in range(40)]),
    })


def usual(frame: pd.DataFrame) -> pd.Series:
    retired = frame[frame["event"] == "retired"]
    return retired.groupby(["supplier_id", pd.Grouper(key="at", freq="MS")],
                           observed=True)["credit_kgs"].sum()


def ours(frame: pd.DataFrame) -> pd.DataFrame:
    return timeline(frame, "M", event="retired", by="supplier_id")


def median_s(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="runs of each (median)")
    args = parser.parse_args(argv)
    frame = ledger(args.rows)
    expected, got = usual(frame), ours(frame)
    nonzero = got[got["credit_kgs"] > 0]
    same = (int(expected.sum()) == int(got["credit_kgs"].sum())
            and len(nonzero) == int((expected > 0).sum()))
    # interleaved, so both see the same state of the machine
    usual_s = median_s(lambda: usual(frame), args.repeat)
    ours_s = median_s(lambda: ours(frame), args.repeat)
    usual_s = min(usual_s, median_s(lambda: usual(frame), args.repeat))
    ours_s = min(ours_s, median_s(lambda: ours(frame), args.repeat))
    print(f"timeline(M, by supplier) on {args.rows:,} movements "
          f"({len(got):,} rows out, same kilograms as groupby: {same})")
    print(f"{'groupby + Grouper (usual)':32} {usual_s * 1000:9.1f} ms")
    print(f"{'isoanalytics.timeline':32} {ours_s * 1000:9.1f} ms")
    print(f"{'ours / usual':32} {ours_s / usual_s:9.2f}   (goal <= {GOAL})")


if __name__ == "__main__":
    main()
