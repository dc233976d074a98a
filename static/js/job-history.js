// "Your jobs" beyond the cards: finished jobs as a compact list (one line each: status, title,
// when, counts, the links to a retry, Download), the filters (kind, status, title search),
// "Hide finished" (remembered in localStorage) and paging past the socket's snapshot with
// GET /api/jobs/?before=… (docs/contract.md).
//
// Where the rows come from, merged per job id by the highest `version`:
// - pages of the API, fetched with the current filters (finished statuses only), newest first;
// - the socket's finished jobs that are not cards (a job that ends pushes an older finished
//   card down here, live). Only those inside the range the pages cover are shown: past the
//   last page loaded the API's order decides, so "Show more" never skips or repeats a job;
// - jobs fetched on purpose ("pinned"), when a retry's link points to a job not on the page.
//
// The dashboard (dashboard.js) owns the cards and the socket; it calls `update(jobs, cardIds)`
// whenever they change and asks `matches(job)` whether a card passes the filters.

import { api } from "./api.js";
import { STATUS_LABELS, fmtWhen, h } from "./format.js";
import { countsText, fmtBytes, jobAnchor, relationLinks } from "./job-bits.js";
import { isTerminal } from "./jobs-socket.js";

const PAGE = 20;
const HIDE_KEY = "jobs-hide-finished";
const FINISHED = ["succeeded", "failed", "cancelled", "interrupted"];
const KINDS = { export: "Export", campaign: "Campaign", demo: "Demo" };
const SEARCH_DELAY = 250; // ms after the last keystroke

const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const dayAndTime = new Intl.DateTimeFormat(undefined,
  { day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });

/** "14:05" today, "3 Dec, 14:05" before: short enough for one line. */
function fmtShortWhen(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString()
    ? timeOnly.format(date) : dayAndTime.format(date);
}

/** The API's order: created_at, then id, both descending. Negative when `a` comes first. */
export function order(a, b) {
  const ca = a.created_at || "";
  const cb = b.created_at || "";
  if (ca !== cb) return ca > cb ? -1 : 1;
  if (a.id === b.id) return 0;
  return a.id > b.id ? -1 : 1;
}

function readHidden() {
  try {
    return localStorage.getItem(HIDE_KEY) === "1";
  } catch (error) {
    return false;
  }
}

function saveHidden(on) {
  try {
    if (on) localStorage.setItem(HIDE_KEY, "1");
    else localStorage.removeItem(HIDE_KEY);
  } catch (error) { /* storage unavailable: not remembered */ }
}

export class JobHistory {
  constructor({ section, onChange, onResume, onOpen }) {
    const $ = (selector) => section.querySelector(selector);
    this.box = $("#history");
    this.list = $("#job-history");
    this.heading = $("#history-heading");
    this.more = $("#history-more");
    this.status = $("#history-status");
    this.nomatch = $("#jobs-nomatch");
    this.search = $("#job-q");
    this.kind = $("#job-kind");
    this.statusFilter = $("#job-status");
    this.hide = $("#hide-finished");
    this.onChange = onChange;
    this.onResume = onResume;
    this.onOpen = onOpen;

    this.pages = new Map(); // id -> job, from the API
    this.oldest = null; // the oldest job the pages hold
    this.next = undefined; // the pages' next_before: undefined = not loaded, null = no more
    this.live = []; // the socket's finished jobs that are not cards, API order
    this.pinned = new Map();
    this.cardIds = new Set();
    this.rows = new Map(); // id -> {el, parts, job, actionsKey}
    this.loading = false;
    this.seq = 0;

    this.hide.checked = readHidden();
    $("#job-filters").addEventListener("submit", (event) => event.preventDefault());
    let timer = null;
    this.search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.filtersChanged(), SEARCH_DELAY);
    });
    this.kind.addEventListener("change", () => this.filtersChanged());
    this.statusFilter.addEventListener("change", () => this.filtersChanged());
    this.hide.addEventListener("change", () => {
      saveHidden(this.hide.checked);
      this.filtersChanged();
    });
    this.more.addEventListener("click", () => this.load({ more: true }));
  }

  get filters() {
    const statuses = this.statusFilter.value ? this.statusFilter.value.split(",") : [];
    return {
      q: this.search.value.trim(),
      kind: this.kind.value,
      statuses,
      hideFinished: this.hide.checked,
    };
  }

  /** Whether any filter (or "Hide finished") narrows the list. */
  get narrowed() {
    const f = this.filters;
    return Boolean(f.q || f.kind || f.statuses.length || f.hideFinished);
  }

  /** Whether a job passes the filters (cards and rows alike). */
  matches(job) {
    const f = this.filters;
    if (f.hideFinished && isTerminal(job)) return false;
    if (f.kind && job.kind !== f.kind) return false;
    if (f.statuses.length && !f.statuses.includes(job.status)) return false;
    if (f.q && !(job.title || "").toLowerCase().includes(f.q.toLowerCase())) return false;
    return true;
  }

  /** Keep a job (fetched for a link) in the list whatever the filters, until they change. */
  pin(job) {
    this.pinned.set(job.id, job);
  }

  filtersChanged() {
    this.load();
    this.onChange();
  }

  /** The finished statuses the API is asked for, or null when no row can match. */
  wanted() {
    const f = this.filters;
    if (f.hideFinished) return null;
    const statuses = f.statuses.length ? f.statuses.filter((s) => FINISHED.includes(s))
      : FINISHED;
    return statuses.length ? statuses : null;
  }

  async load({ more = false } = {}) {
    const seq = ++this.seq;
    if (!more) {
      this.pages.clear();
      this.pinned.clear();
      this.oldest = null;
      this.next = undefined;
    }
    const statuses = this.wanted();
    if (!statuses) {
      this.next = null;
      this.loading = false;
      this.onChange();
      return;
    }
    const f = this.filters;
    const params = new URLSearchParams({ status: statuses.join(","), limit: String(PAGE) });
    if (f.kind) params.set("kind", f.kind);
    if (f.q) params.set("q", f.q.slice(0, 100));
    if (more && this.next) params.set("before", this.next);
    this.loading = true;
    this.showStatus(more ? "Loading more…" : "");
    let answer = null;
    try {
      answer = await api("GET", `/api/jobs/?${params}`);
    } catch (error) {
      answer = { ok: false, data: { error: "Earlier jobs could not be loaded: the server " +
        "could not be reached." } };
    }
    if (seq !== this.seq) return; // the filters changed meanwhile: a newer load decides
    this.loading = false;
    if (!answer.ok) {
      this.showStatus(answer.data.error || "Earlier jobs could not be loaded.");
      if (this.next === undefined) this.next = null;
      this.onChange();
      return;
    }
    this.showStatus("");
    for (const job of answer.data.jobs || []) {
      this.pages.set(job.id, job);
      if (!this.oldest || order(job, this.oldest) > 0) this.oldest = job;
    }
    this.next = answer.data.next_before || null;
    this.onChange();
  }

  showStatus(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  /** The socket's jobs (newest first) and which of them are cards. */
  update(jobs, cardIds) {
    this.cardIds = cardIds;
    this.live = jobs.filter((job) => isTerminal(job) && !cardIds.has(job.id)).sort(order);
    this.render();
  }

  inRange(job, index) {
    if (this.next === undefined) return index < PAGE; // first page not here yet
    if (this.next === null || !this.oldest) return true;
    return order(job, this.oldest) <= 0;
  }

  shownJobs() {
    const merged = new Map();
    const put = (job, pinned = false) => {
      const have = merged.get(job.id);
      if (!have || job.version > have.job.version) {
        merged.set(job.id, { job, pinned: pinned || Boolean(have && have.pinned) });
      } else if (pinned) {
        have.pinned = true;
      }
    };
    for (const job of this.pages.values()) put(job);
    this.live.forEach((job, index) => { if (this.inRange(job, index)) put(job); });
    for (const job of this.pinned.values()) put(job, true);
    return [...merged.values()]
      .filter(({ job, pinned }) => isTerminal(job) && !this.cardIds.has(job.id)
        && (pinned || this.matches(job)))
      .map(({ job }) => job)
      .sort(order);
  }

  render() {
    const shown = this.shownJobs();
    const keep = new Set(shown.map((job) => job.id));
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) {
        row.el.remove();
        this.rows.delete(id);
      }
    }
    let previous = null;
    for (const job of shown) {
      let row = this.rows.get(job.id);
      if (!row) {
        row = this.buildRow(job);
        this.rows.set(job.id, row);
      } else if (row.job !== job) {
        this.fillRow(row, job);
      }
      // Moved only when out of place: moving a node takes the focus away from its button.
      const place = previous ? previous.nextSibling : this.list.firstChild;
      if (place !== row.el) this.list.insertBefore(row.el, place);
      previous = row.el;
    }
    const hidden = this.hide.checked;
    this.more.hidden = hidden || !this.next || this.loading;
    this.heading.hidden = shown.length === 0;
    this.box.hidden = hidden || (shown.length === 0 && this.more.hidden && this.status.hidden);
  }

  /** The empty-state lines: "No jobs yet" only for a user with no job at all, "No jobs match"
   *  only when the filters hide everything (never beside a visible job). */
  renderEmpty({ anyJobs, visibleCards }) {
    const empty = document.getElementById("jobs-empty");
    if (empty) empty.hidden = anyJobs || this.rows.size > 0;
    const nothing = anyJobs && visibleCards === 0 && this.rows.size === 0 && !this.loading
      && this.next !== undefined;
    this.nomatch.hidden = !nothing;
    if (nothing) {
      const f = this.filters;
      const onlyHidden = f.hideFinished && !f.q && !f.kind && !f.statuses.length;
      this.nomatch.textContent = onlyHidden
        ? "Nothing is running or queued. Finished jobs are hidden."
        : "No jobs match these filters.";
    }
  }

  buildRow(job) {
    const parts = {
      status: h("span", { class: "badge", "data-role": "status" }),
      title: h("span", { class: "history-title", "data-role": "title" }),
      kind: h("span", { class: "history-kind" }),
      when: h("time", { class: "history-when", "data-role": "when" }),
      counts: h("span", { class: "history-counts", "data-role": "counts" }),
      relations: h("span", { class: "history-relations" }),
      actions: h("span", { class: "history-actions" }),
    };
    const el = h("li", {
      class: "history-row", "data-job-id": job.id, id: jobAnchor(job.id), tabindex: "-1",
    },
    parts.status,
    h("span", { class: "history-main" }, parts.title),
    h("span", { class: "history-meta" }, parts.kind, parts.when, parts.counts, parts.relations),
    parts.actions);
    const row = { el, parts, job: null, actionsKey: null };
    this.fillRow(row, job);
    return row;
  }

  fillRow(row, job) {
    const { el, parts } = row;
    row.job = job;
    el.dataset.status = job.status;
    parts.status.textContent = STATUS_LABELS[job.status] || job.status;
    parts.status.className = `badge badge-${job.status}`;
    parts.title.textContent = job.title;
    el.title = job.error ? `${job.title}: ${job.error}` : job.title;
    parts.kind.textContent = KINDS[job.kind] || job.kind;
    const when = job.finished_at || job.created_at;
    parts.when.textContent = fmtShortWhen(when);
    parts.when.setAttribute("datetime", when || "");
    parts.when.title = `${job.finished_at ? "Finished" : "Created"} ${fmtWhen(when)}`;
    parts.counts.textContent = countsText(job);
    const links = relationLinks(job, this.onOpen);
    parts.relations.replaceChildren(...links);
    parts.relations.hidden = links.length === 0;
    this.fillActions(row, job);
  }

  /** Expiry ages without a message from the server: redraw what changed (every 30 s). */
  tick() {
    for (const row of this.rows.values()) this.fillActions(row, row.job);
  }

  fillActions(row, job) {
    const expired = job.download_url && job.expires_at
      && new Date(job.expires_at).getTime() <= Date.now();
    const key = `${job.resumable}|${job.download_url}|${expired}|${job.file_size}`;
    if (key === row.actionsKey) return;
    row.actionsKey = key;
    const nodes = [];
    if (job.resumable) {
      const verb = job.kind === "campaign" ? "Resume" : "Retry";
      nodes.push(h("button", {
        type: "button", class: "btn btn-small", "data-action": verb.toLowerCase(),
        "aria-label": `${verb} ${job.title}`,
        onclick: (event) => this.onResume(job.id, event.currentTarget),
      }, verb));
    }
    if (job.download_url && !expired) {
      nodes.push(h("a", {
        class: "btn btn-small btn-primary", href: job.download_url, download: "",
        "data-action": "download", "aria-label": `Download ${job.title}`,
        title: job.expires_at ? `Expires ${fmtWhen(job.expires_at)}` : null,
      }, "Download"));
      const size = fmtBytes(job.file_size);
      if (size) nodes.push(h("span", { class: "file-size", "data-role": "file-size" }, size));
    } else if (job.download_url) {
      nodes.push(h("span", { class: "expiry expired" }, "File expired"));
    }
    row.parts.actions.replaceChildren(...nodes);
  }
}
