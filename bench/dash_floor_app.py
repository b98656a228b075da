"""The Dash floor of `bench/browser_bench.py`: a minimal Dash app that redraws given figures after a dropdown change.

    python bench/dash_floor_app.py --figures FILE.json --port 8099

FILE.json (written by the bench before each load) holds {"before": [figure, ...], "after": [figure, ...],
"sizes": [[width, height], ...]}: the page's figures before and after a filter change on the dashboard, and their
graphs' sizes. The page (read from the file at each load) has a dropdown with the dashboard's id (`filter-channel`,
one option) and one dcc.Graph per figure, with the dashboard's graph config, in a div of the dashboard graph's size,
showing "before"; choosing the option runs one server callback that answers "after" for every graph (the file's
figures, parsed once per file version: no database, no computation). The bench times that change exactly as it times
the dashboard's: Dash's own cost of one request, its answer and the redraws, with nothing else on the page.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dash import ALL, Dash, Input, Output, dcc, html

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from layouts.common import GRAPH_CONFIG  # noqa: E402 - the dashboard's graph config, so the floor draws alike


def create_floor_app(figures_file: Path) -> Dash:
    """Return the Dash floor app of the figures in `figures_file` (read again when the file changes)."""
    app = Dash(__name__, assets_ignore=".*", serve_locally=True)
    read = {"mtime": None, "figures": None}

    def figures() -> dict:
        mtime = figures_file.stat().st_mtime_ns
        if read["mtime"] != mtime:
            read.update(mtime=mtime, figures=json.loads(figures_file.read_text(encoding="utf-8")))
        return read["figures"]

    def layout():
        current = figures()
        graphs = [html.Div(dcc.Graph(id={"type": "floor-graph", "index": i}, figure=figure, config=GRAPH_CONFIG,
                                     style={"width": f"{width}px", "height": f"{height}px"}),
                           id=f"g{i}-body")
                  for i, (figure, (width, height)) in enumerate(zip(current["before"], current["sizes"]))]
        return html.Div([dcc.Dropdown(id="filter-channel", options=[{"label": "Change", "value": "change"}],
                                      multi=True, style={"width": "300px"}),
                         html.Div(graphs, id="page-content")])

    app.layout = layout

    @app.callback(Output({"type": "floor-graph", "index": ALL}, "figure"), Input("filter-channel", "value"),
                  prevent_initial_call=True)
    def _redraw(value):
        return figures()["after"]

    return app


def main() -> None:
    """Serve the Dash floor app (Flask's threaded server, as `python app.py` runs the dashboard in the bench)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--figures", type=Path, required=True, help="the figures file the bench writes")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    create_floor_app(args.figures).run(host="127.0.0.1", port=args.port, debug=False)


if __name__ == "__main__":
    main()
