"""HTML tables of exact quantities, for the explorer and the report.

Numbers are formatted from the integer kilograms (tonnes with three decimals, or kg), never
summed as floats; every text is HTML-escaped, because names come from the registry; and a
table that lists parts of a whole ends with the whole (a ``<tfoot>`` row), so a reader can
check that the rows add up. Each function returns an HTML fragment: put it in an
``ipywidgets.HTML`` or show it with ``IPython.display.HTML``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._format import name_or_id, percent, quantity, tonnes
from .._options import check_integer
from ..analysis.deliveries import DeliveryExposure
from ..analysis.dimensions import check_summary, entity_noun, label
from ..analysis.metrics import Concentration, ratio, totals
from ..analysis.timeline import pivot_timeline
from ..records.frames import check_columns
from .sentences import plural, reconciliation_finding, status_word

__all__ = [
    "changes_html",
    "claims_html",
    "claims_organisations_html",
    "concentration_html",
    "exposure_html",
    "headline_html",
    "holdings_html",
    "orders_html",
    "portfolio_html",
    "reconciliation_findings_html",
    "reconciliation_html",
    "retirements_html",
    "schedule_html",
    "timeline_html",
]

_LEFT = 'style="text-align:left"'
_RIGHT = 'style="text-align:right;white-space:nowrap"'


def _row(cells: Sequence[str]) -> str:
    # The first cell names the row; the others are figures, right-aligned to line up digits.
    first, *rest = cells
    return (f"<tr><th {_LEFT}>{html.escape(first)}</th>"
            + "".join(f"<td {_RIGHT}>{html.escape(cell)}</td>" for cell in rest) + "</tr>")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, css_class: str,
           total: Sequence[str] | None = None) -> str:
    head = "".join(f"<th {_LEFT if position == 0 else _RIGHT}>{html.escape(text)}</th>"
                   for position, text in enumerate(header))
    body = "".join(_row(row) for row in rows)
    foot = f'<tfoot style="font-weight:bold">{_row(total)}</tfoot>' if total else ""
    return (f'<table class="isoanalytics-table {css_class}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody>{foot}</table>")


def _totals(summary: pd.DataFrame) -> tuple[int, int, int]:
    """Active, retired and held kilograms of a summary: exact integer sums."""
    held = totals(summary)
    return held.active_kgs, held.retired_kgs, held.total_kgs


def _rows(frame: pd.DataFrame) -> Iterator[Any]:
    # pandas-stubs type every field of itertuples() as the union of all scalars pandas can
    # hold; the frames here were checked first (check_summary, check_columns), so the fields
    # are what their columns hold (int64 kg, float shares, text) and are read as such.
    return frame.itertuples()


def _share(part: int, whole: int) -> str:
    return percent(ratio(int(part), int(whole)))


def headline_html(summary: pd.DataFrame) -> str:
    """The headline: active, retired and total tCO2e and the retired share, large, with the
    exact kilograms beneath.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo, summarize
    >>> from isoanalytics.tables import headline_html
    >>> with RegistryClient.demo() as client:
    ...     balance = client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
    >>> f"{balance.active_kgs:,} kg active" in headline_html(summarize(balance, by="organisation"))
    True
    """
    check_summary(summary, "headline_html")
    active, retired, held = _totals(summary)
    figures = (("Active", f"{tonnes(active)} tCO2e"), ("Retired", f"{tonnes(retired)} tCO2e"),
               ("Total (active + retired)", f"{tonnes(held)} tCO2e"),
               ("Retired share", _share(retired, held)))
    cards = "".join(
        '<div style="border:1px solid #bbb;border-radius:6px;padding:0.5em 1em;min-width:11em">'
        f'<div style="font-size:1.5em;font-weight:bold">{html.escape(value)}</div>'
        f"<div>{html.escape(name)}</div></div>" for name, value in figures)
    exact = (f"Exact: {active:,} kg active, {retired:,} kg retired, {held:,} kg in total "
             "(one tCO2e credit is 1,000 kg).")
    return (f'<div class="isoanalytics-headline" style="display:flex;flex-wrap:wrap;gap:0.8em">'
            f"{cards}</div><p>{html.escape(exact)}</p>")


def holdings_html(summary: pd.DataFrame, *, units: str = "tCO2e") -> str:
    """Active, retired and total holdings per row of a summary, with a Total row.

    Rows are labelled with names where the summary has them (after :func:`~isoanalytics.enrich`
    or :func:`~isoanalytics.breakdown`); a ``top_n`` "Other (k)" row is shown like any other.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, breakdown, demo, top_n
    >>> from isoanalytics.tables import holdings_html
    >>> with RegistryClient.demo() as client:
    ...     by_supplier = breakdown(client.credit_balance(demo.DEFAULT_ORGANISATION_ID))
    >>> table = holdings_html(top_n(by_supplier, 3))
    >>> "Other (2)" in table, "<tfoot" in table
    (True, True)
    """
    check_summary(summary, "holdings_html")
    quantity(0, units)  # refuses other units before any work
    rows = [(name, quantity(row.active_kgs, units), quantity(row.retired_kgs, units),
             quantity(row.total_kgs, units), percent(row.retired_share), percent(row.share))
            for name, row in zip(label(summary), _rows(summary), strict=True)]
    active, retired, held = _totals(summary)
    total = ("Total", quantity(active, units), quantity(retired, units), quantity(held, units),
             _share(retired, held), percent(1.0 if held else np.nan))
    header = (entity_noun(summary).capitalize(), f"Active ({units})", f"Retired ({units})",
              f"Total ({units})", "Retired share", "Share")
    return _table(header, rows, total=total, css_class="isoanalytics-summary")


def concentration_html(figures: Concentration) -> str:
    """The concentration figures, each with what it means for a buyer.

    Examples
    --------
    >>> from isoanalytics import concentration
    >>> from isoanalytics.tables import concentration_html
    >>> import pandas as pd
    >>> two_equal = concentration(pd.Series([50, 50], name="total_kgs"))
    >>> "5,000" in concentration_html(two_equal)  # the HHI of two equal holdings
    True
    """
    noun = figures.by or "entity"
    several = plural(noun)
    level = figures.level or "n/a (nothing held)"
    rows = [
        (f"{several.capitalize()} holding credits", f"{figures.n:,}",
         "how many the holding is spread over"),
        ("HHI", _number(figures.hhi, "{:,.0f}"),
         ("0 to 10,000: the sum of squared shares; above 1,800 is highly concentrated, "
          "1,000 to 1,800 moderately (2023 US Merger Guidelines)")),
        ("Guideline level", level, "the HHI's band"),
        ("CR1", percent(figures.cr1), f"share of the largest {noun}"),
        ("CR3", percent(figures.cr3), _cr3_meaning(figures.n, noun)),
        ("Effective number", _number(figures.effective_n, "{:.1f}"),
         f"how many equal {several} would be as concentrated (10,000 / HHI)"),
        ("Gini", _number(figures.gini, "{:.2f}"), "0 for equal holdings, towards 1 for one"),
    ]
    # The explanation reads as prose: left-aligned like the names, so it is a row of three.
    body = "".join(f"<tr><th {_LEFT}>{html.escape(name)}</th><td {_RIGHT}>{html.escape(value)}"
                   f"</td><td {_LEFT}>{html.escape(meaning)}</td></tr>"
                   for name, value, meaning in rows)
    return (f'<table class="isoanalytics-table isoanalytics-concentration"><thead><tr>'
            f"<th {_LEFT}>Figure</th><th {_RIGHT}>Value</th><th {_LEFT}>Meaning</th></tr>"
            f"</thead><tbody>{body}</tbody></table>")


def _cr3_meaning(n: int, noun: str) -> str:
    # Never "the three largest" of fewer than three.
    if n == 1:
        return f"share of the one {noun}"
    if n == 2:
        return f"share of both {plural(noun)} (there are fewer than three)"
    return f"share of the three largest {plural(noun)}"


def _number(value: float, pattern: str) -> str:
    return "n/a" if value is None or np.isnan(value) else pattern.format(value)


def orders_html(orders: pd.DataFrame) -> str:
    """Each order's delivery: ordered, delivered and remaining tCO2e, with a Total row.

    Takes the frame of :meth:`RegistryClient.orders`, for one organisation or several.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.tables import orders_html
    >>> with RegistryClient.demo() as client:
    ...     table = orders_html(client.orders(demo.DEFAULT_ORGANISATION_ID))
    >>> table.count("<tr>") - 2  # one row per order, between the header and the Total
    6
    """
    check_columns(orders, ("supplier_name", "status", "ordered_kgs", "delivered_kgs",
                           "remaining_kgs"), "orders_html",
                  "the frame of client.orders(organisation_id)")
    ordered = orders.sort_values("ordered_kgs", ascending=False, kind="stable")
    supplier_ids = (ordered["supplier_id"].tolist() if "supplier_id" in ordered.columns
                    else [""] * len(ordered))
    rows = [(name_or_id(row.supplier_name, supplier_id), str(row.status), tonnes(row.ordered_kgs),
             tonnes(row.delivered_kgs), tonnes(row.remaining_kgs),
             _share(row.delivered_kgs, row.ordered_kgs))
            for row, supplier_id in zip(_rows(ordered), supplier_ids, strict=True)]
    ordered_kgs, delivered_kgs, remaining_kgs = (int(orders[column].sum()) for column in
                                                 ("ordered_kgs", "delivered_kgs", "remaining_kgs"))
    total = (f"Total ({len(orders)} orders)", "", tonnes(ordered_kgs), tonnes(delivered_kgs),
             tonnes(remaining_kgs), _share(delivered_kgs, ordered_kgs))
    header = ("Supplier", "Status", "Ordered (tCO2e)", "Delivered (tCO2e)",
              "Remaining (tCO2e)", "Delivered")
    return _table(header, rows, total=total, css_class="isoanalytics-orders")


def _cells(cells: Sequence[str], text: Sequence[bool], tag: str = "td") -> str:
    # Text columns (ids, dates, names, words) read left-aligned; figures right-aligned.
    first, *rest = cells
    return (f"<tr><th {_LEFT}>{html.escape(first)}</th>"
            + "".join(f"<{tag} {_LEFT if left else _RIGHT}>{html.escape(cell)}</{tag}>"
                      for cell, left in zip(rest, text[1:], strict=True)) + "</tr>")


def _mixed_table(header: Sequence[str], rows: Sequence[Sequence[str]], text: Sequence[bool], *,
                 css_class: str, total: Sequence[str] | None = None) -> str:
    head = "".join(f"<th {_LEFT if left else _RIGHT}>{html.escape(name)}</th>"
                   for name, left in zip(header, text, strict=True))
    body = "".join(_cells(row, text) for row in rows)
    foot = f'<tfoot style="font-weight:bold">{_cells(total, text)}</tfoot>' if total else ""
    return (f'<table class="isoanalytics-table {css_class}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody>{foot}</table>")


_SCHEDULE = ("order_id", "supplier_name", "status", "effective_contract_date", "ordered_kgs",
             "delivered_kgs", "remaining_kgs", "behind")
_ORDER_KGS = ("ordered_kgs", "delivered_kgs", "remaining_kgs")


def _day(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d}"


def schedule_html(orders: pd.DataFrame, *, top: int = 10,
                  names: Mapping[str, str] | None = None) -> str:
    """A delivery schedule's orders: order id, contract date, supplier, status in words,
    ordered, delivered and remaining tCO2e, delivered share and whether it is behind.

    Orders are sorted as :func:`~isoanalytics.plots.delivery_chart` draws them (most
    remaining first, then most ordered, then by id): the first ``top`` of each organisation
    by name, the rest one "Other (k orders)" row of their exact sums. With an
    ``organisation_id`` column holding several organisations, each row starts with its
    organisation (named by ``names``), in the order they first appear.

    Parameters
    ----------
    orders : DataFrame
        :func:`~isoanalytics.delivery_schedule`'s ``.orders`` (stacked, with
        ``organisation_id``, for several organisations).

    Examples
    --------
    >>> from isoanalytics import RegistryClient, delivery_schedule, demo
    >>> from isoanalytics.tables import schedule_html
    >>> with RegistryClient.demo() as client:
    ...     planned = delivery_schedule(client, demo.registry().buyers["typical"],
    ...                                 as_of=demo.AS_OF)
    >>> table = schedule_html(planned.orders, top=2)
    >>> ">Other (2 orders)</th>" in table, ">In progress</td>" in table, table.count("<tr>")
    (True, True, 5)
    """
    from .plots import sort_orders

    check_columns(orders, _SCHEDULE, "schedule_html",
                  "the orders of isoanalytics.delivery_schedule(client, organisation_id)")
    check_integer("top", top)
    labels = {} if names is None else names
    several = "organisation_id" in orders.columns and orders["organisation_id"].nunique() > 1
    groups = (orders.groupby("organisation_id", sort=False) if several
              else [(None, orders)])
    rows: list[tuple[str, ...]] = []
    for organisation_id, part in groups:
        lead = ((name_or_id(labels.get(str(organisation_id)), organisation_id),)
                if several else ())
        listed = sort_orders(part)
        for row in _rows(listed.iloc[:top]):
            rows.append((*lead, str(row.order_id), _day(row.effective_contract_date),
                         name_or_id(row.supplier_name, ""), status_word(row.status),
                         tonnes(row.ordered_kgs), tonnes(row.delivered_kgs),
                         tonnes(row.remaining_kgs), _share(row.delivered_kgs, row.ordered_kgs),
                         "behind" if row.behind else ""))
        rest = listed.iloc[top:]
        if len(rest):
            ordered_kgs, delivered_kgs, remaining_kgs = (
                int(rest[column].to_numpy(np.int64).sum()) for column in _ORDER_KGS)
            late = int(rest["behind"].astype(bool).sum())
            rows.append((*lead, f"Other ({len(rest)} {plural('order', len(rest))})", "", "", "",
                         tonnes(ordered_kgs), tonnes(delivered_kgs), tonnes(remaining_kgs),
                         _share(delivered_kgs, ordered_kgs), f"{late} behind" if late else ""))
    ordered_kgs, delivered_kgs, remaining_kgs = (int(orders[column].to_numpy(np.int64).sum())
                                                 for column in _ORDER_KGS)
    count = f"Total ({len(orders):,} {plural('order', len(orders))})"
    late = int(orders["behind"].astype(bool).sum())
    total = ((count, "") if several else (count,)) + (
        "", "", "", tonnes(ordered_kgs), tonnes(delivered_kgs), tonnes(remaining_kgs),
        _share(delivered_kgs, ordered_kgs), f"{late} behind" if late else "")
    header = (("Organisation",) if several else ()) + (
        "Order", "Contract date", "Supplier", "Status", "Ordered (tCO2e)", "Delivered (tCO2e)",
        "Remaining (tCO2e)", "Delivered", "Behind")
    text = (True,) * ((2 if several else 1) + 3) + (False,) * 4 + (True,)
    return _mixed_table(header, rows, text, total=total, css_class="isoanalytics-orders")


def exposure_html(exposure: DeliveryExposure, *, top: int | None = None) -> str:
    """Delivery exposure by supplier: orders (open, behind), ordered, delivered and remaining
    tCO2e and each supplier's share of what remains, with a Total row.

    ``top``: the suppliers owing the most by name, the rest one "Other (k suppliers)" row of
    their exact sums; None: every supplier.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, delivery_exposure, delivery_schedule, demo
    >>> from isoanalytics.tables import exposure_html
    >>> with RegistryClient.demo() as client:
    ...     planned = delivery_schedule(client, demo.registry().buyers["typical"],
    ...                                 as_of=demo.AS_OF)
    >>> table = exposure_html(delivery_exposure(planned), top=2)
    >>> table.count("<tr>"), ">Other (2 suppliers)</th>" in table
    (5, True)
    """
    suppliers = exposure.suppliers
    if top is not None:
        check_integer("top", top)
    named = suppliers if top is None else suppliers.iloc[:top]
    rows = [(name_or_id(row.supplier_name, row.Index), f"{row.orders:,}", f"{row.open_orders:,}",
             f"{row.behind_orders:,}", tonnes(row.ordered_kgs), tonnes(row.delivered_kgs),
             tonnes(row.remaining_kgs), percent(row.share))
            for row in _rows(named)]
    columns = ("orders", "open_orders", "behind_orders", "ordered_kgs", "delivered_kgs",
               "remaining_kgs")
    sums = {column: int(suppliers[column].to_numpy(np.int64).sum()) for column in columns}
    rest = suppliers.iloc[len(named):]
    if len(rest):
        folded = {column: int(rest[column].to_numpy(np.int64).sum()) for column in columns}
        rows.append((f"Other ({len(rest):,} {plural('supplier', len(rest))})",
                     f"{folded['orders']:,}", f"{folded['open_orders']:,}",
                     f"{folded['behind_orders']:,}", tonnes(folded["ordered_kgs"]),
                     tonnes(folded["delivered_kgs"]), tonnes(folded["remaining_kgs"]),
                     _share(folded["remaining_kgs"], sums["remaining_kgs"])))
    total = (f"Total ({len(suppliers):,} {plural('supplier', len(suppliers))})",
             f"{sums['orders']:,}", f"{sums['open_orders']:,}", f"{sums['behind_orders']:,}",
             tonnes(sums["ordered_kgs"]), tonnes(sums["delivered_kgs"]),
             tonnes(sums["remaining_kgs"]), percent(1.0 if sums["remaining_kgs"] else np.nan))
    header = ("Supplier", "Orders", "Open", "Behind", "Ordered (tCO2e)", "Delivered (tCO2e)",
              "Remaining (tCO2e)", "Share of remaining")
    return _table(header, rows, total=total, css_class="isoanalytics-exposure")


def reconciliation_html(checks: pd.DataFrame, names: Mapping[str, str] | None = None) -> str:
    """The checks of :func:`~isoanalytics.reconcile`, in tCO2e, with a verdict per row.

    ``names`` maps organisation ids to names, for portfolios.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo, reconcile
    >>> from isoanalytics.tables import reconciliation_html
    >>> with RegistryClient.demo() as client:
    ...     checks = reconcile(client.credit_balance(demo.DEFAULT_ORGANISATION_ID))
    >>> reconciliation_html(checks).count("adds up")
    6
    """
    names = {} if names is None else names  # a Series of names works as well as a dict
    several = checks["organisation_id"].nunique() > 1
    rows = []
    for row in _rows(checks):
        if pd.isna(row.balanced):
            verdict = str(row.note) or "not reported"
        elif row.balanced:
            verdict = "adds up"
        else:
            verdict = f"differs by {tonnes(row.difference_kgs)} tCO2e"
        listed = "n/a" if pd.isna(row.listed_kgs) else tonnes(row.listed_kgs)
        level = f"{row.level} balances ({row.status})"
        if several:
            level = f"{names.get(row.organisation_id, row.organisation_id)}: {level}"
        rows.append((level, listed, tonnes(row.total_kgs), verdict))
    header = ("Level", "Listed (tCO2e)", "Organisation total (tCO2e)", "Result")
    return _table(header, rows, css_class="isoanalytics-reconciliation")


def reconciliation_findings_html(checks: pd.DataFrame, names: Mapping[str, str] | None = None,
                                 transferred: Mapping[str, int] | None = None) -> str:
    """The reconciliation as a reader needs it: each difference first, in words (which way,
    by how much, and why), then one line for all the checks that add up (the full table of
    every check is :func:`reconciliation_html`).

    ``names`` maps organisation ids to names; ``transferred`` to the kilograms the registry
    lists as transferred into each (said beside a shortfall of the orders).

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo, reconcile
    >>> from isoanalytics.tables import reconciliation_findings_html
    >>> with RegistryClient.demo() as client:
    ...     checks = reconcile(client.credit_balance(demo.registry().buyers["typical"]))
    >>> text = reconciliation_findings_html(checks)
    >>> "orders account for 40.385 tCO2e less than the active total" in text
    True
    >>> "All other 5 checks (" in text
    True
    """
    labels = {} if names is None else names
    moved = {} if transferred is None else transferred
    several = checks["organisation_id"].nunique() > 1
    made = checks["balanced"].notna().to_numpy(bool)
    differ = made & ~checks["balanced"].fillna(True).to_numpy(bool)
    findings = []
    for row in _rows(checks[differ]):
        organisation = str(row.organisation_id)
        findings.append(reconciliation_finding(
            str(row.level), str(row.status), int(row.listed_kgs), int(row.total_kgs),
            name_or_id(labels.get(organisation), organisation) if several else None,
            transferred_kgs=moved.get(organisation)))
    agree = int((made & ~differ).sum())
    kinds = "project, supplier and order balances, active and retired"
    whose = ", of each organisation" if several else ""
    if findings:
        lead = ("<ul class=\"isoanalytics-findings\">"
                + "".join(f"<li>{html.escape(finding)}</li>" for finding in findings) + "</ul>"
                + f"<p>All other {agree:,} {plural('check', agree)} ({kinds}{whose}) add up "
                  "to their organisation's total.</p>")
    else:
        lead = (f"<p>All {agree:,} {plural('check', agree)} ({kinds}{whose}) add up to their "
                "organisation's total.</p>")
    missing = checks[~made]
    if len(missing):
        notes = sorted({str(note) or "not reported" for note in missing["note"]})
        lead += (f"<p>{len(missing):,} {plural('check', len(missing))} could not be made: "
                 f"{html.escape('; '.join(notes))}.</p>")
    return lead


def portfolio_html(summary: pd.DataFrame, figures: Mapping[str, Concentration],
                   largest: Mapping[str, str] | None = None) -> str:
    """One row per organisation of a portfolio: holdings, retired share and concentration.

    ``summary`` is ``summarize(frame, by="organisation")`` (names after ``enrich``);
    ``figures`` maps each organisation id to its supplier :func:`~isoanalytics.concentration`;
    ``largest`` maps it to the name of its largest supplier, shown with that supplier's
    share ("Deepwell Carbon (69.6 %)").

    Examples
    --------
    >>> import isoanalytics as ia
    >>> from isoanalytics.tables import portfolio_html
    >>> ids = list(ia.demo.registry().buyers.values())[:2]
    >>> with ia.RegistryClient.demo() as client:
    ...     frame = ia.fetch_balances(ids, client=client).frame
    >>> figures = {org: ia.concentration(part) for org, part in frame.groupby("organisation_id")}
    >>> portfolio_html(ia.summarize(frame, by="organisation"), figures).count("<tr>")
    4
    """
    check_summary(summary, "portfolio_html")
    names = {} if largest is None else largest
    rows = []
    for name, row in zip(label(summary), _rows(summary), strict=True):
        spread = figures.get(row.Index)
        rows.append((
            name, tonnes(row.active_kgs), tonnes(row.retired_kgs), tonnes(row.total_kgs),
            percent(row.retired_share), percent(row.share),
            "n/a" if spread is None else f"{spread.n:,}",
            "n/a" if spread is None or spread.level is None
            else f"{spread.hhi:,.0f} ({spread.level})",
            "n/a" if spread is None or not spread.n
            else f"{names[row.Index]} ({percent(spread.cr1)})" if row.Index in names
            else percent(spread.cr1),
        ))
    active, retired, held = _totals(summary)
    total = (f"Portfolio ({len(summary)} organisations)", tonnes(active), tonnes(retired),
             tonnes(held), _share(retired, held), percent(1.0 if held else np.nan), "", "", "")
    header = ("Organisation", "Active (tCO2e)", "Retired (tCO2e)", "Total (tCO2e)",
              "Retired share", "Share of portfolio", "Suppliers", "Supplier HHI",
              "Largest supplier")
    return _table(header, rows, total=total, css_class="isoanalytics-portfolio")


def timeline_html(timeline: pd.DataFrame, *, by: str | None = None, top: int = 5,
                  names: Mapping[Any, str] | None = None, units: str = "tCO2e") -> str:
    """A timeline as a table: one row per period, its kilograms per ``by`` value, the
    period's total and the running total; a Total row beneath.

    Parameters
    ----------
    timeline : DataFrame
        From :func:`isoanalytics.timeline`.
    by : str, optional
        Its ``by`` column, found by itself when there is one; the ``top`` values with the
        most kilograms have a column each, the rest one "Other (k)" column.
    names : mapping, optional
        Column headings for ``by`` values (supplier id to name, say).
    units : {"tCO2e", "kg"}

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import timeline
    >>> from isoanalytics.tables import timeline_html
    >>> moves = pd.DataFrame({
    ...     "at": pd.to_datetime(["2024-03-01T10:00Z", "2025-11-30T09:00Z"]),
    ...     "event": "retired", "credit_kgs": [1_500, 2_250]})
    >>> table = timeline_html(timeline(moves, "Y"))
    >>> table.count("<tr>"), ">3.750</td>" in table  # header, 2024, 2025, Total; the sum
    (4, True)
    """
    quantity(0, units)  # refuses other units before any work
    table = pivot_timeline(timeline, by=by, top=top)
    labels = {} if names is None else names  # a Series of names works as well as a dict
    split = list(table.columns) != ["credit_kgs"]
    values = table.to_numpy(dtype=np.int64)
    period_totals = values.sum(axis=1)
    running = np.cumsum(period_totals)
    rows = [(str(period),
             *([quantity(int(kgs), units) for kgs in values[row]] if split else []),
             quantity(int(period_totals[row]), units), quantity(int(running[row]), units))
            for row, period in enumerate(table.index)]
    grand = int(period_totals.sum())
    total = ("Total", *([quantity(int(kgs), units) for kgs in values.sum(axis=0)] if split
                        else []), quantity(grand, units), quantity(grand, units))
    header = ("Period",
              *([f"{name_or_id(labels.get(column), column)} ({units})"
                 for column in table.columns] if split else []),
              f"Total ({units})", f"Cumulative ({units})")
    return _table(header, rows, total=total, css_class="isoanalytics-timeline")


_CHANGE_KGS = ("active_kgs_from", "active_kgs_to", "active_change_kgs", "retired_kgs_from",
               "retired_kgs_to", "retired_change_kgs")


def _signed(kgs: int, units: str) -> str:
    # A change says its direction: "+1.500", "-0.250", and "0.000" for none.
    return ("+" if kgs > 0 else "") + quantity(kgs, units)


def changes_html(moved: pd.DataFrame, names: Mapping[Any, str] | None = None, *,
                 units: str = "tCO2e") -> str:
    """What moved between two snapshots: per row of :func:`~isoanalytics.changes`, the active
    and retired holdings from and to and their change, with a Total row (exact integer sums).

    Parameters
    ----------
    moved : DataFrame
        From :func:`isoanalytics.changes`: ``organisation_id``, a ``<by>_id`` column and the
        kilograms from, to and their change per status.
    names : mapping, optional
        Names of the ``<by>`` ids and, for several organisations, of the organisation ids
        (a row is then "organisation: supplier"); an id without one is shown as it is.
    units : {"tCO2e", "kg"}

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import changes
    >>> from isoanalytics.tables import changes_html
    >>> rows = pd.DataFrame({
    ...     "snapshot_at": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-02-01"], utc=True),
    ...     "snapshot_id": ["a", "a", "b"], "organisation_id": ["org_1"] * 3,
    ...     "level": "supplier", "entity_id": ["spl_1", "spl_1", "spl_1"],
    ...     "status": ["active", "retired", "active"], "credit_kgs": [900, 100, 400],
    ...     "credits": [0.9, 0.1, 0.4]})
    >>> table = changes_html(changes(rows, "2025-01-01", "2025-02-01"), {"spl_1": "Deepwell"})
    >>> ">Deepwell</th>" in table, ">-0.500</td>" in table, table.count("<tr>")
    (True, True, 3)
    """
    check_columns(moved, ("organisation_id", *_CHANGE_KGS), "changes_html",
                  "the frame of isoanalytics.changes()")
    keys = [column for column in moved.columns
            if column.endswith("_id") and column != "organisation_id"]
    if len(keys) != 1:
        raise ValueError("changes_html: moved needs one <by>_id column (supplier_id, "
                         "project_id...) beside organisation_id, as changes() gives")
    key = keys[0]
    quantity(0, units)  # refuses other units before any work
    labels = {} if names is None else names  # a Series of names works as well as a dict
    several = moved["organisation_id"].nunique() > 1
    kgs = moved[list(_CHANGE_KGS)].to_numpy(dtype=np.int64)
    rows = []
    for position, (organisation_id, entity_id) in enumerate(
            zip(moved["organisation_id"], moved[key], strict=True)):
        name = name_or_id(labels.get(entity_id), entity_id)
        if several:
            name = f"{name_or_id(labels.get(organisation_id), organisation_id)}: {name}"
        figures = [int(value) for value in kgs[position]]
        rows.append((name, *(_signed(value, units) if column.endswith("change_kgs")
                             else quantity(value, units)
                             for column, value in zip(_CHANGE_KGS, figures, strict=True))))
    sums = [int(value) for value in kgs.sum(axis=0)]
    noun = key.removesuffix("_id")
    total = (f"Total ({len(moved):,} {plural(noun, len(moved))})",
             *(_signed(value, units) if column.endswith("change_kgs") else quantity(value, units)
               for column, value in zip(_CHANGE_KGS, sums, strict=True)))
    header = (noun.capitalize(), f"Active, first ({units})", f"Active, last ({units})",
              f"Active change ({units})", f"Retired, first ({units})",
              f"Retired, last ({units})", f"Retired change ({units})")
    return _table(header, rows, total=total, css_class="isoanalytics-changes")


# -- claims of a reporting period ---------------------------------------------------------------

_CLAIM_NOUNS = {"beneficiary": "Beneficiary", "purpose": "Purpose", "pathway": "Pathway",
                "vintage": "Vintage", "durability": "Durability"}


def _claim_value(dimension: str, value: str) -> str:
    # Slugs read as words, as the charts show them; "(unknown)" and "(none)" stay as they are.
    if dimension in ("pathway", "purpose") and not value.startswith("("):
        return value.replace("_", " ").capitalize()
    return value


def claims_html(summary: pd.DataFrame, dimension: str) -> str:
    """One dimension of :func:`~isoanalytics.claims_summary`'s retired section: tCO2e, exact
    kg, share and retirements per row, with the period's Total beneath.

    ``dimension`` is ``"beneficiary"``, ``"purpose"``, ``"pathway"``, ``"vintage"`` or
    ``"durability"``; its rows add up to the Total (the summary's rule).

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.analysis.claims import claims_summary
    >>> from isoanalytics.tables import claims_html
    >>> claims = pd.DataFrame({
    ...     "retirement_id": ["ret_A", "ret_B"], "credit_kgs": [1_500, 250],
    ...     "pathway": ["direct_air_capture", "reforestation"],
    ...     "vintage": pd.array([2024, 2023], dtype="Int64"),
    ...     "purposes": ["corporate_targets", "corporate_targets"]})
    >>> classes = {"direct_air_capture": "1,000+ years", "reforestation": "under 100 years"}
    >>> table = claims_html(claims_summary(claims, durability=classes), "pathway")
    >>> ">Direct air capture</th>" in table, ">1,750</td>" in table, table.count("<tr>")
    (True, True, 4)
    """
    check_columns(summary, ("section", "dimension", "value", "credit_kgs", "share",
                            "retirements"), "claims_html", "the frame of claims_summary()")
    if dimension not in _CLAIM_NOUNS:
        raise ValueError(f"claims_html(): dimension must be one of "
                         f"{', '.join(map(repr, _CLAIM_NOUNS))}; got {dimension!r}")
    retired = summary[(summary["section"] == "retired").to_numpy(dtype=bool)]
    part = retired[(retired["dimension"] == dimension).to_numpy(dtype=bool)]
    whole = retired[(retired["dimension"] == "total").to_numpy(dtype=bool)]
    if whole.empty:
        raise ValueError("claims_html(): the summary has no retired total row; pass the "
                         "frame of claims_summary() as it is")

    def count(value: Any) -> str:
        return "" if pd.isna(value) else f"{int(value):,}"

    rows = [(_claim_value(dimension, str(row.value)), tonnes(row.credit_kgs),
             f"{int(row.credit_kgs):,}", percent(row.share), count(row.retirements))
            for row in _rows(part)]
    total_kgs = int(whole["credit_kgs"].iloc[0])
    total = ("Total", tonnes(total_kgs), f"{total_kgs:,}", percent(1.0 if total_kgs else np.nan),
             count(whole["retirements"].iloc[0]))
    header = (_CLAIM_NOUNS[dimension], "Retired (tCO2e)", "Retired (kg)", "Share",
              "Retirements")
    return _table(header, rows, total=total, css_class=f"isoanalytics-claims-{dimension}")


def _certificate(url: Any) -> str:
    """A certificate link: an <a> only for an http(s) URL; any other text is shown, escaped."""
    if not isinstance(url, str) or not url.strip():
        return ""
    text = url.strip()
    if text.lower().startswith(("https://", "http://")):
        return f'<a href="{html.escape(text, quote=True)}">certificate</a>'
    return html.escape(text)


def retirements_html(retirements: pd.DataFrame, *, organisation: bool | None = None,
                     names: Mapping[Any, str] | None = None) -> str:
    """The retirements of a period, one row each: id, date, beneficiary, purposes, tCO2e and
    the certificate link, with a Total row (an exact integer sum).

    Parameters
    ----------
    retirements : DataFrame
        From :func:`~isoanalytics.analysis.claims.retirements_of`.
    organisation : bool, optional
        Show the organisation that retired each (its ``owner``); None: when there are several.
    names : mapping, optional
        Organisation id to name, for that column (default: the frame's ``owner_name``).

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.analysis.claims import retirements_of
    >>> from isoanalytics.tables import retirements_html
    >>> claims = pd.DataFrame({
    ...     "retirement_id": ["ret_A", "ret_B"],
    ...     "retired_at": pd.to_datetime(["2025-03-01T12:00Z", "2025-04-02T08:00Z"]),
    ...     "owner_id": "org_X", "owner_name": "X", "beneficiary_id": "org_X",
    ...     "beneficiary_name": "X <Ltd>", "purposes": "corporate_targets",
    ...     "url": ["https://r/ret_A?a=1&b=2", "javascript:alert(1)"],
    ...     "credit_batch_id": ["cbt_1", "cbt_2"], "pathway": "reforestation",
    ...     "credit_kgs": [1_000, 500], "listed": True, "problem": ""})
    >>> table = retirements_html(retirements_of(claims))
    >>> '<a href="https://r/ret_A?a=1&amp;b=2">certificate</a>' in table
    True
    >>> "X &lt;Ltd&gt;" in table, "<a href=\\"javascript" in table, ">1.500</td>" in table
    (True, False, True)
    """
    check_columns(retirements, ("retirement_id", "retired_at", "owner_id", "beneficiary_id",
                                "beneficiary_name", "purposes", "credit_kgs", "url"),
                  "retirements_html", "the frame of retirements_of(claims)")
    several = retirements["owner_id"].nunique() > 1 if organisation is None else organisation
    labels = {} if names is None else names  # a Series of names works as well as a dict
    owner_names = (retirements["owner_name"] if "owner_name" in retirements.columns
                   else pd.Series([None] * len(retirements), index=retirements.index))
    left = f"<td {_LEFT}>"
    body = []
    for row, owner_name in zip(_rows(retirements), owner_names, strict=True):
        retired_at = "" if pd.isna(row.retired_at) else f"{row.retired_at:%Y-%m-%d}"
        purposes = "" if pd.isna(row.purposes) else _claim_value("purpose", str(row.purposes))
        cells = [f"<th {_LEFT}>{html.escape(name_or_id(row.retirement_id, '(not named)'))}</th>",
                 f"<td {_RIGHT}>{retired_at}</td>"]
        if several:
            owner = name_or_id(labels.get(row.owner_id, owner_name), row.owner_id)
            cells.append(f"{left}{html.escape(owner)}</td>")
        cells += [f"{left}{html.escape(name_or_id(row.beneficiary_name, row.beneficiary_id))}"
                  "</td>",
                  f"{left}{html.escape(purposes)}</td>",
                  f"<td {_RIGHT}>{html.escape(tonnes(row.credit_kgs))}</td>",
                  f"{left}{_certificate(row.url)}</td>"]
        body.append(f"<tr>{''.join(cells)}</tr>")
    kgs = retirements["credit_kgs"].to_numpy(dtype=np.int64)
    count = len(retirements)
    total_cells = [f"Total ({count:,} {plural('retirement', count)})", "",
                   *([""] if several else []), "", "", tonnes(int(kgs.sum())), ""]
    # Text columns read left-aligned, their headings too; figures and dates right-aligned.
    header = [("Retirement", _LEFT), ("Retired (UTC)", _RIGHT),
              *((("Organisation", _LEFT),) if several else ()), ("Beneficiary", _LEFT),
              ("Purposes", _LEFT), ("Retired (tCO2e)", _RIGHT), ("Certificate", _LEFT)]
    head = "".join(f"<th {align}>{html.escape(text)}</th>" for text, align in header)
    table = _table([text for text, _ in header], [], total=total_cells,
                   css_class="isoanalytics-retirements")
    table = re.sub(r"<thead><tr>.*?</tr></thead>", lambda _: f"<thead><tr>{head}</tr></thead>",
                   table, count=1)
    return table.replace("<tbody></tbody>", f"<tbody>{''.join(body)}</tbody>", 1)


def claims_organisations_html(retirements: pd.DataFrame, holdings: pd.DataFrame) -> str:
    """Per organisation of a portfolio: retired in the period (tCO2e, exact kg, retirements)
    and the active credits held for future retirement, with the portfolio's Total.

    Parameters
    ----------
    retirements : DataFrame
        From :func:`~isoanalytics.analysis.claims.retirements_of`, of all the organisations.
    holdings : DataFrame
        ``summarize(frame, by="organisation")`` (names after :func:`~isoanalytics.enrich`):
        its ``active_kgs`` are what each holds today.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.tables import claims_organisations_html
    >>> retirements = pd.DataFrame({"owner_id": ["org_A", "org_A"], "credit_kgs": [700, 300]})
    >>> holdings = pd.DataFrame({"active_kgs": [2_000, 50], "retired_kgs": [1_000, 0],
    ...                          "total_kgs": [3_000, 50]},
    ...                         index=pd.Index(["org_A", "org_B"], name="organisation_id"))
    >>> table = claims_organisations_html(retirements, holdings)
    >>> ">1,000</td>" in table, ">2.050</td>" in table, table.count("<tr>")
    (True, True, 4)
    """
    check_columns(retirements, ("owner_id", "credit_kgs"), "claims_organisations_html",
                  "the frame of retirements_of(claims)")
    check_columns(holdings, ("active_kgs",), "claims_organisations_html",
                  'summarize(frame, by="organisation")')
    kgs = retirements["credit_kgs"].to_numpy(dtype=np.int64)
    retired: dict[str, list[int]] = {}
    for owner, amount in zip(retirements["owner_id"], kgs, strict=True):
        figures = retired.setdefault(str(owner), [0, 0])
        figures[0] += int(amount)  # Python ints: exact
        figures[1] += 1
    labels = dict(zip(holdings.index.astype(str), label(holdings), strict=True))
    held = dict(zip(holdings.index.astype(str), holdings["active_kgs"].astype("int64"),
                    strict=True))
    order = list(labels) + [owner for owner in retired if owner not in labels]
    rows = []
    for organisation_id in order:
        retired_kgs, count = retired.get(organisation_id, (0, 0))
        active = held.get(organisation_id)
        rows.append((labels.get(organisation_id, organisation_id), tonnes(retired_kgs),
                     f"{retired_kgs:,}", f"{count:,}",
                     "n/a" if active is None else tonnes(int(active))))
    retired_total = int(kgs.sum())
    total = (f"Total ({len(order)} organisations)", tonnes(retired_total), f"{retired_total:,}",
             f"{len(retirements):,}", tonnes(sum(int(value) for value in held.values())))
    header = ("Organisation", "Retired in the period (tCO2e)", "Retired (kg)", "Retirements",
              "Held for future retirement (tCO2e)")
    return _table(header, rows, total=total, css_class="isoanalytics-claims-organisations")
