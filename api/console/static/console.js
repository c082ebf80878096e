// polydesk console: small progressive enhancements; every page also works without this script.
// Forms and calls send the session's CSRF token (the page's <meta name="csrf-token">).

export const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

// A JSON call to the console itself, with the CSRF token; rejects with {code, message} on an error.
export async function call(url, options = {}) {
  const headers = { Accept: "application/json", "X-CSRF-Token": csrf(), ...(options.headers || {}) };
  const response = await fetch(url, { credentials: "same-origin", ...options, headers });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw body || { code: "http_" + response.status, message: response.statusText };
  return body;
}

// Modules of the page (data-module="name" on an element) are loaded on demand.
for (const element of document.querySelectorAll("[data-module]")) {
  import(`/console/static/${element.dataset.module}.js`).then((module) => module.start?.(element));
}

// A button with data-confirm asks first.
document.addEventListener("submit", (event) => {
  const message = event.submitter?.dataset.confirm || event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
