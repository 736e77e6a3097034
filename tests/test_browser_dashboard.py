"""The dashboard in Voila, and the explorer's static copy, in Chromium with the network blocked.

The dashboard (``notebooks/dashboard.ipynb``) must show its title, the connection panel and the
app, and nothing code-oriented: no "Read the app from code", no ``PortfolioFetch(...)`` or other
repr, no DataFrame table other than the app's own, no static copy of the explorer. Switching a
dimension changes the chart and the table; *Show holdings over time* adds the time view. In
notebook 02, served by Voila, the explorer's static copy exists beside the widgets but is not
shown (the widgets render there). Every request to a host other than this machine is aborted,
and no console or page error may occur. Screenshots go to ``tests/artifacts/browser/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .browser import ARTIFACTS, TIMEOUT_S, chromium_page, is_loopback_url, screenshot, voila_server
from .test_browser import (
    DIMENSION,
    EXPLORER,
    NOT_FOR_VOILA,
    RENDERED_JS,
    require_browser_tools,
    state,
    wait_for_change,
)

pytestmark = pytest.mark.browser

DASHBOARD = Path(__file__).resolve().parents[1] / "notebooks" / "dashboard.ipynb"
SCREENSHOTS = ARTIFACTS / "browser"
CODE_TEXT = ("Read the app from code", "PortfolioFetch(", "Dashboard(", "Explorer(", "Connect(",
             "dashboard(", "import ", "app.summary")
# Tables on the page that are not the app's own (a DataFrame's repr is a table.dataframe).
STRAY_TABLES_JS = """() => Array.from(document.querySelectorAll('table'))
    .filter(table => !table.closest('.isoanalytics-explorer') || table.matches('.dataframe'))
    .length"""
STATIC_JS = """() => Array.from(document.querySelectorAll('.isoanalytics-static'),
    element => element.getBoundingClientRect().height > 0
        && getComputedStyle(element).display !== 'none')"""
TIME_CHART = "img.isoanalytics-time-chart"


def offline(page) -> list[str]:
    """Abort every request to another host; returns the list of the URLs aborted."""
    aborted: list[str] = []

    def route(route) -> None:
        if is_loopback_url(route.request.url):
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return aborted


def open_rendered(page, server, errors) -> None:
    page.goto(server.url, wait_until="domcontentloaded")
    try:
        page.wait_for_function(RENDERED_JS)
    except Exception as error:  # noqa: BLE001 - said with what the page showed
        pytest.fail(f"no chart and table: {error}\n{page.locator('body').inner_text()[-3000:]}"
                    f"\n{errors}\nserver log:\n{server.log_tail()}")


def test_the_dashboard_shows_the_app_and_nothing_code_oriented():
    require_browser_tools()
    assert DASHBOARD.is_file(), f"the dashboard notebook is missing: {DASHBOARD}"
    with voila_server(DASHBOARD, extra_args=NOT_FOR_VOILA) as server, \
            chromium_page() as (page, errors):
        offline(page)
        try:
            open_rendered(page, server, errors)
            text = page.locator("body").inner_text()
            assert "Carbon-removal credit holdings" in text
            for code in CODE_TEXT:
                assert code not in text, f"{code!r} shows on the dashboard:\n{text[:3000]}"
            assert page.locator(".isoanalytics-environment select").is_visible()
            assert page.locator(".isoanalytics-explorer").count() == 1
            assert page.evaluate(STRAY_TABLES_JS) == 0
            assert page.evaluate(STATIC_JS) == []  # no static copy inside a dashboard

            dimension = page.locator(DIMENSION)
            before = state(page)
            dimension.select_option(label="Country")
            after = wait_for_change(page, before, "choosing the dimension 'Country'", server,
                                    errors)
            assert "United States" in after["table"]

            page.get_by_role("button", name="Show holdings over time").click()
            page.wait_for_function(
                f"() => {{ const img = document.querySelector({TIME_CHART!r});"
                " return img && img.naturalWidth > 0; }",
                timeout=3 * TIMEOUT_S * 1000)  # seven ledgers are read first
            assert page.locator(".isoanalytics-time-table table").count() == 1
            assert page.evaluate(STRAY_TABLES_JS) == 0
            assert not errors, f"{errors}\nserver log:\n{server.log_tail()}"
        finally:
            screenshot(page, SCREENSHOTS / "dashboard.png")


def test_in_voila_the_explorer_static_copy_is_there_but_hidden():
    require_browser_tools()
    with voila_server(EXPLORER, extra_args=NOT_FOR_VOILA) as server, \
            chromium_page() as (page, errors):
        offline(page)
        open_rendered(page, server, errors)
        assert page.locator(".isoanalytics-static").count() == 1
        assert page.evaluate(STATIC_JS) == [False]  # the widgets render: the copy is hidden
        assert not errors, f"{errors}\nserver log:\n{server.log_tail()}"
