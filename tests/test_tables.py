"""HTML tables of exact quantities: totals from integer kilograms, escaping, verdicts."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given

import isoanalytics as ia
from isoanalytics import demo, tables, tonnes
from isoanalytics.analysis.dimensions import top_n

from .conftest import bodies


def rows(table: str) -> list[list[str]]:
    """The table's rows (header, body, total) as lists of unescaped cell texts."""
    return [[html.unescape(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table)]


@pytest.fixture(scope="module")
def demo_portfolio():
    with ia.RegistryClient.demo() as client:
        fetched = ia.fetch_balances(list(demo.registry().buyers.values()), client=client,
                                    progress=False)
        orders = pd.concat([client.orders(org) for org in fetched.balances], ignore_index=True)
        return fetched.frame, client.projects(), orders


@given(bodies())
def test_the_holdings_total_is_the_exact_sum(body):
    balance = ia.parse_balance(body)
    summary = ia.summarize(balance, by="supplier")
    for units, exact in (("tCO2e", tonnes), ("kg", lambda kgs: f"{kgs:,}")):
        total = rows(tables.holdings_html(top_n(summary, 3) if len(summary) else summary,
                                          units=units))[-1]
        assert total[0] == "Total"
        assert total[1:4] == [exact(int(summary[f"{status}_kgs"].sum()))
                              for status in ("active", "retired", "total")]


def test_names_from_the_registry_are_escaped():
    summary = pd.DataFrame(
        {"active_kgs": [5], "retired_kgs": [0], "total_kgs": [5], "retired_share": [0.0],
         "share": [1.0], "supplier_name": ['<img src=x onerror="alert(1)">']},
        index=pd.Index(["spl_1"], name="supplier_id"))
    table = tables.holdings_html(summary)
    assert "<img" not in table and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in table
    assert rows(table)[1][0] == '<img src=x onerror="alert(1)">'


def test_portfolio_rows_and_total(demo_portfolio):
    frame, _, _ = demo_portfolio
    summary = ia.summarize(frame, by="organisation")
    figures = {org: ia.concentration(part, by="supplier")
               for org, part in frame.groupby("organisation_id")}
    table = rows(tables.portfolio_html(summary, figures))
    assert len(table) == 2 + len(summary)
    assert table[-1][0] == f"Portfolio ({len(summary)} organisations)"
    assert table[-1][3] == tonnes(int(frame.query("level == 'organisation'")["credit_kgs"].sum()))
    empty = demo.registry().buyers["empty"]
    empty_row = next(row for row in table if row[0] == empty)
    assert empty_row[1:4] == ["0.000"] * 3 and empty_row[6:] == ["0", "n/a", "n/a"]


def test_orders_table_adds_up(demo_portfolio):
    _, _, orders = demo_portfolio
    table = rows(tables.orders_html(orders))
    assert len(table) == 2 + len(orders)
    assert table[-1][2:5] == [tonnes(int(orders[column].sum())) for column in
                              ("ordered_kgs", "delivered_kgs", "remaining_kgs")]
    with pytest.raises(ValueError, match="orders_html.*missing column.*delivered_kgs"):
        tables.orders_html(orders.drop(columns="delivered_kgs"))


def test_reconciliation_verdicts():
    checks = pd.DataFrame({
        "organisation_id": ["org_a"] * 3, "level": ["project", "supplier", "order"],
        "status": ["active"] * 3,
        "listed_kgs": pd.array([10, 7, None], dtype="Int64"),
        "total_kgs": [10, 10, 10],
        "difference_kgs": pd.array([0, -3, None], dtype="Int64"),
        "balanced": pd.array([True, False, None], dtype="boolean"),
        "note": ["", "", "the body has no order_balances"],
    })
    table = rows(tables.reconciliation_html(checks))
    assert [row[-1] for row in table[1:]] == [
        "adds up", "differs by -0.003 tCO2e", "the body has no order_balances"]
    assert table[3][1] == "n/a"


def test_concentration_of_nothing_reads_na():
    table = rows(tables.concentration_html(ia.concentration(pd.Series([0, 0], name="kg"))))
    assert table[1][1] == "0" and table[2][1] == "n/a" and table[3][1] == "n/a (nothing held)"


def test_headline_is_exact_and_refuses_a_non_summary(demo_portfolio):
    frame, _, _ = demo_portfolio
    summary = ia.summarize(frame, by="organisation")
    active = int(summary["active_kgs"].sum())
    assert f"{tonnes(active)} tCO2e" in tables.headline_html(summary)
    assert f"{active:,} kg active" in tables.headline_html(summary)
    with pytest.raises(TypeError, match="headline_html"):
        tables.headline_html(np.array([1, 2]))
    with pytest.raises(ValueError, match="units must be one of 'tCO2e', 'kg'"):
        tables.holdings_html(summary, units="t")
