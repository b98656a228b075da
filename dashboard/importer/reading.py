"""CSV reading of the import: header mapping and the chunked, line-numbered pyarrow reader."""

from __future__ import annotations

import codecs
import csv
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from dashboard.errors import BadInput
from dashboard.importer.validation import FIELD_KINDS

CHUNK_ROWS = 1_000_000
PROGRESS_MIN_BYTES = 20 * 1024 * 1024

READ_BLOCK_BYTES = 4 * 1024 * 1024  # pyarrow's CSV reader parses the file in blocks of this size


def header_key(name: str) -> str:
    """Return the comparison key of a column header: lower case, without spaces, underscores or dashes."""
    return re.sub(r"[\s_\-]+", "", str(name).strip().lower())


def map_columns(table: str, headers: list[str], path: Path) -> tuple[dict[str, str], list[str]]:
    """Return ({canonical name: header in the file}, [ignored extra headers]); BadInput if one is missing or two
    headers are the same column."""
    wanted = {header_key(name): name for name in FIELD_KINDS[table]}
    check_unique_headers(headers, path, wanted)
    mapping: dict[str, str] = {}
    extra: list[str] = []
    for header in headers:
        canonical = wanted.get(header_key(header))
        if canonical is None:
            extra.append(header)
        else:
            mapping[canonical] = header
    missing = [name for name in FIELD_KINDS[table] if name not in mapping]
    if missing:
        raise BadInput(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} for {table} "
            f"(found: {', '.join(map(str, headers)) or 'no header'})"
        )
    return mapping, extra


def check_unique_headers(headers: list[str], path: Path, canonical: dict[str, str]) -> None:
    """Raise BadInput naming both 1-based column positions when two headers have the same key (`header_key`);
    `canonical` maps keys to the column they mean. Empty headers (unnamed extra columns) may repeat."""
    first: dict[str, int] = {}
    for position, header in enumerate(headers, start=1):
        key = header_key(header)
        if not key:
            continue
        if key in first:
            earlier = first[key]
            meaning = (f"both mean {canonical[key]}" if key in canonical
                       else "have the same header")
            raise BadInput(f"{path}: columns {earlier} ({headers[earlier - 1]!r}) and {position} ({header!r}) "
                           f"{meaning}")
        first[key] = position


def open_checked(path: Path) -> Path:
    """Return `path` as a Path; BadInput when it does not exist or is not a file."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"file not found: {path}")
    if not path.is_file():
        raise BadInput(f"not a file: {path}")
    return path


def _not_utf8(path: Path) -> BadInput:
    """Return the BadInput for a file that is not UTF-8, naming the byte offset of the first invalid byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {offset + exc.start})")
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {offset + exc.start})")
    return BadInput(f"{path}: not UTF-8 text")


def csv_headers(path: Path) -> list[str]:
    """Return the header row (the first CSV record) of a UTF-8 file; BadInput for an empty file or bad bytes."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
            if not any(cell.strip() for cell in header):
                if handle.read(1 << 16).strip():
                    raise BadInput(f"{path}: line 1 is blank; the first line must be the header row")
                raise BadInput(f"{path}: empty file (no header row)")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path) from exc
    except csv.Error as exc:
        raise BadInput(f"{path}: not a readable CSV header: {exc}") from exc
    return header


@dataclass
class _CsvChunk:
    """Up to `chunk_rows` data rows of a CSV file as text, and the short rows among or just before them."""

    rows: pd.DataFrame  # columns: the file's headers; index: the CSV line number (the header is line 1)
    short: pd.DataFrame  # rows with fewer fields than the header, padded with empty fields; index: line number
    short_reasons: pd.Series  # why each short row is rejected ("5 fields instead of 6")


class _RowShape:
    """pyarrow's invalid-row handler: notes rows with more or fewer fields than the header (line, fields, text)
    and skips them; the reader never reinterprets them."""

    def __init__(self) -> None:
        self.skipped_lines: list[int] = []  # every skipped row, in file order
        self.short: list[tuple[int, int, str]] = []  # (line, fields, text) of rows with fewer fields
        self.long: tuple[int, int, int] | None = None  # (line, expected, found) of the first longer row

    def __call__(self, row) -> str:  # noqa: ANN001 - pyarrow.csv.InvalidRow
        """Return 'skip' for every malformed row, after noting it."""
        self.skipped_lines.append(row.number)
        if row.actual_columns > row.expected_columns:
            if self.long is None:
                self.long = (row.number, row.expected_columns, row.actual_columns)
        elif row.text.strip():  # a line of spaces only is a blank line
            self.short.append((row.number, row.actual_columns, row.text))
        return "skip"

    def lines_of(self, first: int, count: int) -> np.ndarray:
        """Return the CSV line numbers of the well-formed rows `first .. first + count - 1` (0-based, in the
        order the reader returns them): the line numbers from 2 on that are not skipped rows."""
        skipped = np.asarray(self.skipped_lines, dtype=np.int64) - 2
        order = np.arange(first, first + count, dtype=np.int64)
        # the k-th line not skipped is k plus the number of skipped lines j with skipped[j] - j <= k
        return order + 2 + np.searchsorted(skipped - np.arange(len(skipped)), order, side="right")

    def take_short(self, before: int | None, headers: list[str]) -> tuple[pd.DataFrame, pd.Series]:
        """Return (the short rows with a line number below `before`, or all of them, their reasons) and forget
        them."""
        taken = [item for item in self.short if before is None or item[0] < before]
        self.short = self.short[len(taken):]
        records, lines, reasons = [], [], []
        for line, fields, text in taken:
            values = next(csv.reader([text]), [])
            records.append(values + [""] * (len(headers) - len(values)))
            lines.append(line)
            reasons.append(f"{fields} field{'s' if fields != 1 else ''} instead of {len(headers)}")
        index = pd.Index(lines, dtype="int64")
        frame = pd.DataFrame(records, columns=headers, index=index, dtype=str) if records else \
            pd.DataFrame({h: pd.Series([], dtype=str) for h in dict.fromkeys(headers)}, index=index)
        return frame, pd.Series(reasons, index=index, dtype=object)

    def refuse_long(self, path: Path) -> None:
        """Raise BadInput naming the first row with more fields than the header, if there is one."""
        if self.long is not None:
            line, expected, found = self.long
            raise BadInput(f"{path}: not a readable CSV file: Expected {expected} fields in line {line}, saw {found} "
                           "(a row has more fields than the header; nothing was imported)")


def csv_chunks(path: Path, headers: list[str], chunk_rows: int, progress: bool) -> Iterator[_CsvChunk]:
    """Yield the data rows of a CSV file (`headers`: its header row) as text frames of at most `chunk_rows` rows,
    indexed by CSV line number, read by pyarrow's streaming CSV reader.

    A row with more fields than the header is a BadInput naming the file and line (nothing is reinterpreted);
    rows with fewer fields come in `short`, for the caller to reject with their line.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [f"f{i}" for i in range(len(headers))]
    shape = _RowShape()
    read_options = pa_csv.ReadOptions(use_threads=False, block_size=READ_BLOCK_BYTES, column_names=names,
                                      skip_rows=1, encoding="utf8")
    parse_options = pa_csv.ParseOptions(delimiter=",", quote_char='"', double_quote=True, escape_char=False,
                                        newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=shape)
    convert_options = pa_csv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                            quoted_strings_can_be_null=False, include_columns=names)
    size = path.stat().st_size
    bar = None
    if progress and size > PROGRESS_MIN_BYTES:
        from tqdm import tqdm

        bar = tqdm(total=size, unit="B", unit_scale=True, desc=path.name, file=sys.stderr, mininterval=1.0)
    emitted = 0

    def chunk_of(table) -> _CsvChunk:  # noqa: ANN001 - pyarrow.Table
        nonlocal emitted
        lines = shape.lines_of(emitted, table.num_rows)
        emitted += table.num_rows
        rows = table.to_pandas()
        rows.columns = headers
        rows.index = pd.Index(lines, dtype="int64")
        short, reasons = shape.take_short(int(lines[-1]) if len(lines) else None, headers)
        return _CsvChunk(rows, short, reasons)

    try:
        with open(path, "rb") as handle:
            try:
                reader = pa_csv.open_csv(handle, read_options=read_options, parse_options=parse_options,
                                         convert_options=convert_options)
                pending: list = []
                pending_rows = 0
                for batch in reader:
                    shape.refuse_long(path)
                    if bar is not None:
                        bar.update(handle.tell() - bar.n)
                    pending.append(batch)
                    pending_rows += batch.num_rows
                    while pending_rows >= chunk_rows:
                        table = pa.Table.from_batches(pending)
                        pending = table.slice(chunk_rows).to_batches()
                        pending_rows -= chunk_rows
                        yield chunk_of(table.slice(0, chunk_rows))
            except pa.ArrowInvalid as exc:
                if "utf8" in str(exc).lower() or "utf-8" in str(exc).lower():
                    raise _not_utf8(path) from exc
                if "Empty CSV file" in str(exc):
                    return
                raise BadInput(f"{path}: not a readable CSV file: {str(exc).strip().splitlines()[-1]}") from exc
            shape.refuse_long(path)
            if pending_rows:
                yield chunk_of(pa.Table.from_batches(pending))
            if shape.short:
                short, reasons = shape.take_short(None, headers)
                empty = pd.DataFrame({h: pd.Series([], dtype=str) for h in dict.fromkeys(headers)},
                                     index=pd.Index([], dtype="int64"))
                yield _CsvChunk(empty, short, reasons)
    finally:
        if bar is not None:
            bar.close()
