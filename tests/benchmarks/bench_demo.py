"""Benchmark: generating the demo registry, and the large buyer's credit balance.

Prints, for each, the median of several runs beside its goal and the ratio median / goal
(goal <= 1.0): generation of a registry (a seed other than the default, so no cache helps)
within 0.5 s, and ``credit_balance`` of the large buyer (the most batches) within 50 ms.
tests/test_demo.py checks the same two by the count of calls they make, which does not
depend on the machine; this script is where the times are.

Run: ``python -m tests.benchmarks.bench_demo [--repeat N]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from isoanalytics import demo

GOALS_S = {"generate": 0.5, "credit_balance (large buyer)": 0.05}


def median_s(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (median)")
    args = parser.parse_args(argv)
    registry = demo.generate(demo.DEFAULT_SEED + 2)
    large = registry.buyers["large"]
    measured = {
        "generate": median_s(lambda: demo.generate(demo.DEFAULT_SEED + 2), args.repeat),
        "credit_balance (large buyer)": median_s(lambda: registry.credit_balance(large),
                                                 args.repeat * 4),
    }
    print(f"{'':30} {'median':>10} {'goal':>10} {'median/goal':>12}")
    for name, seconds in measured.items():
        goal = GOALS_S[name]
        print(f"{name:30} {seconds * 1000:8.1f}ms {goal * 1000:8.1f}ms {seconds / goal:12.2f}")
    print(f"(large buyer: {len(registry.credit_batches(large, include_split=True))} batches)")


if __name__ == "__main__":
    main()
