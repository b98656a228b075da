"""`demo`: the command that generates the demo data and loads it into DATABASE_URL."""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

from dashboard import db
from dashboard.demo.generation import DEFAULT_DAYS, DEFAULT_END_DATE, DEFAULT_SEED, DEFAULT_USERS, demo_summary, generate
from dashboard.demo.loading import load_frames, refuse_if_filled
from dashboard.errors import BadInput


def _parse_date(text: str) -> date:
    """Return the date of a YYYY-MM-DD argument."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` command."""
    parser = subparsers.add_parser(
        "demo", help="fill the database with generated demo data",
        description="Generate a realistic demo data set (visits, orders, ad costs with planted stories, "
        "see docs/demo_data.md) and load it into DATABASE_URL (default data/dashboard.duckdb) in one "
        "transaction.",
    )
    parser.add_argument("--users", type=int, default=None,
                        help=f"number of users (default DEMO_USERS or {DEFAULT_USERS:,})")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"length of the period (default {DEFAULT_DAYS})")
    parser.add_argument("--seed", type=int, default=None, help=f"random seed (default DEMO_SEED or {DEFAULT_SEED})")
    parser.add_argument("--end-date", type=_parse_date, default=DEFAULT_END_DATE,
                        help=f"last day of the period (default {DEFAULT_END_DATE.isoformat()})")
    parser.add_argument("--replace", action="store_true", help="delete the data already in the database")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate and load the demo data, print a summary; return the exit code."""
    from dashboard.config import Config

    began = time.perf_counter()
    try:
        config = Config.from_env()
    except ValueError as exc:  # e.g. DEMO_USERS that is not an integer
        raise BadInput(str(exc)) from exc
    users = config.demo_users if args.users is None else args.users
    seed = config.demo_seed if args.seed is None else args.seed
    engine = db.make_engine(config.database_url)
    try:
        db.create_schema(engine)
        refuse_if_filled(engine, args.replace)
        frames = generate(users=users, days=args.days, seed=seed, end_date=args.end_date, progress=True)
        counts = load_frames(engine, frames, replace=args.replace, progress=True)
        summary = demo_summary(frames)
    finally:
        engine.dispose()
    elapsed = time.perf_counter() - began
    start = args.end_date - timedelta(days=args.days - 1)
    print(
        f"demo data loaded ({start} .. {args.end_date}, seed {seed}): "
        f"{summary['users']:,} users, {counts['visits']:,} visits, {counts['orders']:,} orders, "
        f"{summary['payers']:,} payers ({summary['payers'] / max(summary['users'], 1):.1%}), "
        f"revenue {summary['revenue']:,.2f}, ad spend {summary['spend']:,.2f}, "
        f"{counts['costs']:,} cost rows; took {elapsed:.1f}s"
    )
    return 0
