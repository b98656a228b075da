"""Dialect constructs: SQL written once for every backend, each compiled to the SQL text of the engine's spec.

Every metric query is written once with these constructs. Each construct has ONE `@compiles` handler, for every
dialect: it looks up the engine's spec (`dashboard.backends.backend_spec(compiler.dialect)`; one file per engine
in dashboard/backends/) and returns the SQL text the spec writes, so a dialect with no spec fails with
`UnsupportedBackendError` instead of getting another engine's SQL. Public (documented in docs/metrics.md) so
that feature SQL can reuse them:

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
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from dashboard.backends import backend_spec


def _arg(element, compiler, **kw) -> str:
    """Return the compiled SQL text of the argument of a one-argument construct."""
    return compiler.process(element.clauses, **kw)


def _two_args(element, compiler, **kw) -> tuple[str, str]:
    """Return the compiled SQL text of the two arguments of a two-argument construct."""
    a, b = list(element.clauses)
    return compiler.process(a, **kw), compiler.process(b, **kw)


class date_of(FunctionElement):
    """Date of a timestamp expression."""

    type = sa.Date()
    inherit_cache = True
    name = "date_of"


@compiles(date_of)
def _date_of(element, compiler, **kw):
    """Return the SQL text of `date_of` from the engine's spec."""
    return backend_spec(compiler.dialect).date_of(_arg(element, compiler, **kw))


class week_start(FunctionElement):
    """Monday of the ISO week of a date expression."""

    type = sa.Date()
    inherit_cache = True
    name = "week_start"


@compiles(week_start)
def _week_start(element, compiler, **kw):
    """Return the SQL text of `week_start` from the engine's spec."""
    return backend_spec(compiler.dialect).week_start(_arg(element, compiler, **kw))


class month_start(FunctionElement):
    """First day of the month of a date expression."""

    type = sa.Date()
    inherit_cache = True
    name = "month_start"


@compiles(month_start)
def _month_start(element, compiler, **kw):
    """Return the SQL text of `month_start` from the engine's spec."""
    return backend_spec(compiler.dialect).month_start(_arg(element, compiler, **kw))


class add_days(FunctionElement):
    """A date expression plus an integer number of days."""

    type = sa.Date()
    inherit_cache = True
    name = "add_days"


@compiles(add_days)
def _add_days(element, compiler, **kw):
    """Return the SQL text of `add_days` from the engine's spec."""
    return backend_spec(compiler.dialect).add_days(*_two_args(element, compiler, **kw))


class epoch_us(FunctionElement):
    """Microseconds since 1970-01-01 of a timestamp expression (exact integer)."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "epoch_us"


@compiles(epoch_us)
def _epoch_us(element, compiler, **kw):
    """Return the SQL text of `epoch_us` from the engine's spec."""
    return backend_spec(compiler.dialect).epoch_us(_arg(element, compiler, **kw))


class whole_days(FunctionElement):
    """floor((ts - ts0) / 24 h) clamped at 0 from below: the lifetime of an event at ts for a user first seen at ts0."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "whole_days"


@compiles(whole_days)
def _whole_days(element, compiler, **kw):
    """Return the SQL text of `whole_days` from the engine's spec."""
    return backend_spec(compiler.dialect).whole_days(*_two_args(element, compiler, **kw))


class seconds_between(FunctionElement):
    """(end - start) in seconds as a float."""

    type = sa.Double()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_between(element, compiler, **kw):
    """Return the SQL text of `seconds_between` from the engine's spec."""
    return backend_spec(compiler.dialect).seconds_between(*_two_args(element, compiler, **kw))


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
def _float_sum(element, compiler, **kw):
    """Return the SQL text of `float_sum` from the engine's spec."""
    # the argument is compiled afresh at each use, so positional bound parameters are counted where they appear
    return backend_spec(compiler.dialect).float_sum(lambda: _arg(element, compiler, **kw))


class least_of(FunctionElement):
    """The smaller of two values."""

    inherit_cache = True
    name = "least_of"

    @property
    def type(self):  # noqa: D401 - SQLAlchemy protocol
        return list(self.clauses)[0].type


@compiles(least_of)
def _least_of(element, compiler, **kw):
    """Return the SQL text of `least_of` from the engine's spec."""
    return backend_spec(compiler.dialect).least_of(*_two_args(element, compiler, **kw))


class _median_agg(FunctionElement):
    """Exact median aggregate, on engines whose spec has one (`has_median_aggregate`)."""

    type = sa.Double()
    inherit_cache = True
    name = "median_agg"


@compiles(_median_agg)
def _median(element, compiler, **kw):
    """Return the SQL text of `_median_agg` from the engine's spec."""
    return backend_spec(compiler.dialect).median(_arg(element, compiler, **kw))


def median_select(backend, source: sa.FromClause, column: str) -> sa.Select:
    """Return a one-row SELECT of the exact median of `source.c[column]` (NULL when there is no row), for
    `backend` (a connection, an engine, a dialect name: anything `backend_spec` takes): its median aggregate, or
    the mean of the one or two middle rows found with window functions when it has none."""
    value = source.c[column]
    if backend_spec(backend).has_median_aggregate:
        return sa.select(_median_agg(value).label("median"))
    ranked = sa.select(
        value.label("x"),
        sa.func.row_number().over(order_by=value).label("rn"),
        sa.func.count().over().label("n"),
    ).subquery("median_ranked")
    # integer division: rows (n+1)/2 and (n+2)/2 are the one or two middle rows
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
    """Return the SQL text of `create_table_as` from the engine's spec."""
    spec = backend_spec(compiler.dialect)
    return spec.create_temp_table_as(compiler.preparer.quote(element.name), compiler.process(element.select, **kw))


def day_start(d):
    """Return a `datetime` at midnight of date `d` (bound parameters compare timestamps to day boundaries)."""
    import datetime as _dt

    return _dt.datetime(d.year, d.month, d.day)

