"""The HTML of the sign-in and sign-out pages (Jinja templates rendered by `dashboard.web_auth`, auto-escaped)."""

from __future__ import annotations

from flask import render_template_string
from markupsafe import Markup

_FRAME = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · Marketing analytics</title>
<link rel="stylesheet" href="{{ assets }}bootstrap.min.css">
<link rel="stylesheet" href="{{ assets }}style.css">
</head>
<body class="bg-light">
<main class="container" style="max-width: 26rem; margin-top: 10vh;">
<h1 class="h4 mb-3">Marketing analytics</h1>
{% if message %}<div class="alert alert-{{ tone }}" role="alert" id="auth-message">{{ message }}</div>{% endif %}
{{ body }}
</main>
</body>
</html>
"""

_SIGN_IN = """<form method="post" action="{{ action }}" class="card card-body" id="login-form">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<input type="hidden" name="next" value="{{ next }}">
<div class="mb-3">
<label for="username" class="form-label">User name</label>
<input type="text" class="form-control" id="username" name="username" value="{{ username }}" maxlength="64"
 autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
</div>
<div class="mb-3">
<label for="password" class="form-label">Password</label>
<input type="password" class="form-control" id="password" name="password" maxlength="1024"
 autocomplete="current-password" required>
</div>
<button type="submit" class="btn btn-primary" id="sign-in">Sign in</button>
</form>
<p class="text-muted small mt-3">No account? An administrator creates one with
<code>python -m dashboard users add NAME --role viewer</code>.</p>
"""

_SIGN_OUT = """<form method="post" action="{{ action }}" class="card card-body" id="logout-form">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<p>Signed in as <b>{{ name }}</b> ({{ role }}).</p>
<button type="submit" class="btn btn-secondary" id="sign-out">Sign out</button>
</form>
"""


def _page(title: str, body: str, assets: str, message: str = "", tone: str = "danger") -> str:
    """Return a full HTML page around the already rendered `body`."""
    return render_template_string(_FRAME, title=title, body=Markup(body), assets=assets, message=message, tone=tone)


def sign_in_page(*, action: str, assets: str, csrf_token: str, next_path: str, username: str = "",
                 message: str = "") -> str:
    """Return the sign-in page: a form posting username, password, csrf_token and next to `action`."""
    body = render_template_string(_SIGN_IN, action=action, csrf_token=csrf_token, next=next_path, username=username)
    return _page("Sign in", body, assets, message)


def sign_out_page(*, action: str, assets: str, csrf_token: str, name: str, role: str) -> str:
    """Return the page with the sign-out button of account `name`."""
    body = render_template_string(_SIGN_OUT, action=action, csrf_token=csrf_token, name=name, role=role)
    return _page("Sign out", body, assets)
