// The staff dashboard: start exports and campaigns, watch the jobs live, get the files.

import { api } from "./api.js";
import { renderFailedLink } from "./campaign-failed.js";
import { campaignsCard } from "./campaigns.js";
import {
  STATUS_LABELS, endSentence, fmtEta, fmtNumber, fmtRate, fmtRelative, fmtWhen, h, statusLine,
} from "./format.js";
import { loadExportTypes } from "./export-form.js";
import { JobsSocket, isTerminal } from "./jobs-socket.js";
import { announceJobEnded, askNotificationPermission, toast } from "./toasts.js";

const $ = (selector, root = document) => root.querySelector(selector);

const socket = new JobsSocket();
const cards = new Map(); // job id -> {el, parts}
const jobList = $("#job-list");
const announcer = $("#announcer");

function announce(text) {
  // Cleared first so the same sentence twice is read twice.
  announcer.textContent = "";
  requestAnimationFrame(() => { announcer.textContent = text; });
}

// --- connection banner ------------------------------------------------------------------
const CONNECTION_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  unauthenticated: "Signed out: taking you to the login page…",
  forbidden: "Not allowed: your account cannot follow jobs here.",
};

socket.addEventListener("state", (event) => {
  const { state } = event.detail;
  const el = $("#connection");
  el.dataset.state = state;
  $("#connection-text").textContent = CONNECTION_TEXT[state] || state;
  document.body.dataset.connection = state;
});

// --- jobs -------------------------------------------------------------------------------
function buildCard(job) {
  const titleId = `job-title-${job.id}`;
  const parts = {
    title: h("h3", { class: "job-title", id: titleId }),
    kind: h("span", { class: "job-kind" }),
    subtitle: h("p", { class: "job-subtitle", "data-role": "subtitle", hidden: true }),
    status: h("span", { class: "badge", "aria-live": "polite", "data-role": "status" }),
    fill: h("div", { class: "bar-fill" }),
    done: h("dd", { "data-role": "done" }),
    total: h("dd", { "data-role": "total" }),
    failed: h("dd", { "data-role": "failed" }),
    rate: h("dd", { "data-role": "rate" }),
    eta: h("dd", { "data-role": "eta" }),
    line: h("p", { class: "job-line", "data-role": "line" }),
    actions: h("div", { class: "job-actions" }),
    meta: h("p", { class: "job-meta" }),
  };
  parts.bar = h("div", {
    class: "bar", role: "progressbar", "aria-labelledby": titleId, "aria-valuemin": "0",
  }, parts.fill);
  const stat = (label, dd) => h("div", { class: "stat" }, h("dt", {}, label), dd);
  const el = h("li", { class: "job", "data-job-id": job.id },
    h("div", { class: "job-head" }, h("div", {}, parts.title, parts.kind), parts.status),
    parts.subtitle,
    parts.bar,
    h("dl", { class: "job-stats" },
      stat("Done", parts.done), stat("Total", parts.total), stat("Failed", parts.failed),
      stat("Rate", parts.rate), stat("ETA", parts.eta)),
    parts.line,
    h("div", { class: "job-foot" }, parts.meta, parts.actions));
  return { el, parts, actionsKey: null, job: null };
}

function renderCard(card, job) {
  const { el, parts } = card;
  card.job = job;
  el.dataset.status = job.status;
  parts.title.textContent = job.title;
  // An export's filters in words (JOB.subtitle), under the title.
  parts.subtitle.textContent = job.subtitle || "";
  parts.subtitle.hidden = !job.subtitle;
  parts.kind.textContent = { export: "Export", campaign: "Campaign", demo: "Demo" }[job.kind]
    || job.kind;
  if (parts.status.textContent !== STATUS_LABELS[job.status]) {
    parts.status.textContent = STATUS_LABELS[job.status] || job.status;
  }
  parts.status.className = `badge badge-${job.status}`;

  const processed = (job.done || 0) + (job.failed || 0);
  const known = job.total !== null && job.total !== undefined;
  const percent = job.percent ?? (job.status === "succeeded" ? 100 : 0);
  if (known) {
    parts.bar.setAttribute("aria-valuemax", String(Math.max(job.total, 1)));
    parts.bar.setAttribute("aria-valuenow", String(Math.min(processed, Math.max(job.total, 1))));
    parts.bar.setAttribute("aria-valuetext",
      `${Math.round(percent)}% (${fmtNumber(processed)} of ${fmtNumber(job.total)})`);
    parts.bar.classList.remove("bar-indeterminate");
  } else {
    // Total not known yet: an indeterminate bar has no aria-valuenow (ARIA 1.2).
    parts.bar.setAttribute("aria-valuemax", "100");
    parts.bar.removeAttribute("aria-valuenow");
    parts.bar.setAttribute("aria-valuetext", job.status === "queued" ? "Waiting" : "Starting");
    parts.bar.classList.toggle("bar-indeterminate", job.status === "running");
  }
  parts.fill.style.width = `${known ? percent : 0}%`;

  parts.done.textContent = fmtNumber(job.done);
  parts.total.textContent = fmtNumber(job.total);
  parts.failed.textContent = fmtNumber(job.failed);
  parts.failed.classList.toggle("has-failures", job.failed > 0);
  parts.rate.textContent = fmtRate(job);
  parts.eta.textContent = fmtEta(job);
  parts.line.textContent = statusLine(job);
  parts.line.classList.toggle("job-line-error", job.status === "failed");

  const started = job.started_at || job.created_at;
  parts.meta.textContent = job.finished_at
    ? `Finished ${fmtWhen(job.finished_at)}`
    : `Started ${fmtWhen(started)}`;
  renderActions(card, job);
  renderFailedLink(card.el, job);
}

function actionsFor(job) {
  const actions = [];
  if (!isTerminal(job)) actions.push("cancel");
  if (job.resumable) actions.push(job.kind === "campaign" ? "resume" : "retry");
  if (job.download_url) {
    const expired = job.expires_at && new Date(job.expires_at).getTime() <= Date.now();
    actions.push(expired ? "expired" : "download");
  }
  return actions;
}

function renderActions(card, job) {
  const actions = actionsFor(job);
  const key = `${actions.join(",")}|${job.download_url}|${job.expires_at}`;
  if (key === card.actionsKey) {
    refreshExpiry(card, job);
    return;
  }
  // Rebuilt only when the set of actions changes, so a focused button keeps its focus.
  card.actionsKey = key;
  const label = (verb) => `${verb} ${job.title}`;
  const nodes = actions.map((action) => {
    switch (action) {
      case "cancel":
        return h("button", { type: "button", class: "btn btn-quiet", "data-action": "cancel",
                             "aria-label": label("Cancel"), onclick: () => cancelJob(job.id) },
                 "Cancel");
      case "resume":
      case "retry":
        return h("button", { type: "button", class: "btn", "data-action": action,
                             "aria-label": label(action === "resume" ? "Resume" : "Retry"),
                             onclick: (e) => resumeJob(job.id, e.currentTarget) },
                 action === "resume" ? "Resume" : "Retry");
      case "download":
        return h("span", { class: "download" },
          h("a", { class: "btn btn-primary", href: job.download_url, download: "",
                   "data-action": "download", "aria-label": label("Download") }, "Download"),
          h("span", { class: "expiry", "data-role": "expiry", title: fmtWhen(job.expires_at) }));
      case "expired":
        return h("span", { class: "expiry expired" }, "File expired");
      default:
        return null;
    }
  });
  card.parts.actions.replaceChildren(...nodes.filter(Boolean));
  refreshExpiry(card, job);
}

function refreshExpiry(card, job) {
  const el = card.parts.actions.querySelector("[data-role=expiry]");
  if (el && job.expires_at) el.textContent = `Expires ${fmtRelative(job.expires_at)}`;
}

function placeCard(card, job) {
  // Newest first: insert before the first card that is older. A job's created_at never
  // changes, so a card is placed once, when it is added.
  const older = [...jobList.children].find((el) =>
    (cards.get(el.dataset.jobId).job.created_at || "") < (job.created_at || ""));
  jobList.insertBefore(card.el, older || null);
}

function showJob(job) {
  let card = cards.get(job.id);
  if (card) {
    // A snapshot repeats the jobs that did not change: same object, nothing to redraw.
    if (card.job !== job) renderCard(card, job);
    return;
  }
  card = buildCard(job);
  renderCard(card, job);
  placeCard(card, job);
  cards.set(job.id, card);
  $("#jobs-empty").hidden = true;
}

function showAll(jobs) {
  const ids = new Set(jobs.map((job) => job.id));
  for (const [id, card] of cards) {
    if (!ids.has(id)) {
      card.el.remove();
      cards.delete(id);
    }
  }
  for (const job of jobs) showJob(job);
  $("#jobs-empty").hidden = cards.size > 0;
}

socket.addEventListener("job", (event) => showJob(event.detail.job));
socket.addEventListener("snapshot", (event) => showAll(event.detail.jobs));
socket.addEventListener("ended", (event) => {
  const { job } = event.detail;
  announce(endSentence(job));
  announceJobEnded(job);
});

// Relative expiry times ("in 23 hours") age without any message from the server.
setInterval(() => {
  for (const card of cards.values()) renderActions(card, card.job);
}, 30000);

// --- actions ----------------------------------------------------------------------------
async function run(button, request, started) {
  askNotificationPermission();
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const { ok, data } = await request();
    if (ok && data.job) {
      socket.upsert(data.job);
      if (started) announce(started(data.job, data));
    } else if (!data.declined) {
      toast({ title: "Could not start", body: data.error || "Unknown error.", tone: "error" });
    }
  } catch (error) {
    toast({ title: "Network error", body: "The server could not be reached. Try again.",
            tone: "error" });
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

async function cancelJob(id) {
  try {
    const { status, data } = await api("POST", `/api/jobs/${id}/cancel/`);
    if (data.job) socket.upsert(data.job);
    if (status === 409) announce(data.error);
  } catch (error) {
    toast({ title: "Network error", body: "Cancel did not reach the server.", tone: "error" });
  }
}

function resumeJob(id, button) {
  return run(button, () => api("POST", `/api/jobs/${id}/resume/`),
    (job) => `${job.title} started again.`);
}

const demoButton = $("#demo-start");
if (demoButton) {
  demoButton.addEventListener("click", (e) => run(e.currentTarget,
    () => api("POST", "/api/demo-jobs/", { steps: 40, delay: 0.1 }),
    (job) => `${job.title} queued.`));
}

// --- start ------------------------------------------------------------------------------
const initial = JSON.parse($("#initial-jobs").textContent || "[]");
socket.seed(initial);
showAll(socket.list());
// The page only has the cards of what this user may start.
if ($("#claim-types")) loadExportTypes($("#claim-types"), run);
if ($("#agreements")) campaignsCard({ socket, run, announce });
socket.start();
window.jobsSocket = socket; // for debugging from the console and for the browser tests
