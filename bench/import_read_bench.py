"""Import reading speed: the importer's CSV reader and validation against those of an earlier revision.

Writes a visits CSV of --rows rows (random users, regions, devices, channels, sessions) to a temporary folder,
then times, in this one run, reading it alone and reading plus validating it (no database) with today's
`dashboard/importer/` (reading.py, validation.py) and with the importer of the baseline revision
(`git show REV:dashboard/importer.py`,
default d9a31a2: pandas chunks, before the pyarrow streaming reader), and prints the ratios. Fastest of
--repeat runs each.

    python bench/import_read_bench.py --rows 1500000 --repeat 2
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard.importer import reading, validation  # noqa: E402

# Today's reader and validation under the names the baseline's single-file importer has.
CURRENT = SimpleNamespace(CHUNK_ROWS=reading.CHUNK_ROWS, map_columns=reading.map_columns,
                          _csv_headers=reading.csv_headers, _csv_chunks=reading.csv_chunks,
                          validate_chunk=validation.validate_chunk)

BASELINE_REVISION = "d9a31a2"


def write_visits(path: Path, rows: int, seed: int = 0) -> None:
    """Write a visits CSV of `rows` random, valid rows to `path`."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 300 * 86400, rows), unit="s")
    frame = pd.DataFrame({
        "user_id": rng.integers(10**15, 10**16, rows).astype(str),
        "region": rng.choice(["United States", "France", "Germany", "UK"], rows),
        "device": rng.choice(["iPhone", "Android", "PC", "Mac"], rows),
        "channel": rng.choice(["organic", "FaceBoom", "TipTop", "AdNonSense", "lambdaMediaAds"], rows),
        "session_start": start.strftime("%Y-%m-%d %H:%M:%S"),
        "session_end": (start + pd.to_timedelta(rng.integers(1, 3600, rows), unit="s")).strftime("%Y-%m-%d %H:%M:%S"),
    })
    frame.to_csv(path, index=False)


def load_baseline(revision: str, folder: Path):
    """Return the importer module of `revision`, loaded from its source under another name."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:dashboard/importer.py"],
                            check=True, capture_output=True, text=True).stdout
    path = folder / "importer_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("importer_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def frames_of(module, path: Path):
    """Return an iterator over the text frames of `path` read by `module`'s CSV reader (old or new signature)."""
    if "headers" in module._csv_chunks.__code__.co_varnames:
        headers = module._csv_headers(path)
        return (chunk.rows for chunk in module._csv_chunks(path, headers, module.CHUNK_ROWS, False))
    return module._csv_chunks(path, module.CHUNK_ROWS, False)


def timed(module, path: Path, validate: bool, repeat: int) -> tuple[float, int]:
    """Return (fastest seconds over `repeat` runs, rows) of reading (and validating) `path` with `module`."""
    mapping, _ = module.map_columns("visits", module._csv_headers(path), path)
    best, rows = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = 0
        for frame in frames_of(module, path):
            rows += len(frame)
            if validate:
                module.validate_chunk("visits", frame, mapping)
        best = min(best, time.perf_counter() - started)
    return best, rows


def main() -> None:
    """Write the file, time both readers, print seconds and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--baseline", default=BASELINE_REVISION, help="git revision of the baseline importer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "visits.csv"
        write_visits(path, args.rows)
        print(f"visits file: {args.rows:,} rows, {path.stat().st_size / 2**20:,.0f} MiB")
        baseline = load_baseline(args.baseline, Path(folder))
        for validate in (False, True):
            label = "read + validate" if validate else "read"
            old, rows_old = timed(baseline, path, validate, args.repeat)
            new, rows_new = timed(CURRENT, path, validate, args.repeat)
            assert rows_old == rows_new == args.rows, (rows_old, rows_new)
            print(f"{label:16} baseline {args.baseline} {old:6.2f} s   now {new:6.2f} s   "
                  f"ratio {old / new:4.2f}x   ({args.rows / new:,.0f} rows/s)")


if __name__ == "__main__":
    main()
