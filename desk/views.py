"""A handed-off conversation as a person at the desk reads it, in their language.

``conversation_view`` gathers every turn of the conversation and, when the customer's identities are linked in
a profile (``agent.profiles``), the turns of their other conversations too, merged in time order, each marked
with its channel and conversation. Each customer turn keeps its original text and carries, beside it, its
translation into the agent's first language (``agent.translation``: the quality flag and note say when no engine
could translate, and the original is all there is). The handoff's reason and summary come with it (the summary
translated the same way), with the desk item (state, assignee, times) and the internal notes.

Translations are cached in Redis by a hash of (source, target, text), per tenant, as long as conversations are
kept, so a view does not translate again what it translated before; only real translations are cached (one
``unavailable`` may be available once an engine is configured).

Example:
    >>> view = conversation_view(desk, profiles, translator, "tidewell", "c-1", languages=("zh", "en"))
    ... # doctest: +SKIP
    >>> view.turns[0].translation.quality
    'translated'
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, Field

from agent.profiles import Identity, ProfileStore, profile_history
from agent.state import Conversation
from agent.translation import Translator
from desk.copilot import TranslationView
from desk.store import DeskItem, DeskNote, DeskStore
from polydesk.errors import InputError, NotFoundError
from polydesk.redisdb import redis_errors

CACHE_PREFIX = "polydesk:desk:translation"
HISTORY_CONVERSATIONS = 20  # of a linked customer's other conversations, the latest shown
SUMMARY_LANGUAGE = "en"  # agent.escalation.summary writes its frame in English


class DeskTurn(BaseModel):
    role: str = Field(description="customer, bot or human")
    text: str = Field(description="as written: the original")
    language: str
    at: float
    channel: str
    conversation_id: str
    translation: TranslationView | None = Field(default=None, description="customer turns: the text in the agent's "
                                                "language, with its quality")


class DeskConversationView(BaseModel):
    item: DeskItem
    agent_language: str
    reason: str | None
    summary: str | None = Field(description="the handoff summary as written")
    summary_translation: TranslationView | None = Field(description="the summary in the agent's language")
    turns: list[DeskTurn] = Field(description="oldest first, across the customer's linked channels")
    notes: list[DeskNote]


class CachedTranslator:
    """``Translator.translate`` behind a per-tenant Redis cache of real translations."""

    def __init__(self, desk: DeskStore, translator: Translator) -> None:
        self.desk, self.translator = desk, translator

    def translate(self, tenant: str, text: str, source: str, target: str, *,
                  customer_id: str | None = None) -> TranslationView:
        digest = hashlib.sha256(json.dumps([source, target, text], ensure_ascii=False).encode()).hexdigest()
        key = f"{CACHE_PREFIX}:{tenant}:{digest}"
        client = self.desk.redis
        with redis_errors("read a cached translation"):
            cached = client.get(key)
        if cached is not None:
            return TranslationView.model_validate_json(cached)
        done = self.translator.translate(text, source, target)
        view = TranslationView(text=done.text, language=done.target, quality=done.quality, engine=done.engine,
                               note=done.note)
        if done.quality == "translated":
            with redis_errors("cache the translation"), client.pipeline(transaction=True) as pipe:
                pipe.set(key, view.model_dump_json(), ex=self.desk.conversations.ttl_s)
                if customer_id is not None:  # the customer's words, in another language: erased with them
                    self.desk.conversations.link_customer(pipe, tenant, customer_id, key)
                pipe.execute()
        return view


def _history(desk: DeskStore, profiles: ProfileStore, conversation: Conversation) -> list[Conversation]:
    """The conversation, and the customer's other conversations when a profile links their identities."""
    if conversation.customer_id is None:
        return [conversation]
    try:
        profile = profiles.resolve(conversation.tenant, Identity.model_validate(
            {"channel": conversation.channel, "customer_id": conversation.customer_id}))
    except (ValueError, InputError):  # a channel or id no profile can hold
        profile = None
    if profile is None:
        return [conversation]
    others, _ = profile_history(desk.conversations, profile, limit=HISTORY_CONVERSATIONS)
    return [conversation, *(c for c in others if c.id != conversation.id)]


def conversation_view(desk: DeskStore, profiles: ProfileStore, translator: Translator, tenant: str,
                      conversation_id: str, *, languages: tuple[str, ...]) -> DeskConversationView:
    """The conversation on the desk as an agent reading ``languages`` sees it; ``NotFoundError`` when it is not
    on the tenant's desk."""
    item = desk.get(tenant, conversation_id)
    conversation = desk.conversations.get(tenant, conversation_id)
    if item is None or conversation is None:
        raise NotFoundError(f"no conversation {conversation_id!r} on the desk")
    target = languages[0] if languages else "en"
    cached = CachedTranslator(desk, translator)
    turns = [
        DeskTurn(role=turn.role, text=turn.text, language=turn.language, at=turn.at, channel=source.channel,
                 conversation_id=source.id,
                 translation=cached.translate(tenant, turn.text, turn.language, target,
                                              customer_id=source.customer_id) if turn.role == "customer" else None)
        for source in _history(desk, profiles, conversation) for turn in source.turns]
    turns.sort(key=lambda turn: turn.at)
    summary = item.summary
    return DeskConversationView(
        item=item, agent_language=target, reason=item.reason, summary=summary,
        summary_translation=cached.translate(tenant, summary, SUMMARY_LANGUAGE, target,
                                             customer_id=item.customer_id) if summary else None,
        turns=turns, notes=desk.notes(tenant, conversation_id))
