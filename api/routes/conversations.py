"""Conversations for admins: read one (turns, language, owner, handoffs) and hand it back to the bot."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, Field

from agent.schema import ConversationId, Turn
from agent.state import Conversation, Handoff
from api.deps import AdminCaller, ServicesDep
from api.errors import error_responses
from polydesk.errors import NotFoundError

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])
ConversationPath = Annotated[ConversationId, Path(description="the conversation id a reply returned")]


class ConversationPublic(BaseModel):
    id: str
    market: str
    channel: str
    customer_id: str | None
    language: str | None
    persona_id: str | None
    owner: str = Field(description="'bot', or 'human' while handed off")
    turns: list[Turn]
    handoffs: list[Handoff]
    created_at: float
    updated_at: float
    expires_in_s: int | None = Field(description="seconds until the conversation is forgotten")

    @classmethod
    def of(cls, conversation: Conversation, expires_in_s: int | None) -> ConversationPublic:
        return cls(**conversation.model_dump(include=set(cls.model_fields) - {"expires_in_s"}),
                   expires_in_s=expires_in_s)


class ReleaseBody(BaseModel):
    actor: str | None = Field(default=None, max_length=128, description="who hands it back, e.g. a desk agent id")


@router.get("/{conversation_id}", response_model=ConversationPublic, responses=error_responses(401, 403, 404, 503))
def get_conversation(conversation_id: ConversationPath, caller: AdminCaller,
                     services: ServicesDep) -> ConversationPublic:
    store = services.conversations
    conversation = store.get(caller.tenant, conversation_id)
    if conversation is None:
        raise NotFoundError(f"no conversation {conversation_id!r}")
    return ConversationPublic.of(conversation, store.ttl(caller.tenant, conversation_id))


@router.post("/{conversation_id}/release", response_model=ConversationPublic,
             responses=error_responses(401, 403, 404, 409, 503))
def release(conversation_id: ConversationPath, caller: AdminCaller, services: ServicesDep,
            body: Annotated[ReleaseBody | None, Body()] = None) -> ConversationPublic:
    """Hand a conversation a person owns back to the bot (409 ``conflict`` when no person owns it)."""
    actor = (body.actor if body else None) or f"key:{caller.key_id}"
    conversation = services.agent.release(caller.tenant, conversation_id, actor=actor)
    return ConversationPublic.of(conversation, services.conversations.ttl(caller.tenant, conversation_id))
