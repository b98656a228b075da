"""What an import did: a FileReport per input file, the ImportReport of the run, and its text summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FileReport:
    """Counts of one imported file."""

    table: str
    path: Path
    read: int = 0
    imported: int = 0
    duplicate: int = 0
    rejected: int = 0
    rejects_path: Path | None = None
    ignored_columns: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # transaction logs: lines dropped per reason
    customers: int | None = None  # transaction logs: distinct customers after cleaning
    valid: int = 0  # rows that passed validation (for transaction logs: orders built)


@dataclass
class ImportReport:
    """Result of one import run: a FileReport per input file, rows replaced per table, new data version."""

    files: list[FileReport] = field(default_factory=list)
    replaced: dict[str, int] = field(default_factory=dict)
    data_version: str | None = None
    changed: bool = False
    statistics_seconds: float | None = None  # VACUUM (ANALYZE) after the commit (PostgreSQL only)
    derived_users: int | None = None  # users in the rebuilt derived tables (None: the visits did not change)
    derived_seconds: float | None = None
    interrupted_after_commit: bool = False  # Ctrl-C during VACUUM (ANALYZE), after the import committed

    def for_table(self, table: str) -> FileReport:
        """Return the report of the (first) file imported into `table`."""
        for report in self.files:
            if report.table == table:
                return report
        raise KeyError(table)

    @property
    def rejected(self) -> int:
        """Return the number of rejected rows over all files."""
        return sum(r.rejected for r in self.files)


def format_report(report: ImportReport) -> str:
    """Return the import summary as text, one block per file."""
    lines = []
    for r in report.files:
        lines.append(
            f"{r.path} -> {r.table}: read {r.read:,}, imported {r.imported:,}, "
            f"duplicate {r.duplicate:,}, rejected {r.rejected:,}"
        )
        if r.rejects_path is not None:
            lines.append(f"  rejected rows (with line and reason): {r.rejects_path}")
        if r.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(r.ignored_columns)}")
        if r.dropped:
            lines.append(f"  transaction lines: {r.read:,} read, {r.valid:,} orders built, "
                         f"{r.customers:,} customers")
            for reason, count in r.dropped.items():
                lines.append(f"  dropped {count:,} line(s): {reason}")
    for table, count in report.replaced.items():
        lines.append(f"replaced: deleted {count:,} earlier {table} row(s)")
    lines.append(f"data version: {report.data_version}" if report.changed else "nothing changed")
    if report.derived_users is not None:
        lines.append(f"first visits and user-days stored for {report.derived_users:,} users in "
                     f"{report.derived_seconds:.1f}s")
    elif report.derived_seconds is not None:
        lines.append("first visits and user-days not stored (see the warning): the pages compute from the visits until the "
                     "tables' owner runs `python -m dashboard refresh`")
    if report.statistics_seconds is not None:
        lines.append(f"planner statistics refreshed (VACUUM ANALYZE) in {report.statistics_seconds:.1f}s")
    return "\n".join(lines)
