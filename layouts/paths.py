"""The app's paths under its URL prefix: behind a proxy the app may live at /prefix/ (DASH_URL_BASE_PATHNAME, or
DASH_REQUESTS_PATHNAME_PREFIX when the proxy removes the prefix), so every link of the app is made with `app_path`
and every routed path read with `page_path`, the prefix of the app serving the request (create_app keeps it in
the Flask config under PREFIX_KEY; "/" outside a request)."""

from __future__ import annotations

from dash._get_paths import app_get_relative_path, app_strip_relative_path
from dash.exceptions import UnsupportedRelativePath
from flask import current_app, has_request_context

PREFIX_KEY = "DASHBOARD_REQUESTS_PATHNAME_PREFIX"


def requests_prefix() -> str:
    """Return the path prefix browsers use for the app serving the current request ("/" when none)."""
    if has_request_context():
        return current_app.config.get(PREFIX_KEY) or "/"
    return "/"


def app_path(path: str) -> str:
    """Return the browser path of app path `path` ("/risk", "/data#scores"): the prefix, then the path."""
    return app_get_relative_path(requests_prefix(), path)


def page_path(pathname: str | None) -> str | None:
    """Return the app path ("/", "/risk") of a browser path ("/prefix/risk/"), None for a path outside the prefix."""
    try:
        stripped = app_strip_relative_path(requests_prefix(), pathname or requests_prefix())
    except UnsupportedRelativePath:
        return None
    return "/" + (stripped or "")
