"""The export read back by pandas, DuckDB and Polars as the frames in memory, to the kilogram.

Round trips over the demo portfolio and over generated portfolios (hypothesis); the manifest
against ``credit_balance``; the folder refused before any work, replaced whole, or left as it
was; the command's messages and exit codes, pyarrow missing included.
"""

from __future__ import annotations

import errno
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import isoanalytics
from isoanalytics import RegistryClient, demo, stack_balances, summarize
from isoanalytics.analysis.holdings import holdings_as_of
from isoanalytics.cli import EXIT_MISSING_EXTRA, EXIT_USAGE, EXIT_WRITE_FAILED, main
from isoanalytics.present import export as export_module
from isoanalytics.present.datasets import DatasetPathError, MissingExtraError, parquet_engine
from isoanalytics.present.export import (
    MANIFEST,
    ORGANISATION_KEY,
    SCHEMA_VERSION,
    TABLES,
    Table,
    export_frames,
    read_manifest,
    write_export,
)

ROOT = Path(__file__).resolve().parent.parent
BUYERS = demo.registry().buyers
# The large buyer is left out of most runs: its claims alone take ~340 requests.
PORTFOLIO = [BUYERS["typical"], BUYERS["concentrated"], BUYERS["empty"],
             BUYERS["fully_retired"]]


def read_back(folder: Path, name: str, like: pd.DataFrame) -> pd.DataFrame:
    """pandas' read of one table, columns in the frame's order (the partition key comes last)."""
    return pd.read_parquet(folder / name)[list(like.columns)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    with RegistryClient.demo() as client:
        frames = export_frames(client, PORTFOLIO, as_of=demo.AS_OF)
    folder = isoanalytics.export(PORTFOLIO, tmp_path_factory.mktemp("e") / "out", demo=True,
                                 as_of=demo.AS_OF)
    return folder, frames


def test_every_table_reads_back_in_pandas_dtype_for_dtype(exported):
    folder, frames = exported
    assert sorted(frames) == sorted(table.name for table in TABLES)
    for name, frame in frames.items():
        back = read_back(folder, name, frame)
        pd.testing.assert_frame_equal(back, frame, check_exact=True, obj=name)
        for column in frame.columns:
            assert back[column].dtype == frame[column].dtype, (name, column)


def test_the_dtypes_are_those_promised(exported):
    _, frames = exported
    batches = frames["credit_batches"]
    assert batches["credit_kgs"].dtype == np.int64
    assert str(batches["issued_at"].dtype) == "datetime64[us, UTC]"
    assert isinstance(batches["status"].dtype, pd.CategoricalDtype)
    assert isinstance(frames["balances"][ORGANISATION_KEY].dtype, pd.CategoricalDtype)
    assert list(frames["balances"][ORGANISATION_KEY].cat.categories) == sorted(PORTFOLIO)


def test_the_files_keep_int64_utc_and_dictionary_columns(exported):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder, _ = exported
    schema = pq.read_schema(next((folder / "credit_batches").glob("*/part-0.parquet")))
    assert schema.field("credit_kgs").type == pa.int64()
    assert schema.field("issued_at").type == pa.timestamp("us", tz="UTC")
    assert pa.types.is_dictionary(schema.field("status").type)
    assert ORGANISATION_KEY not in schema.names  # in the folder names only (Spark)
    # One folder per organisation, the empty buyer's too (an empty file with the schema).
    assert sorted(path.name for path in (folder / "balances").iterdir()) == [
        f"{ORGANISATION_KEY}={organisation_id}" for organisation_id in sorted(PORTFOLIO)]


def test_manifest_totals_are_the_credit_balances(exported):
    folder, frames = exported
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["environment"] == "demo" and manifest["format"] == "parquet"
    assert manifest["package_version"] == isoanalytics.__version__
    assert manifest["as_of"].endswith("Z")
    assert pd.Timestamp(manifest["as_of"]).tzinfo is not None
    assert manifest["organisation_ids"] == sorted(PORTFOLIO)
    with RegistryClient.demo() as client:
        for organisation_id in PORTFOLIO:
            balance = client.credit_balance(organisation_id)
            for name in ("balances", "supplier_summaries", "project_summaries"):
                kgs = manifest["tables"][name]["by_organisation"][organisation_id]["kgs"]
                assert (kgs["active_kgs"], kgs["retired_kgs"], kgs["total_kgs"]) == (
                    balance.active_kgs, balance.retired_kgs, balance.total_kgs), name
            # An owner's claims add up to its retired credits (issue 14's rule).
            claimed = manifest["tables"]["claims"]["by_organisation"][organisation_id]["kgs"]
            assert claimed.get("credit_kgs", 0) == balance.retired_kgs
    for name, frame in frames.items():
        entry = manifest["tables"][name]
        assert entry["rows"] == len(frame) == len(read_back(folder, name, frame))
        if "by_organisation" in entry:
            assert sum(part["rows"] for part in entry["by_organisation"].values()) == len(frame)


def test_the_ledger_read_back_replays_to_each_credit_balance(exported):
    folder, _ = exported
    moves = pd.read_parquet(folder / "ledger")
    with RegistryClient.demo() as client:
        for organisation_id in PORTFOLIO:
            mine = moves[moves[ORGANISATION_KEY] == organisation_id]
            mine = mine.assign(**{ORGANISATION_KEY: mine[ORGANISATION_KEY].astype(str)})
            held = holdings_as_of(mine.reset_index(drop=True))
            balance = client.credit_balance(organisation_id)
            assert (held.active_kgs, held.retired_kgs) == (balance.active_kgs,
                                                           balance.retired_kgs)


def test_duckdb_reads_the_dataset_with_its_types_and_totals(exported):
    duckdb = pytest.importorskip("duckdb")
    folder, frames = exported
    manifest = read_manifest(folder)
    assert manifest is not None
    source = f"read_parquet('{folder}/balances/*/*.parquet', hive_partitioning = true)"
    totals = dict(duckdb.sql(
        f"SELECT organisation_id, sum(credit_kgs) FROM {source} "
        "WHERE level = 'organisation' GROUP BY ALL").fetchall())
    for organisation_id, entry in manifest["tables"]["balances"]["by_organisation"].items():
        assert totals.get(organisation_id, 0) == entry["kgs"]["total_kgs"]
    batches = f"read_parquet('{folder}/credit_batches/*/*.parquet', hive_partitioning = true)"
    types = {row[0]: row[1] for row in duckdb.sql(f"DESCRIBE SELECT * FROM {batches}").fetchall()}
    assert types["credit_kgs"] == "BIGINT"
    assert types["issued_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["organisation_id"] == "VARCHAR"
    # Row for row, DuckDB sees the frame pandas sees.
    back = duckdb.sql(f"SELECT id, organisation_id, credit_kgs, issued_at FROM {batches} "
                      "ORDER BY organisation_id, id").df()
    frame = frames["credit_batches"].sort_values([ORGANISATION_KEY, "id"])
    assert back["id"].tolist() == frame["id"].tolist()
    assert back["credit_kgs"].tolist() == frame["credit_kgs"].tolist()
    assert (back["issued_at"].dt.tz_convert("UTC").to_numpy()
            == frame["issued_at"].to_numpy()).all()


def test_polars_reads_the_dataset_with_the_same_totals(exported):
    polars = pytest.importorskip("polars")
    folder, frames = exported
    manifest = read_manifest(folder)
    assert manifest is not None
    for name in ("credit_batches", "orders", "supplier_summaries"):
        frame = polars.read_parquet(folder / name / "**" / "*.parquet", hive_partitioning=True)
        assert frame.height == len(frames[name])
        kgs = "credit_kgs" if name == "credit_batches" else (
            "ordered_kgs" if name == "orders" else "total_kgs")
        per = dict(frame.group_by(ORGANISATION_KEY).agg(polars.col(kgs).sum()).iter_rows())
        for organisation_id, entry in manifest["tables"][name]["by_organisation"].items():
            assert per.get(organisation_id, 0) == entry["kgs"][kgs]
        assert frame.schema[kgs] == polars.Int64


def test_csv_is_one_file_per_table_with_the_same_columns(tmp_path, exported):
    _, frames = exported
    folder = isoanalytics.export(PORTFOLIO, tmp_path / "csv", demo=True, format="csv",
                                 as_of=demo.AS_OF)
    manifest = read_manifest(folder)
    assert manifest is not None and manifest["format"] == "csv"
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [MANIFEST, *(f"{table.name}.csv" for table in TABLES)])
    for name, frame in frames.items():
        back = pd.read_csv(folder / f"{name}.csv")
        assert list(back.columns) == list(frame.columns)
        assert len(back) == len(frame) == manifest["tables"][name]["rows"]
        for column in frame.columns:
            if str(column).endswith("_kgs") and frame[column].dtype == np.int64:
                assert back[column].tolist() == frame[column].tolist(), (name, column)


# -- generated portfolios ---------------------------------------------------------------------

def _amount(kgs: int) -> dict:
    return {"credit_kgs": kgs, "credits": kgs / 1000}


def _body(entities: list[tuple[str, str, int, int]]) -> dict:
    lists: dict[str, list] = {"project_balances": [], "supplier_balances": []}
    for level, entity_id, active, retired in entities:
        lists[f"{level}_balances"].append({f"{level}_id": entity_id, "total": {
            "active_credits_total": _amount(active), "retired_credits_total": _amount(retired)}})
    suppliers = [entry for entry in entities if entry[0] == "supplier"]
    return {"total": {"active_credits_total": _amount(sum(e[2] for e in suppliers)),
                      "retired_credits_total": _amount(sum(e[3] for e in suppliers))}, **lists}


KGS = st.integers(0, 2**53 + 12_345)  # past float64's exact range: int64 must stay exact
ENTITY = st.tuples(st.sampled_from(["project", "supplier"]),
                   st.integers(0, 30).map(lambda n: f"{n:016d}"), KGS, KGS)
PORTFOLIOS = st.dictionaries(
    st.integers(0, 10**6).map(lambda n: f"org_{n:016d}"),
    st.lists(ENTITY, max_size=8, unique_by=lambda e: (e[0], e[1])), min_size=1, max_size=5)


def _generated_frames(portfolio: dict[str, list]) -> dict[str, pd.DataFrame]:
    prefix = {"project": "prj", "supplier": "spl"}
    bodies = {organisation_id: _body([(level, f"{prefix[level]}_{entity_id}", active, retired)
                                      for level, entity_id, active, retired in entities])
              for organisation_id, entities in portfolio.items()}
    balances = stack_balances(bodies)
    summaries = pd.concat([
        summarize(balances[balances[ORGANISATION_KEY] == organisation_id], by="supplier")
        .reset_index().assign(**{ORGANISATION_KEY: organisation_id})
        for organisation_id in bodies], ignore_index=True)
    rng = np.random.default_rng(len(balances))
    moves = pd.DataFrame({
        ORGANISATION_KEY: balances[ORGANISATION_KEY],
        "at": pd.to_datetime(rng.integers(0, 2**50, len(balances)), unit="us", utc=True),
        "event": pd.Categorical(rng.choice(["delivered", "retired"], len(balances)),
                                categories=["delivered", "transferred_in", "retired"]),
        "credit_kgs": balances["credit_kgs"],
        "vintage": pd.array([None if kgs % 3 == 0 else 2000 + kgs % 20
                             for kgs in balances["credit_kgs"]], dtype="Int64"),
    })
    return {"balances": balances, "supplier_summaries": summaries, "ledger": moves}


GENERATED_TABLES = [
    Table("balances", lambda sources: pd.DataFrame(), ORGANISATION_KEY, "generated",
          next(table.totals for table in TABLES if table.name == "balances")),
    Table("supplier_summaries", lambda sources: pd.DataFrame(), ORGANISATION_KEY, "generated"),
    Table("ledger", lambda sources: pd.DataFrame(), ORGANISATION_KEY, "generated"),
]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(portfolio=PORTFOLIOS)
def test_generated_portfolios_round_trip_kilogram_for_kilogram(tmp_path_factory, portfolio):
    frames = _generated_frames(portfolio)
    ids = sorted(portfolio)
    folder = write_export(frames, tmp_path_factory.mktemp("g") / "out", tables=GENERATED_TABLES,
                          organisation_ids=ids)
    manifest = read_manifest(folder)
    assert manifest is not None
    for name, frame in frames.items():
        keyed = frame.assign(**{ORGANISATION_KEY: frame[ORGANISATION_KEY].astype(
            pd.CategoricalDtype(ids))})
        keyed = keyed.iloc[np.argsort(keyed[ORGANISATION_KEY].cat.codes, kind="stable")]
        keyed = keyed.reset_index(drop=True)
        back = read_back(folder, name, keyed)
        pd.testing.assert_frame_equal(back, keyed, check_exact=True, obj=name)
    for organisation_id, entities in portfolio.items():
        kgs = manifest["tables"]["balances"]["by_organisation"][organisation_id]["kgs"]
        suppliers = [entity for entity in entities if entity[0] == "supplier"]
        assert kgs["active_kgs"] == sum(entity[2] for entity in suppliers)
        assert kgs["retired_kgs"] == sum(entity[3] for entity in suppliers)


def test_a_row_outside_the_organisations_is_refused_not_left_out(tmp_path):
    frame = pd.DataFrame({ORGANISATION_KEY: ["org_1GB56M1ST1S0GVNA", "org_1GB56M1ST1S0GVNB"],
                          "credit_kgs": [1, 2]})
    table = Table("t", lambda sources: frame, ORGANISATION_KEY, "test")
    with pytest.raises(ValueError, match="outside the organisations exported"):
        write_export({"t": frame}, tmp_path / "out", tables=[table],
                     organisation_ids=["org_1GB56M1ST1S0GVNA"])
    assert list(tmp_path.iterdir()) == []


# -- the folder ---------------------------------------------------------------------------------

def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["export", "--demo", *args], out=out), out.getvalue()


def test_a_folder_of_other_files_or_a_file_is_refused_before_any_work(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep me")
    code, said = run("-o", str(mine))
    error = capsys.readouterr().err
    assert code == EXIT_USAGE and said == "" and "Traceback" not in error
    assert "holds other files" in error and "usage: isoanalytics export" in error
    assert [path.name for path in mine.iterdir()] == ["thesis.tex"]
    (tmp_path / "file").write_text("x")
    assert run("-o", str(tmp_path / "file"))[0] == EXIT_USAGE
    assert "is a file, not a folder" in capsys.readouterr().err
    assert run("-o", str(tmp_path / "no" / "such"))[0] == EXIT_USAGE
    assert "does not exist" in capsys.readouterr().err
    assert run("-o", "-")[0] == EXIT_USAGE
    assert "standard output cannot take" in capsys.readouterr().err
    with pytest.raises(DatasetPathError, match="holds other files"):
        isoanalytics.export(output=mine, demo=True)


def test_a_previous_export_is_replaced_whole(tmp_path):
    folder = isoanalytics.export(BUYERS["concentrated"], tmp_path / "out", demo=True)
    (folder / "stale.txt").write_text("from the last run")
    isoanalytics.export(BUYERS["typical"], tmp_path / "out", demo=True)
    manifest = read_manifest(folder)
    assert manifest is not None and manifest["organisation_ids"] == [BUYERS["typical"]]
    assert not (folder / "stale.txt").exists()
    assert [path.name for path in tmp_path.iterdir()] == ["out"]  # no temporary left


def test_a_failed_read_leaves_the_previous_export(tmp_path, monkeypatch):
    folder = isoanalytics.export(BUYERS["concentrated"], tmp_path / "out", demo=True)
    before = sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))

    def broken(sources):
        raise isoanalytics.ServerError("boom", status_code=500)

    monkeypatch.setattr(export_module, "TABLES",
                        (*TABLES[:3], Table("broken", broken, None, "fails"), *TABLES[3:]))
    with pytest.raises(isoanalytics.ServerError):
        isoanalytics.export(BUYERS["typical"], tmp_path / "out", demo=True)
    assert sorted(str(path.relative_to(folder)) for path in folder.rglob("*")) == before
    assert read_manifest(folder)["organisation_ids"] == [BUYERS["concentrated"]]
    assert [path.name for path in tmp_path.iterdir()] == ["out"]


def test_a_full_disk_keeps_the_previous_export(tmp_path, monkeypatch, capsys):
    folder = isoanalytics.export(BUYERS["concentrated"], tmp_path / "out", demo=True)
    calls = []

    def fill_up(frame, root, *, partition_by=None):
        calls.append(root.name)
        if len(calls) == 4:  # some tables are written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(frame, root, partition_by=partition_by)

    real = export_module.write_parquet
    monkeypatch.setattr(export_module, "write_parquet", fill_up)
    code, said = run("--org", BUYERS["typical"], "-o", str(folder))
    error = capsys.readouterr().err
    assert code == EXIT_WRITE_FAILED and said == "" and "Traceback" not in error
    assert "the disk is full" in error and "left as it was" in error
    assert read_manifest(folder)["organisation_ids"] == [BUYERS["concentrated"]]
    assert [path.name for path in tmp_path.iterdir()] == ["out"]


WITHOUT_PYARROW = """
import sys
sys.modules["pyarrow"] = None  # as if not installed: pandas too runs without it
from isoanalytics.cli import main
sys.exit(main(sys.argv[1:]))
"""


def without_pyarrow(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_PYARROW, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)


def test_without_pyarrow_the_command_names_the_extra(tmp_path):
    # In a process of its own: pandas loads pyarrow once and cannot do without it after.
    done = without_pyarrow(tmp_path, "export", "--demo", "-o", str(tmp_path / "out"))
    assert done.returncode == EXIT_MISSING_EXTRA and done.stdout == "", done.stderr
    assert "Traceback" not in done.stderr
    assert "pip install 'isoanalytics[export]'" in done.stderr
    assert list(tmp_path.iterdir()) == []
    done = without_pyarrow(tmp_path, "snapshot", "--demo", "--store", str(tmp_path / "store"))
    assert done.returncode == EXIT_MISSING_EXTRA and "isoanalytics[export]" in done.stderr
    assert list(tmp_path.iterdir()) == []
    # CSV needs nothing more.
    done = without_pyarrow(tmp_path, "export", "--demo", "-o", str(tmp_path / "csv"),
                           "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "csv" / "balances.csv").is_file()


def test_missing_extra_error_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.split(".")[0] == "pyarrow":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(MissingExtraError) as raised:
        parquet_engine()
    assert raised.value.extra == "export" and "isoanalytics[export]" in str(raised.value)


def test_the_command_says_what_it_wrote(tmp_path):
    code, said = run("--org", BUYERS["typical"], "-o", str(tmp_path / "out"))
    assert code == 0
    assert f"Wrote {tmp_path / 'out'}: {len(TABLES)} tables" in said
    assert "read_parquet(" in said and "DEMO DATA" in said
