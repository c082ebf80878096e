"""Routing: ordered rules that pick a persona for a (tenant, channel, market).

``routing.yaml`` holds ``rules`` (tried in order, the first match wins) and an
optional ``default``. Every condition a rule leaves out matches anything;
``channel`` and ``market`` take one value or a list. A brand's rules are tried
before the built-in ones (unless the brand sets ``builtin_rules: false``), and
a brand's ``default`` replaces the built-in default.

Example:
    >>> table = RoutingTable.model_validate({"rules": [
    ...     {"channel": ["whatsapp", "line"], "market": ["ID", "TH"], "persona": "warm-quick"},
    ...     {"tenant": "acme", "persona": "acme-voice"}], "default": "precise-professional"})
    >>> table.first_match(tenant="tidewell", channel=Channel.WHATSAPP, market="ID")
    0
    >>> table.first_match(tenant="tidewell", channel=Channel.WEB, market="ID") is None
    True
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowledge.schema import normalize_market, normalize_tenant
from personas.fields import Slug


class Channel(StrEnum):
    WEB = "web"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    LINE = "line"
    TELEGRAM = "telegram"


CHAT_APPS: tuple[Channel, ...] = (Channel.WHATSAPP, Channel.MESSENGER, Channel.LINE, Channel.TELEGRAM)


def _one_or_many(value: object) -> object:
    if isinstance(value, str):
        return [value]
    return value


class RoutingRule(BaseModel):
    """``persona`` for requests that meet every condition given (``tenant``, ``channel``, ``market``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str | None = None
    channel: tuple[Channel, ...] | None = Field(default=None, min_length=1)
    market: tuple[str, ...] | None = Field(default=None, min_length=1)
    persona: Slug
    note: str = Field(default="", description="why the rule exists, shown when explaining a resolution")

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        return None if value is None else normalize_tenant(value)

    @field_validator("channel", mode="before")
    @classmethod
    def _channels(cls, value: object) -> object:
        value = _one_or_many(value)
        if isinstance(value, list):
            return [item.strip().lower() if isinstance(item, str) else item for item in value]
        return value

    @field_validator("market", mode="before")
    @classmethod
    def _markets(cls, value: object) -> object:
        return _one_or_many(value)

    @field_validator("market")
    @classmethod
    def _market_codes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        codes = tuple(normalize_market(code) for code in value)
        if "*" in codes:
            raise ValueError("leave 'market' out to match every market instead of using '*'")
        return codes

    def matches(self, *, tenant: str | None, channel: Channel, market: str) -> bool:
        return (
            (self.tenant is None or self.tenant == tenant)
            and (self.channel is None or channel in self.channel)
            and (self.market is None or market in self.market)
        )

    def describe(self) -> str:
        """The conditions in one line, e.g. ``channel=whatsapp|line market=ID|TH → warm-quick``."""
        conditions = [
            f"{name}={'|'.join(values)}"
            for name, values in (
                ("tenant", [self.tenant] if self.tenant else None),
                ("channel", [str(channel) for channel in self.channel] if self.channel else None),
                ("market", list(self.market) if self.market else None),
            )
            if values
        ]
        return f"{' '.join(conditions) or 'any request'} → {self.persona}"


class RoutingTable(BaseModel):
    """The contents of one ``routing.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[RoutingRule, ...] = ()
    default: Slug | None = Field(default=None, description="persona when no rule matches")
    builtin_rules: bool = Field(default=True, description="brand files only: also try the built-in rules")

    def first_match(self, *, tenant: str | None, channel: Channel, market: str) -> int | None:
        """The index of the first rule that matches, or None."""
        for index, rule in enumerate(self.rules):
            if rule.matches(tenant=tenant, channel=channel, market=market):
                return index
        return None
