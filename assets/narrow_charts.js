/* Narrow screens: every figure carries its narrow-screen form in layout.meta.narrow (built once in Python, by
   layouts/common.py `narrow_form`): {below: px, layout: {path: value}, traces: {trace type: {path: value}}}.
   While a graph is narrower than `below` px its layout paths and the attributes of its traces of that type take
   those values (legend under the plot, fewer ticks, heatmap numbers left to the hover); once it is wider again the
   saved values come back. Plotly.update is used because it emits no relayout event: the figure Dash holds stays
   the one the server sent. */
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

    function applyNarrow(gd, spec) {
        const layoutChanges = {};
        const layoutSaved = {};
        Object.keys(spec.layout || {}).forEach(function (path) {
            const current = valueAt(gd.layout, path);
            if (!same(current, spec.layout[path])) {
                layoutChanges[path] = spec.layout[path];
                layoutSaved[path] = current === undefined ? null : current;
            }
        });
        const traceChanges = {};
        const traceSaved = {};
        const indices = [];
        const wantedByTrace = [];
        (gd.data || []).forEach(function (trace, index) {
            const changes = (spec.traces || {})[trace.type || "scatter"];
            if (changes) { indices.push(index); wantedByTrace.push(changes); }
        });
        const paths = new Set();
        wantedByTrace.forEach(function (changes) { Object.keys(changes).forEach(function (p) { paths.add(p); }); });
        paths.forEach(function (path) {
            const wanted = wantedByTrace.map(function (changes) { return changes[path]; });
            const current = indices.map(function (i) { return valueAt(gd.data[i], path); });
            if (!wanted.every(function (value, k) { return same(value, current[k]); })) {
                traceChanges[path] = wanted;
                traceSaved[path] = current.map(function (value) { return value === undefined ? null : value; });
            }
        });
        if (!Object.keys(layoutChanges).length && !Object.keys(traceChanges).length) { return; }
        // a figure is adapted once: should a value not read back as set, never loop on it
        if (gd._narrowAdapted === gd.layout) { return; }
        gd._narrowAdapted = gd.layout;
        const saved = gd._narrowSaved || {layout: {}, traces: {}, indices: indices};
        Object.keys(layoutSaved).forEach(function (p) { if (!(p in saved.layout)) { saved.layout[p] = layoutSaved[p]; } });
        Object.keys(traceSaved).forEach(function (p) { if (!(p in saved.traces)) { saved.traces[p] = traceSaved[p]; } });
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

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
