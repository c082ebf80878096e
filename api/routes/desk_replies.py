"""The desk's copilot and a person's replies: suggest, preview, send (``desk.copilot``, ``desk.replies``).

An agent (or admin) key works on its own tenant's conversations only: another tenant's conversation is not found.
Only the agent who holds a conversation may preview or send a reply to it (``409 conflict`` for another agent);
nothing reaches the customer until ``POST .../replies`` with a sendable preview.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from agent.schema import MAX_MESSAGE_CHARS, ConversationId, LanguageCode
from api.deps import DeskCaller, ServicesDep
from api.errors import error_responses
from desk.copilot import Suggestions, suggest
from desk.replies import Delivery, Replies, ReplyPreview
from polydesk.errors import NotFoundError

router = APIRouter(prefix="/v1/desk", tags=["desk"])

ConversationPath = Annotated[ConversationId, Path(description="the conversation's id")]
_ERRORS = error_responses(401, 403, 404, 409, 422, 429, 503)


class ReplyDraft(BaseModel):
    """What the agent wrote, in their own language (or the customer's)."""

    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=r"\S")
    language: LanguageCode | None = Field(
        default=None, description="the language of text; default: the customer's when the text is plainly in it, "
        "else the first language of the agent's key")


class ReplySend(BaseModel):
    preview_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="a sendable preview of this conversation")


def _replies(services: ServicesDep) -> Replies:
    return Replies(redis_client=services.redis, agent=services.agent, translator=services.runtime.translator,
                   desk=services.desk, channels=services.channels)


@router.get("/conversations/{conversation_id}/suggestions", response_model=Suggestions, responses=_ERRORS,
            summary="Suggest replies to the customer's latest message")
def suggestions(conversation_id: ConversationPath, caller: DeskCaller, services: ServicesDep) -> Suggestions:
    """Up to three replies grounded in the knowledge, with citations, in the customer's language and translated
    into the agent's; none (and a ``note`` saying why) when nothing answers with enough confidence. Nothing is
    stored or sent."""
    conversation = services.conversations.get(caller.tenant, conversation_id)
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} not found")
    return suggest(services.agent, services.runtime.translator, conversation,
                   agent_language=caller.languages[0] if caller.languages else None)


@router.post("/conversations/{conversation_id}/replies/preview", response_model=ReplyPreview, responses=_ERRORS,
             summary="Preview a reply as the customer will get it")
def preview(conversation_id: ConversationPath, draft: ReplyDraft, caller: DeskCaller,
            services: ServicesDep) -> ReplyPreview:
    """The agent's text translated into the customer's language and checked (forbidden terms, other people's
    contacts, cards, persona rules): the final text, a back-translation, the findings and whether it may be sent
    (``refusals`` say why not). Kept 15 minutes for ``POST .../replies``."""
    return _replies(services).preview(caller.tenant, conversation_id, _agent(caller), draft.text,
                                      languages=caller.languages, language=draft.language)


@router.post("/conversations/{conversation_id}/replies", response_model=Delivery, responses=_ERRORS,
             status_code=status.HTTP_202_ACCEPTED, summary="Send a previewed reply to the customer")
def send(conversation_id: ConversationPath, body: ReplySend, caller: DeskCaller, services: ServicesDep) -> Delivery:
    """Exactly the previewed text, through the conversation's channel (a chat platform's outbox, or the ``reply``
    event a connector delivers), recorded as the agent's turn. ``409`` with code ``channel_window_closed`` when the
    platform's window is shut (WhatsApp: 24 h after the customer's last message), ``reply_not_sendable`` for a
    preview with refusals; ``404`` ``preview_not_found`` for an expired or already sent one."""
    return _replies(services).send(caller.tenant, conversation_id, _agent(caller), body.preview_id)


def _agent(caller: DeskCaller) -> str:
    assert caller.agent_id is not None  # desk keys always name an agent (api.auth)
    return caller.agent_id
