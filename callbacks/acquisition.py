"""Acquisition page: its charts, declared once (`CHARTS`): filters and page parameters -> metrics (through the
cache) -> layouts.acquisition."""

from __future__ import annotations

import pandas as pd

import metrics
from layouts import acquisition as view
from layouts.charts import Chart, ChartRequest, view_only
from layouts.glossary import terms
from layouts.common import DIMENSION_LABELS
from layouts.ids import AcquisitionIds
from layouts.periods import (BUCKET_GRAINS, DAYS_IN_PERIOD, PARTIAL, new_users_period, partial_note,
                             period_buckets, with_days_in_period)


def _page_params(request: ChartRequest) -> tuple[str, str]:
    """Return (grain, metric dimension) of the request's page parameters (defaults for unknown values)."""
    defaults = {p.name: p for p in view.PAGE_PARAMS}
    breakdown = request.params.get("breakdown")
    grain = request.params.get("grain")
    breakdown = breakdown if breakdown in defaults["breakdown"].values else defaults["breakdown"].default
    grain = grain if grain in defaults["grain"].values else defaults["grain"].default
    return grain, view.BREAKDOWN_DIMENSIONS[breakdown]


def _acquisition_days(request: ChartRequest):
    """Return (first, last) acquisition day of the period's new users: [start, min(end, O)]."""
    state = request.state
    return new_users_period(state.start, state.end, state.observation_date)


def new_users_frame(request: ChartRequest) -> pd.DataFrame:
    """Return new users per period and breakdown value (what the new-users chart shows); per week or month also the
    days of the bucket in the period and whether it is partial."""
    grain, dimension = _page_params(request)
    raw = request.read(metrics.new_users, request.query, dimensions=(grain, dimension))
    table = view.new_users_table(raw, grain, dimension)
    if grain not in BUCKET_GRAINS:
        return table
    return with_days_in_period(table, grain, *_acquisition_days(request), grain)


def new_users_view(frame: pd.DataFrame, request: ChartRequest):
    """Return the new-users figure (partial first and last weeks or months marked, with a note)."""
    grain, dimension = _page_params(request)
    note = partial_note(period_buckets(*_acquisition_days(request), grain)) if grain in BUCKET_GRAINS else None
    return view.new_users_figure(frame, grain, dimension, request.palette, note)


def users_by_frame(dimension: str):
    """Return the frame function of the users-and-payer-share chart by `dimension`."""
    def frame(request: ChartRequest) -> pd.DataFrame:
        raw = request.read(metrics.new_users, request.query, dimensions=(dimension, "payer"))
        return view.users_by_table(raw, dimension)
    frame.__name__ = frame.__qualname__ = f"users_by_{dimension}_frame"
    return frame


def paying_channels_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the per-channel payers table (what the paying-channels grid shows)."""
    users = request.read(metrics.new_users, request.query, dimensions=("channel", "payer"))
    economics = request.read(metrics.channel_economics, request.query)
    return view.paying_channels_table(users, economics)


def users_by_view(dimension: str):
    """Return the view function of the users-and-payer-share chart by `dimension`."""
    def view_fn(frame: pd.DataFrame, request: ChartRequest):
        """Return the users-and-payer-share bars by the dimension."""
        return view.users_by_figure(frame, dimension, request.palette)
    view_fn.__name__ = view_fn.__qualname__ = f"users_by_{dimension}_view"
    return view_fn


NO_NEW_USERS = "No new users in the period for these filters."

# the labels each chart shows for its frame's columns: the headers of its CSV and Excel downloads
NEW_USERS_COLUMNS = {**DIMENSION_LABELS, "new_users": "New users"}  # the period (day, week, month), the breakdown


def new_users_columns(request: ChartRequest) -> dict[str, str]:
    """Return the new-users chart's column labels (per week or month: its days in the period, partial or not)."""
    grain, _ = _page_params(request)
    noun = view.GRAIN_LABELS[grain].lower()
    return {**NEW_USERS_COLUMNS, DAYS_IN_PERIOD: "Days in period", PARTIAL: f"Partial {noun}"}

USERS_BY_COLUMNS = {**DIMENSION_LABELS, "users": "New users", "payers": "Paying users", "payer_share": "Payer share"}
PAYING_CHANNELS_COLUMNS = {"channel": "Channel", "new_users": "New users", "payers": "Paying users",
                           "payer_share": "Payer share", "spend": "Attributed spend ($)", "cac": "CAC ($)",
                           "cost_per_payer": "Cost per paying user ($)"}

CHARTS = (
    Chart(AcquisitionIds.NEW_USERS, "New users over time", terms("new_users"),
          new_users_frame, new_users_view, params=("breakdown", "grain"), empty_message=NO_NEW_USERS,
          controls=view.page_controls, columns=new_users_columns),
    *(Chart(name, f"Users and payer share by {DIMENSION_LABELS[dimension].lower()}",
            terms("new_users", "payer_share"), users_by_frame(dimension),
            users_by_view(dimension), empty_message=NO_NEW_USERS, min_height=240, columns=USERS_BY_COLUMNS)
      for name, dimension in view.BY_DIMENSION_CHARTS),
    Chart(AcquisitionIds.PAYING_CHANNELS, "Which channels bring paying users",
          terms("new_users", "payer_share", "acquisition_cost", "cac", "cost_per_payer"),
          paying_channels_frame, view_only(view.paying_channels_grid),
          empty_message="No new users and no spend in the period for these filters.", min_height=200,
          columns=PAYING_CHANNELS_COLUMNS),
)
