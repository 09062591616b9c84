// 银晖: small progressive enhancements only; every page works without JavaScript.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // A check-in screen keeps its code and its list of who is in current: its live part is
    // fetched again every few seconds (without script, its 刷新 link does the same).
    var live = document.querySelector("[data-live]");
    if (live) {
      window.setInterval(function () {
        fetch(live.getAttribute("data-live"), { credentials: "same-origin" }).then(function (response) {
          return response.ok ? response.text() : null;
        }).then(function (html) {
          if (html !== null) {
            live.innerHTML = html;
          }
        }).catch(function () { /* offline for a moment: try again at the next tick */ });
      }, 5000);
    }
    // Move focus to the error summary so screen-reader and keyboard users hear what went wrong.
    var summary = document.querySelector(".error-summary");
    if (summary) {
      summary.focus();
    }
    // Links in the error summary put the cursor in the field, not just scroll to it.
    document.querySelectorAll(".error-summary a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (target) {
          event.preventDefault();
          target.focus();
          target.scrollIntoView({ block: "center" });
        }
      });
    });
  });
})();
