// The Exports card: per claim type, one-click .xlsx / CSV buttons and, collapsed under
// "Filters", the filters its registry entry allows (GET /api/exports/types/ describes them),
// a live row count (GET /api/exports/<type>/count/, debounced) and filtered export buttons.
// The one-click buttons never filter: what is chosen in the panel only goes with the panel's
// own buttons, so a forgotten filter cannot shrink an export silently.

import { api } from "./api.js";
import { fmtNumber, h } from "./format.js";

const COUNT_DELAY_MS = 350; // after the last keystroke or change: one count, not one per key

function unavailable(list, text) {
  list.replaceChildren(h("li", { class: "muted" }, text));
}

/** "2026-03-31" -> "2026-04-01": an inclusive end date becomes an exclusive `__lt`, right for
 * date and date/time fields alike (the server reads it back as "to 2026-03-31"). */
function nextDay(iso) {
  const day = new Date(`${iso}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + 1);
  return day.toISOString().slice(0, 10);
}

// --- one input per allowed field, by the kind the server gives -------------------------------
function inputId(type, field, part) {
  return `filter-${type.key}-${field}${part ? `-${part}` : ""}`;
}

function selectField(type, filter, options) {
  const id = inputId(type, filter.field);
  return h("div", { class: "filter-field" },
    h("label", { for: id }, filter.label),
    h("select", { id, "data-field": filter.field, "data-lookup": "" },
      h("option", { value: "" }, "Any"),
      ...options.map(([value, label]) => h("option", { value }, label))));
}

function rangeField(type, filter, { kind, low, high }) {
  const input = (part, lookup, text) => {
    const id = inputId(type, filter.field, part);
    const attrs = kind === "date"
      ? { type: "date" }
      : { type: "number", step: "any", inputmode: "decimal" };
    return h("span", { class: "filter-bound" },
      h("label", { for: id }, text),
      h("input", { id, ...attrs, "data-field": filter.field, "data-lookup": lookup,
                   "aria-label": `${filter.label} ${text}` }));
  };
  return h("fieldset", { class: "filter-field filter-range" },
    h("legend", {}, filter.label),
    h("div", { class: "filter-bounds" },
      input("low", low[0], low[1]),
      input("high", high[0], high[1])));
}

function textField(type, filter) {
  const id = inputId(type, filter.field);
  return h("div", { class: "filter-field" },
    h("label", { for: id }, `${filter.label} contains`),
    h("input", { id, type: "search", autocomplete: "off", spellcheck: "false",
                 "data-field": filter.field, "data-lookup": "icontains" }));
}

function filterField(type, filter) {
  switch (filter.kind) {
    case "choice":
      return selectField(type, filter, filter.choices.map((c) => [c.value, c.label]));
    case "bool":
      return selectField(type, filter, [["true", "Yes"], ["false", "No"]]);
    case "date":
      return rangeField(type, filter,
        { kind: "date", low: ["gte", "from"], high: ["to", "to"] });
    case "number":
      return rangeField(type, filter,
        { kind: "number", low: ["gte", "min"], high: ["lte", "max"] });
    default:
      return textField(type, filter);
  }
}

// Single inputs first, two to a line where there is room; ranges after, each a line of its
// own (two date pickers need the width). Otherwise in the registry's order.
const RANGES = new Set(["date", "number"]);
function ordered(filters) {
  const range = (f) => RANGES.has(f.kind);
  return [...filters.filter((f) => !range(f)), ...filters.filter(range)];
}

/** The chosen filters as the API takes them, or {error} for an input the browser cannot read
 * (text in a number field). */
function chosenFilters(form) {
  const filters = {};
  for (const el of form.querySelectorAll("[data-field]")) {
    if (el.validity && el.validity.badInput) {
      return { error: `${el.getAttribute("aria-label") || el.dataset.field}: not a valid value.` };
    }
    const value = el.value.trim();
    if (!value) continue;
    const { field, lookup } = el.dataset;
    if (lookup === "to") filters[`${field}__lt`] = nextDay(value);
    else filters[lookup ? `${field}__${lookup}` : field] = value;
  }
  return { filters };
}

// --- the disclosure of one claim type ------------------------------------------------------
function filterPanel(type, run) {
  const count = h("p", { class: "filter-count", "data-role": "count", "aria-live": "polite" });
  const badge = h("span", { class: "filter-badge", "data-role": "active", hidden: true });
  const form = h("form", { class: "filter-form", novalidate: true,
                           "aria-label": `Filters for ${type.label}` },
    h("div", { class: "filter-grid" },
      ...ordered(type.filters).map((f) => filterField(type, f))));
  const exportAs = (fmt, text, cls) => h("button", {
    type: "button", class: cls, disabled: true, "data-export-filtered": type.key,
    "data-format": fmt,
    "aria-label": `Export filtered ${type.label} as ${fmt === "xlsx" ? "Excel" : "CSV"}`,
    onclick: (e) => {
      const { filters, error } = chosenFilters(form);
      if (error) return;
      run(e.currentTarget,
        () => api("POST", "/api/exports/", { claim_type: type.key, format: fmt, filters }),
        (job) => `${job.title} queued${job.subtitle ? `: ${job.subtitle}` : ""}.`);
    },
  }, text);
  const buttons = [exportAs("xlsx", "Export matching .xlsx", "btn btn-primary"),
                   exportAs("csv", "CSV", "btn")];
  const clear = h("button", { type: "button", class: "btn btn-quiet", "data-role": "clear" },
    "Clear");
  form.append(count, h("div", { class: "filter-actions" }, ...buttons, clear));

  let timer = null;
  let asked = 0; // only the answer to the latest question is shown
  const enable = (on) => buttons.forEach((b) => { b.disabled = !on; });

  async function recount() {
    const { filters, error } = chosenFilters(form);
    const active = filters ? Object.keys(filters).length : 0;
    badge.hidden = !active && !error;
    badge.textContent = error ? "check" : `${active} set`;
    const question = ++asked;
    if (error) {
      count.dataset.state = "error";
      count.textContent = error;
      return enable(false);
    }
    if (!active) {
      count.dataset.state = "idle";
      count.textContent = `No filter chosen: the buttons above export all ${fmtNumber(type.rows)}.`;
      return enable(false);
    }
    count.dataset.state = "counting";
    count.textContent = "Counting…";
    enable(false);
    let answer;
    try {
      answer = await api("GET", `/api/exports/${type.key}/count/?${new URLSearchParams(filters)}`);
    } catch (err) {
      answer = { ok: false, data: { error: "The count did not reach the server." } };
    }
    if (question !== asked) return; // a newer choice was made meanwhile
    if (!answer.ok) {
      count.dataset.state = "error";
      count.textContent = answer.data.error || "These filters cannot be used.";
      return enable(false);
    }
    const { rows } = answer.data;
    count.dataset.state = "counted";
    count.dataset.rows = String(rows);
    count.textContent = rows
      ? `${fmtNumber(rows)} of ${fmtNumber(type.rows)} claims match.`
      : "No claims match these filters.";
    enable(rows > 0);
  }

  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(recount, COUNT_DELAY_MS);
  };
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.addEventListener("submit", (e) => e.preventDefault()); // Enter in a field: no reload
  clear.addEventListener("click", () => {
    form.reset();
    clearTimeout(timer);
    recount();
  });
  recount();
  return h("details", { class: "export-filters", "data-role": "filters" },
    h("summary", {}, "Filters",
      h("span", { class: "visually-hidden" }, ` for ${type.label}`), badge),
    form);
}

// --- the card ----------------------------------------------------------------------------
function typeRow(type, run) {
  const exportAs = (fmt, text, cls) => h("button", {
    type: "button", class: cls, "data-export": type.key, "data-format": fmt,
    "aria-label": `Export ${type.label} as ${fmt === "xlsx" ? "Excel" : "CSV"}`,
    onclick: (e) => run(e.currentTarget,
      () => api("POST", "/api/exports/", { claim_type: type.key, format: fmt }),
      (job) => `${job.title} queued.`),
  }, text);
  return h("li", { class: "row", "data-claim-type": type.key },
    h("div", { class: "row-text" },
      h("span", { class: "row-title" }, type.label),
      h("span", { class: "row-meta" }, `${fmtNumber(type.rows)} rows`)),
    h("div", { class: "row-actions" },
      exportAs("xlsx", "Export .xlsx", "btn btn-primary"),
      exportAs("csv", "CSV", "btn")),
    (type.filters && type.filters.length) ? filterPanel(type, run) : null);
}

/** Fill the Exports card's list; `run(button, request, started)` is the dashboard's way of
 * starting a job (busy button, toast on refusal, the job shown at once). */
export async function loadExportTypes(list, run) {
  let answer;
  try {
    answer = await api("GET", "/api/exports/types/");
  } catch (error) {
    unavailable(list, "Could not load the claim types.");
    return;
  }
  if (!answer.ok) {
    unavailable(list, answer.status === 404 ? "Exports are not set up on this server."
      : answer.data.error);
    return;
  }
  const types = answer.data.types || [];
  if (!types.length) return unavailable(list, "No claim types.");
  list.replaceChildren(...types.map((type) => typeRow(type, run)));
}
