"""Replies on their way to the platforms: a Redis outbox with retries, backoff and dead letters.

Keys (``P`` = ``polydesk:channels:outbox``): ``P:due`` (sorted set: reply id -> next attempt), ``P:item:<id>``
(hash: ``item`` = ``{"tenant", "channel", "batches", "context"}``, ``attempts``, ``sent`` calls, ``since``),
``P:dead`` (sorted set: id -> dead_at) and ``P:dead:<id>`` (the item, with ``last_error``).

A reply is queued by ``api.channels.queue.InboundQueue.finish``. Each pass claims due replies with a lease
(``agent.webhooks.CLAIM_DUE``) and makes their calls in order, counting each call that succeeded in ``sent``,
so a retry resends only what did not go out. What counts as sent, retried or refused, and the wait between
attempts, are the webhook delivery's own (``agent.webhooks.response_outcome``, ``backoff_delay``); an adapter
that delivers a batch itself (``base.SelfDelivering``: e-mail by SMTP) reports the same ``Outcome``. A refused
one-shot call (a used LINE reply token) is retried at once the other way; another refusal, ``max_attempts``
failures or a reply older than ``retention_s`` is dead. While a platform is unreachable a pass stops at the
first connection error (the rest wait their turn).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import redis

from agent.webhooks import CLAIM_DUE, Outcome, backoff_delay, response_outcome, unreachable_outcome
from api.channels.base import ChannelAdapter, SelfDelivering
from api.channels.transport import secret_extension

logger = logging.getLogger(__name__)

PREFIX = "polydesk:channels:outbox"
DUE = f"{PREFIX}:due"
DEAD = f"{PREFIX}:dead"


def item_key(reply_id: str) -> str:
    return f"{PREFIX}:item:{reply_id}"


class Outbox:
    def __init__(self, redis_client: redis.Redis, *, adapter_for: Callable[[str, str], ChannelAdapter | None],
                 client: httpx.Client, max_attempts: int, backoff_base_s: float, retention_s: float,
                 lease_s: float, backoff_max_s: float = 600.0, batch_size: int = 50) -> None:
        self.redis, self.adapter_for, self.client = redis_client, adapter_for, client
        self.max_attempts, self.retention_s, self.lease_s = max_attempts, retention_s, lease_s
        self.backoff_base_s, self.backoff_max_s, self.batch_size = backoff_base_s, backoff_max_s, batch_size
        self._claim_due = redis_client.register_script(CLAIM_DUE)

    def run_once(self, now: float) -> int:
        """One pass over the due replies; how many were sent."""
        sent = 0
        for raw_id in self.redis.zrangebyscore(DUE, "-inf", now, start=0, num=self.batch_size):
            reply_id = _text(raw_id)
            if not self._claim_due(keys=[DUE], args=[reply_id, now, now + self.lease_s]):
                continue
            state = {_text(k): _text(v) for k, v in self.redis.hgetall(item_key(reply_id)).items()}
            if "item" not in state:
                self.redis.zrem(DUE, reply_id)
                continue
            outcome = self._send(reply_id, state, now)
            sent += outcome.verdict == "delivered"
            if outcome.unreachable:
                break
        return sent

    def _send(self, reply_id: str, state: dict[str, str], now: float) -> Outcome:
        item: dict[str, Any] = json.loads(state["item"])
        attempts, done = int(state.get("attempts", 0)), int(state.get("sent", 0))
        if now - float(state.get("since", now)) > self.retention_s:
            self._bury(reply_id, attempts, f"expired: not sent within {self.retention_s:g} s", now)
            return Outcome("rejected")
        adapter = self.adapter_for(item["channel"], item["tenant"])
        if adapter is None:
            self._bury(reply_id, attempts, "the channel is no longer configured", now)
            return Outcome("rejected")
        outcome, one_shot = Outcome("delivered"), False
        for index, batch in enumerate(item["batches"][done:], start=done):
            outcome, one_shot = self._attempt(adapter, batch, index=index, context=item["context"],
                                              attempts=attempts, key=reply_id, now=now)
            if outcome.verdict != "delivered":
                break
            self.redis.hincrby(item_key(reply_id), "sent", 1)
        attempts += 1
        if outcome.verdict == "delivered":
            pipe = self.redis.pipeline(transaction=True)
            pipe.zrem(DUE, reply_id)
            pipe.delete(item_key(reply_id))
            pipe.execute()
        elif outcome.verdict == "rejected" and one_shot:
            self._schedule(reply_id, attempts, outcome.error, now)  # next time without the one-shot token
        elif outcome.verdict == "rejected" or attempts >= self.max_attempts:
            self._bury(reply_id, attempts, outcome.error, now)
        else:
            delay = backoff_delay(attempts, base_s=self.backoff_base_s, max_s=self.backoff_max_s,
                                  retry_after=outcome.retry_after)
            self._schedule(reply_id, attempts, outcome.error, now + delay)
        return outcome

    def _attempt(self, adapter: ChannelAdapter, batch: list[str], *, index: int, context: dict[str, str],
                 attempts: int, key: str, now: float) -> tuple[Outcome, bool]:
        """Send one batch: by the adapter itself (``SelfDelivering``: SMTP) or by the HTTP call it describes;
        the outcome, and whether a refusal was of a one-shot call."""
        if isinstance(adapter, SelfDelivering):
            return adapter.deliver(batch, index=index, context=context, key=key), False
        call = adapter.send_call(batch, index=index, context=context, attempts=attempts, key=key, now=now)
        try:
            response = self.client.post(call.url, json=call.json, headers=call.headers,
                                        extensions=secret_extension(call.url_secret))
            return response_outcome(response, now), call.one_shot
        except httpx.TransportError as exc:
            return unreachable_outcome(exc), call.one_shot

    def _schedule(self, reply_id: str, attempts: int, error: str, at: float) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(item_key(reply_id), mapping={"attempts": attempts, "last_error": error})
        pipe.zadd(DUE, {reply_id: at})
        pipe.execute()
        logger.info("channel reply %s: attempt %d failed (%s)", reply_id, attempts, error)

    def _bury(self, reply_id: str, attempts: int, error: str, now: float) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(item_key(reply_id), mapping={"attempts": attempts, "last_error": error, "dead_at": now})
        pipe.rename(item_key(reply_id), f"{DEAD}:{reply_id}")
        pipe.zrem(DUE, reply_id)
        pipe.zadd(DEAD, {reply_id: now})
        pipe.execute()
        logger.error("channel reply %s is dead after %d attempt(s): %s", reply_id, attempts, error)

    def dead_letters(self, limit: int = 100) -> list[dict[str, str]]:
        """The dead replies, oldest first: their item (tenant, channel, batches, context), attempts, last error."""
        ids = [_text(i) for i in self.redis.zrange(DEAD, 0, limit - 1)]
        return [{_text(k): _text(v) for k, v in self.redis.hgetall(f"{DEAD}:{i}").items()} | {"id": i} for i in ids]

    def backlog(self) -> int:
        """Replies waiting to be sent (scheduled or retried)."""
        return int(self.redis.zcard(DUE))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
