"""The human-readable docs page of the REST API (GET /api/v1/docs): plain HTML rendered from the OpenAPI
document, no scripts and no external assets.
"""

from __future__ import annotations

import html
import json

from ml.api.schemas import API_PREFIX, MAX_BATCH

STYLE = ("<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
         "line-height:1.45}code,pre{background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}"
         "pre{padding:.6rem;overflow-x:auto}table{border-collapse:collapse;margin:.5rem 0}"
         "td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}"
         "h2{border-top:1px solid #ddd;padding-top:1rem}.m{font-weight:bold;color:#064}</style>")
AUTH_SECTION = ("<h2>Getting a token</h2><p>Once the dashboard has accounts, every route below except this page "
                "and <code>openapi.json</code> needs a token (or the session of a browser signed in to the "
                "dashboard). An administrator creates one on the server with <code>python -m dashboard tokens create "
                "NAME --account ACCOUNT --scope read --expires-days 90</code> (it prints the token once; only its hash "
                "is kept), or on the dashboard's Data page. The token has the rights of its account's role (viewer: "
                "models and forecasts; analyst: also customer risk, scoring and segments); scope <code>read</code> "
                "allows the GET routes, <code>score</code> also the POST routes. Send it in the Authorization "
                "header:</p><pre>TOKEN=$(python -m dashboard tokens create nightly-export --account alice "
                "--scope read)\n"
                "curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8050" + API_PREFIX + "/models</pre>"
                "<p>Without a valid token the answer is 401 with <code>WWW-Authenticate: Bearer</code>; a role or "
                "scope that does not allow the route gets 403. <code>python -m dashboard tokens list</code> and "
                "<code>tokens revoke ID</code> manage tokens. While the dashboard has no account at all (its open "
                "local mode) no token is needed.</p>")
ERRORS_SECTION = ("<h2>Errors</h2><p>Every error is JSON: <code>{\"error\": \"bad_request\", \"message\": "
                  "\"limit: must be &lt;= 1000\", \"errors\": [{\"field\": \"limit\", \"message\": "
                  "\"must be &lt;= 1000\"}]}</code>. Bad input is 400 and names the field; unknown customer 404; "
                  "wrong method 405; body over 1 MB 413; non-JSON body 415; no scores, no model or no database 503."
                  "</p>")


def _parameters_table(params: list[dict]) -> list[str]:
    """Return the HTML rows of an operation's parameter table (empty without parameters)."""
    if not params:
        return []
    rows = ["<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>"]
    for p in params:
        schema = p.get("schema", {})
        kind = schema.get("type") or " | ".join(
            str(s.get("enum") or s.get("type") or s.get("format")) for s in schema.get("anyOf", []))
        extra = ", ".join(f"{k} {schema[k]}" for k in ("minimum", "maximum", "default") if schema.get(k) is not None)
        rows.append(f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{html.escape(p['in'])}</td>"
                    f"<td>{html.escape(str(kind))}</td><td>{html.escape(p.get('description', ''))}"
                    f"{(' (' + html.escape(extra) + ')') if extra else ''}</td></tr>")
    rows.append("</table>")
    return rows


def _body_section(body: dict, schemas: dict) -> list[str]:
    """Return the HTML of a JSON request body: its schema name, a field table and the example."""
    esc = html.escape
    content = body["content"]["application/json"]
    batch = "oneOf" in content["schema"]  # one object, or a list of them
    name = (content["schema"]["oneOf"][0] if batch else content["schema"])["$ref"].rsplit("/", 1)[-1]
    fields = schemas.get(name, {}).get("properties", {})
    required = set(schemas.get(name, {}).get("required", []))
    shape = f"one object, or a list of up to {MAX_BATCH}" if batch else "one object"
    parts = [f"<p>JSON body: <code>{esc(name)}</code> ({shape})"
             "; unknown fields are rejected.</p>",
             "<table><tr><th>field</th><th>type</th><th>required</th></tr>"]
    for field_name, prop in fields.items():
        kind = prop.get("type") or "string or null"
        parts.append(f"<tr><td><code>{esc(field_name)}</code></td><td>{esc(str(kind))}</td>"
                     f"<td>{'yes' if field_name in required else 'no'}</td></tr>")
    parts.append("</table>")
    if "example" in content:
        parts.append(f"<pre>{esc(json.dumps(content['example'], indent=1))}</pre>")
    return parts


def docs_html(spec: dict, curl_examples: dict[str, str]) -> str:
    """Return the plain-HTML docs page for an OpenAPI document, with a curl line per operationId."""
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(spec['info']['title'])}</title>",
        STYLE + "</head><body>",
        f"<h1>{esc(spec['info']['title'])}</h1>",
        f"<p>Version {esc(spec['info']['version'])}. {esc(spec['info']['description'])} "
        f"Machine-readable: <a href='{API_PREFIX}/openapi.json'>{API_PREFIX}/openapi.json</a>.</p>",
    ]
    parts.append(AUTH_SECTION)
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            parts.append(f"<h2><span class='m'>{method.upper()}</span> <code>{esc(path)}</code></h2>")
            parts.append(f"<p>{esc(op['summary'])}</p>")
            parts.extend(_parameters_table(op.get("parameters") or []))
            if op.get("requestBody"):
                parts.extend(_body_section(op["requestBody"], schemas))
            responses = op.get("responses", {})
            parts.append("<p>Responses: " + ", ".join(
                f"<b>{esc(code)}</b> {esc(r['description'])}" for code, r in responses.items()) + "</p>")
            for code, r in responses.items():
                example = r.get("content", {}).get("application/json", {}).get("example")
                if example is not None:
                    parts.append(f"<p>Example {esc(code)} answer:</p><pre>{esc(json.dumps(example, indent=1))}</pre>")
            if op.get("operationId") in curl_examples:
                parts.append(f"<pre>{esc(curl_examples[op['operationId']])}</pre>")
    parts.append(ERRORS_SECTION)
    parts.append("</body></html>")
    return "".join(parts)
