"""Handoff events for human-agent desks: the event model and the Redis stream they are appended to.

Every handoff of a conversation to a person, and every release back to the bot, is a ``HandoffEvent``
appended to the stream ``polydesk:events`` (``EventLog``); so is what happens at the desk in between (``desk``):
an agent claims it (``claim``), passes it on (``reassign``), writes an internal note (``note``) or a reply to the
customer (``reply``: a connector outside polydesk may deliver it from the event's ``text``). Passing the
caller's transaction to ``publish`` commits the ownership change and its event in one MULTI/EXEC, so a desk
never sees one without the other.
Desks read the stream (``EventLog.read``, ``polydesk events list``) or receive each event as a signed webhook
(``agent.webhooks``, which reads the stream through the consumer group ``GROUP``).

Erasing a customer (GDPR, ``agent.privacy``) removes their events from the stream with
``EventLog.erase_customer``; the entries are also acknowledged in ``GROUP``, so nothing delivers them.

Example:
    >>> log = EventLog(client)                                                    # doctest: +SKIP
    >>> with client.pipeline(transaction=True) as pipe:      # the ownership change and its event, together
    ...     pipe.set(conversation_key, conversation.model_dump_json())
    ...     log.publish(HandoffEvent(type="handoff", tenant="tidewell", conversation_id="c-1", market="DE",
    ...                              channel="web", reason="refund_dispute"), pipe=pipe)
    ...     pipe.execute()
    >>> log.read(tenant="tidewell")[-1][1].reason
    'refund_dispute'
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from polydesk.redisdb import redis_errors

STREAM = "polydesk:events"
GROUP = "webhook"  # the consumer group the webhook dispatcher reads the stream through


ReleaseOutcome = Literal["resolved", "returned_to_bot", "spam"]
EventType = Literal["handoff", "claim", "reassign", "note", "reply", "release"]


class HandoffEvent(BaseModel):
    """A conversation handed to a person (``handoff``), worked on at the desk (``claim``, ``reassign``, ``note``,
    ``reply``) or released back to the bot (``release``)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    type: EventType
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
    agent_id: str | None = Field(default=None, description="desk events: the agent who claimed, noted, replied or "
                                 "released; for a reassign, the agent it was given to")
    text: str | None = Field(default=None, description="a note's or a reply's text (a note is never sent to the "
                             "customer)")
    outcome: ReleaseOutcome | None = Field(default=None, description="release from the desk: how it ended")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("reply_by", "created_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """Naive times are taken as UTC; every time is kept in UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EventRecorder(Protocol):
    """Counts what an event changes (``agent.outcomes.OutcomeRecorder``), queued on the publisher's pipeline."""

    def record_event(self, event: HandoffEvent, *, pipe: redis.client.Pipeline | None = None) -> None: ...


class EventLog:
    """Appends events to the stream and reads them back; Redis failures become ``StoreError``. A ``recorder``
    counts each published event in the same transaction (the outcome counters)."""

    def __init__(self, redis_client: redis.Redis, *, stream: str = STREAM, maxlen: int = 100_000,
                 recorder: EventRecorder | None = None) -> None:
        self.redis = redis_client
        self.stream = stream
        self.maxlen = maxlen
        self.recorder = recorder

    def publish(self, event: HandoffEvent, *, pipe: redis.client.Pipeline | None = None) -> None:
        """XADD the event; with ``pipe`` the command is only queued there, to run in the caller's EXEC."""
        fields: dict[Any, Any] = {"event": event.model_dump_json()}
        if pipe is not None:
            pipe.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)
            if self.recorder is not None:
                self.recorder.record_event(event, pipe=pipe)
            return
        with redis_errors("publish the handoff event"):
            if self.recorder is None:
                self.redis.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)
                return
            with self.redis.pipeline(transaction=True) as own:
                own.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)
                self.recorder.record_event(event, pipe=own)
                own.execute()

    def read(self, *, tenant: str | None = None, after: str = "-", count: int = 100) -> list[tuple[str, HandoffEvent]]:
        """Up to ``count`` (stream id, event) after the stream id ``after``, oldest first; one tenant's if given."""
        found: list[tuple[str, HandoffEvent]] = []
        start = after if after in ("-", "0", "0-0") else f"({after}"
        while len(found) < count:
            with redis_errors("read handoff events"):
                entries: Any = self.redis.xrange(self.stream, min=start, max="+", count=count)
            for raw_id, fields in entries:
                stream_id, event = _text(raw_id), parse_event(fields)
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
                event_id = event_id_concerning(fields, tenant, customer_id, conversation_ids)
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


def parse_event(fields: dict[Any, Any]) -> HandoffEvent | None:
    """The event in Redis fields (a stream entry or a hash) under ``event``; None when missing or unreadable."""
    raw = next((v for k, v in fields.items() if _text(k) == "event"), None)
    if raw is None:
        return None
    try:
        return HandoffEvent.model_validate_json(raw)
    except ValidationError:
        return None


def event_id_concerning(fields: dict[Any, Any], tenant: str, customer_id: str, conversation_ids: Collection[str]
                        ) -> str | None:
    """The event id when the event in ``fields`` is the tenant's and the customer's (or one of the conversations').

    Reads the raw JSON rather than ``parse_event``'s model, so an erasure also finds events no longer valid.
    """
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


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
