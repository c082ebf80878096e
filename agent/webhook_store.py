"""Where webhook delivery keeps its state in Redis: the retry schedule, the attempts and the dead letters.

For the stream ``S`` (default ``polydesk:events``), read through its consumer group ``webhook``::

    S:webhook:retry                 sorted set: stream id -> next attempt time
    S:webhook:attempt:<stream id>   hash: event, attempts, last_error, since
    S:webhook:requeued              set: requeued stream ids (no longer pending in the group)
    S:webhook:dead                  sorted set: event id -> dead_at
    S:webhook:dead:<event id>       hash: event, stream_id, attempts, last_error, dead_at

``WebhookDispatcher`` (``agent.webhooks``) moves each event through these keys, every change one MULTI/EXEC:
``schedule`` (a failed attempt), ``settle`` (delivered) or ``bury`` (dead). Operators list the dead letters,
requeue them and count the backlog; erasing a customer (GDPR, ``agent.privacy``) removes their events from
these keys with ``erase_customer`` (and from the stream with ``EventLog.erase_customer``).

Example:
    >>> store = WebhookStore(client)                                              # doctest: +SKIP
    >>> [letter.last_error for letter in store.dead_letters()]                    # doctest: +SKIP
    ['HTTP 410: gone']
    >>> store.requeue_dead(now=time.time())                                       # doctest: +SKIP
    1
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from agent.events import GROUP, STREAM, HandoffEvent, event_id_concerning, parse_event
from polydesk.redisdb import redis_errors

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One event on its way to the webhook."""

    stream_id: str
    body: bytes  # the JSON exactly as published: what is signed and sent
    event: HandoffEvent
    attempts: int = 0  # failed attempts so far
    since: float | None = None  # the retention period starts here (a requeue restarts it); None: created_at


@dataclass(frozen=True)
class DeadLetter:
    event: HandoffEvent
    attempts: int
    last_error: str
    dead_at: datetime
    stream_id: str


class WebhookStore:
    """The webhook delivery keys of one stream (see the module docstring); Redis failures become ``StoreError``
    in the operators' methods."""

    def __init__(self, redis_client: redis.Redis, *, stream: str = STREAM) -> None:
        self.redis = redis_client
        self.stream = stream
        self.retry_key = f"{stream}:{GROUP}:retry"
        self.requeued_key = f"{stream}:{GROUP}:requeued"
        self.dead_key = f"{stream}:{GROUP}:dead"

    def attempt_key(self, stream_id: str) -> str:
        return f"{self.stream}:{GROUP}:attempt:{stream_id}"

    # -- state changes, each one MULTI/EXEC -----------------------------------------------------------------

    def settle(self, delivery: Delivery) -> redis.client.Pipeline:
        """A transaction, not yet executed, that ends the event's delivery (delivered or dead)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(self.stream, GROUP, delivery.stream_id)
        pipe.zrem(self.retry_key, delivery.stream_id)
        pipe.srem(self.requeued_key, delivery.stream_id)
        pipe.delete(self.attempt_key(delivery.stream_id))
        return pipe

    def schedule(self, delivery: Delivery, attempts: int, error: str, now: float, delay_s: float) -> None:
        state: dict[Any, Any] = {"event": delivery.body, "attempts": attempts, "last_error": error}
        if delivery.since is not None:
            state["since"] = delivery.since
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.attempt_key(delivery.stream_id), mapping=state)
        pipe.zadd(self.retry_key, {delivery.stream_id: now + delay_s})
        pipe.execute()
        logger.info("event %s: attempt %d failed (%s); next in %.0f s", delivery.event.id, attempts, error,
                    delay_s)

    def bury(self, delivery: Delivery, attempts: int, error: str, now: float) -> None:
        pipe = self.settle(delivery)
        letter: dict[Any, Any] = {
            "event": delivery.body,
            "stream_id": delivery.stream_id,
            "attempts": attempts,
            "last_error": error,
            "dead_at": now,
        }
        pipe.hset(f"{self.dead_key}:{delivery.event.id}", mapping=letter)
        pipe.zadd(self.dead_key, {delivery.event.id: now})
        pipe.execute()
        logger.error("event %s is dead after %d attempt(s): %s", delivery.event.id, attempts, error)

    # -- operators ------------------------------------------------------------------------------------------

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The dead letters, oldest first."""
        with redis_errors("read the dead letters"):
            event_ids = [_text(i) for i in self.redis.zrange(self.dead_key, 0, limit - 1)]
            pipe = self.redis.pipeline(transaction=False)
            for event_id in event_ids:
                pipe.hgetall(f"{self.dead_key}:{event_id}")
            rows = pipe.execute()
        letters = []
        for row in rows:
            state = {_text(k): v for k, v in row.items()}
            event = parse_event(state)
            if event is not None:
                letters.append(
                    DeadLetter(
                        event=event,
                        attempts=int(state["attempts"]),
                        last_error=_text(state["last_error"]),
                        dead_at=datetime.fromtimestamp(float(state["dead_at"]), UTC),
                        stream_id=_text(state["stream_id"]),
                    )
                )
        return letters

    def requeue_dead(self, event_ids: Sequence[str] | None = None, *, now: float) -> int:
        """Schedule dead letters (all when ``event_ids`` is None) for delivery at ``now``, attempts and retention
        reset; how many were requeued."""
        requeued = 0
        with redis_errors("requeue the dead letters"):
            ids = [_text(i) for i in self.redis.zrange(self.dead_key, 0, -1)] if event_ids is None else event_ids
            for event_id in ids:
                letter = {_text(k): v for k, v in self.redis.hgetall(f"{self.dead_key}:{event_id}").items()}
                if "stream_id" not in letter:
                    continue
                stream_id = _text(letter["stream_id"])
                pipe = self.redis.pipeline(transaction=True)
                pipe.hset(
                    self.attempt_key(stream_id),
                    mapping={"event": letter["event"], "attempts": 0, "last_error": "", "since": now},
                )
                pipe.zadd(self.retry_key, {stream_id: now})
                pipe.sadd(self.requeued_key, stream_id)
                pipe.zrem(self.dead_key, event_id)
                pipe.delete(f"{self.dead_key}:{event_id}")
                requeued += int(pipe.execute()[3])
        return requeued

    def backlog(self) -> int:
        """Events neither delivered nor dead: not yet read, pending in the group, or requeued."""
        with redis_errors("count the webhook backlog"):
            requeued = int(self.redis.scard(self.requeued_key))
            try:
                groups = self.redis.xinfo_groups(self.stream)
            except redis.exceptions.ResponseError:  # no stream yet
                return requeued
            group = next((g for g in groups if _text(g["name"]) == GROUP), None)
            if group is None:
                return int(self.redis.xlen(self.stream)) + requeued
            return self._unread(group) + int(group["pending"]) + requeued

    def _unread(self, group: dict[Any, Any]) -> int:
        if group.get("lag") is not None:  # Redis 7 counts it
            return int(group["lag"])
        unread, start = 0, f"({_text(group['last-delivered-id'])}"
        while entries := self.redis.xrange(self.stream, min=start, max="+", count=1000):
            unread += len(entries)
            start = f"({_text(entries[-1][0])}"
        return unread

    def erase_customer(self, tenant: str, customer_id: str, *, conversation_ids: Collection[str] = ()) -> list[str]:
        """Remove the tenant's events of the customer (or of ``conversation_ids``) from the retry schedule and
        the dead letters; the ids of the events removed. Needs no dispatcher: only the keys of the stream.
        """
        removed: list[str] = []
        with redis_errors("erase webhook entries"):
            stream_ids = [_text(i) for i in self.redis.zrange(self.retry_key, 0, -1)]
            pipe = self.redis.pipeline(transaction=False)
            for stream_id in stream_ids:
                pipe.hgetall(self.attempt_key(stream_id))
            for stream_id, state in zip(stream_ids, pipe.execute(), strict=True):
                event_id = event_id_concerning(state, tenant, customer_id, conversation_ids)
                if event_id is None:
                    continue
                erase = self.redis.pipeline(transaction=True)
                erase.zrem(self.retry_key, stream_id)
                erase.srem(self.requeued_key, stream_id)
                erase.delete(self.attempt_key(stream_id))
                erase.execute()
                removed.append(event_id)
            event_ids = [_text(i) for i in self.redis.zrange(self.dead_key, 0, -1)]
            pipe = self.redis.pipeline(transaction=False)
            for event_id in event_ids:
                pipe.hgetall(f"{self.dead_key}:{event_id}")
            for letter in pipe.execute():
                event_id = event_id_concerning(letter, tenant, customer_id, conversation_ids)
                if event_id is None:
                    continue
                erase = self.redis.pipeline(transaction=True)
                erase.zrem(self.dead_key, event_id)
                erase.delete(f"{self.dead_key}:{event_id}")
                erase.execute()
                removed.append(event_id)
        return removed


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
