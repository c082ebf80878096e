"""Persona behaviour callers rely on: greetings in the reply language only, the emoji policy, short YAML forms."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from personas.catalog import PersonaCatalog
from personas.fields import closest_language
from personas.persona import EmojiPolicy, Persona, find_emoji

if TYPE_CHECKING:
    from tests.personas.conftest import DocumentMaker

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("pt-BR", "Olá! Que bom falar com você 😊"),
        ("es_MX", "¡Hola! Muchas gracias por escribirnos 😊"),
        ("ko", ""),  # no Korean text: never the English one around a Korean reply
    ],
)
def test_greeting_falls_back_to_the_primary_language_never_to_another_language(
    catalog: PersonaCatalog, language: str, expected: str
) -> None:
    assert catalog.persona("latam-friendly").greeting(language) == expected


def test_chinese_region_tags_find_the_script_variant(catalog: PersonaCatalog) -> None:
    assert catalog.persona("warm-quick").sign_off("zh-TW") == "有任何問題都歡迎您隨時詢問 🙏"
    assert catalog.persona("sg-concise").greeting("zh-CN") == "您好，感谢您联系我们。"
    assert catalog.persona("sg-concise").greeting("zh-Hans") == "您好，感谢您联系我们。"
    # Chinese of unknown script (the detector's "zh") takes the persona's only Chinese; one script never another.
    assert catalog.persona("warm-quick").greeting("zh") == "您好！感謝您的訊息 😊"
    assert catalog.persona("warm-quick").greeting("zh-Hans") == ""
    assert catalog.persona("sg-concise").greeting("zh-Hant") == ""


def test_malay_and_indonesian_are_two_languages(catalog: PersonaCatalog) -> None:
    persona = catalog.persona("warm-quick")
    assert persona.greeting("ms") == "Hai! Terima kasih kerana menghubungi kami 😊"
    assert persona.greeting("id") == "Halo Kak! Terima kasih sudah menghubungi kami 😊"
    assert catalog.persona("latam-friendly").greeting("ms") == ""


@pytest.mark.parametrize(
    ("keys", "language", "expected"),
    [
        (["en", "pt"], "pt-BR", "pt"),
        (["pt-pt", "pt-br"], "pt-BR", "pt-br"),
        (["en", "pt-pt"], "pt-BR", "pt-pt"),  # another variant of the language, not English
        (["zh", "zh-tw"], "zh-Hant", "zh-tw"),
        (["en", "zh"], "zh-hant", "zh"),
        (["zh-hans"], "zh-TW", None),
        (["id"], "ms", None),
        (["en"], "not a code!", None),
    ],
)
def test_closest_language_stays_within_the_language(keys: list[str], language: str, expected: str | None) -> None:
    assert closest_language(keys, language) == expected


def test_emoji_policies() -> None:
    allowed = EmojiPolicy.model_validate({"allowed": ["🙏", "😊"]})
    assert allowed.mode == "allowed"
    assert allowed.permits("🙏") and allowed.permits("🙏🏽") and not allowed.permits("🎉")
    assert allowed.violations("Terima kasih 🙏 🎉!") == ["🎉"]
    assert EmojiPolicy.model_validate("free").permits("🎉")
    assert not EmojiPolicy.model_validate("none").permits("😊")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"mode": "allowed"}, "non-empty 'allowed' list"),
        ({"mode": "none", "allowed": ["😊"]}, "only makes sense with mode 'allowed'"),
        ({"allowed": ["ok"]}, "not a single emoji"),
        ("sometimes", "'none', 'allowed' or 'free'"),
    ],
)
def test_invalid_emoji_policies(value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EmojiPolicy.model_validate(value)


def test_find_emoji_ignores_scripts_and_punctuation() -> None:
    text = "お問い合わせ「ありがとう」مرحباً สวัสดีค่ะ Tidewell® © 50 € — ✓ ★ 😊"
    assert find_emoji(text) == ["😊"]
    assert find_emoji("❤️ 👍🏽 🇯🇵") == ["❤️", "👍", "🇯🇵"]


def test_language_keys_are_normalised_and_duplicates_refused(persona_doc: DocumentMaker) -> None:
    persona = Persona.model_validate(persona_doc(greetings={"en": "Hi", "zh-Hant": "您好"}))
    assert "zh-hant" in persona.greetings
    with pytest.raises(ValidationError, match="given twice"):
        Persona.model_validate(persona_doc(greetings={"en": "Hi", "DE": "Hallo", "de": "Hallo"}))


def test_personas_are_immutable(catalog: PersonaCatalog) -> None:
    with pytest.raises(ValidationError):
        catalog.persona("jp-keigo").max_reply_chars = 10_000
