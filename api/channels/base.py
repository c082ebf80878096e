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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agent.schema import CustomerMessage


@dataclass(frozen=True)
class Inbound:
    """One customer message from a webhook: the platform's event id, the message, where to answer it."""

    event_id: str
    message: CustomerMessage
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendCall:
    """One POST to the platform. ``one_shot``: a refusal means "send it the other way next time" (a LINE reply
    token used up or expired), not a dead reply."""

    url: str
    json: dict[str, Any]
    headers: dict[str, str]
    one_shot: bool = False


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
