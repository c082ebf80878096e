"""LINE Messaging API: signed webhooks in, reply or push calls out.

* Signature: ``X-Line-Signature`` = base64(HMAC-SHA256(channel secret, raw body)), compared in constant time.
* Payload: ``{"destination", "events": [...]}``; an empty ``events`` list is the console's connection check.
  A ``message`` event of type ``text`` (``mode`` ``active``) becomes a ``CustomerMessage``: conversation
  ``line-<userId|groupId|roomId>``, customer ``source.userId``; ``webhookEventId`` is its event id
  (``deliveryContext.isRedelivery`` marks a redelivery, answered once by that id). Other message types
  (stickers, images, ...) carry no text to answer and are skipped.
* Replies: plain text (LINE shows no Markdown), at most 5000 characters per message and 5 messages per call.
  The first call of a reply uses ``replyToken`` (``POST /v2/bot/message/reply``) once, within
  ``REPLY_TOKEN_LIFETIME_S`` of receipt; every other call, and every retry, is a push
  (``POST /v2/bot/message/push``) with an ``X-Line-Retry-Key`` so that LINE sends a retried push only once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from agent.schema import CustomerMessage
from api.channels.base import Inbound, SendCall, text_or_attachment
from api.channels.config import LineAccount
from api.channels.format import plain_text, split_text
from personas.routing import Channel

SIGNATURE_HEADER = "x-line-signature"
MAX_TEXT = 5000
MAX_MESSAGES_PER_CALL = 5
REPLY_TOKEN_LIFETIME_S = 50.0  # LINE: about one minute; a margin for the queue and clocks


def signature(body: bytes, channel_secret: str) -> str:
    """The ``X-Line-Signature`` LINE sends with ``body``."""
    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()


_KINDS = ("text", "image", "video", "audio", "file", "location", "sticker")  # a message event's message types


class LineAdapter:
    name = "line"

    def __init__(self, account: LineAccount) -> None:
        self.account = account

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        given = headers.get(SIGNATURE_HEADER, "")
        expected = signature(body, self.account.channel_secret.get_secret_value())
        return bool(given) and hmac.compare_digest(given.encode(), expected.encode())

    def parse(self, body: bytes, *, received_at: float) -> list[Inbound]:
        payload = json.loads(body)
        return [inbound for event in payload.get("events") or [] if (inbound := self._message(event, received_at))]

    def _message(self, event: dict[str, Any], received_at: float) -> Inbound | None:
        message, source = event.get("message") or {}, event.get("source") or {}
        kind = str(message.get("type") or "")
        metadata = {} if kind == "text" else {"attachment": kind}
        text = text_or_attachment(str(message.get("text") or "").strip(), metadata.get("attachment"), metadata)
        if event.get("type") != "message" or kind not in _KINDS or not text:
            return None
        if event.get("mode", "active") != "active":  # standby: another channel answers this chat
            return None
        chat = source.get("groupId") or source.get("roomId") or source.get("userId")
        if not chat:
            return None
        redelivery = bool((event.get("deliveryContext") or {}).get("isRedelivery"))
        context = {"to": str(chat), "received_at": repr(received_at)}
        if event.get("replyToken") and not redelivery:
            context["reply_token"] = str(event["replyToken"])
        try:
            customer = CustomerMessage(
                channel=Channel.LINE, market=self.account.market, message=text[:4000],
                conversation_id=f"line-{chat}", customer_id=str(source.get("userId") or chat),
                metadata={**metadata, "line_message_id": str(message.get("id", ""))[:512],
                          "line_source": str(source.get("type"))},
            )
        except ValidationError:  # nothing a reader would see (only invisible characters): nothing to answer
            return None
        return Inbound(event_id=str(event.get("webhookEventId") or message.get("id")), message=customer,
                       context=context)

    def batches(self, text: str) -> list[list[str]]:
        pieces = split_text(plain_text(text), limit=MAX_TEXT)
        return [pieces[i:i + MAX_MESSAGES_PER_CALL] for i in range(0, len(pieces), MAX_MESSAGES_PER_CALL)]

    def send_call(self, batch: list[str], *, index: int, context: Mapping[str, str], attempts: int,
                  key: str, now: float) -> SendCall:
        messages = [{"type": "text", "text": text} for text in batch]
        headers = {"Authorization": f"Bearer {self.account.access_token.get_secret_value()}"}
        token = context.get("reply_token")
        fresh = now - float(context.get("received_at", "0")) < REPLY_TOKEN_LIFETIME_S
        if token and index == 0 and attempts == 0 and fresh:
            return SendCall(f"{self.account.api_base}/v2/bot/message/reply",
                            {"replyToken": token, "messages": messages}, headers, one_shot=True)
        headers["X-Line-Retry-Key"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"polydesk:{key}:{index}"))
        return SendCall(f"{self.account.api_base}/v2/bot/message/push", {"to": context["to"], "messages": messages},
                        headers)
