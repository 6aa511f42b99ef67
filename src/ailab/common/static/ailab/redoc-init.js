// ReDoc from the app's own static files; no inline script, so the CSP stays strict.
(function () {
  var element = document.getElementById("redoc-ui");
  // Fonts would otherwise be fetched from another host.
  window.Redoc.init(element.dataset.openapiUrl, { disableSearch: false, hideDownloadButton: false }, element);
})();
