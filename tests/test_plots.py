"""What the charts draw: bar lengths, labels, colours, annotations and units (nbval sees no PNG)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

import isoanalytics as ia
from isoanalytics import demo, plots
from isoanalytics.dimensions import DIMENSIONS, breakdown, top_n


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    with ia.RegistryClient.demo() as client:
        balance = client.credit_balance(demo.registry().buyers["large"])
        projects = client.projects()
        orders = client.orders(demo.DEFAULT_ORGANISATION_ID)
    return balance, projects, orders


def bars(ax, gid):
    return [patch for patch in ax.patches if patch.get_gid() == gid]


def test_holdings_bars_are_the_exact_quantities_largest_on_top(data):
    balance, projects, _ = data
    summary = breakdown(balance, "supplier", projects=projects)
    ax = plots.holdings_chart(summary, top=5)
    shown = top_n(summary, 5)
    active, retired = bars(ax, "active"), bars(ax, "retired")
    # barh draws bottom-up: the first bar is the Other row, the last the largest supplier
    assert [bar.get_width() for bar in active][::-1] == pytest.approx(
        (shown["active_kgs"] / 1000).tolist())
    assert [bar.get_width() for bar in retired][::-1] == pytest.approx(
        (shown["retired_kgs"] / 1000).tolist())
    # stacked: retired starts where active ends
    assert [bar.get_x() for bar in retired] == pytest.approx([bar.get_width() for bar in active])
    labels = [tick.get_text() for tick in ax.get_yticklabels()][::-1]
    assert labels == shown["supplier_name"].tolist()[:5] + [f"Other ({len(summary) - 5})"]
    assert ax.get_xlabel() == "Credits (tCO2e)"
    assert ax.get_title(loc="left") == f"Holdings by supplier, top 5 of {len(summary)} (tCO2e)"
    assert {to_hex(bar.get_facecolor()) for bar in active} == {plots.ACTIVE_COLOUR.lower()}
    assert {to_hex(bar.get_facecolor()) for bar in retired} == {plots.RETIRED_COLOUR.lower()}
    figures = ia.concentration(summary["total_kgs"])
    [note] = [text for text in ax.texts if text.get_gid() == "concentration"]
    assert note.get_text() == (f"HHI {figures.hhi:,.0f} ({figures.level}), largest supplier "
                               f"{figures.cr1 * 100:.1f} %")


def test_holdings_in_kg_of_one_status_along_any_dimension(data):
    balance, projects, _ = data
    for by in DIMENSIONS:
        summary = breakdown(balance, by, projects=projects)
        ax = plots.holdings_chart(summary, top=3, status="retired", units="kg")
        assert bars(ax, "active") == []
        widths = [bar.get_width() for bar in bars(ax, "retired")][::-1]
        assert widths == top_n(summary, 3, status="retired")["retired_kgs"].tolist()
        assert ax.get_xlabel() == "Quantity (kg CO2e)"
        assert f"Retired holdings by {by}" in ax.get_title(loc="left")
        assert "(kg)" in ax.get_title(loc="left")


def test_ids_label_the_bars_until_the_summary_is_enriched(data):
    balance, _, _ = data
    summary = ia.summarize(balance, by="project")
    ax = plots.holdings_chart(summary, top=2)
    assert [tick.get_text() for tick in ax.get_yticklabels()][::-1][:2] == summary.index[:2].tolist()


def test_charts_draw_on_the_axes_they_are_given(data):
    balance, projects, orders = data
    summary = breakdown(balance, "project", projects=projects)
    _figure, axes = plt.subplots(1, 5)
    before = plt.get_fignums()
    results = [
        plots.holdings_chart(summary, ax=axes[0]),
        plots.retired_share_chart(summary, ax=axes[1]),
        plots.lorenz_chart(summary, ax=axes[2]),
        plots.concentration_chart({"project": ia.concentration(summary["total_kgs"])}, ax=axes[3]),
        plots.delivery_chart(orders, ax=axes[4]),
    ]
    assert results == list(axes)
    assert plt.get_fignums() == before


def test_retired_share_bars_and_the_overall_line(data):
    balance, projects, _ = data
    summary = breakdown(balance, "country", projects=projects)
    ax = plots.retired_share_chart(summary, top=4)
    shown = top_n(summary, 4)
    assert [bar.get_width() for bar in bars(ax, "retired_share")][::-1] == pytest.approx(
        (shown["retired_share"] * 100).tolist())
    [line] = [line for line in ax.lines if line.get_gid() == "overall"]
    overall = int(summary["retired_kgs"].sum()) / int(summary["total_kgs"].sum()) * 100
    assert line.get_xdata()[0] == pytest.approx(overall)
    bar_labels = [text.get_text() for text in ax.texts if text.get_gid() != "overall"]
    assert bar_labels[::-1] == [f"{share * 100:.0f} %" for share in shown["retired_share"]]
    assert ax.get_xlabel() == "Retired share (% of kg held)"


def test_lorenz_curve_and_its_figures():
    quantities = pd.Series([60, 30, 10])
    figures = ia.concentration(quantities)
    ax = plots.lorenz_chart(quantities)
    [curve] = [line for line in ax.lines if line.get_gid() == "lorenz"]
    assert curve.get_xdata().tolist() == pytest.approx([0, 100 / 3, 200 / 3, 100])
    assert curve.get_ydata().tolist() == pytest.approx([0, 10, 40, 100])
    [equality] = [line for line in ax.lines if line.get_gid() == "equality"]
    assert list(equality.get_xdata()) == list(equality.get_ydata()) == [0, 100]
    [note] = [text for text in ax.texts if text.get_gid() == "figures"]
    assert note.get_text() == (f"Gini {figures.gini:.2f}\nHHI 4,600 (high)\nCR1 60.0 %\n"
                               f"effective n {figures.effective_n:.1f} of 3")
    assert ax.get_ylabel() == "Cumulative share of kg held (%)"


def test_lorenz_takes_a_balance_a_summary_or_figures(data):
    balance, _projects, _ = data
    expected = ia.concentration(balance, by="project").lorenz["quantity_share"] * 100
    for source in (balance, ia.summarize(balance, by="project"),
                   ia.concentration(balance, by="project")):
        ax = plots.lorenz_chart(source, by="project")
        [curve] = [line for line in ax.lines if line.get_gid() == "lorenz"]
        assert curve.get_ydata().tolist() == pytest.approx(expected.tolist())
        assert ax.get_xlabel() == "Share of projects, smallest first (%)"


def test_nothing_held_is_drawn_and_said():
    empty = ia.parse_balance(demo.registry().credit_balance(demo.registry().buyers["empty"]))
    ax = plots.holdings_chart(ia.summarize(empty))
    assert [text.get_text() for text in ax.texts] == ["nothing held"]
    assert list(ax.get_xticks()) == [] and ax.get_legend() is None  # no "-0" ticks, no key
    ax = plots.lorenz_chart(empty)
    assert "nothing held" in [text.get_text() for text in ax.texts]


def test_concentration_bars_against_the_guideline_bands(data):
    balance, projects, _ = data
    figures = {by: ia.concentration(breakdown(balance, by, projects=projects)["total_kgs"])
               for by in DIMENSIONS}
    ax = plots.concentration_chart(figures)
    assert [bar.get_height() for bar in bars(ax, "hhi")] == pytest.approx(
        [value.hhi for value in figures.values()])
    assert [tick.get_text() for tick in ax.get_xticklabels()] == [
        "Supplier", "Project", "Pathway", "Country"]
    bands = {patch.get_gid(): patch.get_extents() for patch in ax.patches
             if str(patch.get_gid()).startswith("band-")}
    assert set(bands) == {"band-unconcentrated", "band-moderate", "band-high"}
    assert ax.get_ylabel() == "HHI (0 to 10,000)"
    with pytest.raises(TypeError, match="Concentration"):
        plots.concentration_chart([1, 2])


def test_delivery_bars_are_delivered_then_remaining(data):
    _, _, orders = data
    ax = plots.delivery_chart(orders, units="kg")
    shown = orders.sort_values(["remaining_kgs", "ordered_kgs", "id"],
                               ascending=[False, False, True])
    delivered = [bar.get_width() for bar in bars(ax, "delivered")][::-1]
    remaining = bars(ax, "remaining")[::-1]
    assert delivered == shown["delivered_kgs"].tolist()
    assert [bar.get_width() for bar in remaining] == shown["remaining_kgs"].tolist()
    assert [bar.get_x() for bar in remaining] == delivered
    assert [text.get_text() for text in ax.texts][::-1] == [
        f"{share * 100:.0f} %" for share in shown["delivered_kgs"] / shown["ordered_kgs"]]
    labels = [tick.get_text() for tick in ax.get_yticklabels()][::-1]
    assert labels[0] == f"{shown['supplier_name'].iloc[0]} ({shown['id'].iloc[0][-6:]})"
    assert ax.get_xlabel() == "Quantity (kg CO2e)"


def test_bad_frames_and_units_are_refused_with_what_to_pass(data):
    balance, _, _ = data
    summary = ia.summarize(balance)
    with pytest.raises(TypeError, match="summary DataFrame"):
        plots.holdings_chart(balance)
    with pytest.raises(ValueError, match="missing column"):
        plots.retired_share_chart(summary.drop(columns="total_kgs"))
    with pytest.raises(ValueError, match="units must be one of"):
        plots.holdings_chart(summary, units="tonnes")
    with pytest.raises(ValueError, match=r"client\.orders"):
        plots.delivery_chart(summary)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        plots.holdings_chart(summary, top=0)


def test_axes_labels_use_thousands_separators(data):
    balance, _, _ = data
    ax = plots.holdings_chart(ia.summarize(balance), units="kg")
    ax.figure.canvas.draw()
    ticks = [tick.get_text() for tick in ax.get_xticklabels() if tick.get_text()]
    assert any("," in tick for tick in ticks)
    assert all(np.isfinite(float(tick.replace(",", ""))) for tick in ticks)
