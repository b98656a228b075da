"""Transaction-line logs (issue 6): invoice lines of a CSV or parquet file mapped to orders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dashboard.errors import BadInput
from dashboard.importer.reading import (CHUNK_ROWS, csv_chunks, csv_headers, open_checked, check_unique_headers,
                                        header_key)
from dashboard.importer.validation import USER_ID_MAX_CHARS, parse_timestamps, text_problems

TRANSACTION_COLUMNS = ("InvoiceNo", "Quantity", "UnitPrice", "CustomerID", "InvoiceDate")

# Reasons a transaction line is dropped, in the order they are checked (one reason per line).
TRANSACTION_DROP_REASONS = (
    "cancellation",
    "no invoice number",
    "no customer",
    "unparseable quantity, unit price or invoice date",
    "non-positive quantity",
    "non-positive unit price",
    "exact duplicate line",
)
# Reasons for hostile lines, listed (after the ones above) only when a line was dropped for them.
TRANSACTION_HOSTILE_REASONS = (
    "customer id with a control character",
    f"customer id longer than {USER_ID_MAX_CHARS} characters",
    "quantity * unit price is not a finite number",
    "invoice total is not a finite number",
)


def read_transactions(path: Path) -> pd.DataFrame:
    """Return the transaction lines of a CSV or parquet file, columns renamed to TRANSACTION_COLUMNS."""
    path = open_checked(path)
    wanted = {header_key(name): name for name in TRANSACTION_COLUMNS}
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            headers = list(pq.read_schema(path).names)
        except Exception as exc:  # pyarrow raises ArrowInvalid for a non-parquet file
            raise BadInput(f"{path}: not a readable parquet file ({exc})") from exc
        check_unique_headers(headers, path, wanted)  # before the rows are read
        frame = pd.read_parquet(path)
    else:
        headers = csv_headers(path)
        check_unique_headers(headers, path, wanted)  # before the rows are read
        parts = []
        for chunk in csv_chunks(path, headers, CHUNK_ROWS, progress=False):
            if len(chunk.short):
                line = int(chunk.short.index[0])
                raise BadInput(f"{path}: line {line} has {chunk.short_reasons.iloc[0]} (the header has "
                               f"{len(headers)} columns); nothing was imported")
            parts.append(chunk.rows)
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            {h: pd.Series([], dtype=str) for h in headers})
    rename = {}
    for header in headers:
        canonical = wanted.get(header_key(header))
        if canonical is not None:
            rename[header] = canonical
    missing = [name for name in TRANSACTION_COLUMNS if name not in rename.values()]
    if missing:
        raise BadInput(f"{path}: missing column {', '.join(missing)} for a transaction log")
    return frame.rename(columns=rename)


def customer_ids(values: pd.Series) -> pd.Series:
    """Return customer ids as text: 17850.0 (float or text) becomes '17850'; empty/missing becomes ''."""
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.notna() & (np.mod(values.fillna(0), 1) == 0) & (values.abs() < 2**63)
        text = values.astype(str)
        text[whole] = values[whole].astype("int64").astype(str)
        return text.where(values.notna(), "")
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.astype(str)
    text = values.astype("str").fillna("").str.strip()
    return text.str.replace(r"^(\d+)\.0*$", r"\1", regex=True)


def _transaction_times(values: pd.Series) -> pd.Series:
    """Return naive timestamps of invoice dates (datetimes, ISO text or US month/day/year text); NaT where none fits."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.tz_localize(None) if values.dt.tz is not None else values
    text = values.astype("str").fillna("").str.strip()
    stamps = parse_timestamps(text)
    for fmt in ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M"):
        todo = stamps.isna() & (text != "")
        if not todo.any():
            break
        stamps[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    return stamps


def _numbers_any(values: pd.Series) -> pd.Series:
    """Return the values as floats (numbers as they are, text parsed); NaN where it does not parse."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64")
    return pd.to_numeric(values.astype("str").str.strip(), errors="coerce").astype("float64")


def orders_from_transactions(lines: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return (orders: one per (invoice, customer), lines dropped per reason) for transaction lines.

    revenue = sum(Quantity * UnitPrice) of the kept lines, event_dt = the earliest InvoiceDate of the
    invoice. Dropped, in this order: cancellations (InvoiceNo starting with C), lines without invoice
    number or customer, unparseable numbers or dates, non-positive quantity, non-positive unit price,
    exact duplicate lines (all columns of the file).
    """
    invoice = lines["InvoiceNo"].astype("str").fillna("").str.strip()
    customer = customer_ids(lines["CustomerID"])
    quantity = _numbers_any(lines["Quantity"])
    price = _numbers_any(lines["UnitPrice"])
    when = _transaction_times(lines["InvoiceDate"])
    control_id, long_id = (mask for mask, _ in text_problems("CustomerID", customer, USER_ID_MAX_CHARS))
    with np.errstate(over="ignore", invalid="ignore"):
        amount = quantity * price
    checks = {
        "cancellation": invoice.str.upper().str.startswith("C"),
        "no invoice number": invoice == "",
        "no customer": customer == "",
        TRANSACTION_HOSTILE_REASONS[0]: control_id,
        TRANSACTION_HOSTILE_REASONS[1]: long_id,
        "unparseable quantity, unit price or invoice date": (
            quantity.isna() | price.isna() | when.isna() | ~np.isfinite(quantity.fillna(0))
            | ~np.isfinite(price.fillna(0))
        ),
        "non-positive quantity": quantity <= 0,
        "non-positive unit price": price <= 0,
        TRANSACTION_HOSTILE_REASONS[2]: ~np.isfinite(amount.fillna(0)),
    }
    dropped: dict[str, int] = {}
    keep = pd.Series(True, index=lines.index)
    for reason, mask in checks.items():
        hit = keep & mask.fillna(False).astype(bool)
        dropped[reason] = int(hit.sum())
        keep &= ~hit
    duplicate = lines[keep].duplicated(keep="first")
    dropped["exact duplicate line"] = int(duplicate.sum())
    keep[duplicate[duplicate].index] = False
    kept = pd.DataFrame({
        "invoice": invoice[keep], "user_id": customer[keep], "amount": amount[keep], "event_dt": when[keep],
    })
    with np.errstate(over="ignore", invalid="ignore"):
        orders = (
            kept.groupby(["invoice", "user_id"], sort=True, observed=True)
            .agg(event_dt=("event_dt", "min"), revenue=("amount", "sum"), lines=("amount", "size"))
            .reset_index()
        )
    overflow = ~np.isfinite(orders["revenue"])
    dropped[TRANSACTION_HOSTILE_REASONS[3]] = int(orders.loc[overflow, "lines"].sum())
    orders = orders[~overflow][["user_id", "event_dt", "revenue"]].reset_index(drop=True)
    orders["user_id"] = orders["user_id"].astype("str")
    return orders, {reason: count for reason, count in dropped.items()
                    if count or reason not in TRANSACTION_HOSTILE_REASONS}
