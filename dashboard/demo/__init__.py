"""Demo data: a realistic, seeded app/shop data set with planted stories (`python -m dashboard demo`).

- `generation`: `generate()` builds the three event tables (visits, orders, costs) as pandas frames;
  `generate_with_truth()` also returns the planted stories.
- `loading`: `write_demo()` / `load_frames()` load them into a database in one transaction, with the derived tables.
- `command`: the `demo` command of the CLI.

The shape and the planted stories are documented, with measured numbers, in `docs/demo_data.md`.
"""

from __future__ import annotations

from dashboard.demo.command import register, run
from dashboard.demo.generation import (CHANNELS, DEFAULT_DAYS, DEFAULT_END_DATE, DEFAULT_SEED, DEFAULT_USERS, DEVICES,
                                       PAID_CHANNELS, REGIONS, demo_summary, generate, generate_with_truth)
from dashboard.demo.loading import FILLED_MESSAGE, load_frames, write_demo

__all__ = [
    "CHANNELS", "DEFAULT_DAYS", "DEFAULT_END_DATE", "DEFAULT_SEED", "DEFAULT_USERS", "DEVICES", "FILLED_MESSAGE",
    "PAID_CHANNELS", "REGIONS", "demo_summary", "generate", "generate_with_truth", "load_frames", "register", "run",
    "write_demo",
]
