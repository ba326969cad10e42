// Servidesk: report exports with progress (issue 22). Without this file the export forms
// lead to the job's page, which reloads itself until the file is ready.
//
// With it, submitting an export form asks web for the job (JSON), polls the job's state
// and shows its label ("Preparando el informe… 40 %", translated by the server), then
// fetches the file. A failure to start falls back to the plain form submission.
"use strict";

(() => {
  const panel = document.querySelector("[data-export-progress]");
  if (!panel || !window.fetch) {
    return;
  }
  const bar = panel.querySelector("progress");
  const label = panel.querySelector("[role=status]");
  const result = panel.querySelector("[data-export-result]");
  let busy = false;

  function show(state) {
    panel.hidden = false;
    bar.value = state.progress || 0;
    label.textContent = state.label || "";
  }

  function offer(url, text) {
    result.replaceChildren();
    if (url) {
      const link = document.createElement("a");
      link.href = url;
      link.textContent = text;
      link.setAttribute("download", "");
      link.className = "button";
      link.dataset.testid = "export-download";
      result.append(link);
    } else if (text) {
      result.textContent = text;
    }
  }

  async function poll(statusUrl, pageUrl, seconds) {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      let state;
      try {
        const response = await fetch(statusUrl, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        state = await response.json();
      } catch (error) {
        // Web or reports is away for a moment: the job's page says how it goes.
        window.location.assign(pageUrl);
        return;
      }
      show(state);
      if (state.status === "done") {
        bar.value = 100;
        offer(state.download_url, state.label);
        window.location.assign(state.download_url);
        return;
      }
      if (state.status === "failed") {
        offer(null, state.error || state.label);
        return;
      }
    }
  }

  async function start(form, button) {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({}));
    if (response.status !== 202) {
      offer(null, answer.message || "");
      panel.hidden = false;
      label.textContent = "";
      return;
    }
    result.replaceChildren();
    show({ progress: 0, label: answer.label });
    await poll(answer.status_url, answer.page_url, answer.poll_seconds || 2);
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-export-job]");
    if (!form) {
      return;
    }
    event.preventDefault();
    if (busy) {
      return;
    }
    busy = true;
    const buttons = document.querySelectorAll("form[data-export-job] button");
    buttons.forEach((button) => { button.disabled = true; });
    start(form, event.submitter)
      .catch(() => form.submit())
      .finally(() => {
        busy = false;
        buttons.forEach((button) => { button.disabled = false; });
      });
  });
})();
