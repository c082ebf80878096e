"""Messenger and Instagram messaging (Meta): signed webhooks in, Send API calls out.

The signature (``X-Hub-Signature-256``), the ``GET`` verification and the 24-hour window are Meta's, shared with
WhatsApp (``api.channels.whatsapp.MetaWebhook``). One adapter serves both products, as the channels
``messenger`` (a Facebook Page) and ``instagram`` (an Instagram professional account linked to a Page):

* Payload: ``{"object": "page" | "instagram", "entry": [{"id", "time", "messaging": [{"sender": {"id"},
  "recipient": {"id"}, "timestamp", "message": {"mid", "text"}}]}]}``. A text message becomes a
  ``CustomerMessage``: customer ``sender.id`` (the page-scoped id, PSID), conversation
  ``<channel>-<page id>-<PSID>``; ``message.mid`` is its event id (a redelivery is answered once). Echoes of
  the Page's own messages (``message.is_echo``), deliveries, reads and postbacks are not answered; an
  attachment without text gets a request to say it in words (``base.text_or_attachment``).
* Replies: ``POST {api_base}/me/messages`` with ``{"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
  "message": {"text": ...}}`` and the Page access token, plain text, at most 2000 characters per message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from api.channels.base import Inbound, SendCall, text_or_attachment
from api.channels.config import MessengerAccount
from api.channels.format import plain_text, split_text
from api.channels.whatsapp import MetaWebhook, customer_message
from personas.routing import Channel

MAX_TEXT = 2000


class MessengerAdapter(MetaWebhook):
    def __init__(self, account: MessengerAccount, *, name: str = "messenger") -> None:
        self.account: MessengerAccount = account
        self.name = name

    def parse(self, body: bytes, *, received_at: float) -> list[Inbound]:
        payload = json.loads(body)
        return [inbound for entry in payload.get("entry") or [] for event in entry.get("messaging") or []
                if (inbound := self._message(event, received_at))]

    def _message(self, event: dict[str, Any], received_at: float) -> Inbound | None:
        message = event.get("message") or {}
        psid, page = str((event.get("sender") or {}).get("id", "")), str((event.get("recipient") or {}).get("id", ""))
        text, mid = str(message.get("text") or "").strip(), message.get("mid")
        metadata = {f"{self.name}_message_id": str(mid), "page_id": page}
        if message.get("attachments"):
            metadata["attachment"] = str(message["attachments"][0].get("type", "file"))
        text = text_or_attachment(text, metadata.get("attachment"), metadata)
        if message.get("is_echo") or not text or not mid or not psid or not page:
            return None
        customer = customer_message(Channel.MESSENGER, self.account.market, text,
                                    conversation=f"{self.name}-{page}-{psid}", customer=psid, metadata=metadata)
        if customer is None:
            return None
        timestamp = event.get("timestamp")  # milliseconds
        sent_at = float(timestamp) / 1000 if isinstance(timestamp, int | float) else received_at
        return Inbound(event_id=str(mid), message=customer, context={"psid": psid, "customer_at": repr(sent_at)})

    def batches(self, text: str) -> list[list[str]]:
        return [[piece] for piece in split_text(plain_text(text), limit=MAX_TEXT)]

    def send_call(self, batch: list[str], *, index: int, context: Mapping[str, str], attempts: int,
                  key: str, now: float) -> SendCall:
        body = {"recipient": {"id": context["psid"]}, "messaging_type": "RESPONSE",
                "message": {"text": "\n".join(batch)}}
        headers = {"Authorization": f"Bearer {self.account.access_token.get_secret_value()}"}
        return SendCall(f"{self.account.api_base}/me/messages", body, headers)
