/* Skips a Plotly.Plots.resize that would change nothing. dcc.Graph watches its container and calls
   Plots.resize whenever the container's size changes, also when the change is the graph's own new height from a
   figure just drawn by Plotly.react (a chart whose height follows its rows: bars per channel, panels per group).
   That resize redraws the whole plot (about 100 ms) to the size the plot already has. Here it is skipped when the
   plot's laid-out width and height already equal its div's (within a pixel); any real change of size (a window
   resize, a narrower column, a card that grew) still resizes. */
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
