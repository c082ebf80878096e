"""The channel service's background without a platform: what happens to messages that cannot be answered.

A real embedded Redis; the answering function is the test's (it fails on purpose), the clock is the test's,
so retries and backoff are stepped through without sleeping.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from agent.schema import AnswerRequest, Reply
from api.channels.config import ChannelAccounts
from api.channels.queue import UNANSWERED
from api.channels.service import ChannelService
from polydesk.errors import NotFoundError
from polydesk.settings import Settings

pytestmark = pytest.mark.integration

BOT_TOKEN = "123456789:AAFakeTokenForTests_abcdefghijklmno"
SECRET_TOKEN = "tidewell-telegram_secret-42"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def service(settings: Settings, redis_client: redis.Redis) -> Iterator[tuple[ChannelService, Clock, list[str]]]:
    accounts = ChannelAccounts.parse({"tidewell": {"telegram": {
        "bot_token": BOT_TOKEN, "secret_token": SECRET_TOKEN, "market": "VN", "api_base": "http://127.0.0.1:9"}}},
        environ={})
    asked: list[str] = []

    def answer(request: AnswerRequest) -> Reply:
        asked.append(request.message)
        if not request.message.startswith("OK"):
            raise ConnectionError("the knowledge store is down")
        return Reply(status="answered", conversation_id=request.conversation_id or "c", text="", language="vi",
                     market="VN", persona_id="p")

    clock = Clock()
    tuned = settings.model_copy(update={"channel_max_attempts": 3, "channel_backoff_base_s": 1.0,
                                        "channel_debounce_s": 2.0})
    channels = ChannelService(redis_client, accounts, settings=tuned, answer=answer, clock=clock)
    yield channels, clock, asked
    channels.close()


def update(text: str, chat_id: int) -> bytes:
    return json.dumps({"update_id": random.randrange(10**8, 10**9), "message": {
        "message_id": 1, "date": int(time.time()), "text": text,
        "from": {"id": chat_id, "is_bot": False, "language_code": "vi"},
        "chat": {"id": chat_id, "type": "private"}}}, ensure_ascii=False).encode()


def given_up(channels: ChannelService, clock: Clock, text: str, chat_id: int) -> Any:
    """Receive ``text`` and let all three answer attempts fail; the adapter."""
    adapter: Any = channels.adapter("telegram", "tidewell")
    channels.receive(adapter, "tidewell", update(text, chat_id))
    clock.now += 2.5
    for _ in range(3):
        channels._answer_next()
        clock.now += 10.0
    return adapter


def test_a_batch_that_cannot_be_answered_is_retried_then_kept_for_a_person(
        service: tuple[ChannelService, Clock, list[str]], redis_client: redis.Redis) -> None:
    channels, clock, asked = service
    adapter: Any = channels.adapter("telegram", "tidewell")
    channels.receive(adapter, "tidewell", update("Đơn hàng của tôi đang ở đâu?", 4242))
    channels.receive(adapter, "tidewell", update("Mã đơn TW-4417", 4242))
    assert not channels._answer_next()          # the debounce window is still open
    clock.now += 2.5
    assert channels._answer_next()              # attempt 1 fails ...
    assert asked == ["Đơn hàng của tôi đang ở đâu?\nMã đơn TW-4417"]
    assert not channels._answer_next()          # ... and waits its backoff, not the 60 s lease
    for attempt in (2, 3):
        clock.now += 10.0
        assert channels._answer_next()
        assert len(asked) == attempt
    clock.now += 600.0
    assert not channels._answer_next()          # after the last attempt: never tried again
    assert len(asked) == 3
    [dead_id] = [i.decode() for i in redis_client.zrange(UNANSWERED, 0, -1)]
    dead = {k.decode(): v.decode() for k, v in redis_client.hgetall(f"{UNANSWERED}:{dead_id}").items()}
    assert dead["attempts"] == "3" and "knowledge store is down" in dead["last_error"]
    texts = [json.loads(item)["message"]["message"] for item in json.loads(dead["items"])]
    assert texts == ["Đơn hàng của tôi đang ở đâu?", "Mã đơn TW-4417"]


def test_a_message_arriving_during_a_failed_attempt_keeps_its_own_window(
        service: tuple[ChannelService, Clock, list[str]], redis_client: redis.Redis) -> None:
    channels, clock, asked = service
    adapter = given_up(channels, clock, "Xin chào", 77)
    channels.receive(adapter, "tidewell", update("Còn đó không?", 77))  # after the batch was given up
    clock.now += 2.5
    assert channels._answer_next()
    assert asked[-1] == "Còn đó không?"      # a new batch, with a fresh count of attempts


def test_dead_messages_are_listed_per_tenant_requeued_once_and_answered_before_newer_ones(
        service: tuple[ChannelService, Clock, list[str]], redis_client: redis.Redis) -> None:
    channels, clock, asked = service
    adapter = given_up(channels, clock, "Tôi muốn đổi hàng", 99)
    letters = channels.dead_letters
    [letter] = letters.list("tidewell")
    assert letter.kind == "messages" and letter.texts == ["Tôi muốn đổi hàng"] and letter.channel == "telegram"
    assert letters.list("acme") == []
    with pytest.raises(NotFoundError):
        letters.requeue("acme", letter.id, now=clock.now)      # another tenant's: as if it were not there
    channels.receive(adapter, "tidewell", update("OK, cảm ơn", 99))  # a newer message, waiting its window
    letters.requeue("tidewell", letter.id, now=clock.now)
    with pytest.raises(NotFoundError):
        letters.requeue("tidewell", letter.id, now=clock.now)  # once
    assert letters.list("tidewell") == []
    asked.clear()
    clock.now += 2.5
    assert channels._answer_next()
    assert asked == ["Tôi muốn đổi hàng\nOK, cảm ơn"]           # the requeued first, then what came since
