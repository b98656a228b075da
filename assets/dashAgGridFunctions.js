// Functions that AG Grid options name as {"function": "name(params)"} (dash-ag-grid's namespace).
(function () {
    var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

    // The spreadsheet-safety rule of dashboard/spreadsheet_safety.py (keep the two in step): a quote before every
    // cell start (the beginning, or just after , ; tab CR LF) that is followed by optional spaces and = + - @,
    // and before a tab, CR or NUL that is the first character. The pattern text is FORMULA_START_PATTERN's.
    var FORMULA_START = /(?:^|(?<=[,;\t\r\n]))(?=[\v\f\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*[=+\-@])|^(?=[\t\r\0])/g;

    // Returns the text with a quote before each formula start (text that is not formula-like comes back unchanged).
    dagfuncs.neutraliseFormulaText = function (text) {
        return text.replace(FORMULA_START, "'");
    };

    // Returns the CSV text of one exported cell: what the grid exports by default (the value formatter's text unless
    // the column turns it off), with formula-like text neutralised. Numbers are never changed.
    dagfuncs.neutraliseCsvCell = function (params) {
        var value = params.value;
        var colDef = params.column ? params.column.getColDef() : {};
        var text = colDef.useValueFormatterForExport === false ? value : params.formatValue(value);
        if (typeof value !== "string" || typeof text !== "string") {
            return text;
        }
        return dagfuncs.neutraliseFormulaText(text);
    };
})();
