"""Helpers the benchmark scripts share (run as `python bench/<script>.py`, which puts bench/ on the path)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (0..1, linear interpolation) of `values`; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_ok(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    """Return True once GET `url` answers 200; False when `proc` exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False
