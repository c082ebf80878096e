"""Customer feedback on the bot's replies: a thumbs up or down, with an optional comment, kept per reply.

A reply is named by its number in the conversation: ``reply_id`` 1 is the bot's first reply, 2 its second, ...
(replies carry no id of their own; the connector or widget counts the replies it showed). Without a ``reply_id``
the rating is the conversation's as a whole. Rating the same reply again replaces the earlier rating: the stored
feedback and the outcome counters (``agent.outcomes``: ``feedback_up``/``feedback_down`` of the day and segment of
the earlier rating, then of today's) move together in one Lua script, so nothing is counted twice.

The ratings of a conversation are one Redis hash ``polydesk:feedback:<tenant>:<conversation id>`` (reply number →
JSON), kept as long as the conversation (``conversation_ttl_hours`` after the latest rating). Erasing a customer
(``agent.privacy``) deletes the feedback of their conversations, comments included; the day counters keep the
anonymous counts.

Example:
    >>> store = FeedbackStore.from_settings(client, settings)                           # doctest: +SKIP
    >>> store.rate_conversation(conversations, "tidewell", "c-1", reply_id=1, rating="down",
    ...                         comment="Die Antwort passt nicht zu meiner Frage").replaced
    False
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

import redis
from pydantic import BaseModel, Field

from agent.outcomes import bot_replies, day_key, utc_day
from agent.state import ConversationStore
from polydesk.errors import NotFoundError
from polydesk.redisdb import redis_errors
from polydesk.settings import Settings

FEEDBACK_PREFIX = "polydesk:feedback"
MAX_COMMENT_CHARS = 1000
WHOLE_CONVERSATION = "conversation"  # the hash field of a rating without a reply number
Rating = Literal["up", "down"]

# KEYS: the conversation's feedback hash, today's day hash. ARGV: the day-key prefix, the field, the record JSON
# (with its day and segment), the rating, the segment, retention s, feedback ttl s. Returns 1 when it replaced one.
_RATE = """
local old = redis.call('HGET', KEYS[1], ARGV[2])
if old then
  local o = cjson.decode(old)
  local k = ARGV[1] .. o.day
  if redis.call('EXISTS', k) == 1 then redis.call('HINCRBY', k, o.seg .. '|feedback_' .. o.rating, -1) end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[2], ARGV[5] .. '|feedback_' .. ARGV[4], 1)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6]))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
if old then return 1 end
return 0
"""


class Feedback(BaseModel):
    """One stored rating."""

    conversation_id: str
    reply_id: int | None = Field(description="the bot reply's number in the conversation (1: the first); null: "
                                 "the conversation as a whole")
    rating: Rating
    comment: str | None = None
    market: str
    channel: str
    created_at: datetime
    replaced: bool = Field(default=False, description="it replaced an earlier rating of the same reply")


class FeedbackStore:
    """Stores ratings and counts them (module doc); built on the caller's Redis client."""

    def __init__(self, client: redis.Redis, *, retention_s: int, ttl_s: int) -> None:
        self.client = client
        self.retention_s, self.ttl_s = retention_s, ttl_s
        self._script = client.register_script(_RATE)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> FeedbackStore:
        return cls(client, retention_s=settings.outcomes_retention_days * 86400,
                   ttl_s=int(settings.conversation_ttl_hours * 3600))

    @staticmethod
    def key(tenant: str, conversation_id: str) -> str:
        return f"{FEEDBACK_PREFIX}:{tenant}:{conversation_id}"

    def rate_conversation(self, conversations: ConversationStore, tenant: str, conversation_id: str, *,
                          rating: Rating, reply_id: int | None = None, comment: str | None = None) -> Feedback:
        """Rate a reply of a stored conversation of ``tenant``: ``NotFoundError`` when there is no such
        conversation, or the bot has not sent that many replies in it."""
        conversation = conversations.get(tenant, conversation_id)
        if conversation is None:
            raise NotFoundError(f"no conversation {conversation_id!r}")
        if reply_id is not None:
            sent = max(bot_replies(self.client, tenant, conversation_id),
                       sum(1 for turn in conversation.turns if turn.role == "bot"))
            if reply_id > sent:
                raise NotFoundError(f"conversation {conversation_id!r} has {sent} bot replies; no reply {reply_id}")
        return self.rate(tenant, conversation_id, market=conversation.market, channel=conversation.channel,
                         rating=rating, reply_id=reply_id, comment=comment)

    def rate(self, tenant: str, conversation_id: str, *, market: str, channel: str, rating: Rating,
             reply_id: int | None = None, comment: str | None = None, at: float | None = None,
             pipe: redis.client.Pipeline | None = None) -> Feedback:
        """Store the rating and count it, replacing an earlier rating of the same reply (no checks: callers
        check the conversation; ``rate_conversation``). ``pipe``: queue it there (bulk seeding)."""
        at = time.time() if at is None else at
        feedback = Feedback(conversation_id=conversation_id, reply_id=reply_id, rating=rating, comment=comment,
                            market=market, channel=channel, created_at=datetime.fromtimestamp(at, UTC))
        segment, day = f"{market}|{channel}", utc_day(at)
        record = {**feedback.model_dump(mode="json", exclude={"replaced"}), "day": day, "seg": segment}
        keys = [self.key(tenant, conversation_id), day_key(tenant, day)]
        args: list[str | int] = [day_key(tenant, ""), _field(reply_id), json.dumps(record, ensure_ascii=False),
                                 rating, segment,
                self.retention_s, self.ttl_s]
        if pipe is not None:
            self._script(keys=keys, args=args, client=pipe)
            return feedback
        with redis_errors("store the feedback"):
            replaced = bool(self._script(keys=keys, args=args))
        return feedback.model_copy(update={"replaced": replaced})

    def read(self, tenant: str, conversation_id: str) -> list[Feedback]:
        """The conversation's ratings: the whole conversation's first, then by reply number."""
        with redis_errors("read the feedback"):
            raw = self.client.hgetall(self.key(tenant, conversation_id))
        found = [Feedback.model_validate_json(value) for value in raw.values()]
        return sorted(found, key=lambda f: -1 if f.reply_id is None else f.reply_id)



def erase_feedback(client: redis.Redis, tenant: str, conversation_ids: Iterable[str]) -> int:
    """Delete the feedback of these conversations (a customer's erasure); how many ratings were deleted."""
    keys = [FeedbackStore.key(tenant, conversation_id) for conversation_id in sorted(set(conversation_ids))]
    if not keys:
        return 0
    with redis_errors("erase the feedback"), client.pipeline(transaction=True) as pipe:
        for key in keys:
            pipe.hlen(key)
        for key in keys:
            pipe.delete(key)
        counts = pipe.execute()[:len(keys)]
    return sum(int(n) for n in counts)


def _field(reply_id: int | None) -> str:
    return WHOLE_CONVERSATION if reply_id is None else str(reply_id)
