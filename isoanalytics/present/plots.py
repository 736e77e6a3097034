"""Matplotlib charts of holdings, retired share, concentration and order delivery.

Each function takes one of the package's frames, draws on ``ax`` (a new figure when it is
None) and returns the Axes, so charts compose: put two on one figure, restyle them, save them.
Colours are the Okabe-Ito palette, which stays distinct under the common colour-vision
deficiencies; every axis label names its unit (tCO2e or kg).

Names are text, never markup: every label, title and annotation is drawn as the characters
it holds (no mathtext, no TeX, whatever ``text.usetex`` says), so a ``$`` in a supplier's name
is a dollar sign. A name is drawn on one line, cut with an ellipsis to
:data:`~isoanalytics._format.NAME_WIDTH` columns and to 3 inches of ink (for glyphs wider
than most), so no name can squeeze the bars or widen the figure; the tables of
:mod:`isoanalytics.tables` keep the full names. A title of your own is drawn literally too,
each of its lines cut to 4.5 inches; for math in a title, set it afterwards with
``ax.set_title(r"...")``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Literal, TypedDict

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.font_manager import FontProperties
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.textpath import text_to_path
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from .._format import NAME_WIDTH, UNITS, name_or_id, percent, period_word, short_name, tonnes
from .._options import check_choice, check_integer
from ..analysis.dimensions import check_summary, entity_noun, label, top_n
from ..analysis.metrics import (
    HHI_HIGH,
    HHI_MODERATE,
    Concentration,
    Level,
    Status,
    concentration,
    ratio,
    totals,
)
from ..analysis.timeline import pivot_timeline
from ..records.balance import CreditBalance
from ..records.frames import KGS_PER_CREDIT, check_columns
from .sentences import NOTHING_HELD, concentration_terms

__all__ = [
    "ACTIVE_COLOUR",
    "MAX_BARS",
    "OTHER_CUT",
    "RETIRED_COLOUR",
    "ChartImage",
    "chart_image",
    "concentration_chart",
    "delivery_chart",
    "delivery_curve",
    "history_chart",
    "holdings_chart",
    "lorenz_chart",
    "mark_period",
    "retired_share_chart",
    "sort_orders",
    "timeline_chart",
    "vintage_chart",
]

Units = Literal["tCO2e", "kg"]

# Okabe & Ito (2008), "Color Universal Design".
ACTIVE_COLOUR = "#0072B2"  # blue
RETIRED_COLOUR = "#E69F00"  # orange
REMAINING_COLOUR = "#56B4E9"  # sky blue
NEUTRAL_COLOUR = "#999999"
# The Okabe-Ito colours in the order series take them (stacked bars, curves); an "Other"
# series is NEUTRAL_COLOUR. Yellow comes late: it is the faintest on white.
_SERIES = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000",
           "#F0E442")


class _TextKeywords(TypedDict):
    """Text keywords as a TypedDict: mypy then checks ``**_LITERAL`` key by key."""

    parse_math: bool
    usetex: bool


_BANDS = (("unconcentrated", "#009E73"), ("moderate", "#F0E442"), ("high", "#D55E00"))

# Text properties of every text the charts write. parse_math=False draws "$" as a dollar
# sign rather than starting mathtext (where "$\undefinedmacro{x}$" raises at draw time and
# "$x^2$" is typeset). usetex=False because with rcParams["text.usetex"] TeX would read the
# text as markup again ("$", "%", "&", "_" and "#" are TeX syntax), and parse_math has no say
# there. Escaping "$" instead would leave a backslash in get_text() and would not stop TeX.
# Tick numbers made by formatters (no registry text in them) follow the rc settings.
_LITERAL = _TextKeywords(parse_math=False, usetex=False)
# Ink allowed to one name label and to one line of a title, in inches. Columns alone do not
# bound it: forty "W" or forty missing-glyph boxes are twice as wide as forty average letters.
# A label of 3 in and a title of 4.5 in (the title starts where the labels end) fit an
# 8-inch chart with room for the bars.
LABEL_INCHES = 3.0
TITLE_INCHES = 4.5


def _literal_legend(legend: Legend) -> None:
    for text in legend.get_texts():
        text.set(**_LITERAL)


def _ink(text: str, font: FontProperties | None = None) -> float:
    """The width of ``text`` drawn plainly, in points, in ``font`` (the tick labels' font)."""
    font = font or FontProperties(size=rcParams["ytick.labelsize"])
    return text_to_path.get_text_width_height_descent(text, font, ismath=False)[0]


@functools.lru_cache(maxsize=4096)  # the explorer redraws the same names at each click
def _fit(text: str, inches: float = LABEL_INCHES, font: FontProperties | None = None) -> str:
    """``text`` cut with an ellipsis to ``inches`` of ink in ``font``."""
    budget = inches * 72  # points

    def width(candidate: str) -> float:
        return _ink(candidate, font)

    if width(text) <= budget:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with its ellipsis
    while low < high:
        middle = (low + high + 1) // 2
        if width(text[:middle].rstrip() + "\u2026") <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "\u2026"


def _name(name: object, fallback: object = "", inches: float = LABEL_INCHES) -> str:
    return _fit(short_name(name_or_id(name, fallback)), inches)


def _title(title: str | None, default: str) -> str:
    # A title of the caller's own keeps its lines (a two-line title is a choice); each is cut.
    lines = default.splitlines() if title is None or title == "" else str(title).splitlines()
    font = FontProperties(size=rcParams["axes.titlesize"], weight=rcParams["axes.titleweight"])
    # The cut to columns first only bounds the work of measuring a title of any length.
    return "\n".join(_fit(short_name(line, 5 * NAME_WIDTH), TITLE_INCHES, font)
                      for line in lines)


def _labels(shown: pd.DataFrame) -> list[str]:
    return [_name(text, entity_id)
            for text, entity_id in zip(label(shown), shown.index.astype(str), strict=True)]


def _axes(ax: Axes | None, height: float = 4.0) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=(8, height), layout="constrained")
    return ax


def _scale(kgs: pd.Series | np.ndarray, units: str) -> np.ndarray:
    # Display only: the exact kilograms stay in the frame; tonnes are derived for the axis.
    values = np.asarray(kgs, dtype=np.int64)
    return values / KGS_PER_CREDIT if units == "tCO2e" else values


def _unit_label(units: str) -> str:
    return "Credits (tCO2e)" if units == "tCO2e" else "Quantity (kg CO2e)"


def _thousands(ax: Axes) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))


def _room_on_right(ax: Axes, widest: float, factor: float = 1.35) -> None:
    # Bars end before the right quarter, which keeps the legend and the figures off them.
    if widest > 0:
        ax.set_xlim(0, widest * factor)


#: An "Other" bar (or curve) longer than this many times the longest named one is cut at an
#: axis the named ones set, its value printed on it: the named bars stay readable.
OTHER_CUT = 1.5


def _value(kgs: int, units: str) -> str:
    return f"{tonnes(kgs)} tCO2e" if units == "tCO2e" else f"{kgs:,} kg"


_CUT_ROOM = 1.6  # the axis of a chart with a cut Other bar, in longest named bars


def _cut_other(ax: Axes, positions: np.ndarray, ends_kgs: np.ndarray, other: np.ndarray,
               units: str, factor: float = _CUT_ROOM, suffix: str = "") -> bool:
    """Cut the "Other" bars that dwarf the named ones at an axis set by the named bars.

    ``ends_kgs`` are the bars' full lengths in kg and ``other`` marks the Other bars. When an
    Other bar is longer than :data:`OTHER_CUT` times the longest named bar, the axis ends at
    ``factor`` times the longest named bar; the Other bar runs to that edge (matplotlib clips
    it) and its exact value (then ``suffix``) is printed on it, ending in an arrow (gid
    ``"other_value"``). Returns whether it cut; the caller then moves its legend to the upper
    right (:func:`_legend`), off the bars.
    """
    named = ends_kgs[~other]
    widest = int(named.max(initial=0))
    if not other.any() or widest <= 0 or int(ends_kgs[other].max()) <= OTHER_CUT * widest:
        return False
    limit = float(_scale(np.array([widest]), units)[0]) * factor
    ax.set_xlim(0, limit)
    for position, kgs in zip(positions[other], ends_kgs[other], strict=True):
        ax.text(limit * 0.99, position, f"{_value(int(kgs), units)}{suffix} (bar cut) \u2192",
                ha="right", va="center", fontsize=8, fontweight="bold", gid="other_value",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.6"}, **_LITERAL)
    return True


def _legend(ax: Axes, handles: list[Patch], cut: bool) -> None:
    # A cut Other bar (the last, at the bottom) takes the lower right; the named bars end
    # before 1 / _CUT_ROOM of the axis, which leaves the upper right to the legend.
    _literal_legend(ax.legend(handles=handles, loc="upper right" if cut else "lower right",
                              frameon=False))


def _count(shown: int, whole: int) -> str:
    """How many of how many a chart shows: "all 5" or "top 10 of 38"."""
    return f"all {whole}" if shown >= whole else f"top {shown} of {whole}"


def holdings_chart(summary: pd.DataFrame, *, top: int = 10, status: Status = "total",
                   units: Units = "tCO2e", annotate: bool = True, title: str | None = None,
                   ax: Axes | None = None) -> Axes:
    """Horizontal bars of holdings per entity: active and retired stacked, largest on top.

    Parameters
    ----------
    summary : DataFrame
        From :func:`~isoanalytics.summarize` or :func:`~isoanalytics.analysis.dimensions.breakdown`;
        names are used as labels where it has them (after ``enrich``), ids otherwise.
    top : int
        Bars for the largest ``top`` entities; the rest are one "Other (k)" bar. An Other
        bar longer than :data:`OTHER_CUT` times the longest named bar is cut at the axis the
        named bars set, its exact value printed on it (text gid ``"other_value"``).
    status : {"total", "active", "retired"}
        ``total`` stacks active and retired; the others draw that status alone.
    units : {"tCO2e", "kg"}
    annotate : bool
        Write the concentration of ``status`` across all entities (HHI, band, CR1) in a corner.

    Examples
    --------
    >>> from isoanalytics import demo, parse_balance, summarize
    >>> from isoanalytics.plots import holdings_chart
    >>> balance = parse_balance(demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID))
    >>> ax = holdings_chart(summarize(balance, by="supplier"), top=3)
    >>> ax.get_xlabel()
    'Credits (tCO2e)'
    """
    check_summary(summary, "holdings_chart")
    check_choice("status", status, ("total", "active", "retired"))
    check_choice("units", units, UNITS)
    shown = top_n(summary, top, status=status).iloc[::-1]  # barh draws bottom-up
    ax = _axes(ax, height=max(2.5, 0.35 * len(shown) + 1.2))
    labels = _labels(shown)
    positions = np.arange(len(shown))
    alpha = np.where(shown["other"].to_numpy(bool), 0.55, 1.0)
    left = np.zeros(len(shown))
    for part, colour in (("active", ACTIVE_COLOUR), ("retired", RETIRED_COLOUR)):
        if status not in ("total", part):
            continue
        widths = _scale(shown[f"{part}_kgs"], units)
        bars = ax.barh(positions, widths, left=left, color=colour, label=part.capitalize(),
                       gid=part)
        for bar, bar_alpha in zip(bars, alpha, strict=True):
            bar.set_alpha(bar_alpha)
        left = left + widths
    held = float(left.max(initial=0)) > 0
    _room_on_right(ax, float(left.max(initial=0)))
    ends = np.zeros(len(shown), dtype=np.int64)
    for part in ("active", "retired"):
        if status in ("total", part):
            ends = ends + shown[f"{part}_kgs"].to_numpy(np.int64)
    cut = _cut_other(ax, positions, ends, shown["other"].to_numpy(bool), units)
    ax.set_yticks(positions, labels, **_LITERAL)
    ax.set_xlabel(_unit_label(units), **_LITERAL)
    _thousands(ax)
    if not held:  # an empty frame, not an axis of "-0" ticks around nothing
        ax.set_xlim(0, 1)
        ax.set_xticks([])
    noun = _name(entity_noun(summary), inches=1.5)
    what = {"total": "Holdings", "active": "Active holdings", "retired": "Retired holdings"}
    count = _count(min(top, len(summary)), len(summary))
    # The title is lifted to make room for the concentration line beneath it.
    ax.set_title(_title(title, f"{what[status]} by {noun}, {count} ({units})"), loc="left",
                 pad=18 if annotate else 6, **_LITERAL)
    # Explicit handles: the bars' own alpha differs between the other bar and the rest.
    handles = [Patch(color=colour, label=part.capitalize())
               for part, colour in (("active", ACTIVE_COLOUR), ("retired", RETIRED_COLOUR))
               if status in ("total", part)]
    if held:
        _legend(ax, handles, cut)
    ax.spines[["top", "right"]].set_visible(False)
    if annotate:
        terms = concentration_terms(concentration(_status_kgs(summary, status)), noun)
        text = f"{terms['hhi']}, {terms['largest']}" if terms else NOTHING_HELD
        ax.text(0.0, 1.01, text, transform=ax.transAxes, ha="left", va="bottom", fontsize=9,
                color="0.3", gid="concentration", **_LITERAL)
    return ax


def _status_kgs(summary: pd.DataFrame, status: str) -> pd.Series:
    return summary[f"{status}_kgs"].astype(np.int64)


def retired_share_chart(summary: pd.DataFrame, *, top: int = 10, ax: Axes | None = None,
                        title: str | None = None) -> Axes:
    """Bars of each entity's retired share (retired kg over kg held), largest holdings first.

    A dashed line marks the retired share of the whole summary; each bar is labelled with its
    percentage. Entities beyond ``top`` form one "Other (k)" bar.

    Examples
    --------
    >>> from isoanalytics import demo, parse_balance, summarize
    >>> from isoanalytics.plots import retired_share_chart
    >>> balance = parse_balance(demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID))
    >>> retired_share_chart(summarize(balance, by="project"), top=3).get_xlabel()
    'Retired share (% of kg held)'
    """
    check_summary(summary, "retired_share_chart")
    shown = top_n(summary, top).iloc[::-1]
    ax = _axes(ax, height=max(2.5, 0.35 * len(shown) + 1.2))
    positions = np.arange(len(shown))
    shares = shown["retired_share"].to_numpy(float) * 100
    bars = ax.barh(positions, np.nan_to_num(shares), color=RETIRED_COLOUR, gid="retired_share")
    ax.bar_label(bars, labels=[percent(share / 100, 0) for share in shares], padding=3,
                 fontsize=8, **_LITERAL)
    noun = _name(entity_noun(summary), inches=1.5)
    held = totals(summary)
    if held.total_kgs:
        overall = ratio(held.retired_kgs, held.total_kgs) * 100
        ax.axvline(overall, color=NEUTRAL_COLOUR, linestyle="--", gid="overall")
        ax.text(overall, 1.0, f" all {noun}s: {overall:.1f} %",
                transform=ax.get_xaxis_transform(), va="bottom", fontsize=8, gid="overall",
                **_LITERAL)
    ax.set_yticks(positions, _labels(shown), **_LITERAL)
    ax.set_xlim(0, 110)
    ax.xaxis.set_major_formatter(PercentFormatter(100))
    ax.set_xlabel("Retired share (% of kg held)", **_LITERAL)
    ax.set_title(_title(title, f"Retired share by {noun}"), loc="left", **_LITERAL)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def lorenz_chart(source: Concentration | pd.DataFrame | CreditBalance | pd.Series, *,
                 by: Level = "supplier", status: Status = "total", ax: Axes | None = None,
                 title: str | None = None) -> Axes:
    """The Lorenz curve of a holding, with Gini, HHI, CR1 and the effective number annotated.

    Parameters
    ----------
    source : Concentration, summary frame, CreditBalance, tidy frame or Series
        A summary (a frame with ``total_kgs``) is shared out by ``<status>_kgs``; a balance
        or tidy frame goes through :func:`~isoanalytics.concentration` with ``by``.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.plots import lorenz_chart
    >>> ax = lorenz_chart(pd.Series([60, 30, 10]))
    >>> "Gini 0.33" in ax.texts[0].get_text()
    True
    """
    if isinstance(source, Concentration):
        figures = source
    elif isinstance(source, pd.DataFrame) and "total_kgs" in source.columns:
        check_choice("status", status, ("total", "active", "retired"))
        figures = concentration(_status_kgs(source, status))
        entities = entity_noun(source)
    else:
        figures = concentration(source, by=by, status=status)
        entities = by
    noun = _name(figures.by or entities, inches=1.5)
    ax = _axes(ax, height=4.5)
    ax.plot([0, 100], [0, 100], color=NEUTRAL_COLOUR, linestyle="--", linewidth=1,
            label="Equal holdings", gid="equality")
    lorenz = figures.lorenz
    ax.plot(lorenz["population_share"] * 100, lorenz["quantity_share"] * 100, marker="o",
            markersize=3, color=ACTIVE_COLOUR, label="This holding", gid="lorenz")
    ax.fill_between(lorenz["population_share"] * 100, lorenz["quantity_share"] * 100,
                    lorenz["population_share"] * 100, color=ACTIVE_COLOUR, alpha=0.12)
    terms = concentration_terms(figures, noun)
    text = "\n".join([terms["gini"], terms["hhi"], terms["cr1"],
                      f"{terms['effective_n']} of {figures.n}"]) if terms else NOTHING_HELD
    ax.text(0.04, 0.96, text, transform=ax.transAxes, va="top", fontsize=9, gid="figures",
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.8"}, **_LITERAL)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_aspect("equal")
    ax.xaxis.set_major_formatter(PercentFormatter(100))
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    ax.set_xlabel(f"Share of {noun}s, smallest first (%)", **_LITERAL)
    ax.set_ylabel("Cumulative share of kg held (%)", **_LITERAL)
    ax.set_title(_title(title, f"Lorenz curve across {noun}s"), loc="left", **_LITERAL)
    _literal_legend(ax.legend(loc="lower right", frameon=False))
    return ax


def concentration_chart(figures: Mapping[str, Concentration] | pd.DataFrame, *,
                        ax: Axes | None = None, title: str | None = None) -> Axes:
    """HHI along several dimensions, against the 2023 Merger Guidelines bands.

    Parameters
    ----------
    figures : mapping of dimension to Concentration, or a frame with ``hhi`` and ``level``
        For example ``{by: concentration(breakdown(balance, by, projects=p)["total_kgs"])
        for by in DIMENSIONS}``.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import concentration
    >>> from isoanalytics.plots import concentration_chart
    >>> ax = concentration_chart({"supplier": concentration(pd.Series([60, 30, 10])),
    ...                           "country": concentration(pd.Series([50, 50]))})
    >>> [round(bar.get_height()) for bar in ax.patches if bar.get_gid() == "hhi"]
    [4600, 5000]
    """
    if isinstance(figures, Mapping):
        table = pd.DataFrame({dimension: {"hhi": value.hhi, "level": value.level,
                                          "effective_n": value.effective_n}
                              for dimension, value in figures.items()}).T
    elif isinstance(figures, pd.DataFrame) and "hhi" in figures.columns:
        table = figures
    else:
        raise TypeError("concentration_chart() takes {dimension: Concentration} or a frame "
                        f"with an 'hhi' column, got {type(figures).__name__}")
    ax = _axes(ax, height=3.5)
    ceiling = 10_000
    bands = ((0, HHI_MODERATE), (HHI_MODERATE, HHI_HIGH), (HHI_HIGH, ceiling))
    for (name, colour), (low, high) in zip(_BANDS, bands, strict=True):
        ax.axhspan(low, high, color=colour, alpha=0.12, gid=f"band-{name}")
        ax.text(1.01, (low + high) / 2, name, transform=ax.get_yaxis_transform(),
                va="center", fontsize=8, **_LITERAL)
    positions = np.arange(len(table))
    hhi = table["hhi"].astype(float).to_numpy()
    bars = ax.bar(positions, np.nan_to_num(hhi), color=ACTIVE_COLOUR, width=0.6, gid="hhi")
    ax.bar_label(bars, labels=[f"{value:,.0f}" if np.isfinite(value) else "n/a" for value in hhi],
                 padding=2, fontsize=9, **_LITERAL)
    ax.set_xticks(positions, [_name(str(name).capitalize()) for name in table.index],
                  **_LITERAL)
    ax.set_ylim(0, ceiling)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.set_ylabel("HHI (0 to 10,000)", **_LITERAL)
    ax.set_title(_title(title, "Concentration of holdings (HHI) by dimension"), loc="left",
                 **_LITERAL)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def delivery_chart(orders: pd.DataFrame, *, units: Units = "tCO2e", top: int = 15,
                   ax: Axes | None = None, title: str | None = None) -> Axes:
    """Each order's delivered and remaining quantity, with its delivered share.

    Parameters
    ----------
    orders : DataFrame
        ``client.orders(organisation_id)`` (``id, supplier_name, ordered_kgs, delivered_kgs,
        remaining_kgs``) or a delivery schedule's orders (``order_id`` for ``id``). Orders
        with the most remaining come first (then the most ordered, then by id); beyond
        ``top`` they are one "Other (k orders)" bar of their exact sums, cut at the axis the
        named bars set when it dwarfs them (see :func:`holdings_chart`).

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.plots import delivery_chart
    >>> with RegistryClient.demo() as client:
    ...     ax = delivery_chart(client.orders(demo.DEFAULT_ORGANISATION_ID), top=3)
    >>> ax.get_xlabel(), ax.get_yticklabels()[0].get_text()
    ('Credits (tCO2e)', 'Other (3 orders)')
    """
    if "id" not in orders.columns and "order_id" in orders.columns:
        orders = orders.rename(columns={"order_id": "id"})
    check_columns(orders, ("id", "ordered_kgs", "delivered_kgs", "remaining_kgs"),
                  "delivery_chart", "the frame of client.orders(organisation_id)")
    check_choice("units", units, UNITS)
    check_integer("top", top)
    ordered = sort_orders(orders, "id")
    kgs = ["ordered_kgs", "delivered_kgs", "remaining_kgs"]
    named = ordered.iloc[:top]
    rest = ordered.iloc[top:]
    names = (named["supplier_name"] if "supplier_name" in named.columns else named["id"])
    labels = []
    for name, order_id in zip(names, named["id"], strict=True):
        suffix = f" ({short_name(str(order_id)[-6:])})"
        room = LABEL_INCHES - _ink(suffix) / 72
        labels.append(_name(name, order_id, room) + suffix)
    figures = named[kgs].to_numpy(np.int64)
    if len(rest):
        labels.append(f"Other ({len(rest)} {'order' if len(rest) == 1 else 'orders'})")
        figures = np.vstack([figures, rest[kgs].to_numpy(np.int64).sum(axis=0)])
    other = np.arange(len(labels)) >= len(named)
    figures, labels, other = figures[::-1], labels[::-1], other[::-1]  # barh draws bottom-up
    ax = _axes(ax, height=max(2.5, 0.35 * len(labels) + 1.2))
    positions = np.arange(len(labels))
    delivered = _scale(figures[:, 1], units)
    remaining = _scale(figures[:, 2], units)
    alpha = np.where(other, 0.55, 1.0)
    done = ax.barh(positions, delivered, color=ACTIVE_COLOUR, label="Delivered", gid="delivered")
    bars = ax.barh(positions, remaining, left=delivered, color=REMAINING_COLOUR,
                   label="Remaining", gid="remaining")
    for bar, bar_alpha in zip([*done, *bars], [*alpha, *alpha], strict=True):
        bar.set_alpha(bar_alpha)
    shares = [ratio(int(row[1]), int(row[0])) for row in figures]
    _room_on_right(ax, float((delivered + remaining).max(initial=0)), factor=1.3)
    cut = _cut_other(ax, positions, figures[:, 1] + figures[:, 2], other, units,
                     suffix=" ordered")
    ax.bar_label(bars, labels=["" if cut and is_other else percent(share, 0)
                               for share, is_other in zip(shares, other, strict=True)],
                 padding=3, fontsize=8, **_LITERAL)
    ax.set_yticks(positions, labels, **_LITERAL)
    ax.set_xlabel(_unit_label(units), **_LITERAL)
    _thousands(ax)
    count = _count(len(named), len(ordered))
    ax.set_title(_title(title, f"Order delivery progress, {count} orders ({units})"),
                 loc="left", **_LITERAL)
    _legend(ax, [Patch(color=ACTIVE_COLOUR, label="Delivered"),
                 Patch(color=REMAINING_COLOUR, label="Remaining")], cut)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def sort_orders(orders: pd.DataFrame, key: str = "order_id") -> pd.DataFrame:
    """Orders as the delivery chart and the order tables list them: most remaining first,
    then most ordered, then by ``key`` (the order id column).

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.plots import sort_orders
    >>> orders = pd.DataFrame({"order_id": ["ord_B", "ord_A", "ord_C"],
    ...                        "ordered_kgs": [5, 5, 9], "remaining_kgs": [0, 0, 4]})
    >>> sort_orders(orders)["order_id"].tolist()
    ['ord_C', 'ord_A', 'ord_B']
    """
    return orders.sort_values(["remaining_kgs", "ordered_kgs", key],
                              ascending=[False, False, True], kind="stable")


_MAX_TICKS = 12
#: Beyond this many bars (periods times stacked parts), timeline_chart draws each part as
#: filled steps (one artist) rather than a bar per period: bars cost about 3 ms each to draw.
MAX_BARS = 300


def _per(units: str, word: str) -> str:
    return (f"Credits per {word} (tCO2e)" if units == "tCO2e"
            else f"Quantity per {word} (kg CO2e)")


def _cumulative_label(units: str) -> str:
    return "Cumulative credits (tCO2e)" if units == "tCO2e" else "Cumulative quantity (kg CO2e)"


def _ranked(totals_kgs: np.ndarray, names: list[str], top: int) -> np.ndarray:
    """Series positions, largest total first (ties by name), the first ``top`` of them."""
    order = sorted(range(len(names)), key=lambda i: (-int(totals_kgs[i]), names[i]))
    return np.array(order[:top], dtype=np.int64)


def _ticks_every(ax: Axes, positions: np.ndarray, labels: list[str]) -> None:
    # At most 12 years ("2025"), 8 quarters or months ("2025Q1"), 5 weeks or days (a date
    # range or a date): evenly spaced, never overlapping at 8 inches.
    widest = max(map(len, labels), default=0)
    most = _MAX_TICKS if widest <= 4 else 8 if widest <= 7 else 5
    step = max(1, -(-len(positions) // most))
    ax.set_xticks(positions[::step], labels[::step], **_LITERAL)


def timeline_chart(timeline: pd.DataFrame, *, by: str | None = None, top: int = 6,
                   names: Mapping[object, str] | None = None, units: Units = "tCO2e",
                   cumulative: bool = True, title: str | None = None,
                   ax: Axes | None = None) -> Axes:
    """Bars of the credits moved per period, stacked by ``by``, with the running total.

    Parameters
    ----------
    timeline : DataFrame
        From :func:`isoanalytics.timeline`: ``period``, ``credit_kgs`` and, when it was
        split, its ``by`` column.
    by : str, optional
        The column the bars are stacked by; found by itself when the frame has one besides
        the timeline's own. The ``top`` values with the most kilograms have a colour each;
        the rest are one grey "Other (k)" part of each bar
        (:func:`~isoanalytics.analysis.timeline.pivot_timeline`).
    names : mapping, optional
        Labels for ``by`` values (supplier id to name, say); values not in it show as they are.
    units : {"tCO2e", "kg"}
    cumulative : bool
        Draw the running total of every part as a line, on its own axis at the right.

    Returns
    -------
    Axes
        The axes of the bars (the running total's axis is its twin, in ``ax.figure.axes``).
        Each stack part is a ``BarContainer`` in ``ax.containers``, labelled with its value;
        beyond :data:`MAX_BARS` bars, a filled ``StepPatch`` of the same heights in
        ``ax.patches`` (gid ``"timeline"``).

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import timeline
    >>> from isoanalytics.plots import timeline_chart
    >>> moves = pd.DataFrame({
    ...     "at": pd.to_datetime(["2024-03-01T10:00Z", "2024-11-30T09:00Z", "2026-02-01T00:00Z"]),
    ...     "event": "retired", "credit_kgs": [1_500, 2_000, 500],
    ...     "supplier_id": ["spl_A", "spl_B", "spl_A"]})
    >>> ax = timeline_chart(timeline(moves, "Y", by="supplier_id"), names={"spl_A": "Deepwell"})
    >>> [float(bar.get_height()) for bar in ax.containers[0]], ax.containers[0].get_label()
    ([1.5, 0.0, 0.5], 'Deepwell')
    >>> ax.get_ylabel()
    'Credits per year (tCO2e)'
    """
    check_columns(timeline, ("period", "credit_kgs"), "timeline_chart",
                  "the frame of isoanalytics.timeline(ledger, ...)")
    check_choice("units", units, UNITS)
    check_integer("top", top)
    table = pivot_timeline(timeline, by=by, top=top)
    stacked = list(table.columns) != ["credit_kgs"]  # a timeline without a by column is not
    word = period_word(pd.PeriodIndex(table.index).freqstr)
    labels = {} if names is None else names  # a Series of names works as well as a dict
    series = []
    for position, column in enumerate(table.columns):
        # pivot_timeline's "Other (k)" column comes after the top ones, when there is one
        colour = (ACTIVE_COLOUR if not stacked else NEUTRAL_COLOUR if position >= top
                  else _SERIES[position % len(_SERIES)])
        series.append((_name(labels.get(column, column)), table[column].to_numpy(np.int64),
                       colour))
    ax = _axes(ax, height=4.0)
    positions = np.arange(len(table))
    bottom = np.zeros(len(table))
    steps = len(table) * len(series) > MAX_BARS
    for name, heights_kgs, colour in series:
        heights = _scale(heights_kgs, units)
        if steps:  # one artist per part, not one per bar: thousands of days draw in a blink
            ax.stairs(bottom + heights, np.arange(len(table) + 1) - 0.5, baseline=bottom,
                      fill=True, color=colour, label=name, gid="timeline")
        else:
            ax.bar(positions, heights, bottom=bottom, color=colour, width=0.8, label=name,
                   gid="timeline")
        bottom = bottom + heights
    moved = int(table.to_numpy().sum()) > 0
    # A week is named by its Monday: "2025-03-03/2025-03-09" would not fit under a bar.
    _ticks_every(ax, positions, [period.start_time.strftime("%Y-%m-%d") if word == "week"
                                 else str(period) for period in table.index])
    ax.set_ylabel(_per(units, word), **_LITERAL)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    handles: list[Patch | Line2D] = [Patch(color=colour, label=name)
                                     for name, _, colour in series if stacked]
    if cumulative and len(table):
        twin = ax.twinx()
        running = _scale(np.cumsum(table.to_numpy(np.int64).sum(axis=1)), units)
        (line,) = twin.plot(positions, running, color="0.25", linewidth=1.5,
                            marker="o" if len(table) <= 60 else None, markersize=3,
                            label="Cumulative", gid="cumulative")
        twin.set_ylim(bottom=0, top=max(float(running.max(initial=0)) * 1.1, 1.0))
        twin.set_ylabel(_cumulative_label(units), **_LITERAL)
        twin.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        twin.spines[["top"]].set_visible(False)
        handles.append(line)
    if not moved:
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.text(0.5, 0.5, "nothing moved", transform=ax.transAxes, ha="center", va="center",
                color="0.3", gid="nothing", **_LITERAL)
    elif handles:
        _literal_legend(ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=8))
    split_by = by or next((c for c in timeline.columns if c not in (
        "period", "period_start", "credit_kgs", "credits", "cumulative_kgs")), None)
    split = f", by {_name(split_by, inches=1.5)}" if stacked and split_by is not None else ""
    ax.set_title(_title(title, f"Credits moved per {word}{split} ({units})"), loc="left",
                 **_LITERAL)
    ax.spines[["top"]].set_visible(False)
    return ax


def vintage_chart(summary: pd.DataFrame, *, status: Status = "total", units: Units = "tCO2e",
                  ax: Axes | None = None, title: str | None = None) -> Axes:
    """Columns of holdings or retirements per vintage year, oldest first.

    Parameters
    ----------
    summary : DataFrame
        ``breakdown(batches, "vintage")`` of a credit-batch frame or a ledger (see
        :func:`~isoanalytics.breakdown`); batches without a vintage form the last column,
        "(unknown)".
    status : {"total", "active", "retired"}
        ``total`` stacks active and retired; ``retired`` shows the retirements by vintage.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, breakdown, demo
    >>> from isoanalytics.plots import vintage_chart
    >>> with RegistryClient.demo() as client:
    ...     batches = client.credit_batches(demo.DEFAULT_ORGANISATION_ID)
    >>> ax = vintage_chart(breakdown(batches, "vintage"), status="retired")
    >>> [tick.get_text() for tick in ax.get_xticklabels()], ax.get_ylabel()
    (['2024', '2025', '2026'], 'Credits (tCO2e)')
    """
    check_summary(summary, "vintage_chart")
    check_choice("status", status, ("total", "active", "retired"))
    check_choice("units", units, UNITS)
    if summary.index.name != "vintage":
        raise ValueError("vintage_chart() takes breakdown(batches, 'vintage') (a summary "
                         f"indexed by vintage); this one is indexed by {summary.index.name!r}")
    shown = summary.sort_index(na_position="last", kind="stable")
    ax = _axes(ax, height=4.0)
    positions = np.arange(len(shown))
    bottom = np.zeros(len(shown))
    for part, colour in (("active", ACTIVE_COLOUR), ("retired", RETIRED_COLOUR)):
        if status not in ("total", part):
            continue
        heights = _scale(shown[f"{part}_kgs"], units)
        ax.bar(positions, heights, bottom=bottom, color=colour, width=0.7,
               label=part.capitalize(), gid=part)
        bottom = bottom + heights
    ax.set_xticks(positions, label(shown).tolist(), **_LITERAL)
    ax.set_xlabel("Vintage (year the carbon was removed)", **_LITERAL)
    ax.set_ylabel(_unit_label(units), **_LITERAL)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    held = float(bottom.max(initial=0)) > 0
    if held:
        _literal_legend(ax.legend(loc="upper left", frameon=False))
    else:
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.text(0.5, 0.5, NOTHING_HELD, transform=ax.transAxes, ha="center", va="center",
                color="0.3", **_LITERAL)
    what = {"total": "Holdings", "active": "Active holdings", "retired": "Retired credits"}
    ax.set_title(_title(title, f"{what[status]} by vintage ({units})"), loc="left", **_LITERAL)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


_PROGRESS = ("supplier_id", "month", "cumulative_delivered_kgs", "ordered_kgs")


def _months(values: pd.Series) -> pd.DatetimeIndex:
    """Months (Periods, dates or instants) as naive timestamps of their first day, in UTC."""
    if isinstance(values.dtype, pd.PeriodDtype):
        return pd.PeriodIndex(values).to_timestamp()
    moments = pd.DatetimeIndex(pd.to_datetime(values))
    if moments.tz is not None:
        moments = moments.tz_convert("UTC").tz_localize(None)
    return moments.to_period("M").to_timestamp()


def _carried(codes: np.ndarray, months: int, suppliers: np.ndarray, count: int,
             values: np.ndarray) -> np.ndarray:
    """A month x supplier table of a cumulative figure, each carried forward to later months
    (0 before a supplier's first month): exact int64."""
    table = np.zeros((months, count), dtype=np.int64)
    have = np.zeros((months, count), dtype=bool)
    table[codes, suppliers] = values
    have[codes, suppliers] = True
    last = np.where(have, np.arange(months)[:, None], 0)
    np.maximum.accumulate(last, axis=0, out=last)
    return np.take_along_axis(table, last, axis=0)


def delivery_curve(progress: pd.DataFrame, *, top: int = 6, units: Units = "tCO2e",
                   ax: Axes | None = None, title: str | None = None) -> Axes:
    """Cumulative delivered credits per supplier, month by month, against what was ordered.

    Parameters
    ----------
    progress : DataFrame
        One row per supplier and month: ``supplier_id``, ``supplier_name`` (optional),
        ``month`` (Periods, dates or instants), ``cumulative_delivered_kgs`` and
        ``ordered_kgs`` (the total ordered from the supplier by then), such as
        ``delivery_progress(...)``. A supplier's figures carry forward over months it has no
        row for.
    top : int
        Suppliers with the most ordered get a curve each; the rest are summed into one grey
        "Other (k)" curve. When it rises above :data:`OTHER_CUT` times the highest named
        curve, the axis is set by the named curves and its final figures are printed.

    Returns
    -------
    Axes
        A solid step line per supplier for the delivered credits (gid ``"delivered"``) and a
        dashed one for the ordered credits (gid ``"ordered"``), in the same colour.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.plots import delivery_curve
    >>> progress = pd.DataFrame({
    ...     "supplier_id": ["spl_A", "spl_A", "spl_B"], "supplier_name": ["Deepwell", "Deepwell",
    ...     "Basalt Fields"], "month": pd.PeriodIndex(["2024-01", "2024-06", "2024-03"], freq="M"),
    ...     "delivered_kgs": [1_000, 2_000, 500], "cumulative_delivered_kgs": [1_000, 3_000, 500],
    ...     "ordered_kgs": [5_000, 5_000, 500]})
    >>> ax = delivery_curve(progress)
    >>> [line.get_ydata().tolist() for line in ax.lines if line.get_gid() == "delivered"]
    [[1.0, 1.0, 3.0], [0.0, 0.5, 0.5]]
    """
    check_columns(progress, _PROGRESS, "delivery_curve",
                  "a monthly delivery frame (supplier_id, month, cumulative_delivered_kgs, "
                  "ordered_kgs), such as delivery_progress(...)")
    check_choice("units", units, UNITS)
    check_integer("top", top)
    months = _months(progress["month"])
    shown_months = months.unique().sort_values()
    month_codes = shown_months.get_indexer(months)
    supplier_codes, supplier_ids = pd.factorize(progress["supplier_id"].astype(object))
    if (supplier_codes < 0).any():
        raise ValueError("delivery_curve(): supplier_id is missing on some rows; each row is "
                         "one supplier's month")
    pairs = pd.Series(supplier_codes * len(shown_months) + month_codes)
    if pairs.duplicated().any():
        row = progress.index[pairs.duplicated().to_numpy()][0]
        raise ValueError(f"delivery_curve(): row {row!r} repeats a supplier's month; the "
                         "frame has one row per supplier and month")
    delivered = _carried(month_codes, len(shown_months), supplier_codes, len(supplier_ids),
                         progress["cumulative_delivered_kgs"].to_numpy(dtype=np.int64))
    ordered = _carried(month_codes, len(shown_months), supplier_codes, len(supplier_ids),
                       progress["ordered_kgs"].to_numpy(dtype=np.int64))
    names_by_id = {}
    if "supplier_name" in progress.columns:
        names_by_id = dict(zip(progress["supplier_id"].astype(object),
                               progress["supplier_name"].astype(object), strict=True))
    names = [name_or_id(names_by_id.get(sid), sid) for sid in supplier_ids]
    kept = _ranked(ordered.max(axis=0, initial=0), [str(s) for s in supplier_ids], top)
    rest = np.setdiff1d(np.arange(len(supplier_ids)), kept)
    series = [(names[i], delivered[:, i], ordered[:, i], _SERIES[n % len(_SERIES)])
              for n, i in enumerate(kept)]
    if len(rest):
        series.append((f"Other ({len(rest)})", delivered[:, rest].sum(axis=1),
                       ordered[:, rest].sum(axis=1), NEUTRAL_COLOUR))
    ax = _axes(ax, height=4.0)
    handles: list[Patch | Line2D] = []
    for name, done, wanted, colour in series:
        (line,) = ax.plot(shown_months, _scale(done, units), drawstyle="steps-post",
                          color=colour, linewidth=2, label=_name(name), gid="delivered")
        ax.plot(shown_months, _scale(wanted, units), drawstyle="steps-post", color=colour,
                linewidth=1, linestyle="--", label=f"{_name(name)} (ordered)", gid="ordered")
        handles.append(line)
    if series:
        handles.append(Line2D([], [], color=NEUTRAL_COLOUR, linestyle="--", label="Ordered"))
        _literal_legend(ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=8))
        ax.set_ylim(bottom=0)
        if len(rest):
            _cut_other_curve(ax, series, units)
    else:
        ax.text(0.5, 0.5, "nothing ordered", transform=ax.transAxes, ha="center",
                va="center", color="0.3", **_LITERAL)
    ax.set_xlabel("Month", **_LITERAL)
    ax.set_ylabel(f"Cumulative {_unit_label(units)[0].lower()}{_unit_label(units)[1:]}",
                  **_LITERAL)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.set_title(_title(title, f"Delivered against ordered, by supplier ({units})"),
                 loc="left", **_LITERAL)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def _cut_other_curve(ax: Axes, series: list[tuple[str, np.ndarray, np.ndarray, str]],
                     units: str) -> None:
    """The "Other" curve (last) above an axis the named curves set, when it dwarfs them; its
    final delivered and ordered figures printed at the top right (gid ``"other_value"``)."""
    name, done, wanted, _ = series[-1]
    highest = max((int(max(d.max(initial=0), w.max(initial=0))) for _, d, w, _ in series[:-1]),
                  default=0)
    other_top = int(max(done.max(initial=0), wanted.max(initial=0)))
    if highest <= 0 or other_top <= OTHER_CUT * highest:
        return
    limit = float(_scale(np.array([highest]), units)[0]) * 1.25
    ax.set_ylim(0, limit)
    ax.text(0.99, 0.98, f"{_name(name)}: {_value(int(done[-1]), units)} delivered of "
            f"{_value(int(wanted[-1]), units)} ordered (curve above the axis) \u2191",
            transform=ax.transAxes, ha="right", va="top", fontsize=8, fontweight="bold",
            gid="other_value", bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.6"},
            **_LITERAL)


def history_chart(history: pd.DataFrame, *, organisation_id: str | None = None,
                  units: Units = "tCO2e", title: str | None = None,
                  ax: Axes | None = None) -> Axes:
    """Active and retired holdings over the snapshots of a store, as steps.

    Each organisation holds, at any time, what its latest snapshot then said (a step holds
    until its next snapshot; before its first it adds nothing), so organisations snapshotted
    at different times add up; a marker is a snapshot taken.

    Parameters
    ----------
    history : DataFrame
        From :func:`~isoanalytics.history`: ``snapshot_at``, ``snapshot_id`` and the tidy
        balance columns; its organisation-level rows are drawn.
    organisation_id : str or None
        Draw one organisation; None: all of them, added up.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.plots import history_chart
    >>> rows = pd.DataFrame({
    ...     "snapshot_at": pd.to_datetime(["2025-01-01"] * 2 + ["2025-02-01"] * 2, utc=True),
    ...     "snapshot_id": ["a", "a", "b", "b"], "organisation_id": ["org_1"] * 4,
    ...     "level": "organisation", "entity_id": ["org_1"] * 4,
    ...     "status": ["active", "retired"] * 2, "credit_kgs": [9000, 1000, 6000, 4000],
    ...     "credits": [9.0, 1.0, 6.0, 4.0]})
    >>> ax = history_chart(rows)
    >>> ax.get_ylabel(), [line.get_label() for line in ax.get_lines()]
    ('Credits (tCO2e)', ['Active', 'Retired'])
    """
    check_columns(history, ("snapshot_at", "snapshot_id", "organisation_id", "level", "status",
                            "credit_kgs"), "history_chart", "the frame of isoanalytics.history()")
    check_choice("units", units, UNITS)
    rows = history[(history["level"] == "organisation").to_numpy()]
    if organisation_id is not None:
        rows = rows[(rows["organisation_id"] == organisation_id).to_numpy()]
    ax = _axes(ax)
    # kg per (time, organisation, status) of each snapshot; a later snapshot at the same
    # instant wins, as history() orders them.
    held = (rows.groupby(["snapshot_at", "snapshot_id", "organisation_id", "status"],
                         observed=True, sort=False)["credit_kgs"].sum().reset_index()
            .drop_duplicates(["snapshot_at", "organisation_id", "status"], keep="last"))
    times = pd.DatetimeIndex(sorted(held["snapshot_at"].unique()))
    for status, colour in (("active", ACTIVE_COLOUR), ("retired", RETIRED_COLOUR)):
        part = held[(held["status"] == status).to_numpy()]
        total = np.zeros(len(times), dtype=np.int64)
        for _, mine in part.groupby("organisation_id", observed=True, sort=False):
            # Its holding carried forward to every later time, in int64 (a pivot's NaN
            # would make floats of the kilograms); before its first snapshot, nothing.
            mine = mine.sort_values("snapshot_at", kind="stable")
            taken = np.searchsorted(pd.DatetimeIndex(mine["snapshot_at"]), times,
                                    side="right") - 1
            kgs = mine["credit_kgs"].to_numpy(np.int64)
            total += np.where(taken >= 0, kgs[np.maximum(taken, 0)], 0)
        ax.plot(times, _scale(total, units), drawstyle="steps-post", marker="o", markersize=3,
                color=colour, label=status.capitalize(), gid=status)
    ax.set_ylabel(_unit_label(units), **_LITERAL)
    ax.set_xlabel("Snapshot (UTC)", **_LITERAL)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.set_ylim(bottom=0)
    if len(times) == 0:
        ax.text(0.5, 0.5, "No snapshots", transform=ax.transAxes, ha="center", va="center",
                color="0.3", **_LITERAL)
        ax.set_xticks([])
    else:
        _literal_legend(ax.legend(loc="upper left", frameon=False))
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # no overlapping dates
    count = f"{len(times)} snapshot{'s' if len(times) != 1 else ''}"
    whose = "" if organisation_id is None else f" of {_name(organisation_id, inches=1.8)}"
    ax.set_title(_title(title, f"Holdings{whose} at {count} ({units})"), loc="left", **_LITERAL)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


class ChartImage:
    """A drawn chart as a PNG picture with alt text: what a report or an exported page shows.

    Made by :func:`chart_image`. In a notebook it shows as the picture; the PNG's output
    metadata carries ``alt``, which the report's HTML export (``isoanalytics report``,
    also with ``--template``) writes as the ``<img>``'s alt text, for screen readers and for
    a PDF's text. ``alt`` and ``png`` (the bytes) are attributes.

    Examples
    --------
    >>> from isoanalytics import plots
    >>> import pandas as pd
    >>> picture = plots.chart_image(pd.Series([2, 5]).plot.barh(), "Two bars: 2 and 5 tCO2e")
    >>> picture
    <chart: Two bars: 2 and 5 tCO2e>
    >>> picture._repr_mimebundle_()[1]
    {'image/png': {'alt': 'Two bars: 2 and 5 tCO2e'}}
    """

    def __init__(self, png: bytes, alt: str) -> None:
        self.png = png
        self.alt = alt

    def _repr_mimebundle_(self, include: object = None, exclude: object = None,
                          ) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        import base64

        picture = base64.b64encode(self.png).decode("ascii")
        return ({"image/png": picture, "text/plain": f"<chart: {self.alt}>"},
                {"image/png": {"alt": self.alt}})

    def __repr__(self) -> str:
        return f"<chart: {self.alt}>"


def chart_image(ax: Axes, alt: str, *, dpi: float | None = None) -> ChartImage:
    """The chart ``ax`` is on as a PNG picture with alt text; its figure is closed.

    Parameters
    ----------
    ax : Axes
        Any Axes of the figure to show (the return value of a chart function).
    alt : str
        What the chart shows, with its key figure, in one or two sentences: the picture's
        alt text ("Bar chart of active and retired tCO2e for the 5 suppliers; the largest,
        Alpha, holds 62 %").
    dpi : float, optional
        Resolution; None: matplotlib's ``savefig.dpi`` (the inline backend's default look).

    Returns
    -------
    ChartImage
        Shown by a notebook as the picture; the report's HTML gives it ``alt``.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import plots
    >>> ax = pd.Series([1, 3]).plot.bar()
    >>> picture = plots.chart_image(ax, "Two bars: 1 and 3 tCO2e")
    >>> picture.png[:4] == b"\\x89PNG", picture.alt
    (True, 'Two bars: 1 and 3 tCO2e')
    """
    import io

    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("chart_image() needs alt text saying what the chart shows, with "
                         f"its key figure; got {alt!r}")
    buffer = io.BytesIO()
    from matplotlib.figure import Figure

    figure = ax.figure
    while not isinstance(figure, Figure):  # a subfigure: its root figure saves (matplotlib 3.8)
        figure = figure.figure
    if dpi is None:
        figure.savefig(buffer, format="png", bbox_inches="tight")
    else:
        figure.savefig(buffer, format="png", bbox_inches="tight", dpi=dpi)
    plt.close(figure)
    return ChartImage(buffer.getvalue(), " ".join(alt.split()))


_PERIOD_COLOUR = "#D9D9D9"


def mark_period(ax: Axes, timeline: pd.DataFrame, start: object = None, end: object = None,
                *, label: str | None = None) -> Rectangle:
    """Shade a reporting period ``[start, end)`` on a chart of :func:`timeline_chart`.

    The shading runs from the start's place in its bar to the end's (a period that begins
    mid-quarter begins mid-bar); an open bound runs to the chart's edge. With ``label``, a
    legend entry names the period (the chart's legend keeps its other entries).

    Parameters
    ----------
    ax : Axes
        The axes :func:`timeline_chart` returned for ``timeline``.
    timeline : DataFrame
        The frame the chart was drawn from (its ``period`` column places the bars).
    start, end : date, date-like text or time-zone-aware datetime, optional
        The period's bounds (a date is its midnight UTC); the end is excluded.
    label : str, optional
        The legend entry, e.g. ``"Reporting period: 2025"``.

    Returns
    -------
    Rectangle
        The shading (gid ``"period"``), the axes' full height.

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics import timeline
    >>> from isoanalytics.plots import mark_period, timeline_chart
    >>> moves = pd.DataFrame({"at": pd.to_datetime(["2024-02-01T00:00Z", "2026-11-01T00:00Z"]),
    ...                       "event": "retired", "credit_kgs": [1_000, 2_000]})
    >>> quarters = timeline(moves, "Q")  # 2024Q1 to 2026Q4: twelve bars at 0 to 11
    >>> ax = timeline_chart(quarters, cumulative=False)
    >>> shade = mark_period(ax, quarters, "2025-01-01", "2026-01-01", label="2025")
    >>> round(shade.get_x(), 2), round(shade.get_x() + shade.get_width(), 2)  # bars 4 to 7
    (3.5, 7.5)
    """
    from ..records.instants import utc_bound

    check_columns(timeline, ("period",), "mark_period", "the frame of isoanalytics.timeline()")
    periods = pd.PeriodIndex(timeline["period"]).unique().sort_values()
    if len(periods) == 0:
        raise ValueError("mark_period(): the timeline has no periods to mark a period on")
    half = 0.5  # each period's slot: its bar (0.8 wide, centred) and half the gap either side

    def place(value: object, name: str, edge: float) -> float:
        moment = utc_bound(value, name)
        if moment is None:
            return edge
        naive = moment.tz_convert("UTC").tz_localize(None)
        if naive < periods[0].start_time:
            return -half
        if naive >= (periods[-1] + 1).start_time:
            return len(periods) - 1 + half
        here = pd.Period(naive, freq=periods.freqstr)
        position = int(np.flatnonzero(periods == here)[0])
        begins, ends = here.start_time, (here + 1).start_time
        return position - half + 2 * half * float((naive - begins) / (ends - begins))

    low = place(start, "start", -half)
    high = place(end, "end", len(periods) - 1 + half)
    # A rectangle of its own (axvspan's return type changed in matplotlib 3.9).
    shade = Rectangle((low, 0.0), high - low, 1.0, transform=ax.get_xaxis_transform(),
                      color=_PERIOD_COLOUR, alpha=0.6, zorder=0, linewidth=0, gid="period",
                      label=label)
    ax.add_patch(shade)
    if label:
        legend = ax.get_legend()
        handles = list(legend.legend_handles) if legend is not None else []
        patch = Patch(color=_PERIOD_COLOUR, alpha=0.6, label=label)
        _literal_legend(ax.legend(handles=[*handles, patch], loc="upper left", frameon=False,
                                  fontsize=8))
    return shade
