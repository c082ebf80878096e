"""Messages received while Redis or the store was down, kept on local disk so none is lost.

With ``degraded_reply`` on, ``/v1/answer`` answers "a colleague will get back to you" when a
dependency fails, and appends the message here (``data_dir/inbox/pending.jsonl``, one JSON
object per line, flushed to disk before the reply leaves). ``polydesk inbox replay``
publishes each kept message as a ``handoff`` event once Redis is back, so a person
answers it, and empties the file. An erasure drops a customer's kept messages too.

Example:
    >>> inbox = Inbox(settings.inbox_path)                                 # doctest: +SKIP
    >>> inbox.keep(request, reason="store_unavailable")                    # doctest: +SKIP
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agent.events import EventLog, HandoffEvent
from agent.schema import AnswerRequest, Reply
from polydesk.errors import StoreError

if TYPE_CHECKING:
    from agent.pipeline import Agent


class Inbox:
    def __init__(self, path: Path) -> None:
        self.path = path

    def keep(self, request: AnswerRequest, *, reason: str) -> None:
        """Append the message durably (an exclusive lock, one write, fsync): replicas may share the folder."""
        line = json.dumps({"received_at": time.time(), "reason": reason, "request": request.model_dump(mode="json")},
                          ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def pending(self) -> list[dict[str, object]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def count(self) -> int:
        """How many messages are kept (lines counted, none parsed)."""
        if not self.path.exists():
            return 0
        with self.path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())

    def erase_customer(self, tenant: str, customer_id: str) -> int:
        """Drop the kept messages of one customer of one tenant (an erasure); how many were dropped."""
        if not self.path.exists():
            return 0
        with self.path.open("r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            lines = [line for line in handle if line.strip()]
            kept = [line for line in lines if not _of(json.loads(line), tenant, customer_id)]
            if len(kept) != len(lines):
                handle.seek(0)
                handle.writelines(kept)
                handle.truncate()
                handle.flush()
                os.fsync(handle.fileno())
            fcntl.flock(handle, fcntl.LOCK_UN)
        return len(lines) - len(kept)

    def replay(self, events: EventLog) -> int:
        """Publish every kept message as a ``handoff`` event (queue ``support``), then empty the inbox."""
        if not self.path.exists():
            return 0
        with self.path.open("r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            entries = [json.loads(line) for line in handle if line.strip()]
            for entry in entries:
                request = AnswerRequest.model_validate(entry["request"])
                events.publish(HandoffEvent(
                    type="handoff", tenant=request.tenant, conversation_id=request.conversation_id or "unknown",
                    customer_id=request.customer_id, market=request.market, channel=request.channel,
                    language=request.language, queue="support", priority="high", reason="policy",
                    summary=f"Received while polydesk was unavailable ({entry['reason']}): {request.message}",
                ))
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
        return len(entries)


def _of(entry: dict[str, object], tenant: str, customer_id: str) -> bool:
    request = entry.get("request")
    return isinstance(request, dict) and request.get("tenant") == tenant and request.get("customer_id") == customer_id


def answer_or_keep(agent: Agent, inbox: Inbox, request: AnswerRequest, *, degraded_reply: bool,
                   answer: Callable[[], Reply] | None = None) -> tuple[Reply, str | None]:
    """``answer()`` (``agent.answer(request)`` by default) and None; when Redis or the store is down and
    ``degraded_reply`` is on, the agent's safe reply and the error code, the message kept in ``inbox`` for a
    person. Every way in (the HTTP API, the chat platforms' webhooks) answers through here."""
    try:
        return (answer or (lambda: agent.answer(request)))(), None
    except StoreError as exc:
        if not degraded_reply:
            raise
        return keep_for_later(agent, inbox, request, reason=exc.code), exc.code


def keep_for_later(agent: Agent, inbox: Inbox, request: AnswerRequest, *, reason: str) -> Reply:
    """The agent's safe reply ("a colleague will get back to you"), the message kept in ``inbox`` for a person."""
    reply = agent.safe_reply(request)
    inbox.keep(request.model_copy(update={"conversation_id": reply.conversation_id}), reason=reason)
    return reply
