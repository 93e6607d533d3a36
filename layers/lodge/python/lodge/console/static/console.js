// Progressive enhancement only: every page works without this file.
// Filters apply as soon as a select changes; destructive buttons ask first (once: a yes skips the
// server's confirmation page); "f" folds all frames.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  document.querySelectorAll("button.danger").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (button.id === "confirm") return;
      if (!window.confirm("Really " + button.textContent.trim().toLowerCase() + "?")) {
        event.preventDefault();
      } else if (button.form && !button.form.querySelector("input[name=confirm]")) {
        // Asked already: skip the server's confirmation page (which is there for pages without JS).
        var confirmed = document.createElement("input");
        confirmed.type = "hidden";
        confirmed.name = "confirm";
        confirmed.value = "yes";
        button.form.appendChild(confirmed);
      }
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "f" || /^(INPUT|SELECT|TEXTAREA)$/.test(event.target.tagName)) return;
    var frames = document.querySelectorAll("details.frame");
    var open = Array.prototype.some.call(frames, function (d) { return !d.open; });
    frames.forEach(function (d) { d.open = open; });
  });
});
