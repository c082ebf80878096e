"""The console's words: every key in English and Simplified Chinese, with the same fields; the browser's choice."""

from __future__ import annotations

import string

import pytest

from api.console import i18n

pytestmark = pytest.mark.unit


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_is_in_every_language_with_the_same_fields() -> None:
    catalogs = i18n.catalogs()
    english = catalogs["en"]
    assert len(english) > 30
    for code in i18n.LANGUAGES:
        texts = catalogs[code]
        assert set(texts) == set(english), f"{code}: missing {set(english) - set(texts)}, extra {set(texts) - set(english)}"
        for key, text in texts.items():
            assert text.strip(), f"{code}.{key} is empty"
            assert _fields(text) == _fields(english[key]), f"{code}.{key} has other fields than English"


def test_chinese_texts_are_chinese() -> None:
    chinese = i18n.catalogs()["zh"]
    han = sum(1 for text in chinese.values() if any("\u4e00" <= ch <= "\u9fff" for ch in text))
    assert han >= 0.9 * len(chinese)


@pytest.mark.parametrize(("cookie", "header", "expected"), [
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    (None, "en-US,en;q=0.9,zh-CN;q=0.8", "en"),
    (None, "de-DE,de;q=0.9,zh-Hans;q=0.5", "zh"),
    (None, "zh-TW", "zh"),
    (None, "en;q=0.2,zh;q=0.7", "zh"),
    (None, "zh;q=0", "en"),
    (None, "", "en"),
    (None, "ja-JP,th;q=0.5", "en"),
    ("zh", "en", "zh"),
    ("en", "zh-CN", "en"),
    ("xx", "zh-CN", "zh"),
    (None, "zh;q=abc, en", "en"),
])
def test_negotiate(cookie: str | None, header: str, expected: str) -> None:
    assert i18n.negotiate(cookie, header) == expected


def test_translator_formats_and_falls_back() -> None:
    t = i18n.translator("zh")
    assert t("nav.knowledge") == "知识库"
    assert "content" in i18n.translator("en")("login.role_refused", role="content")
    assert t("no.such.key") == "no.such.key"
