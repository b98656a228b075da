"""Command-line interface: `python -m dashboard <command> --help`.

Each command lives in the module of its concern; every module in COMMAND_MODULES (imported here, in help order)
provides `register(subparsers)`, which adds its parser with `set_defaults(func=handler)`. A handler gets the
parsed arguments and returns the exit code. `BadInput` becomes exit code 2 with a one-line reason, a database
whose write lock stays taken (`DatabaseBusyError`) exit code 2 with `the database is busy ...`, and Ctrl-C
(KeyboardInterrupt, or the database driver's interrupted query) exit code 130 with
`interrupted: nothing was changed`: every command writes in one transaction, rolled back on the way out.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from dashboard import account_commands, demo, importer, info, refresh
from dashboard.db import DatabaseBusyError
from dashboard.errors import BadInput, exception_chain
from metrics import export
from ml import commands, forecast_commands, segment_commands

# The modules whose `register(subparsers)` adds the commands, in the order `--help` lists them.
COMMAND_MODULES = (importer, demo, info, refresh, export, segment_commands, commands, forecast_commands,
                   account_commands)

INTERRUPTED = "interrupted: nothing was changed"
# What drivers raise for a query stopped by Ctrl-C (DuckDB; PostgreSQL's cancel "due to user request").
INTERRUPTED_QUERY_TEXTS = ("Query interrupted", "INTERRUPT Error", "canceling statement due to user request")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 too; keep it to one line
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every command's subparser registered."""
    parser = _Parser(prog="python -m dashboard", description="Marketing analytics dashboard: data and models.")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def is_interrupted_query(exc: BaseException) -> bool:
    """True when `exc` (or an exception it was raised from) is a query stopped by Ctrl-C."""
    return any(type(item).__name__ == "InterruptException" or any(t in str(item) for t in INTERRUPTED_QUERY_TEXTS)
               for item in exception_chain(exc, implicit=True))


def _interrupted() -> int:
    """Print the one interrupt line (a second Ctrl-C meanwhile is ignored) and return 130."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print(INTERRUPTED, file=sys.stderr)
    return 130


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
        return int(args.func(args) or 0)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DatabaseBusyError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as exc:
        if is_interrupted_query(exc):
            return _interrupted()
        raise
