"""Answering one customer message for a caller: what ``/v1/answer``, its stream and chat completions share.

Idempotency (a retried request gets the first reply), the degraded mode (a safe reply and
the message kept in the inbox when Redis or the store is down, if configured; else 503
``store_unavailable``) and the answer metrics live here, so the three endpoints behave alike.
"""

from __future__ import annotations

import logging
from itertools import pairwise

from agent.inbox import answer_or_keep
from agent.schema import AnswerRequest, CustomerMessage, Reply
from api.auth import Caller
from api.deps import Services
from polydesk.sentences import sentence_spans

log = logging.getLogger("polydesk.api")


def answer(services: Services, caller: Caller, message: CustomerMessage, *,
           idempotency_key: str | None = None) -> tuple[Reply, bool]:
    """The reply to ``message`` and whether it is a replay of an earlier request with the same key."""
    request = AnswerRequest(tenant=caller.tenant, **message.model_dump())
    replayed = False

    def produce() -> Reply:
        nonlocal replayed
        if idempotency_key is None:
            return services.agent.answer(request)
        with services.idempotency.claim(caller.tenant, idempotency_key, message) as claim:
            if claim.replay is not None:
                replayed = True
                return claim.replay
            return claim.done(services.agent.answer(request), customer_id=request.customer_id)

    reply, kept = answer_or_keep(services.agent, services.inbox, request,
                                 degraded_reply=services.settings.degraded_reply, answer=produce)
    if replayed:
        return reply, True
    if kept is not None:
        services.metrics.degraded.labels(request.market).inc()
        log.warning("kept a message for later: %s", kept)
        return reply, False
    services.metrics.observe_reply(reply, market=request.market)
    return reply, False


def sse_response(description: str) -> dict[str, object]:
    """The OpenAPI entry of a ``text/event-stream`` answer: ``schema`` describes one event (before OpenAPI 3.2)."""
    event = {"type": "object", "required": ["data"], "properties": {
        "event": {"type": "string"}, "data": {"type": "string"}, "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0}}}
    return {"description": description, "content": {"text/event-stream": {"schema": event}}}


def sse_event(data: str, *, event: str | None = None) -> str:
    """One Server-Sent Event on the wire (``data`` is one line: JSON, or OpenAI's ``[DONE]``)."""
    return (f"event: {event}\n" if event else "") + f"data: {data}\n\n"


def pieces(text: str) -> list[str]:
    """``text`` in sentence-sized pieces, each with the whitespace after it, that join back to exactly ``text``."""
    cuts = [0, *(sentence.stop for sentence in sentence_spans(text)[:-1]), len(text)]
    return [text[start:stop] for start, stop in pairwise(cuts) if stop > start]
