// The desk page's enhancements; every form and link also works without this script.
// - The inbox (#desk-inbox) refreshes itself every few seconds from its .json variant (data-poll-url).
// - On a conversation (#desk-conversation), asking the copilot, previewing a reply and picking a suggestion
//   load in place: the parts of the server's answer (#copilot, or #reply-form and #reply-preview) replace these;
//   nothing is rendered here.
import { call, csrf } from "/console/static/console.js";

const POLL_MS = 5000;

export function start(element) {
  if (element.id === "desk-inbox") pollInbox(element);
  if (element.id === "desk-conversation") enhanceReplies(element);
}

// -- the inbox ----------------------------------------------------------------------------------------------------

function pollInbox(section) {
  let lastCount = section.querySelectorAll("#inbox-rows tr").length;
  const status = section.querySelector("#inbox-status");
  const refresh = async () => {
    if (document.hidden) return;
    try {
      const data = await call(section.dataset.pollUrl);
      renderRows(section, data.items);
      renderStats(section, data.stats);
      if (data.items.length !== lastCount) {
        status.textContent = section.dataset.msgUpdated.replace("{count}", String(data.stats.open));
        lastCount = data.items.length;
      }
    } catch (error) {
      status.textContent = section.dataset.msgFailed;
    }
  };
  window.setInterval(refresh, POLL_MS);
}

function cell(section, field, ...children) {
  const td = document.createElement("td");
  td.dataset.field = field;
  const th = section.querySelector(`#inbox-table th[data-field="${field}"]`);
  if (th) td.dataset.label = th.textContent.trim();
  td.append(...children);
  return td;
}

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function renderRows(section, items) {
  const body = section.querySelector("#inbox-rows");
  const rows = items.map((item) => {
    const tr = document.createElement("tr");
    tr.dataset.conversationId = item.conversation_id;
    tr.dataset.state = item.state;
    tr.dataset.priority = item.priority;
    const link = element("a", undefined, { class: "open-conversation", href: item.href });
    link.append(element("code", item.conversation_id));
    const preview = element("span", item.preview, { class: "customer-text", dir: "auto" });
    if (item.language) preview.lang = item.language;
    const urgent = item.priority === "urgent" || item.priority === "high";
    tr.append(
      cell(section, "conversation", link),
      cell(section, "market", item.market),
      cell(section, "channel", item.channel),
      cell(section, "language", element("span", item.language || "–", { class: "label" })),
      cell(section, "reason", item.reason_words),
      cell(section, "queue", item.queue),
      cell(section, "priority", element("span", item.priority_words, { class: urgent ? "label flag" : "label" })),
      cell(section, "waiting", item.waiting),
      cell(section, "assignee", item.assignee || item.state_words),
      cell(section, "preview", preview),
    );
    tr.querySelector('[data-field="waiting"]').className = "num";
    return tr;
  });
  body.replaceChildren(...rows);
  section.querySelector("#inbox-table").hidden = items.length === 0;
  section.querySelector("#inbox-empty").hidden = items.length !== 0;
}

function renderStats(section, stats) {
  const values = { open: stats.open, waiting: stats.waiting, assigned: stats.assigned,
                   "median-first-response": stats.median_first_response };
  for (const [name, value] of Object.entries(values)) {
    const target = section.querySelector(`#desk-stats [data-stat="${name}"] b`);
    if (target) target.textContent = String(value);
  }
}

// -- a conversation -----------------------------------------------------------------------------------------------

function enhanceReplies(section) {
  section.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.closest("#reply-section")) return;
    if (form.id === "send-form") return; // sending reloads the page: the reply is then in the conversation
    event.preventDefault();
    const status = section.querySelector("#desk-status");
    const replySection = section.querySelector("#reply-section");
    replySection.setAttribute("aria-busy", "true");
    status.textContent = section.dataset.msgLoading;
    try {
      const response = await send(form);
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.querySelector("#reply-section");
      if (!response.ok || !fresh) {
        // A refused action renders the whole conversation again, with the error: show that page.
        const main = page.querySelector("main");
        if (main) document.querySelector("main").replaceWith(document.adoptNode(main));
        const again = document.querySelector("#desk-conversation");
        if (again) start(again);
        const alert = document.querySelector("#desk-error") || document.querySelector("#main");
        if (alert) {
          alert.tabIndex = -1;
          alert.focus();
        }
        return;
      }
      // Asking the copilot keeps the draft and its preview; a preview keeps the suggestions.
      swap(replySection, page, form.id === "suggest-form" ? ["copilot"] : ["reply-form", "reply-preview"]);
      replySection.removeAttribute("aria-busy");
      status.textContent = "";
      const focus = replySection.querySelector(
        form.id === "suggest-form" ? "#suggestions-title, #suggestions-none" : "#reply-preview h3");
      if (focus) {
        focus.tabIndex = -1;
        focus.focus();
      }
    } catch (error) {
      status.textContent = section.dataset.msgFailed;
      replySection.removeAttribute("aria-busy");
    }
  });
}

// Replace the parts named by id with the answer's (in order; a part the answer lacks is removed).
function swap(container, page, ids) {
  let anchor = null;
  for (const id of ids) {
    const old = container.querySelector(`#${id}`);
    const fresh = page.querySelector(`#${id}`);
    if (fresh) {
      const adopted = document.adoptNode(fresh);
      if (old) old.replaceWith(adopted);
      else if (anchor) anchor.after(adopted);
      else container.append(adopted);
      anchor = adopted;
    } else if (old) {
      old.remove();
    }
  }
}

function send(form) {
  const headers = { Accept: "text/html", "X-CSRF-Token": csrf() };
  if (form.method.toLowerCase() === "get") {
    const query = new URLSearchParams(new FormData(form)).toString();
    return fetch(form.action + (query ? `?${query}` : ""), { credentials: "same-origin", headers });
  }
  return fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
                              headers });
}
