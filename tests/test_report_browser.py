"""The report in a real browser: headless Chromium opens the file offline, as a stakeholder would.

Every request that is not the file itself (or a data: URL inside it) is aborted and counted,
and the browser is set offline as well: a report that needs the network fails here.
"""

from __future__ import annotations

import pytest

from .browser import ARTIFACTS, chromium_page, screenshot

pytestmark = pytest.mark.browser

# supplier and project holdings, pathway and country holdings and concentration each,
# durability, supplier concentration, orders, still to come by supplier (+ portfolio)
TABLES = {"demo_report": 10, "portfolio_report": 11}
# suppliers, projects, pathways, countries, durability, Lorenz curve, deliveries
# (+ retired share per organisation)
FIGURES = {"demo_report": 7, "portfolio_report": 8}
SECTIONS = ("Holdings by supplier", "Holdings by project", "Holdings by pathway and country",
            "Durability", "Concentration", "Deliveries", "Reconciliation", "Methods")


@pytest.mark.parametrize("built", ["demo_report", "portfolio_report"])
def test_the_report_opens_offline_with_every_figure_and_table(built, request):
    folder = request.getfixturevalue(built)
    url = (folder / "report.html").as_uri()
    with chromium_page(viewport=(1100, 900)) as (page, errors):
        outside, failed = [], []

        def only_the_file(route):
            address = route.request.url
            if address == url or address.startswith("data:"):
                route.continue_()
            else:
                outside.append(address)
                route.abort()

        page.route("**/*", only_the_file)
        page.on("requestfailed", lambda failure: failed.append(
            f"{failure.url}: {failure.failure}"))
        page.context.set_offline(True)
        page.goto(url, wait_until="load")
        page.wait_for_function("() => Array.from(document.images).every(image => image.complete)")

        images = page.eval_on_selector_all(
            "img", "images => images.map(image => [image.naturalWidth, image.naturalHeight])")
        tables = page.eval_on_selector_all(
            "table", "tables => tables.map(table => [table.rows.length, "
                     "table.getBoundingClientRect().height, table.className])")
        headings = page.eval_on_selector_all("h1, h2", "hs => hs.map(h => h.innerText)")
        banner = page.inner_text(".isoanalytics-source")
        screenshot(page, ARTIFACTS / "report" / f"{built}.png")

    assert not errors, str(errors)
    assert outside == [] and failed == []
    assert len(images) == FIGURES[built]
    assert all(width > 0 and height > 0 for width, height in images), images
    assert len(tables) == TABLES[built]
    for rows, height, css_class in tables:
        assert rows >= 2 and height > 0, css_class  # a header and at least one row, drawn
    assert [heading.rstrip("¶").strip() for heading in headings if heading][1:] == (
        (["Portfolio"] if built == "portfolio_report" else []) + list(SECTIONS))
    assert banner.startswith("DEMO DATA")
