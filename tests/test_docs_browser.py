"""The documentation site in a real browser, opened from files with the network blocked.

The site is built once for this module with the README's docs command (warnings are errors),
into a temporary folder instead of docs/_build/html. Every request that is not a file: or
data: URL is aborted and counted, and the browser is set offline as well: a page that needs
the network (a CDN's script, font or stylesheet) fails here. Sphinx's search needs no server:
search.html loads searchindex.js with a script element, which works from file:.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .browser import ARTIFACTS, chromium_page, screenshot
from .conftest import REPO
from .test_readme import _between

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built by the README's docs command, its output folder moved to a tmp one."""
    command = shlex.split(_between("docs-command"))
    assert command[:3] == ["python", "-m", "sphinx"] and command[-1] == "docs/_build/html"
    out = tmp_path_factory.mktemp("site") / "html"
    result = subprocess.run([sys.executable, *command[1:-1], str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def _offline(page) -> tuple[list[str], list[str]]:
    """Abort (and list) every request that is not a file: or data: URL; list failures too."""
    outside, failed = [], []

    def only_files(route):
        address = route.request.url
        if address.startswith(("file://", "data:")):
            route.continue_()
        else:
            outside.append(address)
            route.abort()

    page.route("**/*", only_files)
    page.on("requestfailed", lambda request: failed.append(f"{request.url}: {request.failure}"))
    page.context.set_offline(True)
    return outside, failed


def _images(page) -> list[list]:
    page.wait_for_function("() => Array.from(document.images).every(image => image.complete)")
    return page.eval_on_selector_all(
        "img", "images => images.map(image => [image.naturalWidth, image.getAttribute('src')])")


def _png_outputs(notebook: Path) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum("image/png" in output.get("data", {})
               for cell in cells if cell["cell_type"] == "code"
               and "remove-output" not in cell.get("metadata", {}).get("tags", [])
               for output in cell.get("outputs", []))


def test_the_index_opens_offline_and_links_every_part(site):
    with chromium_page() as (page, errors):
        outside, failed = _offline(page)
        page.goto((site / "index.html").as_uri(), wait_until="load")
        images = _images(page)
        links = page.eval_on_selector_all(".bd-content a.reference.internal",
                                          "links => links.map(link => link.getAttribute('href'))")
        title = page.title()
        screenshot(page, SHOTS / "index.png")
    assert not errors, str(errors)
    assert outside == [] and failed == []
    assert title.startswith("isoanalytics")
    for target in ("getting-started.html", "tutorials/index.html", "guide/index.html",
                   "api/index.html", "changelog.html"):
        assert target in links, (target, links)
    assert images and all(width > 0 for width, _ in images), images  # the report's picture


TUTORIALS = {"01-quickstart": "Quickstart", "02-portfolio-explorer": "Portfolio explorer",
             "03-supplier-concentration": "Supplier concentration",
             "04-report": "Carbon-removal credit holdings"}  # 04: the report template, a link


@pytest.mark.parametrize("name", TUTORIALS)
def test_a_tutorial_shows_its_figures(site, name):
    expected = _png_outputs(REPO / "notebooks" / f"{name}.ipynb")
    assert expected >= 1  # each draws charts: the test would otherwise prove little
    with chromium_page() as (page, errors):
        outside, failed = _offline(page)
        page.goto((site / "tutorials" / f"{name}.html").as_uri(), wait_until="load")
        images = _images(page)
        heading = page.inner_text("h1")
        screenshot(page, SHOTS / f"tutorial-{name}.png")
    assert not errors, str(errors)
    assert outside == [] and failed == []  # 02's widget views load no script from a CDN
    assert heading.startswith(TUTORIALS[name])
    figures = [(width, src) for width, src in images if "_images/" in src]
    assert len(figures) == expected, images
    assert all(width > 0 for width, _ in images), images  # figures and formulas (03) drawn
    if name == "03-supplier-concentration":  # its formulas: pictures, not $...$ source
        assert sum(src.startswith("data:image/svg+xml") for _, src in images) >= 10, images


def test_the_api_page_of_parse_balance(site):
    with chromium_page() as (page, errors):
        outside, failed = _offline(page)
        page.goto((site / "api" / "isoanalytics.html").as_uri() + "#isoanalytics.parse_balance",
                  wait_until="load")
        entry = page.locator("dl.py.function:has(> dt#isoanalytics\\.parse_balance)")
        signature = entry.locator("> dt").inner_text()
        body = entry.locator("> dd").inner_text()
        visible = page.locator("dt#isoanalytics\\.parse_balance").is_visible()
    assert not errors, str(errors)
    assert outside == [] and failed == []
    assert visible
    assert signature.replace("\n", "").startswith("isoanalytics.parse_balance(")
    assert "Examples" in body and ">>>" in body and "Raises" in body


def test_search_finds_pages_from_files(site):
    with chromium_page() as (page, errors):
        outside, failed = _offline(page)
        page.goto((site / "search.html").as_uri() + "?q=concentration", wait_until="load")
        page.wait_for_selector("#search-results ul.search li a")
        page.wait_for_function("() => !document.querySelector('#search-results')"
                               ".innerText.includes('Searching')")
        hits = page.eval_on_selector_all("#search-results ul.search li a",
                                         "links => links.map(link => link.getAttribute('href'))")
    assert not errors, str(errors)
    assert outside == [] and failed == []
    pages = {hit.split("#")[0].split("?")[0] for hit in hits}
    # the metrics guide, the concentration tutorial and the API of concentration() at least
    for expected in ("guide/metrics.html", "tutorials/03-supplier-concentration.html",
                     "api/isoanalytics.html"):
        assert expected in pages, (expected, sorted(pages))


def test_no_page_loads_anything_from_outside(site):
    # The browser tests above open six pages; this reads every page and stylesheet of the
    # site for a resource it would load from another host (a CDN script, font or picture).
    loads = re.compile(r"""<(?:script|img|iframe|source)\b[^>]*\bsrc=["']([^"']+)"""
                       r"""|<link\b[^>]*\bhref=["']([^"']+)|url\(\s*["']?([^"')]+)""")
    outside = {}
    files = [*site.rglob("*.html"), *site.rglob("*.css")]
    assert len(files) > 20
    for path in files:
        for match in loads.finditer(path.read_text(errors="replace")):
            address = next(group for group in match.groups() if group)
            if re.match(r"(?:[a-z][a-z0-9+.-]*:)?//", address, re.IGNORECASE) and \
                    not address.startswith("data:"):
                outside.setdefault(address, str(path.relative_to(site)))
    assert outside == {}, outside
