"""Outcome counters through the real agent (demo brand, extractive generator, built-in personas) and the real
embedded Redis: exact counts per market and channel in ten languages, handoffs by reason and queue, the desk's
first-response time, previews never counted, tenants apart, unanswered questions grouped by meaning."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import numpy as np
import pytest
import redis

from agent.events import HandoffEvent
from agent.gaps import JOIN_COSINE, GapGroups
from agent.outcomes import OutcomesReader, OutcomeSummary, day_key, summary_range, utc_day
from agent.ownership import hand_over
from agent.pipeline import Agent
from agent.schema import AnswerRequest, Reply
from knowledge.embedder import Embedder
from polydesk.errors import InputError

pytestmark = pytest.mark.integration

# (market, channel, message): English, German, Japanese, Thai, Arabic, Chinese, Spanish, Portuguese, Indonesian,
# Vietnamese; two of them ask for a person.
MESSAGES = [
    ("US", "web", "How long do I have to return an item?"),
    ("DE", "whatsapp", "Wie lange dauert der Versand nach Österreich?"),
    ("JP", "line", "返品は何日以内にできますか？"),
    ("TH", "line", "ส่งฟรีเมื่อซื้อครบเท่าไหร่คะ"),
    ("SA", "web", "ما هي مدة الإرجاع؟"),
    ("TW", "web", "退貨期限是幾天？"),
    ("ES", "email", "¿Cuánto tarda el envío?"),
    ("BR", "whatsapp", "Quero falar com um atendente humano, por favor."),
    ("ID", "web", "Berapa lama pengiriman ke Surabaya?"),
    ("VN", "web", "Phí vận chuyển là bao nhiêu?"),
    ("DE", "web", "Ich möchte mit einem Menschen sprechen."),
]


@pytest.fixture
def client(agent: Agent) -> redis.Redis:
    client = agent.conversations.client
    client.flushall()
    return client


def ask(agent: Agent, market: str, channel: str, message: str, tenant: str = "tidewell",
        conversation_id: str | None = None) -> Reply:
    return agent.answer(AnswerRequest(tenant=tenant, market=market, channel=channel, message=message,  # type: ignore[arg-type]
                                      conversation_id=conversation_id))


def summary(client: redis.Redis, tenant: str = "tidewell", market: str | None = None) -> OutcomeSummary:
    start, end = summary_range(None, None)
    return OutcomesReader(client).summary(tenant, start, end, market)


def test_every_message_counts_once_per_market_and_channel(agent: Agent, client: redis.Redis) -> None:
    replies = [ask(agent, market, channel, message) for market, channel, message in MESSAGES]
    handed = [r for r in replies if r.generator == "handoff"]
    assert len(handed) == 2, [(r.market, r.escalation.reason) for r in replies]
    silent = ask(agent, "DE", "web", "Hallo? Ist da jemand?", conversation_id=handed[-1].conversation_id)
    assert silent.status == "handed_off"

    found = summary(client)
    totals = found.totals
    assert (totals.conversations, totals.messages, totals.bot_replies) == (11, 12, 11)
    assert totals.handoffs == totals.handed_off_conversations == 2
    assert totals.resolved_share == round(9 / 11, 4)
    assert totals.handoffs_by_reason == dict(Counter(str(r.escalation.reason) for r in handed))
    assert totals.handoffs_by_queue == dict(Counter(str(r.escalation.queue) for r in handed))
    assert totals.bot_reply_ms.count == 11 and totals.bot_reply_ms.median is not None
    assert set(found.markets) == {market for market, _, _ in MESSAGES}
    germany = found.markets["DE"]
    assert (germany.conversations, germany.messages, germany.handed_off_conversations) == (2, 3, 1)
    assert germany.resolved_share == 0.5
    assert {c: (o.conversations, o.messages) for c, o in germany.by_channel.items()} == {"web": (1, 2),
                                                                                         "whatsapp": (1, 1)}
    today = utc_day(time.time())
    assert germany.by_day[today].messages == 3 and len(germany.by_day) == 30
    assert sum(day.conversations for day in germany.by_day.values()) == 2
    assert summary(client, market="JP").markets.keys() == {"JP"}


def test_the_first_desk_reply_after_each_handoff_times_the_person(agent: Agent, client: redis.Redis) -> None:
    reply = ask(agent, "DE", "web", "Ich möchte mit einem Menschen sprechen.")
    conversation = agent.conversations.get("tidewell", reply.conversation_id)
    assert conversation is not None and conversation.owner == "human"
    handed_at = conversation.handoffs[-1].at

    def desk_reply(after_s: float) -> None:
        event = HandoffEvent(type="reply", tenant="tidewell", conversation_id=reply.conversation_id, market="DE",
                             channel="web", agent_id="agent-de", text="Hallo, ich helfe gern.",
                             created_at=dt.datetime.fromtimestamp(handed_at + after_s, dt.UTC))
        assert conversation is not None
        agent.conversations.save(conversation, events=[event])

    desk_reply(300)
    desk_reply(900)  # not the first reply: not timed
    first = summary(client).totals.human_first_response_s
    assert first.count == 1 and first.median is not None and 250 <= first.median <= 360

    hand_over(agent.conversations, "tidewell", reply.conversation_id, summary="again", reason="policy")
    assert summary(client).totals.handoffs == 1  # a person owns it already: no new handoff
    agent.release("tidewell", reply.conversation_id)
    hand_over(agent.conversations, "tidewell", reply.conversation_id, summary="again", reason="policy",
              queue="support_senior")
    totals = summary(client).totals
    assert totals.handoffs == 2 and totals.handed_off_conversations == 1 and totals.conversations == 1
    assert totals.handoffs_by_reason["policy"] == 1 and totals.handoffs_by_queue["support_senior"] == 1
    conversation = agent.conversations.get("tidewell", reply.conversation_id)
    assert conversation is not None
    handed_at = conversation.handoffs[-1].at
    desk_reply(60)
    assert summary(client).totals.human_first_response_s.count == 2


def test_previews_are_never_counted(agent: Agent, client: redis.Redis) -> None:
    for message in ("How long do I have to return an item?", "I want to talk to a human."):
        agent.preview(AnswerRequest(tenant="tidewell", market="US", channel="web", message=message))  # type: ignore[arg-type]
    found = summary(client)
    assert found.markets == {} and found.totals.messages == 0
    assert not [k for k in client.scan_iter("polydesk:out*")]


def test_a_tenant_reads_only_its_own_counters(agent: Agent, client: redis.Redis) -> None:
    ask(agent, "DE", "web", "Wie lange dauert der Versand?")
    ask(agent, "JP", "line", "返品は何日以内にできますか？", tenant="acme")
    ask(agent, "JP", "line", "送料はいくらですか？", tenant="acme")
    assert summary(client, "acme").totals.messages == 2 and set(summary(client, "acme").markets) == {"JP"}
    assert summary(client, "tidewell").totals.messages == 1 and set(summary(client).markets) == {"DE"}
    keys = [k.decode() for pattern in ("polydesk:out*", "polydesk:gaps:*") for k in client.scan_iter(pattern)]
    assert keys and all(":tidewell:" in k or ":acme:" in k for k in keys)


def test_an_unanswerable_question_is_a_knowledge_gap_and_small_talk_is_not(agent: Agent, client: redis.Redis) -> None:
    gap = ask(agent, "US", "web", "Do you accept Bitcoin?")
    assert gap.confidence < 0.2 and gap.generator == "extractive"
    ask(agent, "US", "web", "Thanks!")
    market = summary(client).markets["US"]
    assert market.unanswered_messages == 1
    assert [(q.text, q.language, q.count) for q in market.unanswered] == [("Do you accept Bitcoin?", "en", 1)]


def test_paraphrases_in_two_languages_join_and_an_unrelated_question_does_not(embedder: Embedder,
                                                                              client: redis.Redis) -> None:
    texts = {"en": "Do you accept Bitcoin?", "pt": "Vocês aceitam pagamento em Bitcoin?",
             "id": "Apakah kalian menerima pembayaran Bitcoin?", "other": "Can I bring my dog into your store?"}
    vectors = {k: v / np.linalg.norm(v) for k, v in zip(texts, np.asarray(embedder.embed_queries(list(texts.values()))),
                                                         strict=True)}
    # The model itself must call them close (or far), well clear of the threshold.
    for language in ("pt", "id"):
        assert float(vectors["en"] @ vectors[language]) >= JOIN_COSINE + 0.02
        assert float(vectors["other"] @ vectors[language]) <= JOIN_COSINE - 0.04
    groups = GapGroups(client, retention_s=86400)
    today = utc_day(time.time())
    ids = {k: groups.record("tidewell", "US", "web", vectors[k], text=texts[k], language=k,
                            day_key=day_key("tidewell", today)) for k in texts}
    assert ids["en"] == ids["pt"] == ids["id"] != ids["other"]
    market = summary(client).markets["US"]
    assert [(q.text, q.count) for q in market.unanswered] == [(texts["en"], 3), (texts["other"], 1)]
    # Another process (a fresh cache) joins the same group.
    again = GapGroups(client, retention_s=86400).record("tidewell", "US", "line", vectors["pt"], text=texts["pt"],
                                                        language="pt", day_key=day_key("tidewell", today))
    assert again == ids["en"]


def test_the_representative_text_is_redacted(embedder: Embedder, client: redis.Redis) -> None:
    text = "Do you accept Bitcoin? Write to me at jana.novak@example.com or +49 151 23456789"
    vector = np.asarray(embedder.embed_queries([text]))[0]
    GapGroups(client, retention_s=86400).record("tidewell", "DE", "web", vector, text=text, language="en",
                                                day_key=day_key("tidewell", utc_day(time.time())))
    [question] = summary(client).markets["DE"].unanswered
    assert "[EMAIL]" in question.text and "jana.novak" not in question.text and "23456789" not in question.text


def test_a_range_is_checked() -> None:
    today = dt.date(2026, 3, 30)
    assert summary_range(None, None, today=today) == (dt.date(2026, 3, 1), today)
    assert summary_range(dt.date(2026, 1, 1), None, today=today) == (dt.date(2026, 1, 1), dt.date(2026, 1, 30))
    with pytest.raises(InputError) as reversed_range:
        summary_range(dt.date(2026, 3, 2), dt.date(2026, 3, 1), today=today)
    with pytest.raises(InputError) as too_long:
        summary_range(dt.date(2025, 1, 1), dt.date(2026, 1, 2), today=today)
    with pytest.raises(InputError):
        summary_range(None, dt.date(1, 1, 5), today=today)
    assert reversed_range.value.code == too_long.value.code == "invalid_input"
