"""Benchmark: the demo report end to end, against the 20 s goal and against plain nbconvert.

Ours is the README's command, ``isoanalytics report --demo -o FILE``, run as a new process each
time (interpreter start, imports, kernel start, the notebook, export, the write), so the time
is what a user waits. The usual way is ``jupyter nbconvert --to html --execute`` on the same
template, run the same number of times in the same session; its file loads require.js,
MathJax and mermaid from CDNs, so it is counted but is not an offline report. A portfolio of
every demo organisation shows how the time grows with the organisations in it. The PDF path,
``isoanalytics report --demo -o FILE.pdf`` (the same report printed in Debian's headless
chromium), is timed the same way, in the same session, against the same goal.

Run: ``python -m tests.benchmarks.bench_report [--runs N]``
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from isoanalytics import demo
from isoanalytics.report import TEMPLATE

GOAL_S = 20.0
# What a browser fetches on opening: a src, a stylesheet <link>, a script's import; a link
# the reader may follow (a retirement's certificate) is not fetched.
EXTERNAL = re.compile(r"""src\s*=\s*["']https?://|<link\b[^>]*\bhref\s*=\s*["']https?://"""
                      r"""|import\(\s*["']https?://""")


def timed(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def describe(name: str, times: list[float], page: Path) -> float:
    median = statistics.median(times)
    if page.suffix == ".pdf":
        print(f"{name:<34} median {median:5.2f} s (min {min(times):.2f}, max {max(times):.2f}); "
              f"{page.stat().st_size / 1e6:.2f} MB; {pdf_pages(page)} pages")
        return median
    text = page.read_text()
    print(f"{name:<34} median {median:5.2f} s (min {min(times):.2f}, max {max(times):.2f}); "
          f"{page.stat().st_size / 1e6:.2f} MB; {len(EXTERNAL.findall(text))} URLs fetched "
          "from the internet on opening")
    return median


def pdf_pages(path: Path) -> str:
    try:
        import pypdf
    except ImportError:
        return "?"
    return str(len(pypdf.PdfReader(path).pages))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    command = [sys.executable, "-m", "isoanalytics", "report", "--demo"]
    nbconvert = shutil.which("jupyter-nbconvert", path=str(Path(sys.executable).parent))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        print(f"{args.runs} runs each, one after another, in this session\n")
        ours = describe("isoanalytics report --demo",
                        timed([*command, "-o", str(out / "ours.html")], args.runs),
                        out / "ours.html")
        printed = describe("isoanalytics report --demo -o x.pdf",
                           timed([*command, "-o", str(out / "ours.pdf")], args.runs),
                           out / "ours.pdf")
        # The claims of one year: the demo buyer that retired in 2024, 2025 and 2026.
        period = describe("isoanalytics report --demo --period 2025",
                          timed([*command, "--org", demo.registry().buyers["diversified"],
                                 "--period", "2025", "-o", str(out / "period.html")],
                                args.runs),
                          out / "period.html")
        portfolio = list(demo.registry().buyers.values())
        orgs = [part for org in portfolio for part in ("--org", org)]
        describe(f"  ... portfolio of {len(portfolio)} organisations",
                 timed([*command, *orgs, "-o", str(out / "portfolio.html")], args.runs),
                 out / "portfolio.html")
        if nbconvert is None:
            print("jupyter-nbconvert is not installed: no side-by-side figure")
            theirs = None
        else:
            shutil.copy(TEMPLATE, out / "usual.ipynb")
            theirs = describe("jupyter nbconvert --execute (usual)",
                              timed([nbconvert, "--to", "html", "--execute",
                                     str(out / "usual.ipynb")], args.runs),
                              out / "usual.html")
    for name, median in (("ours", ours), ("PDF", printed), ("--period 2025", period)):
        print(f"\n{name} / goal ({GOAL_S:.0f} s): {median / GOAL_S:.2f}"
              f"{'  (goal met)' if median <= GOAL_S else '  (GOAL MISSED)'}", end="")
    print()
    if theirs is not None:
        print(f"ours / nbconvert --execute: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
