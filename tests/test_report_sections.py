"""The report's sections (issue 15: risk sections, portfolio fixes, empty and edge cases).

Each report variant is built once (the session fixtures of conftest.py, and the empty one
here) and read as its reader gets it: the h2 headings in order, the tables as cells, every
picture's alt text.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import isoanalytics as ia
from isoanalytics import demo, tables, tonnes
from isoanalytics.plots import sort_orders
from isoanalytics.present.sentences import status_word

from .conftest import ONE_SUPPLIER

BEFORE = ["Holdings by supplier", "Holdings by project", "Holdings by pathway and country",
          "Durability"]
AFTER = ["Concentration", "Deliveries", "Reconciliation", "Methods"]
SECTIONS = ["Claims in the period", *BEFORE, *AFTER]
ALT = re.compile(r'<img\b[^>]*\balt="([^"]*)"')
IMG = re.compile(r"<img\b[^>]*>")


class _Tables(HTMLParser):
    """Every table of a page as (class, rows of cell texts), and the h2 headings."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self.headings: list[str] = []
        self._cell: list[str] | None = None
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append((dict(attrs).get("class") or "", []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
        elif tag == "h2":
            self._heading = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "h2" and self._heading is not None:
            self.headings.append("".join(self._heading).replace("¶", "").strip())
            self._heading = None

    def handle_data(self, data):
        for part in (self._cell, self._heading):
            if part is not None:
                part.append(data)


def _read(folder: Path) -> tuple[str, _Tables]:
    page = (folder / "report.html").read_text()
    parsed = _Tables()
    parsed.feed(page)
    return page, parsed


def _table(parsed: _Tables, css_class: str, *, first: bool = False) -> list[list[str]]:
    found = [rows for name, rows in parsed.tables if css_class in name.split()]
    assert len(found) == 1 or (first and found), (css_class, [name for name, _ in parsed.tables])
    return found[0]


VARIANTS = ["demo_report", "portfolio_report", "empty_report", "one_supplier_report",
            "period_report"]


@pytest.mark.parametrize("built", VARIANTS)
def test_every_section_is_there_in_order(built, request):
    _, parsed = _read(request.getfixturevalue(built))
    lead = ["Portfolio"] if built == "portfolio_report" else []
    assert parsed.headings == lead + SECTIONS
    assert "Order delivery progress" not in parsed.headings


@pytest.mark.parametrize("built", VARIANTS)
def test_every_picture_says_what_it_shows(built, request):
    page, _ = _read(request.getfixturevalue(built))
    pictures = IMG.findall(page)
    alts = [html.unescape(alt) for alt in ALT.findall(page)]
    assert len(alts) == len(pictures)  # every <img> has an alt
    for alt in alts:
        assert "No description" not in alt
        assert alt.split()[0] in ("Bar", "Lorenz", "Step"), alt  # what kind of chart
        assert re.search(r"\d", alt), alt  # and its key figure


def test_the_risk_sections_of_the_default_buyer(demo_report):
    page, parsed = _read(demo_report)
    with ia.RegistryClient.demo() as client:
        balance = client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
        projects = client.projects()
    for by in ("pathway", "country"):
        summary = ia.breakdown(balance, by, projects=projects)
        figures = ia.concentration(summary["total_kgs"])
        assert (f"{by.capitalize()} concentration is <b>{figures.level}</b>: "
                f"HHI {figures.hhi:,.0f}") in page
    # notebook 03's figures: 96 % in one pathway (HHI 9,276), 82 % in one country
    assert "HHI 9,276 across 2 pathways" in page and "holds 81.6 % of the credits" in page
    assert "Pathways holding credits" in page and "Countries holding credits" in page
    durable = ia.breakdown(balance, "durability", projects=projects)
    kgs = int(durable.loc["1000+ years", "total_kgs"])
    assert f"({tonnes(kgs)} of {tonnes(balance.total_kgs)} tCO2e) are stored for 1,000 years" \
        in page
    assert "this package&#x27;s reading of the Isometric protocol" in page \
        or "this package's reading of the Isometric protocol" in page
    rows = _table(parsed, "isoanalytics-orders")
    assert rows[0] == ["Order", "Contract date", "Supplier", "Status", "Ordered (tCO2e)",
                       "Delivered (tCO2e)", "Remaining (tCO2e)", "Delivered", "Behind"]
    assert "in_progress" not in page and "In progress" in page
    assert "No order is behind" in page
    exposure = _table(parsed, "isoanalytics-exposure")
    assert exposure[1][0] == "Deepwell Carbon" and exposure[1][6] == "707.137"
    assert "707.137 tCO2e are still to be delivered, all of it by one supplier" in page


def test_the_portfolio_order_table_is_sorted_as_its_chart_with_one_exact_other_row_each(
        portfolio_report):
    _, parsed = _read(portfolio_report)
    rows = _table(parsed, "isoanalytics-orders")
    assert rows[0][:4] == ["Organisation", "Order", "Contract date", "Supplier"]
    buyers = demo.registry().buyers
    with ia.RegistryClient.demo() as client:
        names = {org: client.organisation(org)["name"] for org in buyers.values()}
        for role, top in (("concentrated", 3), ("diversified", 3)):
            org = buyers[role]
            planned = sort_orders(ia.delivery_schedule(client, org, as_of=demo.AS_OF).orders)
            mine = [row for row in rows[1:-1] if row[0] == names[org]]
            assert [row[1] for row in mine[:top]] == planned["order_id"].tolist()[:top]
            assert [row[4] for row in mine[:top]] == [
                status_word(status) for status in planned["status"][:top]]
            rest = planned.iloc[top:]
            other = mine[top]
            assert other[1] == f"Other ({len(rest)} orders)" and len(mine) == top + 1
            assert other[5:8] == [tonnes(int(rest[column].sum())) for column in
                                  ("ordered_kgs", "delivered_kgs", "remaining_kgs")]
    assert rows[-1][0].startswith("Total (")


def test_the_portfolio_names_each_largest_supplier_and_says_total(portfolio_report):
    page, parsed = _read(portfolio_report)
    rows = _table(parsed, "isoanalytics-portfolio")
    assert "Total (tCO2e)" in rows[0] and "Held (tCO2e)" not in rows[0]
    largest = {row[0]: row[-1] for row in rows[1:-1]}
    assert largest["Harbourline Freight"] == "Deepwell Carbon (69.6 %)"
    assert largest["Brightpath Ventures"] == "n/a"  # holds nothing
    assert "Total (active + retired)" in page and "Held (active + retired)" not in page


def test_the_footer_never_names_more_than_there_are(demo_report, portfolio_report):
    single, _ = _read(demo_report)
    assert "all 5 suppliers, all 8 projects" in single and "top 10 suppliers" not in single
    several, _ = _read(portfolio_report)
    assert re.search(r"the top 3 of \d+ suppliers", several)


def test_nothing_held_gets_a_sentence_for_each_chart_and_no_empty_frame(empty_report):
    page, parsed = _read(empty_report)
    assert IMG.findall(page) == []
    # suppliers, projects, pathways, countries; the durability sentence says it itself
    assert page.count("Nothing to show: this organisation holds no credits") == 4
    assert "top 0 of 0" not in page and "Lorenz curve below" not in page
    assert "No credits are held, so there is no concentration to measure." in page
    assert "No credits are held, so there is no durability mix." in page
    assert "No orders are recorded for these organisations." in page
    assert not [name for name, _ in parsed.tables if "isoanalytics-concentration" in name]


def test_one_supplier_has_no_lorenz_curve_but_a_sentence(one_supplier_report):
    page, parsed = _read(one_supplier_report)
    suppliers = _table(parsed, "isoanalytics-summary", first=True)  # holdings by supplier
    assert [row[0] for row in suppliers[1:]] == [ONE_SUPPLIER, "Total"]
    assert f"All of it comes from one supplier, {ONE_SUPPLIER}: there is no spread" in page
    assert "Lorenz" not in " ".join(ALT.findall(page)) and "Lorenz curve below" not in page
    assert "across 1 supplier;" in page
    orders = _table(parsed, "isoanalytics-orders")
    assert {row[2] for row in orders[1:-1]} == {ONE_SUPPLIER}
    assert "<b>SANDBOX</b>" in page  # read as a live registry, through ISOMETRIC_* variables


def test_reconciliation_findings_come_first_and_say_which_way_and_why():
    with ia.RegistryClient.demo() as client:
        buyers = demo.registry().buyers
        orgs = [buyers["typical"], buyers["concentrated"]]
        frame = ia.fetch_balances(orgs, client=client, progress=False).frame
        names = {org: client.organisation(org)["name"] for org in orgs}
        moved = int(client.transfers(to_organisation_id=buyers["typical"])["transferred_kgs"].sum())
    checks = ia.reconcile(frame)
    text = tables.reconciliation_findings_html(checks, names, {buyers["typical"]: moved})
    finding = ("Corvid Payments: orders account for 40.385 tCO2e less than the active total "
               "(410.046 of 450.431 tCO2e): credits that arrived outside any order, by transfer "
               "from another organisation or by a buffer-pool refund; the registry lists 40.385 "
               "tCO2e transferred in, exactly the difference.")
    assert html.unescape(text).index(finding) < text.index("All other")
    assert "All other 11 checks (project, supplier and order balances, active and retired, of "\
        "each organisation) add up" in text
    assert text.count("<li>") == 1 and "<table" not in text  # not 12 rows to show one


def test_a_surplus_of_the_orders_is_said_the_other_way():
    checks = pd.DataFrame({
        "organisation_id": ["org_A"], "level": ["order"], "status": ["retired"],
        "listed_kgs": pd.array([5_000], dtype="Int64"), "total_kgs": [4_000],
        "difference_kgs": pd.array([1_000], dtype="Int64"),
        "balanced": pd.array([False], dtype="boolean"), "note": [""]})
    text = tables.reconciliation_findings_html(checks)
    assert "orders account for 1.000 tCO2e more than the retired total" in text
    assert "All other 0 checks" in text


def test_alt_texts_name_the_chart_its_rows_and_its_key_figure():
    from isoanalytics.present import alt

    with ia.RegistryClient.demo() as client:
        ids = list(demo.registry().buyers.values())
        frame = ia.fetch_balances(ids, client=client, progress=False).frame
        by_supplier = ia.breakdown(frame, "supplier", projects=client.projects())
        by_durability = ia.breakdown(frame, "durability", projects=client.projects())
    folded = ia.top_n(by_supplier, 10)
    text = alt.holdings_alt(by_supplier, 10)
    assert text.startswith("Bar chart of active and retired credits (tCO2e) by supplier, the "
                           f"top 10 of {len(by_supplier)} suppliers and one Other bar")
    assert f"the Other bar holds {tonnes(int(folded['total_kgs'].iloc[-1]))} tCO2e" in text
    assert "the largest, Deepwell Carbon, holds 4,753.025 tCO2e (17.2 %" in text
    assert f"all {len(by_durability)} durability classes" in alt.holdings_alt(by_durability)
    assert alt.lorenz_alt(ia.concentration(frame, by="supplier")).endswith(
        "largest supplier 17.2 %.")
