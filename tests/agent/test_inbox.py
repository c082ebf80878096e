"""The inbox of messages received while Redis or the store was down: kept durably, erasable, replayed to people."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.events import EventLog
from agent.inbox import Inbox
from agent.schema import AnswerRequest
from polydesk.redisdb import connect_redis
from polydesk.settings import Settings

pytestmark = [pytest.mark.integration]


def _request(customer: str, message: str, tenant: str = "tidewell") -> AnswerRequest:
    return AnswerRequest.model_validate({"tenant": tenant, "market": "TH", "channel": "line", "message": message,
                                         "customer_id": customer, "conversation_id": f"c-{customer}"})


def test_kept_messages_survive_erasure_of_others_and_replay_as_handoffs(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox" / "pending.jsonl")
    inbox.keep(_request("u-1", "พัสดุยังไม่มาเลยค่ะ"), reason="store_unavailable")
    inbox.keep(_request("u-2", "ขอคืนสินค้าได้ไหม"), reason="store_unavailable")
    inbox.keep(_request("u-1", "Where is my order?", tenant="acme"), reason="store_unavailable")
    assert [e["request"]["customer_id"] for e in inbox.pending()] == ["u-1", "u-2", "u-1"]

    assert inbox.erase_customer("tidewell", "u-1") == 1
    assert inbox.erase_customer("tidewell", "u-1") == 0
    assert [(e["request"]["tenant"], e["request"]["customer_id"]) for e in inbox.pending()] == [
        ("tidewell", "u-2"), ("acme", "u-1")]

    client = connect_redis(Settings(data_dir=tmp_path / "data", _env_file=None))  # type: ignore[call-arg]
    try:
        events = EventLog(client)
        assert inbox.replay(events) == 2
        published = events.read(count=10)
        assert {(e.tenant, e.conversation_id, e.queue) for _, e in published} == {
            ("tidewell", "c-u-2", "support"), ("acme", "c-u-1", "support")}
        assert "ขอคืนสินค้าได้ไหม" in (next(e for _, e in published if e.tenant == "tidewell").summary or "")
        assert inbox.pending() == [] and inbox.replay(events) == 0
    finally:
        client.close()
