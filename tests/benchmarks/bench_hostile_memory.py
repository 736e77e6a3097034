"""Benchmark: peak memory of one request to a hostile registry, the package against bare httpx.

Each case runs in a fresh Python process of its own, which reads one answer from the
hostile loopback registry (tests/hostile.py, served from this process) and then prints its
own peak resident set size (``getrusage(RUSAGE_SELF).ru_maxrss``: a child's own figure, as
``RUSAGE_CHILDREN`` would only give the largest child so far). Beside each, the same answer
read by bare ``httpx.get(...).content`` (what the client did before it streamed bodies), and
the process that only imports the package and makes a client (the floor):

1. a gzip bomb in a 503: 1 MiB on the wire, 1 GiB decompressed (503s are retried: one retry);
2. a 200 MB error body (a 500);
3. a gzip bomb in a 200: 256 MiB decompressed, against the default ``max_body_bytes`` (64 MiB).

Bounds stated (not asserted on time, nothing here is timed): the error cases stay within
32 MiB of the floor; the success case within ``max_body_bytes`` + 32 MiB of it.

Run: ``python -m tests.benchmarks.bench_hostile_memory``
"""

from __future__ import annotations

import subprocess
import sys

from tests.hostile import Hostile, gzip_bomb

MiB = 1 << 20
PACKAGE = """
import resource, sys
import isoanalytics as ia
with ia.RegistryClient(client_secret="bench-secret-0123", access_token="bench-token-0123",
                       base_url=sys.argv[1], max_retries=1, backoff_initial=0.01) as client:
    if sys.argv[2]:
        try:
            client.credit_balance(sys.argv[2])
        except ia.RegistryError as error:
            print(type(error).__name__, file=sys.stderr)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
BARE = """
import resource, sys
import httpx
import isoanalytics  # the same imports as the package's case
response = httpx.get(sys.argv[1] + "/organisations/" + sys.argv[2] + "/credit_balance",
                     timeout=60)
print(len(response.content), response.status_code, file=sys.stderr)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_mib(script: str, url: str, organisation: str) -> tuple[float, str]:
    done = subprocess.run([sys.executable, "-c", script, url, organisation],
                          capture_output=True, text=True, timeout=600, check=True)
    return int(done.stdout.split()[-1]) / 1024, done.stderr.strip()  # ru_maxrss is in KiB


def main() -> None:
    gzip_bomb(1024 * MiB)
    gzip_bomb(256 * MiB)
    with Hostile() as hostile:
        floor, _ = peak_mib(PACKAGE, hostile.url, "")
        cases = [
            ("gzip bomb in a 503 (1 GiB decompressed)", hostile.org("bomb", "503", 1024 * MiB),
             floor + 32),
            ("200 MB error body (500)", hostile.org("huge", "500", 200 * MiB), floor + 32),
            ("gzip bomb in a 200 (256 MiB decompressed)",
             hostile.org("bomb", "200", 256 * MiB), floor + 64 + 32),
        ]
        print(f"floor (import, make a client): {floor:7.0f} MiB peak RSS")
        print(f"{'case':44} {'package':>9} {'bound':>7} {'bare httpx':>11} {'ratio':>6}  outcome")
        for name, organisation, bound in cases:
            ours, outcome = peak_mib(PACKAGE, hostile.url, organisation)
            bare, _ = peak_mib(BARE, hostile.url, organisation)
            verdict = "within" if ours <= bound else "OVER"
            print(f"{name:44} {ours:6.0f} MiB {bound:4.0f} MiB {bare:7.0f} MiB {bare / ours:5.1f}x"
                  f"  {outcome}, {verdict} bound")


if __name__ == "__main__":
    main()
