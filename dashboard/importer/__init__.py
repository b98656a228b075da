"""`import`: load visits, orders and costs CSV files (and transaction-line logs) into the database.

Every row is validated by the rules of the metric contract (`shared/spec/metrics.md`); rejected rows
go to `<input>.rejects.csv` with their original text, CSV line number and a reason. Valid rows are
loaded into per-file staging tables, then moved into the event tables with
`INSERT ... SELECT DISTINCT ... EXCEPT SELECT ... FROM <table>`, so exact duplicates (within the files
and against stored rows) are dropped in SQL. The whole run is one transaction: it all goes in, or
nothing does.

One concern per module: `reading` (header mapping, the chunked CSV reader), `validation` (the field rules),
`transactions` (transaction-line logs mapped to orders), `staging` (staging tables, new rows moved in),
`loader` (`import_files`: the run in one transaction), `report` (what it did, as text), `command` (the CLI).
"""

from __future__ import annotations

from dashboard.importer.command import register, run
from dashboard.importer.loader import import_files
from dashboard.importer.reading import CHUNK_ROWS, READ_BLOCK_BYTES, header_key, map_columns
from dashboard.importer.report import FileReport, ImportReport, format_report
from dashboard.importer.staging import REJECTS_SUFFIX, move_new_rows
from dashboard.importer.transactions import orders_from_transactions, read_transactions
from dashboard.importer.validation import validate_chunk

__all__ = [
    "CHUNK_ROWS", "READ_BLOCK_BYTES", "REJECTS_SUFFIX", "FileReport", "ImportReport", "format_report", "header_key",
    "import_files", "map_columns", "move_new_rows", "orders_from_transactions", "read_transactions", "register",
    "run", "validate_chunk",
]
