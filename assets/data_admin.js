/* The Data page's administration (callbacks/data_admin.py): the name and size of the file chosen in an upload box,
   and a file over the upload limit refused here, before it is sent (its contents cleared). */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    data_admin: {
        chosen_file: function (contents, filename, limits) {
            var noUpdate = window.dash_clientside.no_update;
            if (!contents) {
                return ["No file chosen", noUpdate];
            }
            var comma = contents.indexOf(",");
            var bytes = Math.floor((contents.length - comma - 1) * 3 / 4);
            var size = bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " kB";
            var limit = limits && limits.max_bytes;
            if (limit && bytes > limit) {
                return [filename + " (" + size + ") is larger than the upload limit of " +
                        Math.round(limit / 1048576) + " MB: not sent. Split it, or import it on the server with " +
                        "python -m dashboard import.", null];
            }
            if (!/\.csv$/i.test(filename || "")) {
                return [(filename || "this file") + " is not a .csv file: not sent.", null];
            }
            return [filename + " · " + size, noUpdate];
        }
    }
});
