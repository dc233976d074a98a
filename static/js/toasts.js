// Toasts (always) and browser notifications (with permission, when the page is not in view).
//
// Two rules keep them from getting in the way of an admin who works here all day:
//
// - Endings are grouped: jobs that end while an "ended" toast is on screen join it ("3 jobs
//   finished", two lines, "and 1 more"), so several jobs ending together make one toast, not
//   a stack climbing over the page. At most MAX_TOASTS toasts exist at once (the oldest goes).
//   Where the stack sits is the stylesheet's business (widget.css): on the dashboard it keeps
//   clear of the job list (see .toasts-dashboard).
// - A page announces the endings it saw live. One it did not see (first seen already
//   finished, or active only in a possibly stale copy of the page) gets a toast only when it
//   ended moments ago (RECENT_MS) and no page of this browser has announced or shown it
//   finished: every page records the finished jobs it shows (`noteShown`), so a page opened
//   later stays quiet about them.

import { endSentence, h } from "./format.js";

const TIMEOUT = 10000;
const MAX_TOASTS = 3;
const GROUP_LINES = 2;
const RECENT_MS = 30000;
const CLOCK_SLACK = 5000; // a browser clock this far behind the server's still counts
const NOTIFIED_KEY = "jobs-notified";
const NOTIFIED_MAX = 300;

function region() {
  let el = document.getElementById("toasts");
  if (!el) {
    el = h("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(el);
  }
  return el;
}

function textOf({ title, body = "", lines = [], more = "", action = null }) {
  return h("div", { class: "toast-text" },
    h("strong", {}, title),
    body ? h("span", {}, body) : null,
    lines.length ? h("ul", { class: "toast-lines" }, lines.map((line) => h("li", {}, line)))
      : null,
    more ? h("span", { class: "toast-more" }, more) : null,
    action ? h("a", { href: action.href, download: action.download ? "" : null,
                      class: "toast-action" }, action.label) : null);
}

/** Show a toast; `action` is {href, label, download} for a link inside it, `lines` a short
 *  list under the title. Returns the element; `el.update({...})` redraws it in place and
 *  restarts its timer. */
export function toast({ title, body = "", tone = "info", action = null, lines = [], more = "" }) {
  const close = h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
  const el = h("div", { class: `toast toast-${tone}` },
    textOf({ title, body, lines, more, action }), close);
  let timer = null;
  const dismiss = () => { clearTimeout(timer); el.remove(); };
  const arm = () => { clearTimeout(timer); timer = setTimeout(dismiss, TIMEOUT); };
  const disarm = () => clearTimeout(timer);
  close.addEventListener("click", dismiss);
  // Stays while pointed at or focused, so it can be read and its link reached by keyboard.
  el.addEventListener("mouseenter", disarm);
  el.addEventListener("mouseleave", arm);
  el.addEventListener("focusin", disarm);
  el.addEventListener("focusout", arm);
  el.update = (next) => {
    el.className = `toast toast-${next.tone || tone}`;
    el.firstChild.replaceWith(textOf(next));
    if (!el.matches(":hover, :focus-within")) arm();
  };
  const stack = region();
  stack.append(el);
  // The cap: the oldest toasts go first (not one being read or used by keyboard).
  const extra = [...stack.children].filter((t) => !t.matches(":hover, :focus-within"));
  while (stack.children.length > MAX_TOASTS && extra.length) extra.shift().remove();
  arm();
  return el;
}

/** Ask once, from a click (browsers only allow it from a user gesture). */
export function askNotificationPermission() {
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
}

const TONES = { succeeded: "success", failed: "error", interrupted: "warning", cancelled: "info" };
const SEVERITY = ["success", "info", "warning", "error"];

function readNotified() {
  try {
    const seen = JSON.parse(localStorage.getItem(NOTIFIED_KEY) || "[]");
    return Array.isArray(seen) ? seen : [];
  } catch (error) {
    return [];
  }
}

function writeNotified(seen) {
  try {
    localStorage.setItem(NOTIFIED_KEY, JSON.stringify(seen.slice(-NOTIFIED_MAX)));
  } catch (error) { /* storage unavailable or full: nothing to remember */ }
}

/** True the first time for a job id in this browser (tabs and page loads share the list). */
function firstNotice(id) {
  const seen = readNotified();
  if (seen.includes(id)) return false;
  writeNotified([...seen, id]);
  return true;
}

/** Record the finished jobs a page shows, so that no page opened later announces them as
 *  "recent and never announced" (the admin has seen them finished already). */
export function noteShown(jobs) {
  if (leaving) return; // the next page may still have to announce them (see `leaving`)
  const finished = jobs.filter((job) => job.finished_at).map((job) => job.id);
  if (!finished.length) return;
  const seen = readNotified();
  const known = new Set(seen);
  const added = finished.filter((id) => !known.has(id));
  if (added.length) writeNotified([...seen, ...added]);
}

function endedMomentsAgo(job, now = Date.now()) {
  const age = now - Date.parse(job.finished_at || "");
  return age > -CLOCK_SLACK && age < RECENT_MS;
}

// A form post (the admin actions) keeps the old page alive until the answer comes: a job that
// ends meanwhile must be left for the next page to announce, not "noticed" by a page that is
// going away.
let leaving = false;
window.addEventListener("beforeunload", () => {
  leaving = true;
  setTimeout(() => { leaving = false; }, 5000); // the navigation did not happen after all
});
window.addEventListener("pageshow", () => { leaving = false; });

// The "ended" toast on screen, and the jobs it lists (newest ending first).
let group = { el: null, jobs: [] };

function groupContent(jobs) {
  if (jobs.length === 1) {
    const [job] = jobs;
    return {
      title: job.status === "succeeded" ? "Job finished" : `Job ${job.status}`,
      body: endSentence(job),
      tone: TONES[job.status] || "info",
      action: job.download_url
        ? { href: job.download_url, label: "Download", download: true } : null,
    };
  }
  const tone = jobs.map((job) => TONES[job.status] || "info")
    .reduce((a, b) => (SEVERITY.indexOf(b) > SEVERITY.indexOf(a) ? b : a));
  const allDone = jobs.every((job) => job.status === "succeeded");
  const lines = jobs.slice(0, GROUP_LINES).map(endSentence);
  const more = jobs.length > GROUP_LINES ? `and ${jobs.length - GROUP_LINES} more` : "";
  // The files are in the job list (each with its Download): one link there, not a list.
  const list = document.getElementById("jobs-heading") ? "#jobs-heading" : "/";
  return {
    title: `${jobs.length} jobs ${allDone ? "finished" : "ended"}`,
    lines,
    more,
    tone,
    action: { href: list, label: "Show your jobs" },
  };
}

function showEnding(job) {
  if (group.el && group.el.isConnected) {
    group.jobs = [job, ...group.jobs.filter((other) => other.id !== job.id)];
    group.el.update(groupContent(group.jobs));
    return;
  }
  group = { el: null, jobs: [job] };
  group.el = toast(groupContent(group.jobs));
  group.el.dataset.role = "endings";
}

/** A toast and, if allowed and the tab is not in view, a system notification. Returns
 *  whether the ending was announced. */
export function announceJobEnded(job, { recent = false } = {}) {
  if (leaving) return false;
  // Seen ending live: every open tab shows its toast, one system notification in all.
  // Not seen live: only if it ended moments ago and no page announced or showed it before.
  if (recent && !endedMomentsAgo(job)) return false;
  const first = firstNotice(job.id);
  if (recent && !first) return false;
  showEnding(job);
  const away = document.hidden || !document.hasFocus();
  if (first && away && "Notification" in window && Notification.permission === "granted") {
    const title = job.status === "succeeded" ? "Job finished" : `Job ${job.status}`;
    try {
      const note = new Notification(title, { body: endSentence(job), tag: job.id });
      note.onclick = () => { window.focus(); note.close(); };
    } catch (error) { /* some browsers only allow notifications from a service worker */ }
  }
  return true;
}
