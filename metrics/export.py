"""`export-metrics`: write the metric tables of the contract as CSV files (or one xlsx workbook).

Files, columns and formats are those of shared/spec/metrics.md, "Export format": dates ISO, timestamps
`YYYY-MM-DD HH:MM:SS`, floats as Python `repr` (full precision), booleans True/False, undefined values
(NaN, <NA>) as empty fields, `\\n` line ends, UTF-8.

Spreadsheet safety (dashboard/spreadsheet_safety.py): in the CSV files a text cell that a spreadsheet would run as
a formula (it starts with `=`, `+`, `-`, `@`, tab, CR or NUL) gets a leading single quote; numbers never change.
The xlsx workbook keeps every text exactly and writes it as a string cell, with Excel's "quote prefix" style on
the formula-like ones.
"""

from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from dashboard.errors import BadInput
from dashboard.spreadsheet_safety import neutralise_cell, protect_xlsx_sheet, xlsx_text

EXPORT_FILES = (
    "profiles", "activity_daily", "activity_weekly", "activity_monthly", "activity_summary",
    "retention", "conversion", "ltv", "roi", "channels", "kpis",
)
COMPARE_CHOICES = ("previous", "year", "none")
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, minus the header row


def export_tables(conn, filters, horizon: int = 14, dimensions=(), ignore_horizon: bool = False,
                  compare: str = "previous") -> dict[str, pd.DataFrame]:
    """Return {file stem: DataFrame} of every export table, in EXPORT_FILES order (`compare`: the comparison of
    kpis.csv, previous, year or none)."""
    import metrics

    with metrics.shared_profiles(conn):  # the profiles are computed once for all the tables
        return _export_tables(conn, filters, horizon, dimensions, ignore_horizon, compare)


def _export_tables(conn, filters, horizon, dimensions, ignore_horizon, compare) -> dict[str, pd.DataFrame]:
    import metrics

    cohorts = metrics.cohort_report(conn, filters, horizon=horizon, dimensions=dimensions, ignore_horizon=ignore_horizon)
    tables = {
        "profiles": metrics.profiles(conn, filters),
        "activity_daily": metrics.activity_daily(conn, filters),
        "activity_weekly": metrics.activity_weekly(conn, filters),
        "activity_monthly": metrics.activity_monthly(conn, filters),
        "activity_summary": metrics.activity_summary(conn, filters),
        "retention": cohorts["retention"],
        "conversion": cohorts["conversion"],
        "ltv": cohorts["ltv"],
        "roi": cohorts["roi"],
        "channels": metrics.channel_economics(conn, filters),
        "kpis": metrics.kpi_table(conn, metrics.MetricQuery(filters, horizon=horizon, compare=compare)),
    }
    return {name: tables[name] for name in EXPORT_FILES}


def _format_float(value) -> str:
    if value is None or pd.isna(value):
        return ""
    return repr(float(value))


def format_for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with every cell rendered as the export text, formula-like text neutralised (see the module
    docstring)."""
    from metrics.frames import DATE_COLUMNS, TIMESTAMP_COLUMNS

    out = {}
    for name in frame.columns:
        col = frame[name]
        if name in DATE_COLUMNS:
            text = col.dt.strftime("%Y-%m-%d")
        elif name in TIMESTAMP_COLUMNS:
            text = col.dt.strftime("%Y-%m-%d %H:%M:%S")
        elif col.dtype == bool:
            text = col.map({True: "True", False: "False"})
        elif pd.api.types.is_float_dtype(col.dtype):
            text = col.map(_format_float)
        elif pd.api.types.is_integer_dtype(col.dtype):
            text = col.map(lambda v: "" if pd.isna(v) else str(int(v)))
        else:
            text = col.map(lambda v: "" if v is None or (not isinstance(v, str) and pd.isna(v))
                           else neutralise_cell(v) if isinstance(v, str) else str(v))
        out[name] = text.astype(object).where(col.notna(), "") if len(col) else text.astype(object)
    return pd.DataFrame(out, columns=[neutralise_cell(c) for c in frame.columns])


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` as an export CSV (header row, comma, minimal quoting, '\\n' line ends, UTF-8)."""
    format_for_csv(frame).to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def write_export(tables: dict[str, pd.DataFrame], out_dir: Path, fmt: str = "csv") -> list[Path]:
    """Write the tables to `out_dir` (one CSV each, or metrics.xlsx with one sheet each); return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        paths = []
        for name, frame in tables.items():
            path = out_dir / f"{name}.csv"
            write_csv(frame, path)
            paths.append(path)
        return paths
    if fmt != "xlsx":
        raise BadInput(f"unknown format {fmt!r}; choose csv or xlsx")
    too_big = [name for name, frame in tables.items() if len(frame) > XLSX_MAX_ROWS]
    if too_big:
        raise BadInput(f"table(s) {', '.join(too_big)} exceed Excel's {XLSX_MAX_ROWS + 1:,} rows per sheet; use --format csv")
    path = out_dir / "metrics.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in tables.items():
            sheet = frame.copy()
            for column in sheet.columns:
                if isinstance(sheet[column].dtype, (pd.StringDtype, pd.CategoricalDtype)) or sheet[column].dtype == object:
                    sheet[column] = sheet[column].astype(object).map(xlsx_text)
                elif str(sheet[column].dtype) == "Int64":
                    sheet[column] = sheet[column].astype(object).where(sheet[column].notna(), None)
            sheet.columns = [xlsx_text(c) for c in sheet.columns]
            sheet.to_excel(writer, sheet_name=name, index=False)
            protect_xlsx_sheet(writer.sheets[name])  # text stays text: no formula, no error value
    return [path]


def _date_arg(value: str | None, option: str) -> _dt.date | None:
    if value is None:
        return None
    try:
        return _dt.date.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(f"{option}: not a date (YYYY-MM-DD): {value!r}") from None


def filters_from_args(args: argparse.Namespace):
    """Return (Filters, horizon, dimensions) from parsed arguments; BadInput on bad values."""
    from metrics.filters import DIMENSIONS, Filters

    start = _date_arg(args.start, "--start")
    end = _date_arg(args.end, "--end")
    observation = _date_arg(args.observation_date, "--observation-date")
    if start is not None and end is not None and end < start:
        raise BadInput(f"--end {end.isoformat()} is before --start {start.isoformat()}")
    if args.horizon < 1:
        raise BadInput(f"--horizon must be >= 1, got {args.horizon}")
    dimensions = tuple(args.dimension or ())
    for name in dimensions:
        if name not in DIMENSIONS:
            raise BadInput(f"--dimension: unknown dimension {name!r}; choose from {', '.join(DIMENSIONS)}")
    if len(set(dimensions)) != len(dimensions):
        raise BadInput(f"--dimension: repeated dimension in {', '.join(dimensions)}")
    filters = Filters.make(start=start, end=end, observation_date=observation,
                           regions=args.country, devices=args.device, channels=args.channel)
    return filters, args.horizon, dimensions


def _horizon_arg(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadInput(f"--horizon: not an integer: {value!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export-metrics` command."""
    parser = subparsers.add_parser(
        "export-metrics", help="write the metric tables as CSV files (or one xlsx workbook)",
        description="Compute every metric of the contract in the database (DATABASE_URL, default "
        "data/dashboard.duckdb) and write profiles, activity, cohort, channel and KPI tables to --out.",
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory (created if missing)")
    parser.add_argument("--start", help="first date of the period, YYYY-MM-DD (default: first visit date)")
    parser.add_argument("--end", help="last date of the period, YYYY-MM-DD (default: last visit date)")
    parser.add_argument("--observation-date", help="observation date O, YYYY-MM-DD (default: --end)")
    parser.add_argument("--horizon", default="14", help="horizon H in days, >= 1 (default 14)")
    parser.add_argument("--ignore-horizon", action="store_true", help="cohorts up to O instead of O - (H - 1)")
    parser.add_argument("--dimension", action="append", metavar="X",
                        help="group cohorts by X (repeatable, in order): region, device, channel, payer, dt, week, month")
    parser.add_argument("--country", action="append", metavar="C", help="keep users whose first visit is in region C (repeatable)")
    parser.add_argument("--device", action="append", metavar="D", help="keep users whose first device is D (repeatable)")
    parser.add_argument("--channel", action="append", metavar="C", help="keep users acquired through channel C (repeatable)")
    parser.add_argument("--compare", choices=COMPARE_CHOICES, default="previous",
                        help="comparison of kpis.csv: previous period (default), previous year (364 days) or none")
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="csv files (default) or one xlsx workbook")
    parser.set_defaults(func=run)


def open_engine(url: str | None):
    """Return an engine for `url` (read-only for a DuckDB file); BadInput when the database has no data schema."""
    from dashboard import db
    from dashboard.backends import backend_spec

    resolved = db.resolve_url(url)
    sa_url = sa.make_url(resolved)
    spec = backend_spec(sa_url)
    path = spec.database_file(sa_url) if spec.read_only_readers else None
    read_only = path is not None
    if read_only and not path.exists():
        raise BadInput(f"database file {sa_url.database} does not exist (run `import` or `demo` first)")
    return db.make_engine(url, read_only=read_only)


def run(args: argparse.Namespace) -> int:
    """Export the metric tables; return the exit code."""
    from dashboard import db
    from dashboard.config import Config

    args.horizon = _horizon_arg(str(args.horizon))
    filters, horizon, dimensions = filters_from_args(args)
    engine = open_engine(Config.from_env().database_url)
    try:
        with engine.connect() as conn:
            if not db.schema_exists(conn):
                raise BadInput("the database has no data tables (run `import` or `demo` first)")
            tables = export_tables(conn, filters, horizon=horizon, dimensions=dimensions,
                                   ignore_horizon=args.ignore_horizon, compare=args.compare)
    finally:
        engine.dispose()
    paths = write_export(tables, args.out, args.format)
    for path in paths:
        print(path)
    return 0
