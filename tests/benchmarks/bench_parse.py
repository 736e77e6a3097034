"""Benchmark: a 110,000-row credit_balance body to a tidy frame.

Builds a body with 100,000 project and 10,000 supplier rows and prints, measured side by
side in this one run (median of several repetitions each):

* ours / orjson.loads: ``parse_balance(raw).to_frame()`` (decode, validate, frame) against
  ``orjson.loads(raw)`` alone, the floor any JSON-to-frame path pays (goal <= 2.0). Ours
  pauses the cyclic garbage collector while it decodes; a plain ``orjson.loads`` call does
  not, so the ratio is printed twice: against the plain call, and against ``orjson.loads``
  with the collector paused too (the stricter floor);
* usual / ours: the hand-written path, ``json.loads`` then ``pandas.json_normalize`` of both
  lists (which validates nothing), against ours (goal >= 1.5).

Run: ``python tests/benchmarks/bench_parse.py [--repeat N] [--projects N] [--suppliers N]``
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import orjson
import pandas as pd

import isoanalytics
from isoanalytics.records.decoding import load as _unused  # noqa: F401


def _quantity(kgs: int) -> dict:
    return {"credit_kgs": kgs, "credits": round(kgs / 1000, 3)}


def _alphabet_id(prefix: str, number: int) -> str:
    return f"{prefix}_{number:016X}"


def make_body(projects: int = 100_000, suppliers: int = 10_000, seed: int = 7) -> bytes:
    rng = random.Random(seed)

    def rows(count: int, key: str, prefix: str) -> list[dict]:
        return [
            {
                key: _alphabet_id(prefix, index),
                "total": {
                    "active_credits_total": _quantity(rng.randrange(0, 5_000_000)),
                    "retired_credits_total": _quantity(rng.randrange(0, 5_000_000)),
                },
            }
            for index in range(count)
        ]

    body = {
        "project_balances": rows(projects, "project_id", "prj"),
        "supplier_balances": rows(suppliers, "supplier_id", "spl"),
        "order_balances": [],
        "total": {"active_credits_total": _quantity(0), "retired_credits_total": _quantity(0)},
    }
    return orjson.dumps(body)


def _median_seconds(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--suppliers", type=int, default=10_000)
    args = parser.parse_args()

    raw = make_body(args.projects, args.suppliers)
    organisation_id = "org_1GB56M1ST1S0GVNA"

    def ours() -> pd.DataFrame:
        return isoanalytics.parse_balance(raw, organisation_id=organisation_id).to_frame()

    def usual() -> tuple[pd.DataFrame, pd.DataFrame]:
        body = json.loads(raw)
        return (pd.json_normalize(body["project_balances"]),
                pd.json_normalize(body["supplier_balances"]))

    frame = ours()  # warm up, and check we measure what we claim
    assert len(frame) == 2 * (1 + args.projects + args.suppliers)
    usual()

    # Interleave the three so that machine noise falls on all of them alike.
    def orjson_paused() -> object:
        with gc_paused():
            return orjson.loads(raw)

    runs = {"orjson": lambda: orjson.loads(raw), "orjson_paused": orjson_paused,
            "ours": ours, "usual": usual}
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, function in runs.items():
            timings[name].append(_median_seconds(function, 1))
    orjson_s, paused_s, ours_s, usual_s = (statistics.median(timings[name]) for name in runs)

    print(f"body: {len(raw) / 1e6:.1f} MB, {args.projects:,} project + {args.suppliers:,} supplier rows; "
          f"median of {args.repeat} runs each")
    print(f"orjson.loads alone            {orjson_s * 1000:8.1f} ms")
    print(f"orjson.loads, GC paused       {paused_s * 1000:8.1f} ms")
    print(f"parse_balance().to_frame()    {ours_s * 1000:8.1f} ms")
    print(f"json.loads + json_normalize   {usual_s * 1000:8.1f} ms")
    print(f"ours / orjson.loads   = {ours_s / orjson_s:.2f}  (goal <= 2.0)")
    print(f"ours / orjson.loads with GC paused = {ours_s / paused_s:.2f}  (goal <= 2.0)")
    print(f"usual / ours          = {usual_s / ours_s:.2f}  (goal >= 1.5)")


if __name__ == "__main__":
    main()
