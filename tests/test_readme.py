"""The README's two commands, and the benchmark scripts, stay runnable."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import REPO

README = (REPO / "README.md").read_text()


def _between(marker: str) -> str:
    block = re.search(rf"<!-- {marker} -->\n```\w*\n(.*?)\n```\n<!-- /{marker} -->", README,
                      re.DOTALL)
    assert block, f"README.md has no <!-- {marker} --> block"
    return block.group(1).strip()


def test_readme_names_the_two_commands():
    main_command = _between("main-command")
    test_command = _between("test-command")
    assert "pip install" in main_command and "isoanalytics" in main_command
    assert "--demo" in main_command
    assert 'pip install -e ".[test]"' in test_command and "pytest" in test_command
    assert "\n" not in main_command and "\n" not in test_command  # one line each, to copy


def test_readme_names_the_docs_command():
    docs_command = _between("docs-command")
    assert "\n" not in docs_command
    assert "sphinx" in docs_command and " -W " in docs_command
    assert "docs/_build/html" in docs_command
    # after the test command, in its virtualenv: the test extras bring the docs tools
    assert '"isoanalytics[docs]"' in (REPO / "pyproject.toml").read_text()


@pytest.mark.parametrize("marker", ["test-command", "docs-command"])
def test_ci_runs_exactly_the_readme_commands(marker):
    result = subprocess.run(
        ["bash", "-c", (f"awk '/<!-- {marker} -->/{{inside=1; next}} "
                        f"/<!-- \\/{marker} -->/{{inside=0}} inside && !/^```/' README.md")],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    assert result.stdout.strip() == _between(marker)
    ci = (REPO / ".ci" / "run").read_text()
    assert "README.md" in ci and f"<!-- {marker} -->" in ci


def test_the_site_quotes_the_readme_commands_exactly():
    page = (REPO / "docs" / "getting-started.md").read_text()
    for marker in ("main-command", "test-command", "docs-command"):
        assert f"```bash\n{_between(marker)}\n```" in page, marker


def test_parse_benchmark_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "tests" / "benchmarks" / "bench_parse.py"),
         "--repeat", "1", "--projects", "200", "--suppliers", "20"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ours / orjson.loads" in result.stdout and "usual / ours" in result.stdout


def test_client_benchmark_runs():
    # Tiny sizes and a 1 ms server: proves the script works, measures nothing.
    result = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_client", "--delay", "0.001",
         "--organisations", "12", "--batches", "300", "--repeat", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stderr
    for figure in ("speed-up", "client time per page", "bare httpx.get", "per project"):
        assert figure in result.stdout


def test_explorer_benchmark_runs():
    # A small portfolio and no nbval: proves the script works, measures nothing.
    result = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_explorer", "--organisations", "2",
         "--suppliers", "30", "--rounds", "1", "--no-nbval"],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "median update, all" in result.stdout and "median / goal (150 ms)" in result.stdout


def test_demo_benchmark_runs():
    # One run each: proves the script works (its times are not checked, only printed).
    result = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_demo", "--repeat", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "median/goal" in result.stdout and "credit_balance (large buyer)" in result.stdout


def test_report_benchmark_runs():
    # One run each: proves the script works (the README's figures come from --runs 3).
    result = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_report", "--runs", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    for figure in ("isoanalytics report --demo", "portfolio of 7", "nbconvert --execute",
                   "ours / goal (20 s)", "ours / nbconvert --execute", " MB;"):
        assert figure in result.stdout


def test_the_readme_shows_the_report():
    picture = re.search(r"!\[[^\]]+\]\((docs/[^)]+\.png)\)", README)
    assert picture, "the README shows no picture of the report"
    assert (REPO / picture.group(1)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "isoanalytics report --demo -o report.html" in _between("main-command")


def test_the_readme_plotting_example_runs(tmp_path):
    start = README.index("panel = connect()")
    opening = README.rindex("```python", 0, start) + len("```python")
    block = README[opening:README.index("```", start)]
    script = tmp_path / "example.py"
    script.write_text("import matplotlib\nmatplotlib.use('Agg')\n" + block)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr
