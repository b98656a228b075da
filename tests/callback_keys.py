"""Dash callback output keys in tests: a callback with one output is keyed "id.prop", one with several (a list of
outputs) "..a.prop...b.prop.." in `app.callback_map` and /_dash-dependencies."""

from __future__ import annotations


def is_multi_output(key: str) -> bool:
    """True when callback output `key` is Dash's multi-output key (".." + "...".join(outputs) + "..")."""
    return key.startswith("..") and key.endswith("..")


def output_items(key: str) -> list[str]:
    """Return the outputs ("id.prop") named by callback output `key`."""
    return key[2:-2].split("...") if is_multi_output(key) else [key]
