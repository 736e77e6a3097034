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

from .browser import ARTIFACTS, TIMEOUT_S, chromium_page, require_chromium, screenshot, voila_server

pytestmark = pytest.mark.browser

EXPLORER = Path(__file__).resolve().parents[1] / "notebooks" / "02-portfolio-explorer.ipynb"
SCREENSHOTS = ARTIFACTS / "browser"

# The explorer's controls carry these classes (widget.add_class).
DIMENSION = ".isoanalytics-dimension select"
TOP_READOUT = ".isoanalytics-top .widget-readout"
TOP_HANDLE = ".isoanalytics-top .noUi-handle"
CHART = "img.isoanalytics-chart"
TABLE = ".isoanalytics-table"

# The chart's src (a blob: URL, new for each value of a widgets.Image) and the table's HTML.
STATE_JS = f"""() => {{
    const img = document.querySelector({CHART!r});
    const table = document.querySelector({TABLE!r});
    return {{src: img ? img.getAttribute('src') || '' : '',
             loaded: img ? img.complete && img.naturalWidth > 0 : false,
             table: table ? table.innerHTML : '',
             rows: table ? table.querySelectorAll('table tbody tr').length : 0}};
}}"""
RENDERED_JS = f"""() => {{
    const img = document.querySelector({CHART!r});
    return img && img.getAttribute('src') && img.naturalWidth > 0
        && document.querySelector({TABLE!r} + ' table') !== null;
}}"""

# The test extras install Notebook 7 beside Voila; Voila then loads Notebook's lab extension,
# which fails to activate there and logs console errors (voila-dashboards/voila#1514, open).
# Binder's environment has no Notebook 7; here it is switched off for Voila alone.
NOT_FOR_VOILA = ["--VoilaConfiguration.extension_denylist=['@jupyter-notebook/lab-extension']"]


def require_browser_tools() -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    pytest.importorskip("voila", reason="voila is not installed")
    require_chromium()


def state(page) -> dict:
    return page.evaluate(STATE_JS)


def wait_for_change(page, before: dict, what: str, server, errors,
                    timeout_s: float = TIMEOUT_S) -> dict:
    """Poll until the chart's src and the table's HTML both differ from ``before``."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = state(page)
        if now["src"] != before["src"] and now["table"] != before["table"] and now["loaded"]:
            return now
        assert not errors, f"after {what}:\n{errors}\nserver log:\n{server.log_tail()}"
        if time.monotonic() > deadline:
            changed = [name for name in ("src", "table") if now[name] != before[name]]
            pytest.fail(f"after {what}, the chart and the table did not both change within "
                        f"{timeout_s:.0f} s (changed: {changed or 'neither'}); server log:\n"
                        f"{server.log_tail()}")
        page.wait_for_timeout(100)


def slider_range(page) -> tuple[int, int, int]:
    """The top-N slider's min, max and value, from its noUiSlider handle's ARIA attributes."""
    handle = page.locator(TOP_HANDLE)
    return tuple(round(float(handle.get_attribute(f"aria-value{name}")))
                 for name in ("min", "max", "now"))


def set_top(page, n: int) -> None:
    """Type ``n`` into the IntSlider's editable readout and press Enter.

    ipywidgets 8 validates the readout on Enter and sets the value exactly (keys on the
    ``.noUi-handle`` work too, but PageUp/PageDown jump by several steps).
    """
    page.locator(TOP_READOUT).click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(str(n))
    page.keyboard.press("Enter")


def exercise_explorer(notebook: Path, picture: Path) -> dict[str, float]:
    """Open the explorer in Voila; change the dimension, then top N; each time the chart and
    the table must change. Returns cumulative timings in seconds."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    timings: dict[str, float] = {}
    start = time.monotonic()
    with voila_server(notebook, extra_args=NOT_FOR_VOILA) as server, \
            chromium_page() as (page, errors):
        timings["server up"] = time.monotonic() - start
        try:
            page.goto(server.url, wait_until="domcontentloaded")
            try:
                page.wait_for_function(RENDERED_JS)  # Voila runs the notebook first: 5-15 s
            except PlaywrightTimeout as error:  # say what the page showed instead
                text = page.locator("body").inner_text()[-3000:]
                pytest.fail(f"the explorer rendered no chart and table: {error}\npage text:\n"
                            f"{text}\n{errors}\nserver log:\n{server.log_tail()}")
            timings["rendered"] = time.monotonic() - start
            initial = state(page)

            # The dimension. ipywidgets 8 puts the labels, not the values, into the <option>s.
            dimension = page.locator(DIMENSION)
            labels = dimension.locator("option").all_inner_texts()
            assert {"Supplier", "Project", "Pathway", "Country"} <= set(labels), labels
            current = dimension.evaluate("select => select.selectedOptions[0]?.textContent")
            label = "Project" if current != "Project" else "Supplier"
            dimension.select_option(label=label)
            before = wait_for_change(page, initial, f"choosing the dimension {label!r}",
                                     server, errors)
            timings["dimension"] = time.monotonic() - start

            # Top N: two new values within the slider's range (its max is the number of
            # entities of the dimension, which may be small).
            low, high, value = slider_range(page)
            assert high > low, f"top N can only be {low}: too few entities to test the slider"
            for _ in range(2):
                n = next(n for n in (3, 5, 2, 4, low, high) if low <= n <= high and n != value)
                set_top(page, n)
                before = wait_for_change(page, before, f"setting top N to {n}", server, errors)
                assert page.locator(TOP_READOUT).inner_text().strip() == str(n)
                assert before["rows"] >= n, f"top {n}: the table has {before['rows']} body rows"
                value = n
            timings["top N"] = time.monotonic() - start

            assert not errors, f"{errors}\nserver log:\n{server.log_tail()}"
        finally:  # also after a failure: the screenshot shows what the page showed
            screenshot(page, picture)
    timings["total"] = time.monotonic() - start
    return timings


def test_explorer_chart_and_table_follow_the_controls():
    require_browser_tools()
    # A missing notebook is a failure, not a skip: this test exists to check it.
    assert EXPLORER.is_file(), f"the explorer notebook is missing: {EXPLORER}"
    exercise_explorer(EXPLORER, SCREENSHOTS / "explorer.png")

