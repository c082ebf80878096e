"""The catalogue facade: built-in and brand personas, markets and routing, validated together.

``PersonaCatalog.load(brand_dir)`` reads the built-ins (cached) and, when
given, a brand folder with the same layout. A brand persona or market with
the same id or code as a built-in one replaces it entirely (no field-by-field
merge). Loading checks every cross reference up front: rules name known
personas and markets, and each persona greets and signs off in the default
language of every market that routing can send to it.

``resolve`` tries the brand's rules, then the built-in rules (first match
wins), then the default. A market missing from the catalogue is an
``UnknownMarketError`` (a ``NotFoundError``): polydesk never guesses culture
rules, hours or legal notices; add a market file to serve a new market.

Example:
    >>> catalog = PersonaCatalog.load()
    >>> resolved = catalog.resolve(tenant="tidewell", channel="whatsapp", market="ID")
    >>> resolved.persona.id, resolved.market.timezone
    ('warm-quick', 'Asia/Jakarta')
    >>> resolved.matched.explain()  # doctest: +ELLIPSIS
    'built-in rule #...: channel=whatsapp|messenger|line|telegram market=ID|MY|TH|VN|TW → warm-quick'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from knowledge.schema import normalize_market, normalize_tenant
from personas.errors import (
    PersonaConfigError,
    Problem,
    UnknownChannelError,
    UnknownMarketError,
    UnknownPersonaError,
)
from personas.escalation import EscalationRules
from personas.loader import Layer, LayerName, Sourced, builtin_layer, read_layer
from personas.market import Market
from personas.persona import Persona
from personas.routing import Channel, RoutingRule
from polydesk.errors import InputError


class MatchedRule(BaseModel):
    """Which rule picked the persona: its layer, file and index (``None`` for the default)."""

    model_config = ConfigDict(frozen=True)

    layer: LayerName
    file: Path
    index: int | None
    rule: RoutingRule | None
    persona_id: str

    @property
    def is_default(self) -> bool:
        return self.index is None

    def explain(self) -> str:
        owner = "built-in" if self.layer == "builtin" else "brand"
        if self.rule is None:
            return f"{owner} default ({self.file.name}) → {self.persona_id}"
        return f"{owner} rule #{self.index} ({self.file.name}): {self.rule.describe()}"


class ResolvedPersona(BaseModel):
    """The outcome of ``resolve``: the persona, the market and the rule that chose them."""

    model_config = ConfigDict(frozen=True)

    tenant: str | None
    channel: Channel
    persona: Persona
    market: Market
    matched: MatchedRule


class PersonaCatalog:
    """All personas and markets of one installation, and the routing between them."""

    def __init__(
        self,
        *,
        personas: Mapping[str, Sourced[Persona]],
        markets: Mapping[str, Sourced[Market]],
        steps: Iterable[MatchedRule],
        default: MatchedRule,
        escalation: EscalationRules | None = None,
    ) -> None:
        self._personas = dict(personas)
        self._markets = dict(markets)
        self._escalation = escalation or EscalationRules()
        self._escalation_by_market: dict[str, EscalationRules] = {}
        # (rule, how to report it); every step of a routing file has a rule, only the default has none.
        self._rules = tuple((step.rule, step) for step in steps if step.rule is not None)
        self._default = default
        self._check_references()
        self._check_languages()

    @classmethod
    def load(cls, brand_dir: Path | None = None) -> PersonaCatalog:
        """The built-ins, overridden and extended by ``brand_dir`` when given (see the module docstring)."""
        if brand_dir is None:
            return _builtin_catalog()
        return cls._from_layers(builtin_layer(), read_layer(Path(brand_dir), name="brand"))

    @classmethod
    def _from_layers(cls, builtin: Layer, brand: Layer | None) -> PersonaCatalog:
        layers = [layer for layer in (brand, builtin) if layer is not None]  # brand first: it is tried first
        steps: list[MatchedRule] = []
        default: MatchedRule | None = None
        builtin_rules = True
        for layer in layers:
            if layer.routing is None:
                continue
            table, path = layer.routing.item, layer.routing.path
            if layer.name == "brand" or builtin_rules:
                steps.extend(
                    MatchedRule(layer=layer.name, file=path, index=index, rule=rule, persona_id=rule.persona)
                    for index, rule in enumerate(table.rules)
                )
            if default is None and table.default is not None:
                default = MatchedRule(layer=layer.name, file=path, index=None, rule=None, persona_id=table.default)
            builtin_rules = builtin_rules and table.builtin_rules
        if default is None:
            raise PersonaConfigError.single(builtin.root / "routing.yaml", "default", "no default persona is set")
        escalation = builtin.escalation.item if builtin.escalation else EscalationRules()
        if brand is not None and brand.escalation is not None:
            escalation = brand.escalation.item.layered_over(escalation)
        return cls(
            personas={**builtin.personas, **(brand.personas if brand else {})},
            markets={**builtin.markets, **(brand.markets if brand else {})},
            steps=steps,
            default=default,
            escalation=escalation,
        )

    # Look-ups.

    def persona(self, persona_id: str) -> Persona:
        if persona_id not in self._personas:
            raise UnknownPersonaError(persona_id, list(self._personas))
        return self._personas[persona_id].item

    def market(self, code: str) -> Market:
        try:
            normalized = normalize_market(code)
        except ValueError:
            raise UnknownMarketError(code, list(self._markets)) from None
        if normalized not in self._markets:
            raise UnknownMarketError(normalized, list(self._markets))
        return self._markets[normalized].item

    def escalation(self, market: str) -> EscalationRules:
        """The escalation rules in force in ``market``: the shared ones with the market's section merged in."""
        found = self.market(market)
        if found.code not in self._escalation_by_market:  # merged once per market: the rules are frozen
            self._escalation_by_market[found.code] = self._escalation.for_market(found.escalation)
        return self._escalation_by_market[found.code]

    def personas(self) -> list[Persona]:
        return [self._personas[key].item for key in sorted(self._personas)]

    def markets(self) -> list[Market]:
        return [self._markets[key].item for key in sorted(self._markets)]

    def source_of(self, *, persona: str | None = None, market: str | None = None) -> Path:
        """The file a persona or market was read from (to show where to edit it)."""
        if persona is not None:
            self.persona(persona)
            return self._personas[persona].path
        if market is not None:
            return self._markets[self.market(market).code].path
        raise TypeError("name a persona or a market")

    # Resolution.

    def resolve(self, *, tenant: str, channel: Channel | str, market: str) -> ResolvedPersona:
        """The persona for a request, with its market and the rule that matched.

        Raises ``UnknownChannelError`` (InputError) for a channel outside ``Channel``,
        ``InputError`` for a malformed tenant, ``UnknownMarketError`` (NotFoundError)
        for a market the catalogue does not hold.
        """
        try:
            tenant = normalize_tenant(tenant)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return self._resolve(tenant=tenant, channel=parse_channel(channel), market=self.market(market))

    def _resolve(self, *, tenant: str | None, channel: Channel, market: Market) -> ResolvedPersona:
        matched = next(
            (step for rule, step in self._rules if rule.matches(tenant=tenant, channel=channel, market=market.code)),
            self._default,
        )
        persona = self._personas[matched.persona_id].item
        # Every part is already validated; model_construct skips re-running the persona and market validators.
        return ResolvedPersona.model_construct(
            tenant=tenant, channel=channel, persona=persona, market=market, matched=matched
        )

    def route_matrix(self, *, tenant: str | None = None) -> list[ResolvedPersona]:
        """The resolution of every (market, channel) for ``tenant`` (None: a tenant no rule names)."""
        return [
            self._resolve(tenant=tenant, channel=channel, market=market)
            for market in self.markets()
            for channel in Channel
        ]

    def tenants_in_rules(self) -> list[str]:
        return sorted({rule.tenant for rule, _ in self._rules if rule.tenant is not None})

    # Load-time checks.

    def _check_references(self) -> None:
        known_personas = ", ".join(sorted(self._personas))
        for rule, step in self._rules:
            where = f"rules[{step.index}]"
            if rule.persona not in self._personas:
                raise PersonaConfigError.single(
                    step.file, f"{where}.persona", f"unknown persona {rule.persona!r}; known: {known_personas}"
                )
            for code in rule.market or ():
                if code not in self._markets:
                    known = ", ".join(sorted(self._markets))
                    message = f"unknown market {code!r}; known: {known}"
                    raise PersonaConfigError.single(step.file, f"{where}.market", message)
        if self._default.persona_id not in self._personas:
            raise PersonaConfigError.single(
                self._default.file, "default", f"unknown persona {self._default.persona_id!r}; known: {known_personas}"
            )

    def _check_languages(self) -> None:
        """Each persona speaks the default language of every market routed to it (greeting and sign-off)."""
        gaps = self._language_gaps()
        if gaps:
            persona_id, fields = next(iter(gaps.items()))
            problems = [_gap_problem(name, languages) for name, languages in fields.items()]
            raise PersonaConfigError(self._personas[persona_id].path, problems)

    def _language_gaps(self) -> dict[str, dict[str, dict[str, _Gap]]]:
        """persona id → field → missing language → the markets routed there and the rules that route them."""
        gaps: dict[str, dict[str, dict[str, _Gap]]] = {}
        for tenant in [None, *self.tenants_in_rules()]:
            for resolved in self.route_matrix(tenant=tenant):
                persona, language = resolved.persona, resolved.market.default_language
                for name, texts in (("greetings", persona.greetings), ("sign_offs", persona.sign_offs)):
                    if language not in texts:
                        gap = gaps.setdefault(persona.id, {}).setdefault(name, {}).setdefault(language, _Gap())
                        gap.markets.add(resolved.market.code)
                        gap.reasons.add(resolved.matched.explain())
        return gaps


@dataclass(slots=True)
class _Gap:
    markets: set[str] = field(default_factory=set)
    reasons: set[str] = field(default_factory=set)


def _gap_problem(field_name: str, languages: dict[str, _Gap]) -> Problem:
    listed = ", ".join(f"{language!r} (market {'/'.join(sorted(gap.markets))})" for language, gap in languages.items())
    reasons = sorted({reason for gap in languages.values() for reason in gap.reasons})
    shown = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    where = f"{field_name}.{next(iter(languages))}" if len(languages) == 1 else field_name
    return Problem(
        where,
        f"missing the default language of routed markets: {listed}; routed by {shown} "
        "(add the text, or narrow the rule with 'market:')",
    )


def parse_channel(channel: Channel | str) -> Channel:
    """``channel`` as a ``Channel``, or an ``UnknownChannelError`` listing the valid ones."""
    try:
        return Channel(channel.strip().lower() if isinstance(channel, str) else channel)
    except ValueError:
        raise UnknownChannelError(str(channel), [str(item) for item in Channel]) from None


@lru_cache(maxsize=1)
def _builtin_catalog() -> PersonaCatalog:
    return PersonaCatalog._from_layers(builtin_layer(), None)
