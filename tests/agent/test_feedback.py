"""Customer feedback on real conversations of the agent: one rating per reply (a new one replaces it, the counters
follow without counting twice), unknown conversations and replies refused, and erased with the customer."""

from __future__ import annotations

import pytest
import redis

from agent.feedback import FeedbackStore
from agent.outcomes import OutcomesReader, summary_range
from agent.pipeline import Agent
from agent.privacy import CustomerEraser
from agent.schema import AnswerRequest, Reply
from polydesk.errors import NotFoundError
from polydesk.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def client(agent: Agent) -> redis.Redis:
    client = agent.conversations.client
    client.flushall()
    return client


@pytest.fixture
def store(client: redis.Redis) -> FeedbackStore:
    return FeedbackStore.from_settings(client, Settings(_env_file=None))  # type: ignore[call-arg]


def ask(agent: Agent, message: str, market: str = "TH", channel: str = "line", conversation_id: str | None = None,
        customer_id: str | None = None) -> Reply:
    return agent.answer(AnswerRequest(tenant="tidewell", market=market, channel=channel, message=message,  # type: ignore[arg-type]
                                      conversation_id=conversation_id, customer_id=customer_id))


def counts(client: redis.Redis) -> dict[str, tuple[int, int]]:
    start, end = summary_range(None, None)
    found = OutcomesReader(client).summary("tidewell", start, end)
    return {market: (o.feedback.up, o.feedback.down) for market, o in found.markets.items()}


def test_a_new_rating_of_a_reply_replaces_the_earlier_one(agent: Agent, client: redis.Redis,
                                                         store: FeedbackStore) -> None:
    first = ask(agent, "ส่งฟรีเมื่อซื้อครบเท่าไหร่คะ")
    ask(agent, "ใช้เวลาส่งกี่วันคะ", conversation_id=first.conversation_id)
    rate = store.rate_conversation
    assert rate(agent.conversations, "tidewell", first.conversation_id, rating="up", reply_id=1).replaced is False
    assert counts(client) == {"TH": (1, 0)}
    again = rate(agent.conversations, "tidewell", first.conversation_id, rating="down", reply_id=1,
                 comment="ไม่ตรงคำถาม")
    assert again.replaced is True and counts(client) == {"TH": (0, 1)}
    rate(agent.conversations, "tidewell", first.conversation_id, rating="up", reply_id=2)
    rate(agent.conversations, "tidewell", first.conversation_id, rating="up")  # the whole conversation
    assert counts(client) == {"TH": (2, 1)}
    stored = store.read("tidewell", first.conversation_id)
    assert [(f.reply_id, f.rating, f.comment) for f in stored] == [(None, "up", None), (1, "down", "ไม่ตรงคำถาม"),
                                                                    (2, "up", None)]
    assert {(f.market, f.channel) for f in stored} == {("TH", "line")}


def test_only_existing_conversations_and_replies_of_the_tenant_are_rated(agent: Agent, client: redis.Redis,
                                                                         store: FeedbackStore) -> None:
    reply = ask(agent, "Wie lange dauert der Versand?", market="DE", channel="web")
    with pytest.raises(NotFoundError):
        store.rate_conversation(agent.conversations, "tidewell", reply.conversation_id, rating="up", reply_id=2)
    with pytest.raises(NotFoundError):
        store.rate_conversation(agent.conversations, "acme", reply.conversation_id, rating="up")
    with pytest.raises(NotFoundError):
        store.rate_conversation(agent.conversations, "tidewell", "c-nobody", rating="up")
    assert counts(client) == {"DE": (0, 0)}


def test_feedback_is_erased_with_the_customer(agent: Agent, client: redis.Redis, store: FeedbackStore) -> None:
    mine = ask(agent, "¿Cuánto tarda el envío?", market="ES", channel="web", customer_id="cliente-77")
    other = ask(agent, "¿Cuánto tarda el envío?", market="ES", channel="web", customer_id="cliente-78")
    for reply in (mine, other):
        store.rate_conversation(agent.conversations, "tidewell", reply.conversation_id, rating="down", reply_id=1,
                                comment="Mi pedido 4711 sigue sin llegar")
    report = CustomerEraser(conversations=agent.conversations, index=agent.index).erase(
        "tidewell", "cliente-77", actor="k-admin")
    assert report.feedback == 1 and report.counts()["feedback"] == 1
    assert store.read("tidewell", mine.conversation_id) == []
    assert len(store.read("tidewell", other.conversation_id)) == 1
    assert counts(client) == {"ES": (0, 2)}  # the anonymous counts stay
    assert CustomerEraser(conversations=agent.conversations, index=agent.index).erase(
        "tidewell", "cliente-77", actor="k-admin").feedback == 0
