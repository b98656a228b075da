"""Dialect differences, in one place: SQL constructs compiled per backend (DuckDB, PostgreSQL, SQLite).

Every metric query is written once with these constructs; a new backend is a few `@compiles` functions
here. Public (documented in docs/metrics.md) so that feature SQL can reuse them:

- `date_of(ts)`            date of a timestamp
- `week_start(d)`          Monday of the ISO week of date `d`
- `month_start(d)`         first day of the month of date `d`
- `add_days(d, n)`         date `d` plus `n` days (`n` an int or an integer expression)
- `epoch_us(ts)`           microseconds since 1970-01-01 (BIGINT, exact)
- `whole_days(ts, ts0)`    floor((ts - ts0) / 24 h), clamped at 0 from below (the contract's lifetime)
- `seconds_between(e, s)`  (e - s) in seconds, float
- `least_of(a, b)`         the smaller of two values (SQLite: scalar min)
- `float_sum(x)`           SUM of a float column that is the same on every run (summed as exact decimals)
- `median_select(...)`     a one-row SELECT of the exact median of a column (mean of the two middle values)

SQLite stores DATETIME as ISO text 'YYYY-MM-DD HH:MM:SS.ffffff' and DATE as 'YYYY-MM-DD'; the constructs
work on that text (strftime / substr), never on floating julian days, so day boundaries are exact.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

US_PER_DAY = 86_400_000_000


class date_of(FunctionElement):
    """Date of a timestamp expression."""

    type = sa.Date()
    inherit_cache = True
    name = "date_of"


@compiles(date_of)
def _date_of_default(element, compiler, **kw):
    return "CAST(%s AS DATE)" % compiler.process(element.clauses, **kw)


@compiles(date_of, "sqlite")
def _date_of_sqlite(element, compiler, **kw):
    return "date(%s)" % compiler.process(element.clauses, **kw)


class week_start(FunctionElement):
    """Monday of the ISO week of a date expression."""

    type = sa.Date()
    inherit_cache = True
    name = "week_start"


@compiles(week_start)
def _week_start_default(element, compiler, **kw):
    return "CAST(date_trunc('week', %s) AS DATE)" % compiler.process(element.clauses, **kw)


@compiles(week_start, "postgresql")
def _week_start_postgresql(element, compiler, **kw):
    # date_trunc of a DATE resolves to its timestamptz form, which converts through the session's time zone:
    # right in every zone (checked over 1990-2040 in all 1,198), but about a third slower than on a TIMESTAMP
    return "CAST(date_trunc('week', CAST(%s AS TIMESTAMP)) AS DATE)" % compiler.process(element.clauses, **kw)


@compiles(week_start, "sqlite")
def _week_start_sqlite(element, compiler, **kw):
    # 'weekday 0' moves forward to the next Sunday (or stays on a Sunday); 6 days back is that week's Monday.
    return "date(%s, 'weekday 0', '-6 days')" % compiler.process(element.clauses, **kw)


class month_start(FunctionElement):
    """First day of the month of a date expression."""

    type = sa.Date()
    inherit_cache = True
    name = "month_start"


@compiles(month_start)
def _month_start_default(element, compiler, **kw):
    return "CAST(date_trunc('month', %s) AS DATE)" % compiler.process(element.clauses, **kw)


@compiles(month_start, "postgresql")
def _month_start_postgresql(element, compiler, **kw):
    return "CAST(date_trunc('month', CAST(%s AS TIMESTAMP)) AS DATE)" % compiler.process(element.clauses, **kw)


@compiles(month_start, "sqlite")
def _month_start_sqlite(element, compiler, **kw):
    return "date(%s, 'start of month')" % compiler.process(element.clauses, **kw)


class add_days(FunctionElement):
    """A date expression plus an integer number of days."""

    type = sa.Date()
    inherit_cache = True
    name = "add_days"


def _two_args(element, compiler, **kw):
    a, b = list(element.clauses)
    return compiler.process(a, **kw), compiler.process(b, **kw)


@compiles(add_days)
def _add_days_default(element, compiler, **kw):
    d, n = _two_args(element, compiler, **kw)
    return "CAST((%s + CAST(%s AS INTEGER)) AS DATE)" % (d, n)


@compiles(add_days, "sqlite")
def _add_days_sqlite(element, compiler, **kw):
    d, n = _two_args(element, compiler, **kw)
    return "date(%s, printf('%%+d days', %s))" % (d, n)


class epoch_us(FunctionElement):
    """Microseconds since 1970-01-01 of a timestamp expression (exact integer)."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "epoch_us"


@compiles(epoch_us)
def _epoch_us_duckdb(element, compiler, **kw):
    return "epoch_us(%s)" % compiler.process(element.clauses, **kw)


@compiles(epoch_us, "postgresql")
def _epoch_us_pg(element, compiler, **kw):
    return "CAST(EXTRACT(EPOCH FROM %s) * 1000000 AS BIGINT)" % compiler.process(element.clauses, **kw)


def _sqlite_epoch_us(ts_sql: str) -> str:
    # integer seconds of the 'YYYY-MM-DD HH:MM:SS' prefix, plus the 6 fraction digits (padded) as microseconds
    return (
        "(CAST(strftime('%%s', substr(%s, 1, 19)) AS INTEGER) * 1000000 "
        "+ CAST(substr(%s || '000000', 21, 6) AS INTEGER))" % (ts_sql, ts_sql)
    )


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element, compiler, **kw):
    return _sqlite_epoch_us(compiler.process(element.clauses, **kw))


class whole_days(FunctionElement):
    """floor((ts - ts0) / 24 h) clamped at 0 from below: the lifetime of an event at ts for a user first seen at ts0."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "whole_days"


@compiles(whole_days)
def _whole_days_duckdb(element, compiler, **kw):
    ts, ts0 = _two_args(element, compiler, **kw)
    # negative differences clamp to 0, so integer division (truncation) equals floor where it matters
    return "GREATEST(0, (epoch_us(%s) - epoch_us(%s)) // %d)" % (ts, ts0, US_PER_DAY)


@compiles(whole_days, "postgresql")
def _whole_days_pg(element, compiler, **kw):
    ts, ts0 = _two_args(element, compiler, **kw)
    return "GREATEST(0, CAST(FLOOR(EXTRACT(EPOCH FROM (%s - %s)) / 86400) AS BIGINT))" % (ts, ts0)


@compiles(whole_days, "sqlite")
def _whole_days_sqlite(element, compiler, **kw):
    ts, ts0 = _two_args(element, compiler, **kw)
    return "max(0, (%s - %s) / %d)" % (_sqlite_epoch_us(ts), _sqlite_epoch_us(ts0), US_PER_DAY)


class seconds_between(FunctionElement):
    """(end - start) in seconds as a float."""

    type = sa.Double()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_between_duckdb(element, compiler, **kw):
    end, start = _two_args(element, compiler, **kw)
    return "(CAST(epoch_us(%s) - epoch_us(%s) AS DOUBLE) / 1000000.0)" % (end, start)


@compiles(seconds_between, "postgresql")
def _seconds_between_pg(element, compiler, **kw):
    end, start = _two_args(element, compiler, **kw)
    return "CAST(EXTRACT(EPOCH FROM (%s - %s)) AS DOUBLE PRECISION)" % (end, start)


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    end, start = _two_args(element, compiler, **kw)
    return "((%s - %s) / 1000000.0)" % (_sqlite_epoch_us(end), _sqlite_epoch_us(start))


class float_sum(FunctionElement):
    """Aggregate SUM of a float (money) expression whose result does not depend on the run.

    DuckDB (and PostgreSQL's parallel plans) add the threads' partial sums in whatever order they finish, so
    a plain SUM of doubles can differ in the last bits from one run to the next (measured: the marketing
    page's ROI and CAC curves; `export-metrics` writes floats with full precision). DuckDB's compensated
    `fsum` narrows it but still varied (4 results in 10 runs on 1M values). So the values are summed as
    exact decimals: DuckDB `DECIMAL(38, 12)` (each value rounded to 1e-12; values of 1e14 and more summed
    apart as doubles, so nothing overflows), PostgreSQL `NUMERIC`, then turned back into a double: every run
    gives the same, correctly rounded sum (measured
    relative error 1.6e-16 against `math.fsum`; ~3x the time of a plain SUM, a small share of any metric
    query). SQLite sums each group in one thread: plain SUM (the same on every run; it rounds as it goes, so
    its error is that of a running sum, ~1e-15 relative).
    """

    type = sa.Double()
    inherit_cache = True
    name = "float_sum"


@compiles(float_sum)
def _float_sum_default(element, compiler, **kw):
    return "SUM(%s)" % compiler.process(element.clauses, **kw)


# DuckDB: values below 1e14 in magnitude (every real amount) are summed as exact DECIMAL(38, 12), which cannot
# overflow below 1e12 rows; anything larger, infinite or NaN (never from an import, possibly from another
# writer) is summed as a double on the side, so one absurd value gives an inexact total instead of an error.
_DUCKDB_EXACT_LIMIT = "1e14"


@compiles(float_sum, "duckdb")
def _float_sum_duckdb(element, compiler, **kw):
    def x():  # compiled afresh at each use, so positional bound parameters are counted where they appear
        return compiler.process(element.clauses, **kw)

    limit = _DUCKDB_EXACT_LIMIT
    return (f"(CAST(SUM(CAST(CASE WHEN abs({x()}) < {limit} THEN {x()} ELSE 0 END AS DECIMAL(38, 12))) AS DOUBLE)"
            f" + SUM(CASE WHEN abs({x()}) < {limit} THEN 0.0 ELSE {x()} END))")


@compiles(float_sum, "postgresql")
def _float_sum_postgresql(element, compiler, **kw):
    return "CAST(SUM(CAST(%s AS NUMERIC)) AS DOUBLE PRECISION)" % compiler.process(element.clauses, **kw)


class least_of(FunctionElement):
    """The smaller of two values."""

    inherit_cache = True
    name = "least_of"

    @property
    def type(self):  # noqa: D401 - SQLAlchemy protocol
        return list(self.clauses)[0].type


@compiles(least_of)
def _least_default(element, compiler, **kw):
    a, b = _two_args(element, compiler, **kw)
    return "LEAST(%s, %s)" % (a, b)


@compiles(least_of, "sqlite")
def _least_sqlite(element, compiler, **kw):
    a, b = _two_args(element, compiler, **kw)
    return "min(%s, %s)" % (a, b)


class _median_agg(FunctionElement):
    """Exact median aggregate (DuckDB, PostgreSQL only; SQLite goes through window functions)."""

    type = sa.Double()
    inherit_cache = True
    name = "median_agg"


@compiles(_median_agg)
def _median_duckdb(element, compiler, **kw):
    return "median(CAST(%s AS DOUBLE))" % compiler.process(element.clauses, **kw)


@compiles(_median_agg, "postgresql")
def _median_pg(element, compiler, **kw):
    return "percentile_cont(0.5) WITHIN GROUP (ORDER BY %s)" % compiler.process(element.clauses, **kw)


def median_select(dialect_name: str, source: sa.FromClause, column: str) -> sa.Select:
    """Return a one-row SELECT of the exact median of `source.c[column]` (NULL when there is no row)."""
    value = source.c[column]
    if dialect_name != "sqlite":
        return sa.select(_median_agg(value).label("median"))
    ranked = sa.select(
        value.label("x"),
        sa.func.row_number().over(order_by=value).label("rn"),
        sa.func.count().over().label("n"),
    ).subquery("median_ranked")
    # SQLite integer division: rows (n+1)/2 and (n+2)/2 are the one or two middle rows
    return sa.select(sa.func.avg(ranked.c.x).label("median")).where(
        ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2])
    )


class create_table_as(sa.sql.expression.Executable, sa.sql.expression.ClauseElement):
    """CREATE TEMPORARY TABLE <name> AS <select> (name from code, never from input)."""

    inherit_cache = False

    def __init__(self, name: str, select: sa.Select):
        self.name = name
        self.select = select


@compiles(create_table_as)
def _create_table_as(element, compiler, **kw):
    name = compiler.preparer.quote(element.name)
    return "CREATE TEMPORARY TABLE %s AS %s" % (name, compiler.process(element.select, **kw))


def drop_temp_table_sql(dialect_name: str, name: str) -> str:
    """Return DROP TABLE IF EXISTS for the TEMPORARY table `name` only (never a permanent table of that name)."""
    schema = "pg_temp" if dialect_name == "postgresql" else "temp"
    return f"DROP TABLE IF EXISTS {schema}.{name}"


def day_start(d):
    """Return a `datetime` at midnight of date `d` (bound parameters compare timestamps to day boundaries)."""
    import datetime as _dt

    return _dt.datetime(d.year, d.month, d.day)
