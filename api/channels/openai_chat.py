"""The OpenAI chat-completions channel: an OpenAI chat request in, a polydesk reply out as a completion.

The last ``user`` message is the customer's message; polydesk keeps the conversation itself, so
earlier messages in ``messages`` are not re-read (send ``conversation_id`` to continue one).
Market, channel, conversation and customer ride as extra body fields (what the ``openai`` SDK sends
with ``extra_body``) or as ``X-Polydesk-*`` headers; the body wins. The whole polydesk reply
(citations, escalation, status) comes back in the ``polydesk`` field of the completion, and of the
last chunk when streaming. The route is ``api.routes.chat``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.schema import MAX_MESSAGE_CHARS, CustomerMessage, Reply
from api import answering
from polydesk.errors import InputError
from polydesk.visible import visible_text


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


def customer_message(body: ChatCompletionRequest, headers: dict[str, str | None]) -> CustomerMessage:
    """The polydesk message in an OpenAI request: its last user message and the polydesk fields."""
    text = next((m.text for m in reversed(body.messages) if m.role == "user"), "")
    if not visible_text(text) or "\x00" in text:  # only zero-width or control characters, or a NUL: not a message
        raise InputError("messages needs a user message with visible text and no NUL characters",
                         code="validation_error")
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




class Completion:
    """One reply as OpenAI's ``chat.completion``, or as its ``chat.completion.chunk`` stream."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.id, self.created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        self.model = f"polydesk/{reply.generator}"

    def whole(self) -> ChatCompletion:
        return ChatCompletion(id=self.id, created=self.created, model=self.model, polydesk=self.reply,
                              choices=[Choice(message=CompletionMessage(content=self.reply.text))])

    def chunks(self) -> Iterator[str]:
        """Server-Sent Events: the role, sentence-sized deltas, the end with the polydesk reply, ``[DONE]``."""
        yield self._chunk({"role": "assistant", "content": ""}, None)
        for piece in answering.pieces(self.reply.text):
            yield self._chunk({"content": piece}, None)
        yield self._chunk({}, "stop", polydesk=self.reply.model_dump(mode="json"))
        yield answering.sse_event("[DONE]")

    def _chunk(self, delta: dict[str, str], finish: str | None, **extra: Any) -> str:
        data = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return answering.sse_event(json.dumps(data, ensure_ascii=False))
