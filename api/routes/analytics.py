"""Outcomes and customer feedback: ``GET /v1/analytics/summary`` (admin keys) and ``POST /v1/feedback`` (connectors).

The summary reads the daily counters the agent and the desk keep as messages flow (``agent.outcomes``): per
market, totals, each UTC day and each channel of the range, and the top unanswered questions (``agent.gaps``).
Feedback is kept per bot reply (``agent.feedback``): rating a reply again replaces the earlier rating.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.feedback import MAX_COMMENT_CHARS, Feedback, FeedbackStore, Rating
from agent.outcomes import OutcomeSummary, summarize
from agent.schema import ConversationId
from api.deps import AdminCaller, ConnectorCaller, Services, ServicesDep
from api.errors import error_responses
from polydesk.visible import visible_text

router = APIRouter(tags=["analytics"])

_EMPTY_LATENCY: dict[str, Any] = {"count": 0, "median": None, "p95": None}
_OUTCOME_EXAMPLE: dict[str, Any] = {
    "conversations": 412, "messages": 1187, "bot_replies": 1120, "handed_off_conversations": 58,
    "resolved_share": 0.8592, "handoffs": 61,
    "handoffs_by_reason": {"customer_request": 30, "intent": 19, "low_confidence": 8, "sentiment": 4},
    "handoffs_by_queue": {"support": 38, "support_senior": 15, "sales": 8},
    "bot_reply_ms": {"count": 1120, "median": 41.7, "p95": 187.2},
    "human_first_response_s": {"count": 55, "median": 312.4, "p95": 2409.1},
    "feedback": {"up": 96, "down": 14}, "unanswered_messages": 73,
}


class AnalyticsSummary(OutcomeSummary):
    """Outcomes per market over an inclusive range of UTC days, and their totals over the selected markets."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "from": "2026-03-01", "to": "2026-03-30", "days": 30, "market": "DE",
        "totals": _OUTCOME_EXAMPLE,
        "markets": {"DE": {
            **_OUTCOME_EXAMPLE,
            "by_day": {"2026-03-01": {**_OUTCOME_EXAMPLE, "conversations": 14, "messages": 40, "bot_replies": 38,
                                      "handed_off_conversations": 2, "resolved_share": 0.8571, "handoffs": 2,
                                      "handoffs_by_reason": {"intent": 2}, "handoffs_by_queue": {"support": 2},
                                      "bot_reply_ms": {"count": 38, "median": 39.9, "p95": 120.5},
                                      "human_first_response_s": _EMPTY_LATENCY, "feedback": {"up": 3, "down": 0},
                                      "unanswered_messages": 2}},
            "by_channel": {"web": _OUTCOME_EXAMPLE},
            "unanswered": [{"text": "Akzeptiert ihr Bitcoin als Zahlung?", "language": "de", "count": 9},
                           {"text": "Kann ich meine Bestellung an eine Packstation schicken? Mail: [EMAIL]",
                            "language": "de", "count": 4}],
        }},
    }]})


class RatingBody(BaseModel):
    """A rating of a reply (the widget's body: its conversation is in the path)."""

    model_config = ConfigDict(extra="forbid")

    reply_id: int | None = Field(default=None, ge=1, le=100_000, description="the bot reply's number in the "
                                 "conversation: 1 for its first reply, 2 for the second, ...; omit to rate the "
                                 "conversation as a whole")
    rating: Rating
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)

    @field_validator("comment")
    @classmethod
    def _visible(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "\x00" in value:
            raise ValueError("a comment must not contain NUL characters")
        shown = visible_text(value).strip()
        if not shown:
            raise ValueError("the comment shows nothing: only spaces, control, zero-width or formatting characters")
        return shown


class FeedbackBody(RatingBody):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "conversation_id": "line-U4af4980629", "reply_id": 2, "rating": "down",
        "comment": "ไม่ตอบคำถามของฉันเลย",
    }]})

    conversation_id: ConversationId


class FeedbackPublic(Feedback):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "conversation_id": "line-U4af4980629", "reply_id": 2, "rating": "down", "comment": "ไม่ตอบคำถามของฉันเลย",
        "market": "TH", "channel": "line", "created_at": "2026-03-02T08:15:00Z", "replaced": False,
    }]})


def give_feedback(services: Services, tenant: str, conversation_id: str, body: RatingBody) -> FeedbackPublic:
    """Store the rating of a conversation of ``tenant`` (the widget's route shares it)."""
    store = FeedbackStore.from_settings(services.redis, services.settings)
    feedback = store.rate_conversation(services.conversations, tenant, conversation_id, rating=body.rating,
                                       reply_id=body.reply_id, comment=body.comment)
    return FeedbackPublic.model_validate(feedback.model_dump())


@router.get("/v1/analytics/summary", response_model=AnalyticsSummary, summary="Outcomes per market",
            responses=error_responses(400, 401, 403, 422, 429, 503))
def analytics_summary(
    caller: AdminCaller, services: ServicesDep,
    start: Annotated[dt.date | None, Query(alias="from", description="first UTC day (YYYY-MM-DD), inclusive; "
                                           "default: 29 days before 'to'")] = None,
    end: Annotated[dt.date | None, Query(alias="to", description="last UTC day, inclusive; default: today, or "
                                         "29 days after 'from'")] = None,
    market: Annotated[str | None, Query(max_length=8, description="only this market, e.g. DE")] = None,
) -> OutcomeSummary:
    """Conversations, messages, the share the bot resolved without a person, handoffs by reason and queue, the
    bot's reply time and the desk's first-response time (median and p95), customer feedback and the top unanswered
    questions, per market, per day and per channel. At most 366 days, ``from`` not after ``to``, a 2-3 letter
    market (else ``400 invalid_input``)."""
    return summarize(services.redis, caller.tenant, start=start, end=end, market=market)  # as AnalyticsSummary


@router.post("/v1/feedback", response_model=FeedbackPublic, status_code=status.HTTP_201_CREATED,
             summary="Rate a reply", responses=error_responses(401, 403, 404, 422, 429, 503))
def post_feedback(body: FeedbackBody, caller: ConnectorCaller, services: ServicesDep) -> FeedbackPublic:
    """The customer's thumbs up or down on one of the bot's replies (``reply_id``: its number in the conversation,
    1 for the first reply; replies carry no id of their own) or on the whole conversation, with an optional comment.
    Rating the same reply again replaces the earlier rating, and the counters move with it. ``404`` when the
    conversation is not the caller's tenant's or has fewer bot replies. Erased with the customer."""
    return give_feedback(services, caller.tenant, body.conversation_id, body)
