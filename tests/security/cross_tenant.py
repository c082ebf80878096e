"""Cross-tenant probes: tenant ``acme``'s keys against everything tenant ``tidewell`` left in the app.

``PROBES`` maps every authenticated route of the app (``METHOD /path``, as ``app.routes`` lists it) to a
probe; ``routes(app)`` lists them, so a new route without a probe fails ``test_every_route_has_a_probe``.
A probe returns one ``Outcome`` per attempt: ``leaked`` when any of the victim's data came back, or a
cross-tenant write took effect (the victim's document, conversation or erasure state changed).
Personas and markets are the installation's configuration, shared by every tenant, not tenant data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote, unquote

from fastapi import FastAPI

from tests.security.console_probes import CONSOLE_ORDER, CONSOLE_PROBES
from tests.security.desk_probes import DESK_ORDER, DESK_PROBES
from tests.security.harness import (
    ACME_CANARY,
    ACME_DOCUMENT,
    ATTACKER,
    IDEMPOTENCY_KEY,
    VICTIM,
    VICTIM_CONVERSATION,
    VICTIM_CUSTOMER,
    VICTIM_DOCUMENT,
    VICTIM_FACT,
    VICTIM_QUESTION,
    Seeded,
    headers,
)
from tests.security.source_probes import SOURCE_ORDER, SOURCE_PROBES

PUBLIC = frozenset({"GET /healthz", "GET /readyz", "GET /metrics", "GET /widget.js",
                    # the console's sign-in, sign-out and language switch: no tenant data
                    "GET /console", "GET /console/login", "POST /console/login", "POST /console/logout",
                    "GET /console/lang/{code}"})
DOCS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


@dataclass
class Outcome:
    route: str
    attempt: str
    status: int
    leaked: bool
    detail: str = ""


def routes(app: FastAPI) -> set[str]:
    """Every ``METHOD /path`` of the app but the OpenAPI documents (FastAPI lists an included router as one
    entry of ``app.routes``; its ``effective_route_contexts`` are its routes, with their full paths)."""
    found: set[str] = set()
    for route in app.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for context in contexts:
            path = getattr(context, "path", None)
            methods = getattr(getattr(context, "original_route", context), "methods", None) or ()
            if path and path not in DOCS:
                found.update(f"{method} {path}" for method in methods if method != "HEAD")
    assert found, "no routes found: app.routes changed shape"
    return found


def _victim_texts(seeded: Seeded) -> list[str]:
    """Strings only the victim's data holds (not the ids of its conversation or customer: acme may use the same
    strings for its own)."""
    return [*seeded.documents, VICTIM_FACT, *(a.canary for a in seeded.attacks)]


def _leaks(seeded: Seeded, body: str, sent: str = "") -> list[str]:
    """The victim's strings in ``body``, less those the attacker sent itself (a 404 may name what was asked)."""
    return [text for text in _victim_texts(seeded) if text in body and text not in sent]


def _sent(response: Any) -> str:
    request = response.request
    return unquote(str(request.url)) + " " + request.content.decode("utf-8", errors="replace")


def _outcome(seeded: Seeded, route: str, attempt: str, response: Any, *, refuse: bool = False) -> Outcome:
    """``refuse``: any 2xx is a leak (a cross-tenant write, or a read of an id only the victim has)."""
    leaked = _leaks(seeded, response.text, _sent(response))
    ok = 200 <= response.status_code < 300
    return Outcome(route, attempt, response.status_code, bool(leaked) or (refuse and ok),
                   f"found {leaked}" if leaked else ("a 2xx across tenants" if refuse and ok else ""))


def _victim_document(seeded: Seeded) -> dict[str, Any]:
    response = seeded.client.get(f"/v1/knowledge/documents/{quote(VICTIM_DOCUMENT)}", headers=headers("content"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _victim_conversation(seeded: Seeded) -> dict[str, Any] | None:
    response = seeded.client.get(f"/v1/conversations/{VICTIM_CONVERSATION}", headers=headers("admin"))
    return response.json() if response.status_code == 200 else None


def _document_paths(seeded: Seeded) -> list[str]:
    document = VICTIM_DOCUMENT
    return [quote(document), quote(f"../{VICTIM}/{document}"), quote(f"{VICTIM}/{document}"),
            quote(f"{VICTIM}:{document}"), f"%2e%2e%2f{VICTIM}%2f{quote(document)}"]


# -- probes, one per route -----------------------------------------------------------------------------------------


def list_documents(seeded: Seeded, route: str) -> list[Outcome]:
    client = seeded.client
    return [_outcome(seeded, route, f"acme lists documents ({query or 'all'})",
                     client.get(f"/v1/knowledge/documents{query}", headers=headers("content", ATTACKER)))
            for query in ("", "?market=*", "?market=US", "?kind=faq", "?limit=100")]


def read_document(seeded: Seeded, route: str) -> list[Outcome]:
    out = [_outcome(seeded, route, f"acme reads tidewell's document as {path}",
                    seeded.client.get(f"/v1/knowledge/documents/{path}?chunks=50",
                                      headers=headers("admin", ATTACKER)))
           for path in _document_paths(seeded)]
    reverse = seeded.client.get(f"/v1/knowledge/documents/{ACME_DOCUMENT}", headers=headers("content"))
    out.append(Outcome(route, "tidewell reads acme's document", reverse.status_code,
                       ACME_CANARY in reverse.text or reverse.status_code == 200))
    return out


def delete_document(seeded: Seeded, route: str) -> list[Outcome]:
    before = _victim_document(seeded)
    out = [_outcome(seeded, route, f"acme deletes tidewell's document as {path}",
                    seeded.client.delete(f"/v1/knowledge/documents/{path}", headers=headers("admin", ATTACKER)),
                    refuse=True) for path in _document_paths(seeded)]
    after = _victim_document(seeded)
    if after["version"] != before["version"]:
        out.append(Outcome(route, "tidewell's document after acme's deletes", 200, True, "changed"))
    return out


def upload(seeded: Seeded, route: str) -> list[Outcome]:
    """acme uploads a file named like tidewell's document (also under a folder that climbs): tidewell's stays."""
    before = _victim_document(seeded)
    name = VICTIM_DOCUMENT
    out = []
    for folder in ("", "../", f"../{VICTIM}/", f"{VICTIM}/"):
        response = seeded.client.post("/v1/knowledge", headers=headers("content", ATTACKER),
                                      data={"market": "*", "folder": folder},
                                      files=[("files", (name, b"# Overwritten\n\nOVERWRITTEN-BY-ACME\n", "text/markdown"))])
        if response.status_code == 202:
            from tests.security.harness import wait_for

            wait_for(seeded.client, response.json(), tenant=ATTACKER)
        out.append(Outcome(route, f"acme uploads {folder}{name}", response.status_code, False))
    after = _victim_document(seeded)
    changed = after["version"] != before["version"] or "OVERWRITTEN-BY-ACME" in json.dumps(after)
    out.append(Outcome(route, "tidewell's document after acme's uploads", 200, changed, "changed" if changed else ""))
    return out


def import_documents(seeded: Seeded, route: str) -> list[Outcome]:
    """acme imports llama-index Documents with tidewell's document id (and tidewell named in the query and the
    metadata): they land in acme's own knowledge, tidewell's document stays."""
    before = _victim_document(seeded)
    line = json.dumps({"id_": "x", "text": "# Overwritten\n\nOVERWRITTEN-BY-ACME\n",
                       "metadata": {"document_id": VICTIM_DOCUMENT, "tenant": VICTIM}})
    response = seeded.client.post("/v1/knowledge/documents/import", params={"tenant": VICTIM}, content=line.encode(),
                                  headers=headers("content", ATTACKER, **{"Content-Type": "application/x-ndjson"}))
    out = [_outcome(seeded, route, f"acme imports {VICTIM_DOCUMENT}", response)]
    after = _victim_document(seeded)
    changed = after["version"] != before["version"] or "OVERWRITTEN-BY-ACME" in json.dumps(after)
    out.append(Outcome(route, "tidewell's document after acme's import", 200, changed, "changed" if changed else ""))
    return out


def read_job(seeded: Seeded, route: str) -> list[Outcome]:
    out = [_outcome(seeded, route, "acme follows tidewell's upload job",
                    seeded.client.get(f"/v1/knowledge/jobs/{job['id']}", headers=headers("admin", ATTACKER)))
           for job in seeded.jobs]
    reverse = seeded.client.get(f"/v1/knowledge/jobs/{seeded.acme_job['id']}", headers=headers("content"))
    out.append(Outcome(route, "tidewell follows acme's upload job", reverse.status_code, reverse.status_code == 200))
    return out


def read_conversation(seeded: Seeded, route: str) -> list[Outcome]:
    return [_outcome(seeded, route, "acme reads tidewell's conversation",
                     seeded.client.get(f"/v1/conversations/{VICTIM_CONVERSATION}", headers=headers("admin", ATTACKER)),
                     refuse=True)]


def release_conversation(seeded: Seeded, route: str) -> list[Outcome]:
    return [_outcome(seeded, route, "acme releases tidewell's conversation",
                     seeded.client.post(f"/v1/conversations/{VICTIM_CONVERSATION}/release",
                                        headers=headers("admin", ATTACKER), json={"actor": "acme"}), refuse=True)]


def erase_customer(seeded: Seeded, route: str) -> list[Outcome]:
    before = _victim_conversation(seeded)
    response = seeded.client.delete(f"/v1/customers/{VICTIM_CUSTOMER}", headers=headers("admin", ATTACKER))
    after = _victim_conversation(seeded)
    gone = before is not None and after is None  # acme has a conversation of that customer id too: only
    out = _outcome(seeded, route, "acme erases tidewell's customer", response)  # tidewell's side counts
    out.leaked = out.leaked or gone
    out.detail = out.detail or ("tidewell's conversation erased" if gone else "")
    return [out]


def read_audit(seeded: Seeded, route: str) -> list[Outcome]:
    out = []
    for query in ("", "?customer_id=cust-rt-erased", "?limit=1000"):
        response = seeded.client.get(f"/v1/audit{query}", headers=headers("admin", ATTACKER))
        outcome = _outcome(seeded, route, f"acme reads the audit log{query}", response)
        if seeded.victim_audit_id and seeded.victim_audit_id in response.text:
            outcome.leaked, outcome.detail = True, "tidewell's audit entry"
        out.append(outcome)
    return out


VICTIM_PROFILE = "crm-rt-victim"
VICTIM_LINE_ID = "U-rt-victim-line-5521"  # only tidewell's profile links it: acme never sends it


def _read_victim_profile(seeded: Seeded) -> dict[str, Any] | None:
    response = seeded.client.get(f"/v1/profiles/{VICTIM_PROFILE}", headers=headers("admin"))
    return response.json() if response.status_code == 200 else None


def _victim_profile(seeded: Seeded) -> dict[str, Any]:
    """tidewell's profile of its customer (web and LINE), created on first use."""
    found = _read_victim_profile(seeded)
    if found is not None:
        return found
    response = seeded.client.post("/v1/profiles", headers=headers("admin"), json={
        "profile_id": VICTIM_PROFILE, "identities": [{"channel": "web", "customer_id": VICTIM_CUSTOMER},
                                                     {"channel": "line", "customer_id": VICTIM_LINE_ID}]})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def profiles(seeded: Seeded, route: str) -> list[Outcome]:
    """acme's admin key on tidewell's profile: a 404 on every route of it (creating a profile of the same id and
    identities is acme's own, and allowed); tidewell's profile stays as it was, and nothing of it comes back."""
    before = _victim_profile(seeded)
    client, acme, path = seeded.client, headers("admin", ATTACKER), f"/v1/profiles/{VICTIM_PROFILE}"
    line = {"channel": "line", "customer_id": VICTIM_LINE_ID}
    attempts: dict[str, list[tuple[str, Callable[[], Any]]]] = {
        "GET /v1/profiles/{profile_id}": [("acme reads tidewell's profile", lambda: client.get(path, headers=acme))],
        "GET /v1/profiles/{profile_id}/history": [
            ("acme reads tidewell's customer history", lambda: client.get(f"{path}/history", headers=acme))],
        "GET /v1/profiles/lookup": [
            (f"acme looks up tidewell's {c} identity", partial(client.get, "/v1/profiles/lookup", headers=acme,
                                                               params={"channel": c, "customer_id": i}))
            for c, i in (("web", VICTIM_CUSTOMER), ("line", VICTIM_LINE_ID))],
        "POST /v1/profiles/{profile_id}/identities": [
            ("acme links to tidewell's profile", lambda: client.post(f"{path}/identities", headers=acme, json={
                "channel": "web", "customer_id": "acme-rt-1"})),
            ("acme merges tidewell's profile", lambda: client.post(f"{path}/identities", headers=acme,
                                                                   json={**line, "merge": True}))],
        "DELETE /v1/profiles/{profile_id}/identities/{channel}/{customer_id}": [
            ("acme unlinks tidewell's identity", lambda: client.delete(f"{path}/identities/line/{VICTIM_LINE_ID}",
                                                                       headers=acme))],
        "DELETE /v1/profiles/{profile_id}": [("acme erases tidewell's profile",
                                              lambda: client.delete(path, headers=acme))],
        "POST /v1/profiles": [("acme creates a profile of tidewell's id and identities", lambda: client.post(
            "/v1/profiles", headers=acme, json={"profile_id": VICTIM_PROFILE, "identities": [line]}))],
    }
    out = []
    for attempt, send in attempts[route]:
        response = send()
        outcome = _outcome(seeded, route, attempt, response, refuse=route != "POST /v1/profiles")
        if VICTIM_LINE_ID in response.text and VICTIM_LINE_ID not in _sent(response):
            outcome.leaked, outcome.detail = True, "tidewell's identity"
        out.append(outcome)
    after = _read_victim_profile(seeded)
    if after != before or _victim_conversation(seeded) is None:
        out.append(Outcome(route, "tidewell's profile and conversation after acme's attempts", 200, True, "changed"))
    return out


def _answer_body(**fields: Any) -> dict[str, Any]:
    return {"message": VICTIM_QUESTION, "market": "US", "channel": "web", **fields}


def _answer_leaks(seeded: Seeded, route: str, attempt: str, response: Any, text: str) -> Outcome:
    outcome = _outcome(seeded, route, attempt, response)
    if response.headers.get("Idempotent-Replayed"):
        outcome.leaked, outcome.detail = True, "replayed tidewell's reply"
    if seeded.victim_reply["text"] and text == seeded.victim_reply["text"] and VICTIM_FACT in text:
        outcome.leaked, outcome.detail = True, "tidewell's reply text"
    return outcome


def answer(seeded: Seeded, route: str) -> list[Outcome]:
    client = seeded.client
    idem = client.post("/v1/answer", headers=headers("connector", ATTACKER, **{"Idempotency-Key": IDEMPOTENCY_KEY}),
                       json=_answer_body(conversation_id=VICTIM_CONVERSATION, customer_id=VICTIM_CUSTOMER))
    out = [_answer_leaks(seeded, route, "acme replays tidewell's idempotency key", idem, idem.json().get("text", ""))]
    turns = len((_victim_conversation(seeded) or {}).get("turns", []))
    joined = client.post("/v1/answer", headers=headers("connector", ATTACKER),
                         json=_answer_body(message="What did I ask you before?", conversation_id=VICTIM_CONVERSATION))
    out.append(_answer_leaks(seeded, route, "acme continues tidewell's conversation", joined, joined.json().get("text", "")))
    after = len((_victim_conversation(seeded) or {}).get("turns", []))
    out.append(Outcome(route, "tidewell's conversation after acme wrote to its id", 200, after != turns,
                       f"turns {turns} -> {after}" if after != turns else ""))
    for attack in seeded.attacks:  # retrieval: every question tidewell's documents answer
        response = client.post("/v1/answer", headers=headers("connector", ATTACKER),
                               json={"message": attack.message, "market": attack.market, "channel": "web"})
        out.append(_answer_leaks(seeded, route, f"acme asks {attack.id}'s question", response,
                                 response.json().get("text", "")))
    return out


def answer_stream(seeded: Seeded, route: str) -> list[Outcome]:
    response = seeded.client.post("/v1/answer/stream", headers=headers("connector", ATTACKER,
                                                                       **{"Idempotency-Key": IDEMPOTENCY_KEY}),
                                  json=_answer_body())
    return [_answer_leaks(seeded, route, "acme streams tidewell's question with its idempotency key", response,
                          response.text)]


def chat_completions(seeded: Seeded, route: str) -> list[Outcome]:
    out = []
    for stream in (False, True):
        response = seeded.client.post(
            "/v1/chat/completions",
            headers=headers("connector", ATTACKER, **{"X-Polydesk-Market": "US",
                                                      "X-Polydesk-Conversation-Id": VICTIM_CONVERSATION}),
            json={"model": "polydesk", "stream": stream, "messages": [{"role": "user", "content": VICTIM_QUESTION}]})
        out.append(_answer_leaks(seeded, route, f"acme chat completion (stream={stream}) in tidewell's conversation",
                                 response, response.text))
    return out


def preview(seeded: Seeded, route: str) -> list[Outcome]:
    response = seeded.client.post("/v1/personas/preview", headers=headers("content", ATTACKER),
                                  json={"market": "US", "message": VICTIM_QUESTION})
    return [_outcome(seeded, route, "acme previews a persona on tidewell's question", response)]


def shared_catalog(seeded: Seeded, route: str) -> list[Outcome]:
    path = route.split(" ", 1)[1].replace("{persona_id}", "us-friendly").replace("{market}", "US")
    return [_outcome(seeded, route, "acme reads the shared persona catalog",
                     seeded.client.get(path, headers=headers("content", ATTACKER)))]


def channel_webhook(seeded: Seeded, route: str) -> list[Outcome]:
    """A webhook is the platform's, signed with the victim's channel secret: acme's API key opens nothing there
    (the per-secret refusals are tests/api/test_channel_*)."""
    out = []
    for channel in ("telegram", "line", "whatsapp"):
        path = f"/v1/channels/{channel}/{VICTIM}/webhook"
        if route.startswith("GET"):
            response = seeded.client.get(path, params={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                                       "hub.challenge": "42"}, headers=headers("admin", ATTACKER))
        else:
            response = seeded.client.post(path, headers=headers("admin", ATTACKER),
                                          json={"update_id": 1, "message": {"text": VICTIM_QUESTION}})
        out.append(_outcome(seeded, route, f"acme's admin key on tidewell's {channel} webhook", response, refuse=True))
    return out


def widget(seeded: Seeded, route: str) -> list[Outcome]:
    """acme's secret keys on the widget's routes and tidewell's conversation: no secret key does a widget key's
    work (the widget keys' own tenant and origin checks are tests/api/test_widget_api)."""
    client, path = seeded.client, f"/v1/widget/conversations/{VICTIM_CONVERSATION}"
    send = {"POST /v1/widget/conversations": lambda h: client.post("/v1/widget/conversations", headers=h,
                                                                    json={"market": "US"}),
            "GET /v1/widget/conversations/{conversation_id}": lambda h: client.get(path, headers=h),
            "POST /v1/widget/conversations/{conversation_id}/messages": lambda h: client.post(
                f"{path}/messages", headers=h, json={"message": VICTIM_QUESTION})}[route]
    return [_outcome(seeded, route, f"acme's {role} key on tidewell's widget conversation",
                     send(headers(role, ATTACKER, Origin="https://shop.example")), refuse=True)
            for role in ("admin", "connector")]


def channel_dead_letters(seeded: Seeded, route: str) -> list[Outcome]:
    """The victim's dead letters (replies not sent, messages not answered) by their ids, when channels are
    configured; else unknown ids (the tenant checks are tests/api/test_channel_whatsapp and _service)."""
    channels = seeded.client.app.state.services.channels
    victim_ids = [letter.id for letter in channels.dead_letters.list(VICTIM)] if channels is not None else []
    acme, client = headers("admin", ATTACKER), seeded.client
    if route.startswith("GET"):
        return [_outcome(seeded, route, "acme lists dead letters", client.get("/v1/channels/dead-letters",
                                                                              headers=acme))]
    method = "POST" if route.startswith("POST") else "DELETE"
    out = []
    for letter_id in victim_ids or ["0" * 32]:
        path = f"/v1/channels/dead-letters/{letter_id}" + ("/requeue" if method == "POST" else "")
        out.append(_outcome(seeded, route, f"acme {method}s tidewell's dead letter",
                            client.request(method, path, headers=acme), refuse=True))
    return out


Probe = Callable[[Seeded, str], list[Outcome]]
PROBES: dict[str, Probe] = {
    "POST /v1/answer": answer,
    "POST /v1/answer/stream": answer_stream,
    "POST /v1/chat/completions": chat_completions,
    "POST /v1/knowledge": upload,
    "POST /v1/knowledge/documents/import": import_documents,
    "GET /v1/knowledge/jobs/{job_id}": read_job,
    "GET /v1/knowledge/documents": list_documents,
    "GET /v1/knowledge/documents/{document_id:path}": read_document,
    "DELETE /v1/knowledge/documents/{document_id:path}": delete_document,
    "GET /v1/conversations/{conversation_id}": read_conversation,
    "POST /v1/conversations/{conversation_id}/release": release_conversation,
    "DELETE /v1/customers/{customer_id}": erase_customer,
    "GET /v1/audit": read_audit,
    "GET /v1/personas": shared_catalog,
    "GET /v1/personas/{persona_id}": shared_catalog,
    "GET /v1/markets": shared_catalog,
    "GET /v1/markets/{market}": shared_catalog,
    "POST /v1/personas/preview": preview,
    "GET /v1/channels/{channel}/{tenant}/webhook": channel_webhook,
    "POST /v1/channels/{channel}/{tenant}/webhook": channel_webhook,
    "POST /v1/profiles": profiles,
    "GET /v1/profiles/lookup": profiles,
    "GET /v1/profiles/{profile_id}": profiles,
    "POST /v1/profiles/{profile_id}/identities": profiles,
    "DELETE /v1/profiles/{profile_id}/identities/{channel}/{customer_id}": profiles,
    "GET /v1/profiles/{profile_id}/history": profiles,
    "DELETE /v1/profiles/{profile_id}": profiles,
    "POST /v1/widget/conversations": widget,
    "GET /v1/widget/conversations/{conversation_id}": widget,
    "POST /v1/widget/conversations/{conversation_id}/messages": widget,
    "GET /v1/channels/dead-letters": channel_dead_letters,
    "POST /v1/channels/dead-letters/{letter_id}/requeue": channel_dead_letters,
    "DELETE /v1/channels/dead-letters/{letter_id}": channel_dead_letters,
    **DESK_PROBES,
    **CONSOLE_PROBES,
    **SOURCE_PROBES,
}
# Reads first (acme has nothing of its own under the victim's ids yet), then answers (acme then has a
# conversation under the victim's conversation id), then writes, erasure last.
ORDER = [
    "GET /v1/knowledge/documents", "GET /v1/knowledge/documents/{document_id:path}", "GET /v1/knowledge/jobs/{job_id}",
    "GET /v1/conversations/{conversation_id}", "POST /v1/conversations/{conversation_id}/release", "GET /v1/audit",
    "GET /v1/personas", "GET /v1/personas/{persona_id}", "GET /v1/markets", "GET /v1/markets/{market}",
    "GET /v1/profiles/lookup", "GET /v1/profiles/{profile_id}", "GET /v1/profiles/{profile_id}/history",
    "GET /v1/widget/conversations/{conversation_id}", "POST /v1/widget/conversations/{conversation_id}/messages",
    "POST /v1/widget/conversations",
    *CONSOLE_ORDER,  # before the answers: then acme has a conversation of tidewell's conversation id
    "POST /v1/personas/preview", "POST /v1/answer", "POST /v1/answer/stream", "POST /v1/chat/completions",
    "GET /v1/channels/{channel}/{tenant}/webhook", "POST /v1/channels/{channel}/{tenant}/webhook",
    "GET /v1/channels/dead-letters", "POST /v1/channels/dead-letters/{letter_id}/requeue",
    "DELETE /v1/channels/dead-letters/{letter_id}",
    "DELETE /v1/knowledge/documents/{document_id:path}", "POST /v1/knowledge",
    "POST /v1/knowledge/documents/import",
    "POST /v1/profiles/{profile_id}/identities", "DELETE /v1/profiles/{profile_id}/identities/{channel}/{customer_id}",
    "DELETE /v1/profiles/{profile_id}", "POST /v1/profiles",  # acme's own profile of the victim's ids: after its reads
    *DESK_ORDER,
    *SOURCE_ORDER,
    "DELETE /v1/customers/{customer_id}",
]
assert sorted(ORDER) == sorted(PROBES)


def run_probes(seeded: Seeded) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for route in ORDER:
        outcomes += PROBES[route](seeded, route)
    return outcomes
