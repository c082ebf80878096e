"""Personas and markets: read them, and preview a persona's answer to a sample question (nothing stored)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from agent.schema import MAX_MESSAGE_CHARS, AnswerRequest, Reply
from api.deps import ContentCaller, ServicesDep
from api.errors import error_responses
from personas.public import MarketPublic, PersonaPublic
from personas.routing import Channel

router = APIRouter(prefix="/v1", tags=["personas and markets"])


class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"persona_id": "jp-keigo", "market": "JP", "channel": "line", "message": "返品はいつまでできますか"}]})

    market: str
    channel: Channel = Channel.WEB
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    persona_id: str | None = Field(default=None, description="the persona to answer in; default: the routed one")
    language: str | None = None


@router.get("/personas", response_model=list[PersonaPublic], responses=error_responses(401, 403))
def list_personas(_: ContentCaller, services: ServicesDep) -> list[PersonaPublic]:
    return [PersonaPublic.from_persona(p) for p in services.catalog.personas()]


@router.get("/personas/{persona_id}", response_model=PersonaPublic, responses=error_responses(401, 403, 404))
def get_persona(persona_id: str, _: ContentCaller, services: ServicesDep) -> PersonaPublic:
    return PersonaPublic.from_persona(services.catalog.persona(persona_id))


@router.get("/markets", response_model=list[MarketPublic], responses=error_responses(401, 403))
def list_markets(_: ContentCaller, services: ServicesDep) -> list[MarketPublic]:
    return [MarketPublic.from_market(m) for m in services.catalog.markets()]


@router.get("/markets/{market}", response_model=MarketPublic, responses=error_responses(401, 403, 404))
def get_market(market: str, _: ContentCaller, services: ServicesDep) -> MarketPublic:
    return MarketPublic.from_market(services.catalog.market(market))


@router.post("/personas/preview", response_model=Reply, responses=error_responses(400, 401, 403, 404, 422, 503))
def preview(body: PreviewBody, caller: ContentCaller, services: ServicesDep) -> Reply:
    """The reply a customer would get, in the given persona, from this tenant's knowledge; nothing is stored."""
    request = AnswerRequest(tenant=caller.tenant, channel=body.channel, market=body.market, message=body.message,
                            language=body.language)
    return services.agent.preview(request, persona_id=body.persona_id)
