// The persona playground without a page reload: the form is posted as it is (CSRF field included) and the
// server-rendered result (#playground-result) replaces the old one. Without this script the form posts normally.

export function start(form) {
  const busy = form.querySelector("#playground-submit");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    busy.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.querySelector("#playground-result");
      const current = document.querySelector("#playground-result");
      if (fresh && current) {
        current.replaceWith(fresh);
        fresh.querySelector("h2")?.setAttribute("tabindex", "-1");
        fresh.querySelector("h2")?.focus();
      } else {
        form.submit();
      }
    } catch {
      form.submit();
    } finally {
      busy.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
}
