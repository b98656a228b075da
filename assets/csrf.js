/* Adds the CSRF token to the app's own state-changing requests (Dash's callbacks: POST _dash-update-component).
   The server (dashboard/web_auth.py) sets the token in the `csrf_token` cookie once someone is signed in and
   refuses a signed-in POST without it in the X-CSRFToken header (400). Requests to other origins are untouched.
   A Dash request answered 401 (the session ended) reloads the page, which then shows the sign-in form. */
(function () {
  "use strict";
  var originalFetch = window.fetch;
  if (!originalFetch) {
    return;
  }
  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrf_token=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : null;
  }
  function sameOrigin(url) {
    try {
      return new URL(url, window.location.href).origin === window.location.origin;
    } catch (e) {
      return false;
    }
  }
  window.fetch = function (input, init) {
    var request = input instanceof Request ? input : null;
    var method = ((init && init.method) || (request && request.method) || "GET").toUpperCase();
    var url = request ? request.url : String(input);
    var token = csrfToken();
    if (token && method !== "GET" && method !== "HEAD" && sameOrigin(url)) {
      var headers = new Headers((init && init.headers) || (request && request.headers) || undefined);
      headers.set("X-CSRFToken", token);
      init = Object.assign({}, init || {}, { headers: headers });
    }
    var answer = originalFetch.call(this, input, init);
    if (sameOrigin(url) && url.indexOf("_dash-") !== -1) {
      answer.then(function (response) {
        if (response.status === 401) {
          window.location.reload();  // the session ended: the page load goes to the sign-in form
        }
      }, function () {});
    }
    return answer;
  };
})();
