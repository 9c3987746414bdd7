// The /link page's only inline script (allowed by the page's CSP nonce). It runs as soon
// as the Continue form is parsed, long before the WASM arrives, so Continue works at once
// and works without the WASM at all:
// - the token, in the URL fragment that browsers never send, goes into the form, and out
//   of the address bar and the session history;
// - a form is posted once (a second tap on a slow network would cancel the first post,
//   whose answer carries the session cookie, and then find the link used), again after
//   the page is restored by the back button.
(function () {
  var form = document.getElementById("continue");
  var token = location.hash.slice(1);
  if (token) {
    form.elements.token.value = token;
    history.replaceState(history.state, "", location.pathname + location.search);
  }
  addEventListener("submit", function (event) {
    var posted = event.target.dataset;
    if (posted.sent) event.preventDefault();
    else posted.sent = "1";
  });
  addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent]").forEach(function (f) {
      delete f.dataset.sent;
    });
  });
  form.dataset.ready = "";
})();
