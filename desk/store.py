"""The desk's items: one per handed-off conversation, per tenant, built from the events stream.

Every ``handoff`` on ``polydesk:events`` (the pipeline's, a channel's, ``agent.ownership.hand_over``'s) becomes
a ``waiting`` item when ``DeskStore.sync`` reads it. An agent claims it (``assigned``: one Lua script, so of
agents claiming at once exactly one wins and the others get a ``ConflictError``), may pass it on, write internal
notes and replies, and releases it to the bot with an outcome (``closed``). A ``release`` published anywhere
else (the admin route, the CLI) closes the item too, when ``sync`` reads it.

Keys, all scoped by tenant::

    polydesk:desk:item:<tenant>:<conversation id>   hash: the item (``DeskItem``'s fields, times as UNIX time)
    polydesk:desk:notes:<tenant>:<conversation id>  list: the internal notes (JSON), oldest first
    polydesk:desk:open:<tenant>                      sorted set: open items, by priority rank then handoff time
    polydesk:desk:closed:<tenant>                    sorted set: closed items, by closing time (analytics)
    polydesk:desk:cursor                             string: the last stream id ``sync`` applied

Item and notes live as long as conversations and are linked to their customer, so erasing the customer
(``agent.privacy``) erases them; a sorted-set entry whose item is gone is dropped when next read.
First-response time is ``first_response_at - handed_off_at``; handling time ``closed_at - handed_off_at``.

Example:
    >>> desk = DeskStore(client, events, conversations=conversations)                   # doctest: +SKIP
    >>> desk.sync()
    >>> desk.claim("tidewell", "c-1", "mei", at=time.time()).state
    'assigned'
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Literal

import redis
from pydantic import BaseModel, Field, computed_field

from agent import ownership
from agent.events import EventLog, EventType, HandoffEvent, ReleaseOutcome
from agent.state import ConversationStore
from polydesk.errors import ConflictError, NotFoundError
from polydesk.redisdb import redis_errors

DeskState = Literal["waiting", "assigned", "closed"]
PRIORITIES = ("urgent", "high", "normal", "low")  # the inbox's order, then the longest waiting first
PREFIX = "polydesk:desk"
CURSOR_KEY = f"{PREFIX}:cursor"
SYNC_LOCK = "polydesk:lock:desk-sync"
MAX_LISTED = 500  # items one inbox read looks at
_RANK_SPAN = 10_000_000_000  # more than any UNIX time in seconds: the score is rank * span + handoff time
_DERIVED = {"notes", "first_response_s", "handling_s"}  # not kept in the item's hash


class DeskItem(BaseModel):
    """One handed-off conversation on the desk."""

    conversation_id: str
    tenant: str
    market: str
    channel: str
    customer_id: str | None = None
    language: str | None = None
    queue: str
    priority: str
    reason: str | None = None
    summary: str | None = None
    state: DeskState
    assignee: str | None = None
    handed_off_at: float = Field(description="UNIX time of the handoff")
    claimed_at: float | None = None
    first_response_at: float | None = None
    closed_at: float | None = None
    outcome: ReleaseOutcome | None = None
    notes: int = Field(default=0, description="internal notes written")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def first_response_s(self) -> float | None:
        """From the handoff to the first reply at the desk."""
        return None if self.first_response_at is None else self.first_response_at - self.handed_off_at

    @computed_field  # type: ignore[prop-decorator]
    @property
    def handling_s(self) -> float | None:
        """From the handoff to the release."""
        return None if self.closed_at is None else self.closed_at - self.handed_off_at

    def waited_s(self, now: float) -> float:
        """Seconds since the handoff (until it closed)."""
        return max(0.0, (self.closed_at or now) - self.handed_off_at)


class DeskNote(BaseModel):
    """An internal note: for the people at the desk, never sent to the customer."""

    agent_id: str
    text: str
    at: float


class DeskStats(BaseModel):
    waiting: int
    assigned: int
    closed: int = Field(description="closed items still kept (at most the latest 1000 counted)")
    outcomes: dict[str, int]
    median_first_response_s: float | None
    median_handling_s: float | None


# -- scripts (KEYS and ARGV as the methods below pass them) ---------------------------------------------------------

# KEYS: item, open, closed. ARGV: conversation id, score, ttl, summary, reason, then the new item's field/value pairs
_HANDOFF = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'waiting' or state == 'assigned' then
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'summary', ARGV[4]) end
  if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'reason', ARGV[5]) end
  return 'updated'
end
redis.call('DEL', KEYS[1])
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 'new'
"""
# KEYS: item. ARGV: agent id, now, '1' to take it from whoever holds it (a reassign)
_ASSIGN = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
if state == 'closed' then return {'closed'} end
local assignee = redis.call('HGET', KEYS[1], 'assignee')
if state == 'assigned' and ARGV[3] ~= '1' then
  if assignee == ARGV[1] then return {'same'} end
  return {'taken', assignee}
end
redis.call('HSET', KEYS[1], 'state', 'assigned', 'assignee', ARGV[1])
redis.call('HSETNX', KEYS[1], 'claimed_at', ARGV[2])
return {'assigned'}
"""
# KEYS: item, open, closed. ARGV: conversation id, now, outcome
_CLOSE = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then redis.call('ZREM', KEYS[2], ARGV[1]) return 'missing' end
if state == 'closed' then return 'closed' end
redis.call('HSET', KEYS[1], 'state', 'closed', 'closed_at', ARGV[2], 'outcome', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return state
"""


class DeskStore:
    """The desk's items in Redis (module docstring); Redis failures become ``StoreError``.

    ``conversations`` is the store a release hands the conversation back through (and whose retention and
    customer index the items share); by default one with the default retention on ``redis_client``.
    """

    def __init__(self, redis_client: redis.Redis, events: EventLog, *, conversations: ConversationStore) -> None:
        self.redis = redis_client  # the caller's: it opens and closes it
        self.events = events
        self.conversations = conversations  # its retention is the desk items' too
        self._handoff = redis_client.register_script(_HANDOFF)
        self._assign = redis_client.register_script(_ASSIGN)
        self._close = redis_client.register_script(_CLOSE)

    @staticmethod
    def item_key(tenant: str, conversation_id: str) -> str:
        return f"{PREFIX}:item:{tenant}:{conversation_id}"

    @staticmethod
    def notes_key(tenant: str, conversation_id: str) -> str:
        return f"{PREFIX}:notes:{tenant}:{conversation_id}"

    @staticmethod
    def open_key(tenant: str) -> str:
        return f"{PREFIX}:open:{tenant}"

    @staticmethod
    def closed_key(tenant: str) -> str:
        return f"{PREFIX}:closed:{tenant}"

    # -- from the events stream ------------------------------------------------------------------------------------

    def sync(self) -> int:
        """Apply the events published since the last sync (handoffs open items, releases close them); how many
        were read. One process applies them at a time; the others return at once when there is nothing new."""
        if not self.events.read(after=self._cursor(), count=1):
            return 0
        lock = self.redis.lock(SYNC_LOCK, timeout=60, blocking_timeout=30)
        with redis_errors("lock the desk's sync"):
            if not lock.acquire():
                return 0
        try:
            read = 0
            while batch := self.events.read(after=self._cursor(), count=500):
                for _, event in batch:
                    self._apply(event)
                with redis_errors("save the desk's cursor"):
                    self.redis.set(CURSOR_KEY, batch[-1][0])
                read += len(batch)
            return read
        finally:
            with suppress(redis.exceptions.RedisError):  # it times out on its own
                lock.release()

    def _cursor(self) -> str:
        with redis_errors("read the desk's cursor"):
            raw = self.redis.get(CURSOR_KEY)
        return "0-0" if raw is None else _text(raw)

    def _apply(self, event: HandoffEvent) -> None:
        at = event.created_at.timestamp()
        if event.type == "release":
            self._close_item(event.tenant, event.conversation_id, at=at, outcome=event.outcome or "returned_to_bot")
        elif event.type == "handoff":
            self._open_item(event, at)

    def _open_item(self, event: HandoffEvent, at: float) -> None:
        tenant, conversation_id = event.tenant, event.conversation_id
        priority = event.priority if event.priority in PRIORITIES else "normal"
        item = DeskItem(conversation_id=conversation_id, tenant=tenant, market=event.market, channel=event.channel,
                        customer_id=event.customer_id, language=event.language, queue=event.queue or "support",
                        priority=priority, reason=event.reason, summary=event.summary, state="waiting",
                        handed_off_at=at)
        pairs = [str(v) for field, value in item.model_dump(exclude_none=True, exclude=_DERIVED).items()
                 for v in (field, value)]
        score = PRIORITIES.index(priority) * _RANK_SPAN + at
        key = self.item_key(tenant, conversation_id)
        with redis_errors("put the conversation on the desk"):
            self._handoff(keys=[key, self.open_key(tenant), self.closed_key(tenant)],
                          args=[conversation_id, score, self.conversations.ttl_s, event.summary or "",
                                event.reason or "", *pairs])
            if event.customer_id is not None:
                with self.redis.pipeline(transaction=True) as pipe:
                    for linked in (key, self.notes_key(tenant, conversation_id)):
                        self.conversations.link_customer(pipe, tenant, event.customer_id, linked)
                    pipe.execute()

    def _close_item(self, tenant: str, conversation_id: str, *, at: float, outcome: ReleaseOutcome) -> str:
        with redis_errors("close the desk item"):
            return _text(self._close(keys=[self.item_key(tenant, conversation_id), self.open_key(tenant),
                                           self.closed_key(tenant)], args=[conversation_id, at, outcome]))

    # -- reads -----------------------------------------------------------------------------------------------------

    def get(self, tenant: str, conversation_id: str) -> DeskItem | None:
        found = self._items(tenant, [conversation_id])
        return found[0] if found else None

    def inbox(self, tenant: str, *, queue: str | None = None, state: DeskState | None = None,
              agent_id: str | None = None) -> list[DeskItem]:
        """The tenant's items, urgent first and then the longest waiting (closed ones: the latest closed first);
        without ``state`` the open ones (waiting and assigned); ``agent_id``: only those it holds."""
        with redis_errors("read the desk"):
            if state == "closed":
                ids = self.redis.zrevrange(self.closed_key(tenant), 0, MAX_LISTED - 1)
            else:
                ids = self.redis.zrange(self.open_key(tenant), 0, MAX_LISTED - 1)
        return [item for item in self._items(tenant, [_text(i) for i in ids])
                if (state is None or item.state == state) and (queue is None or item.queue == queue)
                and (agent_id is None or item.assignee == agent_id)]

    def notes(self, tenant: str, conversation_id: str) -> list[DeskNote]:
        with redis_errors("read the notes"):
            raw = self.redis.lrange(self.notes_key(tenant, conversation_id), 0, -1)
        return [DeskNote.model_validate_json(value) for value in raw]

    def stats(self, tenant: str) -> DeskStats:
        """Counts and median times of the tenant's desk (over the latest 1000 closed items)."""
        open_items = self.inbox(tenant)
        with redis_errors("read the desk"):
            closed_ids = self.redis.zrevrange(self.closed_key(tenant), 0, 999)
        closed = self._items(tenant, [_text(i) for i in closed_ids])
        first = [s for item in (*open_items, *closed) if (s := item.first_response_s) is not None]
        handling = [s for item in closed if (s := item.handling_s) is not None]
        outcomes: dict[str, int] = {}
        for item in closed:
            outcomes[item.outcome or "returned_to_bot"] = outcomes.get(item.outcome or "returned_to_bot", 0) + 1
        return DeskStats(waiting=sum(i.state == "waiting" for i in open_items),
                         assigned=sum(i.state == "assigned" for i in open_items), closed=len(closed),
                         outcomes=outcomes, median_first_response_s=statistics.median(first) if first else None,
                         median_handling_s=statistics.median(handling) if handling else None)

    def _items(self, tenant: str, conversation_ids: Sequence[str]) -> list[DeskItem]:
        """The items in the order given; ids whose item is gone (expired, erased) are dropped from the sets."""
        if not conversation_ids:
            return []
        with redis_errors("read the desk"), self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.hgetall(self.item_key(tenant, conversation_id))
                pipe.llen(self.notes_key(tenant, conversation_id))
            raw = pipe.execute()
        found, gone = [], []
        for position, conversation_id in enumerate(conversation_ids):
            fields, notes = raw[2 * position], raw[2 * position + 1]
            if fields:
                decoded = {_text(k): _text(v) for k, v in fields.items()}
                found.append(DeskItem.model_validate(decoded | {"notes": notes}))
            else:
                gone.append(conversation_id)
        if gone:
            with redis_errors("tidy the desk"):
                self.redis.zrem(self.open_key(tenant), *gone)
                self.redis.zrem(self.closed_key(tenant), *gone)
        return found

    def _on_desk(self, tenant: str, conversation_id: str) -> DeskItem:
        item = self.get(tenant, conversation_id)
        if item is None:
            raise NotFoundError(f"no conversation {conversation_id!r} on the desk")
        return item

    # -- changes ---------------------------------------------------------------------------------------------------

    def claim(self, tenant: str, conversation_id: str, agent_id: str, *, at: float) -> DeskItem:
        """Take a waiting conversation; ``ConflictError`` when another agent was first (the one who holds it
        claiming again is no error and publishes nothing)."""
        if self._assigned(tenant, conversation_id, agent_id, at=at, take=False):
            item = self._on_desk(tenant, conversation_id)
            self.events.publish(_event(item, "claim", at, agent_id=agent_id))
        return self._on_desk(tenant, conversation_id)

    def reassign(self, tenant: str, conversation_id: str, to_agent_id: str, *, by: str, at: float) -> DeskItem:
        """Give an open conversation to ``to_agent_id`` (whoever held it); a ``reassign`` event."""
        self._assigned(tenant, conversation_id, to_agent_id, at=at, take=True)
        item = self._on_desk(tenant, conversation_id)
        self.events.publish(_event(item, "reassign", at, agent_id=to_agent_id, actor=by))
        return item

    def _assigned(self, tenant: str, conversation_id: str, agent_id: str, *, at: float, take: bool) -> bool:
        """Run the assignment script; True when it changed the item."""
        with redis_errors("assign the conversation"):
            result = [_text(v) for v in self._assign(keys=[self.item_key(tenant, conversation_id)],
                                                     args=[agent_id, at, "1" if take else "0"])]
        if result[0] == "missing":
            raise NotFoundError(f"no conversation {conversation_id!r} on the desk")
        if result[0] == "closed":
            raise ConflictError(f"conversation {conversation_id!r} was released: it is no longer on the desk")
        if result[0] == "taken":
            raise ConflictError(f"conversation {conversation_id!r} was claimed by agent {result[1]!r} first")
        return result[0] == "assigned"

    def require_assignee(self, tenant: str, conversation_id: str, agent_id: str) -> DeskItem:
        """The item when ``agent_id`` holds it; ``NotFoundError`` when it is not on the desk, ``ConflictError``
        when it is closed, waiting (claim it first) or held by another agent."""
        item = self._on_desk(tenant, conversation_id)
        if item.state == "closed":
            raise ConflictError(f"conversation {conversation_id!r} was released: it is no longer on the desk")
        if item.state == "waiting":
            raise ConflictError(f"conversation {conversation_id!r} is waiting: claim it first")
        if item.assignee != agent_id:
            raise ConflictError(f"conversation {conversation_id!r} is held by agent {item.assignee!r}")
        return item

    def add_note(self, tenant: str, conversation_id: str, agent_id: str, text: str, *, at: float) -> DeskNote:
        """Keep an internal note (never sent to the customer); a ``note`` event."""
        item = self._on_desk(tenant, conversation_id)
        note = DeskNote(agent_id=agent_id, text=text, at=at)
        key = self.notes_key(tenant, conversation_id)
        with redis_errors("save the note"), self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, note.model_dump_json())
            pipe.expire(key, self.conversations.ttl_s)
            pipe.execute()
        self.events.publish(_event(item, "note", at, agent_id=agent_id, text=text))
        return note

    def record_reply(self, tenant: str, conversation_id: str, agent_id: str, *, at: float) -> DeskItem:
        """Note that the agent holding it replied (the first reply sets ``first_response_at``); the ``reply``
        event is the replying code's."""
        self.require_assignee(tenant, conversation_id, agent_id)
        with redis_errors("record the reply"):
            self.redis.hsetnx(self.item_key(tenant, conversation_id), "first_response_at", at)
        return self._on_desk(tenant, conversation_id)

    def release(self, tenant: str, conversation_id: str, agent_id: str, outcome: ReleaseOutcome, *,
                at: float) -> DeskItem:
        """Hand the conversation back to the bot (``agent.ownership.release``: its ``release`` event carries the
        agent and the outcome) and close the item. A conversation gone (expired, erased) or already the bot's
        is only closed on the desk."""
        item = self._on_desk(tenant, conversation_id)
        if item.state == "closed":
            raise ConflictError(f"conversation {conversation_id!r} was already released")
        try:
            ownership.release(self.conversations, tenant, conversation_id, actor=agent_id, agent_id=agent_id,
                              outcome=outcome)
        except NotFoundError:
            pass
        except ConflictError:  # not a person's any more, or busy with a message: only the first is closed here
            conversation = self.conversations.get(tenant, conversation_id)
            if conversation is not None and conversation.owner == "human":
                raise
        self._close_item(tenant, conversation_id, at=at, outcome=outcome)
        return self._on_desk(tenant, conversation_id)


def _event(item: DeskItem, kind: EventType, at: float, **fields: Any) -> HandoffEvent:
    return HandoffEvent(type=kind, tenant=item.tenant, conversation_id=item.conversation_id,
                        customer_id=item.customer_id, market=item.market, channel=item.channel,
                        language=item.language, queue=item.queue, priority=item.priority,
                        created_at=datetime.fromtimestamp(at, UTC), **fields)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

