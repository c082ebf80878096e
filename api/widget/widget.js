/*
 * polydesk web chat widget. A brand pastes one tag into its pages:
 *
 *   <script src="https://polydesk.example/widget.js" data-key="pd_widget_..." data-market="JP" async></script>
 *
 * Optional: data-locale ("ar", "en-SG": the page's language, else the market's first), data-position
 * ("left" or "right", the default) and data-title (else the persona's name).
 *
 * A launcher button and a chat panel live in a Shadow DOM (no CSS leaks in or out). Message text is only ever
 * set with textContent; links (citations) only for http and https URLs. The reply is read as it is written, from
 * the Server-Sent Events of POST /v1/widget/conversations/{id}/messages: "delta" events ({"text"}), then one
 * "reply" event (the whole reply: language, citations, escalation). The conversation id is kept in
 * sessionStorage, so a reload continues the conversation. A request refused for a surge or a short outage (503 or
 * 429 with Retry-After) is sent again after the time it names. No framework, no build step.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.dataset || !script.dataset.key || !script.dataset.market) {
    if (window.console) { window.console.error("polydesk widget: data-key and data-market are required"); }
    return;
  }
  var KEY = script.dataset.key;
  var MARKET = script.dataset.market;
  var LOCALE = script.dataset.locale || null;
  var TITLE = script.dataset.title || null;
  var POSITION = script.dataset.position === "left" ? "left" : "right";
  var API = new URL(script.src, document.baseURI).origin + "/v1/widget/conversations";
  var STORAGE = "polydesk-widget:" + MARKET.toUpperCase() + ":" + KEY.slice(-12);
  // Before the server has said anything in the customer's language (its words come with the conversation).
  var FALLBACK = { open: "Chat", close: "Close", failed: "The chat is not available right now." };

  var CSS = [
    ":host { all: initial; }",
    ".root { position: fixed; bottom: 20px; z-index: 2147483000; font: 15px/1.45 system-ui, sans-serif;",
    "  color: #1d2433; }",
    ".root.right { right: 20px; } .root.left { left: 20px; }",
    "button { font: inherit; cursor: pointer; }",
    ".launcher { width: 56px; height: 56px; border-radius: 50%; border: 0; background: #1f4fd8; color: #fff;",
    "  font-size: 24px; box-shadow: 0 4px 14px rgba(0,0,0,.25); }",
    ".launcher:focus-visible, .panel button:focus-visible, textarea:focus-visible, a:focus-visible {",
    "  outline: 3px solid #ffb020; outline-offset: 2px; }",
    ".panel { position: absolute; bottom: 70px; width: min(360px, calc(100vw - 40px)); height: min(520px,",
    "  calc(100vh - 110px)); display: flex; flex-direction: column; background: #fff; border-radius: 12px;",
    "  box-shadow: 0 8px 30px rgba(0,0,0,.25); overflow: hidden; }",
    ".root.right .panel { right: 0; } .root.left .panel { left: 0; }",
    ".panel[hidden] { display: none; }",
    "header { display: flex; align-items: center; gap: 8px; padding: 12px 14px; background: #1f4fd8; color: #fff; }",
    "header h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 600; }",
    ".close { border: 0; background: transparent; color: #fff; font-size: 20px; line-height: 1; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; }",
    ".msg { max-width: 85%; padding: 8px 11px; border-radius: 10px; white-space: pre-wrap;",
    "  overflow-wrap: anywhere; }",
    ".msg.bot, .msg.human { align-self: flex-start; background: #eef1f7; }",
    ".msg.customer { align-self: flex-end; background: #1f4fd8; color: #fff; }",
    ".msg.error { align-self: stretch; background: #fdecea; color: #8a1c13; }",
    ".sources { margin: 6px 0 0; padding-inline-start: 18px; font-size: 13px; }",
    ".sources a { color: #1f4fd8; }",
    ".handoff { margin: 0; padding: 10px 14px; background: #fff4d6; color: #5c4100; font-weight: 600; }",
    ".handoff[hidden] { display: none; }",
    "form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e3e6ee; }",
    "textarea { flex: 1; resize: none; font: inherit; padding: 7px 9px; border: 1px solid #c5cbd8;",
    "  border-radius: 8px; min-height: 22px; max-height: 120px; }",
    ".send { border: 0; border-radius: 8px; background: #1f4fd8; color: #fff; padding: 0 14px; }",
    ".send:disabled { background: #9aa9d6; cursor: default; }"
  ].join("\n");

  function make(tag, className, text) {
    var element = document.createElement(tag);
    if (className) { element.className = className; }
    if (text !== undefined && text !== null) { element.textContent = text; }
    return element;
  }

  // -- the elements ---------------------------------------------------------------------------------------------
  var host = make("div");
  host.setAttribute("data-polydesk-widget", "");
  var shadow = host.attachShadow({ mode: "open" });
  var style = make("style", null, CSS);
  var root = make("div", "root " + POSITION);
  var launcher = make("button", "launcher", "\uD83D\uDCAC");
  launcher.type = "button";
  launcher.setAttribute("aria-label", FALLBACK.open);
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "polydesk-panel");
  var panel = make("div", "panel");
  panel.id = "polydesk-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  var header = make("header");
  var title = make("h2", "title", TITLE || "");
  title.id = "polydesk-title";
  panel.setAttribute("aria-labelledby", "polydesk-title");
  var close = make("button", "close", "\u00D7");
  close.type = "button";
  close.setAttribute("aria-label", FALLBACK.close);
  var log = make("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  var handoff = make("p", "handoff");
  handoff.setAttribute("role", "status");
  handoff.hidden = true;
  var form = make("form");
  var input = make("textarea");
  input.rows = 1;
  input.maxLength = 4000;
  var send = make("button", "send", "\u27A4");
  send.type = "submit";
  header.append(title, close);
  form.append(input, send);
  panel.append(header, log, handoff, form);
  root.append(panel, launcher);
  shadow.append(style, root);

  // -- state ------------------------------------------------------------------------------------------------------
  var conversation = null; // what the server said: id, language, dir, labels, greeting, turns, handed_off
  var opening = null;
  var busy = false;

  function words() { return conversation ? conversation.labels : FALLBACK; }

  function directionOf(language) {
    // The browser knows which way a language is written; where it does not say, keep the conversation's.
    try {
      var locale = new Intl.Locale(language);
      var info = typeof locale.getTextInfo === "function" ? locale.getTextInfo() : locale.textInfo;
      if (info && (info.direction === "rtl" || info.direction === "ltr")) { return info.direction; }
    } catch (ignored) { /* not a language tag */ }
    return conversation ? conversation.dir : "ltr";
  }

  function speak(language) {
    panel.setAttribute("lang", language);
    panel.setAttribute("dir", directionOf(language));
  }

  function remember(id) {
    try {
      if (id) { window.sessionStorage.setItem(STORAGE, id); } else { window.sessionStorage.removeItem(STORAGE); }
    } catch (ignored) { /* storage blocked: the conversation lasts as long as the page */ }
  }

  function stored() {
    try { return window.sessionStorage.getItem(STORAGE); } catch (ignored) { return null; }
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function addMessage(role, text, language) {
    var bubble = make("div", "msg " + role, text);
    if (language) {
      bubble.setAttribute("lang", language);
      bubble.setAttribute("dir", directionOf(language));
    } else {
      bubble.setAttribute("dir", "auto");
    }
    log.append(bubble);
    scrollDown();
    return bubble;
  }

  function showError() {
    addMessage("error", words().failed, conversation ? conversation.language : null).setAttribute("role", "alert");
  }

  function showHandoff() {
    handoff.textContent = words().handoff;
    handoff.hidden = false;
    panel.setAttribute("data-handoff", "true");
  }

  function safeUrl(text) {
    try {
      var url = new URL(text);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (ignored) {
      return null;
    }
  }

  function addCitations(bubble, citations) {
    var seen = {};
    var list = make("ul", "sources");
    list.setAttribute("aria-label", words().sources);
    (citations || []).forEach(function (citation) {
      if (seen[citation.document_id]) { return; }
      seen[citation.document_id] = true;
      var item = make("li");
      var url = safeUrl(citation.source);
      if (url) {
        var link = make("a", null, citation.title || url);
        link.href = url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        item.append(link);
      } else {
        item.textContent = citation.title || citation.document_id;
      }
      list.append(item);
    });
    if (list.children.length) { bubble.append(list); }
  }

  // -- talking to polydesk ---------------------------------------------------------------------------------------
  // A surge or a short outage answers 503 (or 429) with Retry-After and has done nothing with the request: it is
  // sent again after that many seconds, a few times, before the customer is told the chat is not available.
  var RETRIES = 3;
  var LONGEST_RETRY_AFTER_S = 10;

  function call(path, body) {
    var init = { method: body ? "POST" : "GET", mode: "cors", credentials: "omit",
                 headers: { "Authorization": "Bearer " + KEY } };
    if (body) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    function attempt(left) {
      return fetch(API + path, init).then(function (response) {
        var after = parseInt(response.headers.get("Retry-After") || "", 10);
        var again = (response.status === 503 || response.status === 429) && left > 0 &&
          after >= 0 && after <= LONGEST_RETRY_AFTER_S;
        if (!again) { return response; }
        return new Promise(function (resolve) { setTimeout(resolve, after * 1000); }).then(function () {
          return attempt(left - 1);
        });
      });
    }
    return attempt(RETRIES);
  }

  function show(opened) {
    conversation = opened;
    remember(opened.conversation_id);
    speak(opened.language);
    title.textContent = TITLE || opened.display_name;
    launcher.setAttribute("aria-label", opened.labels.open);
    close.setAttribute("aria-label", opened.labels.close);
    send.setAttribute("aria-label", opened.labels.send);
    input.setAttribute("aria-label", opened.labels.message);
    input.placeholder = opened.labels.message;
    log.textContent = "";
    if (opened.greeting) { addMessage("bot", opened.greeting, opened.language).classList.add("greeting"); }
    opened.turns.forEach(function (turn) { addMessage(turn.role, turn.text, turn.language); });
    if (opened.handed_off) { showHandoff(); }
  }

  function json(response) {
    if (!response.ok) { throw new Error("polydesk answered " + response.status); }
    return response.json();
  }

  function openConversation() {
    if (conversation) { return Promise.resolve(conversation); }
    if (opening) { return opening; }
    var previous = stored();
    var resumed = previous
      ? call("/" + encodeURIComponent(previous)).then(function (response) {
          return response.status === 404 ? null : json(response);
        })
      : Promise.resolve(null);
    opening = resumed.then(function (found) {
      if (found) { return found; }
      var body = { market: MARKET };
      if (LOCALE) { body.locale = LOCALE; }
      return call("", body).then(json);
    }).then(function (opened) {
      show(opened);
      return opened;
    }).catch(function (error) {
      opening = null;
      showError();
      throw error;
    });
    return opening;
  }

  function readEvents(response, onEvent) {
    // Server-Sent Events over fetch: blocks separated by a blank line, "event:" and "data:" lines in each.
    var reader = response.body.getReader();
    var decoder = new TextDecoder("utf-8");
    var buffer = "";
    function block(text) {
      var name = "message";
      var data = [];
      text.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) { name = line.slice(6).trim(); }
        if (line.indexOf("data:") === 0) { data.push(line.slice(5).replace(/^ /, "")); }
      });
      if (data.length) { onEvent(name, JSON.parse(data.join("\n"))); }
    }
    function pump() {
      return reader.read().then(function (chunk) {
        buffer += decoder.decode(chunk.value || new Uint8Array(0), { stream: !chunk.done });
        buffer = buffer.replace(/\r\n?/g, "\n");
        var end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          block(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        if (chunk.done) {
          if (buffer.trim()) { block(buffer); }
          return undefined;
        }
        return pump();
      });
    }
    return pump();
  }

  function sendMessage(text) {
    busy = true;
    send.disabled = true;
    var bubble = null;
    return openConversation().then(function (opened) {
      addMessage("customer", text, null);
      return call("/" + encodeURIComponent(opened.conversation_id) + "/messages", { message: text });
    }).then(function (response) {
      if (response.status === 404) {
        conversation = null; // expired or unknown: the next message opens a new conversation
        remember(null);
      }
      if (!response.ok || !response.body) { throw new Error("polydesk answered " + response.status); }
      bubble = addMessage("bot", "", conversation.language);
      bubble.setAttribute("aria-busy", "true");
      return readEvents(response, function (name, data) {
        if (name === "delta") {
          bubble.textContent += data.text;
          scrollDown();
        } else if (name === "reply") {
          finish(bubble, data);
        }
      });
    }).catch(function () {
      if (bubble && !bubble.textContent) { bubble.remove(); }
      showError();
    }).then(function () {
      if (bubble) { bubble.removeAttribute("aria-busy"); }
      busy = false;
      send.disabled = false;
    });
  }

  function finish(bubble, reply) {
    bubble.textContent = reply.text;
    bubble.setAttribute("lang", reply.language);
    bubble.setAttribute("dir", directionOf(reply.language));
    bubble.classList.add("reply");
    conversation.language = reply.language;
    speak(reply.language);
    if (!reply.text) { bubble.remove(); } else { addCitations(bubble, reply.citations); }
    if (reply.status === "handed_off" || (reply.escalation && reply.escalation.escalate)) { showHandoff(); }
    scrollDown();
  }

  // -- the customer's moves --------------------------------------------------------------------------------------
  function toggle(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      openConversation().then(function () { input.focus(); }, function () { /* shown in the panel */ });
      input.focus();
    } else {
      launcher.focus();
    }
  }

  launcher.addEventListener("click", function () { toggle(panel.hidden); });
  close.addEventListener("click", function () { toggle(false); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { toggle(false); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || busy) { return; }
    input.value = "";
    sendMessage(text);
  });
  input.addEventListener("keydown", function (event) {
    // Enter sends, Shift+Enter breaks the line; never while an input method is composing (Japanese, Chinese...).
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  function mount() { document.body.append(host); }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
