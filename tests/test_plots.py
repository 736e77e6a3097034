"""What the charts draw: bar lengths, labels, colours, annotations and units (nbval sees no PNG)."""

from __future__ import annotations

import io
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.colors import to_hex
from matplotlib.text import Text

import isoanalytics as ia
from isoanalytics import demo
from isoanalytics._format import NAME_WIDTH, short_name
from isoanalytics.analysis.dimensions import DIMENSIONS, breakdown, top_n
from isoanalytics.analysis.timeline import pivot_timeline
from isoanalytics.present import plots
from isoanalytics.records.deliveries import delivery_progress

from .ledgers import ledger_from_batches


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
    ticks = [tick.get_text() for tick in ax.get_yticklabels()]
    assert ticks[::-1][:2] == summary.index[:2].tolist()


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
                               f"effective number {figures.effective_n:.1f} of 3")
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


# -- names are text, never markup --------------------------------------------------------------

# Registry text that is markup to matplotlib or too big for a chart: an undefined mathtext
# macro (raises at draw time), valid mathtext (typeset as x squared), a lone "$", a name of
# 5,000 characters, line breaks, terminal escapes, a bidi override, controls only.
HOSTILE = [r"$\undefinedmacro{x}$", "$x^2$", "a$b", "Carbon " * 714 + "Co",
           "Deep\nwell\r\nCarbon\n\n\n\n\n\n\n\n\n\n\n\n", "\x1b[31mRed\x1b[0m Rock \u202eevil",
           "$$", "\x00\x07\x1b"]
LONG = HOSTILE[3]


def png_size(figure) -> tuple[int, int]:
    """The pixel size of the figure saved as the inline backend saves it (tight bbox)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    header = buffer.getvalue()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


def check_drawn(ax, size_inches) -> None:
    """The figure draws, keeps its size, and its axes keep room for the bars."""
    figure = ax.figure
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.canvas.draw()
        width, height = png_size(figure)
    assert not [w for w in caught if "constrained_layout" in str(w.message)]
    assert tuple(figure.get_size_inches()) == pytest.approx(size_inches)
    # A tight bbox adds pad_inches (0.1) on each side; it must not grow to hold a label.
    pixels = np.array(size_inches) * figure.dpi
    assert width <= pixels[0] + 0.2 * figure.dpi + 2 and height <= pixels[1] + 0.2 * figure.dpi + 2
    box = ax.get_window_extent()
    assert box.width >= 0.35 * pixels[0] and box.height >= 0.3 * pixels[1]


def left_title(ax) -> Text:
    """The Text artist of the axes' left title (the charts' titles are left-aligned)."""
    [title] = [text for text in ax.findobj(Text) if text.get_text() == ax.get_title(loc="left")
               and text is not ax.title]
    return title


def check_literal(texts, inches: float | None = None) -> None:
    """Each text is drawn as the characters it holds (as wide as its plain-text rendering),
    and no wider than ``inches``."""
    texts = [text for text in texts if text.get_text()]
    assert texts
    renderer = texts[0].figure.canvas.get_renderer()
    for text in texts:
        assert not text.get_usetex()
        width = max(renderer.get_text_width_height_descent(
            line, text.get_fontproperties(), ismath=False)[0]
            for line in text.get_text().split("\n"))
        drawn = text.get_window_extent(renderer).width
        assert drawn == pytest.approx(width, abs=1), text
        if inches is not None:
            # Cut to the unhinted width; Agg's hinting can widen glyphs by a few percent.
            assert drawn <= 1.05 * inches * text.figure.dpi, text


def cut_from(drawn: str, name: str, width: int = NAME_WIDTH) -> bool:
    """``drawn`` is ``name`` made one line and cut to ``width``, or a shorter cut of it."""
    whole = short_name(name, width)
    return drawn == whole or (drawn.endswith("\u2026") and whole.startswith(drawn[:-1]))


def check_labels(drawn: list[str], names, ids) -> None:
    assert len(drawn) == len(names)
    for label, name, entity_id in zip(drawn, names, ids, strict=False):
        assert cut_from(label, name if short_name(name) else entity_id), (label, name)
        assert len(label) <= NAME_WIDTH and "\n" not in label


def named(summary: pd.DataFrame, names: list[str], column: str = "supplier_name") -> pd.DataFrame:
    """The ``len(names)`` largest rows of ``summary``, renamed ``names`` in that order."""
    rows = summary.sort_values("total_kgs", ascending=False, kind="stable").head(len(names))
    return rows.assign(**{column: names})


@pytest.fixture(autouse=True)
def _no_missing_glyph_noise():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        yield


def test_wide_glyphs_are_cut_to_the_labels_ink(data):
    # Forty columns of "W" or of glyphs the font lacks (drawn as boxes) are twice as wide
    # as forty average letters: the label is cut further, to LABEL_INCHES.
    balance, projects, _ = data
    names = ["W" * 60, "\U000124ab" * 60, "\ufdfd" * 60, "m" * 39]
    summary = named(breakdown(balance, "supplier", projects=projects), names)
    ax = plots.holdings_chart(summary, top=4, title="W" * 200)
    check_drawn(ax, (8, 2.6))
    check_labels([tick.get_text() for tick in ax.get_yticklabels()][::-1],
                 top_n(summary, 4)["supplier_name"], top_n(summary, 4).index)
    check_literal(ax.get_yticklabels(), plots.LABEL_INCHES)
    check_literal([left_title(ax)], plots.TITLE_INCHES)


def test_short_names_fit_the_chart():
    assert short_name(LONG) == "Carbon " * 5 + "Carb\u2026"
    assert len(short_name(LONG)) == NAME_WIDTH
    assert short_name(HOSTILE[4]) == "Deep well Carbon"
    assert short_name(HOSTILE[5]) == "Red Rock evil"


@pytest.mark.parametrize("status", ["total", "retired"])
def test_holdings_chart_draws_names_literally(data, status):
    balance, projects, _ = data
    summary = named(breakdown(balance, "supplier", projects=projects), HOSTILE)
    ax = plots.holdings_chart(summary, top=len(HOSTILE), status=status, title="$\\alpha$ & " + LONG)
    shown = top_n(summary, len(HOSTILE), status=status)
    check_drawn(ax, (8, 0.35 * len(HOSTILE) + 1.2))
    labels = [tick.get_text() for tick in ax.get_yticklabels()][::-1]
    check_labels(labels, shown["supplier_name"], shown.index)
    assert labels[:3] == [r"$\undefinedmacro{x}$", "$x^2$", "a$b"] or status != "total"
    assert cut_from(ax.get_title(loc="left"), "$\\alpha$ & " + LONG, 5 * NAME_WIDTH)
    check_literal(ax.get_yticklabels(), plots.LABEL_INCHES)
    check_literal([*ax.texts, left_title(ax)], plots.TITLE_INCHES)


def test_a_two_line_title_stays_two_lines(data):
    balance, _, _ = data
    ax = plots.holdings_chart(ia.summarize(balance), title="Holdings\n$Q3$ 2026")
    assert ax.get_title(loc="left") == "Holdings\n$Q3$ 2026"
    ax.figure.canvas.draw()


def test_retired_share_chart_draws_names_literally(data):
    balance, projects, _ = data
    summary = named(breakdown(balance, "project", projects=projects), HOSTILE, "project_name")
    ax = plots.retired_share_chart(summary, top=len(HOSTILE), title=r"$\undefinedmacro$")
    check_drawn(ax, (8, 0.35 * len(HOSTILE) + 1.2))
    shown = top_n(summary, len(HOSTILE))
    labels = [tick.get_text() for tick in ax.get_yticklabels()][::-1]
    check_labels(labels, shown["project_name"], shown.index)
    check_literal(ax.get_yticklabels(), plots.LABEL_INCHES)
    check_literal([*ax.texts, left_title(ax)])


def test_ids_and_the_index_name_are_text_too(data):
    # No name column: the ids label the bars; an unknown index name is the noun of the titles.
    balance, _, _ = data
    summary = ia.summarize(balance).head(len(HOSTILE))
    summary.index = pd.Index(HOSTILE, name="$\\undefinedmacro{y}$ " + LONG)
    for chart in (plots.holdings_chart, plots.retired_share_chart, plots.lorenz_chart):
        ax = chart(summary)
        check_drawn(ax, tuple(ax.figure.get_size_inches()))
        texts = [left_title(ax), ax.xaxis.label, *ax.texts]
        if chart is not plots.lorenz_chart:
            texts += ax.get_yticklabels()
            labels = [tick.get_text() for tick in ax.get_yticklabels()][::-1]
            ids = top_n(summary, 10).index
            check_labels(labels, ids, ids)
        check_literal(texts)
        assert "$\\undefinedmacro{" in ax.get_title(loc="left")
        plt.close(ax.figure)


def test_lorenz_chart_draws_its_noun_literally():
    ax = plots.lorenz_chart(pd.Series([60, 30, 10]), by="$x^2$ " + LONG)
    check_drawn(ax, (8, 4.5))
    assert ax.get_xlabel().startswith("Share of $x^2$ Carbon C")
    assert ax.get_xlabel().endswith("\u2026s, smallest first (%)")
    check_literal([ax.xaxis.label, left_title(ax), *ax.texts, *ax.get_legend().get_texts()])


def test_concentration_chart_draws_dimension_names_literally():
    figures = {name: ia.concentration(pd.Series([60, 30, 10])) for name in HOSTILE[:4]}
    ax = plots.concentration_chart(figures, title="$$")
    check_drawn(ax, (8, 3.5))
    check_labels([tick.get_text() for tick in ax.get_xticklabels()],
                 [name.capitalize() for name in HOSTILE[:4]], list(figures))
    check_literal([*ax.get_xticklabels(), left_title(ax)])


def test_delivery_chart_draws_supplier_names_literally(data):
    _, _, orders = data
    hostile = orders.assign(supplier_name=(HOSTILE * 2)[:len(orders)])
    ax = plots.delivery_chart(hostile)
    check_drawn(ax, (8, 0.35 * len(orders) + 1.2))
    shown = hostile.sort_values(["remaining_kgs", "ordered_kgs", "id"],
                                ascending=[False, False, True], kind="stable")
    labels = [tick.get_text() for tick in ax.get_yticklabels()][::-1]
    for label, name, order_id in zip(labels, shown["supplier_name"], shown["id"], strict=False):
        suffix = f" ({order_id[-6:]})"
        assert label.endswith(suffix) and cut_from(label.removesuffix(suffix),
                                                   name if short_name(name) else order_id)
    check_literal(ax.get_yticklabels(), plots.LABEL_INCHES)
    check_literal(ax.texts)


def test_names_are_never_handed_to_tex(data):
    # With text.usetex on, TeX would read "$", "%", "&" and "_" as markup again.
    balance, projects, _ = data
    summary = named(breakdown(balance, "supplier", projects=projects), HOSTILE)
    with plt.rc_context({"text.usetex": True}):
        ax = plots.holdings_chart(summary, top=len(HOSTILE))
    named_texts = [*ax.get_yticklabels(), left_title(ax), ax.xaxis.label, *ax.texts,
                   *ax.get_legend().get_texts()]
    assert not any(text.get_usetex() for text in named_texts)
    assert not any(text.get_parse_math() for text in named_texts)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(names=st.lists(st.text(max_size=300), min_size=1, max_size=4))
def test_any_names_draw_as_text_in_a_chart_of_fixed_size(data, names):
    balance, projects, _ = data
    summary = named(breakdown(balance, "supplier", projects=projects), names)
    try:
        ax = plots.holdings_chart(summary, top=len(names))
        check_drawn(ax, (8, max(2.5, 0.35 * len(names) + 1.2)))
        labels = [tick.get_text() for tick in ax.get_yticklabels()][::-1]
        shown = top_n(summary, len(names))
        check_labels(labels, shown["supplier_name"], shown.index)
        check_literal(ax.get_yticklabels(), plots.LABEL_INCHES)
    finally:
        plt.close("all")


# -- over time: timeline_chart, vintage_chart, delivery_curve -----------------------------------


@pytest.fixture(scope="module")
def history():
    organisation = demo.registry().buyers["large"]
    with ia.RegistryClient.demo() as client:
        batches = client.credit_batches(organisation)
        orders = client.orders(organisation)
        deliveries = client.deliveries(to_organisation_id=organisation)
        projects = client.projects()
    return ledger_from_batches(batches, organisation), batches, orders, deliveries, projects


def moves(kgs, days, suppliers=None):
    frame = pd.DataFrame({"at": pd.to_datetime(days, utc=True), "event": "retired",
                          "credit_kgs": np.array(kgs, dtype=np.int64)})
    return frame if suppliers is None else frame.assign(supplier_id=suppliers)


def test_timeline_bars_are_the_frames_tonnes_stacked_by_supplier(history):
    ledger, *_ = history
    frame = ia.timeline(ledger, "Q", event="retired", by="supplier_id")
    ax = plots.timeline_chart(frame, top=3)
    table = pivot_timeline(frame, top=3)
    assert [container.get_label() for container in ax.containers] == [
        *table.columns[:3], f"Other ({frame['supplier_id'].nunique() - 3})"]
    bottom = np.zeros(len(table))
    for container, column in zip(ax.containers, table.columns, strict=True):
        assert [bar.get_height() for bar in container] == pytest.approx(
            (table[column] / 1000).tolist())
        assert [bar.get_y() for bar in container] == pytest.approx(bottom.tolist())
        bottom += table[column].to_numpy() / 1000
    # every kilogram of the timeline is in a bar
    assert sum(bar.get_height() for bar in ax.patches) == pytest.approx(
        int(frame["credit_kgs"].sum()) / 1000)
    colours = [to_hex(container[0].get_facecolor()) for container in ax.containers]
    assert colours == ["#0072b2", "#e69f00", "#009e73", plots.NEUTRAL_COLOUR.lower()]
    [twin] = [other for other in ax.figure.axes if other is not ax]
    [line] = [line for line in twin.lines if line.get_gid() == "cumulative"]
    assert line.get_ydata().tolist() == pytest.approx(
        (np.cumsum(table.sum(axis=1).to_numpy()) / 1000).tolist())
    assert ax.get_ylabel() == "Credits per quarter (tCO2e)"
    assert twin.get_ylabel() == "Cumulative credits (tCO2e)"
    assert [tick.get_text() for tick in ax.get_xticklabels()][0] == str(table.index[0])
    assert ax.get_title(loc="left") == "Credits moved per quarter, by supplier_id (tCO2e)"


def test_timeline_in_kg_unsplit_with_names_and_no_line():
    frame = ia.timeline(moves([1_500, 2_000, 500], ["2024-03-01", "2024-11-30", "2026-02-01"]),
                        "Y")
    ax = plots.timeline_chart(frame, units="kg", cumulative=False)
    [container] = ax.containers
    assert [bar.get_height() for bar in container] == [3_500, 0, 500]
    assert ax.get_ylabel() == "Quantity per year (kg CO2e)"
    assert len(ax.figure.axes) == 1 and ax.get_legend() is None
    split = ia.timeline(moves([1, 2], ["2024-01-01", "2024-02-01"], ["spl_A", "spl_B"]), "M",
                        by="supplier_id")
    ax = plots.timeline_chart(split, names={"spl_B": "$Basalt\nBloom"})
    assert [container.get_label() for container in ax.containers] == ["$Basalt Bloom", "spl_A"]
    # names as a Series (client.suppliers().set_index("id")["name"]) work as a dict does
    ax = plots.timeline_chart(split, names=pd.Series({"spl_B": "Basalt Bloom"}))
    assert [container.get_label() for container in ax.containers] == ["Basalt Bloom", "spl_A"]


def test_a_long_timeline_is_drawn_as_steps_of_the_same_heights(history):
    ledger, *_ = history
    frame = ia.timeline(ledger, "D", event="retired", by="supplier_id")
    ax = plots.timeline_chart(frame, top=2)
    assert ax.containers == []
    steps = [patch for patch in ax.patches if patch.get_gid() == "timeline"]
    table = pivot_timeline(frame, top=2)
    assert len(steps) == 3 and len(table) * 3 > plots.MAX_BARS
    tops = steps[-1].get_data().values  # the last part's top is every part's sum
    assert tops == pytest.approx((table.sum(axis=1) / 1000).tolist())


def test_a_timeline_of_nothing_says_so():
    empty = ia.timeline(moves([], []), "Y")
    ax = plots.timeline_chart(empty)
    assert [text.get_text() for text in ax.texts] == ["nothing moved"]
    zeros = ia.timeline(moves([0], ["2025-05-05"]), "M", start="2025-01-01")
    ax = plots.timeline_chart(zeros)
    assert "nothing moved" in [text.get_text() for text in ax.texts]
    with pytest.raises(ValueError, match=r"timeline_chart\(\) takes the frame of isoanalytics"):
        plots.timeline_chart(pd.DataFrame({"period": []}))
    with pytest.raises(ValueError, match="say which with by="):
        plots.timeline_chart(ia.timeline(moves([1], ["2025-01-01"]), "Y").assign(a=1, b=2))


def test_vintage_columns_oldest_first_stacked(history):
    _, batches, *_ = history
    summary = breakdown(batches, "vintage")
    ax = plots.vintage_chart(summary)
    shown = summary.sort_index()
    assert [tick.get_text() for tick in ax.get_xticklabels()] == [str(y) for y in shown.index]
    assert [bar.get_height() for bar in bars(ax, "active")] == pytest.approx(
        (shown["active_kgs"] / 1000).tolist())
    assert [bar.get_y() for bar in bars(ax, "retired")] == pytest.approx(
        (shown["active_kgs"] / 1000).tolist())
    assert ax.get_ylabel() == "Credits (tCO2e)"
    ax = plots.vintage_chart(summary, status="retired", units="kg")
    assert bars(ax, "active") == []
    assert [bar.get_height() for bar in bars(ax, "retired")] == shown["retired_kgs"].tolist()
    assert ax.get_title(loc="left") == "Retired credits by vintage (kg)"
    with pytest.raises(ValueError, match="breakdown\\(batches, 'vintage'\\)"):
        plots.vintage_chart(ia.summarize(ia.parse_balance(
            demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID))))


def test_an_unknown_vintage_is_the_last_column():
    batches = pd.DataFrame({"status": ["active", "active"], "credit_kgs": [5, 7],
                            "sequestered_on": pd.to_datetime([None, "2024-02-02"]),
                            "project_id": "prj_1", "supplier_id": "spl_1"})
    ax = plots.vintage_chart(breakdown(batches, "vintage"), units="kg")
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["2024", "(unknown)"]
    assert [bar.get_height() for bar in bars(ax, "active")] == [7, 5]


def test_delivery_curves_are_the_cumulative_deliveries_of_each_supplier(history):
    _, _, orders, deliveries, _ = history
    progress = delivery_progress(orders, deliveries)
    ax = plots.delivery_curve(progress, top=3)
    delivered = [line for line in ax.lines if line.get_gid() == "delivered"]
    ordered = [line for line in ax.lines if line.get_gid() == "ordered"]
    assert len(delivered) == len(ordered) == 4  # three suppliers and the others
    book = progress.groupby("supplier_id")["ordered_kgs"].max()
    largest = sorted(book.index, key=lambda sid: (-int(book[sid]), sid))[:3]
    months = progress["month"].drop_duplicates().sort_values()
    for line, supplier in zip(delivered, largest, strict=False):
        rows = progress[progress["supplier_id"] == supplier].set_index("month")
        expected = rows["cumulative_delivered_kgs"].reindex(months).ffill().fillna(0)
        assert line.get_ydata().tolist() == pytest.approx((expected / 1000).tolist())
        assert line.get_label() == rows["supplier_name"].iloc[0]
    # The others' curve ends at their delivered total: every kilogram is on the chart.
    others = progress[~progress["supplier_id"].isin(largest)]
    final = others.groupby("supplier_id")["cumulative_delivered_kgs"].last().sum()
    assert delivered[-1].get_ydata()[-1] == pytest.approx(final / 1000)
    assert delivered[-1].get_label().startswith("Other (")
    assert ax.get_ylabel() == "Cumulative credits (tCO2e)"
    assert ordered[0].get_linestyle() == "--"
    assert to_hex(ordered[0].get_color()) == to_hex(delivered[0].get_color()) == "#0072b2"


def test_delivery_curve_carries_figures_over_missing_months_and_refuses_repeats():
    progress = pd.DataFrame({
        "supplier_id": ["spl_A", "spl_A", "spl_B"], "supplier_name": ["A", "A", "B"],
        "month": pd.to_datetime(["2024-01-01", "2024-04-01", "2024-02-01"], utc=True),
        "cumulative_delivered_kgs": [1_000, 3_000, 500], "ordered_kgs": [5_000, 6_000, 500]})
    ax = plots.delivery_curve(progress, units="kg")
    delivered = [line.get_ydata().tolist() for line in ax.lines if line.get_gid() == "delivered"]
    ordered = [line.get_ydata().tolist() for line in ax.lines if line.get_gid() == "ordered"]
    assert delivered == [[1_000, 1_000, 3_000], [0, 500, 500]]
    assert ordered == [[5_000, 5_000, 6_000], [0, 500, 500]]
    with pytest.raises(ValueError, match="repeats a supplier's month"):
        plots.delivery_curve(pd.concat([progress, progress.iloc[:1]], ignore_index=True))
    with pytest.raises(ValueError, match="delivery_progress"):
        plots.delivery_curve(progress.drop(columns="ordered_kgs"))


def test_the_charts_over_time_draw_on_the_axes_they_are_given(history):
    ledger, batches, orders, deliveries, _ = history
    _figure, axes = plt.subplots(1, 3)
    before = plt.get_fignums()
    results = [plots.timeline_chart(ia.timeline(ledger, "Y"), ax=axes[0]),
               plots.vintage_chart(breakdown(batches, "vintage"), ax=axes[1]),
               plots.delivery_curve(delivery_progress(orders, deliveries), ax=axes[2])]
    assert results == list(axes)
    assert plt.get_fignums() == before


# -- an "Other" that dwarfs the named bars ----------------------------------------------------

def _summary(kgs: list[int]) -> pd.DataFrame:
    from isoanalytics.analysis.metrics import summary_frame

    ids = [f"spl_{n}" for n in range(len(kgs))]
    return summary_frame(np.array(kgs, dtype=np.int64), np.zeros(len(kgs), dtype=np.int64),
                         pd.Index(ids, name="supplier_id"))


def _other_value(ax) -> list[str]:
    return [text.get_text() for text in ax.texts if text.get_gid() == "other_value"]


def test_an_other_bar_that_dwarfs_the_named_ones_is_cut_at_their_axis_with_its_value():
    # Two named suppliers of 2 and 1.5 t, and 40 small ones summing to 40.000 t.
    summary = _summary([2_000, 1_500] + [1_000] * 40)
    ax = plots.holdings_chart(summary, top=2)
    assert ax.get_xlim() == pytest.approx((0, 2.0 * 1.6))  # set by the longest named bar
    assert _other_value(ax) == ["40.000 tCO2e (bar cut) \u2192"]
    other = bars(ax, "active")[0]  # barh draws bottom-up: the Other bar first
    assert other.get_width() == 40.0  # drawn at its full length, clipped by the axis
    named = [bar.get_width() for bar in bars(ax, "active")[1:]]
    assert max(named) / ax.get_xlim()[1] == pytest.approx(1 / 1.6)  # readable
    assert ax.get_legend()._loc == 1  # upper right: off the cut bar  # noqa: SLF001


def test_an_other_bar_no_longer_than_the_named_ones_is_drawn_as_it_is():
    summary = _summary([10_000, 8_000, 1_000, 1_000])
    ax = plots.holdings_chart(summary, top=2, units="kg")
    assert _other_value(ax) == []
    assert ax.get_xlim()[1] == pytest.approx(10_000 * 1.35)
    cut = plots.holdings_chart(_summary([1_000, 900] + [500] * 10), top=2, units="kg")
    assert _other_value(cut) == ["5,000 kg (bar cut) \u2192"]


def test_titles_say_all_when_fewer_than_top_exist():
    ax = plots.holdings_chart(_summary([3, 2, 1]), top=10)
    assert ax.get_title(loc="left") == "Holdings by supplier, all 3 (tCO2e)"


def test_delivery_chart_folds_the_rest_into_one_exact_other_bar_cut_when_it_dwarfs():
    orders = pd.DataFrame({
        "id": [f"ord_{n:02d}" for n in range(30)], "supplier_name": "S",
        "ordered_kgs": [2_000] + [1_000] * 29, "delivered_kgs": [500] + [800] * 29,
        "remaining_kgs": [1_500] + [200] * 29})
    ax = plots.delivery_chart(orders, top=2)
    delivered, remaining = bars(ax, "delivered"), bars(ax, "remaining")
    assert len(delivered) == 3  # two orders and the Other bar, at the bottom
    assert (delivered[0].get_width(), remaining[0].get_width()) == pytest.approx((22.4, 5.6))
    assert ax.get_yticklabels()[0].get_text() == "Other (28 orders)"
    assert _other_value(ax) == ["28.000 tCO2e ordered (bar cut) \u2192"]
    assert ax.get_xlim()[1] == pytest.approx(2.0 * 1.6)
    assert "top 2 of 30 orders" in ax.get_title(loc="left")
    # The schedule's orders frame (order_id) is taken as well.
    again = plots.delivery_chart(orders.rename(columns={"id": "order_id"}), top=2)
    assert _other_value(again) == _other_value(ax)


def test_delivery_curve_keeps_the_named_curves_readable_under_a_towering_other():
    months = pd.PeriodIndex(["2024-01"] * 4, freq="M")
    progress = pd.DataFrame({
        "supplier_id": ["spl_A", "spl_B", "spl_C", "spl_D"], "month": months,
        "delivered_kgs": [1_000, 500, 30_000, 40_000],
        "cumulative_delivered_kgs": [1_000, 500, 30_000, 40_000],
        "ordered_kgs": [2_000, 1_000, 30_000, 50_000]})
    ax = plots.delivery_curve(progress, top=2)
    # spl_D and spl_C are the top two by ordered: nothing dwarfs them
    assert _other_value(ax) == []
    ax = plots.delivery_curve(progress.assign(ordered_kgs=[20_000, 1_000, 900, 950]), top=1)
    # spl_A is named; Other (3) delivered 70.500 t of 2.850 t ordered (over-delivered)
    assert ax.get_ylim() == pytest.approx((0, 20.0 * 1.25))
    assert _other_value(ax) == [
        "Other (3): 70.500 tCO2e delivered of 2.850 tCO2e ordered (curve above the axis) \u2191"]
