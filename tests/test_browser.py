"""The portfolio explorer in a real browser: Voila serves the notebook, Chromium drives it.

Changing the dimension (a Dropdown) and the top N (an IntSlider) must each replace both the
chart image and the table, with no console or page errors. A full-page screenshot is kept in
``tests/artifacts/browser/``. Skips when Chromium, Playwright or Voila is missing; fails when
the notebook is missing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .browser import ARTIFACTS, TIMEOUT_S, chromium_page, require_chromium, voila_server

pytestmark = pytest.mark.browser

EXPLORER = Path(__file__).resolve().parents[1] / "notebooks" / "02-portfolio-explorer.ipynb"

DIMENSION = ".isoanalytics-dimension select"
TOP = ".isoanalytics-top"
CHART = "img.isoanalytics-chart"
TABLE = ".isoanalytics-table"

# The chart's src (a blob: URL for a widgets.Image) and the table's HTML, together.
STATE_JS = f"""() => {{
    const img = document.querySelector({CHART!r});
    const table = document.querySelector({TABLE!r});
    return {{src: img ? img.getAttribute('src') || '' : '',
             table: table ? table.innerHTML : '',
             rows: table ? table.querySelectorAll('tbody tr').length : 0}};
}}"""


def state(page) -> dict:
    return page.evaluate(STATE_JS)


def wait_for_change(page, before: dict, what: str, server, timeout_s: float = TIMEOUT_S) -> dict:
    """Poll until both the chart's src and the table changed from ``before``."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = state(page)
        if now["src"] != before["src"] and now["table"] != before["table"] and now["rows"]:
            return now
        if time.monotonic() > deadline:
            changed = [name for name in ("src", "table") if now[name] != before[name]]
            pytest.fail(f"after {what}, chart and table did not both change within {timeout_s:.0f} s "
                        f"(changed: {changed or 'nothing'}); server log:\n{server.log_tail()}")
        page.wait_for_timeout(100)


def set_top(page, n: int) -> None:
    """Type ``n`` into the IntSlider's editable readout and press Enter (ipywidgets 8)."""
    readout = page.locator(f"{TOP} .widget-readout")
    readout.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(str(n))
    page.keyboard.press("Enter")


def exercise_explorer(notebook: Path, screenshot: Path) -> dict:
    """Open the explorer, change dimension and top N, check chart and table follow each change."""
    timings: dict[str, float] = {}
    start = time.monotonic()
    with voila_server(notebook) as server, chromium_page() as (page, errors):
        timings["server"] = time.monotonic() - start
        try:
            page.goto(server.url, wait_until="domcontentloaded")
            try:
                page.wait_for_function(
                    f"() => {{ const i = document.querySelector({CHART!r}); "
                    f"const t = document.querySelector({TABLE!r} + ' table'); "
                    "return i && i.getAttribute('src') && i.naturalWidth > 0 && t; }")
            except Exception as error:  # a Playwright TimeoutError; say what the page showed
                text = page.locator("body").inner_text()[-3000:]
                pytest.fail(f"the explorer did not render a chart and a table: {error}\n"
                            f"page text:\n{text}\nserver log:\n{server.log_tail()}")
            timings["page"] = time.monotonic() - start
            initial = state(page)

            # the dimension: pick each option other than the current one in turn, ending on "project"
            dimension = page.locator(DIMENSION)
            values = dimension.locator("option").evaluate_all("options => options.map(o => o.value)")
            current = dimension.input_value()
            assert {"supplier", "project", "pathway", "country"} <= set(values), values
            before = initial
            for value in ("project",) if current != "project" else ("supplier", "project"):
                dimension.select_option(value)
                before = wait_for_change(page, before, f"choosing dimension {value!r}", server)
            timings["dimension"] = time.monotonic() - start

            # top N: down to 3, then up to 5
            for n in (3, 5):
                set_top(page, n)
                after = wait_for_change(page, before, f"setting top N to {n}", server)
                assert page.locator(f"{TOP} .widget-readout").inner_text().strip() == str(n)
                assert after["rows"] >= n, after["rows"]
                before = after
            timings["top"] = time.monotonic() - start

            page.wait_for_function(f"() => document.querySelector({CHART!r}).naturalWidth > 0")
            assert not errors, f"{errors}\nserver log:\n{server.log_tail()}"
        finally:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=screenshot, full_page=True)
    timings["total"] = time.monotonic() - start
    return timings


def require_browser_tools() -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    pytest.importorskip("voila", reason="voila is not installed")
    require_chromium()


def test_explorer_chart_and_table_follow_the_controls():
    require_browser_tools()
    # A missing notebook is a failure, not a skip: the browser test exists to check it.
    assert EXPLORER.is_file(), f"the explorer notebook is missing: {EXPLORER}"
    print(exercise_explorer(EXPLORER, ARTIFACTS / "browser" / "explorer.png"))


def test_standin(tmp_path):  # DEV ONLY
    import os
    require_browser_tools()
    print(exercise_explorer(Path(os.environ["STANDIN_NB"]), ARTIFACTS / "browser" / "standin.png"))
