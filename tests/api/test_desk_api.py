"""The desk through the real app: conversations the pipeline hands off reach the agents' inbox; one agent wins a
claim race; the agent reads the conversation beside its translation; release gives it back to the bot; tenants
and roles stay apart.

Customers write in German, Thai and Portuguese; agent ``mei`` reads Chinese and English, ``agent-de`` German.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest

from tests.desk.conftest import race

pytestmark = [pytest.mark.integration]

ApiHarness = Any  # tests/api/conftest.py


def handed_off(api: ApiHarness, message: str = "Ich möchte mit einem Menschen sprechen.", *, market: str = "DE",
               customer_id: str | None = None) -> str:
    """A conversation the real pipeline handed to a person; its id."""
    reply = api.ask(message, market=market, **({"customer_id": customer_id} if customer_id else {}))
    assert reply["escalation"]["escalate"] is True, reply
    conversation_id: str = reply["conversation_id"]
    return conversation_id


def inbox(api: ApiHarness, headers: dict[str, str], query: str = "") -> list[dict[str, Any]]:
    response = api.client.get(f"/v1/desk/conversations{query}", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_a_handoff_reaches_the_inbox_with_what_the_agent_needs(api: ApiHarness) -> None:
    conversation = handed_off(api, customer_id="kunde-desk-1")
    items = {i["conversation_id"]: i for i in inbox(api, api.agent_headers("mei"), "?state=waiting")}
    item = items[conversation]
    assert (item["market"], item["language"], item["state"], item["reason"]) == ("DE", "de", "waiting",
                                                                                 "customer_request")
    assert item["queue"] and item["priority"] in ("urgent", "high", "normal", "low")
    assert "Menschen" in item["summary"] and item["waiting_s"] >= 0 and item["assignee"] is None
    assert conversation in {i["conversation_id"] for i in inbox(api, api.headers("admin"))}  # an admin is at the desk


def test_two_agents_race_to_claim_and_exactly_one_wins(api: ApiHarness) -> None:
    for _ in range(3):
        conversation = handed_off(api, "Quero falar com um atendente humano, por favor.", market="BR")
        agents = ("mei", "agent-de")
        responses = race([partial(api.client.post, f"/v1/desk/conversations/{conversation}/claim",
                                  headers=api.agent_headers(agent_id)) for agent_id in agents])
        statuses = {agent_id: (r.status_code, r.json().get("code", "")) for agent_id, r in zip(agents, responses,
                                                                                               strict=True)}
        assert sorted(statuses.values()) == [(200, ""), (409, "conflict")], statuses
        winner = next(agent_id for agent_id, (status, _) in statuses.items() if status == 200)
        mine = inbox(api, api.agent_headers(winner), "?state=mine")
        assert conversation in {i["conversation_id"] for i in mine}


def test_the_agent_reads_the_conversation_beside_its_translation(api: ApiHarness) -> None:
    conversation = handed_off(api, "Ich möchte mit einem Menschen sprechen, mein Paket ist kaputt.")
    response = api.client.get(f"/v1/desk/conversations/{conversation}", headers=api.agent_headers("mei"))
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["agent_language"] == "zh" and view["reason"] == "customer_request" and "Paket" in view["summary"]
    assert [t["role"] for t in view["turns"]] == ["customer", "bot"]
    customer = view["turns"][0]
    assert customer["text"] == "Ich möchte mit einem Menschen sprechen, mein Paket ist kaputt."
    # No translation engine is configured: the original is shown, and the note says why.
    assert customer["translation"]["quality"] == "unavailable" and customer["translation"]["text"] == customer["text"]
    assert "POLYDESK_TRANSLATION_MODEL" in customer["translation"]["note"]
    assert view["turns"][1]["translation"] is None
    assert view["summary_translation"]["quality"] == "unavailable"
    german = api.client.get(f"/v1/desk/conversations/{conversation}", headers=api.agent_headers("agent-de")).json()
    assert german["turns"][0]["translation"]["quality"] == "same_language"


def test_notes_and_reassign_stay_at_the_desk(api: ApiHarness) -> None:
    conversation = handed_off(api)
    path = f"/v1/desk/conversations/{conversation}"
    assert api.client.post(f"{path}/claim", headers=api.agent_headers("mei")).status_code == 200
    note = api.client.post(f"{path}/notes", headers=api.agent_headers("mei"), json={"text": "客户要求退款，先核实订单"})
    assert note.status_code == 201 and note.json()["agent_id"] == "mei"
    taken = api.client.post(f"{path}/reassign", headers=api.agent_headers("agent-de"), json={"agent_id": "agent-de"})
    assert taken.status_code == 409 and taken.json()["code"] == "conflict"  # only the holder passes it on
    unknown = api.client.post(f"{path}/reassign", headers=api.agent_headers("mei"), json={"agent_id": "nobody"})
    assert unknown.status_code == 404
    moved = api.client.post(f"{path}/reassign", headers=api.agent_headers("mei"), json={"agent_id": "agent-de"})
    assert moved.status_code == 200 and moved.json()["assignee"] == "agent-de"
    view = api.client.get(path, headers=api.agent_headers("agent-de")).json()
    assert [n["text"] for n in view["notes"]] == ["客户要求退款，先核实订单"] and view["item"]["notes"] == 1
    assert all("退款" not in t["text"] for t in view["turns"])  # a note is never a turn
    types = [e.type for _, e in api.services.events.read(tenant="tidewell", count=10_000)
             if e.conversation_id == conversation]
    assert types == ["handoff", "claim", "note", "reassign"]


def test_release_hands_back_to_the_bot_which_answers_the_next_message(api: ApiHarness) -> None:
    conversation = handed_off(api, customer_id="kunde-desk-2")
    silent = api.ask("Hallo? Ist da jemand?", market="DE", conversation_id=conversation)
    assert silent["status"] == "handed_off"
    path = f"/v1/desk/conversations/{conversation}"
    waiting = api.client.post(f"{path}/release", headers=api.agent_headers("mei"), json={"outcome": "resolved"})
    assert waiting.status_code == 409  # claim it first
    assert api.client.post(f"{path}/claim", headers=api.agent_headers("mei")).status_code == 200
    bad = api.client.post(f"{path}/release", headers=api.agent_headers("mei"), json={"outcome": "solved-ish"})
    assert bad.status_code == 422
    released = api.client.post(f"{path}/release", headers=api.agent_headers("mei"), json={"outcome": "resolved"})
    assert released.status_code == 200, released.text
    assert (released.json()["state"], released.json()["outcome"]) == ("closed", "resolved")
    assert released.json()["handling_s"] >= 0
    answered = api.ask("Wie lange dauert der Versand?", market="DE", conversation_id=conversation)
    assert answered["status"] == "answered" and answered["text"]
    assert conversation not in {i["conversation_id"] for i in inbox(api, api.agent_headers("mei"))}
    release = [e for _, e in api.services.events.read(tenant="tidewell", count=10_000)
               if e.conversation_id == conversation and e.type == "release"]
    assert [(e.agent_id, e.outcome) for e in release] == [("mei", "resolved")]
    stats = api.client.get("/v1/desk/stats", headers=api.headers("admin")).json()
    assert stats["outcomes"].get("resolved", 0) >= 1 and stats["median_handling_s"] is not None


def test_an_agent_of_another_tenant_never_sees_the_item(api: ApiHarness) -> None:
    conversation = handed_off(api, "ขอคุยกับพนักงานค่ะ", market="TH")
    acme = api.headers("agent", "acme")
    assert inbox(api, acme) == []
    path = f"/v1/desk/conversations/{conversation}"
    for response in (api.client.get(path, headers=acme), api.client.post(f"{path}/claim", headers=acme),
                     api.client.post(f"{path}/notes", headers=acme, json={"text": "peek"}),
                     api.client.post(f"{path}/release", headers=acme, json={"outcome": "spam"}),
                     api.client.post(f"{path}/claim", headers=api.headers("admin", "acme"))):
        assert response.status_code == 404 and response.json()["code"] == "not_found", response.text
        assert "ขอคุย" not in response.text
    still = {i["conversation_id"]: i for i in inbox(api, api.headers("agent"))}[conversation]
    assert (still["state"], still["notes"]) == ("waiting", 0)


def test_only_agent_and_admin_keys_work_at_the_desk(api: ApiHarness) -> None:
    for role in ("connector", "content"):
        response = api.client.get("/v1/desk/conversations", headers=api.headers(role))
        assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert api.client.get("/v1/desk/conversations").status_code == 401
    mine = api.client.get("/v1/desk/agents", headers=api.agent_headers("mei")).json()["agents"]
    assert [(a["id"], a["languages"]) for a in mine] == [("mei", ["zh", "en"])]
    everyone = api.client.get("/v1/desk/agents", headers=api.headers("admin")).json()["agents"]
    assert [a["id"] for a in everyone] == ["agent-de", "mei", "tidewell-desk"]
    schema = api.client.get("/openapi.json").json()["paths"]
    assert schema["/v1/desk/conversations/{conversation_id}/claim"]["post"]["summary"] == "Claim a conversation"


def test_erasing_the_customer_erases_their_desk_item_and_notes(api: ApiHarness) -> None:
    conversation = handed_off(api, customer_id="kunde-desk-erase")
    path = f"/v1/desk/conversations/{conversation}"
    assert api.client.post(f"{path}/claim", headers=api.agent_headers("agent-de")).status_code == 200
    assert api.client.post(f"{path}/notes", headers=api.agent_headers("agent-de"),
                           json={"text": "Kundin möchte Rückruf"}).status_code == 201
    erased = api.client.delete("/v1/customers/kunde-desk-erase", headers=api.headers("admin"))
    assert erased.status_code == 200, erased.text
    assert api.client.get(path, headers=api.agent_headers("agent-de")).status_code == 404
    assert conversation not in {i["conversation_id"] for i in inbox(api, api.agent_headers("agent-de"))}
    assert api.services.desk.notes("tidewell", conversation) == []


@pytest.mark.unit
def test_agent_keys_name_their_agent_and_languages() -> None:
    from api.auth import KeyRing, parse_keys
    from polydesk.errors import ConfigError

    key = "pd_test_desk_key_000001"
    ring = KeyRing(parse_keys(json.dumps([
        {"key": key, "tenant": "tidewell", "role": "agent", "agent_id": "mei", "languages": ["ZH_cn", "en"]},
        {"key": key + "a", "tenant": "tidewell", "role": "admin"}]), origin="test"))
    agent, admin = ring.authenticate(key), ring.authenticate(key + "a")
    assert agent is not None and (agent.agent_id, agent.languages, agent.allows("agent")) == (
        "mei", ("zh-cn", "en"), True)
    assert admin is not None and admin.agent_id == f"admin-{admin.key_id}" and admin.languages == ("en",)
    assert admin.allows("agent") and not agent.allows("connector") and not agent.allows("admin")
    for wrong in ({"role": "agent", "languages": ["th"]}, {"role": "agent", "agent_id": "mei"},
                  {"role": "connector", "agent_id": "mei", "languages": ["en"]},
                  {"role": "agent", "agent_id": "Mei:1", "languages": ["en"]}):
        with pytest.raises(ConfigError):
            parse_keys(json.dumps([{"key": key, "tenant": "tidewell", **wrong}]), origin="test")
