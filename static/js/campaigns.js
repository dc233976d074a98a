// The Reminder campaigns card: every agreement with its live counts, and "Send reminders"
// through a confirmation dialog (who will receive it, when the last campaign ran and to how
// many, one recipient's reminder as it would be sent, "Send a test to me").
//
// The counts are live: when someone accepts, the server pushes `agreement.counts` to every
// dashboard of a user who may send reminders (docs/asyncapi.yaml). Pushes are at most once,
// so the list is read again after every (re)connect and after every campaign ends.

import { api } from "./api.js";
import { fmtNumber, fmtRelative, fmtWhen, h } from "./format.js";

const $ = (selector, root = document) => root.querySelector(selector);

const rows = new Map(); // agreement id -> {agreement, el, meta, button}
let host = null; // {socket, run, announce} from dashboard.js

/** Fill #agreements and keep it live; `run` and `announce` are the dashboard's. */
export function campaignsCard({ socket, run, announce }) {
  host = { socket, run, announce };
  socket.addEventListener("frame", (event) => {
    if (event.detail.type === "agreement.counts") applyCounts(event.detail);
  });
  socket.addEventListener("ended", (event) => {
    if (event.detail.job.kind === "campaign") loadAgreements();
  });
  // Also on the first "live": an acceptance between this page's read and the socket joining
  // its feed would otherwise be missed.
  socket.addEventListener("state", (event) => {
    if (event.detail.state === "live") loadAgreements();
  });
  loadAgreements();
}

function unavailable(list, text) {
  rows.clear();
  list.replaceChildren(h("li", { class: "muted" }, text));
}

let loading = null;

export async function loadAgreements() {
  // One read at a time; a request made meanwhile reads once more after it.
  if (loading) {
    loading.again = true;
    return;
  }
  loading = { again: false };
  try {
    await readAgreements();
  } finally {
    const again = loading.again;
    loading = null;
    if (again) loadAgreements();
  }
}

async function readAgreements() {
  const list = $("#agreements");
  let answer;
  try {
    answer = await api("GET", "/api/campaigns/agreements/");
  } catch (error) {
    if (!rows.size) unavailable(list, "Could not load the agreements.");
    return;
  }
  if (!answer.ok) {
    unavailable(list, answer.status === 404 ? "Campaigns are not set up on this server."
      : answer.data.error);
    return;
  }
  const agreements = answer.data.agreements || [];
  if (!agreements.length) {
    unavailable(list, "No agreements.");
    return;
  }
  // Rows are updated in place, so a focused "Send reminders" keeps its focus.
  const ids = new Set(agreements.map((a) => a.id));
  for (const [id, row] of rows) {
    if (!ids.has(id)) {
      row.el.remove();
      rows.delete(id);
    }
  }
  [...list.children].forEach((el) => { if (!el.dataset.agreement) el.remove(); });
  agreements.forEach((agreement, index) => {
    const row = rows.get(agreement.id) || buildRow(agreement);
    row.agreement = agreement;
    renderRow(row);
    // The server's order; a row already in place is not moved (moving blurs its button).
    const here = list.children[index];
    if (here !== row.el) list.insertBefore(row.el, here || null);
  });
}

function buildRow(agreement) {
  const row = {
    agreement,
    title: h("span", { class: "row-title" }),
    meta: h("span", { class: "row-meta", "data-role": "audience" }),
    button: h("button", { type: "button", class: "btn btn-primary" }, "Send reminders"),
  };
  row.button.addEventListener("click", () => openConfirm(row));
  row.el = h("li", { class: "row" },
    h("div", { class: "row-text" }, row.title, row.meta),
    h("div", { class: "row-actions" }, row.button));
  rows.set(agreement.id, row);
  return row;
}

function renderRow(row) {
  const { agreement } = row;
  row.el.dataset.agreement = agreement.slug;
  row.button.dataset.campaign = agreement.slug;
  row.button.setAttribute("aria-label", `Send reminders for ${agreement.title}`);
  if (row.title.textContent !== agreement.title) row.title.textContent = agreement.title;
  const text = audienceLine(agreement);
  if (row.meta.textContent !== text) row.meta.textContent = text;
  row.button.disabled = agreement.unsigned === 0;
}

function audienceLine(agreement) {
  const parts = [`Version ${agreement.version}`, `${fmtNumber(agreement.unsigned)} unsigned`];
  const last = agreement.last_campaign;
  if (agreement.reminded_recently && last) {
    const when = fmtRelative(last.created_at); // Intl says "now" for the last seconds
    parts.push(`${fmtNumber(agreement.reminded_recently)} reminded ` +
      `${when === "now" ? "just now" : when}`);
  }
  return parts.join(" · ");
}

function applyCounts(frame) {
  const row = rows.get(frame.agreement);
  if (!row || row.agreement.version !== frame.version) {
    loadAgreements(); // a new agreement or version: its whole row comes from the list
    return;
  }
  row.agreement = { ...row.agreement, unsigned: frame.unsigned,
                    reminded_recently: frame.reminded_recently };
  renderRow(row);
}

// --- the confirmation dialog ------------------------------------------------------------
let dialog = null; // {el, parts, row, recent, include, data}

function hoursOf(seconds) {
  const hours = seconds / 3600;
  return Number.isInteger(hours) ? String(hours) : hours.toFixed(1);
}

// sandbox="": no scripts, no same-origin access, links go nowhere; the mail's own markup.
function mailFrame() {
  return h("iframe", { class: "preview-html", title: "The reminder as its recipient sees it",
                       sandbox: "", "data-role": "html" });
}

function buildDialog() {
  const parts = {
    title: h("h2", { id: "campaign-confirm-title" }),
    audience: h("p", { class: "confirm-audience", "data-role": "audience" }),
    last: h("p", { class: "confirm-last", "data-role": "last" }),
    include: h("input", { type: "checkbox", id: "campaign-include-recent" }),
    includeText: h("span"),
    previewFor: h("p", { class: "hint", "data-role": "preview-for" }),
    from: h("dd", { "data-role": "from" }),
    to: h("dd", { "data-role": "to" }),
    subject: h("dd", { "data-role": "subject" }),
    html: mailFrame(),
    text: h("pre", { class: "preview-text", "data-role": "text" }),
    test: h("button", { type: "button", class: "btn", "data-role": "test" },
      "Send a test to me"),
    testStatus: h("span", { class: "test-status", role: "status", "data-role": "test-status" }),
    error: h("p", { class: "notice notice-error", role: "alert", hidden: true,
                    "data-role": "error" }),
    cancel: h("button", { type: "button", class: "btn", autofocus: true }, "Cancel"),
    send: h("button", { type: "button", class: "btn btn-primary", "data-role": "send" },
      "Send reminders"),
  };
  parts.includeRow = h("label", { class: "confirm-include", hidden: true },
    parts.include, parts.includeText);
  parts.preview = h("section", { class: "preview", "aria-labelledby": "campaign-preview-title" },
    h("h3", { id: "campaign-preview-title" }, "Preview"),
    parts.previewFor,
    h("dl", { class: "preview-headers" },
      h("dt", {}, "From"), parts.from, h("dt", {}, "To"), parts.to,
      h("dt", {}, "Subject"), parts.subject),
    parts.html,
    h("details", { class: "preview-plain" }, h("summary", {}, "Plain-text part"), parts.text),
    h("div", { class: "preview-test" }, parts.test, parts.testStatus));
  const close = h("button", { type: "button", class: "dialog-close", "aria-label": "Close" },
    "×");
  const el = h("dialog", { class: "dialog campaign-confirm", id: "campaign-confirm",
                           "aria-labelledby": "campaign-confirm-title" },
    h("div", { class: "dialog-body" },
      h("div", { class: "dialog-head" }, parts.title, close),
      parts.audience, parts.last, parts.includeRow, parts.error, parts.preview,
      h("div", { class: "dialog-actions" }, parts.cancel, parts.send)));
  close.addEventListener("click", () => el.close());
  parts.cancel.addEventListener("click", () => el.close());
  parts.include.addEventListener("change", () => {
    dialog.include = parts.include.checked;
    parts.error.hidden = true;
    loadPreview();
  });
  parts.test.addEventListener("click", () => sendTest());
  parts.send.addEventListener("click", () => send());
  document.body.append(el);
  return { el, parts };
}

function openConfirm(row) {
  if (!dialog) dialog = buildDialog();
  Object.assign(dialog, { row, recent: 0, include: false, data: null });
  const { parts } = dialog;
  parts.title.textContent = `Send reminders: ${row.agreement.title}`;
  parts.audience.textContent = "Counting who would receive it…";
  parts.last.textContent = "";
  parts.include.checked = false;
  parts.includeRow.hidden = true;
  parts.error.hidden = true;
  parts.preview.hidden = true;
  parts.testStatus.textContent = "";
  parts.send.disabled = true;
  parts.send.textContent = "Send reminders";
  dialog.el.showModal();
  loadPreview();
}

async function loadPreview() {
  const { parts, row } = dialog;
  const query = new URLSearchParams({ agreement: row.agreement.id,
                                      include_recent: dialog.include });
  parts.send.disabled = true;
  let answer;
  try {
    answer = await api("GET", `/api/campaigns/preview/?${query}`);
  } catch (error) {
    showError("The server could not be reached. Try again.");
    return;
  }
  if (dialog.row !== row) return; // closed and opened for another agreement meanwhile
  if (!answer.ok) {
    showError(answer.data.error || `The server answered ${answer.status}.`);
    return;
  }
  renderPreview(answer.data);
}

function showError(text) {
  dialog.parts.error.textContent = text;
  dialog.parts.error.hidden = false;
}

function renderPreview(data) {
  const { parts } = dialog;
  dialog.data = data;
  if (!dialog.include) dialog.recent = data.skipped_recent;
  const hours = hoursOf(data.resend_after);
  const n = data.recipients;
  if (n) {
    parts.audience.textContent = `${fmtNumber(n)} ${n === 1 ? "user" : "users"} will ` +
      `receive the reminder.` + (data.skipped_recent
      ? ` ${fmtNumber(data.skipped_recent)} reminded in the last ${hours} hours are left out.`
      : "");
  } else if (data.skipped_recent) {
    parts.audience.textContent = `Nobody new to remind: all ${fmtNumber(data.skipped_recent)} ` +
      `users who have not accepted were reminded in the last ${hours} hours.`;
  } else {
    parts.audience.textContent = "Nobody to remind: everyone has accepted this version.";
  }
  parts.last.textContent = lastLine(data);
  parts.includeRow.hidden = !dialog.recent;
  parts.includeText.textContent = `Also remind the ${fmtNumber(dialog.recent)} reminded in ` +
    `the last ${hours} hours`;
  parts.send.disabled = n === 0;
  parts.send.textContent = n ? `Send ${fmtNumber(n)} ${n === 1 ? "reminder" : "reminders"}`
    : "Send reminders";

  const mail = data.preview;
  parts.preview.hidden = false;
  parts.previewFor.textContent = (mail.recipient
    ? `As ${mail.recipient.name} (${mail.recipient.email}) would receive it.`
    : "Nobody is left to remind: shown as you would receive it.") +
    " The personal link in a preview or a test is your own.";
  parts.from.textContent = mail.from;
  parts.to.textContent = mail.to.join(", ");
  parts.subject.textContent = mail.subject;
  // A new frame for every render: chromium laid out nothing (a blank frame, its text 0×0)
  // when the srcdoc of this sandboxed (opaque-origin) frame was set a second time.
  const frame = mailFrame();
  parts.html.replaceWith(frame);
  parts.html = frame;
  frame.srcdoc = mail.html || `<pre>${escapeHtml(mail.text)}</pre>`;
  parts.text.textContent = mail.text;
}

function escapeHtml(text) {
  const el = document.createElement("span");
  el.textContent = text || "";
  return el.innerHTML;
}

function lastLine(data) {
  const last = data.last_campaign;
  const version = data.agreement.version;
  if (!last) return `No campaign has run for version ${version} yet.`;
  const when = fmtRelative(last.created_at);
  const to = last.recipients === null || last.recipients === undefined ? ""
    : `, to ${fmtNumber(last.recipients)}`;
  const state = { queued: "queued", running: "still running" }[last.status];
  return `Last campaign for version ${version}: started ${when === "now" ? "just now" : when} ` +
    `(${fmtWhen(last.created_at)})${to}: ${fmtNumber(last.sent)} sent, ` +
    `${fmtNumber(last.failed)} failed${state ? `, ${state}` : ""}.`;
}

async function sendTest() {
  const { parts, row } = dialog;
  parts.test.disabled = true;
  parts.test.setAttribute("aria-busy", "true");
  parts.testStatus.classList.remove("is-error");
  parts.testStatus.textContent = "Sending the test…";
  try {
    const answer = await api("POST", "/api/campaigns/test/", { agreement: row.agreement.id });
    if (answer.ok) {
      const left = answer.data.tests_left;
      parts.testStatus.textContent = `Sent to ${answer.data.sent_to}` +
        ` (${fmtNumber(left)} more ${left === 1 ? "test" : "tests"} this hour).`;
    } else {
      parts.testStatus.textContent = answer.data.error;
      parts.testStatus.classList.add("is-error");
    }
  } catch (error) {
    parts.testStatus.textContent = "The server could not be reached. Try again.";
    parts.testStatus.classList.add("is-error");
  } finally {
    parts.test.disabled = false;
    parts.test.removeAttribute("aria-busy");
  }
}

function send() {
  const { parts, row, include } = dialog;
  parts.error.hidden = true;
  return host.run(parts.send, async () => {
    const answer = await api("POST", "/api/campaigns/",
      { agreement: row.agreement.id, include_recent: include });
    if (answer.ok) {
      dialog.el.close();
      return answer;
    }
    // Refused (someone reminded them meanwhile, a campaign already running, too many jobs):
    // said here, with the figures read again, not in a toast behind the dialog.
    const error = answer.data.error || `The server answered ${answer.status}.`;
    showError(answer.status === 409 && answer.data.skipped_recent
      ? `${error.replace(/; start again .*$/, ".")} Choose “Also remind …” to send it to ` +
        "them again."
      : error);
    loadPreview();
    return { ok: false, data: { declined: true } };
  }, (job, data) => (data.skipped_recent
    ? `${job.title} queued: ${fmtNumber(data.recipients)} to remind, ` +
      `${fmtNumber(data.skipped_recent)} reminded recently left out.`
    : `${job.title} queued: ${fmtNumber(data.recipients)} to remind.`));
}
