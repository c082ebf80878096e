"""Persona behaviour callers rely on: language fallback for greetings, the emoji policy, short YAML forms."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from personas.catalog import PersonaCatalog
from personas.persona import EmojiPolicy, Persona, find_emoji

if TYPE_CHECKING:
    from tests.personas.conftest import DocumentMaker

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("pt-BR", "Olá! Que bom falar com você 😊"),
        ("es_MX", "¡Hola! Muchas gracias por escribirnos 😊"),
        ("ko", "Hi there! Thanks for writing to us 😊"),
    ],
)
def test_greeting_falls_back_to_the_primary_language_then_english(
    catalog: PersonaCatalog, language: str, expected: str
) -> None:
    assert catalog.persona("latam-friendly").greeting(language) == expected


def test_chinese_region_tags_find_the_script_variant(catalog: PersonaCatalog) -> None:
    assert catalog.persona("warm-quick").sign_off("zh-TW") == "有任何問題都歡迎隨時詢問 🙏"
    assert catalog.persona("sg-concise").greeting("zh-CN") == "您好，感谢您联系我们。"
    assert catalog.persona("sg-concise").greeting("zh-Hans") == "您好，感谢您联系我们。"


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
