// Honk's web app: forms that speak the JSON API (with the CSRF token), and a task page kept live by
// server-sent events. No framework, no external assets.
"use strict";

const honk = (() => {
  let csrf = null;

  async function token() {
    if (csrf === null) {
      const r = await fetch("/api/me", { credentials: "same-origin" });
      csrf = r.ok ? (await r.json()).csrf || "" : "";
    }
    return csrf;
  }

  /** POSTs JSON with the CSRF header (with `files`: multipart, the JSON in its `request` part);
   * always resolves with {ok, status, data}. */
  async function send(url, body, files) {
    try {
      const headers = { "X-CSRF-Token": await token() };
      let payload = JSON.stringify(body || {});
      if (files && files.length) {
        payload = new FormData();
        payload.append("request", JSON.stringify(body || {}));
        for (const f of files) payload.append("files", f, f.name);
        headers["X-Honk-Client"] = "web";  // a header no cross-site form can add
      } else {
        headers["Content-Type"] = "application/json";
      }
      const r = await fetch(url, { method: "POST", credentials: "same-origin", headers, body: payload });
      let data = null;
      try { data = await r.json(); } catch (_) { data = null; }
      return { ok: r.ok, status: r.status, data };
    } catch (e) {
      return { ok: false, status: 0, data: { detail: "Honk could not be reached: " + e.message } };
    }
  }

  function flash(text, kind) {
    const el = document.getElementById("flash");
    if (!el) return;
    el.className = "flash " + (kind || "info");
    el.textContent = text;
    el.scrollIntoView({ block: "nearest" });
  }

  function detail(res) {
    const d = res.data && res.data.detail;
    if (typeof d === "string") return d;
    if (d) return JSON.stringify(d);
    return "Honk answered " + res.status + ".";
  }

  // ---- generic API forms: <form data-api="/api/..." data-then="task|reload|panel" data-done="...">
  // (data-lists="a,b": those fields are sent as lists, one item per input)
  function formBody(form) {
    const body = {};
    const lists = (form.dataset.lists || "").split(",").filter(Boolean);
    for (const [k, v] of new FormData(form).entries()) {
      if (typeof v !== "string" || v.trim() === "") continue;
      if (lists.includes(k)) (body[k] = body[k] || []).push(v.trim());
      else body[k] = v.trim();
    }
    return body;
  }

  async function submitForm(form, submitter) {
    const confirmText = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    if (confirmText && !window.confirm(confirmText)) return;
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    const files = [...form.querySelectorAll("input[type=file]")].flatMap((i) => [...i.files]);
    // Best of N: the new-task form's Attempts field above 1 starts a group (/api/attempts) instead of one task.
    const several = form.dataset.attemptsApi && Number((form.elements.attempts || {}).value || 1) > 1;
    const body = formBody(form);
    if (!several) delete body.attempts;
    // One change across several repos: "web, docs" is sent as the list the API takes (`also`).
    for (const input of form.querySelectorAll("[data-comma-list]")) {
      if (typeof body[input.name] === "string") {
        body[input.name] = body[input.name].split(",").map((s) => s.trim()).filter(Boolean);
      }
    }
    const res = await send(several ? form.dataset.attemptsApi : form.dataset.api, body, files);
    buttons.forEach((b) => (b.disabled = false));
    if (!res.ok) {
      flash(detail(res), "err");
      if (form.dataset.then === "panel") live.refresh();
      if (form.dataset.then === "board") board.refresh();
      return;
    }
    const then = form.dataset.then;
    if (then === "task" && res.data.group) { window.location.href = "/attempts/" + res.data.group; return; }
    if (then === "task") { window.location.href = "/tasks/" + res.data.id; return; }
    if (then === "campaign") { window.location.href = "/campaigns/" + encodeURIComponent(res.data.id); return; }
    if (then === "reload") { window.location.reload(); return; }
    flash(acted(res.data, form.dataset.done) || form.dataset.done || "Done.", "ok");
    form.reset();
    if (then === "panel") live.refresh();
    if (then === "board") board.refresh();
  }

  /** A bulk action's answer (a campaign's merge or retry: what it did to each member), in one line. */
  function acted(data, verb) {
    if (!Array.isArray(data)) return null;
    if (!data.length) return "Nothing to act on.";
    const done = data.filter((a) => a.done);
    const not = data.filter((a) => !a.done).map((a) => a.repo + (a.detail ? " (" + a.detail + ")" : ""));
    return `${verb || "Done"}: ${done.length} of ${data.length}.` + (not.length ? " Not: " + not.join("; ") + "." : "");
  }

  document.addEventListener("submit", (ev) => {
    const form = ev.target.closest("form[data-api]");
    if (!form) return;
    ev.preventDefault();
    submitForm(form, ev.submitter);
  });

  // Best of N: what the attempts may cost, said beside the field before anything starts.
  async function estimate(form) {
    const out = document.getElementById("attempts-cost");
    const n = Number(form.elements.attempts.value || 1);
    if (!out) return;
    if (!(n > 1)) { out.textContent = "One attempt."; return; }
    const q = `repo=${encodeURIComponent(form.elements.repo.value)}&n=${n}`;
    try {
      const r = await fetch(`/api/attempts/estimate?${q}`, { credentials: "same-origin" });
      const d = await r.json();
      out.textContent = r.ok ? d.line : detail({ data: d, status: r.status });
    } catch (e) {
      out.textContent = "Honk could not say what it costs: " + e.message;
    }
  }
  document.addEventListener("change", (ev) => {
    const form = ev.target.form;
    if (form && form.elements.attempts && form.querySelector("[data-estimate]")) estimate(form);
  });

  // Filters on the task list apply as soon as they change.
  document.addEventListener("change", (ev) => {
    const form = ev.target.closest("form[data-autosubmit]");
    if (form) form.submit();
  });

  // ---- the task page: a live timeline --------------------------------------------------------
  const TRANSCRIPT = new Set(["agent_said", "agent_ran_command", "agent_tool_called", "agent_tool_result",
    "agent_tool_denied", "agent_usage"]);
  const TERMINAL = new Set(["merged", "task_failed", "task_cancelled"]);


  const live = {
    stream: null, last: 0, taskId: null, refreshing: null, again: false,

    start() {
      const main = document.querySelector("main[data-task]");
      if (!main) return;
      this.taskId = main.dataset.task;
      this.last = Number(main.dataset.last || 0);
      if (main.dataset.terminal === "1") return;
      const kinds = JSON.parse(main.dataset.kinds || "[]");
      this.stream = new EventSource(`/api/tasks/${this.taskId}/events?after=${this.last}`);
      for (const kind of kinds) this.stream.addEventListener(kind, (m) => this.onEvent(m));
      this.stream.addEventListener("open", () => document.body.classList.add("live"));
    },

    close() {
      if (this.stream) this.stream.close();
      this.stream = null;
      document.body.classList.remove("live");
    },

    onEvent(message) {
      const stored = JSON.parse(message.data);
      if (stored.id <= this.last) return;
      this.last = stored.id;
      const e = stored.event;
      const li = document.createElement("li");
      li.className = "k-" + e.kind;
      li.dataset.id = stored.id;
      const t = document.createElement("time");
      t.dateTime = stored.at;
      t.textContent = new Date(stored.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
      const span = document.createElement("span");
      span.textContent = stored.line;  // worded by the server (Event.line), the same as everywhere else
      li.append(t, span);
      const transcript = TRANSCRIPT.has(e.kind);
      document.getElementById(transcript ? "transcript" : "timeline").append(li);
      if (transcript) {
        const count = document.getElementById("transcript-count");
        if (count) count.textContent = String(document.getElementById("transcript").children.length);
      } else {
        this.refresh();
      }
      if (TERMINAL.has(e.kind)) this.close();
    },

    /** Re-renders the server-side panel (state, checks, diffstat, preview, actions). */
    async refresh() {
      if (!this.taskId) return;
      if (this.refreshing) { this.again = true; return; }
      const panel = document.getElementById("panel");
      this.refreshing = (async () => {
        try {
          const r = await fetch(`/tasks/${this.taskId}/panel`, { credentials: "same-origin" });
          if (!r.ok) return;
          const html = await r.text();
          // Keep what someone is typing, what they opened or closed (the diff, a check's output), and a
          // preview that already loaded: an event arriving must not fold the diff someone is reading.
          const typed = panel.querySelector("textarea") ? panel.querySelector("textarea").value : "";
          const folds = new Map([...panel.querySelectorAll("details > summary")].map((s) => [s.textContent.trim(), s.parentElement.open]));
          const oldFrame = panel.querySelector(".preview iframe");
          const tmp = document.createElement("div");
          tmp.innerHTML = html;
          const newFrame = tmp.querySelector(".preview iframe");
          if (oldFrame && newFrame && oldFrame.getAttribute("src") === newFrame.getAttribute("src")) {
            newFrame.replaceWith(oldFrame);
          }
          panel.replaceChildren(...tmp.childNodes);
          for (const s of panel.querySelectorAll("details > summary")) {
            const open = folds.get(s.textContent.trim());
            if (open !== undefined) s.parentElement.open = open;
          }
          const ta = panel.querySelector("textarea");
          if (ta && typed) ta.value = typed;
          const state = panel.querySelector("[data-state]");
          if (state) document.body.dataset.state = state.dataset.state;
        } finally {
          this.refreshing = null;
          if (this.again) { this.again = false; this.refresh(); }
        }
      })();
    },
  };

  // ---- the campaign board: its panel asked for again every few seconds while the campaign runs ----------
  // (a campaign has no event stream of its own: its members are tasks, each with theirs). The filter in the
  // address (?state=) comes along; a refresh waits while someone types in the board or the tab is hidden.
  const board = {
    id: null, every: 3000, timer: null, busy: false,

    start() {
      const main = document.querySelector("main[data-campaign]");
      if (!main) return;
      this.id = main.dataset.campaign;
      this.every = 1000 * Number(main.dataset.refreshS || 3);
      if (main.dataset.terminal !== "1") this.later();
    },

    later() {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.refresh(), this.every);
    },

    async refresh() {
      const el = document.getElementById("board");
      if (!this.id || !el || this.busy) return;
      const typing = el.contains(document.activeElement) && /^(TEXTAREA|INPUT)$/.test(document.activeElement.tagName);
      if (document.hidden || typing) { this.later(); return; }
      this.busy = true;
      let terminal = false;
      try {
        const r = await fetch(`/campaigns/${encodeURIComponent(this.id)}/panel${window.location.search}`, { credentials: "same-origin" });
        if (!r.ok) return;
        const html = await r.text();
        const typed = el.querySelector("textarea") ? el.querySelector("textarea").value : "";
        const folds = new Map([...el.querySelectorAll("details > summary")].map((s) => [s.textContent.trim(), s.parentElement.open]));
        const tmp = document.createElement("div");
        tmp.innerHTML = html;
        el.replaceChildren(...tmp.childNodes);
        for (const s of el.querySelectorAll("details > summary")) {
          const open = folds.get(s.textContent.trim());
          if (open !== undefined) s.parentElement.open = open;
        }
        const ta = el.querySelector("textarea");
        if (ta && typed) ta.value = typed;
        const status = el.querySelector("[data-terminal]");
        terminal = status !== null && status.dataset.terminal === "1";
      } catch (_) {
        // Honk unreachable for a moment: the next round tries again.
      } finally {
        this.busy = false;
        if (!terminal) this.later();
      }
    },
  };

  document.addEventListener("DOMContentLoaded", () => { live.start(); board.start(); });
  return { send, token, flash, live, board };
})();
window.honk = honk;
