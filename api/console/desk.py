"""The console's desk page (agent role; an admin key acts as agent ``admin-<key id>``, as in the API).

Every route calls the API's own route functions (``api.routes.desk``, ``api.routes.desk_replies``) with the
session's caller, so the page allows, refuses and records exactly what the API does for that key:

- ``GET /console/desk``: the inbox (filters ``queue`` and ``state`` as the API has them) and the desk's counts;
  ``GET /console/desk.json``: the same rows as JSON, for the page's script to refresh the inbox.
- ``GET /console/desk/conversations/{id}``: the conversation as the agent reads it, each customer message beside
  its translation, the handoff, the notes and the forms; ``.../suggestions``: the same with the copilot's replies.
- ``POST`` claim, notes, reassign, release, ``replies/preview`` and ``replies`` (forms with the CSRF token):
  303 back to the conversation with ``?done=…`` (a preview is shown at once, on the answer to its POST); a refused
  action (another agent claimed it first: ``409 conflict``) shows the conversation again with the code and words,
  at the API's status. A script call (``Accept: application/json``) gets the API's JSON answer instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from api.console import desk_views as views
from api.console.i18n import translator
from api.console.web import (
    PREFIX,
    SECURITY_HEADERS,
    ConsoleUser,
    DeskUser,
    json_response,
    language_of,
    render,
    wants_json,
)
from api.deps import Services, ServicesDep
from api.errors import status_of
from api.routes import desk as desk_api
from api.routes import desk_replies as replies_api
from desk.copilot import Suggestions
from desk.replies import ReplyPreview
from polydesk.errors import NotFoundError, PolydeskError

router = APIRouter(prefix=f"{PREFIX}/desk", include_in_schema=False)

QueueQuery = Annotated[str | None, Query(max_length=64)]
InboxState = Literal["waiting", "assigned", "mine", ""]  # the API's filter, "" for every open one
StateQuery = Annotated[InboxState | None, Query()]
FormText = Annotated[str, Form(max_length=20_000)]



def _inbox(request: Request, user: ConsoleUser, services: Services, queue: str | None,
           state: InboxState | None) -> dict[str, Any]:
    t = translator(language_of(request))
    found = desk_api.inbox(user.caller, services, queue=queue or None, state=state or None)
    rows = views.inbox_rows(t, found.items, services.conversations, user.caller.tenant)
    stats = views.stats_line(t, desk_api.stats(user.caller, services))
    return {"items": rows, "stats": stats, "queue": queue or "", "state": state or ""}


@router.get("", response_class=HTMLResponse)
def inbox_page(request: Request, user: DeskUser, services: ServicesDep, queue: QueueQuery = None,
               state: StateQuery = None) -> HTMLResponse:
    return render(request, "desk.html", {**_inbox(request, user, services, queue, state), "states": views.STATES},
                  user=user)


@router.get(".json")
def inbox_json(request: Request, user: DeskUser, services: ServicesDep, queue: QueueQuery = None,
               state: StateQuery = None) -> Response:
    return json_response(_inbox(request, user, services, queue, state))


def _conversation_page(request: Request, user: ConsoleUser, services: Services, conversation_id: str, *,
                       done: str | None = None, error: PolydeskError | None = None,
                       preview: ReplyPreview | None = None, suggestions: Suggestions | None = None,
                       draft: str = "", draft_language: str = "") -> HTMLResponse:
    t = translator(language_of(request))
    try:
        view = desk_api.view(conversation_id, user.caller, services)
    except NotFoundError:
        if error is not None:
            raise error from None
        raise
    agents = [agent.id for agent in desk_api.agents(user.caller, services).agents]
    reply_languages = list(dict.fromkeys(x for x in (view.item.language, *user.caller.languages) if x))
    context = {
        "view": view, "item": view.item, "actions": views.actions(user.caller, view.item),
        "agent_id": user.caller.agent_id, "agents": agents, "outcomes": views.OUTCOMES,
        "qualities": views.QUALITIES, "reason_words": views.reason_words(t, view.reason),
        "waiting": views.duration(t, view.item.waited_s(time.time())), "done": done if done in views.DONE else None,
        "error": views.error_words(t, error) if error is not None else None, "preview": preview,
        "suggestions": suggestions, "draft": draft, "draft_language": draft_language,
        "reply_languages": reply_languages, "max_note_chars": desk_api.MAX_NOTE_CHARS,
    }
    status_code = status_of(error) if error is not None else 200
    return render(request, "desk_conversation.html", context, user=user, status_code=status_code)


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(request: Request, conversation_id: desk_api.ConversationPath, user: DeskUser,
                      services: ServicesDep, done: Annotated[str | None, Query(max_length=20)] = None) -> HTMLResponse:
    return _conversation_page(request, user, services, conversation_id, done=done)


@router.get("/conversations/{conversation_id}/suggestions", response_class=HTMLResponse)
def suggestions_page(request: Request, conversation_id: desk_api.ConversationPath, user: DeskUser,
                     services: ServicesDep) -> Response:
    found = replies_api.suggestions(conversation_id, user.caller, services)
    if wants_json(request):
        return json_response(found.model_dump(mode="json"))
    return _conversation_page(request, user, services, conversation_id, suggestions=found)


def _act(request: Request, user: ConsoleUser, services: Services, conversation_id: str,
         action: Callable[[], BaseModel], done: str) -> Response:
    """Do one desk action: 303 back to the conversation saying it is ``done``; refused, the conversation again
    with the code and its words at the API's status (JSON either way for a script)."""
    try:
        result = action()
    except PolydeskError as exc:
        if wants_json(request):
            raise
        return _conversation_page(request, user, services, conversation_id, error=exc)
    if wants_json(request):
        return json_response(result.model_dump(mode="json"))
    return RedirectResponse(f"{PREFIX}/desk/conversations/{conversation_id}?done={done}", status_code=303,
                            headers=SECURITY_HEADERS)


@router.post("/conversations/{conversation_id}/claim")
def claim(request: Request, conversation_id: desk_api.ConversationPath, user: DeskUser,
          services: ServicesDep) -> Response:
    return _act(request, user, services, conversation_id,
                lambda: desk_api.claim(conversation_id, user.caller, services), "claimed")


@router.post("/conversations/{conversation_id}/notes")
def add_note(request: Request, conversation_id: desk_api.ConversationPath, user: DeskUser, services: ServicesDep,
             text: FormText = "") -> Response:
    return _act(request, user, services, conversation_id, lambda: desk_api.add_note(
        conversation_id, views.body(desk_api.NoteBody, text=text), user.caller, services), "noted")


@router.post("/conversations/{conversation_id}/reassign")
def reassign(request: Request, conversation_id: desk_api.ConversationPath, user: DeskUser, services: ServicesDep,
             agent_id: Annotated[str, Form(max_length=200)] = "") -> Response:
    return _act(request, user, services, conversation_id, lambda: desk_api.reassign(
        conversation_id, views.body(desk_api.ReassignBody, agent_id=agent_id), user.caller, services), "reassigned")


@router.post("/conversations/{conversation_id}/release")
def release(request: Request, conversation_id: desk_api.ConversationPath, user: DeskUser, services: ServicesDep,
            outcome: Annotated[str, Form(max_length=40)] = "") -> Response:
    return _act(request, user, services, conversation_id, lambda: desk_api.release(
        conversation_id, views.body(desk_api.ReleaseBody, outcome=outcome), user.caller, services), "released")


@router.post("/conversations/{conversation_id}/replies/preview")
def preview_reply(request: Request, conversation_id: desk_api.ConversationPath, user: DeskUser,
                  services: ServicesDep, text: FormText = "",
                  language: Annotated[str, Form(max_length=40)] = "") -> Response:
    """The reply as the customer will get it, shown at once (the preview is kept 15 minutes for sending)."""
    try:
        draft = views.body(replies_api.ReplyDraft, text=text, language=language or None)
        shown = replies_api.preview(conversation_id, draft, user.caller, services)
    except PolydeskError as exc:
        if wants_json(request):
            raise
        return _conversation_page(request, user, services, conversation_id, error=exc, draft=text,
                                  draft_language=language)
    if wants_json(request):
        return json_response(shown.model_dump(mode="json"))
    return _conversation_page(request, user, services, conversation_id, preview=shown, draft=text,
                              draft_language=language)


@router.post("/conversations/{conversation_id}/replies")
def send_reply(request: Request, conversation_id: desk_api.ConversationPath, user: DeskUser, services: ServicesDep,
               preview_id: Annotated[str, Form(max_length=64)] = "") -> Response:
    return _act(request, user, services, conversation_id, lambda: replies_api.send(
        conversation_id, views.body(replies_api.ReplySend, preview_id=preview_id), user.caller, services), "sent")
