"""Calendar buckets of a period as the metrics group dates: weeks starting on Monday (`metrics.dialect.week_start`,
ISO weeks) and calendar months (`month_start`). Which buckets the period cuts (its first and last week or month
may hold only some of their days) and how many of their days are in the period, so that a chart can mark a
partial bucket instead of showing it as a drop.

Pure functions of dates: no database, no Dash.
"""

from __future__ import annotations

import calendar
import textwrap
import datetime as _dt
from dataclasses import dataclass
from typing import Iterable

import pandas as pd

from layouts.common import FIGURE_HEIGHT, narrow_form

BUCKET_GRAINS = ("week", "month")  # grains whose buckets a period can cut; a day ("dt") is never partial
GRAIN_NOUNS = {"week": "week", "month": "month"}

# the frame columns a week/month chart carries for its partial buckets (also in its CSV)
DAYS_IN_PERIOD = "days_in_period"
PARTIAL = "partial"


@dataclass(frozen=True)
class Bucket:
    """One week or month overlapping a period: its first day, its length and how many of its days the period holds."""

    start: _dt.date
    grain: str
    days: int
    days_in_period: int

    @property
    def partial(self) -> bool:
        """Return True when the period holds only some of the bucket's days."""
        return self.days_in_period < self.days

    def hover_text(self) -> str:
        """Return the hover line of a partial bucket ("partial week: 4 of 7 days in the period"); "" when full."""
        if not self.partial:
            return ""
        return f"partial {GRAIN_NOUNS[self.grain]}: {self.days_in_period} of {self.days} days in the period"


def as_day(value) -> _dt.date:
    """Return `value` (date, datetime, Timestamp, numpy datetime64 or ISO text) as a date."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    return pd.Timestamp(value).date()


def bucket_start(day, grain: str) -> _dt.date:
    """Return the first day of the bucket holding `day`: its week's Monday, or the first of its month."""
    day = as_day(day)
    if grain == "week":
        return day - _dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown grain {grain!r}; choose from {BUCKET_GRAINS}")


def bucket_length(start, grain: str) -> int:
    """Return the number of days of the bucket starting on `start` (7 for a week; 28 to 31 for a month)."""
    start = as_day(start)
    if grain == "week":
        return 7
    if grain == "month":
        return calendar.monthrange(start.year, start.month)[1]
    raise ValueError(f"unknown grain {grain!r}; choose from {BUCKET_GRAINS}")


def bucket_of(day, first, last, grain: str) -> Bucket:
    """Return the bucket holding `day` with the number of its days in the period [first, last] (0 when none)."""
    start = bucket_start(day, grain)
    length = bucket_length(start, grain)
    end = start + _dt.timedelta(days=length - 1)
    first, last = as_day(first), as_day(last)
    overlap = (min(end, last) - max(start, first)).days + 1
    return Bucket(start, grain, length, max(overlap, 0))


def period_buckets(first, last, grain: str) -> list[Bucket]:
    """Return every bucket overlapping the period [first, last], in order (empty when last < first)."""
    first, last = as_day(first), as_day(last)
    buckets: list[Bucket] = []
    day = first
    while day <= last:
        bucket = bucket_of(day, first, last, grain)
        buckets.append(bucket)
        day = bucket.start + _dt.timedelta(days=bucket.days)
    return buckets


def partial_buckets(first, last, grain: str) -> list[Bucket]:
    """Return the buckets the period [first, last] cuts (at most its first and its last), in order."""
    return [b for b in period_buckets(first, last, grain) if b.partial]


def new_users_period(start, end, observation_date) -> tuple[_dt.date, _dt.date]:
    """Return the acquisition days of the period's new users, as `metrics.new_users` and `channel_economics` read
    them: [start, min(end, O)]."""
    return as_day(start), min(as_day(end), as_day(observation_date))


def cohort_period(start, observation_date, horizon: int) -> tuple[_dt.date, _dt.date]:
    """Return the acquisition days of the horizon cohort, as the cohort metrics read them (the contract's cohort):
    [start, O - (H - 1)]."""
    return as_day(start), as_day(observation_date) - _dt.timedelta(days=int(horizon) - 1)


def with_days_in_period(table: pd.DataFrame, column: str, first, last, grain: str) -> pd.DataFrame:
    """Return `table` (bucket starts in `column`) with DAYS_IN_PERIOD (days of the row's bucket in [first, last])
    and PARTIAL (True when that is fewer than the bucket's days) after its other columns."""
    out = table.copy()
    buckets = [bucket_of(value, first, last, grain) for value in out[column]]
    out[DAYS_IN_PERIOD] = pd.Series([b.days_in_period for b in buckets], index=out.index, dtype="int64")
    out[PARTIAL] = pd.Series([b.partial for b in buckets], index=out.index, dtype="bool")
    return out


def hover_texts(starts: Iterable, days_in_period: Iterable[int] | None, grain: str) -> list[str]:
    """Return the hover line of each bucket start (a partial bucket's "partial week: 4 of 7 days in the period",
    else ""), given each bucket's days in the period (None: every bucket full)."""
    starts = list(starts)
    if days_in_period is None:
        return ["" for _ in starts]
    return [Bucket(as_day(s), grain, bucket_length(s, grain), int(d)).hover_text()
            for s, d in zip(starts, days_in_period)]


def partial_note(buckets: Iterable[Bucket], period_text: str = "the period") -> str | None:
    """Return the note under a chart naming its partial buckets ("First and last weeks are partial: 4 and 6 of 7
    days in the period"); None when every bucket is full."""
    buckets = list(buckets)
    partial = [b for b in buckets if b.partial]
    if not partial:
        return None
    noun = GRAIN_NOUNS[partial[0].grain]
    if len(buckets) == 1:
        only = partial[0]
        return f"The only {noun} is partial: {only.days_in_period} of {only.days} days in {period_text}"
    first, last = buckets[0], buckets[-1]
    if first.partial and last.partial:
        days = (f"{first.days_in_period} and {last.days_in_period} of {first.days}" if first.days == last.days
                else f"{first.days_in_period} of {first.days} and {last.days_in_period} of {last.days}")
        return f"First and last {noun}s are partial: {days} days in {period_text}"
    which, bucket = ("First", first) if first.partial else ("Last", last)
    return f"{which} {noun} is partial: {bucket.days_in_period} of {bucket.days} days in {period_text}"


# ---------------------------------------------------------------------------------------------------------------
# Marks on figures: partial bars lighter and hatched, a line's partial points open with a dotted segment, a note
# ---------------------------------------------------------------------------------------------------------------

PARTIAL_OPACITY = 0.5  # a partial bar's opacity (full bars: 1)
PARTIAL_PATTERN = "/"  # a partial bar's hatching (plotly marker.pattern.shape)
NOTE_COLOR = "#495057"
NOTE_SHIFT = 58  # px from the bottom of the plot area down to the note (under the x ticks and the axis title)
NOTE_MARGIN = 34  # px added to the figure's bottom margin for the note
NARROW_NOTE_CHARS = 44  # characters a line of the note on a narrow screen (10 px text in about 300 px)
NARROW_MODE_BAR = 36  # px over the note on a narrow screen, kept for the mode bar
NARROW_NOTE_LINE = 14  # px a line of the note on a narrow screen


def partial_flags(table: pd.DataFrame) -> list[bool]:
    """Return the PARTIAL column of a table as a list (every row full when the table has no such column)."""
    if PARTIAL not in table.columns:
        return [False] * len(table)
    return [bool(v) for v in table[PARTIAL]]


def bar_marker(color: str, partial: list[bool]) -> dict:
    """Return the `marker` of bars in `color`: partial bars lighter (PARTIAL_OPACITY) and hatched (PARTIAL_PATTERN)."""
    marker: dict = {"color": color}
    if any(partial):
        marker["opacity"] = [PARTIAL_OPACITY if p else 1.0 for p in partial]
        marker["pattern"] = {"shape": [PARTIAL_PATTERN if p else "" for p in partial], "solidity": 0.35}
    return marker


def partial_segments(x: list, y: list, partial: list[bool]) -> tuple[list, list]:
    """Return (x, y) of the dotted segments joining each partial point of a line to its full neighbour (None between
    segments), for a trace drawn with a dotted line."""
    seg_x: list = []
    seg_y: list = []
    for i, is_partial in enumerate(partial):
        if not is_partial:
            continue
        for j in (i - 1, i + 1):
            if 0 <= j < len(x) and not partial[j]:
                seg_x += [x[i], x[j], None]
                seg_y += [y[i], y[j], None]
    return seg_x, seg_y


def add_note_under(fig, note: str | None):
    """Return `fig` with `note` (if any) in small grey text under the plot (the figure taller by NOTE_MARGIN px for
    it); on a narrow screen the note is above the plot, in lines of at most NARROW_NOTE_CHARS characters, under the
    mode bar (the top margin and the narrow height grown to hold them)."""
    if not note:
        return fig
    narrow_lines = textwrap.wrap(note, NARROW_NOTE_CHARS)
    narrow_top = NARROW_MODE_BAR + NARROW_NOTE_LINE * len(narrow_lines)
    index = len(fig.layout.annotations)
    fig.add_annotation(xref="paper", yref="paper", x=0, xanchor="left", y=0, yanchor="top", yshift=-NOTE_SHIFT,
                       showarrow=False, align="left", text=note, font=dict(size=11, color=NOTE_COLOR))
    height = int(fig.layout.height or FIGURE_HEIGHT)
    bottom = fig.layout.margin.b if fig.layout.margin.b is not None else 50
    top = fig.layout.margin.t if fig.layout.margin.t is not None else 56
    fig.update_layout(height=height + NOTE_MARGIN, margin=dict(b=bottom + NOTE_MARGIN))
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    narrow = dict((meta.get("narrow") or {}).get("layout") or {})
    changes = {f"annotations[{index}].text": "<br>".join(narrow_lines), f"annotations[{index}].y": 1,
               f"annotations[{index}].yanchor": "bottom", f"annotations[{index}].yshift": 4,
               f"annotations[{index}].font.size": 10, "margin.t": narrow_top, "margin.b": bottom}
    if "height" in narrow:  # a narrow height of its own (a legend under the plot): grown by the note's lines
        changes["height"] = int(narrow["height"]) + narrow_top - int(narrow.get("margin.t", top))
    # else the figure keeps its height, grown by NOTE_MARGIN, which the bottom margin gives back to the plot
    return narrow_form(fig, changes)
