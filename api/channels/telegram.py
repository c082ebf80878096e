"""Telegram Bot API: webhook updates in, ``sendMessage`` calls out.

* Authenticity: ``X-Telegram-Bot-Api-Secret-Token`` must equal the ``secret_token`` given to ``setWebhook``
  (compared in constant time).
* Payload: one ``Update``; its ``update_id`` is the event id (Telegram redelivers an unanswered update with
  the same id). ``message.text`` (or a media message's ``caption``, the media noted in the metadata) becomes a
  ``CustomerMessage``: conversation ``telegram-<chat.id>``, customer ``from.id``, ``from.language_code`` as
  the locale hint. Other updates (edits, channel posts, callbacks) are not answered.
* Replies: ``POST {api_base}/bot<token>/sendMessage`` with plain text (no ``parse_mode``: nothing to escape,
  nothing shown as symbols), at most 4096 UTF-16 units per message, one call per message.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from agent.schema import CustomerMessage
from api.channels.base import Inbound, SendCall, text_or_attachment
from api.channels.config import TelegramAccount
from api.channels.format import plain_text, split_text
from api.channels.transport import URL_SECRET
from personas.routing import Channel

SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_TEXT = 4096


_MEDIA = ("photo", "document", "video", "voice", "audio", "animation", "sticker", "location", "contact")


class TelegramAdapter:
    name = "telegram"

    def __init__(self, account: TelegramAccount) -> None:
        self.account = account

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        given = headers.get(SECRET_HEADER, "")
        expected = self.account.secret_token.get_secret_value()
        return bool(given) and hmac.compare_digest(given.encode(), expected.encode())

    def parse(self, body: bytes, *, received_at: float) -> list[Inbound]:
        update = json.loads(body)
        message: dict[str, Any] = update.get("message") or {}
        chat, sender = message.get("chat") or {}, message.get("from") or {}
        text = str(message.get("text") or message.get("caption") or "").strip()
        metadata = {"telegram_message_id": str(message.get("message_id", ""))}
        if media := next((kind for kind in _MEDIA if kind in message), None):
            metadata["attachment"] = media
        text = text_or_attachment(text, media, metadata)
        if "update_id" not in update or not text or "id" not in chat:
            return []
        language = sender.get("language_code")
        try:
            customer = CustomerMessage(
                channel=Channel.TELEGRAM, market=self.account.market, message=text[:4000],
                conversation_id=f"telegram-{chat['id']}", customer_id=str(sender.get("id", chat["id"])),
                locale=language if isinstance(language, str) and language else None, metadata=metadata,
            )
        except ValidationError:  # nothing a reader would see, or a locale that is no language tag
            return []
        return [Inbound(event_id=str(update["update_id"]), message=customer, context={"chat_id": str(chat["id"])})]

    def batches(self, text: str) -> list[list[str]]:
        return [[piece] for piece in split_text(plain_text(text), limit=MAX_TEXT)]

    def send_call(self, batch: list[str], *, index: int, context: Mapping[str, str], attempts: int,
                  key: str, now: float) -> SendCall:
        # The token goes into the URL on the wire only (api.channels.transport): never into a log line.
        return SendCall(f"{self.account.api_base}/bot{URL_SECRET}/sendMessage",
                        {"chat_id": context["chat_id"], "text": "\n".join(batch)}, {},
                        url_secret=self.account.bot_token.get_secret_value())
