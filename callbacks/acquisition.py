"""Acquisition page callbacks: filters and page parameters -> metrics (through the cache) -> layouts.acquisition."""

from __future__ import annotations

import pandas as pd
from dash import Dash

import metrics
from callbacks.filters import ChartRequest, register_chart
from dashboard.context import AppContext
from layouts import acquisition as view
from layouts.ids import AcquisitionIds


def _page_params(request: ChartRequest) -> tuple[str, str]:
    """Return (grain, metric dimension) of the request's page parameters (defaults for unknown values)."""
    defaults = {p.name: p for p in view.PAGE_PARAMS}
    breakdown = request.params.get("breakdown")
    grain = request.params.get("grain")
    breakdown = breakdown if breakdown in defaults["breakdown"].values else defaults["breakdown"].default
    grain = grain if grain in defaults["grain"].values else defaults["grain"].default
    return grain, view.BREAKDOWN_DIMENSIONS[breakdown]


def new_users_frame(request: ChartRequest) -> pd.DataFrame:
    """Return new users per period and breakdown value (what the new-users chart shows)."""
    grain, dimension = _page_params(request)
    raw = request.read(metrics.new_users, request.filters, dimensions=(grain, dimension))
    return view.new_users_table(raw, grain, dimension)


def new_users_view(frame: pd.DataFrame, request: ChartRequest):
    """Return the new-users figure."""
    grain, dimension = _page_params(request)
    return view.new_users_figure(frame, grain, dimension, request.palette)


def users_by_frame(dimension: str):
    """Return the frame function of the users-and-payer-share chart by `dimension`."""
    def frame(request: ChartRequest) -> pd.DataFrame:
        raw = request.read(metrics.new_users, request.filters, dimensions=(dimension, "payer"))
        return view.users_by_table(raw, dimension)
    frame.__name__ = frame.__qualname__ = f"users_by_{dimension}_frame"
    return frame


def paying_channels_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the per-channel payers table (what the paying-channels grid shows)."""
    users = request.read(metrics.new_users, request.filters, dimensions=("channel", "payer"))
    economics = request.read(metrics.channel_economics, request.filters)
    return view.paying_channels_table(users, economics)


def register(app: Dash, ctx: AppContext) -> None:
    """Register the Acquisition page's chart callbacks."""
    register_chart(app, ctx, AcquisitionIds.NEW_USERS, new_users_frame, new_users_view,
                   params=("breakdown", "grain"), empty_message="No new users in the period for these filters.")
    for name, dimension in view.BY_DIMENSION_CHARTS:
        register_chart(app, ctx, name, users_by_frame(dimension),
                       lambda frame, request, d=dimension: view.users_by_figure(frame, d, request.palette),
                       empty_message="No new users in the period for these filters.")
    register_chart(app, ctx, AcquisitionIds.PAYING_CHANNELS, paying_channels_frame,
                   lambda frame, _: view.paying_channels_grid(frame),
                   empty_message="No new users and no spend in the period for these filters.")
