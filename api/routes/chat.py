"""``POST /v1/chat/completions``: polydesk behind the OpenAI chat API, for any OpenAI-speaking connector.

The mapping between OpenAI's request and response and polydesk's message and reply is the
``api.channels.openai_chat`` channel; this module is the route.

Example (the official SDK):
    >>> client = openai.OpenAI(base_url="http://localhost:8000/v1", api_key=CONNECTOR_KEY)  # doctest: +SKIP
    >>> completion = client.chat.completions.create(
    ...     model="polydesk", messages=[{"role": "user", "content": "Bisa bayar pakai GoPay?"}],
    ...     extra_body={"market": "ID", "channel": "whatsapp"})                               # doctest: +SKIP
    >>> completion.choices[0].message.content, completion.model_extra["polydesk"]["citations"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from api import answering
from api.channels.openai_chat import ChatCompletion, ChatCompletionRequest, Completion, customer_message
from api.deps import ConnectorCaller, ServicesDep
from api.errors import error_responses

router = APIRouter(prefix="/v1/chat", tags=["chat completions (OpenAI-compatible)"])


def _header(name: str) -> Any:
    return Header(alias=f"X-Polydesk-{name}", max_length=128)


@router.post("/completions", response_model=ChatCompletion, summary="OpenAI-compatible chat completion",
             dependencies=answering.ADMISSION,
             responses={**error_responses(400, 401, 403, 404, 409, 422, 429, 503),
                        200: answering.sse_response("a chat.completion, or with `stream: true` "
                                                    "chat.completion.chunk events, the last with `polydesk`, "
                                                    "then `[DONE]`")})
async def chat_completions(
    body: ChatCompletionRequest, caller: ConnectorCaller, services: ServicesDep,
    market: Annotated[str | None, _header("Market")] = None,
    channel: Annotated[str | None, _header("Channel")] = None,
    conversation_id: Annotated[str | None, _header("Conversation-Id")] = None,
    customer_id: Annotated[str | None, _header("Customer-Id")] = None,
) -> ChatCompletion | StreamingResponse:
    message = customer_message(body, {"market": market, "channel": channel, "conversation_id": conversation_id,
                                      "customer_id": customer_id})
    reply, _ = await answering.answer(services, caller, message)
    completion = Completion(reply)
    if not body.stream:
        return completion.whole()
    return StreamingResponse(completion.chunks(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
