"""The report in a real browser: headless Chromium opens the file offline, as a stakeholder would.

Every request that is not the file itself (or a data: URL inside it) is aborted and counted,
and the browser is set offline as well: a report that needs the network fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .browser import ARTIFACTS, chromium_page, screenshot

pytestmark = pytest.mark.browser

# The claims section's tables (beneficiary, purpose, pathway, vintage, durability, the
# retirements), supplier and project holdings, pathway and country holdings and concentration
# each, durability, supplier concentration, orders, still to come by supplier
TABLES = {"demo_report": 16}
# retirements per quarter, suppliers, projects, pathways, countries, durability, Lorenz
# curve, deliveries
FIGURES = {"demo_report": 8}
SECTIONS = ("Claims in the period", "Holdings by supplier", "Holdings by project",
            "Holdings by pathway and country", "Durability", "Concentration", "Deliveries",
            "Reconciliation", "Methods")
# Every report variant the browser tests open (session fixtures of conftest.py).
VARIANTS = ["demo_report", "portfolio_report", "empty_report", "one_supplier_report",
            "period_report"]
BANNERS = {"one_supplier_report": "SANDBOX"}  # read from a loopback registry, as a live one


@pytest.mark.parametrize("built", VARIANTS)
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
            "img", "images => images.map(image => [image.naturalWidth, image.naturalHeight, "
                   "image.alt])")
        tables = page.eval_on_selector_all(
            "table", "tables => tables.map(table => [table.rows.length, "
                     "table.getBoundingClientRect().height, table.className])")
        headings = page.eval_on_selector_all("h1, h2", "hs => hs.map(h => h.innerText)")
        banner = page.inner_text(".isoanalytics-source")
        screenshot(page, ARTIFACTS / "report" / f"{built}.png")

    assert not errors, str(errors)
    assert outside == [] and failed == []
    page_text = (folder / "report.html").read_text()
    # every picture and table of the file is loaded and drawn (the default report: exactly)
    assert len(images) == FIGURES.get(built, page_text.count("<img "))
    assert images or built == "empty_report"  # an organisation holding nothing: sentences
    assert all(width > 0 and height > 0 for width, height, _ in images), images
    assert all(alt and "No description" not in alt for _, _, alt in images), images
    assert len(tables) == TABLES.get(built, page_text.count("<table"))
    for rows, height, css_class in tables:
        assert rows >= 2 and height > 0, css_class  # a header and at least one row, drawn
    assert [heading.rstrip("¶").strip() for heading in headings if heading][1:] == (
        (["Portfolio"] if built == "portfolio_report" else []) + list(SECTIONS))
    assert banner.startswith(BANNERS.get(built, "DEMO DATA"))


# --- print, PDF and narrow screens -------------------------------------------------------------

PHONE = (375, 812)  # CSS pixels: a phone's window
MM = 96 / 25.4  # CSS pixels per millimetre
PDF_MM = 72 / 25.4  # PDF points per millimetre


def printable_width(paper: str) -> int:
    """The paper's width less its side margins, in whole CSS pixels (rounded down)."""
    from isoanalytics.present.pdf import MARGIN, PAPERS

    return int((PAPERS[paper][0] - 2 * MARGIN["side"]) * MM)


def open_offline(page, url: str) -> list[str]:
    """Load the report with every request but the file and data: URLs aborted; those are listed."""
    outside: list[str] = []

    def only_the_file(route):
        if route.request.url == url or route.request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_file)
    page.context.set_offline(True)
    page.goto(url, wait_until="load")
    page.wait_for_function("() => Array.from(document.images).every(image => image.complete)")
    return outside


# Boxes wider than the room they have, in the page's own layout (CSS pixels, 1 px of rounding).
OVERFLOWS = """() => {
  const room = document.documentElement.clientWidth;
  const wide = [];
  for (const element of document.querySelectorAll('table, img')) {
    const box = element.getBoundingClientRect();
    if (box.left < -1 || box.right > room + 1)
      wide.push(`${element.tagName}.${element.className}: ${box.left}..${box.right} of ${room}`);
    if (element.tagName === 'TABLE' && element.scrollWidth > element.clientWidth + 1)
      wide.push(`TABLE.${element.className} cut: ${element.scrollWidth} > ${element.clientWidth}`);
  }
  // Nothing at all (code shown with --with-code included) runs past the printable width.
  if (document.documentElement.scrollWidth > room + 1)
    wide.push(`the page: ${document.documentElement.scrollWidth} > ${room}`);
  // A box that would scroll sideways prints its scrollbar and hides what is beyond it.
  for (const element of document.querySelectorAll('body *')) {
    const overflow = getComputedStyle(element).overflowX;
    if (['auto', 'scroll'].includes(overflow) && element.scrollWidth > element.clientWidth + 1)
      wide.push(`scrolls: ${element.tagName}.${element.className}`);
  }
  return wide;
}"""


def page_lines(page, height: float, margin: float) -> tuple[list[tuple[float, str]], list[float]]:
    """A PDF page's body text as (baseline y, line) from the top down, and each picture's lowest
    y (PDF points from the bottom); the margins' text (banner, page number) is left out."""
    runs: dict[float, list[str]] = {}
    pictures: list[float] = []

    def text(value, cm, tm, font, size):
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if value.strip() and margin < y < height - margin:
            runs.setdefault(round(y), []).append(value.strip())

    def operator(name, operands, cm, tm):
        if name == b"Do":
            pictures.append(cm[5])

    page.extract_text(visitor_text=text, visitor_operand_before=operator)
    lines = [(y, " ".join(parts)) for y, parts in sorted(runs.items(), reverse=True)]
    return lines, pictures


def _squeezed(text: str) -> str:
    return "".join(text.split())  # pypdf's lines and the page's text differ in spacing


def stranded_headings(pdf: bytes, sections: dict[str, str]) -> list[str]:
    """Headings that end a page of the PDF: after them on the page only their own intro
    (``sections``: heading -> the text beside it in its cell), no chart, no table."""
    import io

    from isoanalytics.present.pdf import MARGIN

    pypdf = pytest.importorskip("pypdf", reason="pypdf reads the PDF back")
    found = []
    for number, page in enumerate(pypdf.PdfReader(io.BytesIO(pdf)).pages, start=1):
        lines, pictures = page_lines(page, float(page.mediabox.height),
                                     min(MARGIN["top"], MARGIN["bottom"]) * PDF_MM)
        # Up from the page's last line, past the lines of a heading's intro, to the heading.
        for position in range(len(lines) - 1, -1, -1):
            y, line = lines[position]
            heading = next((heading for heading in sections if line == heading
                            or (len(line) > 12 and heading.endswith(line))), None)
            if heading is not None:
                intro = _squeezed(sections[heading])
                after = [_squeezed(text) for _, text in lines[position + 1:]]
                if all(text in intro for text in after) and not any(
                        bottom < y for bottom in pictures):
                    found.append(f"page {number}: {heading!r}")
                break
    return found


# Each h2 and h3 with the text after it in the same cell (its intro), as printed: up to the
# next heading, or to the table or picture it heads (a heading followed by its table on the
# page is kept with what follows).
SECTION_INTROS = """() => Object.fromEntries(Array.from(document.querySelectorAll('h2, h3'),
                                                        heading => {
  let intro = '', next = heading.nextElementSibling;
  for (; next && !/^H[1-6]$/.test(next.tagName) && next.tagName !== 'TABLE'
         && !next.querySelector('table, img'); next = next.nextElementSibling)
    intro += ' ' + next.textContent;
  return [heading.textContent.replace('\u00b6', '').trim(), intro];
}))"""


@pytest.mark.parametrize("paper", ["A4", "Letter"])
@pytest.mark.parametrize("built", VARIANTS)
def test_the_printed_report_fits_the_page_and_keeps_headings_with_their_sections(
        built, paper, request):
    from isoanalytics.present.pdf import print_pdf

    html = request.getfixturevalue(built) / "report.html"
    width = printable_width(paper)
    with chromium_page(viewport=(width, 1000)) as (page, errors):
        page.emulate_media(media="print")
        outside = open_offline(page, html.as_uri())
        wide = page.evaluate(OVERFLOWS)
        sections = page.evaluate(SECTION_INTROS)
        screenshot(page, ARTIFACTS / "report" / f"{built}-print-{paper}.png")
    assert not errors, str(errors)
    assert outside == []
    assert wide == [], wide
    pdf = print_pdf(html.read_text(encoding="utf-8"), paper=paper)
    (ARTIFACTS / "report" / f"{built}-{paper}.pdf").write_bytes(pdf)
    assert sections and stranded_headings(pdf, sections) == []
    _first_page_png(ARTIFACTS / "report" / f"{built}-{paper}.pdf")


def _first_page_png(pdf: Path) -> None:
    """The PDF's first page as a PNG beside it, when poppler's pdftoppm is installed."""
    import shutil
    import subprocess

    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
                        str(pdf), str(pdf.with_suffix(""))], check=True, timeout=60)


@pytest.mark.parametrize("built", VARIANTS)
def test_on_a_phone_tables_scroll_in_their_own_box_never_the_page(built, request):
    html = request.getfixturevalue(built) / "report.html"
    with chromium_page(viewport=PHONE) as (page, errors):
        assert open_offline(page, html.as_uri()) == []
        sideways = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
        tables = page.eval_on_selector_all("table", """tables => tables.map(table => {
            const box = table.getBoundingClientRect();
            return [table.className, box.left, box.right, getComputedStyle(table).overflowX,
                    table.scrollWidth > table.clientWidth];
        })""")
        screenshot(page, ARTIFACTS / "report" / f"{built}-phone.png")
    assert not errors, str(errors)
    assert sideways[0] <= sideways[1] + 1, sideways
    assert tables or built == "empty_report"  # an organisation holding nothing: sentences
    for css_class, left, right, overflow, scrolls in tables:
        assert left >= -1 and right <= PHONE[0] + 1, (css_class, left, right)
        assert overflow == "auto" or not scrolls, css_class  # what does not fit scrolls


@pytest.mark.parametrize("built", VARIANTS)
def test_screen_screenshots_of_every_variant(built, request):
    html = request.getfixturevalue(built) / "report.html"
    with chromium_page(viewport=(1100, 900)) as (page, errors):
        assert open_offline(page, html.as_uri()) == []
        screenshot(page, ARTIFACTS / "report" / f"{built}-screen.png")
    assert not errors, str(errors)
