// "Failed: N" on a campaign's job card, and the panel it opens: the failed recipients with
// the mail server's reason, page by page, and the CSV of all of them
// (GET /api/campaigns/<id>/failed/ and …/failed.csv).

import { api } from "./api.js";
import { fmtNumber, fmtWhen, h } from "./format.js";

const PER_PAGE = 20;
const REFRESH_MS = 2000; // while a campaign runs its failures grow: re-read at most this often

let panel = null; // {el, parts, jobId, title, page, failed, timer}

/** Called by the dashboard each time a job card is drawn. */
export function renderFailedLink(cardEl, job) {
  let link = cardEl.querySelector("[data-role=failed-link]");
  if (job.kind !== "campaign" || !(job.failed > 0)) {
    if (link) link.remove();
    return;
  }
  if (!link) {
    link = h("button", { type: "button", class: "linklike failed-link",
                         "data-role": "failed-link" });
    link.addEventListener("click", () => openPanel(link.dataset.jobId, link.dataset.title));
    const foot = cardEl.querySelector(".job-foot");
    foot.insertBefore(link, foot.querySelector(".job-actions"));
  }
  const text = `Failed: ${fmtNumber(job.failed)}`;
  if (link.textContent !== text) link.textContent = text;
  link.dataset.jobId = job.id;
  link.dataset.title = job.title;
  link.setAttribute("aria-label", `Failed recipients of ${job.title}: ${fmtNumber(job.failed)}`);
  if (panel && panel.el.open && panel.jobId === job.id && panel.failed !== job.failed) {
    panel.failed = job.failed;
    refreshSoon();
  }
}

function buildPanel() {
  const parts = {
    title: h("h2", { id: "failed-panel-title" }, "Failed recipients"),
    summary: h("p", { class: "hint", "data-role": "summary" }),
    body: h("tbody"),
    status: h("p", { class: "muted", "data-role": "status", role: "status" }),
    prev: h("button", { type: "button", class: "btn", "data-role": "prev" }, "Previous"),
    next: h("button", { type: "button", class: "btn", "data-role": "next" }, "Next"),
    pageText: h("span", { class: "pager-text", "data-role": "page" }),
    csv: h("a", { class: "btn", download: "", "data-role": "csv" }, "Download CSV"),
    close: h("button", { type: "button", class: "btn btn-primary", autofocus: true }, "Close"),
  };
  parts.pager = h("nav", { class: "pager", "aria-label": "Pages of failed recipients" },
    parts.prev, parts.pageText, parts.next);
  parts.table = h("table", { class: "failed-table" },
    h("colgroup", {}, h("col", { class: "col-email" }), h("col", { class: "col-reason" }),
      h("col", { class: "col-retry" })),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Email"), h("th", { scope: "col" }, "Reason"),
      h("th", { scope: "col" }, "On resume"))),
    parts.body);
  const x = h("button", { type: "button", class: "dialog-close", "aria-label": "Close" }, "×");
  const el = h("dialog", { class: "dialog failed-panel", id: "failed-panel",
                           "aria-labelledby": "failed-panel-title" },
    h("div", { class: "dialog-body" },
      h("div", { class: "dialog-head" }, parts.title, x),
      parts.summary, h("div", { class: "failed-scroll" }, parts.table, parts.status),
      parts.pager,
      h("div", { class: "dialog-actions" }, parts.csv, parts.close)));
  for (const button of [x, parts.close]) button.addEventListener("click", () => el.close());
  parts.prev.addEventListener("click", () => loadPage(panel.page - 1));
  parts.next.addEventListener("click", () => loadPage(panel.page + 1));
  el.addEventListener("close", () => {
    clearTimeout(panel.timer);
    panel.timer = null;
  });
  document.body.append(el);
  return { el, parts };
}

function openPanel(jobId, title) {
  if (!panel) panel = buildPanel();
  Object.assign(panel, { jobId, title, page: 1, failed: null });
  const { parts } = panel;
  parts.summary.textContent = title;
  parts.body.replaceChildren();
  parts.pager.hidden = true;
  parts.csv.href = `/api/campaigns/${jobId}/failed.csv`;
  parts.status.textContent = "Loading…";
  panel.el.showModal();
  loadPage(1);
}

function refreshSoon() {
  if (panel.timer) return;
  panel.timer = setTimeout(() => {
    panel.timer = null;
    if (panel.el.open) loadPage(panel.page);
  }, REFRESH_MS);
}

async function loadPage(page) {
  const { parts, jobId } = panel;
  let answer;
  try {
    answer = await api("GET", `/api/campaigns/${jobId}/failed/?page=${page}&per_page=${PER_PAGE}`);
  } catch (error) {
    parts.status.textContent = "The server could not be reached. Try again.";
    return;
  }
  if (panel.jobId !== jobId) return; // another campaign's panel was opened meanwhile
  if (!answer.ok) {
    parts.status.textContent = answer.data.error;
    return;
  }
  const data = answer.data;
  panel.page = data.page;
  parts.summary.textContent = `${panel.title} · ${fmtNumber(data.count)} failed`;
  parts.body.replaceChildren(...data.failed.map((item) => h("tr", {},
    h("td", { class: "failed-email", "data-label": "Email" }, item.email),
    h("td", { class: "failed-reason", "data-label": "Reason",
              title: item.failed_at ? `Failed ${fmtWhen(item.failed_at)}` : null },
      item.reason || "–"),
    h("td", { class: "failed-retry", "data-label": "On resume" },
      item.retryable ? "tried again" : "skipped (permanent)"))));
  parts.table.hidden = data.failed.length === 0;
  parts.status.textContent = data.count ? "" : "No failed recipients.";
  parts.pager.hidden = data.pages <= 1;
  parts.pageText.textContent = `Page ${fmtNumber(data.page)} of ${fmtNumber(data.pages)}`;
  parts.prev.disabled = data.page <= 1;
  parts.next.disabled = data.page >= data.pages;
}
