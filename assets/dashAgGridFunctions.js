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

    // The rule of plain_number in dashboard/spreadsheet_export.py (keep the two in step): at most 12 significant
    // digits, positional (never an exponent), no trailing zeros, -0 as 0; NaN and infinities as an empty cell.
    var SIGNIFICANT_DIGITS = 12;

    // Returns the CSV text of a number: rounded to 12 significant digits, without float noise or exponent.
    dagfuncs.plainNumberText = function (value) {
        if (!isFinite(value)) {
            return "";
        }
        var rounded = Number(value.toPrecision(SIGNIFICANT_DIGITS));
        if (rounded === 0) {
            return "0";
        }
        var text = String(rounded);  // the shortest text of the rounded number
        var parts = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
        if (!parts) {
            return text;
        }
        // below 1e-6 or from 1e21 JavaScript writes an exponent: move the decimal point instead
        var digits = parts[2] + (parts[3] || "");
        var point = parts[2].length + Number(parts[4]);
        if (point <= 0) {
            text = "0." + "0".repeat(-point) + digits;
        } else if (point >= digits.length) {
            text = digits + "0".repeat(point - digits.length);
        } else {
            text = digits.slice(0, point) + "." + digits.slice(point);
        }
        return parts[1] + text;
    };

    // Returns the CSV text of one exported cell. A column whose definition says useValueFormatterForExport: false
    // exports its raw value (a number as plainNumberText: 0.71, not "71.0%"); any other column what the grid shows
    // (its value formatter's text). Formula-like text is neutralised; numbers are never quoted.
    dagfuncs.neutraliseCsvCell = function (params) {
        var value = params.value;
        var colDef = params.column ? params.column.getColDef() : {};
        if (colDef.useValueFormatterForExport === false) {
            if (typeof value === "number") {
                return dagfuncs.plainNumberText(value);
            }
            if (value === null || value === undefined) {
                return "";
            }
            return typeof value === "string" ? dagfuncs.neutraliseFormulaText(value) : value;
        }
        var text = params.formatValue(value);
        if (typeof value !== "string" || typeof text !== "string") {
            return text;
        }
        return dagfuncs.neutraliseFormulaText(text);
    };
})();
