"""The inbound side in Redis: dedupe, the stream of accepted messages, and the per-conversation debounce.

Keys (``P`` = ``polydesk:channels``)::

    P:seen:<tenant>:<channel>:<event id>   string, TTL: the platform's event was accepted (redeliveries skip)
    P:inbound                              stream: accepted messages (buffer key, item, due time)
    P:inbound:cursor                       string: the last stream id moved into a buffer
    P:buffer:<tenant>:<channel>:<conv>     list: a conversation's messages waiting to be answered together
    P:due                                  sorted set: buffer key -> when it may be answered (or its lease ends)

A webhook ``accept``s each message in one script (SET NX on its event id, then XADD), so a redelivery is
never queued twice. The worker ``move``s stream entries into their conversation's buffer, pushing the
buffer's due time to the newest message's arrival + the debounce (messages within the window are answered
as one), ``claim``s a due buffer with a lease (another worker takes it over only after the lease), and
``finish``es it in one script that drops the answered messages and puts the reply on the outbox, so a reply
is queued exactly once per batch of messages. Each claim counts an attempt (``P:attempts``); a batch that
could not be answered is ``retry``d after a backoff, and after the last attempt ``bury`` moves its messages to
the unanswered dead letters (``P:unanswered`` sorted set, ``P:unanswered:<id>`` hash), where a person finds
them (``polydesk channels dead-letters``) instead of the worker trying them forever.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import redis

from api.channels.base import Inbound

PREFIX = "polydesk:channels"
STREAM = f"{PREFIX}:inbound"
CURSOR = f"{STREAM}:cursor"
DUE = f"{PREFIX}:due"
ATTEMPTS = f"{PREFIX}:attempts"
UNANSWERED = f"{PREFIX}:unanswered"

_ACCEPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], '*', 'buffer', ARGV[2], 'item', ARGV[3], 'due', ARGV[4])
  return 1
end
return 0
"""
_MOVE = """
local cursor = redis.call('GET', KEYS[2]) or '0-0'
local entries = redis.call('XRANGE', KEYS[1], '(' .. cursor, '+', 'COUNT', ARGV[1])
for _, entry in ipairs(entries) do
  local f = entry[2]
  redis.call('RPUSH', f[2], f[4])
  redis.call('ZADD', KEYS[3], 'GT', f[6], f[2])
  redis.call('XDEL', KEYS[1], entry[1])
  cursor = entry[1]
end
if #entries > 0 then redis.call('SET', KEYS[2], cursor) end
return #entries
"""
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then return false end
redis.call('ZADD', KEYS[1], ARGV[2], due[1])
local attempts = redis.call('HINCRBY', KEYS[2], due[1], 1)
return {due[1], redis.call('LRANGE', due[1], 0, -1), attempts}
"""
# Drop the claimed messages (the first ARGV[1] of buffer KEYS[2]) and their count of attempts (in KEYS[5]); a
# buffer left empty leaves the due set KEYS[1], one that got messages meanwhile is due at ARGV[2].
_DROP_CLAIMED = """
redis.call('HDEL', KEYS[5], KEYS[2])
redis.call('LTRIM', KEYS[2], ARGV[1], -1)
if redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], KEYS[2])
else
  redis.call('ZADD', KEYS[1], ARGV[2], KEYS[2])
end
"""
_FINISH = _DROP_CLAIMED + """
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[4], 'item', ARGV[4], 'attempts', 0, 'sent', 0, 'since', ARGV[5])
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3])
end
return 1
"""
_BURY = """
local items = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
redis.call('HSET', KEYS[4], 'items', cjson.encode(items), 'attempts', ARGV[3], 'last_error', ARGV[4],
           'dead_at', ARGV[2], 'buffer', KEYS[2])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5])
""" + _DROP_CLAIMED + """
return #items
"""


@dataclass(frozen=True)
class Claimed:
    """A conversation's waiting messages, oldest first (each ``{"tenant", "channel", "event_id", "message",
    "context"}``), leased to one worker; ``attempts`` counts this claim."""

    buffer: str
    items: list[dict[str, Any]]
    attempts: int = 1


class InboundQueue:
    def __init__(self, redis_client: redis.Redis, *, debounce_s: float, dedupe_ttl_s: int, lease_s: float) -> None:
        self.redis = redis_client
        self.debounce_s, self.dedupe_ttl_s, self.lease_s = debounce_s, dedupe_ttl_s, lease_s
        self._accept = redis_client.register_script(_ACCEPT)
        self._move = redis_client.register_script(_MOVE)
        self._claim = redis_client.register_script(_CLAIM)
        self._finish = redis_client.register_script(_FINISH)
        self._bury = redis_client.register_script(_BURY)

    def accept(self, tenant: str, channel: str, inbound: Inbound, *, now: float) -> bool:
        """Queue ``inbound`` unless its event id was accepted before; True when queued."""
        conversation = inbound.message.conversation_id or inbound.message.customer_id or inbound.event_id
        item = json.dumps({"tenant": tenant, "channel": channel, "event_id": inbound.event_id,
                           "message": inbound.message.model_dump(mode="json"), "context": inbound.context},
                          ensure_ascii=False)
        keys = [f"{PREFIX}:seen:{tenant}:{channel}:{inbound.event_id}", STREAM]
        buffer = f"{PREFIX}:buffer:{tenant}:{channel}:{conversation}"
        return bool(self._accept(keys=keys, args=[self.dedupe_ttl_s, buffer, item, now + self.debounce_s]))

    def move(self, count: int = 100) -> int:
        """Move accepted messages into their conversation's buffer; how many were moved."""
        return int(self._move(keys=[STREAM, CURSOR, DUE], args=[count]))

    def claim(self, now: float) -> Claimed | None:
        """The first conversation whose window has closed, leased for ``lease_s``; None when none is due."""
        found = self._claim(keys=[DUE, ATTEMPTS], args=[now, now + self.lease_s])
        if not found:
            return None
        buffer, raw, attempts = found
        return Claimed(_text(buffer), [json.loads(item) for item in raw], int(attempts))

    def finish(self, claimed: Claimed, *, now: float, outbox: tuple[str, str, str] | None) -> None:
        """Drop the claimed messages and, in the same script, put ``outbox`` (its keys' id, item key, body) on
        the outbox; messages that arrived meanwhile wait their own window."""
        outbox_id, item_key, body = outbox or ("", "", "")
        keys = [DUE, claimed.buffer, f"{PREFIX}:outbox:due", item_key or f"{PREFIX}:outbox:none", ATTEMPTS]
        self._finish(keys=keys, args=[len(claimed.items), now + self.debounce_s, outbox_id, body, now])

    def retry(self, claimed: Claimed, *, at: float) -> None:
        """Answer the claimed messages again at ``at`` (before the lease ends: a failure is known at once)."""
        self.redis.zadd(DUE, {claimed.buffer: at})

    def bury(self, claimed: Claimed, *, error: str, now: float) -> str:
        """Move the claimed messages to the unanswered dead letters; their id there."""
        dead_id = uuid.uuid4().hex
        self._bury(keys=[DUE, claimed.buffer, UNANSWERED, f"{UNANSWERED}:{dead_id}", ATTEMPTS],
                   args=[len(claimed.items), now, claimed.attempts, error[:500], dead_id])
        return dead_id


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
