// Servidesk: small progressive enhancements. Every page works without this file.
"use strict";

document.addEventListener("click", (event) => {
  // Buttons with data-confirm ask before submitting their form (deactivating a user).
  const button = event.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});

document.addEventListener("DOMContentLoaded", () => {
  // After a failed submit, move focus to the form's error summary so it is announced.
  const summary = document.querySelector(".notice-error[tabindex='-1']");
  if (summary) {
    summary.focus();
  }
});
