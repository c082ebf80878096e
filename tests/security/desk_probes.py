"""Cross-tenant probes of the desk's routes (``/v1/desk``): acme's agent and admin keys against a conversation
tidewell's pipeline handed off (its message holds tidewell's secret fact, so any leak of it shows). Nothing may
come back, and tidewell's item stays waiting, unclaimed, without notes, and the person's.

``DESK_PROBES`` and ``DESK_ORDER`` join ``cross_tenant.PROBES`` and ``ORDER``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.security.harness import ATTACKER, VICTIM_FACT, Seeded, headers

VICTIM_DESK_CONVERSATION = "rt-victim-desk"
VICTIM_AGENTS = ("mei", "agent-de")  # tidewell's agent keys (tests/api/conftest.py): acme never learns them


def _victim_item(seeded: Seeded) -> dict[str, Any]:
    """tidewell's desk item (handed off by tidewell's pipeline on first use), as tidewell's admin reads it."""
    path = f"/v1/desk/conversations/{VICTIM_DESK_CONVERSATION}"
    response = seeded.client.get(path, headers=headers("admin"))
    if response.status_code == 404:
        reply = seeded.client.post("/v1/answer", headers=headers("connector"), json={
            "message": f"I want to talk to a human: the code {VICTIM_FACT} did not work", "market": "US",
            "channel": "web", "conversation_id": VICTIM_DESK_CONVERSATION, "customer_id": "cust-rt-desk"})
        assert reply.status_code == 200 and reply.json()["escalation"]["escalate"], reply.text
        response = seeded.client.get(path, headers=headers("admin"))
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()["item"]
    return item


def desk(seeded: Seeded, route: str) -> list[Any]:
    from tests.security.cross_tenant import Outcome, _outcome

    before = _victim_item(seeded)
    client, path = seeded.client, f"/v1/desk/conversations/{VICTIM_DESK_CONVERSATION}"
    attempts: dict[str, Callable[[dict[str, str]], Any]] = {
        "GET /v1/desk/conversations": lambda h: client.get("/v1/desk/conversations?state=waiting", headers=h),
        "GET /v1/desk/conversations/{conversation_id}": lambda h: client.get(path, headers=h),
        "POST /v1/desk/conversations/{conversation_id}/claim": lambda h: client.post(f"{path}/claim", headers=h),
        "POST /v1/desk/conversations/{conversation_id}/reassign": lambda h: client.post(
            f"{path}/reassign", headers=h, json={"agent_id": "acme-desk"}),
        "POST /v1/desk/conversations/{conversation_id}/notes": lambda h: client.post(
            f"{path}/notes", headers=h, json={"text": "acme was here"}),
        "POST /v1/desk/conversations/{conversation_id}/release": lambda h: client.post(
            f"{path}/release", headers=h, json={"outcome": "spam"}),
        "GET /v1/desk/agents": lambda h: client.get("/v1/desk/agents", headers=h),
        "GET /v1/desk/stats": lambda h: client.get("/v1/desk/stats", headers=h),
    }
    refuse = "{conversation_id}" in route
    out = []
    for role in ("agent", "admin"):
        response = attempts[route](headers(role, ATTACKER))
        outcome = _outcome(seeded, route, f"acme's {role} key on tidewell's desk", response, refuse=refuse)
        if VICTIM_DESK_CONVERSATION in response.text and VICTIM_DESK_CONVERSATION not in response.request.url.path:
            outcome.leaked, outcome.detail = True, "tidewell's desk item"
        if any(f'"{agent}"' in response.text for agent in VICTIM_AGENTS):
            outcome.leaked, outcome.detail = True, "tidewell's agents"
        if route == "GET /v1/desk/stats" and response.status_code == 200:
            own = client.get("/v1/desk/conversations?state=waiting", headers=headers(role, ATTACKER)).json()
            if response.json()["waiting"] != len(own["items"]):
                outcome.leaked, outcome.detail = True, "tidewell's waiting conversations counted"
        out.append(outcome)
    after = _victim_item(seeded)
    changed = {k for k in ("state", "assignee", "notes", "outcome") if after[k] != before[k]}
    if changed or after["state"] != "waiting":
        out.append(Outcome(route, "tidewell's desk item after acme's attempts", 200, True, f"changed {changed}"))
    return out



def desk_replies(seeded: Seeded, route: str) -> list[Any]:
    """acme's agent and admin keys ask for suggestions on, preview and send replies to tidewell's handed-off
    conversation: nothing comes back (404), no reply is recorded, nothing is sent."""
    from tests.security.cross_tenant import Outcome, _outcome

    _victim_item(seeded)  # handed off by tidewell's pipeline on first use
    client, path = seeded.client, f"/v1/desk/conversations/{VICTIM_DESK_CONVERSATION}"

    def turns() -> int:
        return len(client.get(f"/v1/conversations/{VICTIM_DESK_CONVERSATION}", headers=headers("admin")).json()["turns"])

    before = turns()
    attempts: dict[str, Callable[[dict[str, str]], Any]] = {
        "GET /v1/desk/conversations/{conversation_id}/suggestions": lambda h: client.get(
            f"{path}/suggestions", headers=h),
        "POST /v1/desk/conversations/{conversation_id}/replies/preview": lambda h: client.post(
            f"{path}/replies/preview", headers=h, json={"text": "acme writes to tidewell's customer", "language": "en"}),
        "POST /v1/desk/conversations/{conversation_id}/replies": lambda h: client.post(
            f"{path}/replies", headers=h, json={"preview_id": "0" * 32}),
    }
    out = [_outcome(seeded, route, f"acme's {role} key on tidewell's conversation at the desk",
                    attempts[route](headers(role, ATTACKER)), refuse=True) for role in ("agent", "admin")]
    if (after := turns()) != before:
        out.append(Outcome(route, "tidewell's conversation after acme's replies", 200, True, f"turns {before} -> {after}"))
    return out


DESK_PROBES = {route: desk for route in (
    "GET /v1/desk/conversations", "GET /v1/desk/conversations/{conversation_id}", "GET /v1/desk/agents",
    "GET /v1/desk/stats", "POST /v1/desk/conversations/{conversation_id}/claim",
    "POST /v1/desk/conversations/{conversation_id}/reassign", "POST /v1/desk/conversations/{conversation_id}/notes",
    "POST /v1/desk/conversations/{conversation_id}/release")}
DESK_PROBES |= {route: desk_replies for route in (
    "GET /v1/desk/conversations/{conversation_id}/suggestions",
    "POST /v1/desk/conversations/{conversation_id}/replies/preview",
    "POST /v1/desk/conversations/{conversation_id}/replies")}
DESK_ORDER = list(DESK_PROBES)  # reads first, then writes
