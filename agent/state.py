"""Conversation state in Redis: recent turns, language, persona, and who owns the conversation.

The embedded default is a real redis-server started and owned by this process
(``polydesk.redis_server``; its database file under ``settings.data_dir``);
``POLYDESK_REDIS_URL`` points at a Redis server instead. Every call has the client's
deadline (``redis_timeout_s``, ``polydesk.redisdb``). Each conversation is one JSON value under
``polydesk:conv:<tenant>:<conversation id>``, so every read is scoped by tenant, and it
expires ``conversation_ttl_hours`` after its last message (the retention period).
Only the last ``conversation_max_turns`` turns are kept.

Messages of one conversation are answered one at a time (``ConversationStore.lock``, a
Redis lock shared by every replica), so a handoff decided for one message is seen by the
next, even when a customer sends two at once. A handoff or release is saved together with
its event on the events stream (``agent.events``) in one transaction: desks never see an
event for a state that was not saved, nor a saved handoff without its event.

Example:
    >>> store = ConversationStore.from_settings(connect_redis(settings), settings)      # doctest: +SKIP
    >>> conversation = store.get("tidewell", "c-1") or Conversation.start(
    ...     tenant="tidewell", conversation_id="c-1", market="DE", channel="web")
    >>> store.save(conversation)
"""

from __future__ import annotations

import base64
import copy
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

import numpy as np
import redis
from pydantic import BaseModel, Field, ValidationError

from agent.events import EventLog, HandoffEvent
from agent.schema import Escalation, Reply, Turn
from polydesk.errors import ConflictError, StoreError
from polydesk.redisdb import redis_errors
from polydesk.settings import Settings
from polydesk.waiting import remote_wait

KEY_PREFIX = "polydesk:conv"
LOCK_PREFIX = "polydesk:lock:conv"
# The customer index: per (tenant, customer) a set of the keys that hold that customer's data (erasure reads it).
CUSTOMER_PREFIX = "polydesk:cust"


def encode_vector(vector: np.ndarray) -> str:
    """An embedding as compact text for the state (float16: 768 bytes for 384 dimensions, before base64)."""
    return base64.b64encode(np.asarray(vector, dtype=np.float16).tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float16).astype(np.float32)


def new_conversation_id() -> str:
    return f"c-{uuid.uuid4().hex}"


class Handoff(BaseModel):
    """One handoff to a human, and its release."""

    escalation: Escalation
    at: float = Field(description="UNIX time of the handoff")
    released_at: float | None = None
    released_by: str | None = None


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
    greeted: bool = Field(default=False, description="the persona's greeting was shown before the first reply "
                          "(by the web widget when it opened the conversation)")
    handoffs: list[Handoff] = Field(default_factory=list, description="handoffs to humans, oldest first")
    query_vector: str | None = Field(default=None, repr=False,
                                     description="base64 float16 embedding of the last retrieval query")
    unanswered: list[str] = Field(default_factory=list, repr=False,
                                  description="base64 float16 embeddings of the messages in a row left unanswered")
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


SaveHook = Callable[[redis.client.Pipeline, Reply], None]
"""Commands written in the same transaction as a conversation and the reply it now ends with (``enlist``)."""


class ConversationStore:
    """Reads and writes conversations; every Redis failure becomes a ``StoreError`` (``store_unavailable``)."""

    def __init__(self, client: redis.Redis, *, ttl_s: int, max_turns: int, lock_s: float = 60.0,
                 events: EventLog | None = None) -> None:
        self.client = client  # the caller's: it opens and closes it
        self.ttl_s = ttl_s
        self.max_turns = max_turns
        self.lock_s = lock_s
        self.events = events or EventLog(client)
        # Locks whose release failed because Redis was down: released by the next ``lock`` once Redis answers,
        # so a Redis restart does not leave those conversations busy for ``lock_s`` (the AOF keeps the lock key).
        self._left_locked: list[tuple[redis.lock.Lock, str]] = []
        self._left_locked_guard = threading.Lock()
        self._hook: SaveHook | None = None

    def enlist(self, hook: SaveHook) -> ConversationStore:
        """This store, its saves of a reply also running ``hook`` in their transaction: what must be written
        exactly when the turn is (an idempotent request's stored reply) survives or is lost with it."""
        store = copy.copy(self)  # the same client, events and left-over locks
        store._hook = hook
        return store

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings, *, events: EventLog | None = None,
                      ) -> ConversationStore:
        """Retention and history length from the settings; a message holds its conversation's lock while it is
        answered, an LLM call included."""
        return cls(client, ttl_s=int(settings.conversation_ttl_hours * 3600), max_turns=settings.conversation_max_turns,
                   lock_s=2 * settings.llm_timeout_s + 30, events=events)

    @staticmethod
    def key(tenant: str, conversation_id: str) -> str:
        return f"{KEY_PREFIX}:{tenant}:{conversation_id}"

    @staticmethod
    def customer_key(tenant: str, customer_id: str) -> str:
        return f"{CUSTOMER_PREFIX}:{tenant}:{customer_id}"

    def link_customer(self, pipe: redis.client.Pipeline, tenant: str, customer_id: str, key: str) -> None:
        """Queue on ``pipe`` the registration of ``key`` as holding data of the customer (erased with them).

        The index lives ``ttl_s`` (the conversation retention) after the latest link, so keys linked here
        should not outlive that.
        """
        index = self.customer_key(tenant, customer_id)
        pipe.sadd(index, key)
        pipe.expire(index, self.ttl_s)

    def get(self, tenant: str, conversation_id: str) -> Conversation | None:
        with redis_errors("read the conversation"):
            raw = self.client.get(self.key(tenant, conversation_id))
        if raw is None:
            return None
        try:
            return Conversation.model_validate_json(raw)
        except ValidationError as exc:
            raise StoreError(f"conversation {conversation_id} is stored in an unreadable form: {exc}") from exc

    def customer_conversations(self, tenant: str, customer_id: str) -> list[Conversation]:
        """The customer's conversations kept in the customer index (those saved since it exists), in no order;
        one whose id another customer has reused since is left out."""
        prefix = self.key(tenant, "")
        with redis_errors("read the customer's conversations"):
            keys = sorted(k for k in (_text(m) for m in self.client.smembers(self.customer_key(tenant, customer_id)))
                          if k.startswith(prefix))
            values = self.client.mget(keys) if keys else []
        found = []
        for key, raw in zip(keys, values, strict=True):
            if raw is None:  # expired: the index outlives it by at most the retention period
                continue
            try:
                conversation = Conversation.model_validate_json(raw)
            except ValidationError as exc:
                raise StoreError(f"conversation {key.removeprefix(prefix)} is stored in an unreadable form: "
                                 f"{exc}") from exc
            if conversation.customer_id == customer_id:
                found.append(conversation)
        return found

    def save(self, conversation: Conversation, *, events: Sequence[HandoffEvent] = (),
             reply: Reply | None = None) -> None:
        """Write the conversation (restarting its retention period), link it to its customer, publish ``events``
        and, with the ``reply`` that ends it, run the enlisted hook.

        All in one round trip and, when there is more than the conversation to write, one transaction.
        """
        data = conversation.model_dump_json()
        key = self.key(conversation.tenant, conversation.id)
        hook = self._hook if reply is not None else None
        with redis_errors("save the conversation"):
            if not events and conversation.customer_id is None and hook is None:
                self.client.set(key, data, ex=self.ttl_s)
                return
            with self.client.pipeline(transaction=True) as pipe:
                pipe.set(key, data, ex=self.ttl_s)
                if conversation.customer_id is not None:
                    self.link_customer(pipe, conversation.tenant, conversation.customer_id, key)
                for event in events:
                    self.events.publish(event, pipe=pipe)
                if hook is not None and reply is not None:
                    hook(pipe, reply)
                pipe.execute()

    @contextmanager
    def lock(self, tenant: str, conversation_id: str) -> Iterator[None]:
        """Hold the conversation for one message; a ``ConflictError`` when another holds it for too long."""
        lock = self.client.lock(f"{LOCK_PREFIX}:{tenant}:{conversation_id}", timeout=self.lock_s,
                                blocking_timeout=self.lock_s)
        self._release_left_locked()
        token = uuid.uuid4().hex
        try:
            with redis_errors("lock the conversation"):
                acquired = lock.acquire(blocking=False, token=token)
                if not acquired:  # another message of this conversation is being answered: a wait, not CPU work
                    with remote_wait():
                        acquired = lock.acquire(token=token)
        except StoreError:  # the SET may have reached Redis (and its AOF) without its reply: release it later
            self._release(lock, token)
            raise
        if not acquired:
            raise ConflictError(f"conversation {conversation_id} is busy with another message; try again")
        try:
            yield
        finally:
            self._release(lock, token)

    def _release(self, lock: redis.lock.Lock, token: str) -> None:
        try:
            lock.do_release(token)
        except redis.exceptions.LockError:  # it expired while held: nothing of ours to release
            pass
        except redis.exceptions.RedisError:  # Redis is gone: the next ``lock`` releases it once Redis is back
            with self._left_locked_guard:
                self._left_locked.append((lock, token))

    def _release_left_locked(self) -> None:
        if not self._left_locked:
            return
        with self._left_locked_guard:
            left, self._left_locked = self._left_locked, []
        for lock, token in left:
            self._release(lock, token)

    def delete(self, tenant: str, conversation_id: str) -> bool:
        with redis_errors("delete the conversation"):
            return bool(self.client.delete(self.key(tenant, conversation_id)))

    def ttl(self, tenant: str, conversation_id: str) -> int | None:
        """Seconds until the conversation expires; None when it does not exist."""
        with redis_errors("read the retention period"):
            left = int(self.client.ttl(self.key(tenant, conversation_id)))
        return None if left < 0 else left

    def ping(self) -> bool:
        with redis_errors("reach Redis"):
            return bool(self.client.ping())


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
