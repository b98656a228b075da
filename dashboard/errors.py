"""Errors the CLI turns into exit code 2 with a one-line reason, and the one-line summary of any error for a notice."""

import sqlalchemy as sa


class BadInput(Exception):
    """Input the user must fix (a file, an argument): reported on one line, exit code 2."""


def error_summary(exc: BaseException, limit: int = 300) -> str:
    """Return a one-line description of `exc` for a notice: a database error's own first line (SQLAlchemy's
    text would add the whole SQL statement and its parameters), cut at `limit` characters; the full error goes to
    the server log."""
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
