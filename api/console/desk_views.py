"""What the desk page shows, built from the API's answers (``api.routes.desk``, ``api.routes.desk_replies``).

Nothing here decides anything: the inbox, the conversation, the claim race, the checks of a reply are the API's
route functions' and the ``desk`` package's. This module only turns their answers into what a template (or the
inbox's ``.json`` variant) shows: durations in words, the last customer message of each row, which forms to offer
for the item's state, and form fields into the API's own request models (their validation, as the API's).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agent.state import ConversationStore
from api.auth import Caller
from api.console.i18n import Translate
from api.routes.desk import DeskItemPublic
from desk.store import DeskItem, DeskStats
from polydesk.errors import InputError, PolydeskError

Model = TypeVar("Model", bound=BaseModel)

STATES = ("waiting", "assigned", "mine")  # the inbox's state filter, as the API has it
OUTCOMES = ("resolved", "returned_to_bot", "spam")
# What a POST-redirect-GET says once done (``?done=<one of these>``); anything else is ignored.
DONE = ("claimed", "noted", "sent", "released", "reassigned")
QUALITIES = ("same_language", "translated", "unavailable")
REASONS = ("intent", "sentiment", "low_confidence", "policy", "customer_request", "tool_failed")
# Codes a desk action can meet whose words the page has (``desk.errors.<code>``); others show the API's message.
KNOWN_ERRORS = ("conflict", "not_found", "preview_not_found", "reply_not_sendable", "channel_window_closed",
                "validation_error", "invalid_input", "rate_limited", "store_unavailable", "forbidden")
PREVIEW_CHARS = 140


def duration(t: Translate, seconds: float | None) -> str:
    """``42 s``, ``7 min``, ``2 h 5 min``, ``3 d 4 h`` in the UI language; a dash for none."""
    if seconds is None:
        return "–"
    whole = int(seconds)
    if whole < 60:
        return t("desk.time.seconds", n=whole)
    minutes = whole // 60
    if minutes < 60:
        return t("desk.time.minutes", n=minutes)
    hours = minutes // 60
    if hours < 24:
        return t("desk.time.hours", h=hours, m=minutes % 60)
    return t("desk.time.days", d=hours // 24, h=hours % 24)


def shortened(text: str, limit: int = PREVIEW_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def inbox_rows(t: Translate, items: list[DeskItemPublic], conversations: ConversationStore,
               tenant: str) -> list[dict[str, Any]]:
    """One row per inbox item: its fields as the API gives them, the waiting time in words and a preview of the
    customer's last message (as written)."""
    rows = []
    for item in items:
        conversation = conversations.get(tenant, item.conversation_id)
        last = conversation.last("customer") if conversation is not None else None
        rows.append({
            "conversation_id": item.conversation_id, "market": item.market, "channel": item.channel,
            "language": item.language or "", "reason": item.reason or "", "reason_words": reason_words(t, item.reason),
            "queue": item.queue, "priority": item.priority, "priority_words": t(f"desk.priority.{item.priority}"),
            "state": item.state, "state_words": t(f"desk.state.{item.state}"),
            "waiting_s": item.waiting_s, "waiting": duration(t, item.waiting_s),
            "assignee": item.assignee or "", "notes": item.notes,
            "preview": shortened(last.text) if last is not None else "",
            "href": f"/console/desk/conversations/{item.conversation_id}",
        })
    return rows


def stats_line(t: Translate, stats: DeskStats) -> dict[str, Any]:
    return {"waiting": stats.waiting, "assigned": stats.assigned, "open": stats.waiting + stats.assigned,
            "median_first_response": duration(t, stats.median_first_response_s),
            "median_first_response_s": stats.median_first_response_s}


def reason_words(t: Translate, reason: str | None) -> str:
    if reason is None:
        return t("desk.reason.none")
    return t(f"desk.reason.{reason}") if reason in REASONS else reason


def actions(caller: Caller, item: DeskItem) -> dict[str, bool]:
    """The forms the page offers for the item's state; the API still decides (a stale page gets its ``409``)."""
    mine = item.state == "assigned" and item.assignee == caller.agent_id
    holder_or_admin = mine or (item.state == "assigned" and caller.role == "admin")
    is_open = item.state != "closed"
    return {"claim": item.state == "waiting", "reply": mine, "release": holder_or_admin or (
        is_open and caller.role == "admin"), "reassign": holder_or_admin, "note": is_open, "suggest": is_open}


def error_words(t: Translate, exc: PolydeskError) -> dict[str, str]:
    """A refused action's code, the page's sentence for it and the API's own message."""
    words = t(f"desk.errors.{exc.code}") if exc.code in KNOWN_ERRORS else t("desk.errors.other")
    return {"code": exc.code, "words": words, "message": exc.message}


def body(model: type[Model], **fields: Any) -> Model:
    """The API's request model from form fields, refused as the API refuses it (``422 validation_error``)."""
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                             for e in exc.errors()[:3])
        raise InputError(problems or "invalid form", code="validation_error") from exc
