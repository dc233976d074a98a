// Small pieces the job cards (dashboard.js) and the compact history rows (job-history.js)
// both show: the file size, the counts in a few words, the links between a job and its
// retry or resume.

import { fmtNumber, h, unitOf } from "./format.js";

const bytes = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const UNITS = ["B", "kB", "MB", "GB", "TB"];

/** 12400000 -> "12.4 MB" (powers of 1000, as browsers' download lists count). */
export function fmtBytes(size) {
  if (size === null || size === undefined || !Number.isFinite(size) || size < 0) return "";
  let value = size;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const shown = unit === 0 || value >= 100 ? Math.round(value) : Math.round(value * 10) / 10;
  return `${bytes.format(shown)} ${UNITS[unit]}`;
}

/** "8,000 rows", "120 of 500 rows", "6 emails, 3 failed". */
export function countsText(job) {
  const unit = unitOf(job);
  const processed = (job.done || 0) + (job.failed || 0);
  const partial = job.total !== null && job.total !== undefined && processed < job.total;
  let text = partial ? `${fmtNumber(job.done)} of ${fmtNumber(job.total)} ${unit}`
    : `${fmtNumber(job.done)} ${unit}`;
  if (job.failed) text += `, ${fmtNumber(job.failed)} failed`;
  return text;
}

/** The element id of a job's card or row: the target of the links below. */
export function jobAnchor(id) {
  return `job-${id}`;
}

/** Links to the job this one continues or retries, and to the one that continued it.
 *  `open(id)` brings the other job into view (it may have to be fetched first). */
export function relationLinks(job, open) {
  const campaign = job.kind === "campaign";
  const link = (id, text, rel) => h("a", {
    href: `#${jobAnchor(id)}`, class: "job-relation", "data-relation": rel,
    onclick: (event) => { event.preventDefault(); open(id); },
  }, text);
  return [
    job.resumed_from
      ? link(job.resumed_from, campaign ? "↑ Resumes an earlier job" : "↑ Retry of an earlier job",
        "resumed-from")
      : null,
    job.resumed_by
      ? link(job.resumed_by, campaign ? "↓ Resumed by a newer job" : "↓ Retried as a newer job",
        "resumed-by")
      : null,
  ].filter(Boolean);
}
