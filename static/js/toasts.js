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

/** A toast and, if allowed and the tab is not in view, a system notification. */
export function announceJobEnded(job) {
  const action = job.download_url
    ? { href: job.download_url, label: "Download", download: true }
    : null;
  const title = job.status === "succeeded" ? "Job finished" : `Job ${job.status}`;
  toast({ title, body: endSentence(job), tone: TONES[job.status] || "info", action });
  const away = document.hidden || !document.hasFocus();
  if (away && "Notification" in window && Notification.permission === "granted") {
    try {
      const note = new Notification(title, { body: endSentence(job), tag: job.id });
      note.onclick = () => { window.focus(); note.close(); };
    } catch (error) { /* some browsers only allow notifications from a service worker */ }
  }
}
