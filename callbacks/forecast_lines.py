"""The forecast that continues a time chart (the Overview's activity and revenue charts, Marketing's spend over
time): which series a chart's forecast continues under its filters, and that series' forecast rows."""

from __future__ import annotations

import pandas as pd

from layouts.charts import ChartRequest
from layouts.overview import DEFAULT_FORECAST
from ml.api.forecast_reads import series_forecast
from ml.api.schemas import ApiProblem
from ml.forecast_series import DEFAULT_HORIZON_DAYS, TOTAL

FORECAST_DAYS = DEFAULT_HORIZON_DAYS  # a time chart's forecast: the next 28 days after the data's last date
FILTER_HIDES_FORECAST = "Forecast shown without country or device filters."
CHANNELS_HIDE_FORECAST = "Forecast shown for all channels or for one channel."


def forecast_channel(request: ChartRequest) -> tuple[str | None, str | None]:
    """Return (the channel of the series a time chart's forecast continues: "All", or the one channel chosen; None
    when it shows none, the line saying why or None): a forecast needs the page's `forecast` on, a period ending
    on the data's last date (as observed then) and no country or device filter (series are totals or per channel)."""
    if (request.params.get("forecast") or DEFAULT_FORECAST) != "on":
        return None, None
    state, last = request.state, request.bounds.last_date
    if state.end != last or state.observation_date != last:
        return None, None
    if state.countries or state.devices:
        return None, FILTER_HIDES_FORECAST
    if len(state.channels) > 1:
        return None, CHANNELS_HIDE_FORECAST
    return (state.channels[0] if state.channels else TOTAL), None


def forecast_rows(request: ChartRequest, metric: str, channel: str) -> pd.DataFrame | None:
    """Return the forecast of `metric` for `channel` over the FORECAST_DAYS after the data's last date: date, mean,
    lo80, hi80, lo95, hi95 (ml.api.forecast_reads.series_forecast, memoized per data version); None when that series
    has no forecast (no spend of an organic channel, too little history)."""
    # the forecast depends on the data alone (its version), not on the filters: read without recording state fields
    # (callbacks.charts.ReadsRecorder.unrecorded; a plain MetricReader records nothing anyway)
    reader = getattr(request.read, "unrecorded", request.read)
    try:
        rows = series_forecast(reader, metric, channel, FORECAST_DAYS)
    except ApiProblem:
        return None
    if rows.origin != request.bounds.last_date or not rows.items:
        return None
    frame = pd.DataFrame([item.model_dump() for item in rows.items])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame
