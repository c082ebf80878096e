"""WhatsApp Cloud API: signed webhooks in, Graph API ``/{phone_number_id}/messages`` calls out.

The Meta parts, shared with ``api.channels.messenger`` (one copy, here):

* ``GET`` verification: the App Dashboard sends ``hub.mode=subscribe``, ``hub.verify_token`` (compared in
  constant time with the account's ``verify_token``) and ``hub.challenge``, echoed as text; anything else 403.
* Signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``, checked before parsing.
* The customer-service window: a free-form reply may go out only within 24 hours of the customer's last
  message; later, the reply is refused (``outside_24h_window``) and dead-lettered for a person to follow up
  (with an approved template, which polydesk does not send on its own).

WhatsApp itself:

* Payload: ``{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value":
  {"metadata": {"phone_number_id"}, "contacts", "messages": [...], "statuses": [...]}}]}]}``. A message of
  type ``text`` (``text.body``; or a media message's ``caption``, the media noted in the metadata) becomes a
  ``CustomerMessage``: customer ``from`` (the wa_id), conversation ``whatsapp-<phone_number_id>-<wa_id>``,
  market from the account's ``phone_numbers``; the message ``id`` (wamid) is its event id, so a redelivered
  webhook is answered once. ``statuses`` (sent, delivered, read) are ignored.
* Replies: plain text (WhatsApp shows ``*bold*``, not Markdown), at most 4096 characters per message, one
  ``POST {api_base}/{phone_number_id}/messages`` per message with ``Authorization: Bearer <access_token>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from agent.schema import CustomerMessage
from api.channels.base import Inbound, SendCall, text_or_attachment
from api.channels.config import MetaAccount, WhatsAppAccount
from api.channels.format import plain_text, split_text
from personas.routing import Channel

SIGNATURE_HEADER = "x-hub-signature-256"
MAX_TEXT = 4096
WINDOW_S = 24 * 3600.0
OUTSIDE_WINDOW = "outside_24h_window"
_MAX_CHALLENGE = 1024
_MEDIA = ("image", "video", "document", "audio", "sticker")


def meta_signature(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` Meta sends with ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class MetaWebhook:
    """The webhook side every Meta channel shares: signature, ``GET`` verification, the 24-hour window."""

    account: MetaAccount

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        given = headers.get(SIGNATURE_HEADER, "")
        expected = meta_signature(body, self.account.app_secret.get_secret_value())
        return bool(given) and hmac.compare_digest(given.encode(), expected.encode())

    def challenge(self, query: Mapping[str, str]) -> str | None:
        token, challenge = query.get("hub.verify_token", ""), query.get("hub.challenge", "")
        expected = self.account.verify_token.get_secret_value()
        matches = hmac.compare_digest(token.encode(), expected.encode())
        if query.get("hub.mode") != "subscribe" or not matches or not 0 < len(challenge) <= _MAX_CHALLENGE:
            return None
        return challenge

    def refusal(self, context: Mapping[str, str], *, now: float) -> str | None:
        silent_s = now - float(context.get("customer_at", now))
        if silent_s <= WINDOW_S:
            return None
        return (f"{OUTSIDE_WINDOW}: the customer's last message was {silent_s / 3600:.1f} h ago; the platform "
                "allows a free-form reply only within 24 h of it, so the reply was not sent (a person can follow "
                "up with an approved template)")


def customer_message(channel: Channel, market: str, text: str, *, conversation: str, customer: str,
                     metadata: dict[str, str]) -> CustomerMessage | None:
    """A Meta channel's ``CustomerMessage``; None for text with nothing a reader would see."""
    try:
        return CustomerMessage(channel=channel, market=market, message=text[:4000], conversation_id=conversation,
                               customer_id=customer, metadata={k: v[:512] for k, v in metadata.items()})
    except ValidationError:
        return None


class WhatsAppAdapter(MetaWebhook):
    name = "whatsapp"

    def __init__(self, account: WhatsAppAccount) -> None:
        self.account: WhatsAppAccount = account

    def parse(self, body: bytes, *, received_at: float) -> list[Inbound]:
        payload = json.loads(body)
        found: list[Inbound] = []
        for entry in payload.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                number = str((value.get("metadata") or {}).get("phone_number_id", ""))
                for message in value.get("messages") or []:  # value["statuses"]: delivery receipts, ignored
                    if inbound := self._message(message, number, received_at):
                        found.append(inbound)
        return found

    def _message(self, message: dict[str, Any], number: str, received_at: float) -> Inbound | None:
        kind, sender, message_id = message.get("type"), str(message.get("from", "")), message.get("id")
        metadata = {"whatsapp_message_id": str(message_id), "phone_number_id": number}
        if kind == "text":
            text = str((message.get("text") or {}).get("body") or "").strip()
        elif kind in _MEDIA:
            text, metadata["attachment"] = str((message.get(kind) or {}).get("caption") or "").strip(), str(kind)
        else:
            return None
        text = text_or_attachment(text, metadata.get("attachment"), metadata)
        market = self.account.market_for(number)
        if not text or not sender or not message_id or not number or market is None:
            return None
        customer = customer_message(Channel.WHATSAPP, market, text, conversation=f"whatsapp-{number}-{sender}",
                                    customer=sender, metadata=metadata)
        if customer is None:
            return None
        sent_at = float(message.get("timestamp") or received_at)
        return Inbound(event_id=str(message_id), message=customer,
                       context={"to": sender, "phone_number_id": number, "customer_at": repr(sent_at)})

    def batches(self, text: str) -> list[list[str]]:
        return [[piece] for piece in split_text(plain_text(text), limit=MAX_TEXT)]

    def send_call(self, batch: list[str], *, index: int, context: Mapping[str, str], attempts: int,
                  key: str, now: float) -> SendCall:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": context["to"],
                "type": "text", "text": {"preview_url": False, "body": "\n".join(batch)}}
        headers = {"Authorization": f"Bearer {self.account.access_token.get_secret_value()}"}
        return SendCall(f"{self.account.api_base}/{context['phone_number_id']}/messages", body, headers)
