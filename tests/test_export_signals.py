"""SIGINT and SIGKILL at several moments of an export or a snapshot, sent to real processes.

Each run waits for a moment it can see: a marker file that a stand-in, put in place of one step
inside the process, writes before pausing there (reading the registry, halfway through the
tables, before the finished folder is put in place, after it is swapped in, halfway through a
snapshot file). Whatever the moment, the folder must hold one whole export (the previous one,
or the new one once it was swapped in) and the store every earlier snapshot whole, readable by
pandas and DuckDB; Ctrl-C must also exit 130 with one line and no traceback, and leave no
temporary file behind. Two processes appending to one store at once lose nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from isoanalytics import demo, history
from isoanalytics.present.export import read_manifest
from isoanalytics.present.snapshots import append_snapshot

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals to a process are POSIX")

pytest.importorskip("pyarrow")
ROOT = Path(__file__).resolve().parent.parent
BUYERS = demo.registry().buyers
PREVIOUS, NEW = BUYERS["concentrated"], BUYERS["typical"]
WAIT = 120  # seconds: an upper bound for a moment to be reached, never a measured time

# Runs in the child: puts a pausing stand-in in place of one step, then runs the command.
DRIVER = r"""
import pathlib, sys, time
marker = pathlib.Path(sys.argv[1]); stage = sys.argv[2]; argv = sys.argv[3:]

def pause(name):
    marker.write_text(name)
    time.sleep(600)

from isoanalytics.present import datasets, export
if stage == "reading":
    real_frames = export.export_frames
    def export_frames(*args, **kwargs):
        pause(stage)
    export.export_frames = export_frames
elif stage == "writing":
    real_write = export.write_parquet
    written = []
    def write_parquet(frame, root, **kwargs):
        written.append(root)
        if len(written) == 4:
            pause(stage)
        return real_write(frame, root, **kwargs)
    export.write_parquet = write_parquet
elif stage == "publishing":
    def publish_folder(finished, target):
        pause(stage)
    export.publish_folder = publish_folder
elif stage == "swapped":
    import shutil, types
    def rmtree(path, **kwargs):  # the old export is now at the temporary name
        pause(stage)
    datasets.shutil = types.SimpleNamespace(rmtree=rmtree)
elif stage in ("half-file", "whole-file"):
    import os, pyarrow.parquet as parquet
    real_table = parquet.write_table
    def write_table(table, where, **kwargs):
        real_table(table, where, **kwargs)
        if stage == "half-file":
            os.truncate(where, os.path.getsize(where) // 2)
        pause(stage)
    parquet.write_table = write_table
from isoanalytics.cli import main
sys.exit(main(argv))
"""


def child(tmp_path: Path, stage: str, *argv: str) -> tuple[subprocess.Popen, Path]:
    marker = tmp_path / f"marker-{stage}"
    process = subprocess.Popen([sys.executable, "-c", DRIVER, str(marker), stage, *argv],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    return process, marker


def reach(process: subprocess.Popen, marker: Path) -> None:
    deadline = time.monotonic() + WAIT
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(f"the child ended before the moment: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the child never reached {marker.name}")
        time.sleep(0.02)


def stop(process: subprocess.Popen, how: int) -> tuple[int, str]:
    process.send_signal(how)
    _, error = process.communicate(timeout=WAIT)
    return process.returncode, error


def whole_export(folder: Path) -> list[str]:
    """The export's organisations, after checking every table has the rows its manifest says."""
    manifest = read_manifest(folder)
    assert manifest is not None, sorted(path.name for path in folder.iterdir())
    for name, entry in manifest["tables"].items():
        assert len(pd.read_parquet(folder / entry["path"])) == entry["rows"], name
    return manifest["organisation_ids"]


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


@pytest.fixture
def previous(tmp_path) -> Path:
    from isoanalytics import export

    return export(PREVIOUS, tmp_path / "out", demo=True)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
@pytest.mark.parametrize("stage", ["reading", "writing", "publishing"])
def test_an_interrupted_export_leaves_the_previous_one_whole(tmp_path, previous, stage, how):
    process, marker = child(tmp_path, stage, "export", "--demo", "--org", NEW, "-o",
                            str(previous))
    reach(process, marker)
    code, error = stop(process, how)
    assert whole_export(previous) == [PREVIOUS]
    if how == signal.SIGINT:
        assert code == 130 and "Traceback" not in error, error
        assert error.strip() == ("isoanalytics export: interrupted; the previous export in it "
                                 "was left as it was")
        assert leftovers(tmp_path) == []  # the temporary folder went with the interrupt
    else:
        assert code == -signal.SIGKILL


def test_an_export_killed_once_swapped_in_is_the_new_one_whole(tmp_path, previous):
    process, marker = child(tmp_path, "swapped", "export", "--demo", "--org", NEW, "-o",
                            str(previous))
    reach(process, marker)
    assert stop(process, signal.SIGKILL)[0] == -signal.SIGKILL
    assert whole_export(previous) == [NEW]
    # The previous export, under a hidden name beside it, is the only thing left behind.
    assert all(name.startswith(".isoanalytics-export-") for name in leftovers(tmp_path))


def test_an_interrupted_first_export_writes_nothing(tmp_path):
    target = tmp_path / "out"
    process, marker = child(tmp_path, "publishing", "export", "--demo", "-o", str(target))
    reach(process, marker)
    code, error = stop(process, signal.SIGINT)
    assert code == 130 and error.strip() == "isoanalytics export: interrupted; nothing was written"
    assert sorted(path.name for path in tmp_path.iterdir()) == [marker.name]


def _store_with_two(tmp_path: Path) -> tuple[Path, int]:
    from isoanalytics import RegistryClient

    store = tmp_path / "store"
    with RegistryClient.demo() as client:
        held = {NEW: client.credit_balance(NEW)}
    for day in ("2025-01-01", "2025-01-02"):
        append_snapshot(store, held, at=day)
    return store, len(history(store))


def _store_files(store: Path) -> list[Path]:
    return sorted(store.glob("*/*"))


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
@pytest.mark.parametrize("stage", ["half-file", "whole-file"])
def test_an_interrupted_snapshot_leaves_no_partial_file(tmp_path, stage, how):
    duckdb = pytest.importorskip("duckdb")
    store, rows = _store_with_two(tmp_path)
    process, marker = child(tmp_path, stage, "snapshot", "--demo", "--org", NEW, "--store",
                            str(store))
    reach(process, marker)
    code, error = stop(process, how)
    kept = history(store)
    assert len(kept) == rows and kept["snapshot_id"].nunique() == 2
    visible = [path for path in _store_files(store) if not path.name.startswith(".")]
    assert len(visible) == 2 and all(path.suffix == ".parquet" for path in visible)
    count = duckdb.sql(f"SELECT count(*) FROM read_parquet('{store}/*/*.parquet', "
                       "hive_partitioning = true)").fetchall()
    assert count == [(rows,)]
    hidden = [path.name for path in _store_files(store) if path.name.startswith(".")]
    if how == signal.SIGINT:
        assert code == 130 and "Traceback" not in error, error
        assert error.strip() == "isoanalytics snapshot: interrupted; no snapshot was written"
        assert hidden == []
    else:  # a killed writer may leave its hidden temporary: no reader sees it
        assert all(name.endswith(".part") for name in hidden)


APPENDER = r"""
import os, pathlib, sys, time
from isoanalytics import RegistryClient, demo
from isoanalytics.present.snapshots import append_snapshot
store, go, count = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])
with RegistryClient.demo() as client:
    held = {org: client.credit_balance(org) for org in sys.argv[4:]}
pathlib.Path(f"{go}.ready-{os.getpid()}").touch()
while not go.exists():
    time.sleep(0.005)
for _ in range(count):
    append_snapshot(store, held)
"""


def test_two_processes_appending_at_once_lose_nothing(tmp_path):
    store, go = tmp_path / "store", tmp_path / "go"
    organisations = [NEW, BUYERS["concentrated"]]
    processes = [subprocess.Popen([sys.executable, "-c", APPENDER, str(store), str(go), "12",
                                   *organisations], cwd=ROOT, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    deadline = time.monotonic() + WAIT
    while len(list(tmp_path.glob("go.ready-*"))) < 2:  # both ready: then both start at once
        assert all(process.poll() is None for process in processes)
        assert time.monotonic() < deadline
        time.sleep(0.01)
    go.touch()
    for process in processes:
        _, error = process.communicate(timeout=WAIT)
        assert process.returncode == 0, error
    kept = history(store)
    sizes = kept.groupby("snapshot_id").size()
    assert len(sizes) == 24
    from isoanalytics import RegistryClient, stack_balances

    with RegistryClient.demo() as client:
        one = stack_balances([(org, client.credit_balance(org)) for org in organisations])
    assert set(sizes) == {len(one)}  # every snapshot whole
    assert not [path for path in _store_files(store) if path.name.startswith(".")]


KILLED_LOOP = r"""
import pathlib, sys
from isoanalytics import RegistryClient
from isoanalytics.present.snapshots import append_snapshot
with RegistryClient.demo() as client:
    held = {sys.argv[2]: client.credit_balance(sys.argv[2])}
while True:
    append_snapshot(pathlib.Path(sys.argv[1]), held)
"""


@pytest.mark.parametrize("after", [1, 5, 20])
def test_a_writer_killed_at_any_moment_leaves_a_readable_store(tmp_path, after):
    store = tmp_path / "store"
    process = subprocess.Popen([sys.executable, "-c", KILLED_LOOP, str(store), NEW], cwd=ROOT)
    deadline = time.monotonic() + WAIT
    while len(list(store.glob("*/*.parquet"))) < after:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.001)
    process.kill()
    process.wait(timeout=WAIT)
    kept = history(store)
    sizes = kept.groupby("snapshot_id").size()
    assert len(sizes) >= after and sizes.nunique() == 1
