"""Realistic recorded traffic for demos, the console and ``bench/outcomes.py``, through the recording code itself.

``seed_traffic`` makes up conversations (markets, channels, several messages, handoffs with reasons and queues,
desk replies after a while, releases, feedback, unanswered questions) and records each event with
``OutcomeRecorder.record_reply`` / ``record_event`` and ``FeedbackStore.rate``, exactly as the agent and the desk
do; only the writes are batched in pipelines. Nothing is written to the conversation store.

Example:
    >>> seed_traffic(recorder, feedback, "tidewell", conversations=2_000, days=30)         # doctest: +SKIP
    SeedReport(conversations=2000, messages=5012, handoffs=301, desk_replies=214, ratings=203, unanswered=251)
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.events import HandoffEvent
from agent.feedback import FeedbackStore
from agent.outcomes import OutcomeRecorder
from agent.schema import AnswerRequest, Reply

MARKETS = ("DE", "FR", "ES", "GB", "US", "MX", "BR", "JP", "TW", "TH", "VN", "ID", "MY", "SG", "AE", "SA")
CHANNELS = ("web", "whatsapp", "line", "email", "telegram")
REASONS = ("customer_request", "intent", "low_confidence", "sentiment", "policy", "tool_failed")
QUEUES = ("support", "support_senior", "sales", "privacy")


@dataclass
class SeedReport:
    conversations: int = 0
    messages: int = 0
    handoffs: int = 0
    desk_replies: int = 0
    ratings: int = 0
    unanswered: int = 0


def seed_traffic(recorder: OutcomeRecorder, feedback: FeedbackStore, tenant: str, *, conversations: int,
                 days: int = 30, end: dt.date | None = None, markets: Sequence[str] = MARKETS,
                 channels: Sequence[str] = CHANNELS, questions: Sequence[tuple[str, str, np.ndarray]] = (),
                 handoff_share: float = 0.15, unanswered_share: float = 0.05, rated_share: float = 0.1,
                 seed: int = 7, batch: int = 1000) -> SeedReport:
    """Record ``conversations`` made-up conversations over the ``days`` UTC days up to ``end`` (default today).
    ``questions``: (text, language, embedding) the unanswered messages are drawn from (none: no gaps)."""
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    last = end or dt.datetime.now(dt.UTC).date()
    first = dt.datetime.combine(last - dt.timedelta(days=days - 1), dt.time(), dt.UTC).timestamp()
    report = SeedReport()
    pipe = recorder.client.pipeline(transaction=False)
    for n in range(conversations):
        market, channel = rng.choice(markets), rng.choice(channels)
        conversation_id = f"seed-{seed}-{n}"
        at = first + rng.random() * (days * 86400 - 3600)
        handoff_after = rng.randint(1, 3) if rng.random() < handoff_share else 0
        replies = 0
        for turn in range(1, rng.randint(1, 4) + 1):
            text, language, vector = "", "en", None
            if questions and rng.random() < unanswered_share:
                text, language, base = rng.choice(questions)
                vector = base + noise.normal(0, 0.004, base.shape).astype(np.float32)
                report.unanswered += 1
            request = AnswerRequest(tenant=tenant, channel=channel, market=market, message=text or "…",  # type: ignore[arg-type]
                                    conversation_id=conversation_id)
            handing_off = turn == handoff_after
            reply = Reply(status="answered", conversation_id=conversation_id, text="…", language=language,
                          market=market, persona_id="seed", generator="handoff" if handing_off else "extractive",
                          confidence=0.2 if vector is not None else 0.8,
                          timings_ms={"total": round(rng.lognormvariate(3.6, 0.6), 3)})
            if handing_off:
                reason, queue = rng.choice(REASONS), rng.choice(QUEUES)
                recorder.record_event(_event("handoff", tenant, conversation_id, market, channel, at, reason=reason,
                                             queue=queue), pipe=pipe)
                report.handoffs += 1
            recorder.record_reply(request, reply, gap=vector, at=at, pipe=pipe)
            replies += 1
            report.messages += 1
            if handing_off:
                if rng.random() < 0.75:
                    at += rng.lognormvariate(5.5, 1.2)
                    recorder.record_event(_event("reply", tenant, conversation_id, market, channel, at), pipe=pipe)
                    report.desk_replies += 1
                recorder.record_event(_event("release", tenant, conversation_id, market, channel, at + 60),
                                      pipe=pipe)
                break
            at += rng.uniform(20, 240)
        if rng.random() < rated_share:
            feedback.rate(tenant, conversation_id, market=market, channel=channel, reply_id=rng.randint(1, replies),
                          rating="up" if rng.random() < 0.8 else "down", at=at + 30, pipe=pipe)
            report.ratings += 1
        report.conversations += 1
        if len(pipe) >= batch:
            pipe.execute()
    pipe.execute()
    return report


def _event(kind: str, tenant: str, conversation_id: str, market: str, channel: str, at: float, *,
           reason: str | None = None, queue: str | None = None) -> HandoffEvent:
    return HandoffEvent.model_validate({
        "type": kind, "tenant": tenant, "conversation_id": conversation_id, "market": market, "channel": channel,
        "reason": reason, "queue": queue, "created_at": dt.datetime.fromtimestamp(at, dt.UTC),
    })

