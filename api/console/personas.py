"""The console's personas and markets page (content role): every market of the catalogue, readable, and a
playground that previews a reply.

- ``GET /console/personas``: the markets as compact cards (languages, hours, culture, notices, escalation
  keywords, the persona per channel), filterable by market (``?market=DE``), with an anchor list.
- ``GET /console/personas/markets/{market}``: one market in full.
- ``GET|POST /console/personas/playground``: a sample question answered by ``api.routes.personas.preview``
  (the API's own route function: nothing stored), shown with its citations, guardrail findings, escalation,
  notices and timings per stage. A refused preview shows its error code and words on the same page.

The market and persona views come from the API's ``list_markets``/``list_personas`` (``MarketPublic``,
``PersonaPublic``); what the public views leave out (escalation keywords, routing per channel) is read from the
same catalogue the agent uses (``services.catalog``), resolved for the signed-in key's tenant only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from agent.schema import MAX_MESSAGE_CHARS, Reply
from api.console.web import PREFIX, ConsoleUser, ContentUser, render
from api.deps import Services, ServicesDep
from api.errors import status_of
from api.routes import personas as personas_api
from personas.public import MarketPublic, PersonaPublic
from personas.routing import Channel
from polydesk.errors import InputError, PolydeskError

router = APIRouter(prefix=f"{PREFIX}/personas", include_in_schema=False)

CHART_WIDTH = 320  # px of the longest bar in the timings chart
BAR_HEIGHT = 18


@dataclass(frozen=True)
class ChannelRoute:
    """The persona a channel of a market is answered in, and the routing rule that picked it (in words)."""

    channels: tuple[str, ...]
    persona_id: str
    rule: str


@dataclass(frozen=True)
class MarketView:
    market: MarketPublic
    routes: tuple[ChannelRoute, ...]
    market_keywords: dict[str, dict[str, list[str]]]  # intent → language → terms of the market's own file
    shared_keywords: dict[str, dict[str, list[str]]]  # intent → language → terms in force, market languages only
    thresholds: dict[str, Any]
    queues: dict[str, tuple[str, str]]  # intent or reason → (queue, priority)
    teams: tuple[str, ...]


def market_view(services: Services, user: ConsoleUser, market: MarketPublic) -> MarketView:
    """What one market holds for the signed-in key's tenant: routing per channel and escalation rules."""
    catalog = services.catalog
    grouped: dict[tuple[str, str], list[str]] = {}
    for channel in Channel:
        resolved = catalog.resolve(tenant=user.caller.tenant, channel=channel, market=market.code)
        grouped.setdefault((resolved.persona.id, resolved.matched.explain()), []).append(channel.value)
    routes = tuple(ChannelRoute(tuple(channels), persona_id, rule) for (persona_id, rule), channels in grouped.items())
    own = catalog.market(market.code).escalation
    market_keywords = {str(intent): {lang: list(terms) for lang, terms in by_language.items()}
                       for intent, by_language in (own.keywords.items() if own else ())}
    rules = catalog.escalation(market.code)
    languages = set(market.languages)
    shared = {str(intent): {lang: list(terms) for lang, terms in by_language.items()
                            if lang in languages or lang.split("-")[0] in languages}
              for intent, by_language in rules.keywords.items()}
    return MarketView(
        market=market, routes=routes, market_keywords=market_keywords,
        shared_keywords={intent: terms for intent, terms in shared.items() if terms},
        thresholds=rules.thresholds.model_dump(),
        queues={key: (str(route.queue), str(route.priority)) for key, route in rules.routes.items()},
        teams=tuple(team.name for team in rules.teams),
    )


def _markets(user: ConsoleUser, services: Services) -> list[MarketPublic]:
    return personas_api.list_markets(user.caller, services)


def _personas(user: ConsoleUser, services: Services) -> dict[str, PersonaPublic]:
    return {persona.id: persona for persona in personas_api.list_personas(user.caller, services)}


@router.get("", response_class=HTMLResponse)
def page(request: Request, user: ContentUser, services: ServicesDep,
         market: Annotated[str | None, Query(max_length=8)] = None) -> HTMLResponse:
    markets = _markets(user, services)
    chosen = (market or "").strip().upper()
    shown = [m for m in markets if m.code == chosen] if chosen else markets
    views = [market_view(services, user, m) for m in shown]
    return render(request, "personas.html", {
        "markets": markets, "views": views, "chosen": chosen, "personas": _personas(user, services),
    }, user=user)


@router.get("/markets/{market}", response_class=HTMLResponse)
def market_page(market: str, request: Request, user: ContentUser, services: ServicesDep) -> HTMLResponse:
    found = personas_api.get_market(market, user.caller, services)
    return render(request, "personas_market.html", {
        "view": market_view(services, user, found), "personas": _personas(user, services),
    }, user=user)


# -- the playground ------------------------------------------------------------------------------------------------


def _playground(request: Request, user: ConsoleUser, services: Services, *, form: dict[str, str],
                reply: Reply | None = None, error: PolydeskError | None = None,
                status_code: int = 200) -> HTMLResponse:
    return render(request, "personas_playground.html", {
        "form": form, "reply": reply, "error": error, "markets": _markets(user, services),
        "personas": _personas(user, services), "channels": [c.value for c in Channel],
        "max_chars": MAX_MESSAGE_CHARS, "timings": timing_bars(reply.timings_ms) if reply else [],
        "chart_width": CHART_WIDTH + 160, "bar_height": BAR_HEIGHT,
        "routed": _routed_persona(user, services, form) if reply is None and error is None else None,
    }, user=user, status_code=status_code)


def _routed_persona(user: ConsoleUser, services: Services, form: dict[str, str]) -> str | None:
    try:
        return services.catalog.resolve(tenant=user.caller.tenant, channel=form.get("channel") or "web",
                                        market=form.get("market") or "").persona.id
    except PolydeskError:
        return None


@router.get("/playground", response_class=HTMLResponse)
def playground(request: Request, user: ContentUser, services: ServicesDep,
               market: Annotated[str, Query(max_length=8)] = "",
               channel: Annotated[str, Query(max_length=16)] = "web") -> HTMLResponse:
    return _playground(request, user, services, form={"market": market.upper(), "channel": channel, "message": "",
                                                      "persona_id": "", "language": ""})


@router.post("/playground", response_class=HTMLResponse)
def run_playground(request: Request, user: ContentUser, services: ServicesDep,
                   message: Annotated[str, Form(max_length=4 * MAX_MESSAGE_CHARS)] = "",
                   market: Annotated[str, Form(max_length=64)] = "",
                   channel: Annotated[str, Form(max_length=64)] = "web",
                   persona_id: Annotated[str, Form(max_length=128)] = "",
                   language: Annotated[str, Form(max_length=64)] = "") -> HTMLResponse:
    form = {"message": message, "market": market, "channel": channel, "persona_id": persona_id,
            "language": language}
    try:
        body = personas_api.PreviewBody(market=market, channel=channel, message=message,  # type: ignore[arg-type]
                                        persona_id=persona_id.strip() or None, language=language.strip() or None)
        reply = personas_api.preview(body, user.caller, services)
    except ValidationError as exc:
        error = _validation(exc)
        return _playground(request, user, services, form=form, error=error, status_code=status_of(error))
    except PolydeskError as exc:
        return _playground(request, user, services, form=form, error=exc, status_code=status_of(exc))
    return _playground(request, user, services, form=form, reply=reply)


def _validation(exc: ValidationError) -> InputError:
    problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                         for e in exc.errors()[:3])
    return InputError(problems or "invalid form", code="validation_error")


@dataclass(frozen=True)
class TimingBar:
    stage: str
    ms: float
    width: int
    y: int


def timing_bars(timings: dict[str, float]) -> list[TimingBar]:
    """Bars of the timings chart, the stages in pipeline order and ``total`` last, scaled to the longest."""
    stages = [(stage, ms) for stage, ms in timings.items() if stage != "total"]
    if "total" in timings:
        stages.append(("total", timings["total"]))
    longest = max((ms for _, ms in stages), default=0.0) or 1.0
    return [TimingBar(stage=stage, ms=ms, width=max(1, round(CHART_WIDTH * ms / longest)),
                      y=index * (BAR_HEIGHT + 6)) for index, (stage, ms) in enumerate(stages)]
