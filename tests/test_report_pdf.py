"""The report as a PDF: ``isoanalytics report -o x.pdf`` (and ``--pdf``, ``--paper``) prints the
HTML report in Debian's headless chromium; pypdf reads the file back.

The PDFs are real (a real report, a real browser); without Playwright, chromium or pypdf the
tests that need them skip, saying which. The refusals (a bad paper, no chromium, no
Playwright) need none of them: they happen before any work.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from isoanalytics import RegistryClient, claims, demo, report
from isoanalytics._format import tonnes
from isoanalytics.cli import EXIT_MISSING_EXTRA, EXIT_USAGE, main
from isoanalytics.present.pdf import (
    CHROMIUM_VARIABLE,
    PAPERS,
    MissingBrowserError,
    check_paper,
    chromium_path,
)

from .browser import CHROMIUM

ROOT = Path(__file__).resolve().parents[1]
POINTS_PER_MM = 72 / 25.4
WAIT = 120  # seconds: an upper bound for a stage to be reached, never a measured time


def needs_printing() -> None:
    pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed ({CHROMIUM}): apt-get install chromium")


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["report", "--demo", *args], out=out), out.getvalue()


def pages_text(path: Path) -> list[str]:
    """Each page's text, its whitespace made single spaces (a line may wrap anywhere)."""
    pypdf = pytest.importorskip("pypdf", reason="pypdf reads the PDF back")
    reader = pypdf.PdfReader(path)
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def page_size_mm(path: Path) -> tuple[float, float]:
    pypdf = pytest.importorskip("pypdf", reason="pypdf reads the PDF back")
    box = pypdf.PdfReader(path).pages[0].mediabox
    return float(box.width) / POINTS_PER_MM, float(box.height) / POINTS_PER_MM


def assert_paper(path: Path, paper: str) -> None:
    # Chromium's A4 is 8.27 x 11.7 inches: within 1 mm of ISO's 210 x 297.
    width, height = page_size_mm(path)
    expected = PAPERS[paper]
    assert abs(width - expected[0]) < 1 and abs(height - expected[1]) < 1, (width, height)


@pytest.fixture(scope="module")
def a4_pdf(tmp_path_factory) -> tuple[Path, str]:
    """``isoanalytics report --demo --period 2026 -o report.pdf``: the folder's only file, and
    what it said (the default buyer's retirements are all in 2026)."""
    needs_printing()
    folder = tmp_path_factory.mktemp("pdf-report")
    code, said = run("--period", "2026", "-o", str(folder / "report.pdf"))
    assert code == 0, said
    return folder / "report.pdf", said


def test_minus_o_pdf_writes_a_pdf_alone_on_a4(a4_pdf):
    path, said = a4_pdf
    assert path.read_bytes().startswith(b"%PDF-")
    assert sorted(item.name for item in path.parent.iterdir()) == ["report.pdf"]  # no .part
    assert re.search(rf"Wrote {re.escape(str(path))} \(\d+\.\d MB, A4\)", said)
    assert_paper(path, "A4")


def test_every_page_has_the_banner_and_its_number(a4_pdf):
    pages = pages_text(a4_pdf[0])
    assert len(pages) > 1
    for number, text in enumerate(pages, start=1):
        assert "DEMO DATA: fictional organisations from the embedded demo registry" in text
        assert f"Page {number} of {len(pages)}" in text


def test_the_pdf_holds_the_headlines_exact_figures(a4_pdf):
    with RegistryClient.demo() as client:
        held = client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
    text = " ".join(pages_text(a4_pdf[0]))
    for kgs in (held.active_kgs, held.retired_kgs, held.total_kgs):
        assert f"{tonnes(kgs)} tCO2e" in text  # the large figure
        assert f"{kgs:,} kg" in text  # and its exact kilograms
    for heading in ("Claims in the period", "Holdings by supplier", "Concentration",
                    "Reconciliation", "Methods"):
        assert heading in text


def test_the_pdf_holds_the_periods_retired_total(a4_pdf):
    with RegistryClient.demo() as client:
        retired = claims(client, demo.DEFAULT_ORGANISATION_ID, start="2026-01-01",
                         end="2027-01-01", progress=False)
    total = int(retired["credit_kgs"].sum())
    assert total > 0
    text = " ".join(" ".join(pages_text(a4_pdf[0])).split())
    assert f"{tonnes(total)} tCO2e retired ({total:,} kg)" in text
    assert "2026" in text


def test_pdf_flag_writes_the_pdf_beside_the_html_on_letter(tmp_path):
    needs_printing()
    code, said = run("-o", str(tmp_path / "q3.html"), "--pdf", "--paper", "letter")
    assert code == 0, said
    assert sorted(item.name for item in tmp_path.iterdir()) == ["q3.html", "q3.pdf"]
    assert "DEMO DATA" in (tmp_path / "q3.html").read_text()
    assert_paper(tmp_path / "q3.pdf", "Letter")
    assert re.search(r"Wrote \S+q3\.html \(\d+\.\d MB\) and \S+q3\.pdf \(\d+\.\d MB, Letter\)",
                     said), said
    assert all("DEMO DATA" in text for text in pages_text(tmp_path / "q3.pdf"))


@pytest.mark.parametrize("paper", ["A3", "legal", ""])
def test_a_bad_paper_is_a_usage_error(tmp_path, capsys, paper):
    with pytest.raises(SystemExit) as exit_:  # argparse's own error: the usage, exit 2
        run("-o", str(tmp_path / "r.pdf"), "--paper", paper)
    error = capsys.readouterr().err
    assert exit_.value.code == EXIT_USAGE
    assert "usage: isoanalytics report" in error and "--paper: expected A4 or Letter" in error
    assert list(tmp_path.iterdir()) == []


def test_pdf_to_standard_output_is_refused(capsys):
    code, said = run("-o", "-", "--pdf")
    assert code == EXIT_USAGE and said == ""
    assert "-o FILE.pdf" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["-o", "r.pdf"], ["-o", "r.html", "--pdf"]])
def test_no_chromium_is_exit_10_naming_the_package(tmp_path, monkeypatch, capsys, args):
    monkeypatch.setenv(CHROMIUM_VARIABLE, str(tmp_path / "nowhere" / "chromium"))
    monkeypatch.chdir(tmp_path)
    code, said = run(*args)
    error = capsys.readouterr().err
    assert code == EXIT_MISSING_EXTRA and said == ""  # refused before any work
    assert "apt-get install chromium" in error and CHROMIUM_VARIABLE in error
    assert "Traceback" not in error and "Nothing was written" in error
    assert list(tmp_path.iterdir()) == []


WITHOUT_PLAYWRIGHT = """
import sys
sys.modules["playwright"] = None  # as if not installed
from isoanalytics.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_playwright_the_command_names_the_extra(tmp_path):
    done = subprocess.run([sys.executable, "-c", WITHOUT_PLAYWRIGHT, "report", "--demo",
                           "-o", str(tmp_path / "r.pdf")], cwd=ROOT, capture_output=True,
                          text=True, timeout=WAIT, check=False)
    assert done.returncode == EXIT_MISSING_EXTRA and done.stdout == "", done.stderr
    assert "pip install 'isoanalytics[pdf]'" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_build_refuses_before_any_work(tmp_path):
    with pytest.raises(MissingBrowserError) as raised:
        report.build(demo=True, output=tmp_path / "r.pdf", chromium=tmp_path / "none")
    assert raised.value.package == "chromium" and "apt-get install chromium" in str(raised.value)
    with pytest.raises(ValueError, match="paper must be A4 or Letter"):
        report.build(demo=True, output=tmp_path / "r.html", pdf=True, paper="A5")
    os.mkfifo(tmp_path / "r.pdf")  # --pdf's file is checked as -o's is: never a FIFO
    with pytest.raises(report.OutputPathError, match="named pipe"):
        report.build(demo=True, output=tmp_path / "r.html", pdf=True)
    assert sorted(item.name for item in tmp_path.iterdir()) == ["r.pdf"]


def test_the_paper_and_the_browser_lookup():
    assert [check_paper(name) for name in ("a4", " LETTER ", "A4")] == ["A4", "Letter", "A4"]
    with pytest.raises(ValueError):
        check_paper(4)  # type: ignore[arg-type]
    if CHROMIUM.exists():
        assert chromium_path() == CHROMIUM


def _has_kernel(pid: int) -> bool:
    """Whether the report's kernel (an ipykernel child of ``pid``) is running."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if parent == pid and b"ipykernel" in command:
                return True
    return False


# Setup code for the command's process: Playwright's Page.pdf announces the printing, then
# hangs, so the interrupt comes while Chromium prints.
HANGING_PRINT = """
import asyncio, pathlib
from playwright.async_api import Page
async def _hang(self, *args, **kwargs):
    pathlib.Path({marker!r}).write_text("printing")
    await asyncio.sleep({wait})
Page.pdf = _hang
"""


@pytest.mark.parametrize("moment", ["running", "printing"])
def test_ctrl_c_leaves_nothing_behind_and_closes_the_browser(tmp_path, moment):
    """A real SIGINT: while the kernel runs (the browser, started meanwhile, announced by a
    wrapper that then becomes it), or while the page is being printed."""
    needs_printing()
    started, printing = tmp_path / "chromium-started", tmp_path / "printing"
    wrapper = tmp_path / "chromium"
    wrapper.write_text(f'#!/bin/sh\necho $$ > "{started}"\nexec {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "report.html").write_text("yesterday's report")
    environment = {**os.environ, CHROMIUM_VARIABLE: str(wrapper), "PYTHONUNBUFFERED": "1",
                   "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    setup = HANGING_PRINT.format(marker=str(printing), wait=WAIT) if moment == "printing" else ""
    code = (f"{setup}\nimport runpy, sys\n"
            "sys.argv = ['isoanalytics', 'report', '--demo', '-o', 'report.html', '--pdf']\n"
            "runpy.run_module('isoanalytics', run_name='__main__')")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=folder, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    marker = printing if moment == "printing" else started
    try:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and process.poll() is None:
            if marker.exists() and marker.read_text().strip() and started.exists() and (
                    moment == "printing" or _has_kernel(process.pid)):
                break
            time.sleep(0.02)
        assert process.poll() is None, process.communicate()
        browser = int(started.read_text())
        process.send_signal(signal.SIGINT)
        _, error = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
    text = error.decode()
    assert process.returncode == 130, text
    doing = ("while printing the PDF" if moment == "printing"
             else "while the report's cells ran (its kernel was stopped)")
    assert text.strip().splitlines() == [
        f"isoanalytics report: interrupted {doing}; report.html was left as it was and "
        "report.pdf was not written"], text
    assert sorted(item.name for item in folder.iterdir()) == ["report.html"]
    assert (folder / "report.html").read_text() == "yesterday's report"
    stat = Path(f"/proc/{browser}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
