"""The Dash app: `create_app(config)` builds it; `server` is the Flask app for `gunicorn app:server`.

`python app.py` runs the development server on http://127.0.0.1:8050 (HOST and PORT change it; debug only with
DASHBOARD_DEBUG=1).
"""

from __future__ import annotations

import logging

import dash_bootstrap_components as dbc
from dash import Dash

from callbacks import register_callbacks
from callbacks.warmup import start_cache_warmer
from dashboard.bootstrap import prepare_default_database
from dashboard.config import Config
from dashboard.context import AppContext
from dashboard.memory import freeze_startup_objects
from callbacks.request_guards import register_request_guards
from dashboard.server_routes import register_server_routes
from dashboard.auth_startup import check_open_bind
from dashboard.web_auth import register_auth
from callbacks.pages import app_layout
from layouts.paths import PREFIX_KEY
from ml import demo_model
from ml.api import register_api

log = logging.getLogger(__name__)


def create_app(config: Config | None = None) -> Dash:
    """Return a configured Dash app: layout, callbacks, /health, /ready, the API, the guards on the Dash endpoints,
    and the cache warm-up thread when config.cache_warm is set; the objects alive at the end are frozen for the
    garbage collector (dashboard/memory.py)."""
    config = config or Config.from_env()
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prepare_default_database(config)
    ctx = AppContext.from_config(config)
    app = Dash(
        __name__,
        title="Marketing analytics",
        update_title=None,
        suppress_callback_exceptions=True,
        external_stylesheets=[],  # Bootstrap CSS is served from assets/ (works offline)
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = app_layout
    app.server.config[PREFIX_KEY] = app.config.requests_pathname_prefix  # links and routing: layouts/paths.py
    register_callbacks(app, ctx)
    register_server_routes(app.server, ctx)
    register_api(app.server, ctx)
    register_request_guards(app)  # crafted callback requests: 413 / 400 / 404, never 500
    register_auth(app, ctx)  # sign-in, roles, CSRF, security headers (dashboard/web_auth.py); open without accounts
    app.server.extensions["dashboard_context"] = ctx
    if config.cache_warm:
        start_cache_warmer(ctx)
    demo_model.start_background(config)  # only after a first start filled the demo (or a run was cut off)
    _ = dbc  # dash-bootstrap-components registers its component suite on import
    # the modules, layout and callbacks loaded so far live as long as the process: full garbage collections skip them
    # (about 150 ms less per collection, which holds every request thread; dashboard/memory.py)
    freeze_startup_objects()
    return app


_default_app: Dash | None = None


def __getattr__(name: str):
    """Build the module-level `app` and `server` on first access (so importing create_app has no side effects)."""
    global _default_app
    if name in ("app", "server"):
        if _default_app is None:
            _default_app = create_app()
        return _default_app if name == "app" else _default_app.server
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def check_dev_server(config: Config) -> None:
    """Refuse Dash's debug mode on a non-local address: its debugger runs any code a visitor sends."""
    if config.debug and config.host not in LOCAL_HOSTS:
        raise SystemExit(f"DASHBOARD_DEBUG=1 is only allowed on a local address (127.0.0.1, localhost, ::1), "
                         f"not HOST={config.host}: the debugger would let anyone on the network run code")


if __name__ == "__main__":
    dev_config = Config.from_env()
    check_dev_server(dev_config)
    check_open_bind(dev_config)  # no account on a non-loopback HOST: refused unless AUTH_DISABLED=1
    dev_app = create_app(dev_config)
    dev_app.run(host=dev_config.host, port=dev_config.port, debug=dev_config.debug)
