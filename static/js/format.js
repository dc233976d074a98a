// Small formatting helpers shared by the dashboard and the admin widget.

const number = new Intl.NumberFormat(undefined);
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const ordinalRules = new Intl.PluralRules("en", { type: "ordinal" });

export const STATUS_LABELS = {
  queued: "Queued",
  running: "Running",
  succeeded: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
  interrupted: "Interrupted",
};

export function fmtNumber(value) {
  return value === null || value === undefined ? "–" : number.format(value);
}

/** "rows", "emails" or "items", by job kind. */
export function unitOf(job) {
  return { export: "rows", campaign: "emails" }[job.kind] || "items";
}

export function fmtRate(job) {
  if (!job.rate) return "–";
  const rate = job.rate >= 100 ? Math.round(job.rate) : Math.round(job.rate * 10) / 10;
  return `${number.format(rate)} ${unitOf(job)}/s`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtEta(job) {
  if (job.status !== "running" || job.eta_seconds === null || job.eta_seconds === undefined) {
    return "–";
  }
  return job.eta_seconds < 1 ? "under a second" : `about ${fmtDuration(job.eta_seconds)}`;
}

export function fmtWhen(iso) {
  return iso ? absolute.format(new Date(iso)) : "";
}

/** "in 23 hours" / "5 minutes ago". */
export function fmtRelative(iso, now = Date.now()) {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(Math.round(seconds), "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

export function ordinal(n) {
  const suffix = { one: "st", two: "nd", few: "rd", other: "th" }[ordinalRules.select(n)];
  return `${n}${suffix}`;
}

/** The line under a job's bar: queue position while queued, else the job's message. */
export function statusLine(job) {
  if (job.status === "queued") {
    return job.queue_position
      ? `Waiting for a free worker: ${ordinal(job.queue_position)} in line`
      : "Waiting for a free worker";
  }
  if (job.status === "failed" && job.error) return job.error;
  if (job.status === "interrupted" && job.error) return job.error;
  return job.message || STATUS_LABELS[job.status] || job.status;
}

/** A short sentence for toasts and screen readers. */
export function endSentence(job) {
  const counts = job.total !== null && job.total !== undefined
    ? ` (${fmtNumber(job.done)} of ${fmtNumber(job.total)}${job.failed ? `, ${fmtNumber(job.failed)} failed` : ""})`
    : "";
  const verb = {
    succeeded: "finished", failed: "failed", cancelled: "was cancelled",
    interrupted: "was interrupted",
  }[job.status] || job.status;
  return `${job.title} ${verb}${counts}.`;
}

/** Tiny DOM builder: h("a", {href, class: "x"}, "text", child). Text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
