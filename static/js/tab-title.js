// Progress in the tab's title while jobs run, so an admin in another tab sees it:
// "(42%) Dashboard · Claims desk"; the page's own title again once nothing runs.
//
// Several running jobs share one figure: all their processed items over all their totals
// (a job whose total is not known yet does not count). Jobs only queued, or running with no
// total yet, show "(…)": something is under way, no figure yet.

import { isTerminal } from "./jobs-socket.js";

export function progressPrefix(jobs) {
  const active = jobs.filter((job) => !isTerminal(job));
  if (!active.length) return "";
  let total = 0;
  let processed = 0;
  for (const job of active) {
    if (job.status !== "running" || !job.total) continue;
    total += job.total;
    processed += Math.min(job.total, (job.done || 0) + (job.failed || 0));
  }
  // Rounded down: "100%" only when every item is done.
  return total ? `(${Math.floor((100 * processed) / total)}%)` : "(…)";
}

/** Keep document.title up to date with the socket's jobs. */
export function trackTabTitle(socket) {
  const base = document.title;
  let shown = null;
  const update = () => {
    const prefix = progressPrefix([...socket.jobs.values()]);
    const title = prefix ? `${prefix} ${base}` : base;
    if (title !== shown) {
      shown = title;
      document.title = title;
    }
  };
  for (const name of ["job", "snapshot"]) socket.addEventListener(name, update);
  update();
  return update;
}
