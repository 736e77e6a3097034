"""Where ``isoanalytics report`` writes: refused before any work, or written whole, or not at all.

Real files: a FIFO from ``os.mkfifo``, a Unix socket, a character device made with
``os.mknod`` (the test's own: never the system's ``/dev/null``), symlinks, a read-only
tmpfs, an immutable folder (``chattr +i``) and a tiny tmpfs that fills up. Mounting needs
root (and a sandbox that allows it): those tests skip, saying why, where it cannot be done.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from isoanalytics import report
from isoanalytics.cli import EXIT_USAGE, EXIT_WRITE_FAILED, main

PREVIOUS = "yesterday's report"


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["report", "--demo", *args], out=out), out.getvalue()


def refused(capsys, *args: str) -> str:
    """Run the command, check it is a usage error of ``report``, and return what it said."""
    code, said = run(*args)
    error = capsys.readouterr().err
    assert code == EXIT_USAGE, error
    assert said == ""  # nothing ran: no "Wrote ..."
    assert "usage: isoanalytics report" in error and "Traceback" not in error
    return error


def test_a_fifo_is_never_replaced(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    error = refused(capsys, "-o", str(fifo))
    assert "named pipe (FIFO)" in error and "never replaced" in error
    assert fifo.is_fifo() and sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


@pytest.fixture
def device(tmp_path) -> Path:
    """A character device like /dev/null, but the test's own: if the code under test ever
    replaced it, the system's /dev/null would be untouched (never test on the real one)."""
    node = tmp_path / "devices" / "null"
    node.parent.mkdir()
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError) as error:
        pytest.skip(f"cannot make a device node here (needs root): {error}")
    return node


def test_a_device_is_never_replaced(device, capsys):
    before = os.stat(device)
    error = refused(capsys, "-o", str(device))
    assert "is a device" in error
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_a_link_to_a_device_or_a_socket_is_refused(tmp_path, device, capsys):
    link = tmp_path / "report.html"
    link.symlink_to(device)
    assert "is a device" in refused(capsys, "-o", str(link))
    assert link.is_symlink() and stat.S_ISCHR(os.stat(device).st_mode)
    path = tmp_path / "s.html"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        assert "is a socket" in refused(capsys, "-o", str(path))


@pytest.mark.parametrize("spelling", ["same", "dot", "link"])
def test_the_notebook_and_the_report_must_be_different_files(tmp_path, capsys, monkeypatch,
                                                             spelling):
    monkeypatch.chdir(tmp_path)
    Path("out.txt").write_text(PREVIOUS)
    Path("alias.txt").symlink_to("out.txt")
    notebook = {"same": "out.txt", "dot": "./sub/../out.txt", "link": "alias.txt"}[spelling]
    Path("sub").mkdir()
    error = refused(capsys, "-o", "out.txt", "--notebook", notebook)
    assert "are the same file" in error and "report.ipynb" in error
    assert Path("out.txt").read_text() == PREVIOUS


def test_other_formats_are_refused(tmp_path, capsys):
    # -o r.pdf writes a PDF (tests/test_report_pdf.py); a notebook is --notebook's
    assert "--notebook" in refused(capsys, "-o", str(tmp_path / "r.ipynb"))
    assert "the notebook is JSON" in refused(capsys, "-o", str(tmp_path / "r.html"),
                                             "--notebook", str(tmp_path / "n.html"))
    assert list(tmp_path.iterdir()) == []


def _mount_tmpfs(folder: Path, options: str) -> None:
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    folder.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"this sandbox does not allow mounting a tmpfs: {done.stderr.strip()}")


@contextlib.contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    _mount_tmpfs(folder, options)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_read_only_folder_is_refused_before_any_work(tmp_path, capsys):
    # Root ignores permission bits, so chmod alone would prove nothing: a read-only mount
    # refuses root too.
    with tmpfs(tmp_path / "ro", "ro,size=1m") as folder:
        error = refused(capsys, "-o", str(folder / "report.html"))
        assert "cannot create a file in the folder" in error and "Read-only" in error


def test_an_immutable_folder_is_refused_before_any_work(tmp_path, capsys):
    folder = tmp_path / "frozen"
    folder.mkdir()
    (folder / "report.html").write_text(PREVIOUS)
    if not shutil.which("chattr"):
        pytest.skip("chattr(1) is not installed")
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"this filesystem does not take chattr +i: {done.stderr.strip()}")
    try:
        error = refused(capsys, "-o", str(folder / "report.html"))
        assert "cannot create a file in the folder" in error
        assert (folder / "report.html").read_text() == PREVIOUS
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=False)


def test_a_disk_that_fills_during_the_run_keeps_the_previous_report(tmp_path, capsys):
    # 256 KiB: room for the probe and the old report, not for the new one (about 0.5 MB).
    with tmpfs(tmp_path / "small", "size=256k") as folder:
        output = folder / "report.html"
        output.write_text(PREVIOUS)
        code, said = run("-o", str(output))
        error = capsys.readouterr().err
        assert code == EXIT_WRITE_FAILED, error
        assert "the disk is full" in error and "left as it was" in error
        assert "Traceback" not in error and said == ""
        assert output.read_text() == PREVIOUS
        assert sorted(path.name for path in folder.iterdir()) == ["report.html"]


def test_report_to_standard_output(tmp_path):
    finished = subprocess.run(
        [sys.executable, "-m", "isoanalytics", "report", "--demo", "-o", "-"], cwd=tmp_path,
        capture_output=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith(b"<!DOCTYPE html>") and b"<b>DEMO DATA</b>" in finished.stdout
    said = finished.stderr.decode()
    assert "Wrote the report to standard output" in said and "DEMO DATA" in said
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_standard_output_on_a_terminal_is_refused(capsys):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert main(["report", "--demo", "-o", "-"], out=Terminal()) == EXIT_USAGE
    assert "redirect it" in capsys.readouterr().err


def test_the_python_api_refuses_the_same_paths(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(report.OutputPathError, match="named pipe"):
        report.build(output=tmp_path / "pipe", demo=True)
    with pytest.raises(report.OutputPathError, match="same file"):
        report.build(output=tmp_path / "a.txt", notebook=tmp_path / "a.txt", demo=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pipe"]
