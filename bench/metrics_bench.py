"""Benchmark of the SQL metrics layer against the pandas reference and a bare SQL floor.

    python bench/metrics_bench.py [--sizes 1m,10m] [--postgres [--pg-maintenance vacuum|analyze|none]] [--sqlite]
                                  [--skip-pandas]

For each size (visits: 1m ~ 100k users, 10m ~ 1M users) the demo generator (`dashboard.demo.generate`)
builds the data once; it is cached as a DuckDB file under bench/.cache/ (git-ignored). Then each
step runs in a fresh subprocess so that its peak memory is its own:

- floor:      one bare `SELECT date(session_start), count(DISTINCT user_id) FROM visits GROUP BY 1`
- sql:        the bundle through metrics/ on DuckDB, one call after the other as a dashboard would:
              profiles, activity_summary, activity_daily, retention / conversion / ltv / roi by channel
              (horizon 14), channel_economics
- sql_live:   the same calls computing first visits and user-days from the visits in every call (as before the
              derived tables were stored at load time, 2026-12-05; what a database gets until they are stored)
- sql_shared: the same calls inside `metrics.shared_profiles(conn)` (profiles computed once)
- sql_report: `metrics.cohort_report` alone (retention, conversion, ltv, roi, payback in one query)
- pandas:     the same bundle through tests/metrics/reference.py on frames read from the cached file
              (reading the frames is not timed; their memory is part of the peak)

Each step runs `--repeat` times (default 3) inside its child and the fastest run is reported (the
machine may be shared; the load average at start is printed). Wall time is measured inside the child
around the bundle only (imports, connection and data loading
excluded); peak memory is the child's peak resident set size (VmHWM, reset by exec, read at the
end of the step), so it includes the interpreter, pandas, DuckDB's buffers and, for pandas, the input frames. `--postgres` also runs
the SQL bundle on the local PostgreSQL (PG_TEST_URL, default postgresql://postgres@127.0.0.1:5432/test)
at 1m visits, in a schema of its own that is dropped afterwards; `--pg-maintenance` picks what follows the
load (VACUUM (ANALYZE) as the app does, a plain ANALYZE, or nothing). `--sqlite` runs it on a SQLite file
at 1m visits (in a temporary folder, removed afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CACHE = REPO / "bench" / ".cache"
SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
VISITS_PER_USER = 10  # the brief's ratio: 1M visits ~ 100k users (the demo gives ~9.7 per user)
HORIZON = 14
PG_URL = os.environ.get("PG_TEST_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def cache_path(size: str) -> Path:
    """Return the cached DuckDB file of a size."""
    return CACHE / f"demo_{size}.duckdb"


def ensure_data(size: str) -> Path:
    """Generate the demo data of `size` into its cached DuckDB file unless it exists; return the path."""
    import sqlalchemy as sa

    from dashboard import db, demo
    from metrics.derived import store_derived_tables

    path = cache_path(size)
    if path.exists():
        store_missing_derived_tables(path)
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    users = SIZES[size] // VISITS_PER_USER
    t0 = time.perf_counter()
    frames = demo.generate(users=users)
    t1 = time.perf_counter()
    tmp = path.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    engine = db.make_engine(f"duckdb:///{tmp}")
    db.create_schema(engine)
    with engine.begin() as conn:
        db.replace_all(conn, frames)
        store_derived_tables(conn)
    with engine.connect() as conn:
        conn.execute(sa.text("CHECKPOINT"))
    engine.dispose()
    tmp.rename(path)
    print(f"[data] {size}: generated {users:,} users in {t1 - t0:.1f}s, loaded in {time.perf_counter() - t1:.1f}s "
          f"-> {path.relative_to(REPO)}", file=sys.stderr)
    return path


def store_missing_derived_tables(path: Path) -> None:
    """Store the derived tables in a cached file made before they were stored (as the app's first start does)."""
    from dashboard import db
    from metrics.derived import store_derived_tables

    with db.one_off_connection(f"duckdb:///{path}", read_only=True) as conn:
        if db.derived_current(conn):
            return
    t0 = time.perf_counter()
    with db.one_off_connection(f"duckdb:///{path}") as conn:
        users = store_derived_tables(conn)
        conn.commit()
    print(f"[data] {path.name}: first visits and user-days stored for {users:,} users in {time.perf_counter() - t0:.1f}s",
          file=sys.stderr)


# ---------------------------------------------------------------------------------------------- steps


def run_bundle(api, source) -> dict[str, float]:
    """Run the bundle through `api` (metrics/ with a connection, or the pandas reference with its frames);
    return the seconds and row count of each call. Both APIs take the same arguments."""
    f = api.Filters.make()
    by_channel = {"horizon": HORIZON, "dimensions": ("channel",)}
    calls = [("profiles", api.profiles, {}), ("activity_summary", api.activity_summary, {}),
             ("activity_daily", api.activity_daily, {}), ("retention", api.retention, by_channel),
             ("conversion", api.conversion, by_channel), ("ltv", api.ltv, by_channel), ("roi", api.roi, by_channel),
             ("channel_economics", api.channel_economics, {})]
    timings = {}
    for name, fn, params in calls:
        t0 = time.perf_counter()
        frame = fn(source, f, **params)
        timings[name] = time.perf_counter() - t0
        timings[f"rows:{name}"] = len(frame)
    return timings


def sql_bundle(conn) -> dict[str, float]:
    """Run the bundle through metrics/; return the seconds of each call."""
    import metrics

    return run_bundle(metrics, conn)


def pandas_bundle(data) -> dict[str, float]:
    """Run the bundle through the pandas reference; return the seconds of each call."""
    from tests.metrics import reference as ref

    return run_bundle(ref, data)


def peak_rss_mib() -> float:
    """Return this process's peak resident set size (VmHWM, reset at exec) in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_of(repeat: int, run) -> tuple[float, dict]:
    """Run `run()` `repeat` times; return (fastest wall seconds, the per-call timings of that run)."""
    best, best_calls = None, {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        calls = run()
        seconds = time.perf_counter() - t0
        if best is None or seconds < best:
            best, best_calls = seconds, calls
    return best, best_calls


def run_step(step: str, url: str, repeat: int = 1, duckdb_memory_limit: str | None = None) -> dict:
    """Run one step in this process (the child), `repeat` times; return the fastest timings."""
    import pandas as pd
    import sqlalchemy as sa

    from dashboard import db

    read_only = url.startswith("duckdb")
    engine = db.make_engine(url, read_only=read_only)
    result: dict = {"step": step}
    with engine.connect() as conn:
        if duckdb_memory_limit and conn.dialect.name == "duckdb":
            limit = duckdb_memory_limit.strip()
            if not limit.replace(".", "").replace("MB", "").replace("GB", "").isdigit():
                raise SystemExit(f"bad --duckdb-memory-limit {limit!r} (e.g. 512MB)")
            conn.exec_driver_sql(f"SET memory_limit = '{limit}'")  # validated above
        if step == "floor":
            v = db.visits
            day = sa.func.date(v.c.session_start) if conn.dialect.name == "sqlite" else sa.cast(v.c.session_start, sa.Date)
            stmt = sa.select(day, sa.func.count(sa.distinct(v.c.user_id))).group_by(day)
            result["seconds"], result["calls"] = best_of(repeat, lambda: {"rows": len(conn.execute(stmt).fetchall())})
        elif step == "sql":
            result["seconds"], result["calls"] = best_of(repeat, lambda: sql_bundle(conn))
        elif step == "sql_live":  # as before 2026-12-05: every call computes from the visits
            db.derived_current = lambda _conn: False  # this child process only
            result["seconds"], result["calls"] = best_of(repeat, lambda: sql_bundle(conn))
        elif step == "sql_shared":
            import metrics

            def shared_run():
                with metrics.shared_profiles(conn):
                    return sql_bundle(conn)

            result["seconds"], result["calls"] = best_of(repeat, shared_run)
        elif step == "sql_report":
            import metrics

            def report_run():
                metrics.cohort_report(conn, metrics.Filters.make(), horizon=HORIZON, dimensions=("channel",))
                return {}

            result["seconds"], result["calls"] = best_of(repeat, report_run)
        elif step == "pandas":
            from tests.metrics import reference as ref

            t_load = time.perf_counter()
            frames = {}
            raw = conn.connection.driver_connection
            for name in ("visits", "orders", "costs"):
                frames[name] = raw.execute(f"SELECT * FROM {name}").fetch_df()  # table names are constants
            data = ref.Data(frames["visits"], frames["orders"], frames["costs"])
            result["load_seconds"] = time.perf_counter() - t_load
            result["seconds"], result["calls"] = best_of(repeat, lambda: pandas_bundle(data))
        else:
            raise SystemExit(f"unknown step {step}")
    engine.dispose()
    result["peak_mib"] = peak_rss_mib()
    return result


REPEAT = 1
MEMORY_LIMIT = None


def measure(step: str, url: str) -> dict:
    """Run `step` in a subprocess (REPEAT times inside it); return its fastest result and its peak RSS in MiB."""
    cmd = [sys.executable, __file__, "--child", step, "--url", url, "--repeat", str(REPEAT)]
    if MEMORY_LIMIT:
        cmd += ["--duckdb-memory-limit", MEMORY_LIMIT]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=REPO)
    out = proc.stdout.read()
    status = proc.wait()
    if status != 0:
        raise SystemExit(f"step {step} failed (status {status})")
    return json.loads(out.decode().strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------- postgres


def postgres_url_with_schema(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


PG_MAINTENANCE = ("vacuum", "analyze", "none")


def copy_cached_data(size: str, url: str):
    """Write the cached DuckDB data of `size` into the empty database at `url` (the app's schema and indexes, one
    transaction); return (its engine, the perf_counter() before the write)."""
    from dashboard import db
    from metrics.derived import store_derived_tables

    with db.one_off_connection(f"duckdb:///{cache_path(size)}", read_only=True) as sconn:
        raw = sconn.connection.driver_connection
        frames = {name: raw.execute(f"SELECT * FROM {name}").fetch_df() for name in ("visits", "orders", "costs")}
    engine = db.make_engine(url)
    db.create_schema(engine)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        db.replace_all(conn, frames)
        store_derived_tables(conn)
    return engine, t0


def load_postgres(size: str, maintenance: str = "vacuum") -> tuple[str, callable]:
    """Copy the cached DuckDB data of `size` into a fresh PostgreSQL schema; return (url, cleanup).

    `maintenance` after the load: "vacuum" = `db.refresh_statistics` (VACUUM (ANALYZE), what an import and the
    demo load do), "analyze" = a plain ANALYZE, "none" = nothing (how the app left the tables before 2026-11-23).
    """
    if maintenance not in PG_MAINTENANCE:
        raise ValueError(f"maintenance must be one of {PG_MAINTENANCE}, got {maintenance!r}")
    import sqlalchemy as sa

    from dashboard import db

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(db.resolve_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def cleanup() -> None:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    url = postgres_url_with_schema(schema)
    try:
        engine, t0 = copy_cached_data(size, url)
        if maintenance == "vacuum":
            db.refresh_statistics(engine)  # as an import or the demo load does after committing
        elif maintenance == "analyze":
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
        engine.dispose()
        print(f"[data] postgres {size}: loaded in {time.perf_counter() - t0:.1f}s into schema {schema} "
              f"(maintenance: {maintenance})", file=sys.stderr)
    except BaseException:
        cleanup()
        raise
    return url, cleanup


def load_sqlite(size: str) -> tuple[str, callable]:
    """Copy the cached DuckDB data of `size` into a new SQLite file in a temporary folder, with the app's schema
    and indexes and an ANALYZE; return (url, cleanup)."""
    import shutil
    import tempfile

    import sqlalchemy as sa

    folder = tempfile.mkdtemp(prefix="metrics_bench_sqlite_")
    url = f"sqlite:///{folder}/bench.db"
    try:
        engine, t0 = copy_cached_data(size, url)
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
        engine.dispose()
        print(f"[data] sqlite {size}: loaded in {time.perf_counter() - t0:.1f}s into {folder}", file=sys.stderr)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return url, lambda: shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- report


def fmt_row(label: str, r: dict) -> str:
    return f"| {label} | {r['seconds']:.2f} | {r['peak_mib']:.0f} |"


def main(argv=None) -> int:
    """Run the benchmark and print a Markdown table; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1m,10m", help="comma-separated sizes among 100k, 1m, 10m")
    parser.add_argument("--postgres", action="store_true", help="also the SQL bundle on local PostgreSQL at 1m")
    parser.add_argument("--pg-maintenance", choices=PG_MAINTENANCE, default="vacuum",
                        help="after loading PostgreSQL: VACUUM (ANALYZE) as the app does (default), a plain "
                             "ANALYZE, or none (fresh tables, as the app left them before 2026-11-23)")
    parser.add_argument("--sqlite", action="store_true", help="also the SQL bundle on a SQLite file at 1m")
    parser.add_argument("--skip-pandas", action="store_true", help="do not run the pandas reference")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step; the fastest is reported (default 3)")
    parser.add_argument("--duckdb-memory-limit", help="SET memory_limit on the DuckDB connections (e.g. 512MB)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_step(args.child, args.url, args.repeat, args.duckdb_memory_limit)))
        return 0
    global REPEAT, MEMORY_LIMIT
    REPEAT = max(1, args.repeat)
    MEMORY_LIMIT = args.duckdb_memory_limit
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in sizes:
        if s not in SIZES:
            parser.error(f"unknown size {s!r}; choose from {', '.join(SIZES)}")
    import duckdb
    import platform

    print(f"# metrics benchmark ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"duckdb {duckdb.__version__}, python {platform.python_version()}; best of {REPEAT} runs per step; "
          f"load average at start {os.getloadavg()[0]:.1f}"
          f"{'; DuckDB memory_limit ' + MEMORY_LIMIT if MEMORY_LIMIT else ''})\n")
    print("| size | backend | step | wall s | peak RSS MiB |")
    print("|---|---|---|---|---|")
    summary = []
    details = {}
    for size in sizes:
        path = ensure_data(size)
        url = f"duckdb:///{path}"
        import sqlalchemy as sa

        from dashboard import db

        eng = db.make_engine(url, read_only=True)
        with eng.connect() as conn:
            counts = db.row_counts(conn)
            users = conn.execute(sa.select(sa.func.count(sa.distinct(db.visits.c.user_id)))).scalar()
        eng.dispose()
        label = f"{size} ({counts['visits']:,} visits, {users:,} users)"
        floor = measure("floor", url)
        sql = measure("sql", url)
        live = measure("sql_live", url)
        shared = measure("sql_shared", url)
        report = measure("sql_report", url)
        print(f"| {label} | duckdb | floor | {floor['seconds']:.2f} | {floor['peak_mib']:.0f} |")
        print(f"| {label} | duckdb | SQL bundle | {sql['seconds']:.2f} | {sql['peak_mib']:.0f} |")
        print(f"| {label} | duckdb | SQL bundle, not stored | {live['seconds']:.2f} | "
              f"{live['peak_mib']:.0f} |")
        print(f"| {label} | duckdb | SQL bundle in shared_profiles | {shared['seconds']:.2f} | {shared['peak_mib']:.0f} |")
        print(f"| {label} | duckdb | (cohort_report, 1 query) | {report['seconds']:.2f} | {report['peak_mib']:.0f} |")
        pandas = None
        if not args.skip_pandas:
            pandas = measure("pandas", url)
            print(f"| {label} | pandas | reference bundle | {pandas['seconds']:.2f} | {pandas['peak_mib']:.0f} |")
        details[size] = {"sql": sql["calls"], "pandas": pandas["calls"] if pandas else None}
        details[f"{size} not stored"] = {"sql": live["calls"], "pandas": None}
        details[f"{size} shared"] = {"sql": shared["calls"], "pandas": None}
        summary.append((size, floor, sql, pandas))
        summary.append((f"{size} not stored", floor, live, pandas))
        summary.append((f"{size} shared_profiles", floor, shared, pandas))
        sys.stdout.flush()
    row_stores = []
    if args.postgres:
        row_stores.append(("postgresql", lambda: load_postgres("1m", args.pg_maintenance)))
    if args.sqlite:
        row_stores.append(("sqlite", lambda: load_sqlite("1m")))
    for backend, load in row_stores:
        ensure_data("1m")
        url, cleanup = load()
        try:
            floor = measure("floor", url)
            sql = measure("sql", url)
            live = measure("sql_live", url)
            shared = measure("sql_shared", url)
            print(f"| 1m | {backend} | floor | {floor['seconds']:.2f} | {floor['peak_mib']:.0f} |")
            print(f"| 1m | {backend} | SQL bundle | {sql['seconds']:.2f} | {sql['peak_mib']:.0f} |")
            print(f"| 1m | {backend} | SQL bundle, not stored | {live['seconds']:.2f} | "
                  f"{live['peak_mib']:.0f} |")
            print(f"| 1m | {backend} | SQL bundle in shared_profiles | {shared['seconds']:.2f} | {shared['peak_mib']:.0f} |")
            details[f"1m-{backend}"] = {"sql": sql["calls"], "pandas": None}
            details[f"1m-{backend} not stored"] = {"sql": live["calls"], "pandas": None}
            details[f"1m-{backend} shared"] = {"sql": shared["calls"], "pandas": None}
            summary.append((f"1m-{backend}", floor, sql, None))
            summary.append((f"1m-{backend} not stored", floor, live, None))
            summary.append((f"1m-{backend} shared_profiles", floor, shared, None))
            sys.stdout.flush()
        finally:
            cleanup()
    print("\n| size | SQL / floor | pandas / SQL (speed-up) |")
    print("|---|---|---|")
    for size, floor, sql, pandas in summary:
        speedup = f"{pandas['seconds'] / sql['seconds']:.1f}x" if pandas else "-"
        print(f"| {size} | {sql['seconds'] / floor['seconds']:.1f}x | {speedup} |")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    print("\nper call, seconds (SQL | pandas):")
    for size, d in details.items():
        parts = []
        for name, seconds in d["sql"].items():
            if name.startswith("rows:"):
                continue
            other = f" | {d['pandas'][name]:.2f}" if d["pandas"] else ""
            parts.append(f"{name} {seconds:.2f}{other}")
        print(f"- {size}: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
