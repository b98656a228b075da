"""The Dash floor of the browser bench (bench/dash_floor_app.py): its page shows the figures before the change, in
graphs of the given sizes behind the dashboard's Channel dropdown id, and its one callback answers the figures after."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _figure(y: list[int]) -> dict:
    """Return a one-line figure of `y`."""
    return {"data": [{"type": "scatter", "y": y}], "layout": {"title": {"text": f"y={y}"}}}


def test_dfl001_the_floor_page_shows_before_and_its_callback_answers_after(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    from dash_floor_app import create_floor_app

    figures = tmp_path / "figures.json"
    before, after = [_figure([1, 2]), _figure([3, 4])], [_figure([5, 6]), _figure([7, 8])]
    figures.write_text(json.dumps({"before": before, "after": after, "sizes": [[400, 300], [600, 450]]}))
    app = create_floor_app(figures)
    client = app.server.test_client()
    layout = client.get("/_dash-layout").get_json()
    text = json.dumps(layout)
    assert '"filter-channel"' in text and '"page-content"' in text
    graphs = layout["props"]["children"][1]["props"]["children"]
    assert [g["props"]["id"] for g in graphs] == ["g0-body", "g1-body"]
    assert [g["props"]["children"]["props"]["figure"] for g in graphs] == before
    assert graphs[1]["props"]["children"]["props"]["style"] == {"width": "600px", "height": "450px"}
    output = '{"index":["ALL"],"type":"floor-graph"}.figure'
    body = {"output": output, "outputs": [{"id": {"index": i, "type": "floor-graph"}, "property": "figure"}
                                          for i in range(2)],
            "inputs": [{"id": "filter-channel", "property": "value", "value": ["change"]}],
            "changedPropIds": ["filter-channel.value"], "state": []}
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200
    sent = answer.get_json()["response"]
    assert [sent[json.dumps({"index": i, "type": "floor-graph"}, separators=(",", ":"))]["figure"]
            for i in range(2)] == after
    sys.modules.pop("dash_floor_app", None)
