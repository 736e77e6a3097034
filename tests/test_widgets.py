"""The explorer and connect apps, driven from Python as a click would drive them."""

from __future__ import annotations

import base64
import html
import re
import warnings

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import isoanalytics as ia
from isoanalytics import demo
from isoanalytics._format import tonnes
from isoanalytics.analysis.dimensions import breakdown
from isoanalytics.present.widgets import (
    ALL,
    MAX_TOP,
    NOTHING,
    Connect,
    Explorer,
    TimeView,
    connect,
    dashboard,
    explorer,
)

from .ledgers import ledger_from_batches
from .loopback import serve_demo

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def portfolio():
    with ia.RegistryClient.demo() as client:
        fetched = ia.fetch_balances(list(demo.accounts()), client=client, progress=False)
        app = explorer(fetched, client=client)
        return fetched, client.projects(), app


def table_rows(app: Explorer) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", app.table.value)
    return [[html.unescape(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in rows]


def test_the_explorer_starts_on_the_whole_portfolio_with_names(portfolio):
    fetched, _, app = portfolio
    names = [label for label, _ in app.organisation.options]
    assert names[0] == "All 7 organisations"
    assert "Harbourline Freight" in names
    assert [value for _, value in app.dimension.options] == [
        "supplier", "project", "pathway", "country"]
    assert bytes(app.chart.value).startswith(PNG)
    assert app.top.max == len(app.breakdown) == fetched.frame.query(
        "level == 'supplier'")["entity_id"].nunique()


def test_every_control_redraws_the_chart_and_the_table(portfolio):
    _, _, app = portfolio
    changes = [("dimension", "pathway"), ("top", 2), ("status", "retired"), ("units", "kg"),
               ("organisation", demo.DEFAULT_ORGANISATION_ID), ("dimension", "country"),
               ("organisation", ALL), ("dimension", "supplier"), ("top", 4), ("units", "tCO2e"),
               ("status", "total")]
    for name, value in changes:
        chart, table, figures = app.chart.value, app.table.value, app.figures.value
        getattr(app, name).value = value
        assert app.chart.value != chart, name
        assert bytes(app.chart.value).startswith(PNG)
        assert (app.table.value, app.figures.value) != (table, figures), name


def test_the_table_shows_exact_quantities_and_a_total(portfolio):
    fetched, projects, app = portfolio
    app.organisation.value = demo.DEFAULT_ORGANISATION_ID
    app.dimension.value = "project"
    app.top.value = 3
    app.units.value = "tCO2e"
    full = breakdown(fetched.balances[demo.DEFAULT_ORGANISATION_ID], "project", projects=projects)
    rows = table_rows(app)
    assert rows[0] == ["Project", "Active (tCO2e)", "Retired (tCO2e)", "Total (tCO2e)",
                       "Retired share", "Share"]
    assert [row[0] for row in rows[1:4]] == full["project_name"].iloc[:3].tolist()
    assert rows[4][0] == f"Other ({len(full) - 3})"
    assert rows[-1][:4] == ["Total", tonnes(int(full["active_kgs"].sum())),
                            tonnes(int(full["retired_kgs"].sum())),
                            tonnes(fetched.balances[demo.DEFAULT_ORGANISATION_ID].total_kgs)]
    app.units.value = "kg"
    assert table_rows(app)[-1][3] == f"{fetched.balances[demo.DEFAULT_ORGANISATION_ID].total_kgs:,}"
    app.units.value = "tCO2e"


def test_status_orders_the_rows_and_sets_the_concentration(portfolio):
    _, _, app = portfolio
    app.organisation.value = ALL
    app.dimension.value = "supplier"
    app.status.value = "retired"
    app.top.value = 5
    kept = app.summary[~app.summary["other"]]
    assert kept["retired_kgs"].is_monotonic_decreasing
    assert app.concentration == ia.concentration(app.breakdown["retired_kgs"])
    assert f"HHI {app.concentration.hhi:,.0f}" in app.figures.value
    assert "of retired credits" in app.figures.value
    app.status.value = "total"


def test_each_dimension_keeps_its_own_top_n(portfolio):
    fetched, projects, _ = portfolio
    app = explorer(fetched, projects=projects)
    app.dimension.value = "project"
    app.top.value = 25
    app.dimension.value = "pathway"  # five pathways: all shown, drawn once with that value
    assert app.top.max == len(app.breakdown) == app.top.value == len(app.summary) == 5
    app.top.value = 2
    app.dimension.value = "project"
    assert app.top.value == 25 and len(app.summary) == 26  # not clamped to the pathways' 5
    app.dimension.value = "pathway"
    assert app.top.value == 2 and len(app.summary) == 3
    app.dimension.value = "country"
    assert app.top.value == 10  # the starting N, for a dimension not yet touched
    app.dimension.value = "project"
    app.organisation.value = demo.registry().buyers["typical"]  # fewer projects than 25
    assert app.top.value == len(app.breakdown) < 25
    app.organisation.value = ALL
    assert app.top.value == 25 and len(app.summary) == 26


def test_tables_name_pathways_and_countries_as_the_charts_do(portfolio):
    fetched, projects, _ = portfolio
    app = explorer(fetched, projects=projects, top=3)
    names = dict(zip(projects["country_code"], projects["country_name"], strict=True))
    for dimension in ("pathway", "country"):
        app.dimension.value = dimension
        shown = [row[0] for row in table_rows(app)[1:-1]]
        kept = app.summary[~app.summary["other"]].index.tolist()
        expected = ([pathway.replace("_", " ").capitalize() for pathway in kept]
                    if dimension == "pathway" else [names[code] for code in kept])
        assert shown == [*expected, f"Other ({len(app.breakdown) - 3})"]
        assert not any("_" in name or name in names for name in shown)  # no slug, no ISO code
        assert expected[0] in app.static_html() and expected[0] in app._chart_alt()


def test_the_figures_say_total_for_active_and_retired(portfolio):
    fetched, projects, _ = portfolio
    app = explorer(fetched, projects=projects)
    total = sum(balance.total_kgs for balance in fetched.balances.values())
    assert f"<b>Total</b> {tonnes(total)} tCO2e" in app.figures.value
    assert "Held" not in app.figures.value + app.table.value + app.static_html()


def test_the_slider_stops_at_fifty_bars():
    registry = demo.registry()
    large = ia.parse_balance(registry.credit_balance(registry.buyers["large"]),
                             organisation_id=registry.buyers["large"])
    app = explorer(large)
    app.dimension.value = "project"
    assert len(app.breakdown) > MAX_TOP == app.top.max
    app.top.value = MAX_TOP
    assert len(app.summary) == MAX_TOP + 1  # the rest in one Other row
    assert int(app.summary["total_kgs"].sum()) == large.total_kgs


def test_an_empty_organisation_is_shown_as_nothing_held(portfolio):
    _, _, app = portfolio
    app.organisation.value = demo.registry().buyers["empty"]
    assert app.top.max == 1
    assert "no total credits held" in app.figures.value
    assert table_rows(app)[-1][:4] == ["Total", "0.000", "0.000", "0.000"]
    app.organisation.value = ALL


def test_without_a_client_the_explorer_offers_ids_by_supplier_and_project():
    balance = ia.parse_balance(demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID),
                               organisation_id=demo.DEFAULT_ORGANISATION_ID)
    app = explorer(balance)
    assert [value for _, value in app.dimension.options] == ["supplier", "project"]
    assert app.organisation.options == ((demo.DEFAULT_ORGANISATION_ID,
                                         demo.DEFAULT_ORGANISATION_ID),)
    assert table_rows(app)[1][0] == ia.summarize(balance).index[0]
    assert repr(app) == ("Explorer(organisation='org_1J7BT1V2GFMC75MZ', dimension='supplier', "
                         "status='total', top=5, units='tCO2e')")


def test_a_balance_without_its_id_is_still_one_organisation():
    app = explorer(ia.parse_balance(demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID)))
    assert app.organisation.options == (("This organisation", None),)
    assert len(app.breakdown) == 5


def test_failed_organisations_are_listed_above_the_controls():
    unknown = "org_1ZZZZZZZZZZZZZZZ"
    with ia.RegistryClient.demo() as client:
        fetched = ia.fetch_balances([demo.DEFAULT_ORGANISATION_ID, unknown], client=client,
                                    progress=False)
        app = explorer(fetched, client=client)
    assert "1 organisation(s) did not answer" in app.notice.value
    [error] = fetched.failures["error"]
    assert f"{unknown}: {error}" in app.notice.value
    assert app.organisation.options == (("Harbourline Freight", demo.DEFAULT_ORGANISATION_ID),)


def test_the_explorer_refuses_what_it_cannot_show():
    with pytest.raises(TypeError, match="explorer\\(\\) takes a CreditBalance"):
        explorer([1, 2, 3])
    with pytest.raises(ValueError, match="units must be one of"):
        explorer(ia.parse_balance(demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID)),
                 units="t")


def test_controls_carry_the_classes_a_browser_test_finds():
    app = explorer(ia.parse_balance(demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID)))
    for name in ("organisation", "dimension", "status", "top", "units", "chart", "table",
                 "figures"):
        assert f"isoanalytics-{name}" in getattr(app, name)._dom_classes


# -- connect ------------------------------------------------------------------------------------


def all_widget_state(panel: Connect) -> str:
    return repr([child.get_state() for child in panel.children]) + repr(panel) + repr(
        panel.get_state())


def test_connect_starts_on_the_demo_and_hands_back_a_client():
    panel = connect()
    assert panel.environment.value == "demo"
    assert panel.client_secret.layout.display == "none"
    client = panel.client
    assert client.environment == "demo"
    assert "Harbourline Freight" in panel.message.value
    assert panel.client is client  # made once


def test_connect_starts_on_the_configured_registry(monkeypatch):
    monkeypatch.setenv("ISOMETRIC_BASE_URL", "https://registry-mirror.example/registry/v0")
    assert connect().environment.value == "sandbox"  # the same rule as from_environment()
    monkeypatch.delenv("ISOMETRIC_BASE_URL")
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", "from-the-environment")
    assert connect().environment.value == "sandbox"
    monkeypatch.setenv("ISOMETRIC_ENVIRONMENT", "production")
    assert connect().environment.value == "production"
    assert connect("demo").environment.value == "demo"


def test_pasted_credentials_are_used_once_and_never_kept(monkeypatch, server):
    monkeypatch.setenv("ISOMETRIC_BASE_URL", serve_demo(server))
    token = demo.access_token(demo.DEFAULT_ORGANISATION_ID)
    panel = connect("sandbox")
    seen = []
    panel.on_connect(seen.append)
    panel.client_secret.value = demo.CLIENT_SECRET  # as the front end sends it, on Enter
    assert panel.client_secret.value == ""  # taken out of the widget model at once
    assert panel.client_secret.placeholder.startswith("received (hidden)")
    panel.access_token.value = token
    panel.button.click()
    assert "Connected to the <b>sandbox</b> registry as Harbourline Freight" in panel.message.value
    assert panel.client_secret.value == panel.access_token.value == ""
    assert seen == [panel.client]
    assert panel.client.credit_balance(demo.DEFAULT_ORGANISATION_ID).total_kgs > 0
    state = all_widget_state(panel)
    assert demo.CLIENT_SECRET not in state and token not in state
    assert demo.CLIENT_SECRET not in repr(vars(panel)) and token not in repr(vars(panel))


def test_refused_credentials_are_reported_without_echoing_them(monkeypatch, server):
    monkeypatch.setenv("ISOMETRIC_BASE_URL", serve_demo(server))
    wrong = "not-the-secret-0123456789"
    panel = connect("sandbox")
    panel.client_secret.value = wrong
    panel.access_token.value = "not-a-token-0123456789"
    assert panel.connect() is None
    assert "AuthenticationError" in type(panel.error).__name__
    assert "401" in panel.message.value
    assert wrong not in all_widget_state(panel) and wrong not in str(panel.error)
    with pytest.raises(ia.AuthenticationError):
        panel.client  # noqa: B018 - the property connects


def test_missing_credentials_name_the_variable():
    panel = connect("production")
    with pytest.raises(ia.MissingCredentialsError, match="ISOMETRIC_CLIENT_SECRET"):
        panel.client  # noqa: B018
    assert "ISOMETRIC_CLIENT_SECRET" in panel.message.value


def test_from_environment_is_the_demo_until_configured(monkeypatch, server):
    with ia.RegistryClient.from_environment() as client:
        assert client.environment == "demo"
    monkeypatch.setenv("ISOMETRIC_BASE_URL", serve_demo(server))
    monkeypatch.setenv("ISOMETRIC_CLIENT_SECRET", demo.CLIENT_SECRET)
    monkeypatch.setenv("ISOMETRIC_ACCESS_TOKEN", demo.access_token(demo.DEFAULT_ORGANISATION_ID))
    with ia.RegistryClient.from_environment() as client:
        assert client.environment == "sandbox"
        assert client.base_url.startswith("http://127.0.0.1")
        assert client.current_organisation()["id"] == demo.DEFAULT_ORGANISATION_ID


def test_the_explorer_frame_reads_a_stacked_mapping():
    registry = demo.registry()
    balances = {org: ia.parse_balance(registry.credit_balance(org))
                for org in list(demo.accounts())[:2]}
    app = explorer(balances)
    assert isinstance(app, Explorer)
    assert len(app.organisation.options) == 3
    assert int(app.breakdown["total_kgs"].sum()) == sum(b.total_kgs for b in balances.values())
    assert isinstance(app.summary, pd.DataFrame)


@settings(max_examples=15)  # each example redraws the chart (about 0.1 s)
@given(st.data())
def test_whatever_the_controls_say_the_table_adds_up_exactly(portfolio, data):
    fetched, _, app = portfolio
    organisations = [value for _, value in app.organisation.options]
    app.organisation.value = data.draw(st.sampled_from(organisations))
    app.dimension.value = data.draw(st.sampled_from([value for _, value in app.dimension.options]))
    app.status.value = data.draw(st.sampled_from(["total", "active", "retired"]))
    app.units.value = data.draw(st.sampled_from(["tCO2e", "kg"]))
    app.top.value = data.draw(st.integers(app.top.min, app.top.max))
    organisation = app.organisation.value
    held = (sum(b.total_kgs for b in fetched.balances.values()) if organisation == ALL
            else fetched.balances[organisation].total_kgs)
    for column in ("active_kgs", "retired_kgs", "total_kgs"):
        assert int(app.summary[column].sum()) == int(app.breakdown[column].sum())
    assert int(app.breakdown["total_kgs"].sum()) == held
    total_row = table_rows(app)[-1]
    assert total_row[3] == (tonnes(held) if app.units.value == "tCO2e" else f"{held:,}")
    assert len(table_rows(app)) == len(app.summary) + 2  # header and Total


def png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_the_explorer_draws_registry_names_as_text_at_its_own_size():
    # Supplier and project names holding mathtext, terminal escapes, line breaks and 5,000
    # characters: the chart draws at the explorer's fixed size, the table keeps each name whole.
    hostile = [r"$\undefinedmacro{x}$", "$x^2$", "a$b", "Carbon " * 714 + "Co",
               "Deep\nwell\n\n\n\n\nCarbon", "\x1b]52;c;cm0gLXJm\x07Red \u202eRock"]
    with ia.RegistryClient.demo() as client:
        balance = client.credit_balance(demo.DEFAULT_ORGANISATION_ID)
        projects = client.projects()
    suppliers = list(pd.unique(projects["supplier_id"]))
    renamed = dict(zip(suppliers, hostile * (len(suppliers) // len(hostile) + 1), strict=False))
    projects = projects.assign(supplier_name=projects["supplier_id"].map(renamed),
                               name=[hostile[i % len(hostile)] for i in range(len(projects))])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        app = explorer(balance, projects=projects, top=10)
        for dimension in ("supplier", "project"):
            app.dimension.value = dimension
            height = max(2.6, 0.32 * len(app.summary) + 1.4)
            width, pixels_high = png_size(bytes(app.chart.value))
            assert width == 640 and abs(pixels_high - height * 80) <= 1
            names = app.summary[f"{dimension}_name"].dropna()
            assert any("$" in name for name in names)
            for name in names:
                assert html.escape(name) in app.table.value  # whole, escaped
    assert not [w for w in caught if "constrained_layout" in str(w.message)]


# -- the time view ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def over_time():
    """The explorer of two buyers with their ledgers, and the pieces it was built from."""
    registry = demo.registry()
    organisations = [registry.buyers["large"], registry.buyers["typical"]]
    with ia.RegistryClient.demo() as client:
        fetched = ia.fetch_balances(organisations, client=client, progress=False)
        ledger = pd.concat([ledger_from_batches(client.credit_batches(org), org)
                            for org in organisations], ignore_index=True)
        app = explorer(fetched, client=client, ledger=ledger)
    return app, ledger, organisations


def time_rows(view) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", view.table.value)
    return [[html.unescape(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in rows]


def test_without_a_ledger_there_is_no_time_view(portfolio):
    _, _, app = portfolio
    assert app.time is None
    assert len(app.children) == 5  # notice, controls, figures, chart, table: as before


def test_the_time_view_sits_beneath_the_holdings(over_time):
    app, ledger, _ = over_time
    assert app.children[-1] is app.time and isinstance(app.time, TimeView)
    view = app.time
    assert view.event.value == "retired" and view.frequency.value == "Y"
    assert [value for _, value in view.by.options] == [
        NOTHING, "supplier_id", "project_id", "vintage", "pathway", "country", "durability"]
    assert bytes(view.chart.value).startswith(PNG)
    assert int(view.timeline["credit_kgs"].sum()) == int(
        ledger.loc[ledger["event"] == "retired", "credit_kgs"].sum())
    for name in ("event", "frequency", "by", "chart", "table"):
        assert f"isoanalytics-time-{name}" in getattr(view, name)._dom_classes


def test_each_time_control_changes_the_chart_and_the_table(over_time):
    app, _, _ = over_time
    view = app.time
    for name, value in [("frequency", "Q"), ("by", "supplier_id"), ("event", "delivered"),
                        ("by", "durability"), ("frequency", "M"), ("by", NOTHING),
                        ("event", "retired"), ("frequency", "Y")]:
        chart, table = view.chart.value, view.table.value
        getattr(view, name).value = value
        assert view.chart.value != chart and view.table.value != table, (name, value)


def test_the_time_table_adds_up_exactly(over_time):
    app, ledger, _ = over_time
    view = app.time
    view.by.value, view.frequency.value = "supplier_id", "Q"
    rows = time_rows(view)
    retired = int(ledger.loc[ledger["event"] == "retired", "credit_kgs"].sum())
    header, *body, total = rows
    assert header[0] == "Period" and header[-2:] == ["Total (tCO2e)", "Cumulative (tCO2e)"]
    assert header[-3].startswith("Other (")
    assert len(body) == view.timeline["period"].nunique()
    assert total[0] == "Total" and total[-2:] == [tonnes(retired)] * 2
    assert body[-1][-1] == tonnes(retired)  # the running total ends at the whole
    names = set(app.time._names["supplier_id"].values())
    assert {cell.removesuffix(" (tCO2e)") for cell in header[1:-3]} <= names
    view.by.value, view.frequency.value = NOTHING, "Y"


def test_the_time_view_follows_the_organisation_and_the_units(over_time):
    app, ledger, organisations = over_time
    view = app.time
    for organisation in organisations:
        app.organisation.value = organisation
        mine = ledger[(ledger["organisation_id"] == organisation)
                      & (ledger["event"] == "retired")]
        assert int(view.timeline["credit_kgs"].sum()) == int(mine["credit_kgs"].sum())
        assert time_rows(view)[-1][-1] == tonnes(int(mine["credit_kgs"].sum()))
    app.units.value = "kg"
    assert time_rows(view)[-1][-1] == f"{int(mine['credit_kgs'].sum()):,}"
    assert time_rows(view)[0][-1] == "Cumulative (kg)"
    app.units.value = "tCO2e"
    app.organisation.value = ALL
    assert int(view.timeline["credit_kgs"].sum()) == int(
        ledger.loc[ledger["event"] == "retired", "credit_kgs"].sum())


def test_the_time_view_refuses_a_frame_that_is_not_a_ledger():
    balance = ia.parse_balance(demo.registry().credit_balance(demo.DEFAULT_ORGANISATION_ID))
    with pytest.raises(ValueError, match=r"isoanalytics\.ledger"):
        explorer(balance, ledger=pd.DataFrame({"credit_kgs": [1]}))


@settings(max_examples=12, deadline=None)  # each example redraws the chart
@given(st.data())
def test_whatever_the_time_controls_say_the_table_adds_up(over_time, data):
    app, ledger, organisations = over_time
    view = app.time
    app.organisation.value = data.draw(st.sampled_from([ALL, *organisations]))
    view.event.value = data.draw(st.sampled_from([value for _, value in view.event.options]))
    view.frequency.value = data.draw(st.sampled_from(["Y", "Q", "M"]))
    view.by.value = data.draw(st.sampled_from([value for _, value in view.by.options]))
    shown = ledger if app.organisation.value == ALL else ledger[
        ledger["organisation_id"] == app.organisation.value]
    expected = int(shown.loc[shown["event"] == view.event.value, "credit_kgs"].sum())
    assert int(view.timeline["credit_kgs"].sum()) == expected
    assert time_rows(view)[-1][-2:] == [tonnes(expected)] * 2


# -- per-dimension top N, for any sequence of changes ---------------------------------------


@settings(max_examples=10, deadline=None)  # each example makes an app and redraws it
@given(st.lists(st.tuples(st.sampled_from(["dimension", "top", "organisation"]),
                          st.integers(0, 60)), min_size=1, max_size=8))
def test_whatever_is_changed_each_dimension_shows_its_own_n(portfolio, actions):
    fetched, projects, _ = portfolio
    app = explorer(fetched, projects=projects)
    wanted = dict.fromkeys(("supplier", "project", "pathway", "country"), 10)
    organisations = [value for _, value in app.organisation.options]
    for control, number in actions:
        if control == "dimension":
            app.dimension.value = list(wanted)[number % 4]
        elif control == "organisation":
            app.organisation.value = organisations[number % len(organisations)]
        else:
            app.top.value = min(max(number, 1), app.top.max)
            wanted[app.dimension.value] = app.top.value
        entities = len(app.breakdown)
        assert app.top.max == max(min(entities, MAX_TOP), 1)
        assert app.top.value == min(wanted[app.dimension.value], app.top.max)
        assert len(app.summary[~app.summary["other"]]) == min(app.top.value, entities)


# -- the static copy of the last state ------------------------------------------------------


def test_the_static_copy_is_the_chart_and_the_exact_tables(over_time):
    app, _, _ = over_time
    app.dimension.value, app.status.value = "country", "retired"
    copy = app.static_html()
    assert copy.startswith('<div class="isoanalytics-static">')
    assert app.table.value in copy and app.figures.value in copy  # the exact table, as shown
    assert app.time.table.value in copy  # and the time view's
    pictures = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', copy)
    assert [base64.b64decode(png) for png, _ in pictures] == [bytes(app.chart.value),
                                                              bytes(app.time.chart.value)]
    alt, time_alt = (html.unescape(text) for _, text in pictures)
    assert alt.startswith("Bar chart: Retired holdings by country of all 2 organisations")
    largest = app.summary.iloc[0]
    assert f"the largest, {largest['country_name']}, holds" in alt
    assert time_alt.endswith(f"{tonnes(int(app.time.timeline['credit_kgs'].sum()))} tCO2e in all")
    assert "display:none" in copy  # hidden where the widgets render
    app.dimension.value, app.status.value = "supplier", "total"


def recording_displays(monkeypatch) -> list[tuple[dict, str | None, bool]]:
    """What IPython's display() is given, as (data, display_id, update), kernel or not."""
    import IPython.display
    from IPython.core import display_functions

    published: list[tuple[dict, str | None, bool]] = []

    def display(data, *, raw=False, display_id=None, update=False, **_):
        assert raw
        published.append((data, display_id, update))

    monkeypatch.setattr(display_functions, "display", display)
    monkeypatch.setattr(IPython.display, "display", display)
    return published


def test_shown_in_a_notebook_the_copy_follows_every_change(portfolio, monkeypatch):
    published = recording_displays(monkeypatch)
    fetched, projects, _ = portfolio
    app = explorer(fetched, projects=projects)
    app._ipython_display_()
    (view, _, _), (static, display_id, update) = published
    assert set(view) == {"application/vnd.jupyter.widget-view+json", "text/plain"}
    assert "Explorer(" not in view["text/plain"]  # a sentence where widgets cannot render
    assert static["text/html"] == app.static_html() and display_id and not update
    app.dimension.value = "pathway"
    data, updated_id, update = published[-1]
    assert update and updated_id == display_id
    assert data["text/html"] == app.static_html() and "Holdings by pathway" in data["text/html"]


def test_an_explorer_inside_another_widget_publishes_nothing(portfolio, monkeypatch):
    published = recording_displays(monkeypatch)
    fetched, projects, _ = portfolio
    app = explorer(fetched, projects=projects)
    app.dimension.value = "country"  # never displayed itself: no copy to update
    assert published == []


# -- the dashboard --------------------------------------------------------------------------


def test_the_dashboard_shows_the_demo_portfolio_and_the_time_view_on_request():
    registry = demo.registry()
    chosen = [registry.buyers["concentrated"], registry.buyers["typical"]]
    board = dashboard(organisations={"demo": chosen})
    assert board.children[0] is board.panel and board.holder.children[0] is board.app
    assert [value for _, value in board.app.organisation.options] == [ALL, *chosen]
    assert board.app.time is None and board.time_button.layout.display is None
    view = board.show_time()
    assert board.app.time is view and board.time_button.layout.display == "none"
    assert view.timeline["credit_kgs"].sum() > 0 and board.message.value == ""
    first = board.app
    board.panel.connect()  # a new client: a fresh explorer
    assert board.app is not first and board.app.time is None


def test_a_dashboard_that_cannot_connect_says_so_and_shows_no_app():
    board = dashboard("production")  # no ISOMETRIC_* variables here
    assert board.app is None and board.holder.children == ()
    assert "connect" in board.message.value and "ISOMETRIC_CLIENT_SECRET" in (
        board.panel.message.value)
    assert board.show_time() is None
