"""Dashboard callbacks as plain functions on real databases: URL <-> filters, navigation, routing, charts, CSV."""

from __future__ import annotations

import base64
import io

import dash
import dash_ag_grid as dag
import numpy as np
import pandas as pd
import pytest

from tests.callback_keys import output_items
from tests.callbacks.conftest import app_context
from dash import dcc

import metrics
from app import create_app
from callbacks import acquisition as acq
from callbacks import overview as ov
from callbacks.charts import chart_body, chart_download, chart_frame, registered_charts
from callbacks.filters import nav_hrefs, navigation, sync_filters_and_url
from callbacks.routing import render_page
from dashboard import db
from dashboard.config import Config
from dashboard.demo import write_demo
from layouts import acquisition as acq_view
from layouts import overview as ov_view
from layouts.ids import AcquisitionIds, FilterIds, OverviewIds, ShellIds, page_param_id

ACQ_PARAMS = [page_param_id("breakdown"), page_param_id("grain")]


def trace_values(values) -> list:
    """Return a trace's array as a list, decoding plotly's base64 typed-array form ({dtype, bdata})."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


@pytest.fixture(scope="module")
def tiny_ctx(tmp_path_factory):
    """An app context on two hand-made users (UK/PC/organic paying; France/Mac/TipTop) and no costs."""
    url = f"duckdb:///{tmp_path_factory.mktemp('tiny') / 'tiny.duckdb'}"
    engine = db.make_engine(url)
    db.create_schema(engine)
    visits = pd.DataFrame({
        "user_id": ["1", "2", "1"], "region": ["UK", "France", "UK"], "device": ["PC", "Mac", "PC"],
        "channel": ["organic", "TipTop", "organic"],
        "session_start": pd.to_datetime(["2026-05-01 10:00", "2026-05-03 11:00", "2026-05-04 09:00"]),
        "session_end": pd.to_datetime(["2026-05-01 10:10", "2026-05-03 11:30", "2026-05-04 09:01"]),
    })
    orders = pd.DataFrame({"user_id": ["1"], "event_dt": pd.to_datetime(["2026-05-04 09:00:30"]), "revenue": [4.99]})
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, visits)
        db.bulk_insert(conn, db.orders, orders)
        db.bump_data_version(conn)
    engine.dispose()
    ctx = app_context(url)
    yield ctx
    ctx.engine.dispose()


def _store(ctx, search: str = "", pathname: str = "/") -> dict:
    result = sync_filters_and_url(ctx, None, search, pathname, {}, [], [], None)
    return result.store


def _controls(store: dict) -> dict:
    return {"start": store["start"], "end": store["end"], "observation_date": store["observation_date"],
            "horizon": store["horizon"], "country": store["country"], "device": store["device"],
            "channel": store["channel"]}


# ------------------------------------------------------------------------------------------------ URL and filters


def test_dcb001_url_sets_every_control_and_notes_what_it_ignored(tiny_ctx):
    result = sync_filters_and_url(tiny_ctx, None, "?channel=TipTop&channel=Nope&start=2026-05-02&breakdown=device",
                                  "/acquisition", {}, ACQ_PARAMS, [None, None], None)
    assert result.store == {"start": "2026-05-02", "end": "2026-05-04", "observation_date": "2026-05-04",
                            "horizon": 14, "country": [], "device": [], "channel": ["TipTop"]}
    assert (result.start_date, result.end_date, result.channels) == ("2026-05-02", "2026-05-04", ["TipTop"])
    # options carry their users to date; the countries are narrowed by the channel chosen (TipTop's user is French)
    assert result.channel_options == [{"label": "TipTop (1)", "value": "TipTop"},
                                      {"label": "organic (1)", "value": "organic"}]
    assert result.country_options == [{"label": "France (1)", "value": "France"}]
    # the same lists as the dropdowns show are not sent again (a list that differs is)
    again = sync_filters_and_url(tiny_ctx, None, "?channel=TipTop&start=2026-05-02", "/acquisition", {}, ACQ_PARAMS,
                                 [None, None], None, {"country": result.country_options, "device": [],
                                                      "channel": result.channel_options})
    assert again.country_options is dash.no_update and again.channel_options is dash.no_update
    assert again.device_options == result.device_options != []
    assert (result.period, [o["value"] for o in result.period_options][-1]) == ("custom", "custom")
    assert (result.min_date, result.max_date) == ("2026-05-01", "2026-05-04")
    assert result.page_values == ["device", "week"]
    assert result.search is dash.no_update  # a link is never rewritten (no history entry on load)
    assert "Unknown channel 'Nope' ignored." in str(result.notes)


def test_dcb002_changing_a_control_writes_the_url(tiny_ctx):
    store = _store(tiny_ctx)
    controls = _controls(store) | {"channel": ["organic", "TipTop"], "country": ["UK"]}
    result = sync_filters_and_url(tiny_ctx, FilterIds.CHANNEL, "", "/", controls, [], [], store)
    assert result.search == "?country=UK&channel=TipTop&channel=organic"
    checked = result.state.to_store()
    assert checked["channel"] == ["TipTop", "organic"] and checked["country"] == ["UK"]
    # after a control change the browser writes the state (STATE_FROM_CONTROLS_JS); the controls it shows are kept
    assert result.store is dash.no_update and result.channels is dash.no_update and result.countries is dash.no_update
    # ... unless the store held no state (the database was unavailable): then the server writes it
    assert sync_filters_and_url(tiny_ctx, FilterIds.CHANNEL, "", "/", controls, [], [], None).store == checked
    # the observation date left at its default follows the end date
    controls = _controls(store) | {"end": "2026-05-03"}
    result = sync_filters_and_url(tiny_ctx, FilterIds.DATE_RANGE, "", "/", controls, [], [], store)
    assert result.search == "?end=2026-05-03"
    assert result.observation_date == "2026-05-03" and result.state.observation_date.isoformat() == "2026-05-03"
    # horizon: written when not the default; out of range -> default, the control corrected, a note shown
    result = sync_filters_and_url(tiny_ctx, FilterIds.HORIZON, "", "/", _controls(store) | {"horizon": 7}, [], [],
                                  store)
    assert result.search == "?horizon=7" and result.state.horizon == 7
    result = sync_filters_and_url(tiny_ctx, FilterIds.HORIZON, "?horizon=7", "/",
                                  _controls(store) | {"horizon": 0}, [], [], result.state.to_store())
    assert result.search == "" and result.horizon == 14 and "horizon=0" in str(result.notes)
    # a page control writes its parameter; its default is left out (no new history entry)
    result = sync_filters_and_url(tiny_ctx, "page-param", "", "/acquisition", _controls(store), ACQ_PARAMS,
                                  ["country", "week"], store)
    assert result.search == "?breakdown=country" and result.store is dash.no_update
    result = sync_filters_and_url(tiny_ctx, "page-param", "?breakdown=country", "/acquisition", _controls(store),
                                  ACQ_PARAMS, ["channel", "week"], store)
    assert result.search == ""


def test_dcb020_a_new_pages_controls_leave_the_unchanged_state(tiny_ctx):
    """When a page's controls appear showing what the URL says, the filter state is not sent again: the new page's
    charts run by themselves, since the state and the page controls are no declared output of this callback
    (test_uib006 checks the page is drawn). A control the user changes leaves the state alone (only its charts
    rerun)."""
    search = "?channel=TipTop&breakdown=device"
    store = _store(tiny_ctx, search, "/acquisition")
    appeared = sync_filters_and_url(tiny_ctx, "page-param", search, "/acquisition", _controls(store), ACQ_PARAMS,
                                    ["device", "week"], store)
    assert appeared.store is dash.no_update and appeared.state.to_store() == store
    assert appeared.search is dash.no_update  # the URL is not rewritten
    changed = sync_filters_and_url(tiny_ctx, "page-param", search, "/acquisition", _controls(store), ACQ_PARAMS,
                                   ["country", "week"], store)
    assert changed.store is dash.no_update and changed.search == "?channel=TipTop&breakdown=country"
    # a global filter change with the same state (e.g. a control re-set to its value) still sends nothing
    same = sync_filters_and_url(tiny_ctx, FilterIds.CHANNEL, search, "/acquisition", _controls(store), ACQ_PARAMS,
                                ["device", "week"], store)
    assert same.store is dash.no_update


def test_dcb003_a_link_in_another_order_is_kept_as_it_is(tiny_ctx):
    search = "?channel=TipTop&start=2026-05-02"
    store = _store(tiny_ctx, search)
    result = sync_filters_and_url(tiny_ctx, "page-param", search, "/acquisition", _controls(store), ACQ_PARAMS,
                                  ["channel", "week"], store)
    assert result.search is dash.no_update and result.store is dash.no_update  # not resent: see test_dcb020
    assert result.state.to_store() == store
    # a new page's controls appearing while the filter controls still show older values: the URL wins
    stale = _controls(_store(tiny_ctx))
    result = sync_filters_and_url(tiny_ctx, "page-param", search, "/acquisition", stale, ACQ_PARAMS,
                                  ["channel", "week"], None)
    assert result.search is dash.no_update
    assert result.store == store and result.start_date == "2026-05-02" and result.channels == ["TipTop"]
    # controls not filled yet at all: read everything from the URL
    result = sync_filters_and_url(tiny_ctx, FilterIds.CHANNEL, search, "/", {"channel": []}, [], [], None)
    assert result.store == store and result.search is dash.no_update


def test_dcb004_navigation_links_carry_the_global_filters(tiny_ctx):
    store = _store(tiny_ctx, "?country=UK&breakdown=device")
    links = [{"type": "nav-link", "path": p} for p in ("/", "/acquisition", "/data")]
    # the filter sync gives the links' query with the state it checks (one answer for the controls and the links)
    result = sync_filters_and_url(tiny_ctx, None, "?country=UK&breakdown=device", "/acquisition", {}, [], [], None)
    assert result.nav_query == "?country=UK" and result.store == store
    assert nav_hrefs(links, result.nav_query) == ["/?country=UK", "/acquisition?country=UK", "/data?country=UK"]
    assert result.summary == f"{store['start']} – {store['end']} · UK"
    active, reset, bar, obs, horizon = navigation("/acquisition", links)
    assert active == [False, True, False] and reset == "/acquisition"
    assert (bar, obs, horizon) == ({}, {}, {"display": "none"})  # acquisition uses no horizon
    assert navigation("/", links)[3:] == ({}, {})
    assert navigation("/data", links)[2] == {"display": "none"}


def test_dcb005_routing_builds_each_page_with_its_url_parameters(tiny_ctx):
    assert "overview-kpis-body" in str(render_page("/", tiny_ctx))
    page = str(render_page("/acquisition", tiny_ctx, "?breakdown=country&grain=month"))
    assert "value='country'" in page and "value='month'" in page
    assert "value='channel'" in str(render_page("/acquisition/", tiny_ctx, "?breakdown=planet"))
    assert "database-summary" in str(render_page("/data", tiny_ctx))
    assert "not-found" in str(render_page("/nowhere", tiny_ctx))


# ------------------------------------------------------------------------------------------------ charts


def test_dcb010_overview_numbers_are_the_metrics_numbers(demo_ctx):
    store = _store(demo_ctx, "?start=2026-07-01&end=2026-07-31&channel=FaceBoom&channel=organic&horizon=7")
    f = metrics.Filters.make(start="2026-07-01", end="2026-07-31", channels=["FaceBoom", "organic"])
    prev = metrics.Filters.make(start="2026-05-31", end="2026-06-30", channels=["FaceBoom", "organic"])
    with demo_ctx.engine.connect() as conn:
        daily = metrics.activity_daily(conn, f)
        new_users = metrics.new_users(conn, f, dimensions=("payer",))
        revenue = metrics.daily_revenue(conn, f)["revenue"].sum()
        prev_revenue = metrics.daily_revenue(conn, prev)["revenue"].sum()
        roi = metrics.roi(conn, f, horizon=7)
        summary = metrics.activity_summary(conn, f).set_index("metric")["value"]
    body = chart_body(demo_ctx, OverviewIds.ACTIVITY, ov.activity_frame, lambda fr, _: ov_view.activity_figure(fr),
                      store)
    assert list(trace_values(body.figure["data"][0]["y"])) == daily["dau"].tolist()
    assert list(trace_values(body.figure["data"][2]["y"])) == daily["mau30"].tolist()
    kpis = chart_frame(demo_ctx, ov.kpi_frame, store).set_index("kpi")
    assert kpis.loc["new_users", "value"] == new_users["new_users"].sum()
    assert kpis.loc["payer_share", "value"] == pytest.approx(
        new_users.loc[new_users["payer"], "new_users"].sum() / new_users["new_users"].sum(), rel=1e-12)
    assert kpis.loc["revenue", "value"] == pytest.approx(revenue, rel=1e-12)
    assert kpis.loc["revenue", "previous_value"] == pytest.approx(prev_revenue, rel=1e-12)
    assert kpis.loc["revenue", "change"] == pytest.approx((revenue - prev_revenue) / prev_revenue, rel=1e-9)
    assert kpis.loc["roi", "value"] == pytest.approx(roi.loc[roi["lifetime"] == 6, "value"].iloc[0], rel=1e-12)
    assert kpis.loc["dau", "value"] == pytest.approx(summary["dau"], rel=1e-12)
    cards = str(chart_body(demo_ctx, OverviewIds.KPIS, ov.kpi_frame, ov.kpi_view, store))
    assert "2026-05-31 – 2026-06-30" in cards and f"${revenue:,.2f}" in cards


def test_dcb019_kpi_card_shares_the_profiles_and_gives_the_same_numbers(database_url):
    """The KPI card reads `metrics.kpi_table`, which computes its ~15 metrics inside `shared_profiles`: the
    profiles are built once per observation date (this period's and the comparison's: 2 temporary tables), the
    frame is exactly the metric's table computed on a plain connection, and the temporary tables are gone after
    the request."""
    import sqlalchemy as sa

    engine = db.make_engine(database_url)
    write_demo(engine, users=600, seed=4)
    engine.dispose()
    ctx = app_context(database_url)
    statements = []
    sa.event.listen(ctx.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *rest: statements.append(statement))
    shown = chart_frame(ctx, ov.kpi_frame, _store(ctx, "?start=2026-08-01&end=2026-08-31&horizon=7"))
    creates = [s for s in statements if s.lstrip().upper().startswith("CREATE TEMPORARY TABLE")]
    drops = [s for s in statements if s.lstrip().upper().startswith("DROP TABLE")]
    assert len(creates) == 2
    assert len(drops) >= 2  # dropped at the end of the block (and before creating, for a leftover)
    query = metrics.MetricQuery.make("2026-08-01", "2026-08-31", "2026-08-31", horizon=7, compare="previous")
    with ctx.engine.connect() as conn:
        direct = ov_view.kpi_rows(metrics.kpi_table(conn, query))
        names = set(sa.inspect(conn).get_temp_table_names()) if ctx.engine.dialect.name != "postgresql" else set()
    ctx.engine.dispose()
    pd.testing.assert_frame_equal(shown, direct, check_exact=True)
    assert shown.set_index("kpi").loc["new_users", "value"] > 0
    assert not any(name.startswith("metrics_profiles") for name in names)


def test_dcb011_acquisition_charts_follow_breakdown_and_grain(demo_ctx):
    store = _store(demo_ctx, "?period=all&country=UK")  # the whole range, as f
    f = metrics.Filters.make(regions=["UK"])
    with demo_ctx.engine.connect() as conn:
        by_device = metrics.new_users(conn, f, dimensions=("device", "payer"))
    frame = chart_frame(demo_ctx, acq.new_users_frame, store, {"breakdown": "device", "grain": "month"})
    assert list(frame.columns) == ["month", "device", "new_users", "days_in_period", "partial"]
    assert frame.groupby("device")["new_users"].sum().to_dict() == \
        by_device.groupby("device")["new_users"].sum().to_dict()
    body = chart_body(demo_ctx, AcquisitionIds.NEW_USERS, acq.new_users_frame, acq.new_users_view, store,
                      {"breakdown": "device", "grain": "month"})
    assert sorted(t["name"] for t in body.figure["data"]) == sorted(frame["device"].unique())
    assert sum(sum(trace_values(t["y"])) for t in body.figure["data"]) == frame["new_users"].sum()
    devices = chart_frame(demo_ctx, acq.users_by_frame("device"), store)
    assert devices["users"].is_monotonic_decreasing
    assert devices.set_index("device")["payers"].to_dict() == \
        by_device[by_device["payer"]].set_index("device")["new_users"].to_dict()
    grid = chart_body(demo_ctx, AcquisitionIds.PAYING_CHANNELS, acq.paying_channels_frame,
                      lambda fr, _: acq_view.paying_channels_grid(fr), store)
    assert isinstance(grid, dag.AgGrid)
    assert sum(r["new_users"] for r in grid.rowData) == by_device["new_users"].sum()


def test_dcb012_csv_download_holds_exactly_the_frame_shown(demo_ctx):
    store = _store(demo_ctx, "?start=2026-06-01&end=2026-06-30")
    params = {"breakdown": "channel", "grain": "dt"}
    download = chart_download(demo_ctx, registered_charts(demo_ctx)[AcquisitionIds.NEW_USERS], store, params)
    assert download["filename"] == "acquisition_new-users_2026-06-01_2026-06-30.csv"
    text = base64.b64decode(download["content"]).decode() if download["base64"] else download["content"]
    shown = chart_frame(demo_ctx, acq.new_users_frame, store, params)
    csv = pd.read_csv(io.StringIO(text))
    assert list(csv.columns) == ["Day", "Channel", "New users"] and len(csv) == len(shown)  # headers as shown
    assert csv["Day"].iloc[0] == "2026-06-01"
    assert csv["New users"].tolist() == shown["new_users"].tolist()
    assert csv["Channel"].tolist() == shown["channel"].astype(str).tolist()
    kpi_text = chart_download(demo_ctx, registered_charts(demo_ctx)[OverviewIds.KPIS], store)["content"]
    kpis = pd.read_csv(io.StringIO(kpi_text))
    assert kpis["Key"].tolist()[:3] == ["users", "new_users", "dau"]


def test_dcb013_filters_selecting_nobody_show_empty_states(tiny_ctx):
    store = _store(tiny_ctx, "?country=UK&channel=TipTop")
    charts = [(OverviewIds.KPIS, ov.kpi_frame, ov.kpi_view, {}),
              (OverviewIds.ACTIVITY, ov.activity_frame, lambda fr, _: ov_view.activity_figure(fr), {}),
              (OverviewIds.REVENUE_SPEND, ov.revenue_spend_frame, lambda fr, _: ov_view.revenue_spend_figure(fr), {}),
              (AcquisitionIds.NEW_USERS, acq.new_users_frame, acq.new_users_view, {"breakdown": "channel"}),
              (AcquisitionIds.BY_DEVICE, acq.users_by_frame("device"), lambda fr, _: fr, {}),
              (AcquisitionIds.PAYING_CHANNELS, acq.paying_channels_frame, lambda fr, _: fr, {})]
    for name, frame_fn, view_fn, params in charts:
        body = chart_body(tiny_ctx, name, frame_fn, view_fn, store, params, "Nothing here.")
        assert body.className == "empty-state", name
        assert "Nothing here." in str(body)


def test_dcb014_a_failing_metric_shows_a_notice_not_a_traceback(tiny_ctx):
    def broken(request):
        raise RuntimeError("database went away")

    body = chart_body(tiny_ctx, "x", broken, lambda fr, _: fr, _store(tiny_ctx))
    assert "chart-error" in body.className and "database went away" in str(body)


def test_dcb015_every_chart_renders_on_every_backend(database_url):
    engine = db.make_engine(database_url)
    write_demo(engine, users=200, days=60, seed=3)
    engine.dispose()
    ctx = app_context(database_url)
    store = _store(ctx, "?horizon=7")
    charts = [(OverviewIds.KPIS, ov.kpi_frame, ov.kpi_view, {}),
              (OverviewIds.ACTIVITY, ov.activity_frame, lambda fr, _: ov_view.activity_figure(fr), {}),
              (OverviewIds.REVENUE_SPEND, ov.revenue_spend_frame, lambda fr, _: ov_view.revenue_spend_figure(fr), {}),
              (AcquisitionIds.NEW_USERS, acq.new_users_frame, acq.new_users_view, {"breakdown": "country"}),
              (AcquisitionIds.PAYING_CHANNELS, acq.paying_channels_frame,
               lambda fr, _: acq_view.paying_channels_grid(fr), {})]
    for dim in ("region", "device", "channel"):
        charts.append((f"acq-{dim}", acq.users_by_frame(dim),
                       lambda fr, req, d=dim: acq_view.users_by_figure(fr, d, req.palette), {}))
    for name, frame_fn, view_fn, params in charts:
        body = chart_body(ctx, name, frame_fn, view_fn, store, params)
        assert isinstance(body, (dcc.Graph, dag.AgGrid)) or body.id == "overview-kpi-cards", (name, str(body)[:300])
    ctx.engine.dispose()


def test_dcb016_shell_has_one_filter_bar_and_store():
    from callbacks.pages import app_layout

    layout = str(app_layout())
    for component_id in (FilterIds.DATE_RANGE, FilterIds.CHANNEL, FilterIds.STATE, ShellIds.URL, FilterIds.NOTES):
        assert layout.count(f"id='{component_id}'") == 1


def test_dcb017_an_empty_database_gives_empty_states_and_a_note(tmp_path):
    url = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    engine = db.make_engine(url)
    db.create_schema(engine)
    engine.dispose()
    ctx = app_context(url)
    result = sync_filters_and_url(ctx, None, "", "/", {}, [], [], None)
    assert "The database holds no data yet" in str(result.notes)
    charts = [(OverviewIds.KPIS, ov.kpi_frame, ov.kpi_view), (AcquisitionIds.NEW_USERS, acq.new_users_frame,
                                                              acq.new_users_view)]
    for name, frame_fn, view_fn in charts:
        assert chart_body(ctx, name, frame_fn, view_fn, result.store, {}).className == "empty-state"
    ctx.engine.dispose()


def test_dcb090_default_overview_compares_the_last_four_weeks_and_all_data_offers_them(demo_ctx):
    # the default period is the last 28 days of the data (2026-10-04 .. 10-31): compared with the 28 days before
    default = _store(demo_ctx, "")
    assert (default["start"], default["end"]) == ("2026-10-04", "2026-10-31")
    compared = str(chart_body(demo_ctx, OverviewIds.KPIS, ov.kpi_frame, ov.kpi_view, default))
    assert "2026-09-06 – 2026-10-03" in compared and "n/a" not in compared
    assert "kpi-compare-last-weeks" not in compared
    # all data (one click away): its previous period is not in the data, so n/a with the reason and a link back
    everything = _store(demo_ctx, "?period=all")
    assert (everything["start"], everything["end"]) == ("2026-05-01", "2026-10-31")
    text = str(chart_body(demo_ctx, OverviewIds.KPIS, ov.kpi_frame, ov.kpi_view, everything))
    assert "Changes n/a: the previous period starts on 2025-10-29, before the data's first date 2026-05-01" in text
    assert "href='/'" in text  # the last 4 weeks are the default view


def test_dcb021_a_new_database_shows_no_data_yet_on_every_chart(database_url):
    """A database given by DATABASE_URL before its first import (PostgreSQL and SQLite: no tables at all;
    DuckDB: the empty schema the app creates for a missing file) gives every registered chart the "No data yet"
    state, with no query on missing tables and no error notice; data_bounds reports nothing."""
    from callbacks.charts import NO_DATA, chart_content, registered_charts
    from layouts.filters import DataBounds, FilterState

    app = create_app(Config(database_url=database_url, autofill_demo=False))
    ctx = app.server.extensions["dashboard_context"]
    with ctx.engine.connect() as conn:
        bounds = metrics.data_bounds(conn)
    assert bounds == {"first_date": None, "last_date": None, "has_visits": False, "has_orders": False,
                      "regions": [], "devices": [], "channels": []}
    stored = FilterState.default(DataBounds.from_metric(bounds)).to_store()
    charts = registered_charts(ctx)
    assert len(charts) >= 25
    for name, chart in charts.items():
        body = str(chart_content(ctx, chart, stored, {}))
        assert NO_DATA in body and "/data" in body and "could not be loaded" not in body, name


def test_dcb022_a_database_error_notice_shows_its_first_line_not_the_sql(tiny_ctx):
    """A chart whose query fails shows the driver's one-line reason (no SQL statement, no parameters) and points
    at the server log (DuckDB here); long messages are cut."""
    import sqlalchemy as sa

    from dashboard.errors import error_summary

    def missing_table(request):
        with tiny_ctx.engine.connect() as conn:
            conn.execute(sa.text("SELECT secret_column FROM no_such_table WHERE x = :value"), {"value": "p4ssw0rd"})

    body = str(chart_body(tiny_ctx, "x", missing_table, lambda fr, _: fr, _store(tiny_ctx)))
    assert "chart-error" in body and "no_such_table" in body and "details in the server log" in body
    assert "SELECT" not in body and "p4ssw0rd" not in body and "sqlalche.me" not in body
    assert error_summary(RuntimeError("line one\nline two")) == "RuntimeError: line one"
    long = error_summary(ValueError("x" * 1000))
    assert len(long) == 300 and long.endswith("…")


# ------------------------------------------------------------------------------- charts declared once


def test_dcb030_each_page_shows_exactly_the_cards_of_its_declared_charts():
    """A page's layout holds one card per chart in its `CHARTS`, in declaration order, and nothing else a chart
    callback fills; chart names are unique across pages."""
    from callbacks.pages import available_pages
    from callbacks.warmup import chart_names
    from layouts.ids import chart_card_id

    declared = []
    for page in available_pages():
        if page.module is None:
            continue
        layout = page.layout({p.name: p.default for p in page.page_params})
        names = [chart.name for chart in page.charts]
        assert names and chart_names(layout) == names, page.path
        ids = {child.id for child in layout._traverse() if isinstance(getattr(child, "id", None), str)}
        assert {chart_card_id(name) for name in names} <= ids, page.path
        declared += names
    assert len(declared) == len(set(declared))


def test_dcb031_every_declared_chart_has_a_registered_body_and_csv_callback(tiny_ctx):
    """create_app registers, for every declared chart, the callback filling its card and one answering its CSV
    button; the generated ones are the registered charts (those with their own callbacks are filled by the page)."""
    from callbacks.charts import registered_charts
    from callbacks.pages import available_pages
    from layouts.ids import chart_body_id, csv_button_id, csv_download_id

    app = create_app(tiny_ctx.config)
    ctx = app.server.extensions["dashboard_context"]
    outputs = {item for key in app.callback_map for item in output_items(key)}
    csv_inputs = {item["id"] for callback in app.callback_map.values() for item in callback["inputs"]
                  if item["property"] == "n_clicks"}
    charts = [chart for page in available_pages() for chart in page.charts]
    for chart in charts:
        assert f"{chart_body_id(chart.name)}.children" in outputs, chart.name
    # one body callback per page and role: a page's generated cards are filled by one request
    for page in available_pages():
        generated = [f"{chart_body_id(chart.name)}.children" for chart in page.charts if not chart.own_callbacks]
        keys = {key for key in app.callback_map for item in output_items(key) if item in generated}
        assert len(keys) == (2 if page.path == "/risk" else 1 if generated else 0), (page.path, keys)
        assert csv_button_id(chart.name) in csv_inputs, chart.name
        if chart.csv:
            assert f"{csv_download_id(chart.name)}.data" in outputs, chart.name
    assert set(registered_charts(ctx)) == {chart.name for chart in charts if not chart.own_callbacks}
    ctx.engine.dispose()


def test_dcb034_controls_set_from_a_link_before_the_page_controls_appear_keep_the_link(tiny_ctx):
    """The sync sets the filter controls from a link with set_props, which runs it again (the controls are its
    inputs), possibly before the page's own controls are on the page: the page parameters of the link, the URL and
    the notes on ignored values stay; a real change of a filter then keeps the link's page parameter too."""
    search = "?channel=TipTop&channel=Nope&breakdown=device"
    loaded = sync_filters_and_url(tiny_ctx, None, search, "/acquisition", {}, [], [], None)
    assert "Unknown channel 'Nope' ignored." in str(loaded.notes) and loaded.page_values == []
    echo = sync_filters_and_url(tiny_ctx, FilterIds.CHANNEL, search, "/acquisition", _controls(loaded.store), [], [],
                                loaded.store)
    assert echo.search is dash.no_update and echo.notes is dash.no_update and echo.store is dash.no_update
    changed = sync_filters_and_url(tiny_ctx, FilterIds.CHANNEL, search, "/acquisition",
                                   _controls(loaded.store) | {"channel": ["organic"]}, [], [], loaded.store)
    assert changed.search == "?channel=organic&breakdown=device"


def test_dcb033_what_a_body_shows_is_an_output_beside_it_never_a_side_update(tiny_ctx):
    """Dash drops the answer of a call overtaken by a newer call of the same callback (a page opening: its first
    call, then the filter state arriving) but applies that answer's set_props. So the store saying what a card's body
    shows is a declared output of the callback that fills the body, for every card with such a store: a dropped call
    cannot mark as drawn a body that was never drawn (the newer call would then send nothing: an empty card)."""
    import json as json_module

    from layouts.charts import chart_drawn_id
    from layouts.ids import chart_body_id

    app = create_app(tiny_ctx.config)
    bodies = 0
    for key in app.callback_map:
        items = output_items(key)
        for item in items:
            if item.endswith("-body.children"):
                name = item[:-len("-body.children")]
                states = {f"{s['id']}.{s['property']}" for s in app.callback_map[key]["state"]}
                if f"{chart_drawn_id(name)}.data" in states:
                    bodies += 1
                    assert f"{chart_drawn_id(name)}.data" in items, (name, key)
    assert bodies >= 20
    # posted as the page posts it: the stores come back among the outputs, not as side updates
    key = next(k for k in app.callback_map if f"{chart_body_id(OverviewIds.KPIS)}.children" in output_items(k))
    callback = app.callback_map[key]
    store = _store(tiny_ctx)

    def entry(spec):
        if spec["id"].startswith("{"):  # a pattern id: no retry timer on the page; a page control as it is
            pattern = json_module.loads(spec["id"])
            return [] if ["ALL"] in pattern.values() else {"id": pattern, "property": spec["property"], "value": None}
        value = store if spec["id"] == FilterIds.STATE else None
        return {"id": spec["id"], "property": spec["property"], "value": value}

    outputs = [dict(zip(("id", "property"), item.rsplit(".", 1))) for item in output_items(key)]
    body = {"output": key, "outputs": outputs, "inputs": [entry(s) for s in callback["inputs"]],
            "state": [entry(s) for s in callback["state"]], "changedPropIds": [f"{FilterIds.STATE}.data"]}
    answer = app.server.test_client().post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.get_data()[:300]
    data = json_module.loads(answer.get_data())
    assert data["response"][chart_drawn_id(OverviewIds.KPIS)]["data"]["key"]
    assert data["response"][chart_body_id(OverviewIds.KPIS)]["children"]
    assert not any(ident.endswith("-drawn") for ident in data.get("sideUpdate", {}))


def test_dcb032_a_page_can_be_one_module_plus_one_registry_line(demo_ctx):
    """A page written as ONE module (its `CHARTS`, no layout module of its own) is available, stacks its cards
    under its label, and its chart's generated callbacks draw the metric's numbers through the chart framework."""
    import types

    from dash import Dash

    from callbacks.charts import chart_content, chart_frame, register_page_charts
    from layouts.charts import Chart, view_only
    from layouts.ids import chart_body_id, chart_card_id
    from layouts.shell import Page

    module = types.ModuleType("made_up_page")
    module.CHARTS = (Chart("made-up-dau", "Daily active users", "Distinct users with a visit each day.",
                           frame=lambda request: request.read(metrics.activity_daily, request.query)[["date", "dau"]],
                           view=view_only(lambda frame: ov_view.activity_figure(frame.assign(wau7=0, mau30=0)))),)
    page = Page("/made-up", "Made up", module)
    assert page.available and page.charts == module.CHARTS and page.register_extra is None
    layout = page.layout({})
    ids = {child.id for child in layout._traverse() if isinstance(getattr(child, "id", None), str)}
    assert {chart_card_id("made-up-dau"), chart_body_id("made-up-dau")} <= ids and "Made up" in str(layout)
    app = Dash(__name__)
    register_page_charts(app, demo_ctx, module.CHARTS, page.label)
    # the page's one body callback: the card's body and the store saying what it shows
    assert f"..{chart_body_id('made-up-dau')}.children...made-up-dau-drawn.data.." in app.callback_map
    store = _store(demo_ctx, "?start=2026-07-01&end=2026-07-31")
    with demo_ctx.engine.connect() as conn:
        daily = metrics.activity_daily(conn, metrics.Filters.make(start="2026-07-01", end="2026-07-31"))
    frame = chart_frame(demo_ctx, module.CHARTS[0].frame, store)
    assert frame["dau"].tolist() == daily["dau"].tolist() and len(frame) == 31
    body = chart_content(demo_ctx, module.CHARTS[0], store)
    assert list(trace_values(body.figure["data"][0]["y"])) == daily["dau"].tolist()


@pytest.mark.parametrize("search", ["?start=2026-07-01&end=2026-09-30&country=Germany",
                                    "?start=2026-07-01&end=2026-09-30&device=Mac&channel=TipTop",
                                    "?start=2026-07-01&end=2026-09-30"])
def test_dcb033_one_spend_figure_on_every_card(demo_ctx, search):
    """The contract's one spend rule: the Overview's spend KPI, its revenue-vs-spend chart, Marketing's spend over
    time, its share of spend and the channel table's total all show the same spend, which is the cost rows without a
    country/device filter and the filtered new users' attributed spend with one; no channel without such users."""
    from callbacks import marketing as mkt
    from layouts.ids import MarketingIds

    store = _store(demo_ctx, search)
    charts = registered_charts(demo_ctx)
    kpi = chart_frame(demo_ctx, ov.kpi_frame, store).set_index("kpi").loc["spend", "value"]
    figures = {
        "revenue vs spend": chart_frame(demo_ctx, ov.revenue_spend_frame, store)["spend"].sum(),
        "spend over time": chart_frame(demo_ctx, mkt.spend_over_time_frame, store)["costs"].sum(),
        "share of spend": chart_frame(demo_ctx, mkt.spend_share_frame, store)["costs"].sum(),
        "channel table": chart_frame(demo_ctx, mkt.channel_table_frame, store)["total_spend"].sum(),
    }
    assert kpi > 0
    for name, value in figures.items():
        assert value == pytest.approx(kpi, rel=1e-12), name
    query = metrics.MetricQuery.make("2026-07-01", "2026-09-30", *(
        (None, ["Germany"], None, None) if "Germany" in search else
        (None, None, ["Mac"], ["TipTop"]) if "Mac" in search else (None, None, None, None)))
    with demo_ctx.engine.connect() as conn:
        users = metrics.new_users(conn, query, dimensions=("channel",))
        cost_rows = metrics.daily_spend(conn, query)["costs"].sum()
        profiles = metrics.profiles(conn, query)
    if "?start=2026-07-01&end=2026-09-30" == search:
        assert kpi == pytest.approx(cost_rows, rel=1e-12)  # no country/device filter: every cost row
    else:
        assert kpi == pytest.approx(profiles["acquisition_cost"].sum(), rel=1e-12)
        spending = set(chart_frame(demo_ctx, mkt.spend_share_frame, store)["channel"])
        assert spending <= set(users.loc[users["new_users"] > 0, "channel"])  # no channel without such users
        note = str(chart_body(demo_ctx, MarketingIds.CHANNEL_TABLE, mkt.channel_table_frame, mkt.channel_table_view,
                              store))
        assert "Spend attributed to the filtered new users" in note
    # every card whose spend switches to attributed spend says so above its figure; without the filter none does
    for chart in (charts[MarketingIds.SPEND_OVER_TIME], charts[MarketingIds.SPEND_SHARE],
                  charts[OverviewIds.REVENUE_SPEND]):
        body = str(chart_body(demo_ctx, chart.name, chart.frame, chart.view, store))
        assert ("Spend attributed to the filtered new users: spend has no country or device" in body) == (
            "?start=2026-07-01&end=2026-09-30" != search), chart.name
    assert MarketingIds.CHANNEL_TABLE in charts


def test_dcb091_a_period_preset_sets_the_dates_and_the_url(demo_ctx):
    store = _store(demo_ctx)  # the default: the last 28 days, 2026-10-04 .. 10-31
    controls = _controls(store) | {"period": "last28"}
    result = sync_filters_and_url(demo_ctx, FilterIds.PERIOD, "", "/", controls | {"period": "last7"}, [], [], store)
    assert (result.start_date, result.end_date, result.search) == ("2026-10-25", dash.no_update, "?period=last7")
    assert result.store["start"] == "2026-10-25" and result.period is dash.no_update  # the control shows it already
    result = sync_filters_and_url(demo_ctx, FilterIds.PERIOD, "", "/", controls | {"period": "last_month"}, [], [],
                                  store)
    assert (result.store["start"], result.store["end"], result.store["observation_date"]) == (
        "2026-09-01", "2026-09-30", "2026-09-30")  # the observation date left at its default follows the end
    assert result.search == "?period=last_month"
    result = sync_filters_and_url(demo_ctx, FilterIds.PERIOD, "", "/", controls | {"period": "all"}, [], [], store)
    assert (result.store["start"], result.search) == ("2026-05-01", "?period=all")
    # dates picked in the calendar that are no preset: the control says "Custom dates"
    result = sync_filters_and_url(demo_ctx, FilterIds.DATE_RANGE, "", "/", controls | {"start": "2026-10-10"}, [], [],
                                  store)
    assert result.period == "custom" and result.search == "?start=2026-10-10"
    assert result.period_options[-1] == {"label": "Custom dates", "value": "custom", "disabled": True}
    # a crafted preset value is no preset: the dates the controls show stand
    result = sync_filters_and_url(demo_ctx, FilterIds.PERIOD, "", "/", controls | {"period": "'; DROP"}, [], [], store)
    assert result.store is dash.no_update and result.search is dash.no_update and result.period == "last28"


def test_dcb092_country_narrows_the_channel_options_to_channels_with_users_there(demo_ctx):
    store = _store(demo_ctx)
    result = sync_filters_and_url(demo_ctx, FilterIds.COUNTRY, "", "/", _controls(store) | {"country": ["France"]},
                                  [], [], store)
    with demo_ctx.engine.connect() as conn:
        users = metrics.new_users(conn, metrics.Filters.make(end="2026-10-31", regions=["France"]),
                                  dimensions=("channel",)).set_index("channel")["new_users"]
    expected = [{"label": f"{channel} ({int(n):,})", "value": channel} for channel, n in sorted(users.items()) if n]
    assert result.channel_options == expected
    assert "TipTop" not in {o["value"] for o in expected} and len(expected) >= 2  # the demo's TipTop is US-only


# the browser's function run by Node.js on each case: {"out": state or "SKIP"} per case
STATE_JS_RUNNER = """
const cases = JSON.parse(process.argv[1]);
const window = {dash_clientside: {no_update: "SKIP"}};
const fn = eval("(" + process.argv[2] + ")");
const out = cases.map(c => {
    window.dash_clientside.callback_context = {triggered: c.moved.map(id => ({prop_id: id + ".value"}))};
    const k = c.controls;
    return fn(k.start, k.end, k.observation_date, k.horizon, k.country, k.device, k.channel, c.previous);
});
console.log(JSON.stringify(out));
"""


def test_dcb094_the_charts_compute_the_state_from_the_controls_as_the_browser_does():
    """callbacks.filters.state_from_controls (the charts' state, on the server) gives what STATE_FROM_CONTROLS_JS
    (the browser's) writes, on a class of controls: dates with times, the observation date left at the end or moved,
    horizons as text, decimals, out of range, empty or missing, single values, repeats, empty strings, no previous
    state. Where the browser writes nothing because the state is unchanged, the server's state is the previous one."""
    import itertools
    import json
    import shutil
    import subprocess

    from callbacks.filters import BROWSER_STATE_CONTROLS, charts_state, state_from_controls, state_from_controls_js

    previous = {"start": "2026-10-04", "end": "2026-10-31", "observation_date": "2026-10-31", "horizon": 14,
                "country": [], "device": [], "channel": []}
    moved_obs = dict(previous, observation_date="2026-10-20")
    controls = [
        {"start": "2026-10-04", "end": "2026-10-31", "observation_date": "2026-10-31", "horizon": 14,
         "country": [], "device": [], "channel": []},
        {"start": "2026-10-04T00:00:00", "end": "2026-10-30", "observation_date": "2026-10-31", "horizon": "21",
         "country": "France", "device": ["iPhone", "Android", "iPhone", ""], "channel": None},
        {"start": "2026-09-01", "end": "2026-09-30", "observation_date": None, "horizon": 14.5,
         "country": ["UK"], "device": None, "channel": ["TipTop"]},
        {"start": "2026-09-01", "end": "2026-09-30", "observation_date": "2026-09-15", "horizon": 10**6,
         "country": [], "device": [], "channel": ["FaceBoom", "TipTop"]},
        {"start": "2026-09-01", "end": "2026-09-30", "observation_date": "2026-09-30", "horizon": "",
         "country": [], "device": [], "channel": []},
        {"start": "2026-09-01", "end": "2026-09-30", "observation_date": "2026-09-30", "horizon": None,
         "country": [], "device": [], "channel": []},
        {"start": None, "end": "2026-09-30", "observation_date": None, "horizon": 14,
         "country": [], "device": [], "channel": []},
    ]
    moves = [[], ["filter-date-range"], ["filter-observation-date"], ["filter-date-range", "filter-observation-date"],
             ["filter-channel"]]
    cases = [{"controls": c, "moved": m, "previous": p}
             for c, m, p in itertools.product(controls, moves, [previous, moved_obs, None])]
    node = shutil.which("node")
    assert node is not None, "Node.js runs the browser's function outside the browser: install nodejs"
    done = subprocess.run([node, "-e", STATE_JS_RUNNER, json.dumps(cases), state_from_controls_js()],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    browser = json.loads(done.stdout)
    assert len(browser) == len(cases) and any(out != "SKIP" for out in browser)
    for case, written in zip(cases, browser):
        server = state_from_controls(case["controls"], set(case["moved"]), case["previous"])
        if written == "SKIP":
            assert server is None or server == case["previous"], case
        else:
            assert server == written, case
    assert set(BROWSER_STATE_CONTROLS) >= {"filter-date-range", "filter-observation-date", "filter-channel"}
    # an outage marker stands, whatever the controls; no dates yet: the stored state
    marker = {"unavailable": "down"}
    assert charts_state(controls[0], {"filter-channel.value": ["TipTop"]}, marker) == marker
    assert charts_state({"start": None, "end": None}, {}, previous) is previous
    assert charts_state(controls[2], {"filter-channel.value": ["TipTop"]}, previous)["channel"] == ["TipTop"]
