"""Errors the CLI turns into exit code 2 with a one-line reason; the one-line summary of any error for a notice; the
chain of exceptions an error was raised from."""

from typing import Iterator

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


def exception_chain(exc: BaseException | None, *, implicit: bool) -> Iterator[BaseException]:
    """Yield `exc` and each exception it was raised from, once each: a database error's driver error (`.orig`),
    else `__cause__` (`raise ... from`), else, when `implicit`, `__context__` (raised while handling it)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        if isinstance(exc, sa.exc.DBAPIError):
            exc = exc.orig
        else:
            exc = exc.__cause__ or (exc.__context__ if implicit else None)
