"""Benchmark: the Parquet export and the snapshot store, and the engine that writes them.

Side by side in one run, on a synthetic ledger of 1,000,000 movements of 100 organisations
(the columns of ``records.movements.LEDGER_COLUMNS``):

1. writing it: our export (``write_export``: pyarrow, hive-partitioned by organisation, with
   the manifest's exact totals) against ``DataFrame.to_parquet`` of the same frame (one file),
   and DuckDB writing Parquet itself (``COPY ... PARTITION_BY``), the other engine considered;
2. reading it back: ``pd.read_parquet`` of each, whether every dtype came back, and DuckDB's
   ``read_parquet(..., hive_partitioning = true)`` of ours;
3. a store of 365 daily snapshots of 100 organisations (``append_snapshot``, one file each),
   ``history()`` of it, and DuckDB's query for a yearly per-supplier total over the store.

Prints medians. Needs pyarrow and duckdb (``pip install 'isoanalytics[test]'``).

Run: ``python -m tests.benchmarks.bench_export [--rows N] [--days N] [--repeat N]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from isoanalytics.present.export import ORGANISATION_KEY, Table, write_export
from isoanalytics.present.snapshots import append_snapshot, history
from isoanalytics.records.balance import stack_balances
from isoanalytics.records.movements import EVENTS, LEDGER_COLUMNS

ORGANISATIONS = 100
SUPPLIERS = 40
PROJECTS = 200


def ids(prefix: str, count: int, width: int = 16) -> list[str]:
    return [f"{prefix}_{index:0{width}d}" for index in range(count)]


def ledger(rows: int, seed: int = 16) -> pd.DataFrame:
    """A synthetic ledger in the export's shape: key first, a categorical, rows by key."""
    rng = np.random.default_rng(seed)
    organisations = ids("org", ORGANISATIONS)
    start = np.datetime64("2021-01-01T00:00:00", "us").astype(np.int64)
    at = np.sort(start + rng.integers(0, 5 * 365 * 86_400 * 1_000_000, rows))
    organisation = np.sort(rng.integers(0, ORGANISATIONS, rows))
    supplier = rng.integers(0, SUPPLIERS, rows)

    def text(prefix: str, count: int, missing: float = 0.0) -> pd.Series:
        values = pd.Series(np.array(ids(prefix, count), dtype=object)[rng.integers(0, count, rows)])
        if missing:
            values[rng.random(rows) < missing] = None
        return values.astype(pd.Series(["x"]).dtype)

    vintage = pd.array(rng.integers(2018, 2026, rows), dtype="Int64")
    vintage[rng.random(rows) < 0.1] = pd.NA
    frame = pd.DataFrame({
        "organisation_id": pd.Categorical.from_codes(organisation, organisations),
        "at": pd.to_datetime(at, unit="us").tz_localize("UTC"),
        "event": pd.Categorical.from_codes(rng.integers(0, len(EVENTS), rows), EVENTS),
        "credit_kgs": rng.integers(1, 50_000_000, rows, dtype=np.int64),
        "credit_batch_id": text("cbt", rows // 2),
        "project_id": text("prj", PROJECTS),
        "supplier_id": pd.Series(np.array(ids("spl", SUPPLIERS), dtype=object)[supplier])
        .astype(pd.Series(["x"]).dtype),
        "vintage": vintage,
        "order_id": text("ord", 5_000, 0.5),
        "delivery_id": text("dlv", 20_000, 0.5),
        "transfer_id": text("trf", 1_000, 0.9),
        "retirement_id": text("ret", 5_000, 0.8),
        "refund_id": text("rfd", 100, 0.99),
        "counterparty_id": text("org", 500, 0.8),
    })
    return frame[list(LEDGER_COLUMNS)]


def median_s(function: Callable[[], object], repeat: int, *,
             setup: Callable[[], object] = lambda: None) -> float:
    times = []
    for _ in range(repeat):
        setup()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def same_dtypes(back: pd.DataFrame, frame: pd.DataFrame) -> str:
    kept = [column for column in frame.columns
            if column in back.columns and back[column].dtype == frame[column].dtype]
    lost = [f"{column} {frame[column].dtype} -> {back[column].dtype}"
            for column in frame.columns if column not in kept and column in back.columns]
    return f"{len(kept)}/{len(frame.columns)} dtypes kept" + (f" (lost: {'; '.join(lost)})"
                                                             if lost else "")


def totals(active: int | np.integer, retired: int | np.integer) -> dict:
    return {f"{status}_credits_total": {"credit_kgs": int(kgs), "credits": int(kgs) / 1000}
            for status, kgs in (("active", active), ("retired", retired))}


def balances(day: int, rng: np.random.Generator) -> pd.DataFrame:
    """One day's balances of 100 organisations (5 suppliers and 8 projects each)."""
    bodies = []
    for index, organisation_id in enumerate(ids("org", ORGANISATIONS)):
        supplier_kgs = rng.integers(1_000, 5_000_000, 5) + day * 1_000
        retired = supplier_kgs // 3 + day * 100
        project_kgs = np.repeat(supplier_kgs // 2, 2)[:8]
        def entry(key: str, entity_id: str, active: int, retired: int) -> dict:
            return {key: entity_id, "total": totals(active, retired)}

        body = {
            "total": totals(supplier_kgs.sum(), retired.sum()),
            "supplier_balances": [
                entry("supplier_id", f"spl_{(index + k) % SUPPLIERS:016d}", kgs, out)
                for k, (kgs, out) in enumerate(zip(supplier_kgs, retired, strict=True))],
            # projects hold only part of it here: a store does not check a balance adds up
            "project_balances": [
                entry("project_id", f"prj_{(index + k) % PROJECTS:016d}", kgs, 0)
                for k, kgs in enumerate(project_kgs)],
        }
        bodies.append((organisation_id, body))
    return stack_balances(bodies)


YEARLY_PER_SUPPLIER = """
WITH rows AS (
    SELECT * FROM read_parquet('{store}/*/*.parquet', hive_partitioning = true)
    WHERE level = 'supplier'),
last AS (  -- each organisation's last snapshot of each year
    SELECT organisation_id, max(snapshot_at) AS snapshot_at FROM rows
    GROUP BY organisation_id, year(snapshot_at))
SELECT year(snapshot_at) AS year, entity_id AS supplier_id, status, sum(credit_kgs) AS kgs
FROM rows JOIN last USING (organisation_id, snapshot_at)
GROUP BY ALL ORDER BY ALL
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import duckdb
    import pyarrow

    frame = ledger(args.rows)
    table = Table("ledger", lambda sources: frame, ORGANISATION_KEY, "synthetic ledger")
    organisations = ids("org", ORGANISATIONS)
    print(f"ledger: {len(frame):,} rows x {len(frame.columns)} columns, {ORGANISATIONS} "
          f"organisations, {frame.memory_usage(deep=True).sum() / 1e6:.0f} MB in memory; "
          f"pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}, pandas {pd.__version__}")
    with tempfile.TemporaryDirectory(prefix="bench-export-") as scratch:
        root = Path(scratch)
        ours, single, by_duckdb, single_duckdb = (root / "ours", root / "single.parquet",
                                                  root / "duckdb", root / "duckdb.parquet")

        def clear(*paths: Path) -> Callable[[], None]:
            def remove() -> None:
                for path in paths:
                    shutil.rmtree(path, ignore_errors=True)
                    path.unlink(missing_ok=True)
            return remove

        connection = duckdb.connect()
        connection.register("ledger_frame", frame)
        timings = {
            "isoanalytics write_export (pyarrow, 100 partitions + manifest)": median_s(
                lambda: write_export({"ledger": frame}, ours, tables=[table],
                                     organisation_ids=organisations), args.repeat),
            "DataFrame.to_parquet (pyarrow, one file)": median_s(
                lambda: frame.to_parquet(single, index=False), args.repeat,
                setup=clear(single)),
            "DuckDB COPY ... PARTITION_BY organisation_id": median_s(
                lambda: connection.execute(
                    f"COPY ledger_frame TO '{by_duckdb}' "
                    "(FORMAT parquet, PARTITION_BY (organisation_id))"), args.repeat,
                setup=clear(by_duckdb)),
            "DuckDB COPY ... (one file)": median_s(
                lambda: connection.execute(f"COPY ledger_frame TO '{single_duckdb}' "
                                           "(FORMAT parquet)"), args.repeat,
                setup=clear(single_duckdb)),
        }
        width = max(map(len, timings))
        print("\nwriting the ledger (median of", args.repeat, "runs)")
        for name, seconds in timings.items():
            print(f"  {name:<{width}}  {seconds:6.2f} s")
        ratio = timings[next(iter(timings))] / timings["DataFrame.to_parquet (pyarrow, one file)"]
        print(f"  ours / DataFrame.to_parquet: {ratio:.2f}")

        def size(path: Path) -> float:
            files = [path] if path.is_file() else list(path.rglob("*.parquet"))
            return sum(file.stat().st_size for file in files) / 1e6

        print("\nreading it back")
        reads = {
            "pd.read_parquet(ours)": ours / "ledger",
            "pd.read_parquet(to_parquet's file)": single,
            "pd.read_parquet(DuckDB's partitions)": by_duckdb,
        }
        for name, path in reads.items():
            seconds = median_s(lambda path=path: pd.read_parquet(path), args.repeat)
            back = pd.read_parquet(path)
            print(f"  {name:<{width}}  {seconds:6.2f} s  {size(path):5.0f} MB on disk  "
                  f"{same_dtypes(back, frame)}")
        query = (f"SELECT organisation_id, sum(credit_kgs) FROM read_parquet("
                 f"'{ours / 'ledger'}/*/*.parquet', hive_partitioning = true) GROUP BY ALL")
        seconds = median_s(lambda: connection.execute(query).fetchall(), args.repeat)
        print(f"  {'DuckDB: kg per organisation over ours':<{width}}  {seconds:6.2f} s")

        store = root / "store"
        rng = np.random.default_rng(365)
        days = [balances(day, rng) for day in range(args.days)]
        start = pd.Timestamp("2025-01-01T06:00:00", tz="UTC")
        began = time.perf_counter()
        for day, held in enumerate(days):
            append_snapshot(store, held, at=start + pd.Timedelta(days=day))
        written = time.perf_counter() - began
        rows = sum(map(len, days))
        print(f"\nthe store: {args.days} daily snapshots of {ORGANISATIONS} organisations, "
              f"{rows:,} rows, {size(store):.1f} MB")
        print(f"  {'append_snapshot, all of them':<{width}}  {written:6.2f} s "
              f"({written / args.days * 1000:.1f} ms a snapshot)")
        seconds = median_s(lambda: history(store), args.repeat)
        print(f"  {'history(store)':<{width}}  {seconds:6.2f} s")
        sql = YEARLY_PER_SUPPLIER.format(store=store)
        seconds = median_s(lambda: connection.execute(sql).fetchall(), args.repeat)
        answer = connection.execute(sql).fetchall()
        print(f"  {'DuckDB: yearly per-supplier total':<{width}}  {seconds:6.2f} s "
              f"({len(answer)} rows)")


if __name__ == "__main__":
    main()
