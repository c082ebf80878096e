"""The console's own words in English and Simplified Chinese (customer text is shown as written, never here).

Each page keeps its words in ``api/console/locales/<page>.json``: ``{"en": {key: text}, "zh": {key: text}}``,
keys prefixed with the page (``knowledge.title``); texts may hold ``{name}`` fields. The language is the
``polydesk_console_lang`` cookie (set by the switch in the page header), else the best of ``Accept-Language``,
else English. ``tests/console/test_i18n.py`` checks that both languages have every key and the same fields.

Example:
    >>> t = translator("zh")
    >>> t("nav.knowledge")
    '知识库'
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES: dict[str, str] = {"en": "English", "zh": "简体中文"}  # code → its own name, for the switch
HTML_LANG = {"en": "en", "zh": "zh-Hans"}
DEFAULT = "en"
COOKIE = "polydesk_console_lang"

Translate = Callable[..., str]


@cache
def catalogs() -> dict[str, dict[str, str]]:
    """Every locale file merged: language → key → text."""
    merged: dict[str, dict[str, str]] = {code: {} for code in LANGUAGES}
    folder = resources.files("api").joinpath("console", "locales")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        data: dict[str, dict[str, str]] = json.loads(entry.read_text(encoding="utf-8"))
        for code, texts in data.items():
            merged.setdefault(code, {}).update(texts)
    return merged


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The console language: the cookie's when it names one, else the first ``Accept-Language`` range (by
    weight) that is one, else English. ``zh-CN``, ``zh-Hans``, ``zh-SG`` and ``zh`` all read as Simplified
    Chinese; ``zh-TW`` and ``zh-Hant`` too, as the nearest the console has."""
    if cookie in LANGUAGES:
        return cookie
    ranges: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranges.append((-weight, position, primary))
    return min(ranges)[2] if ranges else DEFAULT


def translator(language: str) -> Translate:
    """``t(key, **fields)``: the text in ``language``, else in English, else the key itself."""
    texts = catalogs().get(language, {})
    fallback = catalogs()[DEFAULT]

    def t(key: str, **fields: Any) -> str:
        text = texts.get(key) or fallback.get(key) or key
        return text.format(**fields) if fields else text

    return t
