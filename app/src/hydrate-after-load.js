// The invitee's pages (/link, /code) work without the WASM: their forms are plain HTML.
// So the WASM must not take a slow phone's bandwidth from the page itself: it is asked
// for only once the page has loaded, with no preload hints, then hydrates the page as
// Leptos' own loader would (same module, same entry points).
(function (js, wasm) {
  function hydrate() {
    import(js).then(function (mod) {
      mod.default({ module_or_path: wasm }).then(function () {
        mod.hydrate();
      });
    });
  }
  if (document.readyState === "complete") hydrate();
  else addEventListener("load", hydrate);
})
