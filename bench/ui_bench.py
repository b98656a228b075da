"""Server-side latency of every page's callbacks, cold (empty metric cache) and cached.

    python bench/ui_bench.py                      # ~1.2M visits (102k demo users) in bench/.cache/, 10 filter changes
    python bench/ui_bench.py --users 20000 --changes 5
    python bench/ui_bench.py --database-url duckdb:////path/to/file.duckdb

For each page and each of N random filter changes (dates, countries, devices, channels, horizon and the
page's own parameters), one "page render" runs what the browser triggers: the URL -> filters callback,
the navigation callback and every chart callback of the page (`callbacks.filters.ChartSpec.body`, the
function the chart callback runs, plus the JSON encoding Dash does). Cold = the metric cache cleared
before the render; cached = the same render again. Prints p50 / p95 per page and the cold/cached ratio.
Callbacks run one after another here; a browser fires them in parallel over gunicorn threads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import plotly  # noqa: E402

from app import create_app  # noqa: E402
from callbacks import warmup  # noqa: E402
from callbacks.charts import registered_charts  # noqa: E402
from dashboard import db  # noqa: E402
from dashboard.cache import get_metric_cache  # noqa: E402
from dashboard.config import Config  # noqa: E402
from layouts.filters import FilterState, to_query  # noqa: E402
from callbacks.pages import available_pages  # noqa: E402
from bench_common import percentile  # noqa: E402

DEFAULT_DB = REPO / "bench" / ".cache" / "ui_bench_1m.duckdb"


def ensure_database(url: str, path: Path | None, users: int) -> None:
    """Generate the demo data into the database at `url` unless it already holds data; store its derived tables if
    an earlier version did not (as `python -m dashboard refresh` does, keeping the data version)."""
    if path is not None and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(url)
    try:
        db.create_schema(engine)
        with engine.connect() as conn:
            if not db.is_empty(conn):
                if not db.derived_current(conn):
                    from metrics.derived import store_derived_tables

                    started = time.perf_counter()
                    users = store_derived_tables(conn)
                    conn.commit()
                    print(f"first visits and user-days stored for {users:,} users in {time.perf_counter() - started:.1f}s",
                          flush=True)
                return
        from dashboard.demo import write_demo

        print(f"generating {users:,} demo users into {url} ...", flush=True)
        write_demo(engine, users=users, seed=42)
    finally:
        engine.dispose()


def random_query(rng: random.Random, bounds, page) -> tuple[str, dict[str, str]]:
    """Return (URL query, page parameter values) of one random filter change on `page`."""
    days = (bounds.last_date - bounds.first_date).days
    length = rng.randint(28, max(28, min(120, days)))
    start = bounds.first_date + dt.timedelta(days=rng.randint(0, max(0, days - length)))
    end = start + dt.timedelta(days=length)
    pick = lambda values, most: tuple(sorted(rng.sample(values, rng.randint(0, min(most, len(values))))))  # noqa
    state = FilterState(start, end, end, rng.choice((7, 14, 28)), pick(bounds.regions, 2), pick(bounds.devices, 1),
                        pick(bounds.channels, 3))
    params = page.page_params
    values = {p.name: rng.choice(p.values) for p in params}
    return to_query(state, bounds, values, params), values


def render_page(ctx, page, query: str, values: dict[str, str]) -> float:
    """Run every callback of one page render for `query` (callbacks.warmup.render_page, plus the JSON encoding
    Dash does); return the seconds it took."""
    began = time.perf_counter()
    for body in warmup.render_page(ctx, page, query, values):
        json.dumps(body.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder)
    return time.perf_counter() - began




def main(argv=None) -> int:
    """Run the benchmark and print the table; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None, help=f"default: DuckDB file {DEFAULT_DB}")
    parser.add_argument("--users", type=int, default=102_000, help="demo users when generating (default 102,000)")
    parser.add_argument("--changes", type=int, default=10, help="filter changes per page (default 10)")
    parser.add_argument("--cached-repeats", type=int, default=3, help="cached renders per filter change")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pages", nargs="*", default=None, help="paths to run (default: every data page)")
    parser.add_argument("--not-stored", action="store_true",
                        help="compute first visits and user-days from the visits in every query, as before the derived tables (2026-12-05), for comparison")
    args = parser.parse_args(argv)

    path = None
    url = args.database_url
    if url is None:
        DEFAULT_DB.parent.mkdir(parents=True, exist_ok=True)
        path = DEFAULT_DB
        url = f"duckdb:///{path}"
    ensure_database(url, path, args.users)
    if args.not_stored:
        db.derived_current = lambda _conn: False  # this process only
    app = create_app(Config(database_url=url, autofill_demo=False))
    ctx = app.server.extensions["dashboard_context"]
    cache = get_metric_cache(ctx)
    app_charts = registered_charts(ctx)
    with ctx.engine.connect() as conn:
        counts = db.row_counts(conn)
    from callbacks.state import load_bounds
    from dashboard.cache import MetricReader

    with MetricReader(ctx) as read:
        bounds = load_bounds(read)
    print(f"database: {db.backend_name(ctx.engine)}, visits {counts['visits']:,}, orders {counts['orders']:,}, "
          f"costs {counts['costs']:,}; cache: {cache.kind}; {args.changes} filter changes per page", flush=True)

    pages = [p for p in available_pages() if p.module and (args.pages is None or p.path in args.pages)]
    rows = []
    for page in pages:
        rng = random.Random(f"{args.seed}:{page.path}")
        cold, warm = [], []
        for _ in range(args.changes):
            query, values = random_query(rng, bounds, page)
            cache.clear()
            cold.append(render_page(ctx, page, query, values))
            for _ in range(args.cached_repeats):
                warm.append(render_page(ctx, page, query, values))
        charts = len([n for n in warmup.chart_names(page.layout({})) if n in app_charts])
        row = (page.path, charts, percentile(cold, .5), percentile(cold, .95), percentile(warm, .5),
               percentile(warm, .95))
        rows.append(row)
        print(f"  {page.path:<13} charts {charts:>2}  cold p50 {row[2] * 1000:8.0f} ms  p95 {row[3] * 1000:8.0f} ms"
              f"  cached p50 {row[4] * 1000:6.1f} ms  p95 {row[5] * 1000:6.1f} ms  ratio {row[2] / row[4]:6.1f}x",
              flush=True)

    print("\n| page | charts | cold p50 (ms) | cold p95 (ms) | cached p50 (ms) | cached p95 (ms) | cold/cached (p50) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for path_, charts, c50, c95, w50, w95 in rows:
        print(f"| `{path_}` | {charts} | {c50 * 1000:,.0f} | {c95 * 1000:,.0f} | {w50 * 1000:,.1f} | {w95 * 1000:,.1f} "
              f"| {c50 / w50:,.0f}x |")
    total_cold = sum(r[2] for r in rows)
    total_warm = sum(r[4] for r in rows)
    print(f"\nall pages, p50 sum: cold {total_cold * 1000:,.0f} ms, cached {total_warm * 1000:,.1f} ms, "
          f"ratio {total_cold / total_warm:,.1f}x (target >= 10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
