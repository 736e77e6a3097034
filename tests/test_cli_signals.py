"""Ctrl-C at any moment of ``isoanalytics report`` or ``summary``, sent to a real process.

Each test waits for a moment it can see (a request reaching a loopback server, the kernel
process, a marker file a cell or a stage writes), then sends SIGINT. The command must exit
130 with one line on stderr and no traceback, leave the previous report byte for byte, and
leave no temporary file or folder and no kernel process behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import nbformat
import pytest

from isoanalytics import demo

from .loopback import BASE_PATH, bridge

pytestmark = pytest.mark.skipif(os.name != "posix" or not Path("/proc/self/stat").exists(),
                                reason="SIGINT to a process and /proc are POSIX/Linux")

PREVIOUS = b"<html>yesterday's report, kept byte for byte</html>\n"
WAIT = 120  # seconds: an upper bound for a stage to be reached, never a measured time


def _children(pid: int) -> set[int]:
    """Every process whose parent is ``pid`` (the report's kernel is one)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _until(condition: Callable[[], object], process: subprocess.Popen, what: str) -> object:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if (found := condition()):
            return found
        if process.poll() is not None:
            pytest.fail(f"the command ended ({process.returncode}) before {what}: "
                        f"{process.stderr.read().decode()}")
        time.sleep(0.02)
    process.kill()
    pytest.fail(f"never saw {what}")


class Run:
    """``isoanalytics ...`` in a real process, its temporary folder private to the test."""

    def __init__(self, tmp_path: Path, args: list[str], *, env: dict[str, str] | None = None,
                 setup: str = "") -> None:
        self.folder = tmp_path / "out"
        self.folder.mkdir()
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()
        self.output = self.folder / "report.html"
        self.output.write_bytes(PREVIOUS)
        environment = {**os.environ, **(env or {}), "TMPDIR": str(self.tmp),
                       "PYTHONUNBUFFERED": "1"}
        # ``setup`` runs first in the same process (to announce a stage); then the command.
        code = (f"{setup}\nimport runpy, sys\nsys.argv = ['isoanalytics', *{args!r}]\n"
                "runpy.run_module('isoanalytics', run_name='__main__')")
        self.process = subprocess.Popen([sys.executable, "-c", code], cwd=self.folder,
                                        env=environment, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.kernels: set[int] = set()

    def interrupt(self, times: int = 1) -> tuple[int, str]:
        self.kernels |= _children(self.process.pid)
        for _ in range(times):  # an impatient user presses Ctrl-C again while it cleans up
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGINT)
        self.said, error = self.process.communicate(timeout=WAIT)
        return self.process.returncode, error.decode()

    def assert_clean(self, code: int, error: str, *, moment: str) -> None:
        assert code == 130, (moment, code, error)
        assert "Traceback" not in error and "Error" not in error, error
        assert len(error.splitlines()) == 1, error
        assert "interrupted" in error
        assert "left as it was" in error or "nothing was written" in error, error
        assert self.output.read_bytes() == PREVIOUS
        leftovers = sorted(path.name for path in self.folder.iterdir()
                           if path.name not in ("report.html", "announce"))
        assert leftovers == [], leftovers  # no .part file, no probe
        assert list(self.tmp.iterdir()) == []  # no isoanalytics-report-* folder
        assert not [pid for pid in self.kernels if _alive(pid)], "a kernel is still running"


def _announcing(marker: Path, module: str, name: str) -> str:
    """Setup code: ``module.name`` (a callable) creates ``marker``, then waits to be interrupted."""
    return (f"import time, pathlib, {module} as _m\n"
            f"_original = _m.{name}\n"
            f"def _announce(*args, **kwargs):\n"
            f"    result = _original(*args, **kwargs)\n"
            f"    pathlib.Path({str(marker)!r}).touch()\n"
            f"    time.sleep({WAIT})\n"
            f"    return result\n"
            f"_m.{name} = _announce\n")


@pytest.fixture
def blocking_registry(server):
    """The demo registry on loopback, except that one kind of request hangs (until released).

    Returns ``(environment, reached, block)``: the variables for the command, an Event set when
    the hanging request arrived, and a one-item list holding the path fragment that hangs.
    """
    from isoanalytics.demo.transport import transport

    demo_answer = transport(base_path=BASE_PATH).handler
    reached, release = threading.Event(), threading.Event()
    block = ["/organisations/"]

    def answer(request: httpx.Request) -> httpx.Response:
        if block[0] in request.url.path:
            reached.set()
            release.wait(WAIT)
        return demo_answer(request)

    server.expect_request(re.compile(f"^{BASE_PATH}/.*")).respond_with_handler(bridge(answer))
    environment = {"ISOMETRIC_BASE_URL": server.url_for(BASE_PATH),
                   "ISOMETRIC_CLIENT_SECRET": demo.CLIENT_SECRET,
                   "ISOMETRIC_ACCESS_TOKEN": demo.access_token(demo.DEFAULT_ORGANISATION_ID)}
    yield environment, reached, block
    release.set()


def test_report_interrupted_before_the_kernel_starts(tmp_path, blocking_registry):
    environment, reached, _ = blocking_registry
    run = Run(tmp_path, ["report", "--org", demo.DEFAULT_ORGANISATION_ID, "-o", "report.html"],
              env=environment)
    _until(lambda: reached.is_set(), run.process, "the organisation check")
    code, error = run.interrupt()
    run.assert_clean(code, error, moment="checking the organisation")
    assert "report.html was left as it was" in error


@pytest.mark.parametrize("hanging", ["/organisations/", "/suppliers/"])
def test_summary_interrupted_while_reading(tmp_path, blocking_registry, hanging):
    environment, reached, block = blocking_registry
    block[0] = hanging  # the balance, or the supplier names read afterwards, concurrently
    run = Run(tmp_path, ["summary", "--org", demo.DEFAULT_ORGANISATION_ID], env=environment)
    _until(lambda: reached.is_set(), run.process, f"a request for {hanging}")
    code, error = run.interrupt()
    run.assert_clean(code, error, moment="summary")
    assert run.said == b""


def test_report_interrupted_once_its_kernel_exists(tmp_path):
    run = Run(tmp_path, ["report", "--demo", "-o", "report.html"])
    run.kernels = _until(lambda: _children(run.process.pid), run.process, "the kernel")
    code, error = run.interrupt()
    run.assert_clean(code, error, moment="kernel started")


@pytest.mark.parametrize("times", [1, 3])
def test_report_interrupted_while_a_cell_runs(tmp_path, times):
    marker = tmp_path / "cell-started"
    template = tmp_path / "slow.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("organisation_ids = []", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("## Holdings"),
        nbformat.v4.new_code_cell(f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()"
                                  f"\ntime.sleep({WAIT})"),
    ]), template)
    run = Run(tmp_path, ["report", "--demo", "--template", str(template), "-o", "report.html",
                         "--notebook", "report.ipynb"])
    _until(marker.exists, run.process, "the cell running")
    code, error = run.interrupt(times)
    run.assert_clean(code, error, moment="cell running")
    assert "cells ran" in error and not (run.folder / "report.ipynb").exists()


@pytest.mark.parametrize(("module", "name", "moment"), [
    ("nbconvert.exporters.html", "HTMLExporter.from_notebook_node", "exporting"),
    ("os", "fsync", "writing"),  # the .part file exists then: it must go too
])
def test_report_interrupted_while_exporting_or_writing(tmp_path, module, name, moment):
    marker = tmp_path / "announce"
    run = Run(tmp_path, ["report", "--demo", "-o", "report.html"],
              setup=_announcing(marker, module, name))
    _until(marker.exists, run.process, moment)
    if moment == "writing":
        assert [path.name for path in run.folder.glob(".report.html.*.part")]
    code, error = run.interrupt()
    run.assert_clean(code, error, moment=moment)
    assert f"while {moment}" in error


# The command line's first instants: Ctrl-C while its modules are still being imported. The
# import is made to be interrupted exactly there (a finder raising KeyboardInterrupt, as the
# signal handler would), in a real interpreter started the way the entry point starts it.
_INTERRUPTED_IMPORT = """
import sys
from importlib.abc import MetaPathFinder

interrupted_at = sys.argv.pop(1)

class Interrupting(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == interrupted_at:
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Interrupting())
from isoanalytics.__main__ import main
sys.exit(main())
"""


@pytest.mark.parametrize("module", ["isoanalytics.cli", "argparse", "isoanalytics.ids"])
def test_interrupted_while_the_command_line_is_imported(tmp_path, module):
    result = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED_IMPORT, module, "report", "--demo",
         "-o", str(tmp_path / "report.html")],
        capture_output=True, text=True, timeout=WAIT, check=False)
    assert result.returncode == 130, result.stderr
    assert result.stderr.splitlines() == [
        "isoanalytics: interrupted before it started; nothing was written"]
    assert not list(tmp_path.iterdir())


def test_the_installed_command_starts_at_the_guarded_entry_point():
    from importlib.metadata import entry_points

    (command,) = [point for point in entry_points(group="console_scripts")
                  if point.name == "isoanalytics"]
    assert command.value == "isoanalytics.__main__:main"
