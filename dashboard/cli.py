"""Command-line interface: `python -m dashboard <command> --help`.

Each command lives in the module of its concern; a module listed in COMMAND_MODULES provides
`register(subparsers)`, which adds its parser with `set_defaults(func=handler)`. A handler gets the
parsed arguments and returns the exit code. `BadInput` becomes exit code 2 with a one-line reason.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from dashboard.errors import BadInput

COMMAND_MODULES = (
    "dashboard.importer",
    "dashboard.demo",
    "dashboard.info",
    "dashboard.refresh",
    "metrics.export",
    "ml.segment_commands",
    "ml.commands",
)


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
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was changed", file=sys.stderr)
        return 130
