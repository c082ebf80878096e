"""Cross-tenant probes of the console (``/console``) and of the outcome routes (``/v1/analytics/summary``,
``/v1/feedback``, the widget's feedback): acme's sessions (signed in with acme's keys through the real form)
against what tidewell left in the app. A console page shows nothing of tidewell's; a console write on tidewell's
document, job or desk conversation is refused (a console POST that worked answers ``303``, so a ``2xx`` or a
``303`` is a leak there) and tidewell's data stays as it was.

``CONSOLE_PROBES`` and ``CONSOLE_ORDER`` join ``cross_tenant.PROBES`` and ``ORDER`` (before the answer probes:
acme then owns nothing under tidewell's ids yet; the upload probe removes the documents it made acme upload).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from api.console.sessions import COOKIE
from tests.api.conftest import raw_key
from tests.security.desk_probes import VICTIM_AGENTS, VICTIM_DESK_CONVERSATION, _victim_item
from tests.security.harness import (
    ATTACKER,
    VICTIM,
    VICTIM_CONVERSATION,
    VICTIM_FACT,
    VICTIM_QUESTION,
    Seeded,
    headers,
)

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
GAP_CANARY = "zqxgapcanary"  # in a question tidewell's knowledge cannot answer: a top unanswered question of its own
VICTIM_RUN = "20260303T100000-rt-victim"
OVERWRITE = b"# Overwritten\n\nOVERWRITTEN-BY-ACME\n"


@dataclass
class Session:
    """One signed-in console session (its cookie and CSRF token) on the shared client."""

    seeded: Seeded
    cookie: str
    csrf: str

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        client = self.seeded.client
        client.cookies.clear()
        sent = {"Cookie": f"{COOKIE}={self.cookie}", **(kwargs.pop("headers", None) or {})}
        if method == "POST" and "data" in kwargs and "files" not in kwargs:  # a form: the token in the form
            kwargs["data"] = {"csrf": self.csrf, **kwargs["data"]}
        elif method == "POST":  # a script call or an upload: the token as the header
            sent.setdefault("X-CSRF-Token", self.csrf)
        response = client.request(method, url, headers=sent, follow_redirects=False, **kwargs)
        client.cookies.clear()
        if "files" in kwargs:  # a multipart body is a stream: read it again for what was sent (_sent)
            response.request.read()
        return response

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)


def sign_in(seeded: Seeded, role: str, tenant: str = ATTACKER) -> Session:
    """A console session of ``tenant``'s ``role`` key, signed in through the form as a browser does."""
    client = seeded.client
    client.cookies.clear()
    page = client.get("/console/login")
    token = dict(_HIDDEN.findall(page.text))["login_token"]
    response = client.post("/console/login", data={"key": raw_key(tenant, role), "login_token": token, "next": ""},
                           headers={"Cookie": f"polydesk_console_login={token}"}, follow_redirects=False)
    client.cookies.clear()
    assert response.status_code == 303 and COOKIE in response.cookies, (tenant, role, response.text)
    session = Session(seeded, response.cookies[COOKIE], "")
    home = session.get(response.headers["location"])
    found = _CSRF.search(home.text)
    assert home.status_code == 200 and found, (tenant, role, home.status_code, home.text[:500])
    session.csrf = found.group(1)
    return session


def _read(seeded: Seeded, route: str, attempt: str, response: Any, *, marks: tuple[str, ...] = ()) -> Any:
    """A read that must work (200) and show nothing of tidewell's (nor any of ``marks``, unless sent)."""
    from tests.security.cross_tenant import _outcome, _sent

    assert response.status_code == 200, (route, attempt, response.status_code, response.text[:500])
    outcome = _outcome(seeded, route, attempt, response)
    shown = [mark for mark in marks if mark in response.text and mark not in _sent(response)]
    if shown:
        outcome.leaked, outcome.detail = True, f"found {shown}"
    return outcome


def _refused(seeded: Seeded, route: str, attempt: str, response: Any) -> Any:
    """A read of tidewell's id or a write on it: anything but a refusal (a 2xx, or a console 303) is a leak."""
    from tests.security.cross_tenant import _outcome

    outcome = _outcome(seeded, route, attempt, response, refuse=True)
    if response.status_code == 303:
        outcome.leaked, outcome.detail = True, f"303 to {response.headers.get('location')}"
    return outcome


def _victim_rows(seeded: Seeded, html: str) -> list[str]:
    return [d for d in seeded.documents if f'data-document-id="{d}"' in html or f'data-document-id="{quote(d)}"' in html]


# -- knowledge -----------------------------------------------------------------------------------------------------


def knowledge_list(seeded: Seeded, route: str) -> list[Any]:
    out = []
    queries = ["", "?market=*", "?market=US", "?kind=faq", "?kind=doc", "?q=warehouse", "?q=sale", "?q=redteam",
               f"?q={quote(seeded.documents[0])}", f"?q={quote(VICTIM_FACT)}"]
    for role in ("content", "admin"):
        session = sign_in(seeded, role)
        for query in queries:
            response = session.get(f"/console/knowledge{query}")
            outcome = _read(seeded, route, f"acme's {role} session lists documents ({query or 'all'})", response)
            if rows := _victim_rows(seeded, response.text):
                outcome.leaked, outcome.detail = True, f"tidewell's documents listed: {rows}"
            out.append(outcome)
    return out


def knowledge_try(seeded: Seeded, route: str) -> list[Any]:
    out = []
    for role in ("content", "admin"):
        session = sign_in(seeded, role)
        for market in ("US", "*"):
            for accept in ("text/html", "application/json"):
                response = session.get("/console/knowledge/try", params={"question": VICTIM_QUESTION, "market": market},
                                       headers={"Accept": accept})
                out.append(_read(seeded, route, f"acme's {role} session tries tidewell's question ({market}, {accept})",
                                 response))
    session = sign_in(seeded, "content")
    for attack in seeded.attacks:  # every question tidewell's documents answer
        response = session.get("/console/knowledge/try", params={"question": attack.message, "market": attack.market})
        out.append(_read(seeded, route, f"acme tries {attack.id}'s question", response))
    return out


def _victim_unchanged(seeded: Seeded, route: str, before: dict[str, Any], attempts: str) -> list[Any]:
    from tests.security.cross_tenant import Outcome, _victim_document

    after = _victim_document(seeded)
    changed = after["version"] != before["version"] or "OVERWRITTEN-BY-ACME" in str(after)
    return [Outcome(route, f"tidewell's document after acme's {attempts}", 200, changed, "changed" if changed else "")]


def knowledge_document(seeded: Seeded, route: str) -> list[Any]:
    """acme's sessions on tidewell's document: its page, its delete and its re-ingest are refused."""
    from tests.security.cross_tenant import _document_paths, _victim_document

    before = _victim_document(seeded)
    paths = _document_paths(seeded) + [quote(d) for d in seeded.documents[1:]]
    out = []
    for role in ("content", "admin"):
        session = sign_in(seeded, role)
        for path in paths:
            url = f"/console/knowledge/documents/{path}"
            if route.startswith("GET"):
                response = session.get(url)
            elif route.endswith("/delete"):
                response = session.post(f"{url}/delete", data={})
            else:
                response = session.post(f"{url}/reingest", data={"market": "US"},
                                        files=[("files", ("new.md", OVERWRITE, "text/markdown"))])
            out.append(_refused(seeded, route, f"acme's {role} session on tidewell's document as {path}", response))
    return out + _victim_unchanged(seeded, route, before, "attempts")


def knowledge_jobs(seeded: Seeded, route: str) -> list[Any]:
    suffix = ".json" if route.endswith(".json") else ""
    out = []
    for role in ("content", "admin"):
        session = sign_in(seeded, role)
        out += [_refused(seeded, route, f"acme's {role} session follows tidewell's job",
                         session.get(f"/console/knowledge/jobs/{job['id']}{suffix}")) for job in seeded.jobs]
    reverse = sign_in(seeded, "content", VICTIM).get(f"/console/knowledge/jobs/{seeded.acme_job['id']}{suffix}")
    return [*out, _refused(seeded, route, "tidewell's session follows acme's job", reverse)]


def _acme_documents(seeded: Seeded) -> set[str]:
    response = seeded.client.get("/v1/knowledge/documents?limit=100", headers=headers("content", ATTACKER))
    assert response.status_code == 200, response.text
    return {d["document_id"] for d in response.json()["documents"]}


def knowledge_upload(seeded: Seeded, route: str) -> list[Any]:
    """acme uploads a file named like tidewell's document (also under folders that climb): tidewell's stays. What
    acme uploaded is then removed (acme's own), so later probes find acme without a document of tidewell's name."""
    from tests.security.cross_tenant import _outcome, _victim_document
    from tests.security.harness import wait_for

    before, own = _victim_document(seeded), _acme_documents(seeded)
    session, out = sign_in(seeded, "content"), []
    for folder in ("", "../", f"../{VICTIM}/", f"{VICTIM}/"):
        for accept in ("application/json", "text/html"):
            response = session.post("/console/knowledge/upload", headers={"Accept": accept},
                                    data={"market": "*", "folder": folder},
                                    files=[("files", (seeded.documents[0], OVERWRITE, "text/markdown"))])
            if response.status_code == 202:
                wait_for(seeded.client, response.json(), tenant=ATTACKER)
            elif response.status_code == 303:
                job = session.get(response.headers["location"] + ".json").json()
                wait_for(seeded.client, job, tenant=ATTACKER)
            out.append(_outcome(seeded, route, f"acme uploads {folder}{seeded.documents[0]} ({accept})", response))
    out += _victim_unchanged(seeded, route, before, "uploads")
    for document_id in _acme_documents(seeded) - own:
        removed = seeded.client.delete(f"/v1/knowledge/documents/{quote(document_id)}", headers=headers("admin", ATTACKER))
        assert removed.is_success, (document_id, removed.status_code, removed.text)
    return out


# -- the desk ------------------------------------------------------------------------------------------------------


def console_desk(seeded: Seeded, route: str) -> list[Any]:
    """acme's agent and admin sessions on tidewell's handed-off conversation: not listed, every route of it
    refused, and tidewell's item stays waiting, unclaimed, without notes."""
    from tests.security.cross_tenant import Outcome

    before = _victim_item(seeded)
    path = f"/console/desk/conversations/{VICTIM_DESK_CONVERSATION}"
    attempts: dict[str, Callable[[Any], Any]] = {
        "GET /console/desk": lambda s: s.get("/console/desk"),
        "GET /console/desk.json": lambda s: s.get("/console/desk.json?state=waiting"),
        "GET /console/desk/conversations/{conversation_id}": lambda s: s.get(path),
        "GET /console/desk/conversations/{conversation_id}/suggestions": lambda s: s.get(f"{path}/suggestions"),
        "POST /console/desk/conversations/{conversation_id}/claim": lambda s: s.post(f"{path}/claim", data={}),
        "POST /console/desk/conversations/{conversation_id}/notes": lambda s: s.post(
            f"{path}/notes", data={"text": "acme was here"}),
        "POST /console/desk/conversations/{conversation_id}/reassign": lambda s: s.post(
            f"{path}/reassign", data={"agent_id": "acme-desk"}),
        "POST /console/desk/conversations/{conversation_id}/release": lambda s: s.post(
            f"{path}/release", data={"outcome": "spam"}),
        "POST /console/desk/conversations/{conversation_id}/replies/preview": lambda s: s.post(
            f"{path}/replies/preview", data={"text": "acme writes to tidewell's customer", "language": "en"}),
        "POST /console/desk/conversations/{conversation_id}/replies": lambda s: s.post(
            f"{path}/replies", data={"preview_id": "0" * 32}),
    }
    out = []
    for role in ("agent", "admin"):
        session = sign_in(seeded, role)
        for accept in ("text/html", "application/json"):
            response = attempts[route](_Accepting(session, accept))
            attempt = f"acme's {role} session on tidewell's desk ({accept})"
            if "{conversation_id}" in route:
                outcome = _refused(seeded, route, attempt, response)
            else:
                outcome = _read(seeded, route, attempt, response)
            if VICTIM_DESK_CONVERSATION in response.text and VICTIM_DESK_CONVERSATION not in response.request.url.path:
                outcome.leaked, outcome.detail = True, "tidewell's desk item"
            if any(f'"{agent}"' in response.text or f">{agent}<" in response.text for agent in VICTIM_AGENTS):
                outcome.leaked, outcome.detail = True, "tidewell's agents"
            out.append(outcome)
    after = _victim_item(seeded)
    changed = {k for k in ("state", "assignee", "notes", "outcome") if after[k] != before[k]}
    if changed or after["state"] != "waiting":
        out.append(Outcome(route, "tidewell's desk item after acme's attempts", 200, True, f"changed {changed}"))
    return out


@dataclass
class _Accepting:
    """A session whose requests ask for ``accept`` (the console answers a script call with JSON)."""

    session: Session
    accept: str

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.session.get(url, headers={"Accept": self.accept}, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.session.post(url, headers={"Accept": self.accept}, **kwargs)


# -- outcomes and feedback -----------------------------------------------------------------------------------------


def _summary(seeded: Seeded, tenant: str, query: str = "") -> dict[str, Any]:
    response = seeded.client.get(f"/v1/analytics/summary{query}", headers=headers("admin", tenant))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def outcomes(seeded: Seeded, route: str) -> list[Any]:
    """acme's admin reads its outcomes while tidewell has traffic: nothing of tidewell's shows (its top unanswered
    questions hold its customers' words), and tidewell's new conversation moves tidewell's counters, not acme's."""
    from tests.security.cross_tenant import Outcome

    acme_before, victim_before = _summary(seeded, ATTACKER), _summary(seeded, VICTIM)
    asked = seeded.client.post("/v1/answer", headers=headers("connector"), json={
        "message": f"Can you ship a {GAP_CANARY} to Antarctica by drone?", "market": "US", "channel": "web",
        "conversation_id": f"rt-victim-outcomes-{route.rsplit('/', 1)[-1]}"})
    assert asked.status_code == 200, asked.text
    victim_after = _summary(seeded, VICTIM)
    assert victim_after["totals"]["conversations"] > victim_before["totals"]["conversations"], victim_after["totals"]
    marks = (GAP_CANARY,) if GAP_CANARY in str(victim_after) else ()
    out = []
    for query in ("", "?market=US"):
        if route.startswith("GET /v1/"):
            response = seeded.client.get(f"/v1/analytics/summary{query}", headers=headers("admin", ATTACKER))
        else:
            response = sign_in(seeded, "admin").get(f"/console/outcomes{query}")
        out.append(_read(seeded, route, f"acme's admin reads its outcomes{query}", response, marks=marks))
    acme_after = _summary(seeded, ATTACKER)
    moved = acme_after["totals"] != acme_before["totals"]
    same = acme_after["totals"]["conversations"] == victim_after["totals"]["conversations"]
    out.append(Outcome(route, "acme's counters while tidewell had traffic", 200, moved or same,
                       "acme's totals moved with tidewell's" if moved else "acme sees tidewell's count" if same else ""))
    if route.startswith("GET /console"):
        shown = re.search(r'id="totals"[^>]*data-conversations="(\d+)"', response.text)
        wrong = shown is None or int(shown.group(1)) != acme_after["totals"]["conversations"]
        out.append(Outcome(route, "the page's totals are acme's", response.status_code, wrong,
                           f"page {shown.group(1) if shown else None}, acme {acme_after['totals']['conversations']}"
                           if wrong else ""))
    return out


def feedback(seeded: Seeded, route: str) -> list[Any]:
    """acme rates tidewell's conversation (as a connector; with its secret keys on the widget's route, as the
    ``widget`` probe does): refused, and tidewell's feedback counters stay as they were."""
    from tests.security.cross_tenant import Outcome

    before = _summary(seeded, VICTIM)["totals"]["feedback"]
    out = []
    for reply_id in (1, None):
        body: dict[str, Any] = {"rating": "down", "comment": "acme was here",
                                **({"reply_id": reply_id} if reply_id else {})}
        if route == "POST /v1/feedback":
            sent = [("connector", seeded.client.post("/v1/feedback", headers=headers("connector", ATTACKER),
                                                      json={**body, "conversation_id": VICTIM_CONVERSATION}))]
        else:
            sent = [(role, seeded.client.post(f"/v1/widget/conversations/{VICTIM_CONVERSATION}/feedback", json=body,
                                              headers=headers(role, ATTACKER, Origin="https://shop.example")))
                    for role in ("admin", "connector")]
        out += [_refused(seeded, route, f"acme's {role} key rates tidewell's conversation (reply {reply_id})", response)
                for role, response in sent]
    after = _summary(seeded, VICTIM)["totals"]["feedback"]
    out.append(Outcome(route, "tidewell's feedback after acme's ratings", 200, after != before,
                       f"{before} -> {after}" if after != before else ""))
    return out


# -- personas (shared configuration) ----------------------------------------------------------------------------------


def personas(seeded: Seeded, route: str) -> list[Any]:
    session = sign_in(seeded, "content")
    if route == "POST /console/personas/playground":
        return [_read(seeded, route, f"acme's playground on tidewell's question ({market})", session.post(
            "/console/personas/playground", data={"message": VICTIM_QUESTION, "market": market, "channel": "web"}))
            for market in ("US", "GB")]
    path = route.split(" ", 1)[1].replace("{market}", "US")
    return [_read(seeded, route, "acme reads the shared persona catalogue", session.get(path))]


# -- evals ---------------------------------------------------------------------------------------------------------


@contextmanager
def _victim_run(seeded: Seeded) -> Iterator[Path]:
    """A runs folder holding one eval run of tidewell's whose failed case shows tidewell's reply (its fact), with
    the app's settings pointed at it (restored after)."""
    from evals.metrics import CaseScorer
    from evals.report import write_run
    from evals.suite import Case

    services = seeded.client.app.state.services  # type: ignore[attr-defined]
    folder = Path(tempfile.mkdtemp(prefix="rt-runs-"))
    case = Case(id="rt-victim-case", market="US", channel="web", language="en", message=VICTIM_QUESTION,
                must_contain=["a fact the reply lacks"], tags=["redteam"])
    reply = seeded.victim_reply
    assert VICTIM_FACT in reply["text"], reply
    record = {"case": case.model_dump(mode="json"), "reply": reply, "error": None, "seconds": 0.1,
              "scores": CaseScorer(catalog=services.catalog, tenant=VICTIM).score(case, reply)}
    write_run(folder / VICTIM_RUN, [record], {"id": VICTIM_RUN, "started": "2026-03-03T10:00:00Z",
                                               "suites": ["rt-victim.jsonl"], "cases": 1, "tenant": VICTIM,
                                               "mode": "in-process", "generator": "extractive", "judge": None})
    assert VICTIM_FACT in (folder / VICTIM_RUN / "report.html").read_text(encoding="utf-8")
    settings = services.settings
    services.settings = settings.model_copy(update={"runs_dir": folder})
    try:
        yield folder
    finally:
        services.settings = settings
        shutil.rmtree(folder, ignore_errors=True)


def evals(seeded: Seeded, route: str) -> list[Any]:
    """acme's admin on a run of tidewell's: not listed; its page, report and comparison are 404."""
    pages = {"GET /console/evals/runs/{run_id}": f"/console/evals/runs/{VICTIM_RUN}",
             "GET /console/evals/runs/{run_id}/report.html": f"/console/evals/runs/{VICTIM_RUN}/report.html",
             "GET /console/evals/compare": f"/console/evals/compare?a={VICTIM_RUN}&b={VICTIM_RUN}"}
    with _victim_run(seeded):
        own = sign_in(seeded, "admin", VICTIM).get("/console/evals")  # the probe's run is there, for its tenant
        assert own.status_code == 200 and f'data-run="{VICTIM_RUN}"' in own.text, own.text[:500]
        session = sign_in(seeded, "admin")
        if route == "GET /console/evals":
            response = session.get("/console/evals")
            return [_read(seeded, route, "acme's admin lists the eval runs", response, marks=(VICTIM_RUN,))]
        return [_refused(seeded, route, "acme's admin opens tidewell's eval run", session.get(pages[route]))]


CONSOLE_PROBES: dict[str, Callable[[Seeded, str], list[Any]]] = {
    "GET /console/knowledge": knowledge_list,
    "GET /console/knowledge/try": knowledge_try,
    "GET /console/knowledge/documents/{document_id:path}": knowledge_document,
    "GET /console/knowledge/jobs/{job_id}": knowledge_jobs,
    "GET /console/knowledge/jobs/{job_id}.json": knowledge_jobs,
    "GET /console/personas": personas,
    "GET /console/personas/markets/{market}": personas,
    "GET /console/personas/playground": personas,
    "POST /console/personas/playground": personas,
    "GET /console/outcomes": outcomes,
    "GET /v1/analytics/summary": outcomes,
    "GET /console/evals": evals,
    "GET /console/evals/runs/{run_id}": evals,
    "GET /console/evals/runs/{run_id}/report.html": evals,
    "GET /console/evals/compare": evals,
    "POST /v1/feedback": feedback,
    "POST /v1/widget/conversations/{conversation_id}/feedback": feedback,
    **{f"{method} /console/desk{path}": console_desk for method, path in (
        ("GET", ""), ("GET", ".json"), ("GET", "/conversations/{conversation_id}"),
        ("GET", "/conversations/{conversation_id}/suggestions"), ("POST", "/conversations/{conversation_id}/claim"),
        ("POST", "/conversations/{conversation_id}/notes"), ("POST", "/conversations/{conversation_id}/reassign"),
        ("POST", "/conversations/{conversation_id}/release"),
        ("POST", "/conversations/{conversation_id}/replies/preview"),
        ("POST", "/conversations/{conversation_id}/replies"))},
    # writes on tidewell's document, then acme's upload of its name (removed after): last
    "POST /console/knowledge/documents/{document_id:path}/delete": knowledge_document,
    "POST /console/knowledge/documents/{document_id:path}/reingest": knowledge_document,
    "POST /console/knowledge/upload": knowledge_upload,
}
CONSOLE_ORDER = list(CONSOLE_PROBES)  # reads first, then writes
