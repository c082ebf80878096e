"""polydesk's own sentences: every phrase in every language it serves, and the parts around a reply's body."""

from __future__ import annotations

import string
from typing import get_args

import pytest

from agent.phrases import (
    _PHRASES,
    _SMALL_TALK,
    Phrase,
    SmallTalkKind,
    greeting_for,
    language_name,
    notice_text,
    say,
    say_in,
    sign_off_for,
    small_talk_reply,
)
from personas import ComplianceNotice, PersonaCatalog

pytestmark = pytest.mark.unit

CATALOG = PersonaCatalog.load()
LANGUAGES = ["en", "de", "fr", "es", "pt", "id", "ms", "th", "vi", "ja", "zh", "ar"]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", sorted(_PHRASES))
def test_every_phrase_is_written_in_every_language_with_the_same_placeholders(language: str) -> None:
    assert set(_PHRASES[language]) == set(get_args(Phrase))
    for phrase in get_args(Phrase):
        assert _fields(_PHRASES[language][phrase]) == _fields(_PHRASES["en"][phrase]), (language, phrase)


def test_phrases_find_the_closest_variant_and_only_say_fall_back_to_english() -> None:
    assert say_in("greeting", "zh-TW") == _PHRASES["zh-hant"]["greeting"]
    assert say_in("greeting", "zh-Hans") == _PHRASES["zh"]["greeting"]
    assert say_in("greeting", "pt-BR") == _PHRASES["pt"]["greeting"]
    assert say_in("greeting", "ko") is None and say("greeting", "ko") == _PHRASES["en"]["greeting"]


def test_greeting_and_sign_off_are_the_personas_else_built_in_else_none() -> None:
    us = CATALOG.persona("us-friendly")
    assert greeting_for(us, "es") == us.greetings["es"] and sign_off_for(us, "en-US") == us.sign_offs["en"]
    assert greeting_for(us, "th") == say_in("greeting", "th") and sign_off_for(us, "ja") == say_in("sign_off", "ja")
    assert greeting_for(us, "ko") == "" and sign_off_for(us, "ko") == ""


def test_a_notice_is_shown_in_the_reply_language() -> None:
    de = CATALOG.market("DE")
    gdpr = de.compliance[0]
    assert notice_text(gdpr, "th", de) == gdpr.text["th"]
    # A brand's notice without a Thai text: the generic privacy notice in Thai, not the German one.
    brand = ComplianceNotice(id="acme-privacy", regulation="GDPR", text={"de": "Datenschutz: ...", "en": "Privacy: ..."})
    assert notice_text(brand, "th", de) == say_in("privacy_notice", "th")
    # A notice about something else, or in a language polydesk does not speak: the market's own text.
    other = brand.model_copy(update={"topic": "other"})
    assert notice_text(other, "th", de) == "Datenschutz: ..."
    assert notice_text(brand, "ko", de) == "Datenschutz: ..."


@pytest.mark.parametrize("reader", LANGUAGES)
def test_every_language_is_named_in_every_other(reader: str) -> None:
    for language in LANGUAGES:
        name = language_name(language, reader)
        assert name and name != language, (language, reader)
        if reader != "en":
            assert name != language_name(language, "en"), (language, reader)
    assert language_name("ja", "th") == "ภาษาญี่ปุ่น" and language_name("en", "id") == "bahasa Inggris"
    assert language_name("de", "vi") == "tiếng Đức" and language_name("xx", "de") == "xx"


SMALL_TALK_LANGUAGES = ["en", "de", "fr", "es", "pt", "it", "id", "ms", "th", "vi", "ja", "zh", "zh-hant", "ko", "ar"]


def test_the_small_talk_reply_is_written_in_every_language_for_every_kind() -> None:
    kinds = get_args(SmallTalkKind)
    assert sorted(_SMALL_TALK) == sorted(SMALL_TALK_LANGUAGES)
    for language in SMALL_TALK_LANGUAGES:
        assert set(_SMALL_TALK[language]) == set(kinds), language
        for kind in kinds:
            reply = small_talk_reply(kind, language)
            assert reply and "{" not in reply, (language, kind)
            if language != "en":
                assert reply != small_talk_reply(kind, "en"), (language, kind)
    # Thanks are answered as thanks, not as a greeting: the four kinds differ in every language.
    assert all(len({_SMALL_TALK[language][kind] for kind in kinds}) == len(kinds) for language in SMALL_TALK_LANGUAGES)


def test_the_small_talk_reply_takes_the_closest_variant_else_english() -> None:
    assert small_talk_reply("thanks", "pt-BR") == _SMALL_TALK["pt"]["thanks"]
    assert small_talk_reply("thanks", "zh-TW") == _SMALL_TALK["zh-hant"]["thanks"]
    assert small_talk_reply("ok", "es-MX") == _SMALL_TALK["es"]["ok"]
    assert small_talk_reply("hello", "sw") == _SMALL_TALK["en"]["hello"]
