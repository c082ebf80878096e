"""Handoff events for human-agent desks: a Redis stream, and signed webhooks that survive a receiver outage.

Every handoff of a conversation to a person, and every release back to the bot, is a ``HandoffEvent``
appended to the stream ``polydesk:events`` (``EventLog``). Passing the caller's transaction to ``publish``
commits the ownership change and its event in one MULTI/EXEC, so a desk never sees one without the other.
When ``POLYDESK_WEBHOOK_URL`` is set, ``WebhookDispatcher`` also POSTs each event there as JSON, with the
headers ``X-Polydesk-Event-Id``, ``X-Polydesk-Event-Type`` and, when ``POLYDESK_WEBHOOK_SECRET`` is set,
``X-Polydesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of b"<t>." + body>`` (Stripe's scheme; check it
with ``verify_signature``). Delivery is at least once and unordered: receivers deduplicate on the event id.

How no event is lost while the receiver is down:

* The dispatcher reads through the consumer group ``webhook``, created at id ``0`` (MKSTREAM), so events
  published before the first dispatcher ran are delivered too. An entry stays pending in the group (no
  XACK) until it is delivered or dead-lettered.
* A failed attempt (connection error, timeout, 408, 429, 5xx) is scheduled in a sorted set whose score is the
  next attempt time: ``min(backoff_max_s, backoff_base_s * 2**(attempt-1))`` plus up to 10 % jitter, or a
  later ``Retry-After``. A dispatcher claims a due retry with a lease (a script moves its score
  ``claim_idle_s`` into the future only while it is due), so two dispatchers never deliver it concurrently
  and one that dies mid-delivery leaves it due again when the lease runs out.
* An entry read by a dispatcher that died before delivering or scheduling it is claimed by another once it
  has been idle ``claim_idle_s`` (XPENDING, then XCLAIM unless it is scheduled).
* Another 4xx (the receiver rejects the event), ``max_attempts`` failures, or an event older than
  ``retention_s`` moves it to the dead letters: ``dead_letters()`` shows them, ``requeue_dead()`` retries them.
* While the receiver is unreachable a pass stops at the first connection error or timeout (the rest wait,
  pending or scheduled), so an outage costs one attempt per pass rather than one timeout per event.

Redis keys, for the stream ``S`` (default ``polydesk:events``): ``S`` (the stream, group ``webhook``),
``S:webhook:retry`` (sorted set: stream id -> next attempt), ``S:webhook:attempt:<stream id>`` (hash: event,
attempts, last_error, since), ``S:webhook:requeued`` (set: requeued stream ids, no longer pending in the
group), ``S:webhook:dead`` (sorted set: event id -> dead_at) and ``S:webhook:dead:<event id>`` (hash).

Erasing a customer (GDPR, ``agent.privacy``) removes their events from all of these:
``EventLog.erase_customer`` and ``WebhookDispatcher.erase_customer``.

Example:
    >>> log = EventLog(client)                                                    # doctest: +SKIP
    >>> with client.pipeline(transaction=True) as pipe:      # the ownership change and its event, together
    ...     pipe.set(conversation_key, conversation.model_dump_json())
    ...     log.publish(HandoffEvent(type="handoff", tenant="tidewell", conversation_id="c-1", market="DE",
    ...                              channel="web", reason="refund_dispute"), pipe=pipe)
    ...     pipe.execute()
    >>> log.read(tenant="tidewell")[-1][1].reason
    'refund_dispute'
    >>> dispatcher = WebhookDispatcher.from_settings(settings, client)  # None without POLYDESK_WEBHOOK_URL
    >>> dispatcher.start()                                   # a daemon thread; dispatcher.close() at shutdown
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from polydesk import __version__
from polydesk.redisdb import redis_errors
from polydesk.settings import Settings

logger = logging.getLogger(__name__)

STREAM = "polydesk:events"
GROUP = "webhook"
SIGNATURE_HEADER = "X-Polydesk-Signature"
_RETRYABLE_STATUS = {408, 429}

# Claim a due retry: move its score to the end of the lease, only if it is still due (one claimer wins).
_CLAIM_DUE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0
"""
# Claim an entry whose dispatcher died: pending, idle long enough, and not scheduled for a retry.
_CLAIM_ORPHAN = """
if redis.call('ZSCORE', KEYS[2], ARGV[4]) then return {} end
return redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
"""


class HandoffEvent(BaseModel):
    """A conversation handed to a person (``handoff``) or released back to the bot (``release``)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    type: Literal["handoff", "release"]
    tenant: str
    conversation_id: str
    customer_id: str | None = None
    market: str
    channel: str
    language: str | None = None
    queue: str | None = None
    priority: str | None = None
    reason: str | None = None
    intent: str | None = None
    team: str | None = Field(default=None, description="the follow-the-sun team that takes it")
    reply_by: datetime | None = Field(default=None, description="when a person promised to answer")
    summary: str | None = Field(default=None, description="what the human agent needs to know")
    actor: str | None = Field(default=None, description="who released it, e.g. an agent id")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("reply_by", "created_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """Naive times are taken as UTC; every time is kept in UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EventLog:
    """Appends events to the stream and reads them back; Redis failures become ``StoreError``."""

    def __init__(self, redis_client: redis.Redis, *, stream: str = STREAM, maxlen: int = 100_000) -> None:
        self.redis = redis_client
        self.stream = stream
        self.maxlen = maxlen

    def publish(self, event: HandoffEvent, *, pipe: redis.client.Pipeline | None = None) -> None:
        """XADD the event; with ``pipe`` the command is only queued there, to run in the caller's EXEC."""
        fields: dict[Any, Any] = {"event": event.model_dump_json()}
        if pipe is not None:
            pipe.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)
            return
        with redis_errors("publish the handoff event"):
            self.redis.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)

    def read(self, *, tenant: str | None = None, after: str = "-", count: int = 100) -> list[tuple[str, HandoffEvent]]:
        """Up to ``count`` (stream id, event) after the stream id ``after``, oldest first; one tenant's if given."""
        found: list[tuple[str, HandoffEvent]] = []
        start = after if after in ("-", "0", "0-0") else f"({after}"
        while len(found) < count:
            with redis_errors("read handoff events"):
                entries: Any = self.redis.xrange(self.stream, min=start, max="+", count=count)
            for raw_id, fields in entries:
                stream_id, event = _text(raw_id), _parse(fields)
                if event is not None and (tenant is None or event.tenant == tenant):
                    found.append((stream_id, event))
                    if len(found) == count:
                        break
            if len(entries) < count:
                break
            start = f"({_text(entries[-1][0])}"
        return found

    def erase_customer(self, tenant: str, customer_id: str, *, conversation_ids: Collection[str] = ()) -> list[str]:
        """XDEL the tenant's events of the customer or of ``conversation_ids``; the ids of the events removed.

        Scans the whole stream (erasure is rare; the stream is capped at ``maxlen``). The removed entries are
        also acknowledged in the webhook group, so no dispatcher tries to deliver them.
        """
        removed: list[str] = []
        stream_ids: list[str] = []
        start = "-"
        while True:
            with redis_errors("read handoff events"):
                entries: Any = self.redis.xrange(self.stream, min=start, max="+", count=1000)
            for raw_id, fields in entries:
                event_id = _concerning(fields, tenant, customer_id, conversation_ids)
                if event_id is not None:
                    stream_ids.append(_text(raw_id))
                    removed.append(event_id)
            if len(entries) < 1000:
                break
            start = f"({_text(entries[-1][0])}"
        for batch in (stream_ids[i:i + 500] for i in range(0, len(stream_ids), 500)):
            with redis_errors("erase handoff events"):
                self.redis.xdel(self.stream, *batch)
                with suppress(redis.exceptions.ResponseError):  # NOGROUP: no dispatcher ever ran
                    self.redis.xack(self.stream, GROUP, *batch)
        return removed


def _concerning(fields: dict[Any, Any], tenant: str, customer_id: str, conversation_ids: Collection[str]
                ) -> str | None:
    """The event id when the entry's event is the tenant's and the customer's (or one of the conversations')."""
    raw = next((v for k, v in fields.items() if _text(k) == "event"), None)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("tenant") != tenant:
        return None
    if data.get("customer_id") == customer_id or data.get("conversation_id") in conversation_ids:
        return str(data.get("id", ""))
    return None


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``X-Polydesk-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_digest(body, secret, timestamp)}"


def _digest(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(
    body: bytes, header: str | None, secret: str, *, now: float | None = None, tolerance_s: float = 300
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is within ``tolerance_s`` of now."""
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = _digest(body, secret, timestamp)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0  # failed attempts that will be retried
    dead: int = 0
    pending: int = 0  # scheduled for a retry after the pass


@dataclass(frozen=True)
class DeadLetter:
    event: HandoffEvent
    attempts: int
    last_error: str
    dead_at: datetime
    stream_id: str


@dataclass(frozen=True)
class _Job:
    stream_id: str
    body: bytes  # the JSON exactly as published: what is signed and sent
    event: HandoffEvent
    attempts: int = 0  # failed attempts so far
    since: float | None = None  # the retention period starts here (a requeue restarts it); None: created_at


@dataclass(frozen=True)
class _Outcome:
    verdict: Literal["delivered", "retry", "rejected"]
    error: str = ""
    retry_after: float | None = None
    unreachable: bool = False


class _ReceiverUnreachable(Exception):
    """Ends a pass: the other events wait rather than each spending a timeout on a receiver that is down."""


class WebhookDispatcher:
    """Delivers the stream's events to one webhook URL, at least once, with retries and dead letters."""

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        url: str,
        secret: str | None = None,
        timeout_s: float = 5.0,
        max_attempts: int = 10,
        backoff_base_s: float = 2.0,
        backoff_max_s: float = 600.0,
        retention_s: float = 86_400,
        stream: str = STREAM,
        consumer: str | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        batch_size: int = 50,
        claim_idle_s: float | None = None,
    ) -> None:
        self.redis = redis_client
        self.url, self.secret, self.timeout_s = url, secret, timeout_s
        self.max_attempts, self.retention_s = max_attempts, retention_s
        self.backoff_base_s, self.backoff_max_s = backoff_base_s, backoff_max_s
        self.stream, self.clock, self.batch_size = stream, clock, batch_size
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        # How long one delivery may take before another dispatcher takes it over: also the retry lease.
        self.claim_idle_s = max(60.0, 4 * timeout_s) if claim_idle_s is None else claim_idle_s
        self._own_client = client is None
        self.client = client or httpx.Client(timeout=timeout_s, headers={"User-Agent": f"polydesk/{__version__}"})
        self._retry_key = f"{stream}:{GROUP}:retry"
        self._requeued_key = f"{stream}:{GROUP}:requeued"
        self._dead_key = f"{stream}:{GROUP}:dead"
        self._claim_due = redis_client.register_script(_CLAIM_DUE)
        self._claim_orphan = redis_client.register_script(_CLAIM_ORPHAN)
        self._group_ready = False
        self._orphan_cursor = "-"
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: Settings, redis_client: redis.Redis) -> WebhookDispatcher | None:
        """The dispatcher for ``POLYDESK_WEBHOOK_*``; None when no webhook URL is configured."""
        if not settings.webhook_url:
            return None
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        return cls(
            redis_client,
            url=settings.webhook_url,
            secret=secret,
            timeout_s=settings.webhook_timeout_s,
            max_attempts=settings.webhook_max_attempts,
            retention_s=settings.webhook_retention_hours * 3600,
        )

    # -- delivery passes ------------------------------------------------------------------------------------

    def run_once(self, now: float | None = None) -> DeliveryStats:
        """One pass: due retries, entries whose dispatcher died, then new events."""
        now = self.clock() if now is None else now
        stats = DeliveryStats()
        with redis_errors("deliver handoff events"):
            self._ensure_group()
            try:
                self._deliver_due_retries(now, stats)
                self._deliver_orphans(now, stats)
                self._deliver_new(now, stats)
            except _ReceiverUnreachable:
                pass
            except redis.exceptions.ResponseError as exc:
                if "NOGROUP" in str(exc):  # the stream was deleted: create the group again next pass
                    self._group_ready = False
                raise
            stats.pending = int(self.redis.zcard(self._retry_key))
        return stats

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _deliver_due_retries(self, now: float, stats: DeliveryStats) -> None:
        for raw_id in self.redis.zrangebyscore(self._retry_key, "-inf", now, start=0, num=self.batch_size):
            stream_id = _text(raw_id)
            if not self._claim_due(keys=[self._retry_key], args=[stream_id, now, now + self.claim_idle_s]):
                continue  # another dispatcher claimed it first
            state = {_text(k): v for k, v in self.redis.hgetall(self._attempt_key(stream_id)).items()}
            event = _parse(state)
            if event is None:
                logger.error("retry %s has no readable event; dropping it from the schedule", stream_id)
                self.redis.zrem(self._retry_key, stream_id)
                continue
            since = float(state["since"]) if "since" in state else None
            job = _Job(stream_id, _bytes(state["event"]), event, int(state.get("attempts", 0)), since)
            self._deliver_guarded(job, now, stats)

    def _deliver_orphans(self, now: float, stats: DeliveryStats) -> None:
        idle_ms = int(self.claim_idle_s * 1000)
        page = self.redis.xpending_range(
            self.stream, GROUP, min=self._orphan_cursor, max="+", count=self.batch_size, idle=idle_ms
        )
        # Scheduled retries stay pending too; page through them so orphans behind them are found as well.
        self._orphan_cursor = f"({_text(page[-1]['message_id'])}" if len(page) == self.batch_size else "-"
        for entry in page:
            stream_id = _text(entry["message_id"])
            keys = [self.stream, self._retry_key]
            claimed = self._claim_orphan(keys=keys, args=[GROUP, self.consumer, idle_ms, stream_id])
            if not claimed:
                continue  # scheduled, or taken by someone else
            fields = claimed[0][1] if claimed[0] else None
            if not fields:
                logger.error("pending entry %s was trimmed from the stream before delivery", stream_id)
                self.redis.xack(self.stream, GROUP, stream_id)
                continue
            logger.warning("taking over entry %s: its dispatcher stopped before delivering it", stream_id)
            self._deliver_entry(stream_id, _pairs(fields), now, stats)

    def _deliver_new(self, now: float, stats: DeliveryStats) -> None:
        while True:
            batches: Any = self.redis.xreadgroup(GROUP, self.consumer, {self.stream: ">"}, count=self.batch_size)
            entries = batches[0][1] if batches else []
            for position, (raw_id, fields) in enumerate(entries):
                # Reset its idle time so that no one takes it over while it waits behind the batch.
                self.redis.xclaim(self.stream, GROUP, self.consumer, 0, [raw_id], justid=True)
                try:
                    self._deliver_entry(_text(raw_id), fields, now, stats)
                except _ReceiverUnreachable as exc:
                    for later_id, later_fields in entries[position + 1 :]:
                        if job := self._job(_text(later_id), later_fields):
                            self._schedule(job, 0, f"not attempted: {exc}", now, self._delay(1, None))
                    raise
            if len(entries) < self.batch_size:
                return

    def _deliver_entry(self, stream_id: str, fields: dict[Any, Any], now: float, stats: DeliveryStats) -> None:
        if job := self._job(stream_id, fields):
            self._deliver_guarded(job, now, stats)

    def _job(self, stream_id: str, fields: dict[Any, Any]) -> _Job | None:
        """The job for a stream entry read for the first time; None (and acknowledged) when it is unreadable."""
        event = _parse(fields)
        if event is None:
            logger.error("stream entry %s holds no readable event; acknowledging it unsent", stream_id)
            self.redis.xack(self.stream, GROUP, stream_id)
            return None
        return _Job(stream_id, _bytes(next(v for k, v in fields.items() if _text(k) == "event")), event)

    def _deliver_guarded(self, job: _Job, now: float, stats: DeliveryStats) -> None:
        try:
            self._deliver(job, now, stats)
        except (_ReceiverUnreachable, redis.exceptions.ConnectionError):
            raise
        except Exception:  # one bad event must not stop the others; it stays pending or scheduled
            logger.exception("could not deliver handoff event %s", job.event.id)

    def _deliver(self, job: _Job, now: float, stats: DeliveryStats) -> None:
        since = job.since if job.since is not None else job.event.created_at.timestamp()
        if now - since > self.retention_s:
            self._bury(job, job.attempts, f"expired: not delivered within {self.retention_s:g} s", now)
            stats.dead += 1
            return
        outcome = self._post(job, now)
        attempts = job.attempts + 1
        if outcome.verdict == "delivered":
            self._settle(job).execute()
            stats.delivered += 1
        elif outcome.verdict == "rejected" or attempts >= self.max_attempts:
            self._bury(job, attempts, outcome.error, now)
            stats.dead += 1
        else:
            self._schedule(job, attempts, outcome.error, now, self._delay(attempts, outcome.retry_after))
            stats.failed += 1
        if outcome.unreachable:
            raise _ReceiverUnreachable(outcome.error)

    def _post(self, job: _Job, now: float) -> _Outcome:
        headers = {
            "Content-Type": "application/json",
            "X-Polydesk-Event-Id": job.event.id,
            "X-Polydesk-Event-Type": job.event.type,
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(job.body, self.secret, int(now))
        try:
            response = self.client.post(self.url, content=job.body, headers=headers, timeout=self.timeout_s)
        except httpx.TransportError as exc:  # connection refused, timeouts, broken connections
            return _Outcome("retry", f"{type(exc).__name__}: {exc}", unreachable=True)
        if response.is_success:
            return _Outcome("delivered")
        error = f"HTTP {response.status_code}: {response.text[:200]}".rstrip(": ")
        if 400 <= response.status_code < 500 and response.status_code not in _RETRYABLE_STATUS:
            return _Outcome("rejected", error)
        return _Outcome("retry", error, retry_after=_retry_after(response, now))

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        backoff = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempts - 1))
        backoff += random.uniform(0, 0.1 * backoff)  # jitter, so that many dispatchers do not retry in step
        return max(backoff, min(retry_after or 0.0, self.backoff_max_s))

    # -- state changes, each one MULTI/EXEC -----------------------------------------------------------------

    def _attempt_key(self, stream_id: str) -> str:
        return f"{self.stream}:{GROUP}:attempt:{stream_id}"

    def _settle(self, job: _Job) -> redis.client.Pipeline:
        """A transaction, not yet executed, that ends the event's delivery (delivered or dead)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(self.stream, GROUP, job.stream_id)
        pipe.zrem(self._retry_key, job.stream_id)
        pipe.srem(self._requeued_key, job.stream_id)
        pipe.delete(self._attempt_key(job.stream_id))
        return pipe

    def _schedule(self, job: _Job, attempts: int, error: str, now: float, delay_s: float) -> None:
        state: dict[Any, Any] = {"event": job.body, "attempts": attempts, "last_error": error}
        if job.since is not None:
            state["since"] = job.since
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self._attempt_key(job.stream_id), mapping=state)
        pipe.zadd(self._retry_key, {job.stream_id: now + delay_s})
        pipe.execute()
        logger.info("handoff event %s: attempt %d failed (%s); next in %.0f s", job.event.id, attempts, error, delay_s)

    def _bury(self, job: _Job, attempts: int, error: str, now: float) -> None:
        pipe = self._settle(job)
        letter: dict[Any, Any] = {
            "event": job.body,
            "stream_id": job.stream_id,
            "attempts": attempts,
            "last_error": error,
            "dead_at": now,
        }
        pipe.hset(f"{self._dead_key}:{job.event.id}", mapping=letter)
        pipe.zadd(self._dead_key, {job.event.id: now})
        pipe.execute()
        logger.error("handoff event %s is dead after %d attempt(s): %s", job.event.id, attempts, error)

    # -- operators ------------------------------------------------------------------------------------------

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The dead letters, oldest first."""
        with redis_errors("read the dead letters"):
            event_ids = [_text(i) for i in self.redis.zrange(self._dead_key, 0, limit - 1)]
            pipe = self.redis.pipeline(transaction=False)
            for event_id in event_ids:
                pipe.hgetall(f"{self._dead_key}:{event_id}")
            rows = pipe.execute()
        letters = []
        for row in rows:
            state = {_text(k): v for k, v in row.items()}
            event = _parse(state)
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

    def requeue_dead(self, event_ids: Sequence[str] | None = None) -> int:
        """Schedule dead letters (all when ``event_ids`` is None) for delivery now, attempts and retention reset."""
        now = self.clock()
        requeued = 0
        with redis_errors("requeue the dead letters"):
            ids = [_text(i) for i in self.redis.zrange(self._dead_key, 0, -1)] if event_ids is None else event_ids
            for event_id in ids:
                letter = {_text(k): v for k, v in self.redis.hgetall(f"{self._dead_key}:{event_id}").items()}
                if "stream_id" not in letter:
                    continue
                stream_id = _text(letter["stream_id"])
                pipe = self.redis.pipeline(transaction=True)
                pipe.hset(
                    self._attempt_key(stream_id),
                    mapping={"event": letter["event"], "attempts": 0, "last_error": "", "since": now},
                )
                pipe.zadd(self._retry_key, {stream_id: now})
                pipe.sadd(self._requeued_key, stream_id)
                pipe.zrem(self._dead_key, event_id)
                pipe.delete(f"{self._dead_key}:{event_id}")
                requeued += int(pipe.execute()[3])
        return requeued

    def backlog(self) -> int:
        """Events neither delivered nor dead: not yet read, pending in the group, or requeued."""
        with redis_errors("count the webhook backlog"):
            requeued = int(self.redis.scard(self._requeued_key))
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

    @staticmethod
    def erase_customer(redis_client: redis.Redis, tenant: str, customer_id: str, *,
                       conversation_ids: Collection[str] = (), stream: str = STREAM) -> list[str]:
        """Remove the tenant's events of the customer (or of ``conversation_ids``) from the retry schedule and
        the dead letters; the ids of the events removed. Needs no dispatcher: only the keys of ``stream``.
        """
        retry_key, requeued_key = f"{stream}:{GROUP}:retry", f"{stream}:{GROUP}:requeued"
        dead_key = f"{stream}:{GROUP}:dead"
        removed: list[str] = []
        with redis_errors("erase webhook entries"):
            stream_ids = [_text(i) for i in redis_client.zrange(retry_key, 0, -1)]
            pipe = redis_client.pipeline(transaction=False)
            for stream_id in stream_ids:
                pipe.hgetall(f"{stream}:{GROUP}:attempt:{stream_id}")
            for stream_id, state in zip(stream_ids, pipe.execute(), strict=True):
                event_id = _concerning(state, tenant, customer_id, conversation_ids)
                if event_id is None:
                    continue
                erase = redis_client.pipeline(transaction=True)
                erase.zrem(retry_key, stream_id)
                erase.srem(requeued_key, stream_id)
                erase.delete(f"{stream}:{GROUP}:attempt:{stream_id}")
                erase.execute()
                removed.append(event_id)
            event_ids = [_text(i) for i in redis_client.zrange(dead_key, 0, -1)]
            pipe = redis_client.pipeline(transaction=False)
            for event_id in event_ids:
                pipe.hgetall(f"{dead_key}:{event_id}")
            for letter in pipe.execute():
                event_id = _concerning(letter, tenant, customer_id, conversation_ids)
                if event_id is None:
                    continue
                erase = redis_client.pipeline(transaction=True)
                erase.zrem(dead_key, event_id)
                erase.delete(f"{dead_key}:{event_id}")
                erase.execute()
                removed.append(event_id)
        return removed

    # -- running in the background --------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, *, poll_s: float = 1.0) -> None:
        """Pass after pass until ``stop`` is set; a failing pass (Redis down) is logged and retried, backing off."""
        failures = 0
        while not stop.is_set():
            try:
                self.run_once()
                failures = 0
            except Exception:
                failures += 1
                logger.exception("webhook delivery pass failed (%d in a row)", failures)
            stop.wait(min(30.0, poll_s * 2 ** min(failures, 5)))

    def start(self, *, poll_s: float = 1.0) -> threading.Thread:
        if self._thread is not None and self._thread.is_alive():
            return self._thread
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self.run_forever,
            args=(self._stop,),
            kwargs={"poll_s": poll_s},
            name="polydesk-webhooks",
            daemon=True,
        )
        self._thread.start()
        return self._thread

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the background thread after its current pass (waiting at most ``timeout_s``)."""
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s if timeout_s is not None else self.timeout_s * 2 + 5)
            self._thread = None

    def close(self) -> None:
        """Stop, and close the HTTP client unless it was passed in."""
        self.stop()
        if self._own_client:
            self.client.close()


def _retry_after(response: httpx.Response, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header, in seconds or as an HTTP date."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError):
        return None


def _parse(fields: dict[Any, Any]) -> HandoffEvent | None:
    raw = next((v for k, v in fields.items() if _text(k) == "event"), None)
    if raw is None:
        return None
    try:
        return HandoffEvent.model_validate_json(raw)
    except ValidationError:
        return None


def _pairs(flat: list[Any]) -> dict[Any, Any]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
