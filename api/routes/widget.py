"""The web chat widget: ``GET /widget.js`` and the routes its public key calls (``/v1/widget/*``).

A brand pastes one tag into its pages:
``<script src="https://polydesk.example/widget.js" data-key="pd_widget_…" data-market="JP" async></script>``
(optional ``data-locale``, ``data-position`` ``left``/``right``, ``data-title``). The script opens a
conversation (``POST /v1/widget/conversations``: a server-made id, the persona's name and greeting, the text
direction and the widget's words in the conversation's language), sends each message to
``POST /v1/widget/conversations/{id}/messages``, answered by the very stream of ``/v1/answer/stream`` (``delta``
events, then one ``reply`` event), and after a reload reads ``GET /v1/widget/conversations/{id}``.

The widget key (``api.auth``) only works from the origins it lists (``403 origin_not_allowed``) and only on the
conversations it opened (any other id is ``404``, whoever's it is). Besides the key's rate limit, each visitor
(client address) of a widget key gets a tenth of it, so one visitor cannot spend a whole site's budget; behind a
proxy, run uvicorn with ``--forwarded-allow-ips`` so the address is the visitor's.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agent.phrases import greeting_for
from agent.schema import MAX_MESSAGE_CHARS, ConversationId, CustomerMessage, LanguageCode
from agent.state import Conversation
from api import answering
from api.auth import Caller
from api.deps import Services, ServicesDep, WidgetCaller
from api.errors import error_responses
from api.ratelimit import RateLimiter
from api.routes.analytics import FeedbackPublic, RatingBody, give_feedback
from api.routes.answer import answer_stream
from api.widget.sessions import Direction, Label, WidgetSession, WidgetSessions, direction, labels
from knowledge.schema import normalize_language
from personas.routing import Channel
from polydesk.errors import NotFoundError

router = APIRouter(tags=["web chat widget"])
ConversationPath = Annotated[ConversationId, Path(description="the id ``POST /v1/widget/conversations`` returned")]
VISITOR_SHARE = 10  # a visitor may send 1/VISITOR_SHARE of a widget key's rate and burst


@lru_cache(maxsize=1)
def _script() -> tuple[bytes, str]:
    body = resources.files("api").joinpath("widget", "widget.js").read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@router.get("/widget.js", response_class=Response, summary="The web chat widget's script",
            responses={200: {"content": {"text/javascript": {}}, "description": "the script"}, 304: {}})
def widget_script(if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None) -> Response:
    """The script a brand's page embeds with its widget key (no key needed to fetch it). Cached for five
    minutes, then revalidated by its ``ETag``."""
    body, etag = _script()
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
    if if_none_match is not None and etag in [tag.strip() for tag in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


class WidgetOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    market: str = Field(pattern=r"^\s*[A-Za-z]{2,3}\s*$", description="the page's market (``data-market``)")
    locale: LanguageCode | None = Field(default=None, description="the page's language (``data-locale``), "
                                        "else the market's first language")


class WidgetMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class WidgetTurn(BaseModel):
    role: str = Field(description="'customer', 'bot' or 'human'")
    text: str
    language: str


class WidgetConversation(BaseModel):
    """What the widget shows of a conversation: who speaks, how it greets, which way the text runs."""

    conversation_id: str
    market: str
    language: str = Field(description="the conversation's language so far (the page's, before any reply)")
    dir: Direction
    persona_id: str
    display_name: str = Field(description="the persona's name (the widget's title unless the page sets one)")
    greeting: str = Field(description="the persona's greeting in the conversation's language")
    labels: dict[Label, str] = Field(description="the widget's own words in that language")
    handed_off: bool = Field(description="a person owns the conversation: they answer, not the bot")
    turns: list[WidgetTurn] = Field(default_factory=list, description="the messages so far, oldest first")


def _sessions(services: Services) -> WidgetSessions:
    return WidgetSessions(services.redis, ttl_s=int(services.settings.conversation_ttl_hours * 3600))


def _visitor_limit(request: Request, services: Services, caller: Caller) -> None:
    """A visitor's share of the key's limit (the key itself was counted by its dependency)."""
    limiter: RateLimiter | None = getattr(request.app.state, "widget_visitors", None)
    if limiter is None:  # one per app, made on first use (a race makes two alike: harmless, they share Redis)
        settings = services.settings
        limiter = RateLimiter(services.redis, per_minute=max(1, settings.rate_limit_per_minute // VISITOR_SHARE),
                              burst=max(1, settings.rate_limit_burst // VISITOR_SHARE))
        request.app.state.widget_visitors = limiter
    address = request.client.host if request.client else "unknown"
    limiter.check(f"widget:{caller.key_id}:{address}")


def _view(services: Services, session: WidgetSession, *, language: str | None = None) -> WidgetConversation:
    resolved = services.catalog.resolve(tenant=session.tenant, channel=Channel.WEB, market=session.market)
    conversation = services.conversations.get(session.tenant, session.conversation_id)
    language = language or (conversation.language if conversation and conversation.language else session.language)
    persona = resolved.persona
    greeting = greeting_for(persona, language) or greeting_for(persona, resolved.market.default_language)
    turns = [WidgetTurn(role=t.role, text=t.text, language=t.language) for t in conversation.turns] \
        if conversation else []
    return WidgetConversation(conversation_id=session.conversation_id, market=session.market, language=language,
                              dir=direction(language), persona_id=persona.id, display_name=persona.display_name,
                              greeting=greeting, labels=labels(language), turns=turns,
                              handed_off=conversation is not None and conversation.owner == "human")


def _session(services: Services, caller: Caller, conversation_id: str) -> WidgetSession:
    session = _sessions(services).find(caller, conversation_id)
    if session is None:
        raise NotFoundError(f"no widget conversation {conversation_id!r}")
    return session


@router.post("/v1/widget/conversations", response_model=WidgetConversation, status_code=201,
             responses=error_responses(401, 403, 404, 422, 429, 503), summary="Open a widget conversation")
def open_conversation(body: WidgetOpen, caller: WidgetCaller, services: ServicesDep,
                      request: Request) -> WidgetConversation:
    """A new conversation of the web widget (channel ``web``) in the page's market: its id (keep it to continue),
    the persona's greeting and the text direction. ``404`` for a market the brand does not serve."""
    _visitor_limit(request, services, caller)
    resolved = services.catalog.resolve(tenant=caller.tenant, channel=Channel.WEB, market=body.market)
    language = normalize_language(body.locale) if body.locale else resolved.market.default_language
    session = _sessions(services).open(caller, market=resolved.market.code, language=language,
                                       persona_id=resolved.persona.id)
    conversation = Conversation.start(tenant=caller.tenant, conversation_id=session.conversation_id,
                                      market=resolved.market.code, channel=Channel.WEB)
    conversation.greeted = True  # the widget shows the persona's greeting: the first reply does not repeat it
    services.conversations.save(conversation)
    return _view(services, session, language=language)


@router.get("/v1/widget/conversations/{conversation_id}", response_model=WidgetConversation,
            responses=error_responses(401, 403, 404, 429, 503), summary="Read a widget conversation")
def get_conversation(conversation_id: ConversationPath, caller: WidgetCaller, services: ServicesDep,
                     request: Request) -> WidgetConversation:
    """The messages so far and whether a person owns the conversation (after a reload of the page)."""
    _visitor_limit(request, services, caller)
    return _view(services, _session(services, caller, conversation_id))


@router.post("/v1/widget/conversations/{conversation_id}/messages", response_class=StreamingResponse,
             dependencies=answering.ADMISSION,
             summary="Send the customer's message; the reply as a stream",
             responses={**error_responses(401, 403, 404, 409, 422, 429, 503), 200: answering.sse_response(
                 '`delta` events (data: {"text": ...}), then one `reply` event (data: the Reply object), as '
                 '/v1/answer/stream sends them')})
async def send_message(conversation_id: ConversationPath, body: WidgetMessage, caller: WidgetCaller,
                       services: ServicesDep, request: Request) -> StreamingResponse:
    """The customer's next message in a conversation this key opened, answered as ``/v1/answer/stream`` answers
    (the same events); while a person owns the conversation the reply is ``handed_off`` with no text."""

    def admitted_session() -> WidgetSession:  # Redis round trips: off the event loop
        _visitor_limit(request, services, caller)
        return _session(services, caller, conversation_id)

    session = await anyio.to_thread.run_sync(admitted_session)
    message = CustomerMessage(channel=Channel.WEB, market=session.market, message=body.message,
                              conversation_id=session.conversation_id, locale=session.language,
                              metadata={"widget_key": caller.key_id})
    return await answer_stream(message, caller, services)


@router.post("/v1/widget/conversations/{conversation_id}/feedback", response_model=FeedbackPublic,
             status_code=201, responses=error_responses(401, 403, 404, 422, 429, 503), summary="Rate a reply")
def rate_reply(conversation_id: ConversationPath, body: RatingBody, caller: WidgetCaller,
               services: ServicesDep, request: Request) -> FeedbackPublic:
    """The visitor's thumbs up or down on a reply of a conversation this key opened (as ``POST /v1/feedback``)."""
    _visitor_limit(request, services, caller)
    session = _session(services, caller, conversation_id)
    return give_feedback(services, caller.tenant, session.conversation_id, body)
