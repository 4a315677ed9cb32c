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
