"""What every chat-platform channel adapter offers (``line``, ``telegram``, ``whatsapp``, ``messenger``), and the
values it passes on.

An adapter is built for one tenant's account (``api.channels.config``) and does four things, none of them
touching Redis or the network itself:

1. ``verify(body, headers)``: the platform's signature on the raw bytes, before anything is parsed;
2. ``parse(body, ...)``: the payload as ``Inbound`` messages, each with the platform's event id (redeliveries
   share it) and the ``context`` a reply needs (the chat, a reply token);
3. ``batches(text)``: a reply's text formatted for the platform and split into its messages, grouped per call;
4. ``send_call(batch, ...)``: the HTTP call that sends one group (``SendCall``), for the outbox to make.

Some platforms ask for more (Meta's): ``Challenged`` adapters answer the platform's ``GET`` verification of
the webhook URL; ``Windowed`` adapters may only answer within a customer-service window and say why a reply
may not go out (it is then dead-lettered, for a person to follow up, instead of sent).

Some are no HTTP platform (e-mail): a ``SelfDelivering`` adapter sends a batch itself (SMTP) and says what
the attempt came to as the webhook delivery's ``Outcome``, which the outbox retries or dead-letters like any
other; a ``Hooked`` adapter says whether its webhook is open at all (e-mail's is only with a secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agent.schema import CustomerMessage
from agent.webhooks import Outcome


@dataclass(frozen=True)
class Inbound:
    """One customer message from a webhook: the platform's event id, the message, where to answer it."""

    event_id: str
    message: CustomerMessage
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendCall:
    """One POST to the platform. ``one_shot``: a refusal means "send it the other way next time" (a LINE reply
    token used up or expired), not a dead reply. ``url_secret``: a secret the platform wants in the URL (the
    Telegram bot token), which ``url`` holds as ``URL_SECRET`` and only the transport puts in
    (``api.channels.transport``), so no log line ever shows it."""

    url: str
    json: dict[str, Any]
    headers: dict[str, str]
    one_shot: bool = False
    url_secret: str = field(default="", repr=False)


class ChannelAdapter(Protocol):
    name: str

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool: ...

    def parse(self, body: bytes, *, received_at: float) -> list[Inbound]: ...

    def batches(self, text: str) -> list[list[str]]: ...

    def send_call(self, batch: list[str], *, index: int, context: Mapping[str, str], attempts: int,
                  key: str, now: float) -> SendCall: ...


@runtime_checkable
class Challenged(Protocol):
    def challenge(self, query: Mapping[str, str]) -> str | None:
        """The text to echo for the platform's verification ``GET`` (its query), or None to refuse it (403)."""


@runtime_checkable
class Windowed(Protocol):
    def refusal(self, context: Mapping[str, str], *, now: float) -> str | None:
        """Why a reply to the message of ``context`` may not be sent at ``now`` (``"<reason>: <detail>"``);
        None when it may."""


@runtime_checkable
class SelfDelivering(Protocol):
    def deliver(self, batch: list[str], *, index: int, context: Mapping[str, str], key: str) -> Outcome:
        """Send one batch (not by HTTP); ``key`` is the same on every retry of it, so that a resend can be
        recognised as one. ``Outcome``: delivered, retry (with ``unreachable`` when the server is), rejected."""


@runtime_checkable
class Hooked(Protocol):
    @property
    def receives_webhooks(self) -> bool:
        """False when this account takes no webhook (its route answers 404, nothing read)."""


MEDIA_ONLY = "media_only"  # metadata flag: the customer sent an attachment (photo, voice, ...) without text


def text_or_attachment(text: str, attachment: str | None, metadata: dict[str, str]) -> str:
    """The text to queue: ``text``, or for an attachment without text ``"[<kind>]"`` flagged ``MEDIA_ONLY`` in
    ``metadata`` (the service answers that it reads text only, instead of leaving the customer unanswered)."""
    if text or not attachment:
        return text
    metadata[MEDIA_ONLY] = "true"
    return f"[{attachment}]"
