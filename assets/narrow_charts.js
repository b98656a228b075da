/* Narrow screens: every figure carries its narrow-screen form in layout.meta.narrow (built once in Python, by
   layouts/common.py `narrow_form`): {below: px, layout: {path: value}, traces: {trace type: {path: value}}}.
   While a graph is narrower than `below` px its layout paths and the attributes of its traces of that type take
   those values (legend under the plot, fewer ticks, heatmap numbers left to the hover); once it is wider again the
   saved values come back.
   - Before a draw: Plotly.react / Plotly.newPlot of a figure into a graph narrower than `below` px are given the
     figure in its narrow form (copies of the objects on the changed paths; the figure Dash holds is not changed),
     so a filter change draws a narrow chart once, not once wide and again narrow (a second whole draw: about
     40 ms per chart).
   - After a draw (plotly_afterplot), a graph whose width crossed `below` is adapted with Plotly.update, which
     emits no relayout event: the figure Dash holds stays the one the server sent. */
(function () {
    "use strict";

    function valueAt(object, path) {  // "annotations[2].font.size" -> object.annotations[2].font.size
        return path.replace(/\[(\d+)\]/g, ".$1").split(".")
            .reduce(function (o, key) { return o == null ? undefined : o[key]; }, object);
    }

    function same(a, b) {
        if (a == null && b == null) { return true; }
        return JSON.stringify(a) === JSON.stringify(b);
    }

    function narrowSpec(gd) {
        const meta = gd.layout && gd.layout.meta;
        return meta && meta.narrow ? meta.narrow : null;
    }

    // what the narrow form of figure (`data`, `layout`) changes: {layout: {path: value}, traces: {path: [value per
    // trace of `indices`]}} and the wide values they replace (`saved`, the same shape; null where unset)
    function narrowChanges(data, layout, spec) {
        const layoutChanges = {};
        const layoutSaved = {};
        Object.keys(spec.layout || {}).forEach(function (path) {
            const current = valueAt(layout, path);
            if (!same(current, spec.layout[path])) {
                layoutChanges[path] = spec.layout[path];
                layoutSaved[path] = current === undefined ? null : current;
            }
        });
        const traceChanges = {};
        const traceSaved = {};
        const indices = [];
        const wantedByTrace = [];
        (data || []).forEach(function (trace, index) {
            const changes = (spec.traces || {})[(trace && trace.type) || "scatter"];
            if (changes) { indices.push(index); wantedByTrace.push(changes); }
        });
        const paths = new Set();
        wantedByTrace.forEach(function (changes) { Object.keys(changes).forEach(function (p) { paths.add(p); }); });
        paths.forEach(function (path) {
            const wanted = wantedByTrace.map(function (changes) { return changes[path]; });
            const current = indices.map(function (i) { return valueAt(data[i], path); });
            if (!wanted.every(function (value, k) { return same(value, current[k]); })) {
                traceChanges[path] = wanted;
                traceSaved[path] = current.map(function (value) { return value === undefined ? null : value; });
            }
        });
        return {layout: layoutChanges, traces: traceChanges, indices: indices,
                saved: {layout: layoutSaved, traces: traceSaved, indices: indices}};
    }

    function applyNarrow(gd, spec) {
        const changes = narrowChanges(gd.data, gd.layout, spec);
        const layoutChanges = changes.layout;
        const traceChanges = changes.traces;
        const indices = changes.indices;
        if (!Object.keys(layoutChanges).length && !Object.keys(traceChanges).length) { return; }
        // a figure is adapted once: should a value not read back as set, never loop on it
        if (gd._narrowAdapted === gd.layout) { return; }
        gd._narrowAdapted = gd.layout;
        const saved = gd._narrowSaved || {layout: {}, traces: {}, indices: indices};
        Object.keys(changes.saved.layout).forEach(function (p) {
            if (!(p in saved.layout)) { saved.layout[p] = changes.saved.layout[p]; }
        });
        Object.keys(changes.saved.traces).forEach(function (p) {
            if (!(p in saved.traces)) { saved.traces[p] = changes.saved.traces[p]; }
        });
        saved.indices = indices;
        gd._narrowSaved = saved;
        window.Plotly.update(gd, traceChanges, layoutChanges, indices);
        gd._narrowLayout = gd.layout;
    }

    function restoreWide(gd) {
        const saved = gd._narrowSaved;
        delete gd._narrowSaved;
        delete gd._narrowAdapted;
        window.Plotly.update(gd, saved.traces, saved.layout, saved.indices);
    }

    // a copy of `object` with `path` ("legend.font.size", "annotations[2].text") set to `value` (null: removed);
    // only the objects and arrays on the path are copied
    function withValueAt(object, path, value) {
        const keys = path.replace(/\[(\d+)\]/g, ".$1").split(".");
        function set(node, depth) {
            const key = keys[depth];
            const copy = Array.isArray(node) ? node.slice() : Object.assign({}, node || {});
            if (depth === keys.length - 1) {
                if (value === null) { delete copy[key]; } else { copy[key] = value; }
            } else {
                copy[key] = set(node == null ? undefined : node[key], depth + 1);
            }
            return copy;
        }
        return set(object, 0);
    }

    // [data, layout] of the figure in its narrow form when `gd` is narrower than its `below`, else null; the wide
    // values it replaced are saved on `gd` (as applyNarrow saves them) so that a wider graph gets them back
    function narrowFigure(gd, data, layout) {
        const spec = layout && layout.meta && layout.meta.narrow;
        if (!spec || !gd || !gd.getBoundingClientRect || !Array.isArray(data)) { return null; }
        const width = gd.getBoundingClientRect().width;
        if (!(width > 0 && width < spec.below)) { return null; }
        const changes = narrowChanges(data, layout, spec);
        const narrowLayout = Object.keys(changes.layout).reduce(function (copy, path) {
            return withValueAt(copy, path, changes.layout[path]);
        }, layout);
        const narrowData = data.slice();
        Object.keys(changes.traces).forEach(function (path) {
            changes.indices.forEach(function (index, k) {
                const value = changes.traces[path][k];
                if (value !== undefined && !same(valueAt(narrowData[index], path), value)) {
                    narrowData[index] = withValueAt(narrowData[index], path, value);
                }
            });
        });
        gd._narrowSaved = changes.saved;
        gd._narrowAdapted = narrowLayout;
        gd._narrowLayout = narrowLayout;
        return [narrowData, narrowLayout];
    }

    // Plotly.react(gd, data, layout, config) and Plotly.react(gd, {data, layout, frames, config}) (dcc.Graph's
    // form), and the same for newPlot: draw the narrow form at once
    function drawNarrow(draw) {
        const wrapped = function (target, first, second) {
            const gd = typeof target === "string" ? document.getElementById(target) : target;
            const args = Array.prototype.slice.call(arguments);
            try {
                if (first && !Array.isArray(first) && typeof first === "object") {
                    const narrow = narrowFigure(gd, first.data, first.layout);
                    if (narrow) { args[1] = Object.assign({}, first, {data: narrow[0], layout: narrow[1]}); }
                } else {
                    const narrow = narrowFigure(gd, first, second);
                    if (narrow) { args[1] = narrow[0]; args[2] = narrow[1]; }
                }
            } catch (error) {  // never stop a draw: the figure is then adapted after it (plotly_afterplot)
                if (window.console) { window.console.warn("narrow form before the draw failed", error); }
            }
            return draw.apply(this, args);
        };
        wrapped.__narrowFirst = true;
        return wrapped;
    }

    function wrapDraws() {
        const plotly = window.Plotly;
        if (!plotly || !plotly.react || !plotly.newPlot) { return false; }
        if (!plotly.react.__narrowFirst) { plotly.react = drawNarrow(plotly.react); }
        if (!plotly.newPlot.__narrowFirst) { plotly.newPlot = drawNarrow(plotly.newPlot); }
        return true;
    }

    function adapt(gd) {
        const spec = narrowSpec(gd);
        if (!spec || !window.Plotly || !gd.data) { return; }
        // a graph that stays mounted gets new figures (Plotly.react replaces gd.layout; Plotly.update keeps it):
        // the wide values saved from the previous figure are not this one's
        if (gd._narrowSaved && gd._narrowLayout !== gd.layout) {
            delete gd._narrowSaved;
            delete gd._narrowAdapted;
        }
        const width = gd.getBoundingClientRect().width;
        if (width <= 0) { return; }
        if (width < spec.below) {
            applyNarrow(gd, spec);
        } else if (gd._narrowSaved) {
            restoreWide(gd);
        }
    }

    function hookGraphs() {
        wrapDraws();
        document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
            if (gd._narrowHooked || typeof gd.on !== "function") { return; }
            gd._narrowHooked = true;
            gd.on("plotly_afterplot", function () { adapt(gd); });
            adapt(gd);
        });
    }

    let scheduled = false;
    function schedule() {
        if (scheduled) { return; }
        scheduled = true;
        window.requestAnimationFrame(function () { scheduled = false; hookGraphs(); });
    }

    function start() {
        new MutationObserver(schedule).observe(document.body, {childList: true, subtree: true});
        schedule();
    }

    // plotly.js comes with the first graph (dcc.Graph loads it lazily): wrap its draws as soon as it is there
    let tries = 0;
    (function waitForPlotly() {
        if (wrapDraws() || ++tries > 3000) { return; }  // 3,000 x 20 ms: a page without graphs stops asking
        setTimeout(waitForPlotly, 20);
    })();

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
