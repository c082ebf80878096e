"""Webhook delivery: signed POSTs of a Redis stream's events, at least once, with retries and dead letters.

The machinery is generic: a signed POST, retries with backoff, dead letters that can be requeued, and a
background loop. Only what it reads ties it to handoffs: the stream ``polydesk:events`` and its
``HandoffEvent`` (``agent.events``), of which it uses the id, the type and the creation time. Another stream
of events a receiver must not miss (an outbox of channel messages, say) can be delivered the same way. Each
event is POSTed as the JSON exactly as published, with the headers ``X-Polydesk-Event-Id``,
``X-Polydesk-Event-Type`` and, when a secret is set, ``X-Polydesk-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256 of b"<t>." + body>`` (Stripe's scheme; receivers check it with ``verify_signature``). Delivery
is at least once and unordered: receivers deduplicate on the event id. ``WebhookDispatcher.from_settings``
configures it from ``POLYDESK_WEBHOOK_*``.

How no event is lost while the receiver is down:

* The dispatcher reads through the consumer group ``GROUP``, created at id ``0`` (MKSTREAM), so events
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

Where the state lives in Redis (the retry schedule, attempts, dead letters) and the operators' side of it
(dead letters, requeue, backlog, erasing a customer) are in ``agent.webhook_store``; the background thread
is a ``polydesk.worker.Worker``.

Example:
    >>> dispatcher = WebhookDispatcher.from_settings(settings, client)  # None without POLYDESK_WEBHOOK_URL
    >>> dispatcher.start()                                   # a daemon thread; dispatcher.close() at shutdown
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import redis

from agent.events import GROUP, STREAM, parse_event
from agent.webhook_store import DeadLetter, Delivery, WebhookStore
from polydesk import __version__
from polydesk.redisdb import redis_errors
from polydesk.settings import Settings
from polydesk.worker import Worker

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Polydesk-Signature"
_RETRYABLE_STATUS = {408, 429}

# Claim a due retry: move its score to the end of the lease, only if it is still due (one claimer wins).
# Shared with the other outboxes that retry the same way (api/channels/outbox.py).
CLAIM_DUE = """
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
class Outcome:
    """What one attempt to POST came to; shared by every outbox that retries the same way (channel replies)."""

    verdict: Literal["delivered", "retry", "rejected"]
    error: str = ""
    retry_after: float | None = None
    unreachable: bool = False


def response_outcome(response: httpx.Response, now: float) -> Outcome:
    """2xx delivered; 408, 429 and 5xx retried (after ``Retry-After`` when given); another 4xx rejected."""
    if response.is_success:
        return Outcome("delivered")
    error = f"HTTP {response.status_code}: {response.text[:200]}".rstrip(": ")
    if 400 <= response.status_code < 500 and response.status_code not in _RETRYABLE_STATUS:
        return Outcome("rejected", error)
    return Outcome("retry", error, retry_after=_retry_after(response, now))


def unreachable_outcome(exc: httpx.TransportError) -> Outcome:
    """Connection refused, a timeout, a broken connection: retried, and the rest of the pass waits."""
    return Outcome("retry", f"{type(exc).__name__}: {exc}", unreachable=True)


def backoff_delay(attempts: int, *, base_s: float, max_s: float, retry_after: float | None = None) -> float:
    """The wait after ``attempts`` failed attempts: ``min(max_s, base_s * 2**(attempts-1))`` plus up to 10 %
    jitter, or a later ``Retry-After`` (capped at ``max_s``)."""
    backoff = min(max_s, base_s * 2 ** (attempts - 1))
    backoff += random.uniform(0, 0.1 * backoff)  # jitter, so that many dispatchers do not retry in step
    return max(backoff, min(retry_after or 0.0, max_s))


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
        self.store = WebhookStore(redis_client, stream=stream)
        self._claim_due = redis_client.register_script(CLAIM_DUE)
        self._claim_orphan = redis_client.register_script(_CLAIM_ORPHAN)
        self._group_ready = False
        self._orphan_cursor = "-"
        self._worker: Worker | None = None

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
            backoff_base_s=settings.webhook_backoff_base_s,
            backoff_max_s=settings.webhook_backoff_max_s,
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
            stats.pending = int(self.redis.zcard(self.store.retry_key))
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
        for raw_id in self.redis.zrangebyscore(self.store.retry_key, "-inf", now, start=0, num=self.batch_size):
            stream_id = _text(raw_id)
            if not self._claim_due(keys=[self.store.retry_key], args=[stream_id, now, now + self.claim_idle_s]):
                continue  # another dispatcher claimed it first
            state = {_text(k): v for k, v in self.redis.hgetall(self.store.attempt_key(stream_id)).items()}
            event = parse_event(state)
            if event is None:
                logger.error("retry %s has no readable event; dropping it from the schedule", stream_id)
                self.redis.zrem(self.store.retry_key, stream_id)
                continue
            since = float(state["since"]) if "since" in state else None
            delivery = Delivery(stream_id, _bytes(state["event"]), event, int(state.get("attempts", 0)), since)
            self._deliver_guarded(delivery, now, stats)

    def _deliver_orphans(self, now: float, stats: DeliveryStats) -> None:
        idle_ms = int(self.claim_idle_s * 1000)
        page = self.redis.xpending_range(
            self.stream, GROUP, min=self._orphan_cursor, max="+", count=self.batch_size, idle=idle_ms
        )
        # Scheduled retries stay pending too; page through them so orphans behind them are found as well.
        self._orphan_cursor = f"({_text(page[-1]['message_id'])}" if len(page) == self.batch_size else "-"
        for entry in page:
            stream_id = _text(entry["message_id"])
            keys = [self.stream, self.store.retry_key]
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
                        if delivery := self._delivery(_text(later_id), later_fields):
                            self.store.schedule(delivery, 0, f"not attempted: {exc}", now, self._delay(1, None))
                    raise
            if len(entries) < self.batch_size:
                return

    def _deliver_entry(self, stream_id: str, fields: dict[Any, Any], now: float, stats: DeliveryStats) -> None:
        if delivery := self._delivery(stream_id, fields):
            self._deliver_guarded(delivery, now, stats)

    def _delivery(self, stream_id: str, fields: dict[Any, Any]) -> Delivery | None:
        """The delivery of a stream entry read for the first time; None (and acknowledged) when it is unreadable."""
        event = parse_event(fields)
        if event is None:
            logger.error("stream entry %s holds no readable event; acknowledging it unsent", stream_id)
            self.redis.xack(self.stream, GROUP, stream_id)
            return None
        return Delivery(stream_id, _bytes(next(v for k, v in fields.items() if _text(k) == "event")), event)

    def _deliver_guarded(self, delivery: Delivery, now: float, stats: DeliveryStats) -> None:
        try:
            self._deliver(delivery, now, stats)
        except (_ReceiverUnreachable, redis.exceptions.ConnectionError):
            raise
        except Exception:  # one bad event must not stop the others; it stays pending or scheduled
            logger.exception("could not deliver event %s", delivery.event.id)

    def _deliver(self, delivery: Delivery, now: float, stats: DeliveryStats) -> None:
        since = delivery.since if delivery.since is not None else delivery.event.created_at.timestamp()
        if now - since > self.retention_s:
            self.store.bury(delivery, delivery.attempts, f"expired: not delivered within {self.retention_s:g} s", now)
            stats.dead += 1
            return
        outcome = self._post(delivery, now)
        attempts = delivery.attempts + 1
        if outcome.verdict == "delivered":
            self.store.settle(delivery).execute()
            stats.delivered += 1
        elif outcome.verdict == "rejected" or attempts >= self.max_attempts:
            self.store.bury(delivery, attempts, outcome.error, now)
            stats.dead += 1
        else:
            self.store.schedule(delivery, attempts, outcome.error, now, self._delay(attempts, outcome.retry_after))
            stats.failed += 1
        if outcome.unreachable:
            raise _ReceiverUnreachable(outcome.error)

    def _post(self, delivery: Delivery, now: float) -> Outcome:
        headers = {
            "Content-Type": "application/json",
            "X-Polydesk-Event-Id": delivery.event.id,
            "X-Polydesk-Event-Type": delivery.event.type,
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(delivery.body, self.secret, int(now))
        try:
            response = self.client.post(self.url, content=delivery.body, headers=headers, timeout=self.timeout_s)
        except httpx.TransportError as exc:  # connection refused, timeouts, broken connections
            return unreachable_outcome(exc)
        return response_outcome(response, now)

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        return backoff_delay(attempts, base_s=self.backoff_base_s, max_s=self.backoff_max_s, retry_after=retry_after)

    # -- operators ------------------------------------------------------------------------------------------

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The dead letters, oldest first."""
        return self.store.dead_letters(limit)

    def requeue_dead(self, event_ids: Sequence[str] | None = None) -> int:
        """Schedule dead letters (all when ``event_ids`` is None) for delivery now, attempts and retention reset."""
        return self.store.requeue_dead(event_ids, now=self.clock())

    def backlog(self) -> int:
        """Events neither delivered nor dead: not yet read, pending in the group, or requeued."""
        return self.store.backlog()

    # -- running in the background --------------------------------------------------------------------------

    def start(self, *, poll_s: float = 1.0) -> threading.Thread:
        """Deliver in a daemon thread, a pass every ``poll_s``; a failing pass (Redis down) is logged and
        retried, the wait doubling up to 30 s. Returns the thread (the running one, if started before)."""
        if self._worker is None or not self._worker.running:
            self._worker = Worker("polydesk-webhooks", self._pass, poll_s=poll_s,
                                  max_backoff_s=min(30.0, poll_s * 2**5), label="webhook delivery", log=logger)
        return self._worker.start()

    def _pass(self) -> bool:
        self.run_once()
        return False  # a pass takes everything due: wait poll_s before the next

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the background thread after its current pass (waiting at most ``timeout_s``)."""
        if self._worker is not None:
            self._worker.stop(timeout_s if timeout_s is not None else self.timeout_s * 2 + 5)

    def close(self) -> None:
        """Stop, and close the HTTP client unless it was passed in."""
        self.stop()
        if self._own_client:
            self.client.close()


def _retry_after(response: httpx.Response, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header, in seconds or as an HTTP date; without one, the wait a JSON body
    names the way Telegram's Bot API does (``{"ok": false, "parameters": {"retry_after": 5}}``)."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    if not value:
        return _retry_after_in_body(response)
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError):
        return None


def _retry_after_in_body(response: httpx.Response) -> float | None:
    if "json" not in response.headers.get("Content-Type", "") or len(response.content) > 4096:
        return None
    try:
        parameters = response.json().get("parameters") or {}
        seconds = parameters.get("retry_after")
    except (ValueError, AttributeError):
        return None
    return float(seconds) if isinstance(seconds, int | float) and 0 <= seconds <= 86400 else None


def _pairs(flat: list[Any]) -> dict[Any, Any]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
