// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // <form data-busy="Booking and sending invites…">: on submit, the button is disabled
  // (no double booking from a second click) and the message shows in a live region.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    var message = form.getAttribute("data-busy");
    if (!message) return;
    var buttons = form.querySelectorAll("button[type=submit], button:not([type])");
    // Disabled after the browser has taken the clicked button's name and value.
    window.setTimeout(function () {
      buttons.forEach(function (button) { button.disabled = true; });
    }, 0);
    var status = form.querySelector(".busy-status");
    if (!status) {
      status = document.createElement("p");
      status.className = "busy-status";
      status.setAttribute("role", "status");
      form.appendChild(status);
    }
    status.textContent = message;
    form.setAttribute("aria-busy", "true");
  });

  // <select data-autosubmit>: choosing an option submits its form (a button stays for
  // keyboards and for browsers without JavaScript).
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
      target.form.requestSubmit ? target.form.requestSubmit() : target.form.submit();
    }
  });

  // <div data-refresh-seconds="3">: something is still under way (a meeting being
  // opened); reload until the server says it is done.
  var refresh = document.querySelector("[data-refresh-seconds]");
  if (refresh) {
    var seconds = parseInt(refresh.getAttribute("data-refresh-seconds"), 10) || 5;
    window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }
})();

// The planner: "Show in grid" highlights a slot's columns in place (without JavaScript
// the link reloads the page with the slot highlighted by the server).
(function () {
  "use strict";
  var grid = document.getElementById("grid");
  if (!grid) return;
  function highlight(slot) {
    grid.querySelectorAll(".hl").forEach(function (cell) { cell.classList.remove("hl"); });
    document.querySelectorAll(".slot.selected").forEach(function (item) {
      item.classList.remove("selected");
      item.removeAttribute("aria-current");
    });
    var columns = (slot.getAttribute("data-cols") || "").split(" ").filter(Boolean).map(Number);
    var hourRow = grid.tHead.rows[1];
    columns.forEach(function (column) {
      if (hourRow.cells[column]) hourRow.cells[column].classList.add("hl");
    });
    Array.prototype.forEach.call(grid.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        if (row.classList.contains("country-row")) return;
        columns.forEach(function (column) {
          var cell = row.cells[column + 1];  // the site's name comes first
          if (cell) cell.classList.add("hl");
        });
      });
    });
    slot.classList.add("selected");
    slot.setAttribute("aria-current", "true");
    var first = hourRow.cells[columns[0]];
    if (first) first.scrollIntoView({ block: "nearest", inline: "center" });
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.show-slot");
    if (!link) return;
    var slot = link.closest("[data-cols]");
    if (!slot) return;
    event.preventDefault();
    highlight(slot);
    if (window.history && window.history.replaceState) window.history.replaceState(null, "", link.href);
  });
})();

// --- booking form: a button's own busy message -------------------------------------------
// <button data-busy="…"> in a <form data-busy>: the message says what that button does
// ("Listing the dates…" for the preview rather than "Booking…"). Runs after the handler
// above, which put the form's message in place.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = button && button.getAttribute("data-busy");
    var status = event.target.querySelector(".busy-status");
    if (message && status && !event.defaultPrevented) status.textContent = message;
  });
})();
