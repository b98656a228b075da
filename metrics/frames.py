"""Query execution and the one place where backend values become the API dtypes.

Results are fetched as a DataFrame directly where the engine's spec can (DuckDB: columnar, no Python row
objects); otherwise through the DB-API rows. Then `conform` maps each column by name to its API dtype:
dates -> datetime64[us] at midnight, timestamps -> datetime64[us], ids and attributes -> str,
`payer` -> bool, counts -> int64, money and ratios -> float64, `payback_day` -> Int64.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard.backends import backend_spec

DATETIME_UNIT = "datetime64[us]"
DATE_COLUMNS = {"dt", "week", "month", "date", "week_start", "month_start", "period"}
TIMESTAMP_COLUMNS = {"first_ts"}
STRING_COLUMNS = {"user_id", "region", "device", "channel", "cohort", "metric", "kpi"}
BOOL_COLUMNS = {"payer", "paid"}
INT_COLUMNS = {
    "cohort_size", "lifetime", "new_users", "dau", "wau7", "mau30", "wau", "mau", "orders", "payers", "users",
}
NULLABLE_INT_COLUMNS = {"payback_day"}
FLOAT_COLUMNS = {"acquisition_cost", "value", "cac", "costs", "unattributed", "revenue", "amount", "previous_value",
                 "change"}


def read_frame(conn: Connection, stmt) -> pd.DataFrame:
    """Execute `stmt` and return its rows as a DataFrame (column names = the query's labels), dtypes untouched."""
    result = conn.execute(stmt)
    frame = backend_spec(conn).fetch_frame(result)
    if frame is not None:
        return frame
    keys = list(result.keys())
    rows = result.fetchall()
    return pd.DataFrame.from_records(rows, columns=keys)


def _to_datetime(series: pd.Series) -> pd.Series:
    if series.dtype.kind == "M":
        return series.astype(DATETIME_UNIT)
    if len(series) == 0:
        return pd.Series(np.array([], dtype=DATETIME_UNIT), index=series.index, name=series.name)
    sample = series.dropna()
    if len(sample) and isinstance(sample.iloc[0], str):
        return pd.to_datetime(series, format="ISO8601").astype(DATETIME_UNIT)
    return pd.to_datetime(series).astype(DATETIME_UNIT)


def _to_bool(series: pd.Series) -> pd.Series:
    return series.astype(bool)  # bool on DuckDB/PostgreSQL, 0/1 integers on SQLite


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with every known column converted to its API dtype (see the module docstring)."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if name in DATE_COLUMNS:
            out[name] = _to_datetime(col).dt.normalize() if len(col) else _to_datetime(col)
        elif name in TIMESTAMP_COLUMNS:
            out[name] = _to_datetime(col)
        elif name in STRING_COLUMNS:
            out[name] = col.astype(str)
        elif name in BOOL_COLUMNS:
            out[name] = _to_bool(col)
        elif name in INT_COLUMNS:
            out[name] = col.fillna(0).astype("int64") if len(col) else col.astype("int64")
        elif name in NULLABLE_INT_COLUMNS:
            out[name] = col.astype("Int64")
        elif name in FLOAT_COLUMNS:
            out[name] = pd.to_numeric(col, errors="coerce").astype("float64")
    return out


def empty_frame(columns) -> pd.DataFrame:
    """Return an empty DataFrame with `columns` in their API dtypes."""
    return conform(pd.DataFrame({c: pd.Series([], dtype=object) for c in columns}))


def sort_frame(frame: pd.DataFrame, keys) -> pd.DataFrame:
    """Return `frame` sorted (stable) by `keys`: strings in code-point order, False before True; index reset."""
    keys = [k for k in keys if k in frame.columns]
    if not keys or frame.empty:
        return frame.reset_index(drop=True)
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)


def literal_date(d):
    """Return a bound DATE parameter for `d` (typed, so SQLite gets 'YYYY-MM-DD')."""
    return sa.literal(d, sa.Date())
