"""Benchmark: the explorer's update time on a 1,000-supplier portfolio, and nbval's wall time.

Builds a synthetic portfolio (10 organisations sharing 1,000 suppliers and 3,000 projects, with
a project table for pathway and country), opens the explorer on it, and changes every control
the way a user does, timing each change from the assignment to the redrawn chart, table and
figures (the observers run synchronously, so the assignment returns when all three are set).
Prints the median per control and over all changes against the 150 ms goal, then runs nbval
over every notebook (strict, as in the default test run) and prints its wall time.

Run: ``python -m tests.benchmarks.bench_explorer [--suppliers N] [--rounds N] [--no-nbval]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

import isoanalytics as ia
from isoanalytics.present.widgets import ALL, explorer

REPO = Path(__file__).resolve().parents[2]
GOAL_MS = 150.0
PATHWAYS = ["biochar", "enhanced_weathering", "marine", "direct_air_capture",
            "biomass_carbon_removal_and_storage"]


def _quantity(kgs: int) -> dict:
    return {"credit_kgs": kgs, "credits": round(kgs / 1000, 3)}


def _total(active: int, retired: int) -> dict:
    return {"active_credits_total": _quantity(active), "retired_credits_total": _quantity(retired)}


def portfolio(organisations: int, suppliers: int, projects_per_supplier: int,
              seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stacked tidy frame and a project table; every organisation holds a random subset."""
    rng = random.Random(seed)
    supplier_ids = [f"spl_1{number:015X}" for number in range(suppliers)]
    project_rows = [
        {"id": f"prj_1{number:015X}", "name": f"Project {number}",
         "supplier_id": supplier_ids[number // projects_per_supplier],
         "supplier_name": f"Supplier {number // projects_per_supplier}",
         "pathway": rng.choice(PATHWAYS), "country_code": f"C{rng.randrange(30):02d}",
         "country_name": f"Country {rng.randrange(30)}"}
        for number in range(suppliers * projects_per_supplier)
    ]
    projects = pd.DataFrame(project_rows)
    # One name per country code, as in the registry.
    projects["country_name"] = "Country " + projects["country_code"].str[1:]
    balances = {}
    for org in range(organisations):
        held = rng.sample(project_rows, k=len(project_rows) * 3 // 5)
        project_kgs = {row["id"]: (rng.randrange(0, 2_000_000), rng.randrange(0, 2_000_000))
                       for row in held}
        supplier_kgs: dict[str, list[int]] = {}
        for row in held:
            active, retired = project_kgs[row["id"]]
            totals = supplier_kgs.setdefault(row["supplier_id"], [0, 0])
            totals[0] += active
            totals[1] += retired
        body = {
            "project_balances": [{"project_id": pid, "total": _total(*kgs)}
                                 for pid, kgs in project_kgs.items()],
            "supplier_balances": [{"supplier_id": sid, "total": _total(*kgs)}
                                  for sid, kgs in supplier_kgs.items()],
            "order_balances": [],
            "total": _total(sum(a for a, _ in project_kgs.values()),
                            sum(r for _, r in project_kgs.values())),
        }
        balances[f"org_1{org:015X}"] = body
    return ia.stack_balances(balances), projects


def changes(organisation_ids: list[str], entities: int) -> list[tuple[str, object]]:
    """A user's session: every control, each value more than once, in an interleaved order."""
    sequence: list[tuple[str, object]] = []
    for org in [*organisation_ids[:3], ALL]:
        sequence.append(("organisation", org))
        for dimension in ("project", "pathway", "country", "supplier"):
            sequence.append(("dimension", dimension))
        for top in (5, 20, min(50, entities), 10):
            sequence.append(("top", top))
        for status in ("active", "retired", "total"):
            sequence.append(("status", status))
        for units in ("kg", "tCO2e"):
            sequence.append(("units", units))
    return sequence


def time_explorer(frame: pd.DataFrame, projects: pd.DataFrame, rounds: int) -> None:
    started = time.perf_counter()
    app = explorer(frame, projects=projects)
    built_ms = (time.perf_counter() - started) * 1000
    organisation_ids = list(pd.unique(frame["organisation_id"]))
    suppliers = frame.loc[frame["level"] == "supplier", "entity_id"].nunique()
    projects_held = frame.loc[frame["level"] == "project", "entity_id"].nunique()
    print(f"explorer on a {suppliers:,}-supplier portfolio: {len(organisation_ids)} organisations, "
          f"{projects_held:,} projects, {len(frame):,} tidy rows")
    print(f"  build, first draw included: {built_ms:.0f} ms")
    timings: dict[str, list[float]] = {}
    first_time: list[float] = []
    for round_number in range(rounds):
        for control, value in changes(organisation_ids, suppliers):
            widget = getattr(app, control)
            if widget.value == value:
                continue
            cached = (app.organisation.value if control != "organisation" else value,
                      app.dimension.value if control != "dimension" else value) in app._breakdowns
            started = time.perf_counter()
            widget.value = value
            elapsed = (time.perf_counter() - started) * 1000
            timings.setdefault(control, []).append(elapsed)
            if round_number == 0 and not cached:
                first_time.append(elapsed)
    every = [value for values in timings.values() for value in values]
    print(f"  update time, median per control ({rounds} rounds):")
    for control, values in timings.items():
        print(f"    {control:<13} {statistics.median(values):6.1f} ms  "
              f"(n={len(values)}, max {max(values):.1f} ms)")
    if first_time:
        print(f"    first view of an organisation x dimension (breakdown computed): "
              f"median {statistics.median(first_time):.1f} ms (n={len(first_time)})")
    median = statistics.median(every)
    print(f"  median update, all {len(every)} changes: {median:.1f} ms; "
          f"median / goal ({GOAL_MS:.0f} ms) = {median / GOAL_MS:.2f} "
          f"({'met' if median <= GOAL_MS else 'NOT met'})")


def time_nbval() -> None:
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "notebooks"],
        cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr
    print(f"nbval (strict), all {len(notebooks)} notebooks: {elapsed:.1f} s wall ({last})")
    if result.returncode != 0:
        print(result.stdout[-3000:], file=sys.stderr)
        raise SystemExit(result.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organisations", type=int, default=10)
    parser.add_argument("--suppliers", type=int, default=1000)
    parser.add_argument("--projects-per-supplier", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-nbval", action="store_true", help="skip the notebooks' timing")
    args = parser.parse_args()
    frame, projects = portfolio(args.organisations, args.suppliers, args.projects_per_supplier)
    time_explorer(frame, projects, args.rounds)
    if not args.no_nbval:
        time_nbval()


if __name__ == "__main__":
    main()
