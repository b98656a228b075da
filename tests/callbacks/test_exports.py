"""Exports an analyst can use (issue 17 item 7): every chart's CSV and Excel download carries plain numbers without
float noise (at most 12 significant digits), the headers the chart shows (never an internal column name), a file
name with page, chart and period, and the spreadsheet-formula safety; the Risk page's customer grid exports raw
numbers, not the formatted text it shows.

The expected number text is computed here apart from the product (`reference_number`: NumPy's positional
formatting of the value rounded by Python's %.12g), and the expected headers of a few charts are written by hand.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import math
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import metrics
from callbacks.charts import chart_download, chart_frame, chart_request, registered_charts
from dashboard import db
from dashboard.cache import MetricReader
from dashboard.spreadsheet_export import frame_csv, frame_xlsx, plain_number, rounded_number
from dashboard.spreadsheet_safety import is_formula_like
from tests.callbacks.test_export_safety import (EXPECTED, PAYLOADS, hand_exported, page_param_choices,  # noqa: F401
                                                payload_app, reference_number)

ASSETS = Path(__file__).resolve().parents[2] / "assets"

# the frame column names of the charts (and of the metrics under them): none may be a header of a download
INTERNAL_NAMES = {
    "group", "roi_at_h", "roi_7d", "cohort_size_7d", "revenue_7d", "cost_7d", "cohort_size", "new_users", "payer_share",
    "cost_per_payer", "costs", "cac", "unattributed", "total_spend", "lifetime", "value", "previous_value", "kpi",
    "kind", "dt", "week", "month", "region", "device", "channel", "period", "payback_day", "payback", "dau", "wau7",
    "mau30", "users", "payers", "spend", "revenue", "share", "date", "probability_from", "probability_to",
    "risk_band", "customers", "value_at_risk", "target", "feature", "target_mean", "others_mean", "cohens_d",
    "effect", "reason", "segment", "revenue_share", "mean_recency_days", "mean_frequency", "mean_monetary", "metric",
    "rate", "rest_rate", "z", "p_value", "p_adjusted", "verdict", "user_id", "probability", "reason_1", "reason_2",
    "reason_3", "recommended_action", "label", "change",
}
IDENTIFIER = re.compile(r"^[a-z0-9_]+$")  # what an internal name looks like (snake case)


def expected_csv(frame: pd.DataFrame, headers: dict[str, str]) -> str:
    """Return the CSV a chart's frame must download as: labelled headers, reference numbers, quoted payloads."""
    table = frame.astype(object).map(hand_exported)
    table.columns = [headers[c] for c in frame.columns]
    return table.to_csv(index=False)


def text_of(download: dict) -> str:
    """Return the text of a dcc.Download CSV payload."""
    return base64.b64decode(download["content"]).decode() if download["base64"] else download["content"]


def workbook_of(download: dict):
    """Return the openpyxl workbook of a dcc.Download XLSX payload."""
    import openpyxl

    assert download["base64"] and download["filename"].endswith(".xlsx")
    return openpyxl.load_workbook(io.BytesIO(base64.b64decode(download["content"])))


def request_labels(ctx, chart, stored, params) -> dict[str, str]:
    """Return the column labels chart `chart` declares for the request of a filter state and parameters."""
    with MetricReader(ctx) as read:
        return chart.column_labels(chart_request(ctx, stored, params, read))


def variants(chart) -> list[dict]:
    """Return the page parameter sets to try for `chart`: none, then each value of each parameter it reads."""
    choices = page_param_choices()
    return [{}] + [{name: value} for name in chart.params for value in choices.get(name, [])]


# --------------------------------------------------------------------------------------------- plain numbers

NOISE = (
    [sum([0.1] * n) for n in range(1, 31)]                           # 0.30000000000000004, 0.7999999999999999 ...
    + [0.15000000000000002, 1234567.123456789, 2 / 3, -2 / 3, 1 / 7 * 1e5]
    + [1e15 + k * 0.125 for k in range(-4, 5)] + [999999999999999.9, 123456789012345.67]   # near 1e15
    + [1e-7, 3e-7 + 1e-22, 1.2345678901234e-7, -1e-7, 0.1 ** 7, 5e-324]                  # near 1e-7 and below
    + [-12.5, -0.30000000000000004, -1e15 - 0.5, -0.0, 0.0, 1.0, 3.0, 1e21, -1.23456789012e25]
)


@pytest.mark.parametrize("value", NOISE)
def test_exp001_a_float_is_written_with_at_most_12_significant_digits_and_no_exponent(value):
    text = plain_number(value)
    assert text == reference_number(value)
    assert "e" not in text.lower() and not text.endswith(".") and text != "-0"
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0") if "." in text else text.lstrip("-").rstrip("0")
    assert len(digits) <= 12, text
    assert float(text) == float(f"{value:.12g}")  # the value, rounded to 12 significant digits: nothing else
    assert rounded_number(value) == float(f"{value:.12g}")


@pytest.mark.parametrize("n", range(1, 31))
def test_exp002_sums_of_tenths_come_out_as_the_decimal_a_person_wrote(n):
    expected = format(Decimal(n) / Decimal(10), "f")
    expected = expected.rstrip("0").rstrip(".") if "." in expected else expected
    assert plain_number(sum([0.1] * n)) == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), np.float64("nan"), np.float32("inf")])
def test_exp003_nan_and_infinities_are_empty_cells(value):
    assert plain_number(value) == "" and rounded_number(value) is None


def test_exp004_a_frame_keeps_integers_exact_and_empties_missing_values():
    frame = pd.DataFrame({
        "count": np.array([12345678901234567, -3, 0], dtype="int64"),  # more than 12 digits: an integer stays exact
        "maybe": pd.array([7, None, -1], dtype="Int64"),
        "ratio": [0.1 + 0.2, float("nan"), float("-inf")],
        "mixed": pd.Series([0.1 * 3, "=1+1", None], dtype=object),
        "day": pd.to_datetime(["2026-07-01", "2026-07-02", "2026-07-03"]),
    })
    text = frame_csv(frame, {"count": "Count", "maybe": "Maybe", "ratio": "Ratio", "mixed": "Mixed", "day": "Day"})
    assert text.splitlines() == ["Count,Maybe,Ratio,Mixed,Day", "12345678901234567,7,0.3,0.3,2026-07-01",
                                 "-3,,,'=1+1,2026-07-02", "0,-1,,,2026-07-03"]


def test_exp005_the_browser_writes_numbers_by_the_same_rule():
    """The customer grid's export (assets/dashAgGridFunctions.js plainNumberText) writes every float as the server
    does; run with Node (the browser test of test_export_safety covers it in Chromium)."""
    node = shutil.which("node")
    assert node is not None, "Node.js runs the grid's export code outside the browser: install nodejs"
    values = [v for v in NOISE if math.isfinite(v)] + [float("nan"), float("inf"), float("-inf")]
    script = ("global.window = {}; require(process.argv[1]);"
              "const values = JSON.parse(process.argv[2]).map(v => v === null ? NaN : v);"
              "console.log(JSON.stringify(values.map(window.dashAgGridFunctions.plainNumberText)));")
    encoded = json.dumps([v if math.isfinite(v) else None for v in values[:-2]] + [1e400, -1e400]).replace(
        "Infinity", "1e400")
    result = subprocess.run([node, "-e", script, str(ASSETS / "dashAgGridFunctions.js"), encoded],
                            capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == [plain_number(v) for v in values]


# ----------------------------------------------------------------------------------- every declared chart

@pytest.fixture(scope="module")
def scored_demo_app(shared_demo, tmp_path_factory):
    """(app context, default filter store) of an app on a private copy of the shared DuckDB demo with a churn
    scoring of every user, so that every chart of every page (the Risk page's included) has rows."""
    from app import create_app
    from dashboard.config import Config
    from layouts.filters import FilterState
    from ml import scoring

    url, cleanup = shared_demo.private_copy("duckdb", tmp_path_factory.mktemp("exports"))
    engine = db.make_engine(url)
    with engine.connect() as conn:
        period = metrics.resolve_period(conn, metrics.Filters.make())
        users = sorted(set(conn.execute(sa.select(db.visits.c.user_id)).scalars()))
    probability = np.linspace(0.01, 0.99, len(users))
    scoring.write_scores(engine, pd.DataFrame({
        "user_id": users, "probability": probability, "risk_band": scoring.risk_band(probability),
        "reason_1": "visits down 60% in the last 30 days", "reason_2": "no order for 45 days",
        "reason_3": "acquired via TipTop", "value_at_risk": probability * 40.0 / 3,
        "model_version": "test", "as_of": period.observation_date, "scored_at": pd.Timestamp("2026-12-01"),
    }), period.observation_date)
    engine.dispose()
    ctx = create_app(Config(database_url=url, autofill_demo=False)).server.extensions["dashboard_context"]
    yield ctx, FilterState(period.start, period.end, period.observation_date, 14).to_store()
    ctx.engine.dispose()
    cleanup()


def test_exp010_every_chart_csv_has_the_labels_it_shows_and_plain_numbers(scored_demo_app):
    ctx, stored = scored_demo_app
    charts = registered_charts(ctx)
    with_rows = set()
    for chart in charts.values():
        for params in variants(chart):
            frame = chart_frame(ctx, chart.frame, stored, params)
            labels = request_labels(ctx, chart, stored, params)
            undeclared = [c for c in frame.columns if c not in labels]
            assert undeclared == [], f"{chart.name} {params}: no label declared for {undeclared}"
            text = text_of(chart_download(ctx, chart, stored, params))
            header = next(csv.reader(io.StringIO(text)))
            assert header == [labels[c] for c in frame.columns], (chart.name, params)
            internal = [h for h in header if h in INTERNAL_NAMES or IDENTIFIER.match(h)]
            assert internal == [], f"{chart.name} {params}: internal names as headers {internal}"
            assert len(set(header)) == len(header), (chart.name, header)  # no two columns share a label
            assert text == expected_csv(frame, labels), (chart.name, params)  # byte for byte
            if len(frame):
                with_rows.add(chart.name)
    assert with_rows == set(charts), sorted(set(charts) - with_rows)  # every chart was checked with rows


def test_exp011_headers_name_the_breakdown_and_the_horizon_as_the_chart_does(scored_demo_app):
    ctx, stored = scored_demo_app
    charts = registered_charts(ctx)

    def header(name, params, store=stored):
        return next(csv.reader(io.StringIO(text_of(chart_download(ctx, charts[name], store, params)))))

    assert header("mkt-payback-table", {"breakdown": "country"}) == [
        "Country", "Paid users", "CAC of the horizon cohort ($)", "ROI by day 13", "Payback day (empty = never)", "Payback"]
    assert header("mkt-payback-table", {"breakdown": "device"}, {**stored, "horizon": 7})[:4] == [
        "Device", "Paid users", "CAC of the horizon cohort ($)", "ROI by day 6"]
    assert header("mkt-roi-by-date", {"breakdown": "channel"}) == [
        "Channel", "Acquisition date (last day of the 7-day window)", "Paid users (7 days)",
        "Revenue by day 13 ($, 7 days)", "Acquisition cost ($, 7 days)", "ROI by day 13 (7-day rolling)"]
    assert header("coh-retention-curves", {"breakdown": "payer"})[0] == "Payer"
    assert header("acq-new-users", {"grain": "month", "breakdown": "country"}) == ["Month", "Country", "New users",
                                                                                   "Days in period", "Partial month"]
    assert header("acq-paying-channels", {}) == ["Channel", "New users", "Paying users", "Payer share",
                                                 "Attributed spend ($)", "CAC ($)", "Cost per paying user ($)"]


def test_exp012_every_file_name_carries_page_chart_and_period(scored_demo_app):
    from callbacks.pages import available_pages

    ctx, stored = scored_demo_app
    registered = registered_charts(ctx)
    period = f"{stored['start']}_{stored['end']}"
    names = []
    for page in available_pages():
        for declared in page.charts:
            if declared.own_callbacks:
                continue
            chart = registered[declared.name]
            assert chart.page == page.label
            for file_format in ("csv", "xlsx"):
                filename = chart_download(ctx, chart, stored, {}, file_format)["filename"]
                page_part, chart_part, rest = filename.split("_", 2)
                assert page_part == page.label.lower(), filename
                assert chart_part and chart_part in declared.name and re.fullmatch(r"[a-z0-9-]+", chart_part)
                assert rest == f"{period}.{file_format}", filename
                names.append(filename)
    assert "marketing_roi-by-date_" + period + ".csv" in names
    assert len(names) == len(set(names))  # no two charts share a file name


def test_exp013_the_file_name_follows_the_period_of_the_filters(scored_demo_app):
    ctx, stored = scored_demo_app
    chart = registered_charts(ctx)["mkt-roi-curves"]
    store = {**stored, "start": "2026-07-01", "end": "2026-09-30"}
    assert chart_download(ctx, chart, store, {})["filename"] == "marketing_roi-curves_2026-07-01_2026-09-30.csv"


def xlsx_rows(download: dict) -> tuple[list, list[list]]:
    """Return (header values, body cells) of the one sheet of an XLSX download."""
    book = workbook_of(download)
    assert len(book.worksheets) == 1
    rows = list(book.worksheets[0].iter_rows())
    return [c.value for c in rows[0]], [list(r) for r in rows[1:]]


def test_exp020_every_chart_xlsx_has_the_csv_headers_numeric_cells_and_dates(scored_demo_app):
    ctx, stored = scored_demo_app
    for chart in registered_charts(ctx).values():
        frame = chart_frame(ctx, chart.frame, stored, {})
        labels = request_labels(ctx, chart, stored, {})
        header, body = xlsx_rows(chart_download(ctx, chart, stored, {}, "xlsx"))
        assert header == [labels[c] for c in frame.columns], chart.name
        assert len(body) == len(frame), chart.name
        for position, column in enumerate(frame.columns):
            values, cells = frame[column].tolist(), [row[position] for row in body]
            for value, cell in zip(values, cells):
                assert cell.data_type not in ("f", "e"), (chart.name, column, cell.value)
                if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
                    assert cell.value is None, (chart.name, column, value)
                elif isinstance(value, (bool, np.bool_)):
                    assert cell.value is bool(value)
                elif isinstance(value, (int, np.integer)):
                    assert cell.data_type == "n" and cell.value == int(value), (chart.name, column)
                elif isinstance(value, (float, np.floating)):
                    assert cell.data_type == "n" and cell.value == float(f"{value:.12g}"), (chart.name, column)
                elif isinstance(value, pd.Timestamp):
                    assert cell.is_date and cell.value == value.to_pydatetime(), (chart.name, column)
                    assert cell.number_format == "yyyy-mm-dd"
                else:
                    assert isinstance(value, str) and cell.data_type == "s" and cell.value == value


def test_exp021_xlsx_never_holds_a_formula_from_hostile_text(payload_app):
    ctx, stored = payload_app
    strings, numbers = {}, []
    for chart in registered_charts(ctx).values():
        for params in variants(chart):
            if len(chart_frame(ctx, chart.frame, stored, params)) == 0:
                continue
            _, body = xlsx_rows(chart_download(ctx, chart, stored, params, "xlsx"))
            for cell in (c for row in body for c in row):
                assert cell.data_type not in ("f", "e"), (chart.name, cell.value)
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    assert cell.quotePrefix == is_formula_like(cell.value), (chart.name, cell.value)
                    strings.setdefault(cell.value, []).append(cell)
                elif isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                    numbers.append(cell.value)
    reached = [p for p in PAYLOADS if "\r" not in p and "\t" not in p]
    for payload in reached:  # as stored, in a string cell with Excel's quote prefix; never the quoted CSV text
        assert payload in strings and all(cell.quotePrefix for cell in strings[payload]), repr(payload)
        assert EXPECTED[payload] not in strings
    assert -12.5 in numbers and -3.25 in numbers  # negative numbers are numbers


def test_exp022_the_card_offers_csv_and_excel_and_the_app_answers_both(scored_demo_app):
    from app import create_app
    from callbacks.pages import available_pages
    from layouts.ids import csv_button_id, csv_download_id, xlsx_button_id

    ctx, _ = scored_demo_app
    app = create_app(ctx.config)
    inputs_of = {output: {item["id"] for item in callback["inputs"]} for output, callback in app.callback_map.items()}
    for page in available_pages():
        layout = page.layout({p.name: p.default for p in page.page_params})
        ids = {c.id for c in layout._traverse() if isinstance(getattr(c, "id", None), str)}
        for chart in page.charts:
            assert xlsx_button_id(chart.name) in ids and csv_button_id(chart.name) in ids, chart.name
            assert xlsx_button_id(chart.name) in inputs_of[f"{csv_download_id(chart.name)}.data"], chart.name
    app.server.extensions["dashboard_context"].engine.dispose()


def test_exp023_cluster_profiles_download_with_labels_and_plain_numbers(tmp_path):
    from app import create_app
    from callbacks.risk import clusters_download, clusters_frame
    from dashboard.config import Config
    from ml import segments

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"user_id": [f"u{i}" for i in range(300)],
                          "recency_days": rng.integers(0, 200, 300), "frequency": rng.integers(1, 20, 300),
                          "monetary": rng.uniform(5, 500, 300)})
    segments.save_segment_model(segments.cluster_customers(frame, seed=0, k_values=range(2, 4)), tmp_path / "models",
                                dt.date(2026, 10, 31))
    ctx = create_app(Config(database_url=f"sqlite:///{tmp_path / 'x.sqlite'}",
                            model_dir=tmp_path / "models")).server.extensions["dashboard_context"]
    profiles = clusters_frame(ctx)
    sent = clusters_download(ctx, "csv")
    assert sent["filename"] == "risk_clusters_2026-10-31.csv"
    rows = list(csv.reader(io.StringIO(text_of(sent))))
    assert rows[0] == ["Cluster", "Name", "Customers", "Share", "Recency (days)", "Orders", "Spend ($)",
                       "Revenue share"]
    assert not [h for h in rows[0] if h in INTERNAL_NAMES or IDENTIFIER.match(h)], rows[0]
    shares = [row[rows[0].index("Share")] for row in rows[1:]]
    assert shares == [reference_number(v) for v in profiles["share"]]
    header, body = xlsx_rows(clusters_download(ctx, "xlsx"))
    assert header == rows[0] and all(row[header.index("Share")].data_type == "n" for row in body)
    ctx.engine.dispose()


# ---------------------------------------------------------------------------------- the customer grid export

def test_exp030_customer_grid_shows_formatted_numbers_and_exports_raw_ones():
    from layouts.risk import CUSTOMER_GRID_COLUMNS, customers_grid

    table = pd.DataFrame([{"user_id": "u1", "probability": 0.71, "risk_band": "high", "segment": "Champions",
                           "value_at_risk": 68.1, "reason_1": "r1", "reason_2": "r2", "reason_3": "r3",
                           "recommended_action": "call"}])
    grid = customers_grid(table)
    numeric = {field for field, _, kind in CUSTOMER_GRID_COLUMNS if kind}
    assert numeric == {"probability", "value_at_risk"}
    for column in grid.columnDefs:
        if column["field"] in numeric:
            assert "valueFormatter" in column  # shown as "71.0%", "$68.10"
            assert column["useValueFormatterForExport"] is False  # exported as 0.71, 68.1
        else:
            assert column.get("useValueFormatterForExport", True) is not False
    assert grid.csvExportParams["processCellCallback"] == {"function": "neutraliseCsvCell(params)"}
    script = (ASSETS / "dashAgGridFunctions.js").read_text()
    assert "colDef.useValueFormatterForExport === false" in script and "plainNumberText(value)" in script


def test_exp031_the_grid_export_function_writes_raw_numbers_and_safe_text():
    node = shutil.which("node")
    assert node is not None, "Node.js runs the grid's export code outside the browser: install nodejs"
    script = """
global.window = {}; require(process.argv[1]);
const f = window.dashAgGridFunctions.neutraliseCsvCell;
const cell = (value, raw) => f({value: value, column: {getColDef: () => (raw ? {useValueFormatterForExport: false} : {})},
                                formatValue: v => (typeof v === "number" ? (100 * v).toFixed(1) + "%" : v)});
console.log(JSON.stringify([cell(0.7100000000000001, true), cell(-12.5, true), cell(null, true), cell(NaN, true),
                            cell("=1+1", true), cell("=1+1", false), cell(0.71, false), cell("ok", false)]));
"""
    result = subprocess.run([node, "-e", script, str(ASSETS / "dashAgGridFunctions.js")], capture_output=True,
                            text=True, check=True)
    assert json.loads(result.stdout) == ["0.71", "-12.5", "", "", "'=1+1", "'=1+1", "71.0%", "ok"]
