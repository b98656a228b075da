"""Sparklines: a daily series drawn as a small inline SVG image, cheap for the browser (no Plotly graph per card).

`sparkline_svg(values, previous)` returns the SVG text: the series as a line (broken where a value is undefined),
its last value marked by a dot, and optionally the comparison period's series drawn faint behind it on the same
scale. `sparkline_image` wraps it in an `html.Img` whose `src` is a `data:image/svg+xml` URI and whose alt text
says what it shows. Pure functions: no database, no callbacks.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence
from urllib.parse import quote

from dash import html

WIDTH = 120  # the SVG's coordinate box; the image stretches to its card's width (preserveAspectRatio="none")
HEIGHT = 30
PAD = 3  # room for the stroke and the last value's dot
COLOR = "#4E79A7"
PREVIOUS_COLOR = "#ADB5BD"
IMAGE_HEIGHT_PX = 30


def finite_values(values: Iterable) -> list[float]:
    """Return the values as floats with None and NaN as NaN."""
    out = []
    for value in values:
        try:
            number = float(value) if value is not None else math.nan
        except (TypeError, ValueError):
            number = math.nan
        out.append(number if math.isfinite(number) else math.nan)
    return out


def value_range(*series: Sequence[float]) -> tuple[float, float] | None:
    """Return (lowest, highest) over every defined value of `series` (None when none is defined)."""
    defined = [v for values in series for v in values if not math.isnan(v)]
    return (min(defined), max(defined)) if defined else None


def point_segments(values: Sequence[float], low: float, high: float, count: int | None = None
                   ) -> list[list[tuple[float, float]]]:
    """Return the (x, y) points of `values` in the SVG box as runs broken at undefined values: x spreads `count`
    dates (default len(values)) over the width, y maps [low, high] to the box's bottom..top (the middle when flat)."""
    count = max(count or len(values), 1)
    span = high - low
    segments: list[list[tuple[float, float]]] = [[]]
    for i, value in enumerate(values):
        if math.isnan(value):
            if segments[-1]:
                segments.append([])
            continue
        x = PAD + (WIDTH - 2 * PAD) * (i / (count - 1) if count > 1 else 0.5)
        y = HEIGHT / 2 if span == 0 else PAD + (HEIGHT - 2 * PAD) * (high - value) / span
        segments[-1].append((round(x, 2), round(y, 2)))
    return [segment for segment in segments if segment]


def _path(segments: list[list[tuple[float, float]]], color: str, width: float, opacity: float = 1.0) -> str:
    """Return the SVG elements drawing `segments`: a polyline per run of two points or more, a dot for a lone one."""
    parts = []
    for segment in segments:
        if len(segment) == 1:
            x, y = segment[0]
            parts.append(f'<circle cx="{x}" cy="{y}" r="{width}" fill="{color}" fill-opacity="{opacity}"/>')
        else:
            points = " ".join(f"{x},{y}" for x, y in segment)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="{width}" '
                         f'stroke-opacity="{opacity}" stroke-linejoin="round" stroke-linecap="round" '
                         'vector-effect="non-scaling-stroke"/>')
    return "".join(parts)


def sparkline_svg(values: Iterable, previous: Iterable | None = None, color: str = COLOR,
                  previous_color: str = PREVIOUS_COLOR) -> str | None:
    """Return the SVG text of a sparkline of `values` (the comparison period's `previous` values faint behind it,
    aligned by position, on one scale), or None when no value is defined."""
    current = finite_values(values)
    before = finite_values(previous) if previous is not None else []
    bounds = value_range(current, before)
    if bounds is None or value_range(current) is None:
        return None
    low, high = bounds
    count = max(len(current), len(before))
    body = _path(point_segments(before, low, high, count), previous_color, 1.2, 0.9) if before else ""
    segments = point_segments(current, low, high, count)
    body += _path(segments, color, 1.6)
    last_x, last_y = segments[-1][-1]
    body += f'<circle cx="{last_x}" cy="{last_y}" r="2" fill="{color}"/>'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
            f'height="{HEIGHT}" preserveAspectRatio="none">{body}</svg>')


def svg_data_uri(svg: str) -> str:
    """Return `svg` as a `data:image/svg+xml` URI (percent-encoded UTF-8)."""
    return "data:image/svg+xml;charset=utf-8," + quote(svg, safe=" =:/,.\"'")


def sparkline_image(values: Iterable, alt: str, previous: Iterable | None = None, color: str = COLOR,
                    image_id: str | None = None) -> html.Img | None:
    """Return the sparkline of `values` as an image with alt text (and tooltip) `alt`, or None when no value of the
    series is defined."""
    svg = sparkline_svg(values, previous, color)
    if svg is None:
        return None
    extra = {"id": image_id} if image_id is not None else {}
    return html.Img(src=svg_data_uri(svg), alt=alt, title=alt, className="kpi-sparkline d-block mt-1",
                    style={"width": "100%", "height": f"{IMAGE_HEIGHT_PX}px"}, **extra)
