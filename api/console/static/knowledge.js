// The knowledge page's enhancements: uploads with a transfer bar (files and folders, the CSRF token as a header),
// live per-file rows of an ingestion job, and try-a-question results without a page load.
import { call, csrf } from "/console/static/console.js";

const words = (element) => JSON.parse(element.dataset.words || "{}");
const codeWords = (w, code) => (w.codes && w.codes[code]) || w.other || "";
const FINISHED = ["done", "partial", "failed"];
const RESULTS = ["added", "replaced", "unchanged", "skipped"];
const documentPath = (id) => id.split("/").map(encodeURIComponent).join("/");

export function start(element) {
  if (element.id === "upload-form" || element.id === "reingest-form") upload(element);
  else if (element.id === "job") follow(element);
  else if (element.id === "try-form") tryQuestion(element);
}

// -- uploads ------------------------------------------------------------------------------------------------------

function upload(form) {
  const w = words(form);
  const bar = form.querySelector("#upload-progress");
  const result = form.querySelector("#upload-result");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = new FormData();
    for (const control of form.elements) {
      if (!control.name || control.name === "csrf" || control.disabled) continue;
      if (control.type === "file") {
        // A folder's files keep their path inside it: it becomes the document id, as the API names uploads.
        for (const file of control.files) body.append("files", file, file.webkitRelativePath || file.name);
      } else if (control.type === "checkbox") {
        if (control.checked) body.append(control.name, control.value);
      } else if (control.value !== "") {
        body.append(control.name, control.value);
      }
    }
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "application/json");
    request.setRequestHeader("X-CSRF-Token", csrf());
    bar.hidden = false;
    bar.value = 0;
    result.textContent = w.sending || "";
    request.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; });
    request.addEventListener("load", () => {
      let answer = null;
      try { answer = JSON.parse(request.responseText); } catch { answer = null; }
      if (request.status === 202 && answer && answer.id) {
        window.location.assign(`/console/knowledge/jobs/${answer.id}`);
        return;
      }
      bar.hidden = true;
      refused(result, w, answer || { code: `http_${request.status}`, message: request.statusText });
    });
    request.addEventListener("error", () => {
      bar.hidden = true;
      refused(result, w, { code: "network", message: "" });
    });
    request.send(body);
  });
}

function refused(target, w, error) {
  target.replaceChildren();
  const heading = document.createElement("p");
  heading.className = "error";
  heading.append(codeElement(error.code), ` ${codeWords(w, error.code)} `, hint(error.message));
  target.append(heading);
  const list = document.createElement("ul");
  for (const file of error.details || []) {
    const item = document.createElement("li");
    item.className = "refused-file";
    item.dataset.code = file.code || "";
    const name = document.createElement("span");
    name.dir = "auto";
    name.textContent = file.document_id || file.name || "";
    item.append(name, " ", codeElement(file.code), ` ${codeWords(w, file.code)} `, hint(file.message));
    list.append(item);
  }
  if (list.children.length) target.append(list);
}

function codeElement(code) {
  const element = document.createElement("code");
  element.className = "file-code";
  element.textContent = code || "";
  return element;
}

function hint(text) {
  const element = document.createElement("span");
  element.className = "hint";
  element.dir = "auto";
  element.textContent = text || "";
  return element;
}

// -- a job ------------------------------------------------------------------------------------------------------

function follow(section) {
  const w = words(section);
  const ingested = new Set();  // files the worker reported as finished (its "current"), before the results
  const poll = async () => {
    let job;
    try {
      job = await call(section.dataset.jsonUrl);
    } catch {
      window.setTimeout(poll, 3000);
      return;
    }
    render(section, w, job, ingested);
    if (!FINISHED.includes(job.status)) window.setTimeout(poll, 1000);
  };
  if (!FINISHED.includes(section.dataset.status)) window.setTimeout(poll, 500);
}

function render(section, w, job, ingested) {
  section.dataset.status = job.status;
  section.querySelector("#job-state").textContent = (w.job_statuses && w.job_statuses[job.status]) || job.status;
  section.querySelector("#job-counts").textContent = (w.progress || "")
    .replace("{done}", job.files_done).replace("{total}", job.files_total).replace("{chunks}", job.chunks_embedded);
  const bar = section.querySelector("#job-progress");
  bar.max = job.files_total || 1;
  bar.value = job.files_total ? job.files_done : (FINISHED.includes(job.status) ? 1 : 0);
  if (job.current) ingested.add(job.current);
  const results = new Map(job.files.map((f) => [f.document_id || f.name || "", f]));
  const finished = FINISHED.includes(job.status);
  for (const row of section.querySelectorAll("tr.job-file")) {
    const id = row.dataset.documentId;
    const result = results.get(id);
    let state;
    if (result) state = result.status;
    else if (finished) state = "failed";
    else if (job.status === "queued") state = "queued";
    else state = ingested.has(id) ? "ingested" : "running";
    if (row.dataset.state === state) continue;
    row.dataset.state = state;
    const progress = row.querySelector(".file-progress");
    if (state === "running") progress.removeAttribute("value");
    else progress.value = state === "queued" ? 0 : 1;
    row.querySelector(".file-state").textContent = (w.states && w.states[state]) || state;
    if (result) {
      row.querySelector(".file-chunks").textContent = result.chunks;
      if (result.code) {
        const cell = row.lastElementChild;
        cell.replaceChildren(codeElement(result.code), ` ${codeWords(w, result.code)} `, hint(result.reason));
      }
    } else if (state === "failed" && job.error) {
      row.lastElementChild.replaceChildren(codeElement(job.error.code), ` ${codeWords(w, job.error.code)} `,
        hint(job.error.message));
    }
    if (result && RESULTS.includes(state) && state !== "skipped") {
      const cell = row.firstElementChild;
      const link = document.createElement("a");
      link.dir = "auto";
      link.href = `/console/knowledge/documents/${documentPath(id)}`;
      link.textContent = id;
      cell.replaceChildren(link);
    }
  }
  if (finished) window.location.reload();  // the finished page: totals, errors and links from the server
}

// -- try a question ---------------------------------------------------------------------------------------------

function tryQuestion(form) {
  const w = words(form);
  const target = document.getElementById("try-results");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = new URLSearchParams(new FormData(form));
    target.setAttribute("aria-busy", "true");
    try {
      const result = await call(`${form.action}?${query}`);
      target.replaceChildren(hits(result, w));
    } catch (error) {
      target.replaceChildren();
      refused(target, w, error);
    } finally {
      target.removeAttribute("aria-busy");
    }
  });
}

function hits(result, w) {
  const wrap = document.createElement("div");
  const summary = document.createElement("p");
  summary.id = "try-summary";
  summary.dataset.confidence = result.confidence;
  summary.textContent = (w.summary || "").replace("{market}", result.market).replace("{language}", result.language)
    .replace("{confidence}", result.confidence.toFixed(2));
  wrap.append(summary);
  if (!result.hits.length) {
    const none = document.createElement("p");
    none.id = "try-empty";
    none.textContent = w.no_hits || "";
    wrap.append(none);
    return wrap;
  }
  const list = document.createElement("ol");
  list.id = "try-hits";
  for (const hit of result.hits) {
    const item = document.createElement("li");
    item.className = "hit";
    item.dataset.documentId = hit.document_id;
    item.dataset.score = hit.score;
    item.dataset.similarity = hit.similarity;
    const link = document.createElement("a");
    link.dir = "auto";
    link.href = `/console/knowledge/documents/${documentPath(hit.document_id)}`;
    link.textContent = hit.document_id;
    const scores = document.createElement("span");
    scores.className = "hint";
    scores.textContent = ` ${hit.similarity.toFixed(3)} · ${hit.score.toFixed(3)} · ${hit.market} · ${hit.language}`;
    const text = document.createElement("p");
    text.className = "customer-text";
    text.dir = "auto";
    text.textContent = hit.text;
    item.append(link, scores, text);
    list.append(item);
  }
  wrap.append(list);
  return wrap;
}
