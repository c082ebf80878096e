"""Personas and market rules as validated YAML; resolve (tenant, channel, market) → persona.

Built-in personas, markets and routing ship in ``personas/builtin/``; a brand
folder with the same layout (``personas/*.yaml``, ``markets/*.yaml``,
``routing.yaml``) adds to them, and a brand persona or market with the same
id or code replaces the built-in one entirely. Everything is validated when
the catalogue loads: a bad file is a ``PersonaConfigError`` naming the file,
the field and the problem.

Modules: ``persona`` (Persona, EmojiPolicy), ``market`` (Market, culture
rules, compliance notices), ``hours`` (support hours and holidays),
``routing`` (Channel, RoutingRule), ``escalation`` (intents, queues, thresholds,
keyword rules, follow-the-sun teams), ``loader`` (YAML → models),
``catalog`` (the facade), ``public`` (API read schemas), ``errors``.

Example:
    >>> from datetime import UTC, datetime
    >>> catalog = PersonaCatalog.load()          # or PersonaCatalog.load(Path("brands/acme"))
    >>> resolved = catalog.resolve(tenant="tidewell", channel="line", market="JP")
    >>> resolved.persona.id, resolved.persona.greeting("ja")
    ('jp-keigo', 'お問い合わせいただき、誠にありがとうございます。')
    >>> resolved.market.is_open(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))  # 18:30 in Tokyo
    False
"""

from personas.catalog import MatchedRule, PersonaCatalog, ResolvedPersona
from personas.errors import PersonaConfigError, UnknownChannelError, UnknownMarketError, UnknownPersonaError
from personas.escalation import EscalationRules, Intent, MarketEscalation, Priority, Queue, Route, Team, Thresholds
from personas.hours import Holiday, Slot, SupportHours
from personas.market import ComplianceNotice, CultureRules, Directness, Honorifics, Market
from personas.persona import EmojiPolicy, Formality, Persona, Tone, find_emoji
from personas.public import MarketPublic, PersonaPublic
from personas.routing import Channel, RoutingRule, RoutingTable

__all__ = [
    "Channel",
    "ComplianceNotice",
    "CultureRules",
    "Directness",
    "EmojiPolicy",
    "EscalationRules",
    "Formality",
    "Holiday",
    "Honorifics",
    "Intent",
    "Market",
    "MarketEscalation",
    "MarketPublic",
    "MatchedRule",
    "Persona",
    "PersonaCatalog",
    "PersonaConfigError",
    "PersonaPublic",
    "Priority",
    "Queue",
    "ResolvedPersona",
    "Route",
    "RoutingRule",
    "RoutingTable",
    "Slot",
    "SupportHours",
    "Team",
    "Thresholds",
    "Tone",
    "UnknownChannelError",
    "UnknownMarketError",
    "UnknownPersonaError",
    "find_emoji",
]
