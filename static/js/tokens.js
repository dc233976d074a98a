// The dashboard's "Access tokens" panel: create (the token shown once, with Copy), list, revoke.

import { api } from "./api.js";
import { fmtRelative, fmtWhen, h } from "./format.js";

const $ = (selector, root = document) => root.querySelector(selector);
const panel = $("#tokens");

const STATUS = { active: "Active", expired: "Expired", revoked: "Revoked" };

function when(iso, never) {
  if (!iso) return never;
  const text = fmtRelative(iso);
  return text === "now" ? "just now" : text;
}

function tokenRow(token) {
  const name = token.name || "Unnamed token";
  const meta = [
    token.scopes.join(", "),
    token.status === "active" ? `expires ${when(token.expires_at, "never")}` : null,
    `last used ${when(token.last_used_at, "never")}`,
  ].filter(Boolean).join(" · ");
  const action = token.status === "active"
    ? h("button", { type: "button", class: "btn btn-quiet", "data-action": "revoke",
                    "aria-label": `Revoke ${name} (${token.prefix})`,
                    onclick: (e) => revoke(token, e.currentTarget) }, "Revoke")
    : h("span", { class: `badge badge-token-${token.status}` }, STATUS[token.status]);
  return h("li", { class: "row token-row", "data-token-id": String(token.id),
                   "data-status": token.status },
    h("div", { class: "row-text" },
      h("span", { class: "row-title" }, h("code", { class: "token-prefix" }, `${token.prefix}_…`),
        " ", name),
      h("span", { class: "row-meta", title: token.expires_at ? fmtWhen(token.expires_at) : "" },
        meta)),
    h("div", { class: "row-actions" }, action));
}

async function load() {
  const list = $("#token-list");
  let answer;
  try {
    answer = await api("GET", "/api/tokens/");
  } catch (error) {
    list.replaceChildren(h("li", { class: "muted" }, "Could not load your tokens."));
    return;
  }
  const tokens = (answer.ok && answer.data.tokens) || [];
  list.replaceChildren(...(tokens.length ? tokens.map(tokenRow)
    : [h("li", { class: "muted" }, answer.ok ? "No tokens yet." : answer.data.error)]));
}

function showError(text) {
  const el = $("#token-error");
  el.textContent = text || "";
  el.hidden = !text;
}

async function create(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = $("#token-create");
  const scopes = [...form.querySelectorAll("input[name=scopes]:checked")].map((i) => i.value);
  showError("");
  button.disabled = true;
  try {
    const { ok, data } = await api("POST", "/api/tokens/", {
      name: form.elements.name.value, scopes, expires: form.elements.expires.value,
    });
    if (!ok) {
      showError(data.error);
      return;
    }
    $("#token-text").textContent = data.token;
    $("#token-copied").textContent = "";
    $("#token-new").hidden = false;
    form.elements.name.value = "";
    $("#token-text").focus();
    await load();
  } catch (error) {
    showError("The server could not be reached. Try again.");
  } finally {
    button.disabled = false;
  }
}

async function copy() {
  const text = $("#token-text").textContent;
  const said = $("#token-copied");
  try {
    await navigator.clipboard.writeText(text);
    said.textContent = "Copied. Keep it somewhere safe; it will not be shown again.";
  } catch (error) {
    // No clipboard (an http:// origin that is not localhost, or permission refused):
    // select the text so Ctrl+C / long-press copies it.
    const range = document.createRange();
    range.selectNodeContents($("#token-text"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    said.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
  }
}

async function revoke(token, button) {
  const name = token.name || token.prefix;
  if (!window.confirm(`Revoke “${name}”? Programs using it stop at once.`)) return;
  button.disabled = true;
  try {
    const { ok, data } = await api("POST", `/api/tokens/${token.id}/revoke/`);
    if (!ok) showError(data.error);
    await load();
  } catch (error) {
    showError("The server could not be reached. Try again.");
    button.disabled = false;
  }
}

if (panel) {
  $("#token-form").addEventListener("submit", create);
  $("#token-copy").addEventListener("click", copy);
  load();
}
