"""Security headers (issue 19): every kind of response carries the Content-Security-Policy (inline scripts only by
the hashes of the ones Dash writes), nosniff, no framing and a same-origin referrer. Real app, SQLite file."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from dashboard.accounts import Role
from tests.app.auth_helpers import add_account, make_app, sign_in

HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}


def directives(policy: str) -> dict[str, list[str]]:
    """Return {directive: its values} of a Content-Security-Policy value."""
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


@pytest.fixture
def signed_in(tmp_path):
    """(app, test client signed in as an admin) on a SQLite file."""
    url = f"sqlite:///{tmp_path / 'headers.sqlite'}"
    add_account(url, "ann", Role.ADMIN)
    app = make_app(url, tmp_path)
    client = app.server.test_client()
    assert sign_in(client, "ann").status_code == 302
    return app, client


def test_sh001_every_kind_of_answer_carries_the_headers(signed_in):
    app, client = signed_in
    anonymous = app.server.test_client()
    answers = {
        "page": client.get("/"), "layout": client.get("/_dash-layout"), "api": client.get("/api/v1/models"),
        "api 404": client.get("/api/v1/nope"), "asset": client.get("/assets/style.css"),
        "health": client.get("/health"), "login": anonymous.get("/login"), "401": anonymous.get("/api/v1/models"),
        "redirect": anonymous.get("/risk"), "csrf 400": client.post("/_dash-update-component", json={}),
    }
    assert [answers[k].status_code for k in answers] == [200, 200, 200, 404, 200, 200, 200, 401, 302, 400]
    for kind, answer in answers.items():
        for name, value in HEADERS.items():
            assert answer.headers.get(name) == value, (kind, name)
        policy = directives(answer.headers["Content-Security-Policy"])
        assert policy["frame-ancestors"] == ["'none'"], kind
        assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"], kind
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"], kind


def test_sh002_the_policy_allows_exactly_the_inline_scripts_of_dash_index(signed_in):
    app, client = signed_in
    index = client.get("/")
    policy = directives(index.headers["Content-Security-Policy"])
    html = re.sub(r"<!--.*?-->", "", index.get_data(as_text=True), flags=re.S)  # e.g. the [if IE] note
    inline = [body for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
              if "src=" not in attributes and "application/json" not in attributes]
    assert inline, "Dash's index has its renderer start inline"
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        assert f"'sha256-{digest}'" in policy["script-src"], body[:80]
    assert set(policy["script-src"]) == {"'self'", *app.csp_hashes()}
