"""Ctrl-C for the command line: remembered as well as raised, so no library can swallow it.

A KeyboardInterrupt raised inside a library (a bare `except:` in an optional import, a database driver that
turns it into its own error and goes on) would let a command commit after the user pressed Ctrl-C. The handler
installed by `install()` records the request before raising, and every writing command calls
`raise_if_requested()` just before it commits, so an interrupted command never changes what is stored.
"""

from __future__ import annotations

import signal
import threading

_requested = threading.Event()


def _on_sigint(signum, frame) -> None:
    """Record the Ctrl-C, then raise KeyboardInterrupt as Python's default handler does."""
    _requested.set()
    raise KeyboardInterrupt


def install() -> None:
    """Make SIGINT record itself (see `requested`) and raise KeyboardInterrupt."""
    signal.signal(signal.SIGINT, _on_sigint)


def requested() -> bool:
    """Return True once Ctrl-C was pressed in this process (after `install()`)."""
    return _requested.is_set()


def raise_if_requested() -> None:
    """Raise KeyboardInterrupt when Ctrl-C was pressed, even if the exception it raised was swallowed."""
    if _requested.is_set():
        raise KeyboardInterrupt
