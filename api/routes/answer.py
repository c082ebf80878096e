"""``POST /v1/answer`` and ``POST /v1/answer/stream``: what channel connectors call.

The stream sends the reply in sentence-sized ``delta`` events, then one ``reply`` event
with the whole reply object (citations, escalation, timings). The guardrails check a
whole reply before any of it may reach a customer, so the deltas follow the checked
reply; an error found before the first event is an ordinary JSON error with its status.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import StreamingResponse

from agent.schema import CustomerMessage, Reply
from api import answering
from api.deps import ConnectorCaller, ServicesDep
from api.errors import error_responses

router = APIRouter(prefix="/v1/answer", tags=["answer"])

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=255,
    description="a retried request with the same key and body gets the first reply back, and adds no turn",
)]
_ERRORS = error_responses(400, 401, 403, 404, 409, 422, 429, 503)


@router.post("", response_model=Reply, responses=_ERRORS, summary="Answer one customer message",
             dependencies=answering.ADMISSION)
async def answer(message: CustomerMessage, caller: ConnectorCaller, services: ServicesDep,
                 idempotency_key: IdempotencyKey = None) -> Response:
    """The reply to one customer message: text, language, persona, generator, citations, confidence,
    escalation and timings; ``status`` is ``handed_off`` (and the text empty) while a person owns the
    conversation. Start a conversation without ``conversation_id`` and send the returned one with each
    follow-up."""
    reply, replayed = await answering.answer(services, caller, message, idempotency_key=idempotency_key)
    return answering.json_response(reply, headers={"Idempotent-Replayed": "true"} if replayed else None)


@router.post("/stream", response_class=StreamingResponse, summary="Answer one customer message as a stream",
             dependencies=answering.ADMISSION,
             responses={**_ERRORS, 200: answering.sse_response(
                 '`delta` events (data: {"text": ...}), then one `reply` event (data: the Reply object)')})
async def answer_stream(message: CustomerMessage, caller: ConnectorCaller, services: ServicesDep,
                        idempotency_key: IdempotencyKey = None) -> StreamingResponse:
    """Server-Sent Events: the reply text in sentence-sized ``delta`` events, then a ``reply`` event."""
    reply, replayed = await answering.answer(services, caller, message, idempotency_key=idempotency_key)

    def events() -> Iterator[str]:
        for piece in answering.pieces(reply.text):
            yield answering.sse_event(json.dumps({"text": piece}, ensure_ascii=False), event="delta")
        yield answering.sse_event(reply.model_dump_json(), event="reply")

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
