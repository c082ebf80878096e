"""Faults under load on the serving side (issue 21): Redis restarted, receivers flapping.

Each scenario (``bench/faults_serving.py``, ``bench/faults_receivers.py``) runs in its CI size against real
processes on loopback, in the background (``conftest.py``), and fails when it loses what polydesk guarantees;
the fixes the scenarios led to are checked on their own below, against a real redis-server that is killed. The
slow dependencies are in ``test_deadlines.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from agent.schema import AnswerRequest, Reply, Turn
from agent.state import Conversation, ConversationStore
from api.errors import polydesk_response
from api.idempotency import IdempotencyStore
from bench.fault_kit import FaultResult, RedisProcess
from polydesk.errors import OverloadedError, StoreError


@pytest.mark.slow
@pytest.mark.scenario("redis_restart_aof")
def test_redis_killed_under_load_with_aof_loses_no_acknowledged_message(scenario: FaultResult) -> None:
    assert scenario.ok, str(scenario)
    assert scenario.counts["answered"] > 0 and scenario.counts["refused_503"] > 0, str(scenario)  # the fault was felt


@pytest.mark.slow
@pytest.mark.scenario("redis_restart_rdb")
def test_redis_killed_under_load_with_rdb_only_reports_what_it_lost(scenario: FaultResult) -> None:
    assert scenario.ok, str(scenario)  # every degraded reply kept; every request a reply, a degraded one or a 503
    assert scenario.counts["degraded"] > 0 and "lost" not in scenario.must_be_zero, str(scenario)


@pytest.mark.slow
@pytest.mark.scenario("receivers_flapping")
def test_flapping_receivers_get_every_event_and_reply_in_order(scenario: FaultResult) -> None:
    assert scenario.ok, str(scenario)


# -- the fixes ---------------------------------------------------------------------------------------------------


def test_a_store_unavailable_503_says_when_to_retry() -> None:
    response = polydesk_response(StoreError("could not read the conversation: Redis is unreachable"))
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert polydesk_response(OverloadedError("busy", retry_after_s=7)).headers["Retry-After"] == "7"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis", persistence="aof-always").start()
    yield server
    server.stop()


def test_a_conversation_lock_left_by_a_redis_crash_is_released_when_redis_is_back(redis_server: RedisProcess) -> None:
    client = redis.Redis.from_url(redis_server.url, socket_timeout=2)
    store = ConversationStore(client, ttl_s=3600, max_turns=20, lock_s=30)
    with store.lock("tidewell", "c-ไทย-1"):
        redis_server.kill()  # the lock key is on disk (AOF always); its release fails
    redis_server.start()
    with store.lock("tidewell", "c-ไทย-1"):  # without the fix: waits 30 s, then 409
        assert client.ttl("polydesk:lock:conv:tidewell:c-ไทย-1") > 0
    assert not client.exists("polydesk:lock:conv:tidewell:c-ไทย-1")
    client.close()


def test_an_idempotency_key_left_pending_by_a_redis_crash_is_free_again(redis_server: RedisProcess) -> None:
    client = redis.Redis.from_url(redis_server.url, socket_timeout=2)
    store = IdempotencyStore(client, conversations=ConversationStore(client, ttl_s=3600, max_turns=20), ttl_s=3600)
    body = AnswerRequest.model_validate({"tenant": "tidewell", "market": "DE", "channel": "web",
                                         "message": "Wie lange dauert der Versand?"})
    with pytest.raises(StoreError), store.claim("tidewell", "retry-1", body):
        redis_server.kill()
        raise StoreError("could not save the conversation: Redis is unreachable")
    redis_server.start()
    with store.claim("tidewell", "retry-1", body) as claim:  # without the fix: 409 idempotency_in_progress
        assert claim.replay is None
    client.close()


def test_the_webhook_retry_delays_are_settings() -> None:
    from agent.webhooks import WebhookDispatcher
    from polydesk.settings import Settings

    settings = Settings(webhook_url="https://desk.example.com/hook", webhook_backoff_base_s=0.2,  # type: ignore[call-arg]
                        webhook_backoff_max_s=1.0, _env_file=None)
    dispatcher = WebhookDispatcher.from_settings(settings, redis.Redis())
    assert dispatcher is not None
    assert (dispatcher.backoff_base_s, dispatcher.backoff_max_s) == (0.2, 1.0)
    assert Settings(_env_file=None).webhook_backoff_base_s == 2.0  # type: ignore[call-arg]


def test_a_lock_whose_reply_was_lost_is_released_when_redis_answers_again(redis_server: RedisProcess) -> None:
    from bench.faults_slow import DelayProxy

    proxy = DelayProxy(redis_server.port).start()
    client = redis.Redis.from_url(f"redis://127.0.0.1:{proxy.port}/0", socket_timeout=0.5)
    store = ConversationStore(client, ttl_s=3600, max_turns=20, lock_s=30)
    try:
        client.ping()  # connected: the next command is sent at once
        proxy.delay_s = 1.5  # the SET reaches Redis, its reply does not reach the client in time
        with pytest.raises(StoreError), store.lock("tidewell", "c-tiếng-việt"):
            pass
        proxy.delay_s = 0.0
        assert redis.Redis(port=redis_server.port).exists("polydesk:lock:conv:tidewell:c-tiếng-việt")
        with store.lock("tidewell", "c-tiếng-việt"):  # without the fix: waits 30 s for its own lock, then 409
            pass
    finally:
        client.close()
        proxy.stop()


def test_a_claim_whose_reply_was_lost_is_free_again_when_redis_answers(redis_server: RedisProcess) -> None:
    from bench.faults_slow import DelayProxy

    proxy = DelayProxy(redis_server.port).start()
    client = redis.Redis.from_url(f"redis://127.0.0.1:{proxy.port}/0", socket_timeout=0.5)
    store = IdempotencyStore(client, conversations=ConversationStore(client, ttl_s=3600, max_turns=20), ttl_s=3600)
    body = AnswerRequest.model_validate({"tenant": "tidewell", "market": "JP", "channel": "line",
                                         "message": "返品は何日以内ですか"})
    try:
        client.ping()
        proxy.delay_s = 1.5
        with pytest.raises(StoreError), store.claim("tidewell", "retry-jp", body):
            pass
        proxy.delay_s = 0.0
        assert redis.Redis(port=redis_server.port).keys("polydesk:idem:tidewell:*")  # the claim reached Redis
        with store.claim("tidewell", "retry-jp", body) as claim:  # without the fix: 409 idempotency_in_progress
            assert claim.replay is None
    finally:
        client.close()
        proxy.stop()


def test_a_reply_saved_with_its_turn_is_replayed_after_a_lost_answer_not_stored_twice(
        redis_server: RedisProcess) -> None:
    """The turn and the idempotent reply are one transaction: when it reached Redis but its answer did not reach
    polydesk (Redis died or stalled right then), the retry replays the reply instead of storing the message again."""
    from bench.faults_slow import DelayProxy

    proxy = DelayProxy(redis_server.port).start()
    client = redis.Redis.from_url(f"redis://127.0.0.1:{proxy.port}/0", socket_timeout=0.5)
    conversations = ConversationStore(client, ttl_s=3600, max_turns=20)
    store = IdempotencyStore(client, conversations=conversations, ttl_s=3600)
    body = AnswerRequest.model_validate({"tenant": "tidewell", "market": "VN", "channel": "whatsapp",
                                         "message": "Bạn có giao hàng đến Đà Nẵng không?",
                                         "conversation_id": "c-vn-7", "customer_id": "cust-vn-7"})
    conversation = Conversation.start(tenant="tidewell", conversation_id="c-vn-7", market="VN", channel="whatsapp",
                                      customer_id="cust-vn-7")
    conversation.add(Turn(role="customer", text=body.message, language="vi", at=1.0), max_turns=20)
    reply = Reply(status="answered", conversation_id="c-vn-7", text="Có, chúng tôi giao hàng toàn quốc.",
                  language="vi", market="VN", persona_id="tidewell-vn", generator="extractive", confidence=0.8)
    try:
        client.ping()
        with pytest.raises(StoreError), store.claim("tidewell", "retry-vn", body, customer_id="cust-vn-7") as claim:
            proxy.delay_s = 1.5  # the transaction reaches Redis, its answer comes too late
            conversations.enlist(claim.store_reply).save(conversation, reply=reply)
        proxy.delay_s = 0.0
        with store.claim("tidewell", "retry-vn", body, customer_id="cust-vn-7") as retry:
            assert retry.replay is not None and retry.replay.text == reply.text  # without the fix: None, answered again
        saved = conversations.get("tidewell", "c-vn-7")
        assert saved is not None and [t.text for t in saved.turns] == [body.message]
        assert client.smembers(ConversationStore.customer_key("tidewell", "cust-vn-7"))  # erasure finds the reply
    finally:
        client.close()
        proxy.stop()
