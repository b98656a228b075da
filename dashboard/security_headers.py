"""Security headers on every response of the app's server: a Content-Security-Policy Dash works under, nosniff,
no framing, a same-origin referrer.

The policy allows scripts from the app's own origin and, inline, only the scripts Dash itself writes into its index
page (its renderer start and any inline clientside callback), by their hashes (`Dash.csp_hashes`). Styles may be
inline (Plotly and the grid set style attributes); images may be data: and blob: URLs (Plotly's icons and
downloads). Nothing may frame the app (frame-ancestors 'none' and X-Frame-Options: DENY).
"""

from __future__ import annotations

from dash import Dash
from flask import Response

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def content_security_policy(script_hashes: list[str]) -> str:
    """Return the Content-Security-Policy value allowing the app's own scripts and the inline `script_hashes`."""
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def register_security_headers(app: Dash) -> None:
    """Add the headers above to every response of `app.server` (the policy's hashes computed at the first answer,
    when every clientside callback is declared)."""
    policy: list[str] = []

    @app.server.after_request
    def _add_security_headers(response: Response) -> Response:
        """Return `response` with the security headers (kept where a route set its own)."""
        if not policy:
            policy.append(content_security_policy(list(app.csp_hashes())))
        response.headers.setdefault("Content-Security-Policy", policy[0])
        for name, value in STATIC_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
