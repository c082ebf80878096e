"""Resolution: (tenant, channel, market) → persona, brand overrides, and what happens with unknown input."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from personas.catalog import PersonaCatalog
from personas.errors import PersonaConfigError, UnknownChannelError, UnknownMarketError, UnknownPersonaError
from personas.persona import Formality, Tone
from personas.public import MarketPublic, PersonaPublic
from personas.routing import Channel
from polydesk.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from tests.personas.conftest import BrandWriter, DocumentMaker

pytestmark = pytest.mark.unit


def test_german_web_customers_get_the_formal_german_persona(catalog: PersonaCatalog) -> None:
    resolved = catalog.resolve(tenant="tidewell", channel="web", market="DE")
    assert resolved.persona.id == "de-formal"
    assert resolved.persona.formality is Formality.FORMAL and resolved.persona.tone is Tone.PROFESSIONAL
    assert resolved.persona.greeting("de").startswith("Guten Tag")
    assert resolved.market.code == "DE" and resolved.market.compliance[0].id == "gdpr-privacy"


def test_indonesian_whatsapp_gets_warm_quick_and_indonesian_web_does_not(catalog: PersonaCatalog) -> None:
    chat = catalog.resolve(tenant="tidewell", channel="whatsapp", market="ID")
    assert chat.persona.id == "warm-quick" and chat.persona.tone is Tone.WARM
    assert chat.matched.rule is not None and chat.matched.rule.channel is not None
    assert catalog.resolve(tenant="tidewell", channel="email", market="ID").persona.id == "apac-courteous"


@pytest.mark.parametrize(
    ("channel", "market", "persona"),
    [
        ("line", "JP", "jp-keigo"),
        ("web", "SA", "gulf-respectful"),
        ("whatsapp", "AE", "gulf-respectful"),
        ("email", "FR", "precise-professional"),
        ("web", "UK", "precise-professional"),
        ("telegram", "SG", "sg-concise"),
        ("messenger", "MX", "latam-friendly"),
        ("web", "BR", "latam-friendly"),
        ("email", "US", "us-friendly"),
        ("line", "TW", "warm-quick"),
    ],
)
def test_any_tenant_is_routed_by_channel_and_market(
    catalog: PersonaCatalog, channel: str, market: str, persona: str
) -> None:
    assert catalog.resolve(tenant="any-brand", channel=channel, market=market).persona.id == persona


def test_resolution_says_which_rule_matched(catalog: PersonaCatalog) -> None:
    matched = catalog.resolve(tenant="tidewell", channel=Channel.LINE, market="jp").matched
    assert matched.layer == "builtin" and matched.file.name == "routing.yaml" and matched.index == 0
    assert matched.explain() == "built-in rule #0 (routing.yaml): market=JP → jp-keigo"


def test_input_is_normalised(catalog: PersonaCatalog) -> None:
    assert catalog.resolve(tenant="tidewell", channel=" WhatsApp ", market=" id ").persona.id == "warm-quick"


@pytest.mark.parametrize("code", ["GB", "UK", " gb ", "uk"])
def test_the_united_kingdom_is_gb_and_uk_is_an_alias(catalog: PersonaCatalog, code: str) -> None:
    resolved = catalog.resolve(tenant="tidewell", channel="web", market=code)
    assert resolved.market.code == "GB" and resolved.market.name == "United Kingdom"
    assert resolved.persona.id == "precise-professional"
    assert resolved.market.compliance[0].id == "uk-gdpr-privacy"
    assert catalog.escalation(code) is catalog.escalation("GB")
    assert catalog.source_of(market=code).name == "gb.yaml"


def test_a_brand_market_and_rule_may_use_an_alias(
    brand: BrandWriter, persona_doc: DocumentMaker, market_doc: DocumentMaker
) -> None:
    folder = brand({
        "personas/acme.yaml": persona_doc(),
        "markets/uk.yaml": market_doc(code="UK", name="Acme UK", languages=["en"], timezone="Europe/London"),
        "routing.yaml": {"rules": [{"market": "uk", "persona": "acme-voice"}]},
    })
    catalog = PersonaCatalog.load(folder)
    resolved = catalog.resolve(tenant="acme", channel="web", market="GB")
    assert resolved.market.name == "Acme UK" and resolved.market.code == "GB"  # replaces the built-in GB
    assert resolved.persona.id == "acme-voice"
    assert [m.code for m in catalog.markets()].count("GB") == 1


def test_an_unknown_channel_is_refused_with_the_valid_ones(catalog: PersonaCatalog) -> None:
    with pytest.raises(UnknownChannelError, match=r"'sms'.*web, email, whatsapp, messenger, line, telegram") as info:
        catalog.resolve(tenant="tidewell", channel="sms", market="DE")
    assert isinstance(info.value, InputError) and info.value.code == "invalid_input"


@pytest.mark.parametrize("market", ["KR", "Germany"])
def test_an_unknown_market_is_not_found_rather_than_guessed(catalog: PersonaCatalog, market: str) -> None:
    with pytest.raises(UnknownMarketError, match="markets/") as info:
        catalog.resolve(tenant="tidewell", channel="web", market=market)
    assert isinstance(info.value, NotFoundError) and info.value.to_dict()["code"] == "not_found"


def test_a_malformed_tenant_is_bad_input(catalog: PersonaCatalog) -> None:
    with pytest.raises(InputError, match="tenant"):
        catalog.resolve(tenant="no spaces please", channel="web", market="DE")


def test_an_unknown_persona_id_is_not_found(catalog: PersonaCatalog) -> None:
    with pytest.raises(UnknownPersonaError, match="jp-keigo"):
        catalog.persona("jp-casual")


def test_a_brand_rule_for_its_tenant_comes_before_the_builtin_rules(
    brand: BrandWriter, persona_doc: DocumentMaker
) -> None:
    folder = brand({
        "personas/acme-voice.yaml": persona_doc(greetings={"en": "Hi!", "ja": "こんにちは。"},
                                                sign_offs={"en": "Bye!", "ja": "またね。"}),
        "routing.yaml": {"rules": [{"tenant": "acme", "channel": ["web", "line"], "market": "JP", "persona": "acme-voice"}]},
    })
    catalog = PersonaCatalog.load(folder)
    acme = catalog.resolve(tenant="acme", channel="line", market="JP")
    assert acme.persona.id == "acme-voice"
    assert acme.matched.layer == "brand" and acme.matched.file == folder / "routing.yaml"
    assert catalog.resolve(tenant="acme", channel="email", market="JP").persona.id == "jp-keigo"
    assert catalog.resolve(tenant="tidewell", channel="line", market="JP").persona.id == "jp-keigo"


def test_a_brand_persona_with_a_builtin_id_replaces_it_entirely(brand: BrandWriter, persona_doc: DocumentMaker) -> None:
    folder = brand({
        "personas/jp.yaml": persona_doc(id="jp-keigo", greetings={"en": "Hello.", "ja": "いらっしゃいませ。"},
                                        sign_offs={"en": "Thanks.", "ja": "ありがとうございました。"}),
    })
    catalog = PersonaCatalog.load(folder)
    persona = catalog.persona("jp-keigo")
    assert persona.greeting("ja") == "いらっしゃいませ。"
    assert persona.avoid_phrases == () and persona.llm_instructions is None  # nothing inherited from the built-in
    assert catalog.source_of(persona="jp-keigo") == folder / "personas" / "jp.yaml"
    assert PersonaCatalog.load().persona("jp-keigo").greeting("ja").startswith("お問い合わせ")


def test_a_brand_can_add_a_market_and_route_it(
    brand: BrandWriter, persona_doc: DocumentMaker, market_doc: DocumentMaker
) -> None:
    folder = brand({
        "markets/at.yaml": market_doc(),
        "personas/acme-voice.yaml": persona_doc(),
        "routing.yaml": {"rules": [{"market": "AT", "persona": "acme-voice"}], "default": "acme-voice"},
    })
    catalog = PersonaCatalog.load(folder)
    resolved = catalog.resolve(tenant="tidewell", channel="email", market="at")
    assert resolved.persona.id == "acme-voice" and resolved.market.timezone == "Europe/Vienna"
    assert len(catalog.markets()) == 17
    # The brand default replaces the built-in one, but built-in rules still come first for built-in markets.
    assert catalog.resolve(tenant="tidewell", channel="web", market="DE").persona.id == "de-formal"


def test_a_brand_can_switch_the_builtin_rules_off(brand: BrandWriter, persona_doc: DocumentMaker) -> None:
    multilingual = {code: "Hello." for code in ["en", "de", "fr", "es", "pt", "id", "th", "vi", "ms", "ja", "ar"]}
    multilingual["zh-hant"] = "您好。"
    folder = brand({
        "personas/acme-voice.yaml": persona_doc(greetings=multilingual, sign_offs=multilingual),
        "routing.yaml": {"builtin_rules": False, "default": "acme-voice"},
    })
    resolved = PersonaCatalog.load(folder).resolve(tenant="tidewell", channel="line", market="JP")
    assert resolved.persona.id == "acme-voice" and resolved.matched.is_default
    assert resolved.matched.explain() == "brand default (routing.yaml) → acme-voice"


def test_a_new_market_without_a_rule_needs_its_language_in_the_default_persona(
    brand: BrandWriter, market_doc: DocumentMaker
) -> None:
    folder = brand({"markets/kr.yaml": market_doc(code="KR", name="대한민국", languages=["ko"], timezone="Asia/Seoul")})
    with pytest.raises(PersonaConfigError) as info:
        PersonaCatalog.load(folder)
    assert info.value.path.name == "precise-professional.yaml"
    assert info.value.field == "greetings.ko"
    assert "'ko' (market KR)" in info.value.problem and "built-in default (routing.yaml)" in info.value.problem


def test_a_rule_may_only_route_markets_whose_language_the_persona_speaks(
    brand: BrandWriter, persona_doc: DocumentMaker
) -> None:
    folder = brand({
        "personas/acme-voice.yaml": persona_doc(),
        "routing.yaml": {"rules": [{"tenant": "acme", "channel": "web", "persona": "acme-voice"}]},
    })
    with pytest.raises(PersonaConfigError) as info:
        PersonaCatalog.load(folder)
    assert info.value.path == folder / "personas" / "acme-voice.yaml"
    assert [problem.field for problem in info.value.problems] == ["greetings", "sign_offs"]
    assert "'ja' (market JP)" in info.value.problem and "'ar' (market AE/SA)" in info.value.problem
    assert "brand rule #0 (routing.yaml): tenant=acme channel=web → acme-voice" in info.value.problem


def test_public_schemas_hide_prompt_text_and_serialise_durations(catalog: PersonaCatalog) -> None:
    persona = PersonaPublic.from_persona(catalog.persona("de-formal")).model_dump(mode="json")
    assert "llm_instructions" not in persona and persona["has_llm_instructions"] is True
    assert persona["emoji"] == {"mode": "none", "allowed": []}
    market = MarketPublic.from_market(catalog.market("ID")).model_dump(mode="json")
    assert market["human_response_time"] == "PT30M" and market["default_language"] == "id"
    assert market["support_hours"]["schedule"][1] == {"days": [6], "open": "09:00", "close": "14:00"}


def test_brand_folder_must_exist(tmp_path: Path) -> None:
    with pytest.raises(PersonaConfigError, match="does not exist"):
        PersonaCatalog.load(tmp_path / "missing")
