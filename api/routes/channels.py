"""``POST /v1/channels/{channel}/{tenant}/webhook``: where LINE, Telegram, WhatsApp, Messenger and Instagram
deliver their webhooks, and a mail provider or relay forwards raw mail (``email``, ``api.channels.email``);
``GET`` on the same URL answers Meta's verification of it (``hub.challenge``).

These routes authenticate by the platform's signature, not by an API key (``api.guard`` lets them through
with the small unauthenticated body limit). The raw body is verified before anything is parsed: a bad or
missing signature is 401 and nothing happens; a tenant or channel that is not configured is 404, the same
for both, so the answer reveals nothing. A verified webhook is queued and answered 200 at once; the reply
follows in the background (``api.channels.service``). The ``GET`` echoes ``hub.challenge`` as text when
``hub.mode`` is ``subscribe`` and ``hub.verify_token`` is the account's (else 403); a channel without such a
verification (LINE, Telegram) is 404 there.

``/v1/channels/dead-letters`` (admin keys, the caller's tenant only): the replies that could not be sent and
the messages that could not be answered (``api.channels.dead_letters``), to requeue or discard.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from api.channels.base import Challenged, Hooked
from api.channels.dead_letters import DeadLetter, DeadLetters
from api.deps import AdminCaller, ServicesDep
from api.errors import error_responses
from polydesk.errors import AuthenticationError, InputError, NotFoundError, PermissionDeniedError

router = APIRouter(prefix="/v1/channels", tags=["channels"])

DeadLetterId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="a dead letter's id")]


class DeadLetterPublic(BaseModel):
    id: str
    kind: Literal["reply", "messages"] = Field(description="a reply not sent, or customer messages not answered")
    channel: str
    conversation_id: str | None
    texts: list[str] = Field(description="the reply's messages, or the customer's")
    attempts: int
    last_error: str
    dead_at: float = Field(description="UNIX time")
    refused: bool = Field(description="the channel's window forbade the reply: answer another way, then discard")

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterPublic:
        return cls.model_validate({k: v for k, v in letter.public().items() if k != "tenant"})


def _letters(services: ServicesDep) -> DeadLetters:
    if services.channels is None:
        raise NotFoundError("no chat channel is configured (POLYDESK_CHANNELS)")
    return services.channels.dead_letters


@router.get("/dead-letters", response_model=list[DeadLetterPublic], responses=error_responses(401, 403, 404, 503),
            summary="Replies not sent and messages not answered, for a person to settle")
def list_dead_letters(caller: AdminCaller, services: ServicesDep) -> list[DeadLetterPublic]:
    """The tenant's dead letters, oldest first."""
    return [DeadLetterPublic.of(letter) for letter in _letters(services).list(caller.tenant, limit=1000)]


@router.post("/dead-letters/{letter_id}/requeue", response_model=DeadLetterPublic,
             responses=error_responses(401, 403, 404, 409, 503),
             summary="Send a dead reply, or answer dead messages, again")
def requeue_dead_letter(letter_id: DeadLetterId, caller: AdminCaller, services: ServicesDep) -> DeadLetterPublic:
    """409 ``conflict`` for a reply the channel's window refused."""
    return DeadLetterPublic.of(_letters(services).requeue(caller.tenant, letter_id, now=time.time()))


@router.delete("/dead-letters/{letter_id}", response_model=DeadLetterPublic,
               responses=error_responses(401, 403, 404, 503), summary="Drop a dead letter a person has settled")
def discard_dead_letter(letter_id: DeadLetterId, caller: AdminCaller, services: ServicesDep) -> DeadLetterPublic:
    return DeadLetterPublic.of(_letters(services).discard(caller.tenant, letter_id))


_CHALLENGE: dict[int | str, dict[str, Any]] = {
    200: {"description": "the challenge, echoed", "content": {"text/plain": {"schema": {"type": "string"}}}},
}


@router.get("/{channel}/{tenant}/webhook", responses={**_CHALLENGE, **error_responses(403, 404)},
            summary="Answer Meta's verification of the webhook URL (WhatsApp, Messenger, Instagram)")
async def verify_webhook(channel: str, tenant: str, request: Request, services: ServicesDep) -> PlainTextResponse:
    """``hub.challenge`` echoed when ``hub.mode=subscribe`` and ``hub.verify_token`` is the configured one."""
    adapter = services.channels.adapter(channel, tenant) if services.channels is not None else None
    if not isinstance(adapter, Challenged):
        raise NotFoundError("no such channel webhook")
    challenge = adapter.challenge(request.query_params)
    if challenge is None:
        raise PermissionDeniedError("the webhook verification's mode or verify token is wrong")
    return PlainTextResponse(challenge)


@router.post("/{channel}/{tenant}/webhook", responses=error_responses(400, 401, 404, 413, 503),
             summary="Receive a chat platform's webhook (LINE, Telegram, WhatsApp, Messenger, Instagram), or a "
                     "forwarded raw mail (e-mail)")
async def webhook(channel: str, tenant: str, request: Request, services: ServicesDep) -> dict[str, int]:
    """Verified by the platform's signature (``X-Line-Signature``, ``X-Telegram-Bot-Api-Secret-Token``,
    ``X-Hub-Signature-256``; for e-mail, a raw RFC 822 message as a ``message/rfc822`` body signed
    ``X-Polydesk-Signature: sha256=<hex HMAC-SHA256(webhook_secret, body)>``, 404 without a ``webhook_secret``);
    answered as soon as the messages are queued."""
    adapter = services.channels.adapter(channel, tenant) if services.channels is not None else None
    if services.channels is None or adapter is None or (isinstance(adapter, Hooked) and not adapter.receives_webhooks):
        raise NotFoundError("no such channel webhook")
    body = await request.body()
    if not adapter.verify(body, request.headers):
        raise AuthenticationError("the webhook's signature is missing or wrong")
    try:
        received = services.channels.receive(adapter, tenant, body)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # signed, but not the platform's format
        raise InputError(f"not a {channel} webhook payload: {type(exc).__name__}") from None
    return {"queued": received.queued, "duplicates": received.duplicates}
