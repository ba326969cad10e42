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

// Attachments: check the chosen files against the limits before anything is sent (the
// server checks again). The limits and the messages, already translated, come in the
// input's data attributes; problems are listed under the field and tied to it.
function checkAttachments(input) {
  const perFile = Number(input.dataset.maxFileBytes);
  const perRequest = Number(input.dataset.maxTotalBytes);
  const problems = [];
  let total = 0;
  for (const file of input.files) {
    total += file.size;
    if (file.size > perFile) {
      problems.push(input.dataset.fileTooLarge.replace("%(name)s", file.name));
    }
  }
  if (input.files.length > Number(input.dataset.maxFiles)) {
    problems.push(input.dataset.tooManyFiles);
  }
  if (total > perRequest) {
    problems.push(input.dataset.filesTooLarge);
  }
  const listId = `${input.id}-check`;
  let list = document.getElementById(listId);
  if (!list) {
    list = document.createElement("ul");
    list.id = listId;
    list.className = "errors";
    list.setAttribute("aria-live", "polite");
    input.insertAdjacentElement("afterend", list);
    const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    input.setAttribute("aria-describedby", [...described, listId].join(" "));
  }
  list.replaceChildren(...problems.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
  input.closest(".field").classList.toggle("field-invalid", problems.length > 0);
  if (problems.length) {
    input.setAttribute("aria-invalid", "true");
  } else {
    input.removeAttribute("aria-invalid");
  }
  return problems.length === 0;
}

document.addEventListener("change", (event) => {
  if (event.target.matches("input[type='file'][data-max-file-bytes]")) {
    checkAttachments(event.target);
  }
});

document.addEventListener("submit", (event) => {
  for (const input of event.target.querySelectorAll("input[type='file'][data-max-file-bytes]")) {
    if (!checkAttachments(input)) {
      event.preventDefault();
      input.focus();
      return;
    }
  }
});
