"""``POST /v1/channels/{channel}/{tenant}/webhook``: where LINE, Telegram, WhatsApp, Messenger and Instagram
deliver their webhooks; ``GET`` on the same URL answers Meta's verification of it (``hub.challenge``).

These routes authenticate by the platform's signature, not by an API key (``api.guard`` lets them through
with the small unauthenticated body limit). The raw body is verified before anything is parsed: a bad or
missing signature is 401 and nothing happens; a tenant or channel that is not configured is 404, the same
for both, so the answer reveals nothing. A verified webhook is queued and answered 200 at once; the reply
follows in the background (``api.channels.service``). The ``GET`` echoes ``hub.challenge`` as text when
``hub.mode`` is ``subscribe`` and ``hub.verify_token`` is the account's (else 403); a channel without such a
verification (LINE, Telegram) is 404 there.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from api.channels.base import Challenged
from api.deps import ServicesDep
from api.errors import error_responses
from polydesk.errors import AuthenticationError, InputError, NotFoundError, PermissionDeniedError

router = APIRouter(prefix="/v1/channels", tags=["channels"])


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
             summary="Receive a chat platform's webhook (LINE, Telegram, WhatsApp, Messenger, Instagram)")
async def webhook(channel: str, tenant: str, request: Request, services: ServicesDep) -> dict[str, int]:
    """Verified by the platform's signature (``X-Line-Signature``, ``X-Telegram-Bot-Api-Secret-Token``,
    ``X-Hub-Signature-256``);
    answered as soon as the messages are queued."""
    adapter = services.channels.adapter(channel, tenant) if services.channels is not None else None
    if services.channels is None or adapter is None:
        raise NotFoundError("no such channel webhook")
    body = await request.body()
    if not adapter.verify(body, request.headers):
        raise AuthenticationError("the webhook's signature is missing or wrong")
    try:
        received = services.channels.receive(adapter, tenant, body)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # signed, but not the platform's format
        raise InputError(f"not a {channel} webhook payload: {type(exc).__name__}") from None
    return {"queued": received.queued, "duplicates": received.duplicates}
