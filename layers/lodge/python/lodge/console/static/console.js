// Progressive enhancement only: every page works without this file.
// Filters apply as soon as a select changes; destructive buttons ask first; "f" folds all frames.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  document.querySelectorAll("button.danger").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (button.id !== "confirm" && !window.confirm("Really " + button.textContent.trim().toLowerCase() + "?")) {
        event.preventDefault();
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
