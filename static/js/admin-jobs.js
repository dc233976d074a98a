// The live widget on every admin page: a toast when one of your jobs ends, and a small chip
// while jobs run (or while the connection is being re-established). Same socket module as the
// dashboard.

import { h } from "./format.js";
import { JobsSocket, isTerminal } from "./jobs-socket.js";
import { announceJobEnded, noteShown } from "./toasts.js";

// A job started by an admin form post may end before the next page's socket is open: one
// that ended moments ago and that no page announced still gets its toast (toasts.js).
const socket = new JobsSocket({ announceRecent: 30000 });
const chip = h("a", { class: "jobs-chip", href: "/", hidden: true, "data-state": "connecting",
                      role: "status" },
  h("span", { class: "chip-dot", "aria-hidden": "true" }), h("span", { class: "chip-text" }));
document.body.append(chip);

function render() {
  const active = [...socket.jobs.values()].filter((job) => !isTerminal(job)); // no sort needed
  const text = chip.querySelector(".chip-text");
  chip.dataset.state = socket.state;
  if (socket.state === "reconnecting") {
    text.textContent = "Jobs: reconnecting…";
  } else if (socket.state === "forbidden") {
    text.textContent = "Jobs: not allowed";
  } else if (active.length === 1) {
    const job = active[0];
    const pct = job.percent === null || job.percent === undefined ? "" : ` · ${Math.round(job.percent)}%`;
    text.textContent = `${job.title}: ${job.status}${pct}`;
  } else {
    text.textContent = `${active.length} jobs running`;
  }
  chip.hidden = socket.state !== "reconnecting" && socket.state !== "forbidden"
    && active.length === 0;
}

socket.addEventListener("state", render);
socket.addEventListener("snapshot", (event) => {
  noteShown(event.detail.jobs); // after its "ended" events: later pages stay quiet about them
  render();
});
socket.addEventListener("job", render);
socket.addEventListener("ended", (event) => announceJobEnded(event.detail.job, event.detail));
socket.start();
window.jobsSocket = socket;
