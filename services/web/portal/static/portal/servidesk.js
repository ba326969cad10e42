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

// Tags: suggestions of existing tags for the term being typed (after the last comma),
// offered through the field's datalist as the whole value with that term completed.
const tagTimers = new WeakMap();

async function suggestTags(input) {
  const list = document.getElementById(input.getAttribute("list"));
  if (!list || !list.dataset.source) {
    return;
  }
  const parts = input.value.split(",");
  const term = parts.pop().trim().toLowerCase();
  const before = parts.map((part) => part.trim()).filter(Boolean);
  const url = `${list.dataset.source}?${new URLSearchParams({ q: term })}`;
  let answer;
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) {
      return;
    }
    answer = await response.json();
  } catch {
    return;
  }
  const prefix = before.length ? `${before.join(", ")}, ` : "";
  list.replaceChildren(...answer.results
    .filter((tag) => !before.includes(tag.name))
    .map((tag) => {
      const option = document.createElement("option");
      option.value = prefix + tag.name;
      option.textContent = tag.name;
      return option;
    }));
}

document.addEventListener("input", (event) => {
  const input = event.target;
  if (input.matches("input[data-tags][list]")) {
    clearTimeout(tagTimers.get(input));
    tagTimers.set(input, setTimeout(() => suggestTags(input), 200));
  }
});

// The queue: "select all on this page" ticks every row's box (shown only with scripts).
document.addEventListener("DOMContentLoaded", () => {
  for (const all of document.querySelectorAll("input[data-select-all]")) {
    all.hidden = false;
    const boxes = () => all.form.querySelectorAll(`input[type='checkbox'][name='${all.dataset.selectAll}']`);
    all.addEventListener("change", () => {
      for (const box of boxes()) {
        box.checked = all.checked;
      }
    });
    all.form.addEventListener("change", (event) => {
      if (event.target !== all && event.target.name === all.dataset.selectAll) {
        const list = [...boxes()];
        all.checked = list.every((box) => box.checked);
        all.indeterminate = !all.checked && list.some((box) => box.checked);
      }
    });
  }
});

// Opening a ticket for a client: the client search fills the client list in place, so
// nothing typed in the form is sent or lost (without scripts the form comes back filled).
async function lookUpClients(button) {
  const query = document.getElementById(button.dataset.query);
  const select = document.getElementById(button.dataset.select);
  const status = document.getElementById(button.dataset.status);
  const url = `${button.dataset.clientLookup}?${new URLSearchParams({ q: query.value.trim() })}`;
  let answer;
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    answer = await response.json();
  } catch {
    button.dataset.fallback = "1"; // the page's own search, which says what failed
    button.form.requestSubmit(button);
    return;
  }
  const first = select.options[0];
  const options = answer.results.map((client) => {
    const option = document.createElement("option");
    option.value = client.id;
    option.textContent = client.label;
    return option;
  });
  select.replaceChildren(first, ...options);
  if (options.length === 1) {
    select.value = options[0].value;
  }
  status.textContent = answer.message || "";
}

document.addEventListener("submit", (event) => {
  const button = event.submitter;
  if (!button || !button.matches("button[data-client-lookup]") || button.dataset.fallback) {
    return;
  }
  event.preventDefault();
  const query = document.getElementById(button.dataset.query);
  if (document.activeElement && document.activeElement !== query && document.activeElement !== button) {
    // Enter in another field means "send the ticket", not "search".
    const send = button.form.querySelector("[data-default-submit]");
    if (send) {
      button.form.requestSubmit(send);
    }
    return;
  }
  lookUpClients(button);
});

// A rating link (?rating=good|bad) preselects the answer; the page records it with its
// own form's POST once loaded (a link scanner's GET records nothing). Without scripts,
// one click on the preselected button does the same.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-autosubmit]");
  if (!form) {
    return;
  }
  const chosen = [...form.querySelectorAll("button[name='rating']")]
    .find((button) => button.value === form.dataset.autosubmit);
  if (chosen) {
    form.requestSubmit(chosen);
  }
});

// A key or secret shown once: its Copy button puts it on the clipboard and says so.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  const field = button && document.getElementById(button.dataset.copy);
  if (!field) {
    return;
  }
  field.select();
  if (navigator.clipboard) {
    navigator.clipboard.writeText(field.value).then(() => {
      button.textContent = button.dataset.copied;
    });
  }
});

// Live updates (issue 22): with JavaScript, an EventSource on web's /events/ stream moves
// the bell on every page and, on a ticket page, fetches the page again when the ticket
// changes and swaps in its live regions (the server renders them: everything user-typed
// stays escaped), and shows who else is writing a reply. Without it, reloading shows all.
(() => {
  const body = document.body;
  if (!body.dataset.liveUrl || typeof window.EventSource !== "function") {
    return;
  }
  const head = document.querySelector("[data-live-ticket]");
  const params = new URLSearchParams({ since: body.dataset.liveSince || "0" });
  if (head) {
    params.set("ticket", head.dataset.liveTicket);
  }
  const source = new EventSource(`${body.dataset.liveUrl}?${params}`);
  // For the browser tests: the stream, and the id of the newest event it brought.
  window.servideskLive = source;
  window.servideskLiveLastId = "";
  for (const kind of ["notification", "ticket", "typing"]) {
    source.addEventListener(kind, (event) => { window.servideskLiveLastId = event.lastEventId; });
  }

  source.addEventListener("notification", (event) => {
    const data = JSON.parse(event.data);
    const bell = document.getElementById("bell");
    if (!bell || typeof data.unread_count !== "number") {
      return;
    }
    let badge = bell.querySelector("[data-testid='unread-count']");
    if (!badge) {
      badge = document.createElement("span");
      badge.dataset.testid = "unread-count";
      bell.append(badge);
    }
    badge.className = data.unread_count ? "badge badge-alert" : "badge badge-muted";
    badge.textContent = String(data.unread_count);
  });

  if (!head) {
    return;
  }
  let refreshing = null;
  let again = false;
  async function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = fetch(head.dataset.liveTicketUrl, { credentials: "same-origin", headers: { "X-Servidesk-Live": "1" } })
      .then((response) => (response.ok ? response.text() : null))
      .then((html) => {
        if (!html) {
          return;
        }
        const fresh = new DOMParser().parseFromString(html, "text/html");
        for (const region of document.querySelectorAll("[data-live-region]")) {
          const name = region.dataset.liveRegion;
          const replacement = fresh.querySelector(`[data-live-region="${name}"]`);
          // A region the person is using (a focused field) waits for the next change.
          if (replacement && !region.contains(document.activeElement)) {
            region.replaceWith(document.adoptNode(replacement));
          }
        }
      })
      .catch(() => {})
      .finally(() => {
        refreshing = null;
        if (again) {
          again = false;
          refresh();
        }
      });
  }
  source.addEventListener("ticket", () => refresh());

  const typing = document.getElementById("typing");
  if (!typing) {
    return;
  }
  let hideTyping = null;
  source.addEventListener("typing", (event) => {
    const data = JSON.parse(event.data);
    typing.textContent = typing.dataset.typingText.replace("%(name)s", data.name || "");
    typing.hidden = false;
    clearTimeout(hideTyping);
    hideTyping = setTimeout(() => { typing.hidden = true; }, 6000);
  });
  const reply = document.querySelector("#reply textarea[name='body']");
  const token = document.querySelector("#reply input[name='csrfmiddlewaretoken']");
  let sentAt = 0;
  if (reply && token) {
    reply.addEventListener("input", () => {
      if (Date.now() - sentAt < 2500) {
        return;
      }
      sentAt = Date.now();
      fetch(typing.dataset.typingUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": token.value },
      }).catch(() => {});
    });
  }
})();
