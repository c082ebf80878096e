"""Cross-tenant probes of the website-source routes (``/v1/knowledge/sources``): acme's keys against a source
tidewell follows. acme never sees it, syncs it or removes it, and cannot add a source for tidewell.

``SOURCE_PROBES`` and ``SOURCE_ORDER`` join ``cross_tenant.PROBES`` and ``ORDER``.
"""

from __future__ import annotations

from typing import Any

from ingestion.web_store import SourceStore, WebSource, now_utc
from tests.security.harness import ATTACKER, VICTIM, Seeded, headers

VICTIM_SOURCE_ID = "5eed0f3e9a1b2d4c"
VICTIM_SOURCE_URL = "https://help.tidewell-secret.example/"


def _store(seeded: Seeded) -> SourceStore:
    services = seeded.client.app.state.services  # type: ignore[attr-defined]
    return SourceStore(services.redis)


def _victim_source(seeded: Seeded) -> WebSource:
    store = _store(seeded)
    if not any(s.id == VICTIM_SOURCE_ID for s in store.of_tenant(VICTIM)):
        store.add(WebSource(id=VICTIM_SOURCE_ID, tenant=VICTIM, url=VICTIM_SOURCE_URL, created_at=now_utc()))
    return store.get(VICTIM, VICTIM_SOURCE_ID)


def sources(seeded: Seeded, route: str) -> list[Any]:
    from tests.security.cross_tenant import Outcome, _outcome

    before = _victim_source(seeded)
    client, path = seeded.client, f"/v1/knowledge/sources/{VICTIM_SOURCE_ID}"
    acme = headers("admin", ATTACKER)
    method = route.split(" ", 1)[0]
    if route == "GET /v1/knowledge/sources":
        response = client.get("/v1/knowledge/sources", headers=acme, params={"tenant": VICTIM})
        leaked = VICTIM_SOURCE_ID in response.text or VICTIM_SOURCE_URL in response.text
        return [Outcome(route, "acme lists sources", response.status_code, leaked, "tidewell's source" * leaked)]
    if route == "POST /v1/knowledge/sources":
        attempts = [client.post("/v1/knowledge/sources", headers=acme, params={"tenant": VICTIM},
                                json={"url": "https://203.0.113.9/", "tenant": VICTIM})]
        out = [_outcome(seeded, route, "acme adds a source naming tidewell", r, refuse=True) for r in attempts]
        count = len(_store(seeded).of_tenant(VICTIM))
        out.append(Outcome(route, "tidewell's sources after acme's add", 200, count != 1, f"{count} sources"))
        return out
    response = client.request(method, path + "/sync" if route.endswith("/sync") else path, headers=acme)
    out = [_outcome(seeded, route, f"acme {method} tidewell's source", response, refuse=True)]
    after = _store(seeded)
    changed = (after.running(VICTIM, VICTIM_SOURCE_ID) is not None
               or after.get(VICTIM, VICTIM_SOURCE_ID).model_dump() != before.model_dump())
    out.append(Outcome(route, "tidewell's source after acme's attempt", 200, changed, "changed" * changed))
    return out


SOURCE_PROBES = {route: sources for route in (
    "GET /v1/knowledge/sources", "POST /v1/knowledge/sources", "GET /v1/knowledge/sources/{source_id}",
    "POST /v1/knowledge/sources/{source_id}/sync", "DELETE /v1/knowledge/sources/{source_id}")}
SOURCE_ORDER = list(SOURCE_PROBES)
