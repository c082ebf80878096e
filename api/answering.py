"""Answering one customer message for a caller: what ``/v1/answer``, its stream, chat completions and the widget
share.

Admission (``api.admission``: a few answers at work at once, a bounded wait, else 503 ``overloaded`` with
``Retry-After``), idempotency (a retried request gets the first reply), the degraded mode (a safe reply and the
message kept in the inbox when Redis or the store is down or the service is overloaded, if configured; else 503
``store_unavailable`` / ``overloaded``) and the answer metrics live here, so the endpoints behave alike. The
routes are ``async``: a request waits for its turn on the event loop and is answered in a worker thread.
"""

from __future__ import annotations

import logging
from itertools import pairwise

import anyio.to_thread
from fastapi import Depends, Request, Response
from pydantic import BaseModel

from agent.inbox import answer_or_keep, keep_for_later
from agent.schema import AnswerRequest, CustomerMessage, Reply
from api.auth import Caller
from api.deps import Services, get_services
from polydesk.errors import OverloadedError
from polydesk.sentences import sentence_spans

log = logging.getLogger("polydesk.api")


async def at_the_door(request: Request) -> None:
    """A dependency of the answer routes, run before the key's rate limit and the body's validation: a request
    that could not start within its queue budget is refused at once, so a surge costs the server little. Not
    with the degraded reply, which keeps each message for a person and so needs it whole."""
    services = get_services(request)
    if services.settings.degraded_reply:
        return
    try:
        services.admission.refuse_if_hopeless()
    except OverloadedError:
        services.metrics.overloaded.inc()
        raise


ADMISSION = [Depends(at_the_door)]  # ``dependencies=`` of an answer route: resolved before its parameters


async def answer(services: Services, caller: Caller, message: CustomerMessage, *,
                 idempotency_key: str | None = None) -> tuple[Reply, bool]:
    """The reply to ``message`` and whether it is a replay of an earlier request with the same key, once the
    admission lets it in; ``OverloadedError`` (or the degraded reply) when it cannot start within the budget."""
    request = AnswerRequest(tenant=caller.tenant, **message.model_dump())
    try:
        # While it waits for its turn, the answer before it may embed its message in the same model run.
        with services.index.expecting_query(request.message):
            return await services.admission.run(lambda: _answer(services, request, message, idempotency_key))
    except OverloadedError:
        services.metrics.overloaded.inc()
        if not services.settings.degraded_reply:
            raise
        reply = await anyio.to_thread.run_sync(
            lambda: keep_for_later(services.agent, services.inbox, request, reason=OverloadedError.code))
        services.metrics.degraded.labels(request.market).inc()
        return reply, False


def json_response(model: BaseModel, *, headers: dict[str, str] | None = None) -> Response:
    """``model`` as a JSON response, serialized once by pydantic (the route's ``response_model`` documents it)."""
    return Response(model.model_dump_json(), media_type="application/json", headers=headers)


def _answer(services: Services, request: AnswerRequest, message: CustomerMessage,
            idempotency_key: str | None) -> tuple[Reply, bool]:
    replayed = False

    def produce() -> Reply:
        nonlocal replayed
        if idempotency_key is None:
            return services.agent.answer(request)
        with services.idempotency.claim(request.tenant, idempotency_key, message,
                                        customer_id=request.customer_id) as claim:
            if claim.replay is not None:
                replayed = True
                return claim.replay
            return claim.done(services.agent.answer(request, on_save=claim.store_reply))

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
