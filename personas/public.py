"""Read schemas for the HTTP API: what a client may see of a persona or a market.

The storage models (``Persona``, ``Market``) stay internal. ``PersonaPublic``
leaves out ``llm_instructions`` (prompt text is an implementation detail that
may carry brand strategy) and says only whether there are any.
``MarketPublic`` adds the default language and writes the response time as an
ISO-8601 duration.

Example:
    >>> from personas.catalog import PersonaCatalog
    >>> catalog = PersonaCatalog.load()
    >>> PersonaPublic.from_persona(catalog.persona("jp-keigo")).greetings["ja"]
    'お問い合わせいただき、誠にありがとうございます。'
    >>> MarketPublic.from_market(catalog.market("de")).human_response_time
    'PT4H'
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from personas.hours import SupportHours
from personas.market import ComplianceNotice, CultureRules, Market
from personas.persona import EmojiPolicy, Formality, Persona, Tone


class PersonaPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    display_name: str
    description: str
    tone: Tone
    formality: Formality
    emoji: EmojiPolicy
    max_reply_chars: int
    languages: list[str]
    greetings: dict[str, str]
    sign_offs: dict[str, str]
    avoid_phrases: list[str]
    has_llm_instructions: bool

    @classmethod
    def from_persona(cls, persona: Persona) -> PersonaPublic:
        return cls(
            **persona.model_dump(exclude={"llm_instructions"}),
            languages=persona.languages,
            has_llm_instructions=bool(persona.llm_instructions),
        )


class MarketPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    languages: list[str]
    default_language: str
    timezone: str
    support_hours: SupportHours
    human_response_time: str
    culture: CultureRules
    compliance: list[ComplianceNotice]

    @classmethod
    def from_market(cls, market: Market) -> MarketPublic:
        data = market.model_dump(exclude={"human_response_time"})
        return cls(
            **data,
            default_language=market.default_language,
            human_response_time=market.model_dump(mode="json", include={"human_response_time"})["human_response_time"],
        )
