// The printable comments page: a print button (no inline script under our CSP).
(function () {
  "use strict";
  var button = document.getElementById("print-now");
  if (button) button.addEventListener("click", function () { window.print(); });
})();
