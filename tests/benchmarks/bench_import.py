"""What importing the package costs, against importing what it is built on, in fresh processes.

Run: ``python -m tests.benchmarks.bench_import [rounds]`` (default 15 rounds).

Each round starts one new interpreter per statement, in turn, so the statements share the
machine's state (caches, load) round by round; each child times its own statement with
``time.perf_counter`` (the interpreter's start, common to all, is left out) and also reports
the heavy modules it ended up with. Printed: the median and range per statement, and the ratios

- ``import isoanalytics`` / ``import pandas, httpx`` (goal <= 1.1: the package imports
  nothing heavy until a name is used), and
- first real use, ``from isoanalytics import RegistryClient, parse_balance``, /
  ``import pandas, httpx, numpy`` (goal <= 1.1: a client and a parser cost what their
  foundations cost, no chart, widget or notebook library on the way).

Bytecode is cached as for an installed package: the children run without
``PYTHONDONTWRITEBYTECODE`` (which this machine sets, and which makes every import of the
package compile its sources, about 100 ms), with a ``PYTHONPYCACHEPREFIX`` of their own
outside the tree, after one warm-up round that fills it.

``python -X importtime -c "from isoanalytics import RegistryClient, parse_balance"`` shows where
the time goes when a ratio moves.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

STATEMENTS = {
    "package": "import isoanalytics",
    "foundations": "import pandas, httpx",
    "first use": "from isoanalytics import RegistryClient, parse_balance",
    "foundations + numpy": "import pandas, httpx, numpy",
}
# The package's own share of the first use: timed after its foundations are loaded.
INCREMENT = ("import pandas, httpx, numpy",
             "from isoanalytics import RegistryClient, parse_balance")
RATIOS = (("package", "foundations", "import isoanalytics / import pandas, httpx"),
          ("first use", "foundations + numpy",
           "from isoanalytics import RegistryClient, parse_balance / import pandas, httpx, numpy"))
GOAL = 1.1
# Nothing of these belongs on the path of a client and a balance.
HEAVY = ("matplotlib", "ipywidgets", "IPython", "nbclient", "nbconvert", "nbformat", "tqdm",
         "jsonschema", "scipy")

CHILD = """
import sys, time, json
{before}
started = time.perf_counter()
{statement}
elapsed = time.perf_counter() - started
print(json.dumps({{"seconds": elapsed, "heavy": [name for name in {heavy!r} if name in sys.modules],
                  "modules": len(sys.modules)}}))
"""


def measure(statement: str, environment: dict[str, str], before: str = "") -> dict:
    """Run ``statement`` (after ``before``, untimed) in a new interpreter: its time, modules."""
    code = CHILD.format(before=before, statement=statement, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code],
                          capture_output=True, text=True, check=True, timeout=120,
                          env=environment)
    return json.loads(done.stdout)


def main(rounds: int = 15) -> None:
    results: dict[str, list[dict]] = {name: [] for name in STATEMENTS}
    with tempfile.TemporaryDirectory(prefix="isoanalytics-pycache-") as cache:
        environment = {name: value for name, value in os.environ.items()
                       if name != "PYTHONDONTWRITEBYTECODE"}
        environment["PYTHONPYCACHEPREFIX"] = cache
        for statement in STATEMENTS.values():  # warm-up: compiles and caches the bytecode
            measure(statement, environment)
        increments = []
        for _ in range(rounds):
            for name, statement in STATEMENTS.items():
                results[name].append(measure(statement, environment))
            increments.append(measure(INCREMENT[1], environment, before=INCREMENT[0]))
    medians, fastest = {}, {}
    print(f"{rounds} rounds, one fresh interpreter per statement per round; import time only "
          "(median, fastest-slowest)")
    for name, statement in STATEMENTS.items():
        times = [run["seconds"] * 1000 for run in results[name]]
        medians[name], fastest[name] = statistics.median(times), min(times)
        last = results[name][-1]
        print(f"  {statement:<58} {medians[name]:7.1f} ms "
              f"({min(times):.1f}-{max(times):.1f}), {last['modules']} modules"
              + (f", heavy: {', '.join(last['heavy'])}" if last["heavy"] else ""))
    own = [run["seconds"] * 1000 for run in increments]
    print(f"  the package's own part of the first use (after {INCREMENT[0]}): "
          f"{statistics.median(own):.1f} ms ({min(own):.1f}-{max(own):.1f})")
    for numerator, denominator, label in RATIOS:
        ratio = medians[numerator] / medians[denominator]
        best = fastest[numerator] / fastest[denominator]
        verdict = "met" if ratio <= GOAL else "MISSED"
        print(f"{label}: {ratio:.2f}x of medians, {best:.2f}x of the fastest runs "
              f"(goal <= {GOAL}: {verdict})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
