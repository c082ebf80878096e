"""/v1/profiles through the real app: one customer across channels, kept within the caller's tenant, erased whole.

Conversations are held through POST /v1/answer: a Thai customer writes on LINE, then by e-mail in English; a
lead from Indonesia is known by a WhatsApp number. Ids are unique per test (the app is shared by the module).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.schema import Turn
from agent.state import Conversation, ConversationStore
from api.cli.main import app as cli
from polydesk.redisdb import connect_redis
from polydesk.settings import get_settings

pytestmark = [pytest.mark.integration]

THAI_MESSAGE = "ร่มลายช้างของฉันด้ามจับหัก เปลี่ยนได้ไหมคะ"
ENGLISH_MESSAGE = "Hello, I wrote to you on LINE about my elephant umbrella. Is the replacement on its way?"


def _admin(api: Any, tenant: str = "tidewell") -> dict[str, str]:
    return dict(api.headers("admin", tenant))


def _create(api: Any, profile_id: str, *identities: tuple[str, str], tenant: str = "tidewell") -> dict[str, Any]:
    response = api.client.post("/v1/profiles", headers=_admin(api, tenant), json={
        "profile_id": profile_id, "identities": [{"channel": c, "customer_id": i} for c, i in identities]})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _identities(profile: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["channel"], i["customer_id"]) for i in profile["identities"]]


def _thai_customer(api: Any, line_id: str, address: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The customer's LINE conversation, then their e-mail (the e-mail channel sends the address lowercased)."""
    on_line = api.ask(THAI_MESSAGE, market="TH", channel="line", customer_id=line_id,
                      conversation_id=f"line-{line_id}")
    by_mail = api.ask(ENGLISH_MESSAGE, market="TH", channel="email", customer_id=address.lower())
    return on_line, by_mail


def test_a_profile_links_line_and_email_and_its_history_spans_both(fresh_api: Any) -> None:
    line_id, address = "U1f0c9b7e2d1a4c3b8e6f000000000001", "Buyer.TH@Example.co.th"
    on_line, by_mail = _thai_customer(fresh_api, line_id, address)
    fresh_api.ask("ส่งฟรีไหมคะ", market="TH", channel="line", customer_id="U-another-customer")

    created = _create(fresh_api, "crm-th-0815", ("line", line_id), ("email", address))

    assert _identities(created) == [("email", "buyer.th@example.co.th"), ("line", line_id)]
    found = fresh_api.client.get("/v1/profiles/lookup", headers=_admin(fresh_api),
                                 params={"channel": "email", "customer_id": " BUYER.TH@example.co.th "})
    assert found.status_code == 200 and found.json()["profile_id"] == "crm-th-0815"
    history = fresh_api.client.get("/v1/profiles/crm-th-0815/history", headers=_admin(fresh_api))
    assert history.status_code == 200, history.text
    conversations = history.json()["conversations"]
    assert [(c["id"], c["channel"]) for c in conversations] == [(on_line["conversation_id"], "line"),
                                                                (by_mail["conversation_id"], "email")]
    assert conversations[0]["turns"][0]["text"] == THAI_MESSAGE
    assert conversations[1]["turns"][0]["text"] == ENGLISH_MESSAGE and not history.json()["truncated"]
    latest = fresh_api.client.get("/v1/profiles/crm-th-0815/history?limit=1", headers=_admin(fresh_api)).json()
    assert [c["id"] for c in latest["conversations"]] == [by_mail["conversation_id"]] and latest["truncated"]


def test_linking_an_identity_of_another_profile_is_a_conflict_unless_merged(fresh_api: Any) -> None:
    _create(fresh_api, "wa-lead-0042", ("whatsapp", "+62 812-3456-0042"), ("telegram", "412340042"))
    _create(fresh_api, "crm-id-0042", ("web", "kunde-0042"))
    link = {"channel": "whatsapp", "customer_id": "6281234560042"}

    refused = fresh_api.client.post("/v1/profiles/crm-id-0042/identities", headers=_admin(fresh_api), json=link)
    assert refused.status_code == 409 and refused.json()["code"] == "conflict", refused.text
    assert "wa-lead-0042" in refused.json()["message"]
    merged = fresh_api.client.post("/v1/profiles/crm-id-0042/identities", headers=_admin(fresh_api),
                                   json={**link, "merge": True})

    assert merged.status_code == 200, merged.text
    assert _identities(merged.json()) == [("telegram", "412340042"), ("web", "kunde-0042"),
                                          ("whatsapp", "6281234560042")]
    assert fresh_api.client.get("/v1/profiles/wa-lead-0042", headers=_admin(fresh_api)).status_code == 404
    unlinked = fresh_api.client.delete("/v1/profiles/crm-id-0042/identities/whatsapp/6281234560042",
                                       headers=_admin(fresh_api))
    assert unlinked.status_code == 200 and ("whatsapp", "6281234560042") not in _identities(unlinked.json())
    again = fresh_api.client.delete("/v1/profiles/crm-id-0042/identities/whatsapp/6281234560042",
                                    headers=_admin(fresh_api))
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    taken = fresh_api.client.post("/v1/profiles", headers=_admin(fresh_api), json={"profile_id": "crm-id-0042"})
    assert taken.status_code == 409


@pytest.mark.parametrize("body", [
    {"identities": [{"channel": "email", "customer_id": "buyer at example dot com"}]},
    {"identities": [{"channel": "whatsapp", "customer_id": "call me maybe"}]},
    {"identities": [{"channel": "line", "customer_id": "U4af\u202e9629"}]},
    {"identities": [{"channel": "fax", "customer_id": "0049301234567"}]},
    {"profile_id": "crm:4711"}, {"profile_id": "ลูกค้า-1"},
])
def test_malformed_identities_and_profile_ids_are_refused(fresh_api: Any, body: dict[str, Any]) -> None:
    response = fresh_api.client.post("/v1/profiles", headers=_admin(fresh_api), json=body)
    assert response.status_code == 422 and response.json()["code"] == "validation_error", response.text


def test_the_lookup_routes_name_is_no_profile_id(fresh_api: Any) -> None:
    response = fresh_api.client.post("/v1/profiles", headers=_admin(fresh_api), json={"profile_id": "lookup"})
    assert response.status_code == 400 and response.json()["code"] == "invalid_input", response.text


def test_another_tenant_gets_404_on_every_profile_route(fresh_api: Any) -> None:
    line_id = "U1f0c9b7e2d1a4c3b8e6f000000000002"
    fresh_api.ask(THAI_MESSAGE, market="TH", channel="line", customer_id=line_id)
    _create(fresh_api, "crm-th-0816", ("line", line_id), ("email", "member-0816@example.co.th"))
    acme, path = _admin(fresh_api, "acme"), "/v1/profiles/crm-th-0816"
    attempts = [
        fresh_api.client.get(path, headers=acme),
        fresh_api.client.get(f"{path}/history", headers=acme),
        fresh_api.client.post(f"{path}/identities", headers=acme, json={"channel": "web", "customer_id": "acme-1"}),
        fresh_api.client.post(f"{path}/identities", headers=acme,
                              json={"channel": "line", "customer_id": line_id, "merge": True}),
        fresh_api.client.delete(f"{path}/identities/line/{line_id}", headers=acme),
        fresh_api.client.get("/v1/profiles/lookup", headers=acme, params={"channel": "line", "customer_id": line_id}),
        fresh_api.client.delete(path, headers=acme),
    ]

    assert [(r.status_code, r.json()["code"]) for r in attempts] == [(404, "not_found")] * len(attempts)
    assert all(line_id not in r.text or line_id in str(r.request.url) for r in attempts)
    ours = fresh_api.client.get(path, headers=_admin(fresh_api))
    assert ours.status_code == 200 and _identities(ours.json()) == [("email", "member-0816@example.co.th"),
                                                                     ("line", line_id)]
    assert len(fresh_api.client.get(f"{path}/history", headers=_admin(fresh_api)).json()["conversations"]) == 1
    # acme's own profile may reuse the id and the identity: a customer of its own.
    assert _identities(_create(fresh_api, "crm-th-0816", ("line", line_id), tenant="acme")) == [("line", line_id)]


@pytest.mark.parametrize("role", ["connector", "content"])
def test_only_admin_keys_reach_profiles(fresh_api: Any, role: str) -> None:
    for response in (fresh_api.client.post("/v1/profiles", headers=fresh_api.headers(role), json={}),
                     fresh_api.client.get("/v1/profiles/crm-th-0815", headers=fresh_api.headers(role)),
                     fresh_api.client.delete("/v1/profiles/crm-th-0815", headers=fresh_api.headers(role))):
        assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_erasing_a_profile_erases_every_identitys_conversations_then_the_profile(fresh_api: Any) -> None:
    line_id, address = "U1f0c9b7e2d1a4c3b8e6f000000000003", "member-0817@example.co.th"
    on_line, by_mail = _thai_customer(fresh_api, line_id, address)
    kept = fresh_api.ask("ส่งฟรีไหมคะ", market="TH", channel="line", customer_id="U-kept-customer")
    _create(fresh_api, "crm-th-0817", ("line", line_id), ("email", address))

    response = fresh_api.client.delete("/v1/profiles/crm-th-0817", headers=_admin(fresh_api))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["erased"] and body["audit_id"] and body["counts"]["customers"] == 2
    assert body["counts"]["conversations"] == 2 and body["counts"]["profile_links"] == 2
    assert sorted(c["customer_id"] for c in body["customers"]) == sorted([line_id, address])
    for conversation in (on_line, by_mail):
        assert fresh_api.client.get(f"/v1/conversations/{conversation['conversation_id']}",
                                    headers=_admin(fresh_api)).status_code == 404
    assert fresh_api.client.get(f"/v1/conversations/{kept['conversation_id']}",
                                headers=_admin(fresh_api)).status_code == 200
    assert fresh_api.client.get("/v1/profiles/crm-th-0817", headers=_admin(fresh_api)).status_code == 404
    assert fresh_api.client.get("/v1/profiles/lookup", headers=_admin(fresh_api),
                                params={"channel": "line", "customer_id": line_id}).status_code == 404
    # Erased is erased: the profile is gone, and its identities have nothing left.
    assert fresh_api.client.delete("/v1/profiles/crm-th-0817", headers=_admin(fresh_api)).status_code == 404
    for customer in (line_id, address):
        again = fresh_api.client.delete(f"/v1/customers/{customer}", headers=_admin(fresh_api))
        assert again.status_code == 200 and not again.json()["erased"]
    audit = fresh_api.client.get("/v1/audit", headers=_admin(fresh_api), params={"customer_id": "crm-th-0817"})
    assert [e["action"] for e in audit.json()["entries"]] == ["erase_profile"]
    assert line_id not in audit.text and address not in audit.text


def test_erasing_one_customer_unlinks_their_identity_from_the_profile(fresh_api: Any) -> None:
    line_id = "U1f0c9b7e2d1a4c3b8e6f000000000004"
    fresh_api.ask(THAI_MESSAGE, market="TH", channel="line", customer_id=line_id)
    _create(fresh_api, "crm-th-0818", ("line", line_id), ("telegram", "412340818"))

    erased = fresh_api.client.delete(f"/v1/customers/{line_id}", headers=_admin(fresh_api))

    assert erased.status_code == 200 and erased.json()["counts"]["profile_links"] == 1
    profile = fresh_api.client.get("/v1/profiles/crm-th-0818", headers=_admin(fresh_api)).json()
    assert _identities(profile) == [("telegram", "412340818")]
    last = fresh_api.client.delete("/v1/customers/412340818", headers=_admin(fresh_api))
    assert last.json()["counts"]["profile_links"] == 1  # its last identity: the profile goes with it
    assert fresh_api.client.get("/v1/profiles/crm-th-0818", headers=_admin(fresh_api)).status_code == 404


def test_the_cli_links_shows_and_looks_up_a_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYDESK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    runner, line_id = CliRunner(), "U1f0c9b7e2d1a4c3b8e6f000000000005"
    try:
        settings = get_settings()
        client = connect_redis(settings)
        conversation = Conversation.start(tenant="tidewell", conversation_id="line-cli", market="TH", channel="line",
                                          customer_id=line_id)
        conversation.add(Turn(role="customer", text=THAI_MESSAGE, language="th", at=conversation.created_at),
                         max_turns=10)
        ConversationStore.from_settings(client, settings).save(conversation)
        client.close()

        for channel, customer in (("line", line_id), ("email", "Member-0819@Example.co.th")):
            linked = runner.invoke(cli, ["profiles", "link", "crm-th-0819", channel, customer, "-t", "tidewell",
                                         "--json"])
            assert linked.exit_code == 0, linked.output
        found = runner.invoke(cli, ["profiles", "lookup", "email", "MEMBER-0819@example.co.th", "-t", "tidewell", "--json"])
        shown = runner.invoke(cli, ["profiles", "show", "crm-th-0819", "-t", "tidewell", "--history", "--json"])
        bad = runner.invoke(cli, ["profiles", "link", "crm-th-0819", "whatsapp", "call me", "-t", "tidewell",
                                  "--json"])
        other = runner.invoke(cli, ["profiles", "lookup", "line", line_id, "-t", "acme", "--json"])
    finally:
        get_settings.cache_clear()

    assert json.loads(found.stdout)["profile_id"] == "crm-th-0819"
    profile = json.loads(shown.stdout)
    assert _identities(profile) == [("email", "member-0819@example.co.th"), ("line", line_id)]
    assert [c["turns"][0]["text"] for c in profile["conversations"]] == [THAI_MESSAGE]
    assert bad.exit_code == 2 and json.loads(bad.stdout)["error"]["code"] == "invalid_input"
    assert other.exit_code == 1 and json.loads(other.stdout)["error"]["code"] == "not_found"
