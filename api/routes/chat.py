"""``POST /v1/chat/completions``: polydesk behind the OpenAI chat API, for any OpenAI-speaking connector.

The last ``user`` message is the customer's message; polydesk keeps the conversation
itself, so earlier messages in ``messages`` are not re-read (send ``conversation_id`` to
continue one). Market, channel, conversation and customer ride as extra body fields
(what the ``openai`` SDK sends with ``extra_body``) or as ``X-Polydesk-*`` headers; the
body wins. The whole polydesk reply (citations, escalation, status) comes back in the
``polydesk`` field of the completion, and of the last chunk when streaming.

Example (the official SDK):
    >>> client = openai.OpenAI(base_url="http://localhost:8000/v1", api_key=CONNECTOR_KEY)  # doctest: +SKIP
    >>> completion = client.chat.completions.create(
    ...     model="polydesk", messages=[{"role": "user", "content": "Bisa bayar pakai GoPay?"}],
    ...     extra_body={"market": "ID", "channel": "whatsapp"})                               # doctest: +SKIP
    >>> completion.choices[0].message.content, completion.model_extra["polydesk"]["citations"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.schema import MAX_MESSAGE_CHARS, CustomerMessage, Reply
from api import answering
from api.deps import ConnectorCaller, ServicesDep
from api.errors import error_responses
from polydesk.errors import InputError

router = APIRouter(prefix="/v1/chat", tags=["chat completions (OpenAI-compatible)"])


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content if part.type == "text" and part.text)
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """OpenAI's request; sampling options (temperature, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "model": "polydesk", "messages": [{"role": "user", "content": "Wie lange habe ich Zeit für eine Rücksendung?"}],
        "market": "DE", "channel": "email", "customer_id": "kunde-4711",
    }]})

    model: str = Field(default="polydesk", max_length=128)
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    market: str | None = Field(default=None, description="or the X-Polydesk-Market header")
    channel: str | None = Field(default=None, description="or X-Polydesk-Channel; default 'web'")
    conversation_id: str | None = Field(default=None, description="or X-Polydesk-Conversation-Id")
    customer_id: str | None = Field(default=None, description="or X-Polydesk-Customer-Id; else OpenAI's `user`")
    language: str | None = None
    locale: str | None = None
    user: str | None = Field(default=None, max_length=128)


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    polydesk: Reply = Field(description="the whole polydesk reply: citations, escalation, status, timings")


def _header(name: str) -> Any:
    return Header(alias=f"X-Polydesk-{name}", max_length=128)


def customer_message(body: ChatCompletionRequest, headers: dict[str, str | None]) -> CustomerMessage:
    """The polydesk message in an OpenAI request: its last user message and the polydesk fields."""
    text = next((m.text for m in reversed(body.messages) if m.role == "user"), "")
    if not text.strip():
        raise InputError("messages needs a user message with text", code="validation_error")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InputError(f"the user message is longer than {MAX_MESSAGE_CHARS} characters", code="validation_error")
    market = body.market or headers["market"]
    if not market:
        raise InputError("say which market the customer is in: 'market' in the body or X-Polydesk-Market",
                         code="validation_error")
    fields: dict[str, Any] = {"market": market, "channel": body.channel or headers["channel"] or "web",
              "conversation_id": body.conversation_id or headers["conversation_id"],
              "customer_id": body.customer_id or headers["customer_id"] or body.user,
              "language": body.language, "locale": body.locale}
    try:
        return CustomerMessage(message=text, **{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise InputError(f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}", code="validation_error") from None


@router.post("/completions", response_model=ChatCompletion, summary="OpenAI-compatible chat completion",
             responses={**error_responses(400, 401, 403, 404, 409, 422, 429, 503),
                        200: answering.sse_response("a chat.completion, or with `stream: true` "
                                                    "chat.completion.chunk events, the last with `polydesk`, "
                                                    "then `[DONE]`")})
def chat_completions(
    body: ChatCompletionRequest, caller: ConnectorCaller, services: ServicesDep,
    market: Annotated[str | None, _header("Market")] = None,
    channel: Annotated[str | None, _header("Channel")] = None,
    conversation_id: Annotated[str | None, _header("Conversation-Id")] = None,
    customer_id: Annotated[str | None, _header("Customer-Id")] = None,
) -> ChatCompletion | StreamingResponse:
    message = customer_message(body, {"market": market, "channel": channel, "conversation_id": conversation_id,
                                      "customer_id": customer_id})
    reply, _ = answering.answer(services, caller, message)
    completion_id, created, model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), f"polydesk/{reply.generator}"
    if not body.stream:
        return ChatCompletion(id=completion_id, created=created, model=model, polydesk=reply,
                              choices=[Choice(message=CompletionMessage(content=reply.text))])

    def chunk(delta: dict[str, str], finish: str | None, **extra: Any) -> str:
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return answering.sse_event(json.dumps(data, ensure_ascii=False))

    def events() -> Iterator[str]:
        yield chunk({"role": "assistant", "content": ""}, None)
        for piece in answering.pieces(reply.text):
            yield chunk({"content": piece}, None)
        yield chunk({}, "stop", polydesk=reply.model_dump(mode="json"))
        yield answering.sse_event("[DONE]")

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
