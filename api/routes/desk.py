"""The desk: handed-off conversations for the people who take them (agent keys, and admin keys acting as agents).

Every route reads the caller's tenant only: an item of another tenant is a 404 like one that does not exist.
Each request first applies the events published since the last one (``DeskStore.sync``), so a handoff shows
up in the inbox as soon as it is on the stream.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, Field

from agent.events import ReleaseOutcome
from agent.schema import ConversationId
from api.auth import Caller
from api.deps import DeskCaller, Services, ServicesDep
from api.errors import error_responses
from desk.agents import AgentAccount, AgentId
from desk.store import DeskItem, DeskNote, DeskStats, DeskStore
from desk.views import DeskConversationView, conversation_view
from polydesk.errors import NotFoundError

router = APIRouter(prefix="/v1/desk", tags=["desk"])
ConversationPath = Annotated[ConversationId, Path(description="the handed-off conversation's id")]
MAX_NOTE_CHARS = 4000


class DeskItemPublic(DeskItem):
    waiting_s: float = Field(description="seconds since the handoff (until it was released)")

    @classmethod
    def of(cls, item: DeskItem, now: float) -> DeskItemPublic:
        return cls(**item.model_dump(exclude={"first_response_s", "handling_s"}),
                   waiting_s=round(item.waited_s(now), 3))


class Inbox(BaseModel):
    items: list[DeskItemPublic] = Field(description="urgent first, then the longest waiting")


class ReassignBody(BaseModel):
    agent_id: AgentId = Field(description="the agent who takes it over")


class NoteBody(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS, description="for the desk only: never sent")


class ReleaseBody(BaseModel):
    outcome: ReleaseOutcome = Field(description="resolved, returned_to_bot or spam")


class Agents(BaseModel):
    agents: list[AgentAccount]


def _synced(services: Services) -> DeskStore:
    desk = services.desk
    desk.sync()
    return desk


def _agent_id(caller: Caller) -> str:
    assert caller.agent_id is not None  # every desk caller has one (api.auth)
    return caller.agent_id


def _known_agents(services: Services, tenant: str) -> list[AgentAccount]:
    keyed = [(c.agent_id, c.languages) for c in services.keys.agents(tenant) if c.agent_id is not None]
    return services.desk_agents.agents(tenant, keyed)


@router.get("/conversations", response_model=Inbox, summary="The desk's inbox",
            responses=error_responses(401, 403, 503))
def inbox(caller: DeskCaller, services: ServicesDep,
          queue: Annotated[str | None, Query(max_length=64, description="only this queue")] = None,
          state: Annotated[Literal["waiting", "assigned", "mine"] | None,
                           Query(description="waiting, assigned, or mine (assigned to the caller); default: "
                                             "every open one")] = None) -> Inbox:
    """The tenant's handed-off conversations, urgent first and then the longest waiting."""
    items = _synced(services).inbox(caller.tenant, queue=queue, state="assigned" if state == "mine" else state,
                                    agent_id=_agent_id(caller) if state == "mine" else None)
    now = time.time()
    return Inbox(items=[DeskItemPublic.of(item, now) for item in items])


@router.get("/conversations/{conversation_id}", response_model=DeskConversationView,
            summary="A conversation as the agent reads it", responses=error_responses(401, 403, 404, 503))
def view(conversation_id: ConversationPath, caller: DeskCaller, services: ServicesDep) -> DeskConversationView:
    """Every turn (across the customer's linked channels), each customer message beside its translation into the
    agent's first language, the handoff reason and summary, the desk item and the internal notes."""
    return conversation_view(_synced(services), services.profiles, services.runtime.translator, caller.tenant,
                             conversation_id, languages=caller.languages)


@router.post("/conversations/{conversation_id}/claim", response_model=DeskItemPublic, summary="Claim a conversation",
             responses=error_responses(401, 403, 404, 409, 503))
def claim(conversation_id: ConversationPath, caller: DeskCaller, services: ServicesDep) -> DeskItemPublic:
    """Take a waiting conversation. Of agents claiming at once exactly one wins; the others get 409 ``conflict``."""
    now = time.time()
    return DeskItemPublic.of(_synced(services).claim(caller.tenant, conversation_id, _agent_id(caller), at=now), now)


@router.post("/conversations/{conversation_id}/reassign", response_model=DeskItemPublic,
             summary="Pass a conversation to another agent", responses=error_responses(401, 403, 404, 409, 422, 503))
def reassign(conversation_id: ConversationPath, body: ReassignBody, caller: DeskCaller,
             services: ServicesDep) -> DeskItemPublic:
    """The agent who holds it (or an admin, for any open one) gives it to another agent of the tenant."""
    desk = _synced(services)
    if caller.role != "admin":
        desk.require_assignee(caller.tenant, conversation_id, _agent_id(caller))
    if body.agent_id not in {agent.id for agent in _known_agents(services, caller.tenant)}:
        raise NotFoundError(f"no agent {body.agent_id!r} at the desk")
    now = time.time()
    return DeskItemPublic.of(desk.reassign(caller.tenant, conversation_id, body.agent_id, by=_agent_id(caller),
                                           at=now), now)


@router.post("/conversations/{conversation_id}/notes", response_model=DeskNote, status_code=status.HTTP_201_CREATED,
             summary="Add an internal note", responses=error_responses(401, 403, 404, 422, 503))
def add_note(conversation_id: ConversationPath, body: NoteBody, caller: DeskCaller,
             services: ServicesDep) -> DeskNote:
    """A note for the people at the desk, kept with the conversation; never sent to the customer."""
    return _synced(services).add_note(caller.tenant, conversation_id, _agent_id(caller), body.text, at=time.time())


@router.post("/conversations/{conversation_id}/release", response_model=DeskItemPublic,
             summary="Release a conversation to the bot", responses=error_responses(401, 403, 404, 409, 422, 503))
def release(conversation_id: ConversationPath, body: ReleaseBody, caller: DeskCaller,
            services: ServicesDep) -> DeskItemPublic:
    """The agent who holds it (or an admin, for any open one) hands it back to the bot with an outcome: the bot
    answers the customer's next message."""
    desk = _synced(services)
    if caller.role != "admin":
        desk.require_assignee(caller.tenant, conversation_id, _agent_id(caller))
    now = time.time()
    return DeskItemPublic.of(desk.release(caller.tenant, conversation_id, _agent_id(caller), body.outcome, at=now),
                             now)


@router.get("/agents", response_model=Agents, summary="The desk's agents", responses=error_responses(401, 403, 503))
def agents(caller: DeskCaller, services: ServicesDep) -> Agents:
    """An admin: the tenant's agents (the configured accounts and the agent keys'); an agent: itself."""
    found = _known_agents(services, caller.tenant)
    if caller.role != "admin":
        found = [agent for agent in found if agent.id == caller.agent_id]
    return Agents(agents=found)


@router.get("/stats", response_model=DeskStats, summary="The desk's counts and times",
            responses=error_responses(401, 403, 503))
def stats(caller: DeskCaller, services: ServicesDep) -> DeskStats:
    """Waiting and assigned conversations, outcomes, and the median first-response and handling times."""
    return _synced(services).stats(caller.tenant)
