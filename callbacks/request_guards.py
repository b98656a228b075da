"""Guards on the Dash endpoints: what a crafted request may send, checked before Dash dispatches it.

A browser running the app only ever sends well-formed callback envelopes; anything else is a crafted request.
`register_request_guards(app)` adds to the app's Flask server:

- a body limit on `POST /_dash-update-component` (`MAX_CALLBACK_BODY_BYTES`): larger bodies are answered 413
  before they are read into memory (also without a Content-Length, i.e. chunked);
- a check of the callback envelope against the callback it names (`callback_envelope_error`): JSON object,
  known server-side output, the inputs, state and outputs the callback declares (ids, properties, the same
  components for every pattern-matching ALL dependency), `changedPropIds` naming those inputs, and the JSON
  type and size of each value (`value_rules`). A wrong envelope is answered 400 with the reason, never 500;
- 400 for `BadCallbackInput`, raised by callbacks for values that are not what the component sends (e.g. a
  filter state that is not an object); values of the right type but out of range (horizon 200000, a date in
  2600, an unknown channel) are not refused: callbacks clamp them by the URL's rules (layouts.filters);
- 404 for `/_dash-component-suites/...` paths Dash does not serve (Dash raises DependencyException: a 500).

Errors a guard does not recognise keep their 500 and their traceback in the log: only request shapes a browser
cannot produce are mapped to 400/404.
"""

from __future__ import annotations

import json
import logging
import math
from functools import lru_cache
from typing import Any, Callable

from dash import Dash
from dash.exceptions import DependencyException
from flask import Flask, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from dashboard.config import MAX_CALLBACK_BODY_BYTES  # noqa: F401 - re-exported: the limit the guards apply
from dashboard.context import marker_kind
from layouts.filters import MAX_LIST_VALUES, MAX_VALUE_LENGTH, store_shape_error
from layouts.ids import FilterIds, RiskIds, ShellIds

log = logging.getLogger(__name__)

MAX_PATTERN_ITEMS = 200  # components one pattern-matching (ALL) dependency may list
MAX_CHANGED_PROPS = 100
MAX_ID_TEXT = 1000  # characters of an output string, prop id or id value
UPDATE_COMPONENT = "_dash-update-component"


class BadCallbackInput(ValueError):
    """A callback input no browser would send (answered 400 with this message)."""


# ----------------------------------------------------------------------------------------------- value rules


def _text_or_none(max_length: int) -> Callable[[Any], str | None]:
    """Return a rule accepting None or a text of at most `max_length` characters."""
    def rule(value: Any) -> str | None:
        if value is None or isinstance(value, str) and len(value) <= max_length:
            return None
        return f"must be a text of at most {max_length} characters or null"
    return rule


def _count_or_none(value: Any) -> str | None:
    """Accept None or a whole number >= 0 (n_clicks, n_intervals)."""
    if value is None or isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return None
    return "must be a whole number >= 0 or null"


def _horizon_value(value: Any) -> str | None:
    """Accept what a number input sends: null, a number or a short text (range checked by the callback)."""
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) or isinstance(value, str) and len(value) <= 40:
        return None
    return "must be a number of days, a short text or null"


def _dropdown_values(value: Any) -> str | None:
    """Accept what a multi-select dropdown sends: null, one text or a bounded list of texts."""
    if value is None or isinstance(value, str) and len(value) <= MAX_VALUE_LENGTH:
        return None
    if isinstance(value, list) and len(value) <= MAX_LIST_VALUES and all(
            isinstance(v, str) and len(v) <= MAX_VALUE_LENGTH for v in value):
        return None
    return f"must be null, a text or a list of at most {MAX_LIST_VALUES} texts of {MAX_VALUE_LENGTH} characters"


def _filter_state(value: Any) -> str | None:
    """Accept null, a filter state object (layouts.filters.store_shape_error; values are clamped later) or the
    marker the filter sync writes while the database does not answer (dashboard.context.unavailable_marker)."""
    if value is None or (marker_kind(value) is not None and len(value) == 1):
        return None
    return store_shape_error(value)


def _list_or_none(value: Any) -> str | None:
    """Accept null or a list (grid rows)."""
    return None if value is None or isinstance(value, list) else "must be a list or null"


def _boolean_or_none(value: Any) -> str | None:
    """Accept null or true/false."""
    return None if value is None or isinstance(value, bool) else "must be true, false or null"


@lru_cache(maxsize=1)
def value_rules() -> dict[tuple[str, str], Callable[[Any], str | None]]:
    """Return {(component id or pattern type, property): rule} of every value a callback of this app reads."""
    date_text = _text_or_none(40)
    return {
        (ShellIds.URL, "search"): _text_or_none(8192),
        (ShellIds.URL, "pathname"): _text_or_none(2048),
        (FilterIds.STATE, "data"): _filter_state,
        (FilterIds.DATE_RANGE, "start_date"): date_text,
        (FilterIds.DATE_RANGE, "end_date"): date_text,
        (FilterIds.OBSERVATION_DATE, "date"): date_text,
        (FilterIds.HORIZON, "value"): _horizon_value,
        (FilterIds.COUNTRY, "value"): _dropdown_values,
        (FilterIds.DEVICE, "value"): _dropdown_values,
        (FilterIds.CHANNEL, "value"): _dropdown_values,
        ("page-param", "value"): _text_or_none(100),
        ("*", "n_clicks"): _count_or_none,
        ("*", "n_intervals"): _count_or_none,
        ("*", "rowData"): _list_or_none,
        ("*", "columnDefs"): _list_or_none,
        ("*", "options"): _list_or_none,  # dropdown options a callback compares with what it would send
        ("*", "id"): lambda value: None,  # pattern ids: checked against the pattern itself
        (RiskIds.DEMO_FINISHED, "data"): _boolean_or_none,
    }


def value_error(component: str, prop: str, value: Any) -> str | None:
    """Return why `value` is not what component `component` (id or pattern type) sends for `prop`, or None."""
    rules = value_rules()
    rule = rules.get((component, prop)) or rules.get(("*", prop))
    return rule(value) if rule is not None else None


# ----------------------------------------------------------------------------------------------- the envelope


def _is_wildcard(value: Any) -> bool:
    """True for a pattern-matching wildcard as the callback map spells it (["ALL"], ["MATCH"], ...)."""
    return isinstance(value, list) and len(value) == 1 and value[0] in ("ALL", "MATCH", "ALLSMALLER")


def _pattern_of(declared_id: str) -> dict | None:
    """Return the pattern dict of a declared pattern-matching id (JSON text), None for a plain id."""
    if not declared_id.startswith("{"):
        return None
    return json.loads(declared_id)


def _stringify_id(component_id: Any) -> str:
    """Return an id as Dash writes it into prop ids (dict ids: sorted compact JSON)."""
    if isinstance(component_id, dict):
        return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return str(component_id)


def _matches_pattern(component_id: Any, pattern: dict) -> bool:
    """True when a concrete dict id fits `pattern`: same keys, equal fixed values, short texts or numbers for
    wildcards."""
    if not isinstance(component_id, dict) or set(component_id) != set(pattern):
        return False
    for key, expected in pattern.items():
        value = component_id[key]
        if _is_wildcard(expected):
            if isinstance(value, bool) or not isinstance(value, (str, int, float)) or (
                    isinstance(value, str) and len(value) > MAX_ID_TEXT):
                return False
        elif value != expected:
            return False
    return True


def _dependency_error(where: str, declared: dict, sent: Any, check_value: bool,
                      pattern_items: dict[str, list[list[str]]], prop_ids: set[str]) -> str | None:
    """Return why `sent` is not the declared dependency {id, property} (or its list for a pattern), or None."""
    declared_id, prop = declared["id"], declared["property"]
    pattern = _pattern_of(declared_id)
    label = f"{where} {declared_id}.{prop}"
    if pattern is None:
        if not isinstance(sent, dict) or sent.get("id") != declared_id or sent.get("property") != prop:
            return f"{label}: expected {{id: {declared_id!r}, property: {prop!r}}}"
        if check_value:
            problem = value_error(declared_id, prop, sent.get("value"))
            if problem:
                return f"{label}: {problem}"
        prop_ids.add(f"{declared_id}.{prop}")
        return None
    wildcards = [k for k, v in pattern.items() if _is_wildcard(v)]
    is_all = bool(wildcards) and all(pattern[k] == ["ALL"] for k in wildcards)  # else one component: a dict
    items = sent if is_all else [sent]
    if not isinstance(items, list) or len(items) > MAX_PATTERN_ITEMS:
        return f"{label}: expected a list of at most {MAX_PATTERN_ITEMS} components"
    for item in items:
        if not isinstance(item, dict) or item.get("property") != prop or not _matches_pattern(item.get("id"), pattern):
            return f"{label}: a component does not match the pattern"
        if check_value:
            problem = value_error(str(pattern.get("type", declared_id)), prop, item.get("value"))
            if problem:
                return f"{label}: {problem}"
        prop_ids.add(f"{_stringify_id(item['id'])}.{prop}")
    if is_all:
        pattern_items.setdefault(declared_id, []).append([_stringify_id(item["id"]) for item in items])
    return None


def declared_outputs(callback: dict) -> list[dict]:
    """Return the callback's outputs as [{id, property}] (ids as the callback map spells them)."""
    outputs = callback["output"]
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [{"id": o.component_id_str(), "property": o.component_property} for o in outputs]


def callback_envelope_error(app: Dash, body: Any) -> str | None:
    """Return why `body` is not a callback request this app's renderer could send, or None when it is."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or len(output) > 20 * MAX_ID_TEXT:
        return "output: a text naming the callback's outputs is required"
    callback = app.callback_map.get(output)
    if callback is None or "callback" not in callback:
        return f"output: no server-side callback updates {output[:200]!r}"
    pattern_items: dict[str, list[list[str]]] = {}
    prop_ids: set[str] = set()
    for key, declared_list, check_value in (("inputs", callback["inputs"], True),
                                            ("state", callback["state"], True)):
        sent = body.get(key, [])
        if not isinstance(sent, list) or len(sent) != len(declared_list):
            return f"{key}: expected a list of {len(declared_list)} entries"
        for declared, item in zip(declared_list, sent):
            problem = _dependency_error(key, declared, item, check_value, pattern_items, prop_ids)
            if problem:
                return problem
    if not callback.get("no_output"):
        outputs = declared_outputs(callback)
        sent = body.get("outputs")
        sent_list = sent if output.startswith("..") else [sent]  # ".." marks a multi-output callback
        if not isinstance(sent_list, list) or len(sent_list) != len(outputs):
            return f"outputs: expected {len(outputs)} output(s)"
        for declared, item in zip(outputs, sent_list):
            problem = _dependency_error("outputs", declared, item, False, pattern_items, set())
            if problem:
                return problem
    for declared_id, lists in pattern_items.items():  # one ALL pattern = the same components everywhere
        if any(other != lists[0] for other in lists[1:]):
            return f"{declared_id}: the components listed differ between inputs, state and outputs"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or len(changed) > MAX_CHANGED_PROPS:
        return f"changedPropIds: expected a list of at most {MAX_CHANGED_PROPS} prop ids"
    unknown = [c for c in changed if not isinstance(c, str) or c not in prop_ids]
    if unknown:
        return f"changedPropIds: {str(unknown[0])[:200]!r} is not one of the callback's inputs"
    return None


# ----------------------------------------------------------------------------------------------- registration


def _error(status: int, code: str, message: str):
    """Return a JSON error answer {error, message} with `status`."""
    response = jsonify(error=code, message=message)
    response.status_code = status
    return response


def register_request_guards(app: Dash) -> None:
    """Add the body limit, the envelope check and the 400/404 answers described above to `app.server`."""
    server: Flask = app.server
    update_path = f"{app.config.routes_pathname_prefix}{UPDATE_COMPONENT}"

    @server.before_request
    def _guard_callback_request():
        if request.path != update_path or request.method != "POST":
            return None
        request.max_content_length = MAX_CALLBACK_BODY_BYTES
        try:
            raw = request.get_data(cache=True)  # Dash's get_json() reads the same cached bytes
        except RequestEntityTooLarge:
            return _error(413, "too_large", f"request body: at most {MAX_CALLBACK_BODY_BYTES} bytes")
        if not request.is_json:
            return _error(400, "bad_request", "request body: send JSON with Content-Type: application/json")
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            return _error(400, "bad_request", "request body: malformed JSON")
        problem = callback_envelope_error(app, body)
        if problem is not None:
            log.info("refused callback request: %s", problem)
            return _error(400, "bad_request", problem)
        return None

    @server.errorhandler(BadCallbackInput)
    def _bad_callback_input(exc: BadCallbackInput):
        log.info("refused callback input: %s", exc)
        return _error(400, "bad_request", str(exc))

    @server.errorhandler(DependencyException)
    def _unknown_component_file(exc: DependencyException):
        log.info("no component file at %s", request.path)
        return _error(404, "not_found", "no such component file")  # Dash's message lists every served path
