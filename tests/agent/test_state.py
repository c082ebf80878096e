"""Conversation state in a real (embedded) Redis: scoped by tenant, retention TTL, bounded history."""

from __future__ import annotations

import pytest
import redis

from agent.schema import Turn
from agent.state import Conversation, ConversationStore
from polydesk.errors import StoreError
from polydesk.redisdb import connect_redis
from polydesk.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def store(settings: Settings, redis_client: redis.Redis) -> ConversationStore:
    return ConversationStore.from_settings(redis_client, settings.model_copy(update={"conversation_ttl_hours": 2.0,
                                                                                      "conversation_max_turns": 4}))


def _turn(text: str, at: float, role: str = "customer") -> Turn:
    return Turn(role=role, text=text, language="th", at=at)  # type: ignore[arg-type]


def test_a_saved_conversation_comes_back_with_its_ttl(store: ConversationStore) -> None:
    conversation = Conversation.start(tenant="tidewell", conversation_id="c-1", market="TH", channel="line")
    conversation.language, conversation.persona_id = "th", "warm-quick"
    conversation.add(_turn("ส่งฟรีไหมคะ", 1.0), max_turns=store.max_turns)
    store.save(conversation)
    loaded = store.get("tidewell", "c-1")
    assert loaded is not None and loaded.model_dump() == conversation.model_dump()
    ttl = store.ttl("tidewell", "c-1")
    assert ttl is not None and 7000 < ttl <= 7200


def test_conversations_are_scoped_by_tenant(store: ConversationStore) -> None:
    store.save(Conversation.start(tenant="tidewell", conversation_id="c-2", market="DE", channel="web"))
    assert store.get("other-brand", "c-2") is None
    assert store.get("tidewell", "c-2") is not None
    assert store.delete("tidewell", "c-2") and store.get("tidewell", "c-2") is None


def test_only_the_last_turns_are_kept(store: ConversationStore) -> None:
    conversation = Conversation.start(tenant="tidewell", conversation_id="c-3", market="TH", channel="line")
    for i in range(7):
        conversation.add(_turn(f"ข้อความ {i}", float(i), "customer" if i % 2 == 0 else "bot"), max_turns=store.max_turns)
    store.save(conversation)
    loaded = store.get("tidewell", "c-3")
    assert loaded is not None and [t.text for t in loaded.turns] == [f"ข้อความ {i}" for i in range(3, 7)]
    assert loaded.last("customer") is not None and loaded.last("customer").text == "ข้อความ 6"  # type: ignore[union-attr]


def test_state_survives_a_restart_of_the_embedded_redis(settings: Settings) -> None:
    first = connect_redis(settings)
    ConversationStore.from_settings(first, settings).save(
        Conversation.start(tenant="tidewell", conversation_id="c-4", market="JP", channel="line"))
    first.close()
    second = connect_redis(settings)
    try:
        assert ConversationStore.from_settings(second, settings).get("tidewell", "c-4") is not None
    finally:
        second.close()


def test_an_unreachable_redis_is_a_store_error(settings: Settings) -> None:
    unreachable = settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"})
    store = ConversationStore.from_settings(connect_redis(unreachable), unreachable)
    with pytest.raises(StoreError) as caught:
        store.get("tidewell", "c-5")
    assert caught.value.code == "store_unavailable"
