"""Component ids, declared once: a class per view; chart cards derive theirs from the chart name."""

from __future__ import annotations


class ShellIds:
    """Ids of the components every page shares."""

    URL = "url"
    PAGE = "page-content"
    NAVBAR = "navbar"
    RESET = "filter-reset"


class FilterIds:
    """Ids of the global filter bar and of the validated filter state it writes."""

    BAR = "filter-bar"
    DATE_RANGE = "filter-date-range"
    COUNTRY = "filter-country"
    DEVICE = "filter-device"
    CHANNEL = "filter-channel"
    OBSERVATION_DATE = "filter-observation-date"
    HORIZON = "filter-horizon"
    OBSERVATION_GROUP = "filter-observation-group"
    HORIZON_GROUP = "filter-horizon-group"
    NOTES = "filter-notes"
    STATE = "filter-state"  # dcc.Store: the validated filters every chart reads


class OverviewIds:
    """Chart names of the Overview page."""

    KPIS = "overview-kpis"
    ACTIVITY = "overview-activity"
    REVENUE_SPEND = "overview-revenue-spend"


class AcquisitionIds:
    """Chart names and controls of the Acquisition page."""

    NEW_USERS = "acq-new-users"
    BY_COUNTRY = "acq-by-country"
    BY_DEVICE = "acq-by-device"
    BY_CHANNEL = "acq-by-channel"
    PAYING_CHANNELS = "acq-paying-channels"


def nav_link_id(path: str) -> dict:
    """Return the id of the navbar link to `path` (pattern-matching, so pages can be added freely)."""
    return {"type": "nav-link", "path": path}


def page_param_id(name: str) -> dict:
    """Return the id of the control holding page-specific URL parameter `name` (e.g. breakdown)."""
    return {"type": "page-param", "name": name}


def chart_body_id(name: str) -> str:
    """Return the id of the Div a chart's callback fills (figure, table or empty state)."""
    return f"{name}-body"


def chart_graph_id(name: str) -> str:
    """Return the id of the dcc.Graph (or AgGrid) inside chart `name`."""
    return f"{name}-graph"


def csv_button_id(name: str) -> str:
    """Return the id of chart `name`'s CSV download button."""
    return f"{name}-csv"


def csv_download_id(name: str) -> str:
    """Return the id of chart `name`'s dcc.Download."""
    return f"{name}-download"
