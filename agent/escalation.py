"""Escalation: signals → an explainable decision → a routed handoff with a promise to the customer.

1. **Signals** (``EscalationPolicy.signals``), from the message and the embedding the
   retrieval stage uses: the intent classifier (``agent.intents``), the market's keyword
   rules (``personas`` escalation rules; a brand edits them in YAML) and frustration
   (``agent.sentiment``).
2. **Decision** (``decide``), first rule that holds:
   - a keyword rule names an intent that has a route → reason ``customer_request`` for
     ``human_request``, else ``policy`` (the brand's explicit rule);
   - the classifier's probability of the escalating intents together reaches
     ``thresholds.intent`` and the most likely of them reaches ``thresholds.intent_top`` on its
     own → ``customer_request`` or ``intent``, for that intent;
   - frustration reaches ``thresholds.sentiment`` → ``sentiment``;
   - ``thresholds.low_confidence_turns`` messages in a row on one topic that the bot could
     not answer → ``low_confidence``.
   The route of the reason gives queue and priority; a frustrated customer's handoff gets at
   least the priority of the ``sentiment`` route.
3. **Routing** (``plan_handoff``): in the market's support hours the market's own team takes
   it; outside them a follow-the-sun team whose hours are open now and that takes the queue
   and the customer's language; else it waits for the market's next opening. The promise
   ("a person will reply within 4 hours" / "by Monday 10:00") counts the response time in
   the support hours of whoever takes it.
4. **Summary** for the human: who, market and language, what they asked, what the bot
   answered, why it escalated.

Example:
    >>> policy = EscalationPolicy(classifier)                                       # doctest: +SKIP
    >>> signals = policy.signals("Mein Anwalt wird sich melden.", vector, rules=rules, history=[])
    >>> policy.decide(signals, rules=rules).reason, _.queue
    ('policy', 'support_senior')
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from babel.dates import format_datetime, format_timedelta

from agent.intents import IntentClassifier, IntentPrediction
from agent.phrases import say
from agent.schema import Escalation, EscalationReason, Turn
from agent.sentiment import Frustration, FrustrationScorer
from agent.tools.render import babel_locale
from personas import EscalationRules, Intent, Market, Priority, Route, Team
from personas.escalation import LOW_CONFIDENCE, SENTIMENT
from polydesk.terms import TermSet

__all__ = ["EscalationPolicy", "HandoffPlan", "Signals", "customer_notice", "plan_handoff", "summary"]

_PRIORITY_ORDER = tuple(Priority)
# When keywords of several intents occur, the gravest wins.
_KEYWORD_ORDER = (Intent.LEGAL_THREAT, Intent.REFUND_DISPUTE, Intent.PRIVACY_REQUEST, Intent.HUMAN_REQUEST,
                  Intent.BULK_PURCHASE, Intent.CUSTOM_ORDER)
_QUOTE_CHARS = 300
_CACHE_SIZE = 64


@dataclass(frozen=True, slots=True)
class Signals:
    intent: IntentPrediction
    keyword: tuple[Intent, str] | None  # the intent a keyword rule names, and the term found
    frustration: Frustration


@dataclass(frozen=True, slots=True)
class HandoffPlan:
    open_now: bool
    team: str | None  # a follow-the-sun team, when the market's own support is closed
    reply_by: dt.datetime  # on the market's clock


class EscalationPolicy:
    """Signals and decisions; build once and share (thread-safe)."""

    def __init__(self, classifier: IntentClassifier, scorer: FrustrationScorer | None = None) -> None:
        self.classifier = classifier
        self.scorer = scorer or FrustrationScorer()
        self._keywords: dict[int, tuple[EscalationRules, TermSet]] = {}
        self._lock = threading.Lock()

    def signals(self, message: str, vector: Sequence[float] | np.ndarray, *, rules: EscalationRules,
                history: Sequence[Turn]) -> Signals:
        prediction = self.classifier.predict(vector)
        found = {Intent(label.split("|", 1)[0]): label.split("|", 1)[1]
                 for label, _ in self._keyword_terms(rules).find(message)}
        keyword = next(((intent, found[intent]) for intent in (*_KEYWORD_ORDER, *Intent) if intent in found), None)
        frustration = self.scorer.score(message, anger=prediction.anger, rules=rules, history=history)
        return Signals(intent=prediction, keyword=keyword, frustration=frustration)

    def decide(self, signals: Signals, *, rules: EscalationRules, unanswered: int = 0) -> Escalation:
        """The decision; ``unanswered`` counts this message and the ones before it the bot could not answer."""
        thresholds = rules.thresholds
        prediction, frustration = signals.intent, signals.frustration
        escalating = {intent: p for intent, p in prediction.probabilities.items() if rules.route(intent)}
        scores = {"intent": round(prediction.probability, 4), "escalating_intents": round(sum(escalating.values()), 4),
                  "sentiment": frustration.score}
        explanation: list[str] = []
        reason: EscalationReason | None = None
        intent: str = prediction.intent.value
        route: Route | None = None
        if signals.keyword is not None and (route := rules.route(signals.keyword[0])):
            intent = signals.keyword[0].value
            reason = "customer_request" if intent == Intent.HUMAN_REQUEST else "policy"
            explanation.append(f"keyword {signals.keyword[1]} → {intent}")
        elif (escalating and sum(escalating.values()) >= thresholds.intent
              and max(escalating.values()) >= thresholds.intent_top):
            intent = max(escalating, key=lambda name: escalating[name])
            route = rules.route(intent)
            reason = "customer_request" if intent == Intent.HUMAN_REQUEST else "intent"
            explanation.append(f"intent {intent} {escalating[intent]:.2f} (escalating intents "
                               f"{sum(escalating.values()):.2f} ≥ {thresholds.intent})")
        elif frustration.score >= thresholds.sentiment and (route := rules.route(SENTIMENT)):
            reason = "sentiment"
        elif unanswered >= thresholds.low_confidence_turns and (route := rules.route(LOW_CONFIDENCE)):
            reason = "low_confidence"
            explanation.append(f"{unanswered} messages in a row on one topic without a confident answer")
        if frustration.score >= thresholds.sentiment or reason == "sentiment":
            explanation.append(f"sentiment {frustration.score:.2f} ≥ {thresholds.sentiment} ({frustration.explain()})")
        if reason is None or route is None:
            return Escalation(escalate=False, intent=intent, scores=scores)
        priority = route.priority
        sentiment_route = rules.route(SENTIMENT)
        if frustration.score >= thresholds.sentiment and sentiment_route is not None:
            priority = max(priority, sentiment_route.priority, key=_PRIORITY_ORDER.index)
        return Escalation(escalate=True, reason=reason, intent=intent, queue=route.queue.value,
                          priority=priority.value, scores=scores, explanation=explanation)

    def _keyword_terms(self, rules: EscalationRules) -> TermSet:
        entry = self._keywords.get(id(rules))
        if entry is not None and entry[0] is rules:
            return entry[1]
        terms = TermSet.compile(
            ((term, f"{intent}|{term!r} ({language})") for intent, by_language in rules.keywords.items()
             for language, words in by_language.items() for term in words),
            plural=True,
        )
        with self._lock:
            if len(self._keywords) >= _CACHE_SIZE:
                self._keywords.pop(next(iter(self._keywords)))
            self._keywords[id(rules)] = (rules, terms)
        return terms


def plan_handoff(queue: str, *, market: Market, rules: EscalationRules, language: str,
                 now: dt.datetime) -> HandoffPlan:
    """Who takes the handoff and by when a person answers (see the module docstring)."""
    if market.is_open(now):
        reply_by = market.support_hours.add_open_time(now, market.human_response_time, market.zone)
        return HandoffPlan(open_now=True, team=None, reply_by=reply_by)
    team = _open_team(rules.teams, queue, language, now)
    if team is not None:
        reply_by = team.support_hours.add_open_time(now, market.human_response_time, team.zone)
        return HandoffPlan(open_now=True, team=team.id, reply_by=reply_by.astimezone(market.zone))
    reply_by = market.support_hours.add_open_time(now, market.human_response_time, market.zone)
    return HandoffPlan(open_now=False, team=None, reply_by=reply_by)


def _open_team(teams: Sequence[Team], queue: str, language: str, now: dt.datetime) -> Team | None:
    return next((team for team in teams if team.takes(queue, language) and team.is_open(now)), None)


def customer_notice(plan: HandoffPlan, *, market: Market, language: str) -> str:
    """What the customer is told, in their language: a person answers within a time, or by a moment."""
    locale = babel_locale(language, market.code)
    if plan.open_now:
        wait = format_timedelta(market.human_response_time, threshold=2, locale=locale)
        return say("handoff_now", language, wait=wait)
    when = format_datetime(plan.reply_by.astimezone(market.zone), "EEEE HH:mm", locale=locale)
    return say("handoff_later", language, when=when)


def summary(*, escalation: Escalation, market: Market, language: str, channel: str, customer_id: str | None,
            message: str, history: Sequence[Turn]) -> str:
    """A few lines for the human who takes over: who, where, what was asked and answered, why."""
    asked = [turn.text for turn in history if turn.role == "customer"][-2:]
    answered = next((turn.text for turn in reversed(history) if turn.role == "bot"), None)
    lines = [
        f"Customer {customer_id or '(anonymous)'} · market {market.code} ({market.name}) · language {language} · "
        f"channel {channel}",
        f"Escalated: {escalation.reason} → queue {escalation.queue}, priority {escalation.priority}, "
        f"intent {escalation.intent}",
        *(f"Why: {line}" for line in escalation.explanation),
        *(f"Earlier: {_quote(text)}" for text in asked),
        f"Bot answered last: {_quote(answered)}" if answered else "Bot answered last: (nothing yet)",
        f"Message: {_quote(message)}",
    ]
    return "\n".join(lines)


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return f"“{flat[:_QUOTE_CHARS]}{'…' if len(flat) > _QUOTE_CHARS else ''}”"
