"""`db-info`: backend, tables, row counts, date ranges, data version."""

from __future__ import annotations

import argparse

from dashboard import db


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `db-info` command."""
    parser = subparsers.add_parser(
        "db-info", help="show backend, tables, row counts, date ranges and data version",
        description="Show the database in use (DATABASE_URL, default data/dashboard.duckdb): "
        "backend, tables, row counts, date ranges and data version.",
    )
    parser.set_defaults(func=run)


def format_info(info: dict) -> str:
    """Return the db-info report as text."""
    lines = [f"backend:      {info['backend']}", f"url:          {info['url']}",
             f"data version: {info['data_version']}"]
    if not info["tables"]:
        lines.append("tables:       none (the schema is created by the first import or `demo`)")
    for name, entry in info["tables"].items():
        users = f", {entry['users']:,} users" if "users" in entry else ""
        span = f"{entry['first']} .. {entry['last']}" if entry["first"] else "no rows"
        lines.append(f"{name:<8}      {entry['rows']:>12,} rows{users}; {span}")
    derived = info.get("derived")
    if derived is not None:
        lines.append(f"derived:      first visits of {derived['users']:,} users and {derived['user_days']:,} user-days "
                     "stored (current)" if derived["current"] else
                     "derived:      not stored for this data version: the pages compute from the visits on each "
                     "query (`python -m dashboard refresh` stores them)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the database summary."""
    from dashboard.config import Config

    engine = db.make_engine(Config.from_env().database_url, read_only=False)
    with engine.connect() as conn:
        print(format_info(db.db_info(conn)))
    engine.dispose()
    return 0
