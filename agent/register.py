"""The register of a reply: a persona that addresses customers formally never quotes the informal forms.

German "du", French "tu", Spanish "tú" and plain-form Japanese are how brands write help pages and how
agents wrote past chats; a formal persona (``de-formal`` says "Sie") must not quote them. A persona needs
the formal register when its ``formality`` is ``formal``, or when its market requires honorifics
(``culture.honorifics.required``) and the reply is in the market's own language.

Checks are word-boundary regexes per language on the forms of address (pronouns and possessives, not
verb endings), cheap enough for every candidate quote: the extractive generator skips a past conversation
in the wrong register for the next evidence that is nearly as good (``agent.generators.extractive``), and
the guardrails flag informal address that stays in a reply. Languages whose polite address is not a
matter of pronouns (English), or is fine either way (Portuguese "você" and "o senhor"), have no patterns
and always pass.

Example:
    >>> informal_forms("Die Rücksendung ist für dich kostenlos. Du hast 30 Tage Zeit.", "de")
    ['dich', 'Du']
    >>> informal_forms("Sie haben 30 Tage Zeit.", "de")
    []
"""

from __future__ import annotations

import regex

from personas import Market, Persona
from personas.persona import Formality
from polydesk.language import language_family

# Forms of address of the informal register, per language family (``polydesk.language.language_family``).
_INFORMAL: dict[str, regex.Pattern[str]] = {
    "de": regex.compile(r"\b(?:du|dich|dir|dein(?:e[mnrs]?)?|euch|euer|eure[mnrs]?)\b", regex.IGNORECASE),
    "fr": regex.compile(r"\b(?:tu|toi|te|ton|ta|tes|tien(?:ne)?s?)\b|\bt['’](?=\p{L})", regex.IGNORECASE),
    "es": regex.compile(r"\b(?:tú|te|ti|contigo|tus?|tuy[oa]s?|vosotr[oa]s|os|vuestr[oa]s?)\b", regex.IGNORECASE),
    # Plain-form sentence ends and familiar pronouns (keigo ends in です/ます and says お客様).
    "ja": regex.compile(r"(?:だよね|だよ|だね|じゃん|してね|してよ|ちょうだい|だ)(?=[。！!？?」\n]|$)|お前|あんた"),
}


def needs_formal_register(persona: Persona, market: Market, language: str) -> bool:
    """Whether a reply in ``language`` must address the customer formally."""
    if persona.formality == Formality.FORMAL:
        return True
    honorifics = market.culture.honorifics
    return bool(honorifics and honorifics.required) and (
        language_family(language) == language_family(market.default_language))


def informal_forms(text: str, language: str) -> list[str]:
    """The informal forms of address in ``text`` (written in ``language``), in order; [] when it has none."""
    pattern = _INFORMAL.get(language_family(language))
    return [match.group() for match in pattern.finditer(text)] if pattern else []


def register_breaches(text: str, *, persona: Persona, market: Market, language: str,
                      content_language: str | None = None) -> list[str]:
    """The informal forms in a reply body (in the reply's language or its quote's) that the persona must not use."""
    if not needs_formal_register(persona, market, language):
        return []
    forms = [*informal_forms(text, language), *(informal_forms(text, content_language) if content_language else [])]
    return list(dict.fromkeys(forms))
