"""DELETE /v1/customers/{id} and GET /v1/audit through the real app: what is erased, who may, which tenant.

Conversations are held through POST /v1/answer and transcripts uploaded through POST /v1/knowledge, in
Thai, German and Japanese; the customer ids are unique per test (the app is shared by the module).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

pytestmark = [pytest.mark.integration]

THAI_PHRASE = "ร่มลายช้างสีม่วง"
GERMAN_PHRASE = "Gartenzwerg mit Laterne"
JAPANESE_PHRASE = "抹茶色の折りたたみ傘"


def _transcripts(customer: str, other: str) -> list[dict[str, Any]]:
    return [
        {"conversation_id": "t-1", "market": "TH", "language": "th", "channel": "line", "customer_id": customer,
         "turns": [{"role": "customer", "text": f"{THAI_PHRASE}ของฉันด้ามจับหัก เปลี่ยนได้ไหมคะ"},
                   {"role": "agent", "text": "ได้เลยค่ะ รบกวนส่งรูปร่มมาทางไลน์นะคะ"}]},
        {"conversation_id": "t-2", "market": "DE", "language": "de", "customer_id": other,
         "turns": [{"role": "customer", "text": f"Mein {GERMAN_PHRASE} kam zerbrochen an."},
                   {"role": "agent", "text": "Das tut uns leid, wir schicken Ihnen sofort einen neuen."}]},
        {"conversation_id": "t-3", "market": "JP", "language": "ja", "customer_id": customer,
         "turns": [{"role": "customer", "text": f"{JAPANESE_PHRASE}はいつ届きますか"},
                   {"role": "agent", "text": "明日お届けの予定です。"}]},
    ]


def _upload(fresh_api: Any, tenant: str, name: str, conversations: list[dict[str, Any]]) -> str:
    """Upload transcripts as the tenant's content team and wait for the job; the document id."""
    response = fresh_api.client.post("/v1/knowledge", headers=fresh_api.headers("content", tenant),
                                     json={"name": name, "conversations": conversations})
    assert response.status_code == 202, response.text
    job = fresh_api.finished_job(response.json(), tenant=tenant)
    assert job["status"] == "done", job
    return f"{name}.jsonl"


def _chunk_texts(fresh_api: Any, tenant: str, document_id: str) -> list[str]:
    response = fresh_api.client.get(f"/v1/knowledge/documents/{document_id}?chunks=50",
                                    headers=fresh_api.headers("content", tenant))
    assert response.status_code == 200, response.text
    return [chunk["text"] for chunk in response.json()["chunks"]]


def _found(fresh_api: Any, tenant: str, phrase: str) -> bool:
    hits = fresh_api.services.agent.index.search(phrase, tenant=tenant, kinds=["conversation"], top_k=10,
                                             include_flagged=True)  # a case-specific turn is stored, flagged
    return any(phrase in hit.chunk.text for hit in hits)


def _conversation(fresh_api: Any, tenant: str, conversation_id: str) -> int:
    return int(fresh_api.client.get(f"/v1/conversations/{conversation_id}",
                                    headers=fresh_api.headers("admin", tenant)).status_code)


def _erase(fresh_api: Any, customer: str, tenant: str = "tidewell", role: str = "admin") -> Any:
    return fresh_api.client.delete(f"/v1/customers/{customer}", headers=fresh_api.headers(role, tenant))


def test_an_admin_erases_a_customers_conversations_events_and_transcripts(fresh_api: Any) -> None:
    customer, other = "cust-api-81", "cust-api-82"
    document = _upload(fresh_api, "tidewell", "transcripts/erase-main", _transcripts(customer, other))
    handoff = fresh_api.ask("ขอคุยกับเจ้าหน้าที่ได้ไหมครับ", market="TH", channel="line", customer_id=customer)
    assert handoff["escalation"]["escalate"], handoff
    retried = fresh_api.client.post(
        "/v1/answer", headers={**fresh_api.headers("connector"), "Idempotency-Key": "erase-retry-1"},
        json={"message": "Wie lange dauert der Versand?", "market": "DE", "channel": "web", "customer_id": customer})
    assert retried.status_code == 200, retried.text
    kept = fresh_api.ask("返品はできますか", market="JP", channel="line", customer_id=other)
    assert _found(fresh_api, "tidewell", THAI_PHRASE) and _found(fresh_api, "tidewell", JAPANESE_PHRASE)

    response = _erase(fresh_api, customer)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["erased"] and body["customer_id"] == customer and body["audit_id"]
    assert sorted(body["conversation_ids"]) == sorted([handoff["conversation_id"], retried.json()["conversation_id"]])
    assert body["counts"]["conversations"] == 2 and body["counts"]["events"] == 1
    assert body["counts"]["linked_keys"] == 1  # the stored idempotent reply
    assert body["counts"]["transcript_chunks"] == 2 and body["documents_rewritten"] == [document]
    assert all(_conversation(fresh_api, "tidewell", c) == 404 for c in body["conversation_ids"])
    events = fresh_api.services.agent.conversations.events.read(tenant="tidewell", count=1000)
    assert all(event.customer_id != customer for _, event in events)
    # The retried request is answered anew (a new conversation), not from the erased stored reply.
    again = fresh_api.client.post(
        "/v1/answer", headers={**fresh_api.headers("connector"), "Idempotency-Key": "erase-retry-1"},
        json={"message": "Wie lange dauert der Versand?", "market": "DE", "channel": "web", "customer_id": customer})
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
    # The transcripts: gone from search results and from the document; the other customer's stays.
    assert not _found(fresh_api, "tidewell", THAI_PHRASE) and not _found(fresh_api, "tidewell", JAPANESE_PHRASE)
    assert _found(fresh_api, "tidewell", GERMAN_PHRASE)
    texts = _chunk_texts(fresh_api, "tidewell", document)
    assert len(texts) == 1 and GERMAN_PHRASE in texts[0]
    assert _conversation(fresh_api, "tidewell", kept["conversation_id"]) == 200


def test_erasing_twice_reports_nothing_the_second_time(fresh_api: Any) -> None:
    customer = "cust-api-twice"
    fresh_api.ask("ส่งฟรีไหมคะ", market="TH", channel="line", customer_id=customer)
    assert _erase(fresh_api, customer).json()["erased"]
    second = _erase(fresh_api, customer)
    assert second.status_code == 200
    assert not second.json()["erased"] and set(second.json()["counts"].values()) == {0}


@pytest.mark.parametrize("role", ["connector", "content"])
def test_only_admin_keys_may_erase_or_read_the_audit(fresh_api: Any, role: str) -> None:
    customer = f"cust-api-{role}"
    reply = fresh_api.ask("Wo ist meine Bestellung?", market="DE", channel="email", customer_id=customer)
    for response in (_erase(fresh_api, customer, role=role),
                     fresh_api.client.get("/v1/audit", headers=fresh_api.headers(role))):
        assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert fresh_api.client.delete(f"/v1/customers/{customer}").status_code == 401
    assert _conversation(fresh_api, "tidewell", reply["conversation_id"]) == 200


def test_another_tenant_erasing_the_same_customer_id_erases_nothing_of_ours(fresh_api: Any) -> None:
    customer, other = "cust-api-shared", "cust-api-shared-2"
    document = _upload(fresh_api, "tidewell", "transcripts/erase-shared", _transcripts(customer, other))
    ours = fresh_api.ask("ขอคุยกับเจ้าหน้าที่ได้ไหมครับ", market="TH", channel="line", customer_id=customer)
    theirs = fresh_api.ask("Ich möchte mit einem Menschen sprechen.", market="DE", channel="web",
                           customer_id=customer, tenant="acme")

    response = _erase(fresh_api, customer, tenant="acme")

    assert response.status_code == 200
    assert response.json()["conversation_ids"] == [theirs["conversation_id"]]
    assert response.json()["counts"]["transcript_chunks"] == 0
    assert _conversation(fresh_api, "tidewell", ours["conversation_id"]) == 200
    assert _conversation(fresh_api, "acme", theirs["conversation_id"]) == 404
    assert len(_chunk_texts(fresh_api, "tidewell", document)) == 3 and _found(fresh_api, "tidewell", THAI_PHRASE)
    assert any(e.customer_id == customer for _, e in
               fresh_api.services.agent.conversations.events.read(tenant="tidewell", count=1000))
    # Each tenant's audit log shows its own erasures only.
    acme_audit = fresh_api.client.get("/v1/audit", headers=fresh_api.headers("admin", "acme")).json()["entries"]
    tidewell_ids = {e["id"] for e in fresh_api.client.get("/v1/audit?limit=1000",
                                                          headers=fresh_api.headers("admin")).json()["entries"]}
    assert acme_audit and response.json()["audit_id"] in {e["id"] for e in acme_audit}
    assert not tidewell_ids & {e["id"] for e in acme_audit}


def test_the_audit_log_says_who_asked_and_when_without_the_customer(fresh_api: Any) -> None:
    customer = "cust-api-audited"
    fresh_api.ask("ขอคุยกับเจ้าหน้าที่ได้ไหมครับ", market="TH", channel="line", customer_id=customer)
    before = time.time()
    erased = _erase(fresh_api, customer).json()
    _erase(fresh_api, "cust-api-nobody")

    response = fresh_api.client.get("/v1/audit?limit=2", headers=fresh_api.headers("admin"))

    assert response.status_code == 200
    entries = response.json()["entries"]
    assert len(entries) == 2 and entries[1]["id"] == erased["audit_id"]  # newest first
    token = fresh_api.headers("admin")["Authorization"].removeprefix("Bearer ")
    caller = fresh_api.services.keys.authenticate(token)
    assert entries[1]["actor"] == caller.key_id and entries[1]["action"] == "erase_customer"
    assert entries[1]["counts"]["conversations"] == 1 and entries[1]["outcome"] == "completed"
    assert datetime.fromisoformat(entries[1]["at"]).timestamp() >= before - 1
    assert customer not in response.text and "ขอคุย" not in response.text and token not in response.text
    about = fresh_api.client.get(f"/v1/audit?customer_id={customer}", headers=fresh_api.headers("admin")).json()
    assert [e["id"] for e in about["entries"]] == [erased["audit_id"]]


def test_the_customer_id_is_validated(fresh_api: Any) -> None:
    too_long = _erase(fresh_api, "x" * 129)
    assert too_long.status_code == 422 and too_long.json()["code"] == "validation_error"
    assert fresh_api.client.get("/v1/audit?limit=0", headers=fresh_api.headers("admin")).status_code == 422
