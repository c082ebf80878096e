"""What the channels could not do, for a person to see and settle: replies not sent, messages not answered.

Two kinds of dead letter, one view (``DeadLetter``), scoped to a tenant on every path:

- ``reply``: a reply the outbox gave up on (the platform refused it, or failed ``channel_max_attempts``
  times, or it waited longer than the retention) or that the channel's window forbade (``refused``: e.g.
  WhatsApp's 24 hours; the conversation was handed to a person then). Kept in ``api.channels.outbox``'s
  ``DEAD`` sorted set and hashes.
- ``messages``: a batch of customer messages that could not be answered after the last attempt
  (``api.channels.queue.InboundQueue.bury``), in ``UNANSWERED``.

``requeue`` puts one back to work (a reply: sent again from the call that failed, what went out stays out;
messages: answered again, before anything that arrived since) and ``discard`` drops it; each in one script,
so two people acting at once do it once. A refused reply is not requeued: the window still forbids it, and a
person answers with what the platform allows (a WhatsApp template).

Example:
    >>> letters = DeadLetters(redis_client)                                              # doctest: +SKIP
    >>> [letter.kind for letter in letters.list("tidewell")]                             # doctest: +SKIP
    ['reply', 'messages']
    >>> letters.requeue("tidewell", letters.list("tidewell")[0].id, now=time.time())     # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import redis

from api.channels.outbox import DEAD, item_key
from api.channels.outbox import DUE as OUTBOX_DUE
from api.channels.queue import DUE as INBOUND_DUE
from api.channels.queue import UNANSWERED
from polydesk.errors import ConflictError, NotFoundError

_REQUEUE_REPLY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'attempts', 0, 'since', ARGV[2])
redis.call('HDEL', KEYS[1], 'dead_at', 'last_error')
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
return 1
"""
_REQUEUE_MESSAGES = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local buffer = redis.call('HGET', KEYS[1], 'buffer')
local items = cjson.decode(redis.call('HGET', KEYS[1], 'items'))
for i = #items, 1, -1 do redis.call('LPUSH', buffer, items[i]) end
redis.call('ZADD', KEYS[3], ARGV[2], buffer)
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""
_DISCARD = """
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class DeadLetter:
    id: str
    kind: Literal["reply", "messages"]
    tenant: str
    channel: str
    conversation_id: str | None
    texts: list[str] = field(default_factory=list)  # the reply's messages, or the customer's
    attempts: int = 0
    last_error: str = ""
    dead_at: float = 0.0
    refused: bool = False  # a reply the channel's window forbids: a person answers it another way

    def public(self) -> dict[str, Any]:
        return asdict(self)


class DeadLetters:
    def __init__(self, redis_client: redis.Redis) -> None:
        self.redis = redis_client
        self._requeue_reply = redis_client.register_script(_REQUEUE_REPLY)
        self._requeue_messages = redis_client.register_script(_REQUEUE_MESSAGES)
        self._discard = redis_client.register_script(_DISCARD)

    def list(self, tenant: str | None, *, limit: int = 100) -> list[DeadLetter]:
        """The tenant's dead letters (every tenant's for None), the oldest first."""
        found: list[DeadLetter] = []
        indexes: tuple[tuple[Literal["reply", "messages"], str], ...] = (("reply", DEAD), ("messages", UNANSWERED))
        for kind, index in indexes:
            for raw_id in self.redis.zrange(index, 0, -1):
                letter = self._read(kind, _text(raw_id))
                if letter is not None and (tenant is None or letter.tenant == tenant):
                    found.append(letter)
        return sorted(found, key=lambda letter: letter.dead_at)[:limit]

    def get(self, tenant: str | None, letter_id: str) -> DeadLetter:
        """One dead letter of the tenant; ``NotFoundError`` for another tenant's, as for one that is not there."""
        kinds: tuple[Literal["reply", "messages"], ...] = ("reply", "messages")
        for kind in kinds:
            letter = self._read(kind, letter_id)
            if letter is not None and (tenant is None or letter.tenant == tenant):
                return letter
        raise NotFoundError(f"no dead letter {letter_id!r}")

    def requeue(self, tenant: str | None, letter_id: str, *, now: float) -> DeadLetter:
        letter = self.get(tenant, letter_id)
        if letter.refused:
            raise ConflictError(f"the channel refused this reply ({letter.last_error}); answer the customer in a "
                                "way it allows (e.g. a WhatsApp template), then discard it")
        if letter.kind == "reply":
            done = self._requeue_reply(keys=[f"{DEAD}:{letter_id}", item_key(letter_id), DEAD, OUTBOX_DUE],
                                       args=[letter_id, now])
        else:
            done = self._requeue_messages(keys=[f"{UNANSWERED}:{letter_id}", UNANSWERED, INBOUND_DUE],
                                          args=[letter_id, now])
        if not done:
            raise NotFoundError(f"no dead letter {letter_id!r}")
        return letter

    def discard(self, tenant: str | None, letter_id: str) -> DeadLetter:
        letter = self.get(tenant, letter_id)
        key, index = (f"{DEAD}:{letter_id}", DEAD) if letter.kind == "reply" else \
            (f"{UNANSWERED}:{letter_id}", UNANSWERED)
        if not self._discard(keys=[key, index], args=[letter_id]):
            raise NotFoundError(f"no dead letter {letter_id!r}")
        return letter

    def _read(self, kind: Literal["reply", "messages"], letter_id: str) -> DeadLetter | None:
        key = f"{DEAD}:{letter_id}" if kind == "reply" else f"{UNANSWERED}:{letter_id}"
        state = {_text(k): _text(v) for k, v in self.redis.hgetall(key).items()}
        if not state:
            return None
        attempts, error, dead_at = int(state.get("attempts", 0)), state.get("last_error", ""), \
            float(state.get("dead_at", 0))
        if kind == "reply":
            item: dict[str, Any] = json.loads(state["item"])
            return DeadLetter(letter_id, kind, item["tenant"], item["channel"], item.get("conversation_id"),
                              [text for batch in item["batches"] for text in batch], attempts, error, dead_at,
                              refused=state.get("refused") == "1")
        items: list[dict[str, Any]] = [json.loads(raw) for raw in json.loads(state["items"])]
        first: dict[str, Any] = items[0] if items else {"tenant": "", "channel": "", "message": {}}
        return DeadLetter(letter_id, kind, first["tenant"], first["channel"], first["message"].get("conversation_id"),
                          [item["message"]["message"] for item in items], attempts, error, dead_at)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
