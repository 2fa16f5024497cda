// Import result page: refresh the progress bar while an import runs. Without
// JavaScript the page's "Refresh" link does the same.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box || box.dataset.running !== "1") { return; }
  var url = box.dataset.progressUrl;
  var bar = document.getElementById("import-bar");
  function set(name, value) {
    var el = box.querySelector('[data-field="' + name + '"]');
    if (el) { el.textContent = value; }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        ["status_label", "processed", "total", "created", "updated", "unchanged", "rejected"].forEach(function (k) { set(k, data[k]); });
        bar.max = Math.max(data.total, 1);
        bar.value = data.processed;
        if (data.running) { window.setTimeout(poll, 1500); } else { window.location.reload(); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
