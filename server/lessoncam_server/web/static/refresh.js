// Reload the library while a lesson is still uploading or being prepared, so its progress moves.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="lessoncam-refresh"]');
  if (!meta) return;
  var seconds = parseInt(meta.getAttribute("content"), 10) || 10;
  window.setTimeout(function () {
    // Do not reload while someone is typing in the filter.
    var active = document.activeElement;
    if (active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA")) return;
    window.location.reload();
  }, seconds * 1000);
})();
