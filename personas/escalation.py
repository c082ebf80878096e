"""Escalation rules: intents, queues, thresholds, keyword rules and follow-the-sun teams.

``escalation.yaml`` (built-in, and optionally in a brand folder) holds the rules
every market shares; a market file's ``escalation:`` section adds its own
keywords (e.g. "Procon" in Brazil, "สคบ." in Thailand) and overrides thresholds.
``EscalationRules.for_market`` gives the rules in force for one market.

- ``routes`` decides *which* intents escalate, and to which queue with which
  priority (an intent without a route never escalates by itself), plus the
  routes for the two non-intent reasons, ``sentiment`` and ``low_confidence``.
- ``keywords``: intent → language → terms. A term found in a message sets that
  intent for certain (reason ``policy``): the brand's explicit rule wins over the
  classifier. Terms match case-insensitively, as whole words in spaced scripts and
  as substrings in Thai, Chinese and Japanese.
- ``frustration_terms`` and ``repeat_terms`` (language → terms) feed the sentiment score.
- ``teams``: who can take a handoff when the market's own support is closed.

Example:
    >>> rules = EscalationRules.model_validate({
    ...     "routes": {"legal_threat": {"queue": "support_senior", "priority": "urgent"}},
    ...     "keywords": {"legal_threat": {"de": ["Anwalt"]}}})
    >>> market = MarketEscalation.model_validate({"thresholds": {"sentiment": 0.6},
    ...                                            "keywords": {"legal_threat": {"pt": ["Procon"]}}})
    >>> merged = rules.for_market(market)
    >>> merged.thresholds.sentiment, sorted(merged.keywords["legal_threat"])
    (0.6, ['de', 'pt'])
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from personas.fields import LanguageList, LanguageTermsMap, NonEmptyText, Slug, TimeZoneName
from personas.hours import SupportHours


class Intent(StrEnum):
    HUMAN_REQUEST = "human_request"
    BULK_PURCHASE = "bulk_purchase"
    CUSTOM_ORDER = "custom_order"
    LEGAL_THREAT = "legal_threat"
    REFUND_DISPUTE = "refund_dispute"
    PRIVACY_REQUEST = "privacy_request"
    ORDER_STATUS = "order_status"
    PRODUCT_QUESTION = "product_question"
    POLICY_QUESTION = "policy_question"
    SMALLTALK = "smalltalk"


class Queue(StrEnum):
    SALES = "sales"
    SUPPORT_SENIOR = "support_senior"
    PRIVACY = "privacy"
    SUPPORT = "support"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


# Routes for reasons that are not an intent.
SENTIMENT = "sentiment"
LOW_CONFIDENCE = "low_confidence"
_ROUTE_KEYS = frozenset([*Intent, SENTIMENT, LOW_CONFIDENCE])

_Frozen = ConfigDict(frozen=True, extra="forbid")


class Route(BaseModel):
    model_config = _Frozen

    queue: Queue
    priority: Priority = Priority.NORMAL


class Thresholds(BaseModel):
    """Scores at which a signal escalates; every score is in [0, 1]."""

    model_config = _Frozen

    intent: float = Field(default=0.6, ge=0.0, le=1.0,
                          description="classifier probability of the escalating intents together")
    intent_top: float = Field(default=0.3, ge=0.0, le=1.0,
                              description="and of the most likely escalating intent on its own")
    sentiment: float = Field(default=0.7, ge=0.0, le=1.0, description="frustration score")
    low_confidence: float = Field(default=0.35, ge=0.0, le=1.0,
                                  description="retrieval confidence under which the bot could not answer")
    low_confidence_turns: int = Field(default=2, ge=1, le=10,
                                      description="unanswered messages in a row, on one topic, that escalate")


class ThresholdOverrides(BaseModel):
    """A market's changes to the shared thresholds (each optional)."""

    model_config = _Frozen

    intent: float | None = Field(default=None, ge=0.0, le=1.0)
    intent_top: float | None = Field(default=None, ge=0.0, le=1.0)
    sentiment: float | None = Field(default=None, ge=0.0, le=1.0)
    low_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    low_confidence_turns: int | None = Field(default=None, ge=1, le=10)

    def apply(self, base: Thresholds) -> Thresholds:
        return base.model_copy(update=self.model_dump(exclude_none=True))


IntentTerms = dict[Intent, LanguageTermsMap]


def _merge_terms(*maps: LanguageTermsMap) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for terms in maps:
        for language, words in terms.items():
            merged[language] = list(dict.fromkeys([*merged.get(language, []), *words]))
    return merged


def _merge_intent_terms(*maps: IntentTerms) -> IntentTerms:
    return {intent: _merge_terms(*(m[intent] for m in maps if intent in m)) for m in maps for intent in m}


class Team(BaseModel):
    """A human team that takes handoffs of some queues while its own hours are open (follow the sun)."""

    model_config = _Frozen

    id: Slug
    name: NonEmptyText
    timezone: TimeZoneName
    support_hours: SupportHours
    queues: tuple[Queue, ...] = Field(min_length=1)
    languages: LanguageList | None = Field(default=None, description="languages the team answers; none: any")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_open(self, at: dt.datetime) -> bool:
        return self.support_hours.is_open(at, self.zone)

    def takes(self, queue: Queue | str, language: str) -> bool:
        family = language.split("-")[0]
        return Queue(queue) in self.queues and (self.languages is None or any(
            code == language or code.split("-")[0] == family for code in self.languages))


class MarketEscalation(BaseModel):
    """A market file's ``escalation:`` section: keywords added to the shared ones, threshold changes."""

    model_config = _Frozen

    thresholds: ThresholdOverrides = Field(default_factory=ThresholdOverrides)
    keywords: IntentTerms = Field(default_factory=dict)
    frustration_terms: LanguageTermsMap = Field(default_factory=dict)


class EscalationRules(BaseModel):
    """The contents of an ``escalation.yaml``; ``for_market`` merges a market's section in."""

    model_config = _Frozen

    thresholds: Thresholds = Field(default_factory=Thresholds)
    routes: dict[str, Route] = Field(default_factory=dict, description="intent, 'sentiment' or 'low_confidence'")
    keywords: IntentTerms = Field(default_factory=dict)
    frustration_terms: LanguageTermsMap = Field(default_factory=dict)
    repeat_terms: LanguageTermsMap = Field(default_factory=dict)
    teams: tuple[Team, ...] = ()
    builtin_rules: bool = Field(default=True, description="brand files only: also use the built-in terms and routes")

    @field_validator("routes")
    @classmethod
    def _route_keys(cls, value: dict[str, Route]) -> dict[str, Route]:
        unknown = sorted(set(value) - _ROUTE_KEYS)
        if unknown:
            known = ", ".join(sorted(_ROUTE_KEYS))
            raise ValueError(f"unknown route {', '.join(map(repr, unknown))}; routes are for: {known}")
        return value

    @model_validator(mode="after")
    def _unique_teams(self) -> EscalationRules:
        ids = [team.id for team in self.teams]
        twice = sorted({team_id for team_id in ids if ids.count(team_id) > 1})
        if twice:
            raise ValueError(f"team id {', '.join(map(repr, twice))} is given more than once")
        return self

    def route(self, key: str) -> Route | None:
        return self.routes.get(key)

    def layered_over(self, builtin: EscalationRules) -> EscalationRules:
        """A brand's rules on top of the built-in ones: terms and routes add up, the brand's values win."""
        if not self.builtin_rules:
            return self
        given = self.model_fields_set
        return EscalationRules(
            thresholds=self.thresholds if "thresholds" in given else builtin.thresholds,
            routes={**builtin.routes, **self.routes},
            keywords=_merge_intent_terms(builtin.keywords, self.keywords),
            frustration_terms=_merge_terms(builtin.frustration_terms, self.frustration_terms),
            repeat_terms=_merge_terms(builtin.repeat_terms, self.repeat_terms),
            teams=self.teams if "teams" in given else builtin.teams,
        )

    def for_market(self, market: MarketEscalation | None) -> EscalationRules:
        """The rules in force in one market."""
        if market is None:
            return self
        return self.model_copy(update={
            "thresholds": market.thresholds.apply(self.thresholds),
            "keywords": _merge_intent_terms(self.keywords, market.keywords),
            "frustration_terms": _merge_terms(self.frustration_terms, market.frustration_terms),
        })
