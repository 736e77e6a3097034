"""ipywidgets apps: :func:`explorer` for a balance or portfolio, :func:`connect` for a client,
and :func:`dashboard`, both together for Voila.

Every view is a widget trait (PNG bytes in an ``Image``, HTML in an ``HTML``), set from code
on each change: nothing is printed into an ``Output`` context, so the apps behave the same in
JupyterLab, Notebook 7, Voila and under nbval, and their state can be read back in Python
(``app.summary``, ``app.concentration``) to test or to reuse.

An explorer shown in a notebook (``app`` as a cell's last line, or ``display(app)``) also
shows its last state as static outputs beside the widgets: its chart as a PNG with alt text
and its exact table, updated on every change under one display id. A page exported from the
notebook (``jupyter nbconvert --to html``, ``isoanalytics report --template``) shows them
offline, where widgets cannot run; where the widgets do render, a style rule hides the copy.
"""

from __future__ import annotations

import base64
import html
import io
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import ipywidgets as widgets
import pandas as pd
from matplotlib.figure import Figure

from .._environment import SECRET_VARIABLE, TOKEN_VARIABLE
from .._format import UNITS, name_or_id, percent, quantity
from .._options import check_choice, check_integer
from ..analysis.dimensions import DIMENSIONS, breakdown, entity_noun, label, top_n
from ..analysis.durability import project_durability
from ..analysis.metrics import Concentration, concentration, totals
from ..analysis.timeline import timeline
from ..errors import RegistryError, SchemaError
from ..records.balance import CreditBalance, stack_balances
from ..records.frames import check_columns, check_tidy
from ..records.movements import EVENTS
from ..registry.client import RegistryClient
from ..registry.enrich import enrich
from ..registry.fetch import PortfolioFetch, fetch_balances
from ..registry.http import Secret, configured_environment
from ..registry.ledger import ledger as read_ledger
from .plots import Units, holdings_chart, timeline_chart
from .sentences import concentration_terms, plural
from .tables import holdings_html, timeline_html

__all__ = ["Connect", "Dashboard", "Explorer", "TimeView", "connect", "dashboard", "explorer"]

ALL = "__all__"  # the organisation picker's value for the whole portfolio
_STATUSES = (("Total", "total"), ("Active", "active"), ("Retired", "retired"))
_DPI = 80  # a sharp chart at notebook width, and a PNG small enough to redraw quickly
_WIDTH_INCHES = 8.0
# More bars than this are unreadable and slow to draw (about 4 ms a bar); the rest are one
# "Other" bar, and app.breakdown has every entity.
MAX_TOP = 50
# Where the widgets render (JupyterLab, Notebook 7, Voila, an export whose widget renderer
# loaded), the static copy of the explorer's state beside them is hidden; where they do not
# (an exported page offline, GitHub), there is no explorer element and the copy shows.
_HIDE_STATIC = ("<style>.jp-OutputArea:has(.isoanalytics-explorer) "
                ".jp-OutputArea-child:has(.isoanalytics-static),"
                ".jp-OutputArea:has(.isoanalytics-explorer) .isoanalytics-static"
                "{display:none}</style>")


def _portfolio_frame(source: Any) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The tidy frame of ``source``, and the failures a PortfolioFetch carried."""
    if isinstance(source, PortfolioFetch):
        return source.frame, (source.failures if len(source.failures) else None)
    if isinstance(source, CreditBalance):
        return source.to_frame(), None
    if isinstance(source, Mapping):
        return stack_balances(source), None
    if isinstance(source, pd.DataFrame):
        return check_tidy(source), None
    raise TypeError("explorer() takes a CreditBalance, a PortfolioFetch, a mapping of "
                    "organisation id to CreditBalance, or a tidy frame; "
                    f"got {type(source).__name__}")


class Explorer(widgets.VBox):
    """Holdings of a balance or portfolio by supplier, project, pathway or country.

    Build it with :func:`explorer`. The controls are attributes (``organisation``,
    ``dimension``, ``status``, ``top``, ``units``): set their ``value`` from code and the
    views follow, as they do for a click. Each dimension keeps its own top N: a dimension
    with fewer entities shows them all without changing the N chosen for another.

    Shown in a notebook, it also shows its last state as static outputs (see the module's
    notes): :meth:`static_html` is that copy.

    Attributes
    ----------
    summary : DataFrame
        The rows on show: :func:`~isoanalytics.analysis.dimensions.top_n` of the breakdown.
    breakdown : DataFrame
        Every entity along the chosen dimension, for the chosen organisation(s).
    concentration : Concentration
        Of the chosen status across every entity of the breakdown.

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.widgets import Explorer, explorer
    >>> with RegistryClient.demo() as client:
    ...     app = explorer(client.credit_balance(demo.DEFAULT_ORGANISATION_ID))
    >>> isinstance(app, Explorer), app.dimension.value
    (True, 'supplier')
    >>> app.top.value = 2
    >>> len(app.summary)
    3
    >>> "Other (3)" in app.static_html()
    True
    """

    def __init__(self, frame: pd.DataFrame, *, projects: pd.DataFrame | None = None,
                 organisation_names: Mapping[str, str] | None = None,
                 failures: pd.DataFrame | None = None, top: int = 10,
                 units: str = "tCO2e", ledger: pd.DataFrame | None = None) -> None:
        self._frame = frame
        self._projects = projects
        self._breakdowns: dict[tuple[str, str], pd.DataFrame] = {}
        self._parts: dict[str, pd.DataFrame] = {}
        self._holding = False
        # The top N the user chose per dimension; the slider shows it, or fewer when fewer
        # entities are there.
        self._start_top = top
        self._tops: dict[str, int] = {}
        self._display: Any = None  # the IPython DisplayHandle of the static copy, once shown
        names = organisation_names or {}
        organisation_ids = list(pd.unique(frame["organisation_id"]))
        # A balance parsed without its id has organisation_id None: still one organisation.
        choices = [(name_or_id(names.get(org), org or "This organisation"), org)
                   for org in organisation_ids]
        if len(organisation_ids) != 1:
            choices.insert(0, (f"All {len(organisation_ids)} organisations", ALL))
        dimensions = [d for d in DIMENSIONS if projects is not None or d in ("supplier", "project")]

        self.organisation = widgets.Dropdown(options=choices, value=choices[0][1],
                                             description="Organisation")
        self.dimension = widgets.Dropdown(options=[(d.capitalize(), d) for d in dimensions],
                                          value="supplier", description="By")
        self.status = widgets.ToggleButtons(options=_STATUSES, value="total",
                                            description="Credits")
        self.top = widgets.IntSlider(value=top, min=1, max=max(top, 1), description="Top",
                                     continuous_update=False)
        self.units = widgets.ToggleButtons(options=list(UNITS), value=units, description="Units")
        # Shown at its own pixel size: a flex box would otherwise stretch it, blurred, to the
        # page's width (seen in Voila).
        self.chart = widgets.Image(format="png", layout=widgets.Layout(
            width=f"{_WIDTH_INCHES * _DPI:.0f}px", max_width="100%", height="auto"))
        self.figures = widgets.HTML()
        self.table = widgets.HTML()
        notice = "" if failures is None else _failure_notice(failures)
        self.notice = widgets.HTML(notice)
        for name in ("organisation", "dimension", "status", "top", "units", "chart", "figures",
                     "table", "notice"):
            getattr(self, name).add_class(f"isoanalytics-{name}")
        for control in (self.status, self.units):
            control.style.button_width = "auto"
        for control in (self.organisation, self.dimension, self.status, self.top, self.units):
            control.style.description_width = "initial"  # "Organisation" in full
        controls = widgets.VBox([
            widgets.HBox([self.organisation, self.dimension]),
            widgets.HBox([self.status, self.units]),
            self.top,
        ])
        self.time: TimeView | None = None
        super().__init__([self.notice, controls, self.figures, self.chart, self.table])
        self.add_class("isoanalytics-explorer")
        # Before the holdings' own observers: the time view has followed a change by the time
        # the static copy is published.
        for control in (self.organisation, self.units):
            control.observe(self._follow, names="value")
        for control in (self.organisation, self.dimension, self.status, self.top, self.units):
            control.observe(self._changed, names="value")
        self.summary: pd.DataFrame
        self.breakdown: pd.DataFrame
        self.concentration: Concentration
        self._fit_slider()
        self.update()
        if ledger is not None:
            self.add_time_view(ledger)

    def add_time_view(self, ledger: pd.DataFrame) -> TimeView:
        """Show ``ledger``'s movements over time beneath the holdings (``app.time``).

        The time view follows the organisation and units chosen above; a second call replaces
        it. ``explorer(..., ledger=...)`` does this when the app is made; a dashboard does it
        when asked, since reading every ledger takes a while.

        Examples
        --------
        >>> import pandas as pd
        >>> from isoanalytics import demo, parse_balance
        >>> from isoanalytics.widgets import explorer
        >>> balance = demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID)
        >>> app = explorer(parse_balance(balance))
        >>> moves = pd.DataFrame({"at": pd.to_datetime(["2025-03-01T10:00Z"]),
        ...                       "event": ["retired"], "credit_kgs": [1_500]})
        >>> app.add_time_view(moves).timeline["credit_kgs"].tolist()
        [1500]
        >>> app.children[-1] is app.time
        True
        """
        view = TimeView(ledger, projects=self._projects, units=self.units.value,
                        organisation=self._organisation_of())
        for control in (view.event, view.frequency, view.by):
            control.observe(lambda _: self._publish(), names="value")
        children = [child for child in self.children if child is not self.time]
        self.time = view
        self.set_trait("children", (*children, view))
        self._publish()
        return view

    def __repr__(self) -> str:
        # Widget reprs list every child's state (the chart's PNG bytes included): keep it short.
        return (f"Explorer(organisation={self.organisation.value!r}, "
                f"dimension={self.dimension.value!r}, status={self.status.value!r}, "
                f"top={self.top.value}, units={self.units.value!r})")

    @contextmanager
    def _hold(self) -> Iterator[None]:
        # Changing the slider's range may move its value: one redraw, not two.
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    def _changed(self, change: dict) -> None:
        if self._holding:
            return
        if change["owner"] is self.top:
            self._tops[self.dimension.value] = self.top.value
        if change["owner"] in (self.organisation, self.dimension):
            self._fit_slider()
        self.update()

    def _organisation_of(self) -> str | None:
        """The organisation on show, or None for all of them (or the only one)."""
        value = self.organisation.value
        return None if value == ALL or len(self.organisation.options) == 1 else value

    def _follow(self, _: dict) -> None:
        if self.time is not None:
            self.time.show(self._organisation_of(), self.units.value)

    def _fit_slider(self) -> None:
        entities = len(self._breakdown())
        # This dimension's own N: the slider shows fewer only while fewer entities are there.
        wanted = self._tops.get(self.dimension.value, self._start_top)
        with self._hold():
            self.top.max = max(min(entities, MAX_TOP), 1)
            self.top.value = min(wanted, self.top.max)

    def _part(self, organisation: str) -> pd.DataFrame:
        if organisation == ALL or len(self.organisation.options) == 1:
            return self._frame
        if organisation not in self._parts:
            self._parts[organisation] = self._frame[self._frame["organisation_id"] == organisation]
        return self._parts[organisation]

    def _breakdown(self) -> pd.DataFrame:
        key = (self.organisation.value, self.dimension.value)
        if key not in self._breakdowns:
            self._breakdowns[key] = breakdown(self._part(key[0]), key[1], projects=self._projects)
        return self._breakdowns[key]

    def update(self) -> None:
        """Recompute the views for the controls' current values (done on every change)."""
        status, units, top = self.status.value, self.units.value, self.top.value
        self.breakdown = self._breakdown()
        self.summary = top_n(self.breakdown, top, status=status)
        self.concentration = concentration(self.breakdown[f"{status}_kgs"])
        figure = Figure(figsize=(_WIDTH_INCHES, max(2.6, 0.32 * len(self.summary) + 1.4)), dpi=_DPI,
                        layout="constrained")
        holdings_chart(self.breakdown, top=top, status=status, units=units,
                       ax=figure.add_subplot())
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        self.chart.value = buffer.getvalue()
        self.figures.value = _figures_html(self.breakdown, self.concentration, status, units)
        self.table.value = holdings_html(self.summary, units=units)
        self._publish()

    # -- the static copy of the last state, for exported pages ----------------------------------

    def _ipython_display_(self) -> None:
        from IPython.display import DisplayHandle, display

        # The widget view, with a line of text where widgets cannot render instead of the
        # repr; then the static copy, under one display id that every change updates.
        view = dict(self._repr_mimebundle_() or {})
        view["text/plain"] = "Explorer (interactive; run the notebook to use it)"
        display(view, raw=True)
        if self._display is None:
            self._display = DisplayHandle(f"isoanalytics-explorer-{uuid.uuid4().hex}")
        self._display.display(self._static_bundle(), raw=True)

    def _publish(self) -> None:
        if self._display is not None:
            self._display.update(self._static_bundle(), raw=True)

    def _static_bundle(self) -> dict[str, str]:
        return {"text/html": self.static_html(), "text/plain": self._chart_alt()}

    def _what(self) -> str:
        """What is on show, in words: "holdings by pathway of all 7 organisations"."""
        what = {"total": "Holdings", "active": "Active holdings", "retired": "Retired holdings"}
        text = f"{what[self.status.value]} by {self.dimension.value}"
        if len(self.organisation.options) > 1:
            name = str(self.organisation.label)
            text += " of " + (name[:1].lower() + name[1:] if self.organisation.value == ALL
                              else name)
        return text

    def _chart_alt(self) -> str:
        status, units = self.status.value, self.units.value
        kept = self.summary[~self.summary["other"]] if "other" in self.summary else self.summary
        count = len(self.breakdown)
        shown = f"top {len(kept)} of {count}" if len(kept) < count else f"all {count}"
        noun = plural(self.dimension.value, count)
        text = f"Bar chart: {self._what()} ({units}), {shown} {noun}"
        if len(kept) and int(kept[f"{status}_kgs"].iloc[0]) > 0:
            largest = label(kept).iloc[0]
            share = int(kept[f"{status}_kgs"].iloc[0]) / int(self.breakdown[f"{status}_kgs"].sum())
            text += f"; the largest, {largest}, holds {percent(share)} of {status} credits"
        else:
            text += f"; no {status} credits held"
        return text

    def static_html(self) -> str:
        """The explorer's state as static HTML: its chart (a PNG with alt text) and tables.

        What a notebook shows beside the widgets, and what an exported page shows offline.
        """
        chart = base64.b64encode(bytes(self.chart.value)).decode("ascii")
        parts = [_HIDE_STATIC,
                 f"<p><b>Explorer, last state</b>: {html.escape(self._what())}, "
                 f"{html.escape(self.units.value)}</p>",
                 self.figures.value,
                 f'<img src="data:image/png;base64,{chart}" '
                 f'alt="{html.escape(self._chart_alt())}" style="max-width:100%">',
                 self.table.value]
        if self.time is not None:
            parts.append(self.time.static_html())
        return f'<div class="isoanalytics-static">{"".join(parts)}</div>'


def _figures_html(table: pd.DataFrame, figures: Concentration, status: str, units: str) -> str:
    held = totals(table)
    noun = entity_noun(table)
    headline = (f"<b>Active</b> {quantity(held.active_kgs, units)} {units} · <b>Retired</b> "
                f"{quantity(held.retired_kgs, units)} {units} · <b>Total</b> "
                f"{quantity(held.total_kgs, units)} {units} · <b>Retired share</b> "
                f"{percent(held.retired_share)}")
    terms = concentration_terms(figures, noun)
    if terms:
        spread = (f"<b>Concentration</b> of {status} credits across {figures.n} {noun}(s): "
                  + " · ".join(terms[name] for name in ("hhi", "cr1", "cr3", "effective_n",
                                                        "gini")))
    else:
        spread = f"<b>Concentration</b>: no {status} credits held"
    return f"<div>{headline}</div><div>{spread}</div>"


def _failure_notice(failures: pd.DataFrame) -> str:
    items = "".join(f"<li>{html.escape(str(row.organisation_id))}: "
                    f"{html.escape(str(row.error))}</li>" for row in failures.itertuples())
    return (f"<div><b>{len(failures)} organisation(s) did not answer</b> and are not shown "
            f"(see <code>.failures</code>):<ul>{items}</ul></div>")


def explorer(source: CreditBalance | PortfolioFetch | Mapping[str, CreditBalance] | pd.DataFrame,
             *, client: RegistryClient | None = None, projects: pd.DataFrame | None = None,
             ledger: pd.DataFrame | None = None, top: int = 10,
             units: str = "tCO2e") -> Explorer:
    """An app to explore holdings by supplier, project, pathway or country, and over time.

    Parameters
    ----------
    source : CreditBalance, PortfolioFetch, mapping of id to CreditBalance, or tidy frame
        One organisation or a portfolio. A PortfolioFetch's failures are listed above the
        controls, so a missing organisation is never silent.
    client : RegistryClient, optional
        Used once, up front: organisation names, and the project table (for names, pathway
        and country) unless ``projects`` is given. Without either, the app offers supplier and
        project by id.
    projects : DataFrame, optional
        ``client.projects()``, when you already have it.
    ledger : DataFrame, optional
        A ledger (:func:`isoanalytics.ledger`, or any frame with ``at``, ``event`` and
        ``credit_kgs``, see :mod:`isoanalytics.records.movements`): adds the time view
        beneath the holdings (``app.time``, a :class:`TimeView`), which follows the
        organisation and units chosen. Without one the app has no time view.
    top, units
        The starting number of bars and the units (``"tCO2e"`` or ``"kg"``).

    Examples
    --------
    >>> from isoanalytics import RegistryClient, demo
    >>> from isoanalytics.widgets import explorer
    >>> with RegistryClient.demo() as client:
    ...     app = explorer(client.credit_balance(demo.DEFAULT_ORGANISATION_ID), client=client)
    >>> app.dimension.value = "country"
    >>> app.summary.index.tolist()
    ['USA', 'DEU', 'BRA']
    """
    frame, failures = _portfolio_frame(source)
    names = None
    if client is not None:
        if projects is None:
            projects = client.projects()
        organisations = pd.DataFrame(index=pd.Index(pd.unique(frame["organisation_id"]),
                                                    name="organisation_id"))
        named = enrich(organisations, client)["organisation_name"]
        names = {str(org): name for org, name in named.items() if isinstance(name, str)}
    check_choice("units", units, UNITS)
    return Explorer(frame, projects=projects, organisation_names=names, failures=failures,
                    top=top, units=units, ledger=ledger)


_FREQUENCIES = (("Years", "Y"), ("Quarters", "Q"), ("Months", "M"), ("Weeks", "W"),
                ("Days", "D"))
NOTHING = ""  # the by picker's value for bars that are not split
# What the bars can be split by: the ledger's own columns, and a project's attributes.
_SPLITS = (("Supplier", "supplier_id"), ("Project", "project_id"), ("Vintage", "vintage"),
           ("Pathway", "pathway"), ("Country", "country"), ("Durability", "durability"),
           ("Counterparty", "counterparty_id"))
_TIME_TOP = 6  # series with a colour of their own; the rest are "Other"


class TimeView(widgets.VBox):
    """Credits moved per period: a ledger's timeline as a chart with its exact table beneath.

    The controls are attributes: ``event`` (which movements), ``frequency`` (``"Y"``,
    ``"Q"``, ``"M"``, ``"W"`` or ``"D"``) and ``by`` (what the bars are split by; ``""`` for
    nothing). ``app.timeline`` is the :func:`~isoanalytics.timeline` frame on show. In the
    explorer (``explorer(..., ledger=...)``) it follows the organisation and units chosen.

    Parameters
    ----------
    ledger : DataFrame
        At least ``at``, ``event`` and ``credit_kgs``; ``organisation_id`` to follow the
        explorer's organisation, and the columns to split by (``supplier_id``,
        ``project_id``, ``vintage``, ``counterparty_id``).
    projects : DataFrame, optional
        ``client.projects()``: names for suppliers and projects, and splits by pathway,
        country and durability (through ``project_id``).

    Examples
    --------
    >>> import pandas as pd
    >>> from isoanalytics.widgets import TimeView
    >>> moves = pd.DataFrame({
    ...     "at": pd.to_datetime(["2024-03-01T10:00Z", "2025-11-30T09:00Z", "2025-12-01T09:00Z"]),
    ...     "event": ["delivered", "retired", "retired"], "credit_kgs": [5_000, 1_500, 500],
    ...     "supplier_id": ["spl_A", "spl_A", "spl_B"]})
    >>> view = TimeView(moves)
    >>> view.event.value, view.timeline["credit_kgs"].tolist()
    ('retired', [0, 2000])
    >>> view.by.value = "supplier_id"
    >>> view.timeline[["supplier_id", "credit_kgs"]].values.tolist()
    [['spl_A', 0], ['spl_A', 1500], ['spl_B', 0], ['spl_B', 500]]
    >>> view.frequency.value = "Q"
    >>> len(view.timeline) == 2 * 8  # 2024Q1 to 2025Q4, for each supplier
    True
    """

    def __init__(self, ledger: pd.DataFrame, *, projects: pd.DataFrame | None = None,
                 units: str = "tCO2e", organisation: str | None = None) -> None:
        check_columns(ledger, ("at", "event", "credit_kgs"), "TimeView",
                      "a ledger frame (isoanalytics.ledger(client, organisation_id), or at, "
                      "event and credit_kgs of your own)")
        check_choice("units", units, UNITS)
        self._ledger, self._names = _with_project_attributes(ledger, projects)
        self._organisation = organisation
        self._units = cast(Units, units)
        self._parts: dict[str | None, pd.DataFrame] = {}
        present = [event for event in EVENTS if (ledger["event"] == event).any()]
        events = present or list(EVENTS)
        self.event = widgets.Dropdown(
            options=[(event.replace("_", " ").capitalize(), event) for event in events],
            value="retired" if "retired" in events else events[0], description="Event")
        self.frequency = widgets.ToggleButtons(options=_FREQUENCIES, value="Y",
                                               description="Per")
        splits = [(text, column) for text, column in _SPLITS
                  if column in self._ledger.columns and self._ledger[column].notna().any()]
        self.by = widgets.Dropdown(options=[("Nothing", NOTHING), *splits], value=NOTHING,
                                   description="Split by")
        self.chart = widgets.Image(format="png", layout=widgets.Layout(
            width=f"{_WIDTH_INCHES * _DPI:.0f}px", max_width="100%", height="auto"))
        self.table = widgets.HTML()
        heading = widgets.HTML("<h4>Over time</h4>")
        for name in ("event", "frequency", "by", "chart", "table"):
            getattr(self, name).add_class(f"isoanalytics-time-{name}")
        for control in (self.event, self.frequency, self.by):
            control.style.description_width = "initial"
        self.frequency.style.button_width = "auto"
        super().__init__([heading, widgets.HBox([self.event, self.by]), self.frequency,
                          self.chart, self.table])
        self.add_class("isoanalytics-time")
        self.timeline: pd.DataFrame
        for control in (self.event, self.frequency, self.by):
            control.observe(lambda _: self.update(), names="value")
        self.update()

    def __repr__(self) -> str:
        return (f"TimeView(event={self.event.value!r}, frequency={self.frequency.value!r}, "
                f"by={self.by.value!r}, organisation={self._organisation!r})")

    def show(self, organisation: str | None, units: str) -> None:
        """Show ``organisation``'s movements (None: every row) in ``units``, and redraw."""
        self._organisation = organisation
        self._units = cast(Units, check_choice("units", units, UNITS))
        self.update()

    def _what(self) -> str:
        return f"{self.event.label} per {self.frequency.label.lower()[:-1]}"

    def _chart_alt(self) -> str:
        moved = int(self.timeline["credit_kgs"].sum()) if len(self.timeline) else 0
        split = f", split by {self.by.label.lower()}" if self.by.value else ""
        periods = self.timeline["period"].nunique() if len(self.timeline) else 0
        return (f"Bar chart: {self._what().lower()} ({self._units}){split}, over {periods} "
                f"{plural(self.frequency.label.lower()[:-1], periods)}; "
                f"{quantity(moved, self._units)} {self._units} in all")

    def static_html(self) -> str:
        """The view's state as static HTML: its chart (a PNG with alt text) and exact table."""
        chart = base64.b64encode(bytes(self.chart.value)).decode("ascii")
        return (f"<h4>Over time</h4><p>{html.escape(self._what())}, {html.escape(self._units)}"
                f"</p><img src=\"data:image/png;base64,{chart}\" "
                f"alt=\"{html.escape(self._chart_alt())}\" style=\"max-width:100%\">"
                f"{self.table.value}")

    def _part(self) -> pd.DataFrame:
        key = self._organisation
        if key is None or "organisation_id" not in self._ledger.columns:
            return self._ledger
        if key not in self._parts:
            self._parts[key] = self._ledger[(self._ledger["organisation_id"] == key).to_numpy()]
        return self._parts[key]

    def update(self) -> None:
        """Recompute the timeline, chart and table for the controls' values."""
        by = self.by.value or None
        part = self._part()
        # Periods span the whole ledger shown, so a year without this event shows its zero.
        span = ({"start": part["at"].min(), "end": part["at"].max()} if len(part) else {})
        self.timeline = timeline(part, self.frequency.value, event=self.event.value, by=by,
                                 **span)
        names = self._names.get(by or "", {})
        figure = Figure(figsize=(_WIDTH_INCHES, 3.6), dpi=_DPI, layout="constrained")
        timeline_chart(self.timeline, by=by, top=_TIME_TOP, names=names, units=self._units,
                       ax=figure.add_subplot(), title=f"{self._what()} ({self._units})")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        self.chart.value = buffer.getvalue()
        self.table.value = timeline_html(self.timeline, by=by, top=_TIME_TOP - 1, names=names,
                                         units=self._units)


def _with_project_attributes(ledger: pd.DataFrame, projects: pd.DataFrame | None
                             ) -> tuple[pd.DataFrame, dict[str, dict[Any, str]]]:
    """The ledger with each movement's pathway, country and durability (from its project),
    and display names per column."""
    if projects is None or "project_id" not in ledger.columns:
        return ledger, {}
    table = projects.drop_duplicates("id").set_index("id")
    project_ids = ledger["project_id"].astype(object)
    added: dict[str, Any] = {}
    if "pathway" in table.columns:
        added["pathway"] = project_ids.map(table["pathway"].astype(object)).to_numpy()
    if "country_code" in table.columns:
        added["country"] = project_ids.map(table["country_code"].astype(object)).to_numpy()
    if "pathway" in table.columns:
        # Only the projects moved: a warning then names an unmapped pathway that matters.
        moved = projects[projects["id"].isin(project_ids.unique())]
        added["durability"] = project_ids.map(project_durability(moved)).to_numpy()
    names: dict[str, dict[Any, str]] = {}
    if "name" in table.columns:
        names["project_id"] = {key: str(value) for key, value in table["name"].items()
                               if isinstance(value, str)}
    if {"supplier_id", "supplier_name"} <= set(table.columns):
        suppliers = table.drop_duplicates("supplier_id")
        names["supplier_id"] = {key: value for key, value in
                                zip(suppliers["supplier_id"], suppliers["supplier_name"],
                                    strict=True) if isinstance(value, str)}
    if "country_name" in table.columns:
        countries = table.dropna(subset=["country_code"]).drop_duplicates("country_code")
        names["country"] = dict(zip(countries["country_code"], countries["country_name"],
                                    strict=True))
    names["pathway"] = {pathway: pathway.replace("_", " ").capitalize()
                        for pathway in pd.unique(table["pathway"].dropna())} if (
        "pathway" in table.columns) else {}
    return ledger.assign(**added), names


class Connect(widgets.VBox):
    """A panel that makes a :class:`~isoanalytics.RegistryClient`: demo, sandbox or production.

    The secret and token are pasted into password fields (dots on screen). Each is taken out
    of its field the moment it arrives (on Enter or when the field loses focus): the field is
    emptied and the value kept in Python only, so it is neither echoed nor saved with the
    notebook's widget state, and no repr shows it. Fields left empty fall back to
    ``ISOMETRIC_CLIENT_SECRET`` and ``ISOMETRIC_ACCESS_TOKEN``. ``panel.client`` is the
    client: made on a click of *Connect*, or from the current choice when read before any
    click (so "Run all" works).

    Examples
    --------
    >>> from isoanalytics.widgets import Connect
    >>> panel = Connect("demo")
    >>> panel.environment.value, panel.client_secret.value
    ('demo', '')
    >>> panel.client.current_organisation()["id"]
    'org_1J7BT1V2GFMC75MZ'
    """

    def __init__(self, environment: str | None = None) -> None:
        default = environment or configured_environment() or "demo"
        self.environment = widgets.Dropdown(
            options=[("Demo registry (fictional data, offline)", "demo"),
                     ("Sandbox", "sandbox"), ("Production", "production")],
            value=default, description="Registry")
        # continuous_update=False: the value reaches the kernel once, not at every keystroke.
        self.client_secret = widgets.Password(description="Secret", continuous_update=False)
        self.access_token = widgets.Password(description="Token", continuous_update=False)
        self.button = widgets.Button(description="Connect", button_style="primary",
                                     icon="plug")
        self.message = widgets.HTML()
        for name in ("environment", "client_secret", "access_token", "button", "message"):
            getattr(self, name).add_class(f"isoanalytics-{name}")
            getattr(self, name).style.description_width = "initial"
        self._credentials: dict[str, Secret] = {}
        self._client: RegistryClient | None = None
        self.error: RegistryError | SchemaError | None = None  # why the last attempt failed
        self._callbacks: list[Any] = []
        self.environment.observe(self._show_fields, names="value")
        for field in (self.client_secret, self.access_token):
            field.observe(self._take, names="value")
        self.button.on_click(lambda _: self.connect())
        super().__init__([self.environment, self.client_secret, self.access_token,
                          self.button, self.message])
        self._show_fields()
        self._show_placeholders()

    def __repr__(self) -> str:
        state = "connected" if self._client is not None else "not connected"
        return f"Connect(environment={self.environment.value!r}, {state})"

    def _take(self, change: dict) -> None:
        if not change["new"]:
            return  # our own emptying of the field
        name = "client_secret" if change["owner"] is self.client_secret else "access_token"
        self._credentials[name] = Secret(change["new"])
        change["owner"].value = ""
        self._show_placeholders()

    def _show_placeholders(self) -> None:
        for name, variable in (("client_secret", SECRET_VARIABLE),
                               ("access_token", TOKEN_VARIABLE)):
            held = name in self._credentials
            getattr(self, name).placeholder = (
                "received (hidden); paste again to replace" if held
                else f"paste it, or leave empty for ${variable}")

    def _show_fields(self, _: Any = None) -> None:
        display = "none" if self.environment.value == "demo" else None
        self.client_secret.layout.display = display
        self.access_token.layout.display = display

    def on_connect(self, callback: Any) -> None:
        """Call ``callback(client)`` each time a client is made."""
        self._callbacks.append(callback)

    def connect(self) -> RegistryClient | None:
        """Make the client from the fields (what a click on *Connect* does)."""
        environment = self.environment.value
        # A value still in a field (typed, Connect clicked before it left the field) is taken.
        for field in (self.client_secret, self.access_token):
            if field.value:
                self._take({"new": field.value, "owner": field})
        secret = self._credentials.get("client_secret")
        token = self._credentials.get("access_token")
        client = None
        try:
            if environment == "demo":
                client = RegistryClient.demo()
            else:
                client = RegistryClient(environment,
                                        client_secret=secret.reveal() if secret else None,
                                        access_token=token.reveal() if token else None)
            organisation = client.current_organisation()
        except (RegistryError, SchemaError) as error:  # a malformed answer says so here too
            if client is not None:
                client.close()  # made for this attempt, and of no use after it
            # Messages of the package's errors never carry the secret or a token.
            self.error = error
            self.message.value = f'<span style="color:#D55E00">{html.escape(str(error))}</span>'
            return None
        except BaseException:
            if client is not None:
                client.close()
            raise
        if self._client is not None:
            self._client.close()
        self._client, self.error = client, None
        self.message.value = (f"Connected to the <b>{html.escape(environment)}</b> registry as "
                              f"{html.escape(organisation['name'])} "
                              f"(<code>{html.escape(organisation['id'])}</code>).")
        for callback in self._callbacks:
            callback(client)
        return client

    @property
    def client(self) -> RegistryClient:
        """The client; connects with the current choice if nothing has been tried yet.

        After a failed attempt it raises that attempt's error (missing credentials, a
        refused token...) until *Connect* succeeds.
        """
        if self._client is None and self.error is None:
            self.connect()
        if self._client is None:
            assert self.error is not None  # connect() failed, and kept why
            raise self.error
        return self._client


def connect(environment: str | None = None) -> Connect:
    """A panel to choose the registry and paste credentials; ``panel.client`` is the client.

    Starts on the registry the ``ISOMETRIC_*`` variables name (the sandbox when only the
    secret or base URL is set), and on the demo registry when none is set.

    Examples
    --------
    >>> from isoanalytics.widgets import connect
    >>> panel = connect()
    >>> panel.client.environment
    'demo'
    """
    return Connect(environment)


class Dashboard(widgets.VBox):
    """The connection panel above the explorer of what it connects to: an app for Voila.

    Built with :func:`dashboard`. On each successful *Connect* (and once at the start, with the
    registry the panel starts on) it reads the organisations' balances and shows a fresh
    :class:`Explorer` (``board.app``). The time view reads every organisation's ledger, which
    takes a while, so it comes on a click of *Show holdings over time*
    (:meth:`show_time`). What fails is said on the page, in words, never as a traceback.

    Examples
    --------
    >>> from isoanalytics import demo
    >>> from isoanalytics.widgets import dashboard
    >>> board = dashboard(organisations={"demo": [demo.DEFAULT_ORGANISATION_ID]})
    >>> board.app.organisation.label
    'Harbourline Freight'
    >>> board.show_time().event.value
    'retired'
    """

    def __init__(self, environment: str | None = None, *,
                 organisations: Mapping[str, list[str]] | None = None, top: int = 10) -> None:
        self.panel = Connect(environment)
        self._organisations = dict(organisations or {})
        self._top = top
        self._client: RegistryClient | None = None
        self.app: Explorer | None = None
        self.message = widgets.HTML()
        self.time_button = widgets.Button(description="Show holdings over time", icon="clock",
                                          tooltip="Reads each organisation's ledger")
        self.time_button.on_click(lambda _: self.show_time())
        self.holder = widgets.VBox()
        for name in ("message", "time_button", "holder"):
            getattr(self, name).add_class(f"isoanalytics-dashboard-{name}")
        self.time_button.layout.width = "auto"
        super().__init__([self.panel, self.message, self.holder])
        self.add_class("isoanalytics-dashboard")
        self.panel.on_connect(self.load)
        try:
            self.panel.client  # noqa: B018 - connects with the registry chosen, and loads
        except (RegistryError, SchemaError):  # said in the panel already
            self.message.value = "Choose a registry and connect to see its holdings."

    def __repr__(self) -> str:
        return f"Dashboard({self.panel!r}, app={self.app!r})"

    def _organisation_ids(self, client: RegistryClient) -> list[str]:
        listed = self._organisations.get(client.environment)
        return list(listed) if listed else [client.current_organisation()["id"]]

    def load(self, client: RegistryClient) -> Explorer | None:
        """Read the organisations' balances through ``client`` and show their explorer."""
        self.message.value = "Reading the balances..."
        try:
            portfolio = fetch_balances(self._organisation_ids(client), client=client,
                                       progress=False)
            app = explorer(portfolio, client=client, top=self._top)
        except (RegistryError, SchemaError) as error:
            self.message.value = (f'<span style="color:#D55E00">The holdings could not be read: '
                                  f"{html.escape(str(error))}</span>")
            return None
        self._client, self.app = client, app
        self.message.value = ""
        self.time_button.layout.display = None
        self.holder.children = (app, self.time_button)
        return app

    def show_time(self) -> TimeView | None:
        """Read every organisation's ledger and add the time view to the explorer."""
        if self.app is None or self._client is None:
            return None
        ids = [str(org) for _, org in self.app.organisation.options if org != ALL]
        self.message.value = (f"Reading the ledgers of {len(ids)} "
                              f"{plural('organisation', len(ids))}...")
        self.time_button.disabled = True  # one reading at a time
        try:
            ledgers = [read_ledger(self._client, org, progress=False) for org in ids]
        except (RegistryError, SchemaError) as error:
            self.message.value = (f'<span style="color:#D55E00">The ledgers could not be read: '
                                  f"{html.escape(str(error))}</span>")
            return None
        finally:
            self.time_button.disabled = False
        self.message.value = ""
        self.time_button.layout.display = "none"
        return self.app.add_time_view(pd.concat(ledgers, ignore_index=True))


def dashboard(environment: str | None = None, *,
              organisations: Mapping[str, list[str]] | None = None,
              top: int = 10) -> Dashboard:
    """The connection panel and the explorer of the registry it connects to, for Voila.

    Parameters
    ----------
    environment : {"demo", "sandbox", "production"} or None
        The registry the panel starts on; None: as :func:`connect`.
    organisations : mapping of environment to organisation ids, optional
        What to show per registry, e.g. ``{"demo": list(isoanalytics.demo.accounts())}``; a
        registry not listed shows the access token's own organisation.
    top : int
        The starting number of bars.

    Examples
    --------
    >>> from isoanalytics.widgets import dashboard
    >>> board = dashboard("demo")
    >>> board.app.dimension.value
    'supplier'
    """
    check_integer("top", top)
    return Dashboard(environment, organisations=organisations, top=top)
