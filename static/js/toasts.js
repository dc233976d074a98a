// Toasts (always) and browser notifications (with permission, when the page is not in view).

import { endSentence, h } from "./format.js";

const TIMEOUT = 10000;

function region() {
  let el = document.getElementById("toasts");
  if (!el) {
    el = h("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(el);
  }
  return el;
}

/** Show a toast; `action` is {href, label, download} for a link inside it. */
export function toast({ title, body = "", tone = "info", action = null }) {
  const close = h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
  const el = h("div", { class: `toast toast-${tone}` },
    h("div", { class: "toast-text" },
      h("strong", {}, title),
      body ? h("span", {}, body) : null,
      action ? h("a", { href: action.href, download: action.download ? "" : null,
                        class: "toast-action" }, action.label) : null),
    close);
  let timer = null;
  const dismiss = () => el.remove();
  const arm = () => { timer = setTimeout(dismiss, TIMEOUT); };
  const disarm = () => clearTimeout(timer);
  close.addEventListener("click", dismiss);
  // Stays while pointed at or focused, so it can be read and its link reached by keyboard.
  el.addEventListener("mouseenter", disarm);
  el.addEventListener("mouseleave", arm);
  el.addEventListener("focusin", disarm);
  el.addEventListener("focusout", arm);
  region().append(el);
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

const NOTIFIED_KEY = "jobs-notified";

/** True the first time for a job id in this browser (tabs and page loads share the list). */
function firstNotice(id) {
  try {
    const seen = JSON.parse(localStorage.getItem(NOTIFIED_KEY) || "[]");
    if (seen.includes(id)) return false;
    localStorage.setItem(NOTIFIED_KEY, JSON.stringify([...seen, id].slice(-200)));
  } catch (error) { /* storage unavailable: notify anyway */ }
  return true;
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

/** A toast and, if allowed and the tab is not in view, a system notification. */
export function announceJobEnded(job, { recent = false } = {}) {
  if (leaving) return;
  // Seen ending live: every open tab shows its toast, one system notification in all.
  // Found already finished on a page load: only if no page announced it before.
  const first = firstNotice(job.id);
  if (recent && !first) return;
  const action = job.download_url
    ? { href: job.download_url, label: "Download", download: true }
    : null;
  const title = job.status === "succeeded" ? "Job finished" : `Job ${job.status}`;
  toast({ title, body: endSentence(job), tone: TONES[job.status] || "info", action });
  const away = document.hidden || !document.hasFocus();
  if (first && away && "Notification" in window && Notification.permission === "granted") {
    try {
      const note = new Notification(title, { body: endSentence(job), tag: job.id });
      note.onclick = () => { window.focus(); note.close(); };
    } catch (error) { /* some browsers only allow notifications from a service worker */ }
  }
}
