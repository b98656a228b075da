/* Skips a resize of a Plotly plot that would change nothing. dcc.Graph watches its divs with a ResizeObserver and,
   50 ms after any change of their size, calls Plotly.Plots.resize; that happens also when the change is the plot's
   own new height from a figure just drawn by Plotly.react (a chart whose height follows its rows: bars per channel,
   panels per group), and the resize redraws the whole plot (about 100 ms) to the size it already has.
   - The ResizeObserver callback of a graph is not called when every element whose size changed holds a plot whose
     laid-out width and height already equal its div's (within a pixel): no timer, no resize, nothing 50 ms after the
     draw. Observers of anything else (AG Grid, ...) are left as they are.
   - Plots.resize itself returns at once for such a plot (a resize asked for by other code).
   Any real change of size (a window resize, a narrower column, a card that grew) still resizes. */
(function () {
    "use strict";

    function alreadyFits(gd) {
        const full = gd && gd._fullLayout;
        if (!full || !gd.clientWidth || !gd.clientHeight) { return false; }
        return Math.abs(full.width - gd.clientWidth) < 1 && Math.abs(full.height - gd.clientHeight) < 1;
    }

    function guard() {
        const plots = window.Plotly && window.Plotly.Plots;
        if (!plots || !plots.resize) { return false; }
        if (plots.resize.__guarded) { return true; }
        const resize = plots.resize;
        const guarded = function (gd) {
            const element = typeof gd === "string" ? document.getElementById(gd) : gd;
            if (alreadyFits(element)) { return Promise.resolve(element); }
            return resize.apply(this, arguments);
        };
        guarded.__guarded = true;
        plots.resize = guarded;
        return true;
    }

    // plotly.js is loaded with the first graph (dcc.Graph loads it lazily): wait for it
    let tries = 0;
    (function waitForPlotly() {
        if (guard() || ++tries > 1200) { return; }  // 1,200 x 100 ms: a page without graphs stops asking
        setTimeout(waitForPlotly, 100);
    })();
})();

(function () {
    "use strict";
    const Native = window.ResizeObserver;
    if (!Native || Native.__plotGuarded) { return; }

    function fits(gd) {
        const full = gd && gd._fullLayout;
        if (!full || !gd.clientWidth || !gd.clientHeight) { return false; }
        return Math.abs(full.width - gd.clientWidth) < 1 && Math.abs(full.height - gd.clientHeight) < 1;
    }

    // the plot an observed element of dcc.Graph belongs to: the plot's div, the graph's outer div (its parent) or the
    // resize detector's own div (the plot's sibling); null for anything else
    function plotOf(element) {
        if (!element || !element.classList) { return null; }
        if (element.classList.contains("js-plotly-plot")) { return element; }
        const inside = element.querySelector(":scope > .js-plotly-plot");
        if (inside) { return inside; }
        const parent = element.parentElement;
        return parent ? parent.querySelector(":scope > .js-plotly-plot") : null;
    }

    class PlotAwareResizeObserver extends Native {
        constructor(callback) {
            super(function (entries, observer) {
                const plots = entries.map(entry => plotOf(entry.target));
                if (plots.length && plots.every(plot => plot && fits(plot))) { return undefined; }
                return callback.call(this, entries, observer);
            });
        }
    }
    PlotAwareResizeObserver.__plotGuarded = true;
    window.ResizeObserver = PlotAwareResizeObserver;
})();
