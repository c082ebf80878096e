"""The market schema: languages, time zone, support hours, culture rules and compliance notices.

A market is one YAML file under ``<folder>/markets/``. Its first language is
its default. ``human_response_time`` is an ISO-8601 duration (``PT30M``,
``PT2H``, ``P1DT4H``; no years, months or weeks, whose length varies) counted
in support hours. ``published_contacts`` lists the brand's own support e-mail
addresses and phone numbers (``+CC...``, stored in E.164): the only ones a reply
may quote besides the customer's own (``agent.outbound`` masks every other)::

    published_contacts:
      emails: [support@tidewell.example]
      phones: ["+49 30 1234567"]

Example:
    >>> import datetime as dt
    >>> jp = Market.model_validate({
    ...     "code": "JP", "name": "日本", "languages": ["ja"], "timezone": "Asia/Tokyo",
    ...     "support_hours": {"schedule": [{"days": [1, 2, 3, 4, 5], "open": "10:00", "close": "18:00"}]},
    ...     "human_response_time": "PT1H"})
    >>> jp.is_open(dt.datetime(2026, 3, 2, 8, 59, tzinfo=dt.UTC))  # 17:59 in Tokyo, a Monday
    True
    >>> jp.next_opening(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)).isoformat()
    '2026-03-03T10:00:00+09:00'
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from knowledge.schema import ANY_MARKET, normalize_market
from personas.escalation import MarketEscalation
from personas.fields import (
    FieldProblem,
    LanguageList,
    LanguageMap,
    LanguageTermsMap,
    NonEmptyText,
    Slug,
    TimeZoneName,
    pick_language,
)
from personas.hours import SupportHours

_DURATION = re.compile(r"^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
# One address, no display name: what a reply would quote (the full RFC 5322 grammar is not wanted here).
_EMAIL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


def _email_address(value: str) -> str:
    address = value.strip()
    if not _EMAIL.match(address):
        raise ValueError(f"{value!r} is not an e-mail address such as 'support@example.com'")
    return address.lower()


def _e164_phone(value: str) -> str:
    raw = value.strip()
    try:
        number = phonenumbers.parse(raw, None) if raw.startswith("+") else None
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise ValueError(f"{value!r} is not an international phone number such as '+49 30 1234567' (E.164)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


EmailAddress = Annotated[str, AfterValidator(_email_address)]
E164Phone = Annotated[str, AfterValidator(_e164_phone)]


class Directness(StrEnum):
    DIRECT = "direct"
    INDIRECT = "indirect"


class Honorifics(BaseModel):
    """How customers must be addressed, e.g. Japanese keigo or German "Sie"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    required: bool
    style: NonEmptyText = Field(description="name of the register, e.g. 'keigo', 'Sie', 'usted'")
    forms: tuple[NonEmptyText, ...] = Field(default=(), description="address forms to use, e.g. 'お客様', 'Sie'")
    notes: str = ""


class CultureRules(BaseModel):
    """What a reply in this market must respect; the guardrails stage enforces ``avoid_terms``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    directness: Directness = Directness.DIRECT
    honorifics: Honorifics | None = None
    avoid_topics: tuple[NonEmptyText, ...] = Field(default=(), description="topics a reply never raises")
    avoid_terms: LanguageTermsMap = Field(default_factory=dict, description="language -> words and phrases to avoid")
    notes: tuple[NonEmptyText, ...] = Field(default=(), description="guidance for writers and LLM prompts")


class PublishedContacts(BaseModel):
    """The brand's own contacts in this market, the only e-mails and phones a reply may quote (besides the
    customer's own). E-mails are kept lower-case, phones in E.164 (``+493012345678``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    emails: tuple[EmailAddress, ...] = ()
    phones: tuple[E164Phone, ...] = Field(default=(), description="with the country code: '+66 2 123 4567'")


class ComplianceNotice(BaseModel):
    """A notice the agent must show, e.g. a GDPR privacy notice once per conversation.

    A reply shows it in the reply language; without a text in that language, a ``privacy`` notice gives way to
    polydesk's generic privacy notice in that language, and any other notice is shown in the market's default
    language (the pipeline decides: ``agent.phrases.notice_text``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Slug
    regulation: NonEmptyText = Field(description="e.g. 'GDPR', 'UK GDPR'")
    topic: Literal["privacy", "other"] = Field(
        default="privacy", description="what it is about: a generic privacy notice may stand in for a 'privacy' one")
    text: LanguageMap
    once_per_conversation: bool = True

    def text_for(self, language: str) -> str | None:
        """The notice in ``language`` (its closest variant: ``pick_language``); None when it has no text in it."""
        return pick_language(self.text, language)


class Market(BaseModel):
    """One market: who the customers are, when humans answer, and what a reply must respect."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    name: NonEmptyText
    languages: LanguageList = Field(description="languages served, the default first")
    timezone: TimeZoneName
    support_hours: SupportHours
    human_response_time: dt.timedelta = Field(description="ISO-8601 duration, counted in support hours")
    culture: CultureRules = Field(default_factory=CultureRules)
    compliance: tuple[ComplianceNotice, ...] = ()
    escalation: MarketEscalation | None = Field(default=None, description="keywords and thresholds of this market")
    published_contacts: PublishedContacts = Field(
        default_factory=PublishedContacts, description="the brand's support e-mails and phones replies may quote")

    @field_validator("code")
    @classmethod
    def _country_code(cls, value: str) -> str:
        code = normalize_market(value)
        if code == ANY_MARKET:
            raise ValueError("a market needs a country code; '*' means 'every market' in the knowledge index")
        return code

    @field_validator("human_response_time", mode="before")
    @classmethod
    def _iso_duration(cls, value: object) -> object:
        if not isinstance(value, str) or not _DURATION.match(value.strip().upper()):
            raise ValueError(f"{value!r} is not an ISO-8601 duration such as 'PT30M', 'PT2H' or 'P1DT4H'")
        return value.strip().upper()

    @field_validator("human_response_time")
    @classmethod
    def _positive(cls, value: dt.timedelta) -> dt.timedelta:
        if value <= dt.timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @model_validator(mode="after")
    def _notices_in_default_language(self) -> Market:
        seen: set[str] = set()
        for index, notice in enumerate(self.compliance):
            if notice.id in seen:
                raise FieldProblem(f"compliance[{index}].id", f"notice {notice.id!r} is listed twice")
            seen.add(notice.id)
            if self.default_language not in notice.text:
                raise FieldProblem(
                    f"compliance[{index}].text",
                    f"notice {notice.id!r} has no text in {self.default_language!r}, the market's default language",
                )
        return self

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_time(self, at: dt.datetime) -> dt.datetime:
        """``at`` on the market's clock (``at`` must be timezone-aware)."""
        if at.tzinfo is None:
            raise ValueError(f"at must be timezone-aware, got naive {at.isoformat()}")
        return at.astimezone(self.zone)

    def is_open(self, at: dt.datetime) -> bool:
        """Whether humans answer at ``at`` (timezone-aware), honouring the schedule and holidays."""
        return self.support_hours.is_open(at, self.zone)

    def next_opening(self, after: dt.datetime) -> dt.datetime:
        """When humans next answer, on the market's clock: ``after`` itself if open then."""
        return self.support_hours.next_opening(after, self.zone)
