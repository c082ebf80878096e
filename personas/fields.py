"""Field types shared by the persona, market and routing schemas.

``Slug`` is an id such as ``jp-keigo``; ``LanguageMap`` is a mapping
language → text whose keys are normalised like every language code in
polydesk (``zh-Hans`` → ``zh-hans``, see ``knowledge.schema.normalize_language``);
``pick_language`` finds the entry of such a map for a reply language: the closest
variant of the same language, never another language (``ms`` is not ``id``, and
``zh-hans`` is not ``zh-hant``), so a reply never mixes two languages.

Example:
    >>> pick_language({"en": "Hi", "pt": "Olá"}, "pt-BR")
    'Olá'
    >>> pick_language({"en": "Hi", "zh-hant": "您好"}, "zh-TW")
    '您好'
    >>> pick_language({"en": "Hi", "id": "Halo"}, "ms") is None
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from knowledge.schema import normalize_language

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


def language_candidates(language: str, *, fallback: str | None = None) -> list[str]:
    """The keys to try for ``language``, best first: itself, its script alias, its primary subtag, then ``fallback``."""
    code = normalize_language(language)
    candidates = [code]
    if code in _LANGUAGE_ALIASES:
        candidates.append(_LANGUAGE_ALIASES[code])
    candidates.append(code.split("-")[0])
    if fallback is not None:
        candidates.append(fallback)
    return list(dict.fromkeys(candidates))


def _script(code: str) -> str | None:
    """The script subtag a code implies ('zh-tw' -> 'hant'), None when it names none."""
    code = _LANGUAGE_ALIASES.get(code, code)
    return next((part for part in code.split("-")[1:] if len(part) == 4 and part.isalpha()), None)


def language_distance(key: str, language: str) -> int | None:
    """How well an entry for ``key`` serves ``language`` (both normalised), best 0; None for another language.

    0: the same code; 1: the same after region aliases ('zh-tw' is 'zh-hant'); 2: the bare language ('pt' for
    'pt-br', 'zh' for 'zh-hant'); 3: another variant of the same language in a compatible script ('pt-pt' for
    'pt-br', 'zh-hant' for 'zh'; never 'zh-hans' for 'zh-hant').
    """
    if key == language:
        return 0
    if _LANGUAGE_ALIASES.get(key, key) == _LANGUAGE_ALIASES.get(language, language):
        return 1
    primary = language.split("-")[0]
    if key == primary:
        return 2
    if key.split("-")[0] != primary:
        return None
    scripts = {_script(key), _script(language)} - {None}
    return 3 if len(scripts) <= 1 else None


def closest_language(keys: Iterable[str], language: str) -> str | None:
    """The key of ``keys`` closest to ``language`` within the same language (first of equals), else None."""
    try:
        code = normalize_language(language)
    except ValueError:
        return None  # not a language code: no language matches it
    ranked = [(distance, index, key) for index, key in enumerate(keys)
              if (distance := language_distance(key, code)) is not None]
    return min(ranked)[2] if ranked else None


def pick_language(entries: Mapping[str, V], language: str) -> V | None:
    """The entry for ``language`` or its closest variant (``closest_language``); None when the language has none."""
    key = closest_language(entries, language)
    return None if key is None else entries[key]
