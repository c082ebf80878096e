"""The desk's items in a real (embedded) Redis, built from the events stream: the inbox's order, one winner of a
claim race, tenants kept apart, notes, release back to the bot, the times analytics read, and the views.

Customers write in Thai, German, Portuguese, Arabic and Chinese; agents read Chinese and English.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import partial

import pytest
import redis

from agent.events import HandoffEvent
from agent.ownership import hand_over
from agent.profiles import Identity, ProfileStore
from agent.schema import Turn
from agent.state import Conversation, ConversationStore
from agent.translation import Translator
from desk.agents import AgentDirectory, WorkingHours
from desk.store import DeskStore
from desk.views import conversation_view
from polydesk.errors import ConfigError, ConflictError, NotFoundError
from tests.desk.conftest import race

pytestmark = pytest.mark.integration


def handed_off(conversations: ConversationStore, conversation_id: str, message: str, *, language: str,
               tenant: str = "tidewell", priority: str = "normal", queue: str = "support", channel: str = "web",
               customer_id: str | None = None, at: float | None = None) -> Conversation:
    """A conversation with one customer message, handed to a person (its ``handoff`` event on the stream)."""
    conversation = Conversation.start(tenant=tenant, conversation_id=conversation_id, market="DE", channel=channel,
                                      customer_id=customer_id)
    conversation.language = language
    conversation.add(Turn(role="customer", text=message, language=language, at=at or time.time()), max_turns=50)
    conversations.save(conversation)
    found = hand_over(conversations, tenant, conversation_id, summary=f"Message: {message}", reason="customer_request",
                      queue=queue, priority=priority)
    assert found is not None
    return found


def test_a_handoff_on_the_stream_is_a_waiting_item(conversations: ConversationStore, desk: DeskStore) -> None:
    handed_off(conversations, "c-th-1", "ขอคุยกับพนักงานหน่อยค่ะ", language="th", customer_id="U-th-1")
    assert desk.inbox("tidewell") == []  # nothing until the stream is read
    assert desk.sync() == 1
    item = desk.get("tidewell", "c-th-1")
    assert item is not None
    assert (item.state, item.language, item.queue, item.reason, item.customer_id) == (
        "waiting", "th", "support", "customer_request", "U-th-1")
    assert "ขอคุยกับพนักงาน" in (item.summary or "")
    assert desk.sync() == 0  # applied once


def test_the_inbox_is_ordered_by_priority_then_waiting_time(conversations: ConversationStore,
                                                            desk: DeskStore) -> None:
    # Handed off in this order: the normal one first, the urgent one last.
    for conversation_id, priority, message in (("c-normal-old", "normal", "Wo bleibt meine Bestellung?"),
                                                ("c-low", "low", "Tenho uma dúvida sobre a fatura"),
                                                ("c-normal-new", "normal", "Paket ist beschädigt angekommen"),
                                                ("c-urgent", "urgent", "أريد إلغاء الطلب فوراً")):
        handed_off(conversations, conversation_id, message, language="de", priority=priority)
    desk.sync()
    assert [i.conversation_id for i in desk.inbox("tidewell")] == ["c-urgent", "c-normal-old", "c-normal-new",
                                                                  "c-low"]
    handed_off(conversations, "c-sales", "Ich möchte 200 Stück bestellen", language="de", queue="sales")
    desk.sync()
    assert [i.conversation_id for i in desk.inbox("tidewell", queue="sales")] == ["c-sales"]


def test_of_agents_racing_to_claim_exactly_one_wins(conversations: ConversationStore, desk: DeskStore) -> None:
    agents = ("mei", "agent-de", "agent-th", "agent-pt")
    for round_ in range(20):
        conversation_id = f"c-race-{round_}"
        handed_off(conversations, conversation_id, "我要找人工客服", language="zh")
        desk.sync()
        results = race([partial(desk.claim, "tidewell", conversation_id, agent_id, at=time.time())
                        for agent_id in agents])
        won = [agent_id for agent_id, result in zip(agents, results, strict=True) if not isinstance(result, Exception)]
        lost = [result for result in results if isinstance(result, Exception)]
        assert len(won) == 1 and len(lost) == 3 and all(isinstance(r, ConflictError) for r in lost), results
        item = desk.get("tidewell", conversation_id)
        assert item is not None and item.state == "assigned" and item.assignee == won[0]
    claims = [e for _, e in desk.events.read(tenant="tidewell", count=1000) if e.type == "claim"]
    assert len(claims) == 20  # one claim event per conversation: the winner's


def test_a_tenant_never_sees_or_changes_another_tenants_items(conversations: ConversationStore,
                                                              desk: DeskStore) -> None:
    handed_off(conversations, "c-shared-id", "ส่งของผิดค่ะ", language="th", tenant="tidewell")
    desk.sync()
    assert desk.inbox("acme") == [] and desk.get("acme", "c-shared-id") is None
    with pytest.raises(NotFoundError):
        desk.claim("acme", "c-shared-id", "acme-1", at=time.time())
    with pytest.raises(NotFoundError):
        desk.add_note("acme", "c-shared-id", "acme-1", "peek", at=time.time())
    with pytest.raises(NotFoundError):
        desk.release("acme", "c-shared-id", "acme-1", "spam", at=time.time())
    item = desk.get("tidewell", "c-shared-id")
    assert item is not None and item.state == "waiting" and item.notes == 0


def test_notes_are_kept_and_published_and_the_assignee_is_required(conversations: ConversationStore,
                                                                   desk: DeskStore) -> None:
    handed_off(conversations, "c-note", "Die Rechnung stimmt nicht", language="de")
    desk.sync()
    with pytest.raises(ConflictError, match="claim it first"):
        desk.require_assignee("tidewell", "c-note", "mei")
    desk.claim("tidewell", "c-note", "mei", at=time.time())
    with pytest.raises(ConflictError, match="held by agent 'mei'"):
        desk.require_assignee("tidewell", "c-note", "agent-de")
    desk.add_note("tidewell", "c-note", "mei", "客户说发票金额不对，已查订单", at=time.time())
    assert [n.text for n in desk.notes("tidewell", "c-note")] == ["客户说发票金额不对，已查订单"]
    item = desk.get("tidewell", "c-note")
    assert item is not None and item.notes == 1
    notes = [e for _, e in desk.events.read(tenant="tidewell") if e.type == "note"]
    assert [(e.agent_id, e.text) for e in notes] == [("mei", "客户说发票金额不对，已查订单")]
    conversation = conversations.get("tidewell", "c-note")
    assert conversation is not None and all("发票" not in t.text for t in conversation.turns)  # never sent


def test_reassign_moves_the_conversation_to_another_agent(conversations: ConversationStore, desk: DeskStore) -> None:
    handed_off(conversations, "c-move", "Quero falar com alguém em português", language="pt")
    desk.sync()
    desk.claim("tidewell", "c-move", "mei", at=time.time())
    item = desk.reassign("tidewell", "c-move", "agent-pt", by="mei", at=time.time())
    assert (item.state, item.assignee) == ("assigned", "agent-pt")
    assert desk.inbox("tidewell", state="assigned", agent_id="mei") == []
    assert [i.conversation_id for i in desk.inbox("tidewell", agent_id="agent-pt")] == ["c-move"]


def test_release_closes_the_item_gives_it_to_the_bot_and_records_the_times(conversations: ConversationStore,
                                                                           desk: DeskStore) -> None:
    handed_off(conversations, "c-done", "الطرد لم يصل بعد", language="ar", customer_id="cust-ar")
    desk.sync()
    item = desk.get("tidewell", "c-done")
    assert item is not None
    began = item.handed_off_at
    desk.claim("tidewell", "c-done", "mei", at=began + 30)
    desk.record_reply("tidewell", "c-done", "mei", at=began + 90)
    desk.record_reply("tidewell", "c-done", "mei", at=began + 200)  # the first response stays the first
    closed = desk.release("tidewell", "c-done", "mei", "resolved", at=began + 600)
    assert (closed.state, closed.outcome, closed.first_response_s, closed.handling_s) == (
        "closed", "resolved", 90, 600)
    conversation = conversations.get("tidewell", "c-done")
    assert conversation is not None and conversation.owner == "bot"
    assert conversation.handoffs[-1].released_by == "mei"
    release = [e for _, e in desk.events.read(tenant="tidewell") if e.type == "release"]
    assert [(e.agent_id, e.outcome) for e in release] == [("mei", "resolved")]
    desk.sync()  # the release event again: the item stays as the desk closed it
    assert desk.get("tidewell", "c-done") == closed
    assert desk.inbox("tidewell") == [] and desk.inbox("tidewell", state="closed") == [closed]
    with pytest.raises(ConflictError):
        desk.release("tidewell", "c-done", "mei", "spam", at=began + 700)
    stats = desk.stats("tidewell")
    assert (stats.closed, stats.outcomes, stats.median_first_response_s, stats.median_handling_s) == (
        1, {"resolved": 1}, 90, 600)


def test_a_release_from_elsewhere_closes_the_item_and_a_new_handoff_opens_it_again(
        conversations: ConversationStore, desk: DeskStore) -> None:
    handed_off(conversations, "c-again", "Ich will mein Geld zurück", language="de")
    desk.sync()
    from agent.ownership import release

    release(conversations, "tidewell", "c-again", actor="key:admin")  # the admin route's way
    desk.sync()
    item = desk.get("tidewell", "c-again")
    assert item is not None and (item.state, item.outcome) == ("closed", "returned_to_bot")
    hand_over(conversations, "tidewell", "c-again", summary="again", priority="urgent")
    desk.sync()
    again = desk.get("tidewell", "c-again")
    assert again is not None and (again.state, again.priority, again.assignee) == ("waiting", "urgent", None)


def test_the_view_merges_linked_channels_and_flags_missing_translations(redis_client: redis.Redis,
                                                                        conversations: ConversationStore,
                                                                        desk: DeskStore) -> None:
    t0 = time.time() - 600
    line = Conversation.start(tenant="tidewell", conversation_id="c-line", market="TH", channel="line",
                              customer_id="U-th-line")
    line.add(Turn(role="customer", text="สั่งรองเท้าไปเมื่อวาน", language="th", at=t0), max_turns=50)
    conversations.save(line)
    handed_off(conversations, "c-mail", "รองเท้ายังไม่มาเลยค่ะ", language="th", channel="email",
               customer_id="buyer@example.co.th", at=t0 + 300)
    ProfileStore(redis_client).create("tidewell", "crm-th-1", [
        Identity.model_validate({"channel": "line", "customer_id": "U-th-line"}),
        Identity.model_validate({"channel": "email", "customer_id": "buyer@example.co.th"})])
    desk.sync()
    view = conversation_view(desk, ProfileStore(redis_client), Translator(), "tidewell", "c-mail",
                             languages=("zh", "en"))
    assert [(t.channel, t.text) for t in view.turns] == [("line", "สั่งรองเท้าไปเมื่อวาน"),
                                                         ("email", "รองเท้ายังไม่มาเลยค่ะ")]
    translation = view.turns[0].translation
    assert translation is not None and (translation.quality, translation.text, translation.language) == (
        "unavailable", "สั่งรองเท้าไปเมื่อวาน", "zh")
    assert "POLYDESK_TRANSLATION_MODEL" in translation.note
    assert view.reason == "customer_request" and view.summary_translation is not None
    with pytest.raises(NotFoundError):
        conversation_view(desk, ProfileStore(redis_client), Translator(), "acme", "c-mail", languages=("en",))


def test_agent_accounts_merge_the_file_and_the_keys(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "agents.yaml"
    path.write_text("tidewell:\n  agents:\n    - id: mei\n      display_name: Desk CN\n      queues: [support]\n"
                    "      working_hours: {timezone: Asia/Shanghai, days: {mon: ['09:00-18:00']}}\n"
                    "    - id: agent-th\n      languages: [th, en]\n", encoding="utf-8")
    directory = AgentDirectory.from_file(path)
    agents = directory.agents("tidewell", [("mei", ("zh", "en")), ("agent-de", ("de",))])
    assert [(a.id, a.languages) for a in agents] == [("agent-de", ["de"]), ("agent-th", ["th", "en"]),
                                                     ("mei", ["zh", "en"])]
    assert directory.agents("acme") == []
    hours = agents[2].working_hours
    assert isinstance(hours, WorkingHours)
    assert hours.on_duty(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai
    assert not hours.on_duty(datetime(2026, 3, 2, 11, 0, tzinfo=UTC))  # Monday 19:00 there
    path.write_text("tidewell:\n  agents:\n    - id: Desk One\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"agents\.0\.id"):
        AgentDirectory.from_file(path)


def test_handoff_event_keeps_desk_fields() -> None:
    event = HandoffEvent(type="release", tenant="tidewell", conversation_id="c-1", market="DE", channel="web",
                         agent_id="mei", outcome="spam")
    assert HandoffEvent.model_validate_json(event.model_dump_json()) == event
