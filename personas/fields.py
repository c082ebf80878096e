"""Field types shared by the persona, market and routing schemas.

``Slug`` is an id such as ``jp-keigo``; ``LanguageMap`` is a mapping
language → text whose keys are normalised like every language code in
polydesk (``zh-Hans`` → ``zh-hans``, see ``knowledge.schema.normalize_language``);
``pick_language`` finds the best entry of such a map for a reply language.

Example:
    >>> pick_language({"en": "Hi", "pt": "Olá"}, "pt-BR")
    'Olá'
    >>> pick_language({"en": "Hi", "zh-hant": "您好"}, "zh-TW")
    '您好'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from knowledge.schema import normalize_language

FALLBACK_LANGUAGE = "en"

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as 'Europe/Berlin' or 'Asia/Tokyo'") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]

# Region subtags customers' devices send, mapped to the script subtags the catalogue uses.
_LANGUAGE_ALIASES = {
    "zh-cn": "zh-hans",
    "zh-sg": "zh-hans",
    "zh-my": "zh-hans",
    "zh-tw": "zh-hant",
    "zh-hk": "zh-hant",
    "zh-mo": "zh-hant",
}

V = TypeVar("V")


class FieldProblem(ValueError):
    """A ValueError from a whole-model check that knows which field is wrong (``compliance[0].text``).

    The loader appends ``field`` to the location pydantic reports, so the error names the field.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _normalize_keys(value: object) -> object:
    if not isinstance(value, Mapping):
        return value  # pydantic reports the type error
    normalized: dict[str, object] = {}
    for key, text in value.items():
        code = normalize_language(str(key))
        if code in normalized:
            raise ValueError(f"language {code!r} is given twice (as {key!r} and another spelling)")
        normalized[code] = text
    return normalized


def _normalize_list(value: list[str]) -> list[str]:
    codes = [normalize_language(code) for code in value]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise ValueError(f"languages listed twice: {', '.join(duplicates)}")
    return codes


LanguageMap = Annotated[dict[str, NonEmptyText], BeforeValidator(_normalize_keys)]
LanguageTermsMap = Annotated[dict[str, list[NonEmptyText]], BeforeValidator(_normalize_keys)]
LanguageList = Annotated[list[str], Field(min_length=1), AfterValidator(_normalize_list)]


def language_candidates(language: str, *, fallback: str | None = FALLBACK_LANGUAGE) -> list[str]:
    """The keys to try for ``language``, best first: itself, its script alias, its primary subtag, then ``fallback``."""
    code = normalize_language(language)
    candidates = [code]
    if code in _LANGUAGE_ALIASES:
        candidates.append(_LANGUAGE_ALIASES[code])
    candidates.append(code.split("-")[0])
    if fallback is not None:
        candidates.append(fallback)
    return list(dict.fromkeys(candidates))


def pick_language(entries: Mapping[str, V], language: str) -> V:
    """The entry for ``language``, else the closest one, else the English one (KeyError if none)."""
    for candidate in language_candidates(language):
        if candidate in entries:
            return entries[candidate]
    raise KeyError(f"no entry for {language!r} and no {FALLBACK_LANGUAGE!r} fallback")
