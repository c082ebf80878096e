"""The agent's own sentences around a tool, in each language's script, with nothing missing."""

from __future__ import annotations

import doctest
import string

import pytest
import regex

import agent.tools.phrases as phrases_module
from agent.tools.phrases import LANGUAGES, ask_for, say
from agent.tools.phrases_data import ASK_DESCRIBED, NOUNS, PHRASES
from agent.tools.spec import ParamSpec

pytestmark = pytest.mark.unit

REQUIRED = {"en", "de", "fr", "es", "pt", "id", "ms", "th", "vi", "ja", "zh", "zh-hant", "ar", "ko"}
SCRIPT = {"th": r"\p{Thai}", "ar": r"\p{Arabic}", "ja": r"[\p{Hiragana}\p{Katakana}]", "ko": r"\p{Hangul}",
          "zh": r"\p{Han}", "zh-hant": r"\p{Han}"}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_every_sentence_with_the_same_placeholders() -> None:
    assert set(LANGUAGES) >= REQUIRED
    for language in LANGUAGES:
        assert PHRASES[language].keys() == PHRASES["en"].keys(), language
        for kind, text in PHRASES[language].items():
            assert fields(text) == fields(PHRASES["en"][kind]), (language, kind)
        assert fields(ASK_DESCRIBED[language]) == {"what"}, language
        assert NOUNS[language].keys() == {"order_number", "tracking_number"}, language


@pytest.mark.parametrize("language", sorted(SCRIPT))
def test_sentences_are_written_in_the_languages_script(language: str) -> None:
    texts = [*PHRASES[language].values(), ASK_DESCRIBED[language], *NOUNS[language].values()]
    for text in texts:
        assert regex.search(SCRIPT[language], text), (language, text)
        latin = regex.sub(r"\{[a-z]+\}", "", text)
        assert not regex.search(r"\p{Latin}{3,}", latin), (language, text)
    if language == "zh":
        assert not any(regex.search(r"[\p{Hiragana}\p{Katakana}]", text) for text in texts)


def test_simplified_and_traditional_chinese_differ() -> None:
    assert say("tool_failed", "zh-CN") != say("tool_failed", "zh-TW")
    assert "查詢" in say("tool_failed", "zh-TW") and "查询" in say("tool_failed", "zh-CN")


def test_neutral_wording() -> None:
    refused = ["ครับ", "ค่ะ", "นะคะ", "إن شاء الله", "بإذن الله", "God", "Gott", "Dios", "Deus", "Tuhan", "Allah"]
    for language in LANGUAGES:
        for text in [*PHRASES[language].values(), ASK_DESCRIBED[language]]:
            assert not any(word in text for word in refused), (language, text)


def test_asking_for_a_known_parameter_uses_the_languages_noun() -> None:
    assert say("ask_parameter", "en", parameter="order_number") == "Could you send me your order number?"
    assert say("ask_parameter", "de", parameter="tracking_number") == "Könnten Sie mir bitte Ihre Sendungsnummer senden?"
    assert say("ask_parameter", "es-MX", parameter="order_number") == "¿Podría enviarme su número de pedido?"
    assert say("ask_parameter", "th", parameter="order_number") == "กรุณาแจ้งหมายเลขคำสั่งซื้อของท่าน"
    assert say("ask_parameter", "zh", parameter="order_number") == "请问您的订单号是多少？"
    assert say("ask_parameter", "ko", parameter="order_number") == "주문 번호를 알려 주시겠어요?"


def test_asking_for_another_parameter_quotes_its_description() -> None:
    param = ParamSpec(pattern=r"LC-\d{8}", description="Your loyalty card number.")
    assert ask_for("card", param, "en") == (
        "To look this up, I need the following: Your loyalty card number. Could you send it to me?")
    assert ask_for("card", param, "ja").startswith("お調べするために、次の情報が必要です：Your loyalty card number。")
    labelled = ParamSpec(pattern=r"LC-\d{8}", description="Loyalty card", label={"th": "หมายเลขบัตรสมาชิก"})
    assert ask_for("card", labelled, "th") == "เพื่อตรวจสอบข้อมูล กรุณาแจ้งข้อมูลต่อไปนี้: หมายเลขบัตรสมาชิก"
    assert "Loyalty card" in ask_for("card", labelled, "de")
    order = ParamSpec(pattern=r"TW-ORD-\d{4}-\d{6}", description="The order number")
    assert ask_for("order_number", order, "vi") == "Quý khách vui lòng gửi giúp mã đơn hàng được không ạ?"
    with pytest.raises(ValueError, match="needs parameter="):
        say("ask_parameter", "en")


def test_tool_failed_with_and_without_a_handoff() -> None:
    for language in LANGUAGES:
        alone, handed = say("tool_failed", language), say("tool_failed", language, handoff=True)
        assert alone != handed
        first_sentence = regex.split(r"(?<=[.。،,])\s*", alone)[0]
        assert handed.startswith(first_sentence[: max(4, len(first_sentence) // 2)]), language
    with pytest.raises(ValueError, match="only applies to 'tool_failed'"):
        say("not_found", "en", handoff=True, value="x")


def test_not_found_and_not_yours() -> None:
    assert say("not_found", "es", value="TW-ORD-2026-000001") == (
        "No encontramos ningún pedido con el número TW-ORD-2026-000001. ¿Podría verificarlo y enviarlo de nuevo?")
    assert "TW-ORD-2026-000001" in say("not_found", "ar", value="TW-ORD-2026-000001")
    assert "e-mail address" in say("not_yours", "en")
    assert say("not_yours", "pt-BR") == PHRASES["pt"]["not_yours"]


def test_a_language_polydesk_does_not_speak_falls_back_to_english() -> None:
    assert say("tool_failed", "sw") == PHRASES["en"]["tool_failed"]
    assert say("tool_failed", "not a language!") == PHRASES["en"]["tool_failed"]


def test_the_module_examples_hold() -> None:
    result = doctest.testmod(phrases_module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 2
