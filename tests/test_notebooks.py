"""The notebooks as files: executed in order, tidy, free of secrets and machine paths.

nbval (in the default run) re-executes them and compares every output; these checks cover what
nbval does not: that the committed outputs came from one fresh kernel, top to bottom, and that
nothing private was saved with them.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from isoanalytics import demo

from .conftest import REPO

NOTEBOOKS = ["01-quickstart.ipynb", "02-portfolio-explorer.ipynb",
             "03-supplier-concentration.ipynb", "04-report.ipynb",
             "05-claims-and-deliveries.ipynb", "dashboard.ipynb"]
# Served by Voila to people who do not read notebooks: a title line and the app, not an article.
DASHBOARD = "dashboard.ipynb"
ARTICLES = [name for name in NOTEBOOKS if name != DASHBOARD]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# Anything that looks like where a machine keeps its files.
MACHINE_PATH = re.compile(r"(/work/|/root/|/home/|/tmp/|/Users/|[A-Z]:\\\\|site-packages)")


@pytest.fixture(params=NOTEBOOKS)
def notebook(request):
    path = REPO / "notebooks" / request.param
    return path, nbformat.read(path, as_version=4)


@pytest.fixture(params=ARTICLES)
def article(request):
    path = REPO / "notebooks" / request.param
    return path, nbformat.read(path, as_version=4)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_the_notebooks_are_all_there():
    found = sorted(path.name for path in (REPO / "notebooks").glob("*.ipynb"))
    assert found == NOTEBOOKS


def test_each_reads_like_an_article(article):
    _, nb = article
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert "learn" in first.source  # says what the reader will learn
    assert nb.metadata.kernelspec.name == "python3"


def test_matplotlib_is_inline_before_any_chart(article):
    _, nb = article
    cells = code_cells(nb)
    inline = next(i for i, cell in enumerate(cells) if "%matplotlib inline" in cell.source)
    charts = [i for i, cell in enumerate(cells) if "plots." in cell.source or "plt." in cell.source]
    assert charts and inline < min(charts)


def test_outputs_come_from_one_fresh_kernel_top_to_bottom(notebook):
    path, nb = notebook
    counts = [cell.execution_count for cell in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1))
    for cell in code_cells(nb):
        for output in cell.outputs:
            assert output.output_type != "error", cell.source
            assert not (output.output_type == "stream" and output.name == "stderr"), (
                f"stderr in a committed output: {output.text[:200]}")
    charts = [output for cell in code_cells(nb) for output in cell.outputs
              if "image/png" in output.get("data", {})]
    assert charts or path.name == DASHBOARD, "every notebook shows at least one chart"


def test_no_secret_token_or_machine_path_is_saved(notebook):
    path, _ = notebook
    text = path.read_text()
    for secret in [demo.CLIENT_SECRET, *demo.accounts().values()]:
        assert secret not in text
    assert not MACHINE_PATH.search(text), MACHINE_PATH.search(text)
    assert "ISOMETRIC_CLIENT_SECRET=" not in text


def test_the_report_template_has_a_parameters_cell():
    nb = nbformat.read(REPO / "notebooks" / "04-report.ipynb", as_version=4)
    tagged = [cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert "organisation_ids = []" in tagged[0].source


def test_nbval_runs_strict_with_the_sanitize_file():
    pyproject = (REPO / "pyproject.toml").read_text()
    assert "--nbval " in pyproject and "--nbval-lax" not in pyproject
    assert "--nbval-sanitize-with=notebooks/sanitize.cfg" in pyproject
    assert (REPO / "notebooks" / "sanitize.cfg").is_file()


def test_the_dashboard_shows_a_title_line_and_the_app_only():
    nb = nbformat.read(REPO / "notebooks" / DASHBOARD, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    markdown = [cell for cell in nb.cells if cell.cell_type == "markdown"]
    assert len(markdown) == 1 and nb.cells[0] is markdown[0]
    assert markdown[0].source.startswith("# ") and "\n" not in markdown[0].source.strip()
    cells = code_cells(nb)
    assert "%matplotlib inline" in cells[0].source
    outputs = [output for cell in cells for output in cell.outputs]
    # One output, the dashboard's widget view: no frame, no repr, no static copy in Voila.
    assert len(outputs) == 1 and WIDGET_VIEW in outputs[0]["data"]
    assert set(outputs[0]["data"]) == {WIDGET_VIEW, "text/plain"}
    assert "dashboard(" in cells[-1].source


def test_the_readme_badges_open_the_dashboard_in_voila():
    readme = (REPO / "README.md").read_text()
    voila = [line for line in readme.splitlines() if "urlpath=voila" in line]
    assert voila and all(f"voila/render/notebooks/{DASHBOARD}" in line for line in voila)
