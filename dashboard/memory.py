"""Python's cyclic garbage collector and the objects a running app keeps for its whole life.

A full collection scans every object the collector tracks, holding the GIL: right after `create_app` that is about
340,000 objects (the functions, classes and dicts of Dash, plotly, pandas, scikit-learn, ...), about 150 ms during
which no request thread runs. Under the browser bench such a collection came about every 30 s and added 190-280 ms
to the callback request it hit (measured with gc.callbacks on `python app.py`). `freeze_startup_objects` moves the
objects alive at the end of start-up into the collector's permanent generation, which later collections skip; an
object there is still freed by reference counting as soon as nothing refers to it (only a reference cycle among
such objects would stay).
"""

from __future__ import annotations

import atexit
import gc

_unfreeze_at_exit = []  # registered once per process


def freeze_startup_objects() -> int:
    """Return how many objects the collector skips after moving every object tracked now to its permanent
    generation (gc.freeze)."""
    gc.freeze()
    if not _unfreeze_at_exit:
        # at exit the interpreter's last collections see them again, so extension objects are released as before
        # (nanobind, used by some of the libraries, reports "leaked instances" otherwise)
        atexit.register(gc.unfreeze)
        _unfreeze_at_exit.append(True)
    return gc.get_freeze_count()
