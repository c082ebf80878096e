"""Erasing a customer (GDPR): a real embedded Redis, a real index with ingested transcripts, no mocks.

Two tenants hold a customer with the same id (``cust-81``); only the erasing tenant's data goes. Transcripts
are Thai, German and Japanese; a phrase only the erased customer wrote must vanish from search results while
another customer's transcript in the same document stays findable.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from agent.events import EventLog, HandoffEvent
from agent.privacy import AuditLog, CustomerEraser
from agent.schema import Turn
from agent.state import Conversation, ConversationStore
from agent.webhooks import WebhookDispatcher
from ingestion.pipeline import Ingestor
from ingestion.sources import SourceOptions
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings

pytestmark = pytest.mark.integration

THAI_PHRASE = "ร่มลายช้างสีม่วง"
GERMAN_PHRASE = "Gartenzwerg mit Laterne"
JAPANESE_PHRASE = "抹茶色の折りたたみ傘"

MIXED: list[dict[str, Any]] = [  # one document: two customers and an anonymous one
    {"conversation_id": "t-1", "market": "TH", "language": "th", "channel": "line", "customer_id": "cust-81",
     "turns": [{"role": "customer", "text": f"{THAI_PHRASE}ของฉันด้ามจับหัก เปลี่ยนได้ไหมคะ"},
               {"role": "agent", "text": "ได้เลยค่ะ รบกวนส่งรูปร่มมาทางไลน์นะคะ"}]},
    {"conversation_id": "t-2", "market": "DE", "language": "de", "customer_id": "cust-82",
     "turns": [{"role": "customer", "text": f"Mein {GERMAN_PHRASE} kam zerbrochen an."},
               {"role": "agent", "text": "Das tut uns leid, wir schicken Ihnen sofort einen neuen."}]},
    {"conversation_id": "t-3", "market": "DE", "language": "de",
     "turns": [{"role": "customer", "text": "Wie lange dauert der Versand nach Österreich?"},
               {"role": "agent", "text": "In der Regel drei bis fünf Werktage."}]},
]
JAPAN_ONLY: list[dict[str, Any]] = [  # one document holding only the erased customer: deleted whole
    {"conversation_id": "t-4", "market": "JP", "language": "ja", "customer_id": "cust-81",
     "turns": [{"role": "customer", "text": f"{JAPANESE_PHRASE}はいつ届きますか"},
               {"role": "agent", "text": "明日お届けの予定です。"}]},
]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8")


@pytest.fixture
def store(settings: Settings, redis_client: redis.Redis) -> ConversationStore:
    opened = ConversationStore.from_settings(redis_client, settings)
    opened.lock_s = 5.0
    return opened


@pytest.fixture
def transcripts(tmp_path: Path, index: KnowledgeIndex, settings: Settings) -> KnowledgeIndex:
    folder = tmp_path / "transcripts"
    _write_jsonl(folder / "mixed.jsonl", MIXED)
    _write_jsonl(folder / "japan.jsonl", JAPAN_ONLY)
    ingestor = Ingestor(index=index, settings=settings)
    for tenant in ("tidewell", "acme"):
        report = ingestor.ingest([folder], SourceOptions(tenant=tenant))
        assert [f.status for f in report.files] == ["added", "added"], report.files
    return index


def _conversation(store: ConversationStore, tenant: str, conversation_id: str, customer_id: str | None,
                  text: str, *, handoff: bool = False) -> None:
    conversation = Conversation.start(tenant=tenant, conversation_id=conversation_id, market="TH", channel="line",
                                      customer_id=customer_id)
    conversation.add(Turn(role="customer", text=text, language="th", at=time.time()), max_turns=store.max_turns)
    events = [HandoffEvent(type="handoff", tenant=tenant, conversation_id=conversation_id, customer_id=customer_id,
                           market="TH", channel="line", summary=f"ลูกค้าเขียนว่า: {text}")] if handoff else []
    store.save(conversation, events=events)


def _texts(index: KnowledgeIndex, query: str, tenant: str) -> list[str]:
    return [hit.chunk.text for hit in index.search(query, tenant=tenant, kinds=["conversation"], top_k=10)]


def _customers_in_index(index: KnowledgeIndex, tenant: str) -> set[str]:
    found = set()
    for document_id in ("mixed.jsonl", "japan.jsonl"):
        found |= {c.extra.get("customer_id", "") for c in index.store.get_chunks(tenant, document_id)}
    return found


def test_erasure_removes_the_customer_everywhere_and_nothing_else(store: ConversationStore,
                                                                   transcripts: KnowledgeIndex) -> None:
    for tenant in ("tidewell", "acme"):
        _conversation(store, tenant, "c-1", "cust-81", f"{THAI_PHRASE} หักค่ะ", handoff=True)
        _conversation(store, tenant, "c-2", "cust-81", "ขอคุยกับพนักงานค่ะ")
        _conversation(store, tenant, "c-3", "cust-82", "Wo bleibt mein Paket?", handoff=True)
    # A conversation saved before the customer index existed, and a record another store linked to the customer.
    legacy = Conversation.start(tenant="tidewell", conversation_id="c-old", market="JP", channel="web",
                                customer_id="cust-81")
    store.client.set(store.key("tidewell", "c-old"), legacy.model_dump_json())
    with store.client.pipeline(transaction=True) as pipe:
        pipe.set("polydesk:idem:tidewell:abc", "{}")
        store.link_customer(pipe, "tidewell", "cust-81", "polydesk:idem:tidewell:abc")
        pipe.execute()
    assert any(THAI_PHRASE in text for text in _texts(transcripts, THAI_PHRASE, "tidewell"))

    report = CustomerEraser(conversations=store, index=transcripts).erase("tidewell", "cust-81", actor="k-admin")

    assert sorted(report.conversation_ids) == ["c-1", "c-2", "c-old"]
    assert len(report.event_ids) == 1 and report.linked_keys == 1
    assert report.transcript_chunks == 2
    assert report.documents_rewritten == ["mixed.jsonl"] and report.documents_deleted == ["japan.jsonl"]
    assert all(store.get("tidewell", c) is None for c in ("c-1", "c-2", "c-old"))
    assert store.client.get("polydesk:idem:tidewell:abc") is None
    assert not store.client.exists(store.customer_key("tidewell", "cust-81"))
    assert [e.customer_id for _, e in store.events.read(tenant="tidewell")] == ["cust-82"]
    # Gone from search results, and from the store itself (no old version left on disk).
    assert not any(THAI_PHRASE in t or JAPANESE_PHRASE in t for t in _texts(transcripts, THAI_PHRASE, "tidewell"))
    assert not any(JAPANESE_PHRASE in t for t in _texts(transcripts, JAPANESE_PHRASE, "tidewell"))
    assert "cust-81" not in _customers_in_index(transcripts, "tidewell")
    assert transcripts.get_document("tidewell", "japan.jsonl") is None
    # Everyone else is untouched: the other customer, the anonymous transcript, and the other tenant's cust-81.
    assert any(GERMAN_PHRASE in t for t in _texts(transcripts, GERMAN_PHRASE, "tidewell"))
    assert any("Österreich" in t for t in _texts(transcripts, "Versand nach Österreich", "tidewell"))
    assert store.get("tidewell", "c-3") is not None
    assert all(store.get("acme", c) is not None for c in ("c-1", "c-2", "c-3"))
    assert [e.customer_id for _, e in store.events.read(tenant="acme")] == ["cust-81", "cust-82"]
    assert any(THAI_PHRASE in t for t in _texts(transcripts, THAI_PHRASE, "acme"))
    assert "cust-81" in _customers_in_index(transcripts, "acme")


def test_erasing_again_reports_nothing_and_is_audited_without_content(store: ConversationStore,
                                                                       transcripts: KnowledgeIndex) -> None:
    _conversation(store, "tidewell", "c-1", "cust-81", f"{THAI_PHRASE} หักค่ะ", handoff=True)
    eraser = CustomerEraser(conversations=store, index=transcripts)
    first = eraser.erase("tidewell", "cust-81", actor="k-admin")
    second = eraser.erase("tidewell", "cust-81", actor="k-admin-2")
    assert first.erased_anything and not second.erased_anything
    assert set(second.counts().values()) == {0}

    audit = AuditLog(store.client)
    entries = audit.read("tidewell", 10)
    assert [e.actor for e in entries] == ["k-admin-2", "k-admin"]  # newest first
    assert entries[1].counts["conversations"] == 1 and entries[1].counts["transcript_chunks"] == 2
    assert entries[1].id == first.audit_id and all(e.outcome == "completed" for e in entries)
    raw = json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False)
    for secret in ("cust-81", THAI_PHRASE, JAPANESE_PHRASE, hashlib.sha256(b"cust-81").hexdigest()):
        assert secret not in raw
    assert entries[0].customer_digest == entries[1].customer_digest
    assert [e.actor for e in audit.read("tidewell", 10, customer_id="cust-81")] == ["k-admin-2", "k-admin"]
    assert audit.read("tidewell", 10, customer_id="cust-82") == []
    assert audit.read("acme", 10) == []
    assert audit.customer_digest("acme", "cust-81") != entries[0].customer_digest  # no linking across tenants


def test_events_waiting_for_webhook_delivery_are_erased_too(store: ConversationStore,
                                                           index: KnowledgeIndex) -> None:
    _conversation(store, "tidewell", "c-1", "cust-81", "ยกเลิกคำสั่งซื้อ", handoff=True)
    _conversation(store, "tidewell", "c-2", "cust-81", "คืนเงินด้วยค่ะ", handoff=True)
    _conversation(store, "tidewell", "c-3", "cust-82", "Rückerstattung bitte", handoff=True)
    statuses = iter([503, 400, 503])  # a retry, a dead letter, another retry (cust-82's)
    transport = httpx.MockTransport(lambda request: httpx.Response(next(statuses)))
    dispatcher = WebhookDispatcher(store.client, url="http://desk.test/hook", client=httpx.Client(transport=transport))
    stats = dispatcher.run_once()
    assert (stats.pending, stats.dead) == (2, 1)

    report = CustomerEraser(conversations=store, index=index).erase("tidewell", "cust-81", actor="k-admin")

    assert len(report.event_ids) == 2 and len(report.webhook_event_ids) == 2
    assert dispatcher.dead_letters() == []
    assert store.client.zcard("polydesk:events:webhook:retry") == 1  # cust-82's retry stays
    assert dispatcher.backlog() == 1
    dispatcher.client.close()


def test_an_answer_in_flight_finishes_before_its_conversation_is_erased(store: ConversationStore,
                                                                        index: KnowledgeIndex) -> None:
    _conversation(store, "tidewell", "c-1", "cust-81", "สวัสดีค่ะ")
    held = threading.Event()

    def answer_in_flight() -> None:
        with store.lock("tidewell", "c-1"):
            held.set()
            time.sleep(0.5)
            _conversation(store, "tidewell", "c-1", "cust-81", "ข้อความที่สอง")

    thread = threading.Thread(target=answer_in_flight)
    thread.start()
    held.wait(5)
    report = CustomerEraser(conversations=store, index=index).erase("tidewell", "cust-81", actor="k-admin")
    thread.join()
    assert report.conversation_ids == ["c-1"] and store.get("tidewell", "c-1") is None


def test_a_conversation_id_reused_by_another_customer_is_left_alone(store: ConversationStore,
                                                                    index: KnowledgeIndex) -> None:
    _conversation(store, "tidewell", "c-1", "cust-81", "สวัสดีค่ะ")
    store.delete("tidewell", "c-1")  # expired; the id comes back for someone else
    _conversation(store, "tidewell", "c-1", "cust-82", "Hallo")
    report = CustomerEraser(conversations=store, index=index).erase("tidewell", "cust-81", actor="k-admin")
    assert report.conversation_ids == [] and store.get("tidewell", "c-1") is not None


def test_a_failure_part_way_shows_no_half_state_and_a_retry_finishes(
        store: ConversationStore, transcripts: KnowledgeIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    _conversation(store, "tidewell", "c-1", "cust-81", "สวัสดีค่ะ")
    live = transcripts.get_document("tidewell", "mixed.jsonl")

    def crash(texts: object) -> object:
        raise RuntimeError("embedder crashed")

    monkeypatch.setattr(transcripts, "encode", crash)  # only to simulate the crash
    eraser = CustomerEraser(conversations=store, index=transcripts)
    with pytest.raises(RuntimeError):
        eraser.erase("tidewell", "cust-81", actor="k-admin")
    # The document was not switched: the old version is whole and still the live one.
    assert transcripts.get_document("tidewell", "mixed.jsonl") == live
    assert any(GERMAN_PHRASE in t for t in _texts(transcripts, GERMAN_PHRASE, "tidewell"))
    monkeypatch.undo()

    report = eraser.erase("tidewell", "cust-81", actor="k-admin")
    assert report.documents_rewritten == ["mixed.jsonl"] and report.conversation_ids == []
    assert "cust-81" not in _customers_in_index(transcripts, "tidewell")
    assert [e.outcome for e in AuditLog(store.client).read("tidewell")] == ["completed", "failed"]


def test_the_event_log_erases_only_the_tenants_matching_events(store: ConversationStore) -> None:
    log = EventLog(store.client)
    for tenant, conversation_id, customer_id in [("tidewell", "c-1", None), ("tidewell", "c-2", "cust-81"),
                                                 ("acme", "c-1", None), ("tidewell", "c-3", "cust-82")]:
        log.publish(HandoffEvent(type="handoff", tenant=tenant, conversation_id=conversation_id,
                                 customer_id=customer_id, market="DE", channel="web"))
    removed = log.erase_customer("tidewell", "cust-81", conversation_ids={"c-1"})
    assert len(removed) == 2
    assert [(e.tenant, e.conversation_id) for _, e in log.read()] == [("acme", "c-1"), ("tidewell", "c-3")]
