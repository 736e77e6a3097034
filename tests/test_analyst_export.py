"""An analyst's own notebook with the explorer, exported both ways, shows the app's last state.

The notebook is built here, as an analyst would write it: no ``parameters`` cell, an explorer
with a time view, a few changes made from code, a chart of the package. It is executed and
exported with ``jupyter nbconvert --to html --execute`` and with ``isoanalytics report
--template``; each page must hold the explorer's static copy (its chart as a PNG with alt text
and its exact table, in the last state), and the report no widget view and no code. In Chromium,
offline, every picture loads, those the package made carry their alt text, and nothing logs an
error.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import isoanalytics as ia
from isoanalytics import demo
from isoanalytics.widgets import explorer

from .browser import ARTIFACTS, chromium_page, screenshot
from .conftest import REPO

ORGANISATIONS = [demo.registry().buyers["concentrated"], demo.registry().buyers["typical"]]
SETUP = f"""%matplotlib inline
import pandas as pd
import isoanalytics as ia
from isoanalytics import plots
from isoanalytics.widgets import explorer

organisations = {ORGANISATIONS!r}
client = ia.RegistryClient.demo()
portfolio = ia.fetch_balances(organisations, client=client, progress=False)
moves = pd.concat([ia.ledger(client, org, progress=False) for org in organisations],
                  ignore_index=True)"""
# The state the analyst leaves the explorer in, set from code after it is shown.
CHANGES = """app.dimension.value = "country"
app.top.value = 3
app.status.value = "retired"
app.time.by.value = "pathway\""""
CHART = """balance = client.credit_balance(organisations[0])
by_pathway = ia.breakdown(balance, "pathway", projects=client.projects())
plots.chart_image(plots.holdings_chart(by_pathway), "Bar chart of holdings by pathway")"""
PLACEHOLDER = "No description has been provided for this image"  # nbconvert's, for image/png
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def analyst_notebook(path: Path) -> Path:
    cells = [nbformat.v4.new_markdown_cell("# Our holdings, by country\nWhere they come from."),
             nbformat.v4.new_code_cell(SETUP),
             nbformat.v4.new_code_cell("app = explorer(portfolio, client=client, ledger=moves)\n"
                                       "app"),
             nbformat.v4.new_markdown_cell("## The largest countries, retired credits"),
             nbformat.v4.new_code_cell(CHANGES),
             nbformat.v4.new_code_cell(CHART)]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}
    nbformat.write(notebook, path)
    return path


def run(command: list[str], cwd: Path) -> None:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("ISOMETRIC_") and name != "MPLBACKEND"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("analyst")
    notebook = analyst_notebook(folder / "ours.ipynb")
    run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--execute",
         str(notebook), "--output", "nbconvert.html"], folder)
    run([sys.executable, "-m", "isoanalytics", "report", "--demo", "--template", str(notebook),
         "-o", "report.html"], folder)
    return {"nbconvert": folder / "nbconvert.html", "report": folder / "report.html"}


@pytest.fixture(scope="module")
def last_state() -> dict[str, object]:
    """The explorer in the state the notebook leaves it in, made here: what the pages show."""
    with ia.RegistryClient.demo() as client:
        app = explorer(ia.fetch_balances(ORGANISATIONS, client=client, progress=False),
                       client=client)
    app.dimension.value, app.top.value, app.status.value = "country", 3, "retired"
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", app.table.value)
    return {"cells": [html.unescape(cell) for cell in cells], "alt": app._chart_alt()}


def table_cells(page_html: str) -> list[str]:
    static = page_html[page_html.index('class="isoanalytics-static"'):]
    table = static[static.index("<table"):static.index("</table>")]
    return [html.unescape(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", table)]


@pytest.mark.parametrize("way", ["nbconvert", "report"])
def test_the_page_holds_the_explorer_last_state_as_static_outputs(exported, last_state, way):
    page_html = exported[way].read_text()
    assert page_html.count('class="isoanalytics-static"') == 1
    assert table_cells(page_html) == last_state["cells"]  # exact, as the app showed it last
    assert f'alt="{html.escape(str(last_state["alt"]))}"' in page_html
    assert "Retired holdings by country" in page_html and "United States" in page_html
    assert "Over time" in page_html and "split by pathway" in page_html
    if way == "report":  # a static page: no widget views, no code, the parameters injected
        assert WIDGET_VIEW not in page_html and "import isoanalytics" not in page_html
        assert 'alt="Bar chart of holdings by pathway"' in page_html


@pytest.mark.browser
@pytest.mark.parametrize("way", ["nbconvert", "report"])
def test_offline_every_picture_loads_with_its_alt_text(exported, last_state, way):
    url = exported[way].as_uri()
    with chromium_page(viewport=(1100, 900)) as (page, errors):
        outside: list[str] = []

        def only_the_file(route) -> None:
            if route.request.url == url or route.request.url.startswith("data:"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_the_file)
        page.goto(url, wait_until="load")
        page.wait_for_function("() => Array.from(document.images).every(image => image.complete)")
        images = page.eval_on_selector_all(
            "img", "images => images.map(image => [image.naturalWidth, image.alt, "
                   "!!image.closest('.isoanalytics-static')])")
        static = page.locator(".isoanalytics-static")
        visible = static.is_visible()
        rows = static.locator("table").first.locator("tbody tr").count()
        screenshot(page, ARTIFACTS / "analyst" / f"{way}.png")
    assert not errors, str(errors)
    assert visible and rows == 4  # the top 3 countries and the other one
    assert all(width > 0 for width, _, _ in images), images
    made = [alt for _, alt, in_static in images if in_static]
    assert made == [last_state["alt"], made[1]] and made[1].startswith("Bar chart: retired")
    if way == "report":  # the package's template writes chart_image's alt too
        assert PLACEHOLDER not in [alt for _, alt, _ in images]
        assert outside == []
