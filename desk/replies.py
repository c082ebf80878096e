"""A person's reply to a customer: written in the agent's language, previewed as the customer will get it, then sent.

``Replies.preview`` turns the agent's text into what would go out, and says whether it may:

1. the conversation's assignee only (``DeskStore.require_assignee``: another agent gets a conflict);
2. the text's language: the one the agent names, else the customer's when the text is plainly written in it
   (an agent who writes in the customer's language needs no translation), else the agent's first language;
3. translated into the customer's language (``agent.translation.Translator``). When no engine can translate it
   (quality ``unavailable``) the preview is **not sendable**: polydesk never sends a text the customer may not
   read, and never silently; the agent writes the reply in the customer's language instead (or picks a copilot
   suggestion, which already is), and previews again;
4. the checks every text sent to a customer passes (``agent.guardrails``: the market's forbidden terms and the
   persona's avoid-phrases, emoji policy and length; ``agent.outbound.check_outbound``: another customer's e-mail
   or phone, any card number). Repairs of style (a forbidden sentence removed, an emoji dropped) are shown in
   ``text``, which is exactly what will be sent. A contact or card that had to be masked, a paragraph in the wrong
   language, or a text replaced altogether makes the preview not sendable (``refusals`` say why): the agent
   rewrites it rather than send "[EMAIL]" to a customer;
5. translated back into the agent's language when it was translated, so the agent can check the meaning.

The preview is kept in Redis for ``ttl_s`` (15 minutes) under the tenant, the conversation and its id.

``Replies.send`` sends a sendable preview of this conversation, by the agent who made it and still holds the
conversation, with exactly the previewed text, once (the preview is consumed). Under the conversation's lock it
delivers the text through the conversation's channel: a chat channel's outbox (``ChannelSender``, the channel
connectors; a platform window that is shut, such as WhatsApp's 24 hours, refuses it with the platform's reason and
nothing is sent or consumed), or, for a conversation of a connector outside polydesk (the HTTP API, the widget),
the ``reply`` event on the events stream that carries the text. Either way the reply is recorded as a ``human``
turn, saved with its ``reply`` event (agent id and text) in one transaction, and the desk notes it
(``DeskStore.record_reply``).

Example:
    >>> replies = Replies(redis_client=client, agent=agent, translator=translator, desk=desk,   # doctest: +SKIP
    ...                   channels=channels)
    >>> preview = replies.preview("tidewell", "line-U1", "agent-7", "您的包裹明天到。", languages=["zh"])
    >>> preview.language, preview.sendable
    ('th', True)
    >>> replies.send("tidewell", "line-U1", "agent-7", preview.preview_id).via
    'channel'
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal, Protocol

import redis
from pydantic import BaseModel, Field

from agent.events import HandoffEvent
from agent.guardrails import GuardrailContext
from agent.pipeline import Agent
from agent.schema import GuardrailFinding, Turn
from agent.state import Conversation
from agent.translation import Translation, Translator
from desk.copilot import TranslationView, customer_language
from desk.store import DeskStore
from polydesk.errors import ConflictError, NotFoundError
from polydesk.language import language_family
from polydesk.redisdb import redis_errors

PREVIEW_PREFIX = "polydesk:desk:preview"
PREVIEW_TTL_S = 15 * 60
NOT_SENDABLE = "reply_not_sendable"  # error codes
PREVIEW_NOT_FOUND = "preview_not_found"
# Findings that stop a reply: it would reach the customer broken ("[EMAIL]") or not as the agent meant it.
_BLOCKING_RULES = frozenset({"pii", "prompt_echo", "language"})
# How sure the detector must be before a text counts as written in the customer's language.
_SURE = 0.9


class ChannelSender(Protocol):
    """The chat channels, as replies need them (``api.channels.service.ChannelService``)."""

    def reply_context(self, tenant: str, conversation_id: str) -> tuple[str, dict[str, str]] | None: ...

    def send_reply(self, tenant: str, conversation_id: str, text: str) -> str: ...


class ReplyPreview(BaseModel):
    preview_id: str
    conversation_id: str
    agent_id: str
    original: str = Field(description="what the agent wrote")
    original_language: str
    language: str = Field(description="the customer's language: the language of text")
    text: str = Field(description="exactly what send delivers")
    translation: TranslationView = Field(description="the translation of the original into the customer's language")
    back_translation: TranslationView | None = Field(
        default=None, description="text translated back into the agent's language, when it was translated")
    findings: list[GuardrailFinding] = Field(default_factory=list)
    sendable: bool
    refusals: list[str] = Field(default_factory=list, description="why it may not be sent, when it may not")
    expires_at: datetime


class Delivery(BaseModel):
    conversation_id: str
    via: Literal["channel", "event"] = Field(description="a chat channel's outbox, or the events stream")
    channel: str = Field(description="the channel it goes out on")
    reply_id: str | None = Field(default=None, description="the outbox's reply id (chat channels)")
    event_id: str = Field(description="the 'reply' event on the stream (the connector's delivery when via=event)")
    text: str
    language: str
    sent_at: datetime


class Replies:
    """Previews and sends a person's replies; built on resources it is handed (it closes none)."""

    def __init__(self, *, redis_client: redis.Redis, agent: Agent, translator: Translator, desk: DeskStore,
                 channels: ChannelSender | None, ttl_s: int = PREVIEW_TTL_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis, self.agent, self.translator, self.desk = redis_client, agent, translator, desk
        self.conversations = agent.conversations
        self.channels, self.ttl_s, self.clock = channels, ttl_s, clock

    def preview(self, tenant: str, conversation_id: str, agent_id: str, text: str, *, languages: Sequence[str],
                language: str | None = None) -> ReplyPreview:
        """What ``text`` (in ``language``, else see the module) becomes for the customer, kept for ``send``."""
        self.desk.require_assignee(tenant, conversation_id, agent_id)
        conversation = self._conversation(tenant, conversation_id)
        resolved = self.agent.catalog.resolve(tenant=tenant, channel=conversation.channel, market=conversation.market)
        target = customer_language(conversation, resolved.market.default_language)
        source = language or self._written_in(text, target, languages, market=conversation.market)
        translation = self.translator.translate(text, source, target)
        refusals = []
        if translation.quality == "unavailable":
            refusals.append(f"translation_unavailable: {translation.note}. Write the reply in the customer's "
                            f"language ({target}) and preview it again")
        context = GuardrailContext(persona=resolved.persona, market=resolved.market, language=target,
                                   max_body_chars=resolved.persona.max_reply_chars,
                                   customer_texts=[t.text for t in conversation.turns if t.role == "customer"])
        checked = self.agent.guardrails.check(translation.text, context)
        refusals += [f"{f.rule}: {f.detail}" for f in checked.findings
                     if f.rule in _BLOCKING_RULES or f.action == "replaced"]
        back = (self.translator.translate(checked.body, target, source)
                if translation.quality == "translated" else None)
        preview = ReplyPreview(
            preview_id=uuid.uuid4().hex, conversation_id=conversation_id, agent_id=agent_id, original=text,
            original_language=source, language=target, text=checked.body, translation=_view(translation),
            back_translation=_view(back) if back is not None else None, findings=checked.findings,
            sendable=not refusals, refusals=refusals,
            expires_at=datetime.fromtimestamp(self.clock() + self.ttl_s, UTC))
        key = self._key(tenant, conversation_id, preview.preview_id)
        with redis_errors("keep the reply preview"), self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, preview.model_dump_json(), ex=self.ttl_s)
            if conversation.customer_id is not None:  # erasing the customer erases it too
                self.conversations.link_customer(pipe, tenant, conversation.customer_id, key)
            pipe.execute()
        return preview

    def send(self, tenant: str, conversation_id: str, agent_id: str, preview_id: str) -> Delivery:
        """Deliver the preview's text to the customer and record it (see the module); errors: ``NotFoundError``
        (no such conversation, or the preview expired or was sent), ``ConflictError`` (not the assignee, not
        sendable, or the channel's window is shut)."""
        item = self.desk.require_assignee(tenant, conversation_id, agent_id)
        key = self._key(tenant, conversation_id, preview_id)
        with self.conversations.lock(tenant, conversation_id):
            with redis_errors("read the reply preview"):
                raw = self.redis.get(key)
            if raw is None:
                raise NotFoundError(f"preview {preview_id} is unknown, expired or already sent; preview the reply "
                                    "again", code=PREVIEW_NOT_FOUND)
            preview = ReplyPreview.model_validate_json(raw)
            if preview.agent_id != agent_id:
                raise ConflictError("this preview was made by another agent; preview your reply yourself",
                                    code=NOT_SENDABLE)
            if not preview.sendable:
                raise ConflictError("the reply may not be sent: " + "; ".join(preview.refusals), code=NOT_SENDABLE)
            conversation = self._conversation(tenant, conversation_id)
            channel, reply_id = conversation.channel, None
            known = self.channels.reply_context(tenant, conversation_id) if self.channels is not None else None
            if self.channels is not None and known is not None:
                channel, reply_id = known[0], self.channels.send_reply(tenant, conversation_id, preview.text)
            with redis_errors("consume the reply preview"):
                self.redis.delete(key)
            now = self.clock()
            conversation.add(Turn(role="human", text=preview.text, language=preview.language, at=now),
                             max_turns=self.conversations.max_turns)
            event = HandoffEvent(type="reply", tenant=tenant, conversation_id=conversation_id,
                                 customer_id=conversation.customer_id, market=conversation.market,
                                 channel=conversation.channel, language=preview.language, queue=item.queue,
                                 priority=item.priority, agent_id=agent_id, text=preview.text)
            self.conversations.save(conversation, events=[event])
        self.desk.record_reply(tenant, conversation_id, agent_id, at=now)
        return Delivery(conversation_id=conversation_id, via="channel" if reply_id else "event", channel=channel,
                        reply_id=reply_id, event_id=event.id, text=preview.text, language=preview.language,
                        sent_at=datetime.fromtimestamp(now, UTC))

    def _conversation(self, tenant: str, conversation_id: str) -> Conversation:
        conversation = self.conversations.get(tenant, conversation_id)
        if conversation is None:
            raise NotFoundError(f"conversation {conversation_id} not found")
        return conversation

    def _written_in(self, text: str, customer: str, languages: Sequence[str], *, market: str) -> str:
        """The customer's language when ``text`` is plainly in it, else the agent's first language."""
        detected, score = self.agent.language.detector.detect_with_score(text, market=market)
        if score >= _SURE and language_family(detected) == language_family(customer):
            return customer
        return languages[0] if languages else customer

    @staticmethod
    def _key(tenant: str, conversation_id: str, preview_id: str) -> str:
        return f"{PREVIEW_PREFIX}:{tenant}:{conversation_id}:{preview_id}"


def _view(translation: Translation) -> TranslationView:
    return TranslationView(text=translation.text, language=translation.target, quality=translation.quality,
                           engine=translation.engine, note=translation.note)
