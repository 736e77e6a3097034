"""Benchmark: a 110,000-row credit_balance body, and 10,000 credit batches in 200 pages, to frames.

Prints, measured side by side in this one run (medians; the cyclic garbage collector paused
for every path, so that the ratios compare decoders, not collections):

* ours / orjson.loads: the package's read (msgspec decode into the schema's structs, the
  cross-field checks, the tidy frame) against ``orjson.loads`` alone, the floor any
  JSON-to-frame path pays (goal <= 1.2);
* usual / ours: the hand-written path, ``json.loads`` then ``pandas.json_normalize`` (which
  validates nothing), against ours (goal >= 4);
* ours with the collector running against ours with it paused: whether the package needs
  to pause it (its structs are ``gc=False``, so the collector has nothing to walk).

The page set is read as ``plans.pages`` reads it, without the I/O: each page decoded from
bytes into ``Page[CreditBatch]`` and added to one Table, then one frame.

Run: ``python tests/benchmarks/bench_parse.py [--repeat N] [--projects N] [--suppliers N]``
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from collections.abc import Callable

import orjson
import pandas as pd

import isoanalytics
from isoanalytics import demo
from isoanalytics.records.resources import Table, page_reader


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


def make_pages(records: int = 10_000, size: int = 50) -> list[bytes]:
    """``records`` credit batches (the demo's, with ids made unique) in pages of ``size``."""
    registry = demo.registry()
    templates = registry.credit_batches(registry.buyers["large"])
    batches = []
    for number in range(records):
        batch = dict(templates[number % len(templates)], id=f"ctb_{number:016X}")
        batches.append(batch)
    pages = []
    for start in range(0, records, size):
        last = start + size >= records
        pages.append(orjson.dumps({
            "nodes": batches[start:start + size], "total_count": records,
            "page_info": {"has_next_page": not last, "end_cursor": None if last else str(start),
                          "has_previous_page": start > 0, "start_cursor": str(start)},
        }))
    return pages


def _paused(function: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        gc.disable()
        try:
            return function()
        finally:
            gc.enable()
    return run


def _timed(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    # Interleaved, so that machine noise falls on every path alike.
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, function in runs.items():
            start = time.perf_counter()
            function()
            timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in timings.items()}


def _report(title: str, seconds: dict[str, float], labels: dict[str, str]) -> None:
    print(title)
    for name, label in labels.items():
        print(f"  {label:44} {seconds[name] * 1000:8.1f} ms")
    print(f"  ours / orjson.loads = {seconds['ours'] / seconds['orjson']:.2f}  (goal <= 1.2)")
    print(f"  usual / ours (json.loads + json_normalize) = "
          f"{seconds['usual'] / seconds['ours']:.2f}  (goal >= 4)")
    print(f"  ours, collector running / paused = {seconds['ours_gc'] / seconds['ours']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--suppliers", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=10_000)
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
    seconds = _timed({"orjson": _paused(lambda: orjson.loads(raw)), "ours": _paused(ours),
                      "usual": _paused(usual), "ours_gc": ours}, args.repeat)
    print(f"credit_balance body: {len(raw) / 1e6:.1f} MB, {args.projects:,} project + "
          f"{args.suppliers:,} supplier rows; median of {args.repeat} runs each")
    _report("", seconds, {
        "orjson": "orjson.loads",
        "ours": "parse_balance(raw).to_frame()",
        "usual": "json.loads + json_normalize",
        "ours_gc": "parse_balance(raw).to_frame(), collector on"})

    pages = make_pages(args.batches)
    reader = page_reader("credit_batch")

    def ours_pages() -> pd.DataFrame:
        table = Table("credit_batch")
        for body in pages:
            table.add_decoded(reader.decode(body).nodes)
        return table.to_frame()

    def usual_pages() -> pd.DataFrame:
        return pd.json_normalize([node for body in pages for node in json.loads(body)["nodes"]])

    batches = ours_pages()
    assert len(batches) == args.batches and batches["id"].is_unique
    seconds = _timed({"orjson": _paused(lambda: [orjson.loads(body) for body in pages]),
                      "ours": _paused(ours_pages), "usual": _paused(usual_pages),
                      "ours_gc": ours_pages}, args.repeat)
    print(f"\ncredit batches: {args.batches:,} in {len(pages)} pages, "
          f"{sum(map(len, pages)) / 1e6:.1f} MB; median of {args.repeat} runs each")
    _report("", seconds, {
        "orjson": "orjson.loads of each page",
        "ours": "Page[CreditBatch] decode + Table + to_frame",
        "usual": "json.loads + json_normalize",
        "ours_gc": "the same, collector on"})


if __name__ == "__main__":
    main()
