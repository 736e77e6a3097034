"""Benchmark: the registry client against a loopback server that takes 50 ms a request.

Prints, measured side by side in this one run (the server runs in a process of its own, so
the client's CPU time can be read from this process alone):

1. ``fetch_balances`` of 100 organisations with concurrency 10, against the usual way, one
   ``credit_balance`` call after the other on a connected client: the speed-up (goal >= 8);
2. paging 10,000 credit batches along one cursor chain (200 pages of 50): the client's own
   time per page (goal <= 2 ms), as CPU time of this process per page, and as wall time
   minus the server's 50 ms sleep per page (which also counts loopback HTTP and the
   server's own work: an upper bound). Beside it, the floor any Python client pays: a bare
   ``httpx.Client.get`` plus ``orjson.loads`` per page, which validates nothing and builds
   no frame;
3. the same 10,000 batches (20 projects) read the default way, per project concurrently,
   against the single chain.

Step 2 is repeated against the same server without its delay: the same work costs less
when the CPU never waits (after each 50 ms wait its caches are cold).

Run: ``python -m tests.benchmarks.bench_client [--delay S] [--organisations N] [--batches N]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson

import isoanalytics

from ._slow_registry import BENCH_ORGANISATION

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def slow_registry(delay: float, batches: int):
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks._slow_registry", "--delay", str(delay),
         "--batches", str(batches)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        yield server.stdout.readline().strip()
    finally:
        server.kill()
        server.wait()


BATCHES_PATH = f"/organisations/{BENCH_ORGANISATION}/credit_batches"


def bare_chain(bare: httpx.Client) -> int:
    """The floor: follow the cursors with httpx and orjson alone; returns the page count."""
    pages, after = 0, None
    while True:
        params = {"first": "50", **({"after": after} if after else {})}
        body = orjson.loads(bare.get(BATCHES_PATH, params=params).content)
        pages += 1
        if not body["page_info"]["has_next_page"]:
            return pages
        after = body["page_info"]["end_cursor"]


def timed(function):
    started, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - started, time.process_time() - cpu


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.05, help="server seconds per request")
    parser.add_argument("--organisations", type=int, default=100)
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds; each figure is the median (the machine is shared)")
    args = parser.parse_args(argv)
    accounts = {f"org_1BENCH{index:010d}": f"token-{index:06d}"
                for index in range(args.organisations)}
    options = {"client_secret": "bench-secret", "access_token": "bench-token"}
    runs: dict[str, list[float]] = {}

    def record(**values: float) -> None:
        for name, value in values.items():
            runs.setdefault(name, []).append(value)

    with (
        slow_registry(args.delay, args.batches) as url,
        isoanalytics.RegistryClient(base_url=url, **options) as client,
        httpx.Client(base_url=url) as bare,
    ):
        client.credit_balance(BENCH_ORGANISATION)  # both connected before any timing
        bare.get(BATCHES_PATH, params={"first": "1"})
        for _ in range(args.repeat):
            # 1. a portfolio: concurrently, and one after the other
            fetched, concurrent_s, _ = timed(lambda: isoanalytics.fetch_balances(
                accounts, base_url=url, client_secret="bench-secret", concurrency=10,
                progress=False))
            assert fetched.ok and len(fetched.balances) == args.organisations
            _, sequential_s, _ = timed(lambda: [client.credit_balance(o) for o in accounts])

            # 2. one long cursor chain, and the bare floor on the same server
            chain, chain_s, chain_cpu = timed(lambda: client.credit_batches(
                BENCH_ORGANISATION, by_project=False))
            pages = -(-len(chain) // 50)
            assert len(chain) == args.batches and chain["id"].is_unique
            bare_pages, bare_s, bare_cpu = timed(lambda: bare_chain(bare))

            # 3. the default way: per project concurrently (20 projects)
            per_project, per_project_s, _ = timed(lambda: client.credit_batches(
                BENCH_ORGANISATION))
            assert per_project.equals(chain)
            record(concurrent_s=concurrent_s, sequential_s=sequential_s,
                   fetch_speedup=sequential_s / concurrent_s, chain_s=chain_s,
                   per_page_ms=(chain_s - pages * args.delay) / pages * 1000,
                   per_page_cpu_ms=chain_cpu / pages * 1000,
                   bare_per_page_ms=(bare_s - bare_pages * args.delay) / bare_pages * 1000,
                   bare_per_page_cpu_ms=bare_cpu / bare_pages * 1000,
                   per_project_s=per_project_s, partition_speedup=chain_s / per_project_s)
    # The same chain against the same server without its delay: what the work costs when
    # the CPU never waits (after each 50 ms wait its caches are cold).
    with (
        slow_registry(0.0, args.batches) as url,
        isoanalytics.RegistryClient(base_url=url, **options) as client,
        httpx.Client(base_url=url) as bare,
    ):
        client.credit_balance(BENCH_ORGANISATION)
        bare.get(BATCHES_PATH, params={"first": "1"})
        for _ in range(args.repeat):
            _, _, chain_cpu = timed(lambda: client.credit_batches(BENCH_ORGANISATION,
                                                                  by_project=False))
            bare_pages, _, bare_cpu = timed(lambda: bare_chain(bare))
            record(warm_per_page_cpu_ms=chain_cpu / pages * 1000,
                   warm_bare_per_page_cpu_ms=bare_cpu / bare_pages * 1000)
    figures = {name: statistics.median(values) for name, values in runs.items()}
    spread = {name: f"{min(values):.2f}-{max(values):.2f}" for name, values in runs.items()}

    print(f"server delay {args.delay * 1000:.0f} ms a request, on loopback, in its own "
          f"process; medians of {args.repeat} rounds (range)")
    print(f"fetch_balances, {args.organisations} organisations, concurrency 10: "
          f"{figures['concurrent_s']:.2f} s; one after the other: {figures['sequential_s']:.2f} s;"
          f" speed-up {figures['fetch_speedup']:.1f}x ({spread['fetch_speedup']}; goal >= 8)")
    print(f"paging {args.batches:,} credit batches in {pages} pages of 50: "
          f"{figures['chain_s']:.2f} s")
    print(f"  client time per page: CPU {figures['per_page_cpu_ms']:.2f} ms "
          f"({spread['per_page_cpu_ms']}), wall - sleep {figures['per_page_ms']:.2f} ms "
          f"({spread['per_page_ms']}) (goal <= 2 ms)")
    print(f"  bare httpx.get + orjson.loads per page (no validation, no frame): CPU "
          f"{figures['bare_per_page_cpu_ms']:.2f} ms ({spread['bare_per_page_cpu_ms']}), "
          f"wall - sleep {figures['bare_per_page_ms']:.2f} ms ({spread['bare_per_page_ms']})")
    print(f"  the same chain without the server's delay (back to back): client CPU "
          f"{figures['warm_per_page_cpu_ms']:.2f} ms ({spread['warm_per_page_cpu_ms']}), bare "
          f"{figures['warm_bare_per_page_cpu_ms']:.2f} ms ({spread['warm_bare_per_page_cpu_ms']})")
    print(f"the same batches, default way (per project concurrently): "
          f"{figures['per_project_s']:.2f} s; speed-up over the chain "
          f"{figures['partition_speedup']:.1f}x ({spread['partition_speedup']})")
    return figures


if __name__ == "__main__":
    main()
