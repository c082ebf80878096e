"""The built-in catalogue agrees with the demo brand's facts and speaks every routed market's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge.schema import normalize_language
from personas.catalog import PersonaCatalog
from personas.loader import builtin_layer
from personas.routing import Channel
from polydesk.language import LanguageDetector, language_family
from polydesk.terms import TermSet

pytestmark = pytest.mark.unit

FACTS = Path(__file__).resolve().parents[2] / "demo" / "tidewell" / "facts.yaml"
FACT_MARKETS: dict[str, Any] = yaml.safe_load(FACTS.read_text(encoding="utf-8"))["markets"]
# The languages of agent.phrases: polydesk's own sentences, and the notices, are written in each of them.
SERVED_LANGUAGES = ["en", "de", "fr", "es", "pt", "id", "ms", "th", "vi", "ja", "zh", "zh-hant", "ar"]
EU_NOTICES = {"DE": "de", "FR": "fr", "ES": "es", "GB": "en"}


def test_every_demo_market_is_built_in(catalog: PersonaCatalog) -> None:
    assert {market.code for market in catalog.markets()} == set(FACT_MARKETS)


@pytest.mark.parametrize("code", sorted(FACT_MARKETS))
def test_market_languages_timezone_and_hours_match_the_demo_facts(catalog: PersonaCatalog, code: str) -> None:
    facts = FACT_MARKETS[code]
    market = catalog.market(code)
    assert market.languages == [normalize_language(language) for language in facts["languages"]]
    assert market.timezone == facts["support_hours"]["timezone"]
    fact_slots = {
        (day, entry["open"], entry["close"]) for entry in facts["support_hours"]["schedule"] for day in entry["days"]
    }
    our_slots = {(day, slot.open, slot.close) for slot in market.support_hours.schedule for day in slot.days}
    assert our_slots == fact_slots


def test_every_persona_greets_in_english_and_in_each_routed_markets_default_language(catalog: PersonaCatalog) -> None:
    for persona in catalog.personas():
        assert "en" in persona.greetings and "en" in persona.sign_offs, persona.id
    for resolved in catalog.route_matrix():
        language = resolved.market.default_language
        assert language in resolved.persona.greetings, (resolved.persona.id, resolved.market.code)
        assert language in resolved.persona.sign_offs, (resolved.persona.id, resolved.market.code)


def test_every_builtin_persona_is_routed_somewhere(catalog: PersonaCatalog) -> None:
    routed = {resolved.persona.id for resolved in catalog.route_matrix()}
    assert routed == {persona.id for persona in catalog.personas()}


def test_every_channel_of_every_market_resolves_by_a_rule_not_the_fallback(catalog: PersonaCatalog) -> None:
    matrix = catalog.route_matrix()
    assert len(matrix) == len(FACT_MARKETS) * len(Channel)
    assert not [f"{r.market.code}/{r.channel}" for r in matrix if r.matched.is_default]


@pytest.mark.parametrize(("code", "language"), sorted(EU_NOTICES.items()))
def test_eu_and_uk_markets_show_a_gdpr_notice_once_per_conversation(
    catalog: PersonaCatalog, code: str, language: str
) -> None:
    notices = catalog.market(code).compliance
    assert len(notices) == 1
    notice = notices[0]
    assert "GDPR" in notice.regulation and notice.once_per_conversation
    assert language in notice.text
    assert ("DSGVO", "RGPD", "RGPD", "UK GDPR")[["DE", "FR", "ES", "GB"].index(code)] in notice.text[language]


@pytest.mark.parametrize("code", sorted(EU_NOTICES))
def test_gdpr_notices_speak_every_language_polydesk_serves(catalog: PersonaCatalog, code: str) -> None:
    notice = catalog.market(code).compliance[0]
    detector = LanguageDetector()
    for language in SERVED_LANGUAGES:
        text = notice.text_for(language)
        assert text is not None, (code, language)
        assert language_family(detector.detect(text)) == language_family(language), (code, language, text)
        assert any(name in text for name in ("GDPR", "DSGVO", "RGPD")), (code, language)
        if code == "GB":
            assert "UK GDPR" in text and "2018" in text, language


def test_notice_text_follows_the_customers_language_only(catalog: PersonaCatalog) -> None:
    notice = catalog.market("DE").compliance[0]
    assert notice.text_for("en-GB").startswith("Privacy notice")
    assert notice.text_for("fr").startswith("Protection des données")
    assert notice.text_for("zh-TW").startswith("隱私權聲明")
    assert notice.text_for("ko") is None  # the pipeline then shows a generic one in Korean, or the market's own


def test_markets_outside_europe_have_no_gdpr_notice(catalog: PersonaCatalog) -> None:
    assert [market.code for market in catalog.markets() if market.compliance] == sorted(EU_NOTICES)


@pytest.mark.parametrize("code", ["SA", "AE"])
def test_gulf_markets_list_terms_to_avoid_in_arabic_and_english(catalog: PersonaCatalog, code: str) -> None:
    culture = catalog.market(code).culture
    assert {"ar", "en"} <= set(culture.avoid_terms)
    assert "إن شاء الله" in culture.avoid_terms["ar"] and "لحم الخنزير" in culture.avoid_terms["ar"]
    assert {"alcohol", "pork", "dating"} <= set(culture.avoid_terms["en"])
    assert "religion" in culture.avoid_topics


def test_gulf_persona_greets_without_religious_formulas(catalog: PersonaCatalog) -> None:
    persona = catalog.persona("gulf-respectful")
    terms = catalog.market("SA").culture.avoid_terms
    for language, text in [*persona.greetings.items(), *persona.sign_offs.items()]:
        assert not [term for term in terms.get(language, []) if term.lower() in text.lower()], text
        assert not [phrase for phrase in persona.avoid_phrases if phrase in text], text
    assert persona.greeting("ar").startswith("مرحباً بك")


def test_japanese_market_and_persona_use_keigo(catalog: PersonaCatalog) -> None:
    honorifics = catalog.market("JP").culture.honorifics
    assert honorifics is not None and honorifics.required and honorifics.style == "keigo"
    persona = catalog.persona("jp-keigo")
    assert persona.greeting("ja") == "お問い合わせいただき、誠にありがとうございます。"
    assert persona.sign_off("ja") == "今後ともよろしくお願い申し上げます。"


def test_every_routed_persona_signs_off_in_the_register_its_market_requires(catalog: PersonaCatalog) -> None:
    # The sign-off ends every reply (the greeting only the first), and the persona owns it: where a market requires
    # honorifics, it carries one of the market's forms, whatever the quoted knowledge says.
    checked: set[str] = set()
    for resolved in catalog.route_matrix():
        honorifics = resolved.market.culture.honorifics
        if not (honorifics and honorifics.required and honorifics.forms):
            continue
        forms = TermSet.compile([(form, form) for form in honorifics.forms])
        sign_off = resolved.persona.sign_off(resolved.market.default_language)
        assert forms.find(sign_off), (resolved.persona.id, resolved.market.code, sign_off)
        checked.add(resolved.market.code)
    assert checked == {"DE", "ES", "FR", "ID", "JP", "MX", "MY", "TH", "TW", "VN"}


def test_thai_honorifics_are_polite_particles_not_the_thank_you_in_every_message(catalog: PersonaCatalog) -> None:
    forms = _honorific_forms(catalog, "TH")
    assert not forms.find("ขอบคุณ ทีมบริการลูกค้า")        # "ขอบคุณ" (thank you) contains "คุณ": not an address
    assert forms.find("ขอบคุณค่ะ") and forms.find("ขอบคุณครับ") and forms.find("เรียนคุณลูกค้า")


def test_french_and_spanish_forms_include_the_possessives_of_vous_and_usted(catalog: PersonaCatalog) -> None:
    assert _honorific_forms(catalog, "FR").find("Nous restons à votre disposition.")
    assert not _honorific_forms(catalog, "FR").find("Merci pour ton message, on reste à ta disposition.")
    assert _honorific_forms(catalog, "MX").find("Estamos a sus órdenes.")
    assert _honorific_forms(catalog, "ES").find("Quedamos a su disposición.")
    assert not _honorific_forms(catalog, "MX").find("Gracias por tu mensaje, aquí estamos para ti.")


def _honorific_forms(catalog: PersonaCatalog, code: str) -> TermSet:
    honorifics = catalog.market(code).culture.honorifics
    assert honorifics is not None and honorifics.required
    return TermSet.compile([(form, form) for form in honorifics.forms])


def test_warm_quick_allows_exactly_the_two_emoji(catalog: PersonaCatalog) -> None:
    policy = catalog.persona("warm-quick").emoji
    assert policy.mode == "allowed" and set(policy.allowed) == {"🙏", "😊"}
    assert catalog.persona("precise-professional").emoji.mode == "none"


def test_builtins_are_parsed_once(tmp_path: Path) -> None:
    builtin_layer.cache_clear()
    PersonaCatalog.load(tmp_path)  # an empty brand folder: the built-ins, parsed and checked from scratch
    PersonaCatalog.load()
    PersonaCatalog.load()
    assert builtin_layer.cache_info().misses == 1
    assert PersonaCatalog.load() is PersonaCatalog.load()
