"""Handoff events: the event model, and the Redis stream they are published to and read back from.

A real embedded Redis (one per module, emptied before each test).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest
import redis

from agent.events import EventLog, HandoffEvent

pytestmark = pytest.mark.integration

T0 = 1_800_000_000.0


def _event(tenant: str = "tidewell", **details: Any) -> HandoffEvent:
    fields: dict[str, Any] = {"type": "handoff", "conversation_id": "c-1", "market": "DE", "channel": "web"}
    fields["created_at"] = datetime.fromtimestamp(T0, UTC)
    return HandoffEvent(tenant=tenant, **(fields | details))


# -- the stream -----------------------------------------------------------------------------------------------


def test_an_event_survives_a_json_round_trip_unchanged() -> None:
    event = HandoffEvent(
        type="release",
        tenant="tidewell",
        conversation_id="c-9",
        customer_id="cust-7",
        market="JP",
        channel="line",
        language="ja",
        queue="returns",
        priority="high",
        reason="customer_asked",
        intent="refund",
        team="apac-tokyo",
        reply_by=datetime(2026, 5, 1, 9, 30, tzinfo=UTC),
        summary="返品の相談。注文 TW-123456。",
        actor="agent-42",
    )
    assert HandoffEvent.model_validate_json(event.model_dump_json()) == event
    assert len(event.id) == 32 and event.created_at.tzinfo is not None
    naive = _event(reply_by=datetime(2026, 5, 1, 9, 30))
    assert naive.reply_by == datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    with pytest.raises(pydantic.ValidationError):
        HandoffEvent.model_validate({**event.model_dump(), "type": "transfer"})


def test_published_events_read_back_oldest_first_and_by_tenant(r: redis.Redis) -> None:
    log = EventLog(r)
    events = [_event("tidewell", conversation_id="c-1"), _event("other", conversation_id="c-2")]
    events += [_event("tidewell", conversation_id="c-3", type="release", actor="agent-1")]
    for event in events:
        log.publish(event)
    read = log.read()
    assert [event for _, event in read] == events
    assert [e.conversation_id for _, e in log.read(tenant="tidewell")] == ["c-1", "c-3"]
    assert [e.conversation_id for _, e in log.read(tenant="tidewell", count=1, after=read[0][0])] == ["c-3"]
    assert log.read(tenant="nobody") == []


def test_an_event_published_in_a_transaction_appears_only_with_the_commit(r: redis.Redis) -> None:
    log = EventLog(r)
    with r.pipeline(transaction=True) as pipe:
        pipe.set("polydesk:conv:tidewell:c-1", "owner=human")
        log.publish(_event(), pipe=pipe)
        assert log.read() == [] and r.get("polydesk:conv:tidewell:c-1") is None
        pipe.execute()
    assert len(log.read()) == 1 and r.get("polydesk:conv:tidewell:c-1") == b"owner=human"
