"""A tool's reply: the brand's template for the reply language, filled with the response, formatted per locale.

The template is the one for the reply language or its closest variant (``personas.fields.closest_language``),
else English, else the first given; the locale is that template's language with the market's region
(``es`` + ``MX`` → ``es_MX``; ``th`` + ``TH`` → ``th_TH``, Gregorian calendar as CLDR's default), falling back
to the language alone. Formats: ``{x:date}`` and ``{x:datetime}`` take an ISO 8601 date or time
(``2026-11-28``, ``2026-11-28T09:15:00Z``) or UNIX seconds, shown with babel's ``long`` date and ``medium``
date-time; ``{x:amount}`` uses the ``currency`` value, ``{x:amount:EUR}`` a fixed currency; ``{x:number}``
groups digits. Other values are shown with ``str``: they are data, inserted once and never read as a template.

A field the template names but the values lack (absent or null in the response) is an ``InputError``
``template_field_missing``; a value that is not a date, a number or a currency where the format needs one is
``invalid_tool_response``. The caller answers with ``agent.tools.phrases`` instead.

Example:
    >>> reply(spec, "es-MX", "MX", {"order_number": "TW-ORD-2026-004512", "shipped_at": "2026-11-28",
    ...                             "carrier": "Estafeta"})                     # doctest: +SKIP
    'Su pedido TW-ORD-2026-004512 salió de nuestro almacén el 28 de noviembre de 2026 con Estafeta.'
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import regex
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, is_currency

from agent.tools.spec import ToolSpec, parse_template
from knowledge.schema import normalize_language
from personas.fields import closest_language
from polydesk.errors import InputError

FIELD_MISSING = "template_field_missing"
INVALID_RESPONSE = "invalid_tool_response"
_NUMERIC = regex.compile(r"-?\d+(\.\d+)?")


def reply(spec: ToolSpec, language: str, market: str, values: Mapping[str, object], *,
          zone: dt.tzinfo | None = None) -> str:
    """The tool's reply in ``language`` (see the module docstring); ``zone`` shows times in the market's zone."""
    return _render(spec, spec.replies, language, market, values, zone, "replies")


def not_found_reply(spec: ToolSpec, language: str, market: str, values: Mapping[str, object], *,
                    zone: dt.tzinfo | None = None) -> str | None:
    """The tool's own "not found" reply, None when it declares none (then ``phrases.say("not_found", …)``)."""
    if not spec.not_found:
        return None
    return _render(spec, spec.not_found, language, market, values, zone, "not_found")


def template_language(templates: Mapping[str, str], language: str) -> str:
    """The key of ``templates`` for ``language``: its closest variant, else English, else the first key."""
    return closest_language(templates, language) or ("en" if "en" in templates else next(iter(templates)))


def _render(spec: ToolSpec, templates: Mapping[str, str], language: str, market: str,
            values: Mapping[str, object], zone: dt.tzinfo | None, kind: str) -> str:
    key = template_language(templates, language)
    locale = babel_locale(_locale_language(key, language), market)
    out: list[str] = []
    for piece in parse_template(templates[key]):
        out.append(piece.literal)
        if piece.field is None:
            continue
        value = values.get(piece.field)
        if value is None:
            raise InputError(f"tool {spec.name!r}: the {kind} template for {key!r} needs {piece.field!r}, "
                             "which the response did not give", code=FIELD_MISSING)
        out.append(_formatted(spec, piece.field, piece.format, value, values, locale, zone))
    return "".join(out)


def _locale_language(key: str, language: str) -> str:
    """The requested language when the template is in it (keeps ``pt-br``'s region), else the template's."""
    try:
        requested = normalize_language(language)
    except ValueError:
        return key
    return requested if requested.split("-")[0] == key.split("-")[0] else key


@lru_cache(maxsize=256)
def babel_locale(language: str, market: str) -> Locale:
    """The babel locale for a language code (``es``, ``pt-br``, ``zh-hant``) in a market (``MX``), best first:
    language_Script_REGION, language_REGION, language_Script, language, then English."""
    parts = language.replace("_", "-").split("-")
    base = parts[0].lower()
    script = next((part.title() for part in parts[1:] if len(part) == 4 and part.isalpha()), None)
    region = next((part.upper() for part in parts[1:] if len(part) == 2 and part.isalpha()), None)
    if region is None and len(market) == 2 and market.isalpha():
        region = market.upper()
    candidates = [
        f"{base}_{script}_{region}" if script and region else None,
        f"{base}_{region}" if region else None,
        f"{base}_{script}" if script else None,
        base,
    ]
    for candidate in filter(None, candidates):
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse("en")


def _formatted(spec: ToolSpec, field: str, fmt: str, value: object, values: Mapping[str, object], locale: Locale,
               zone: dt.tzinfo | None) -> str:
    if isinstance(value, Mapping | list):
        raise _invalid(spec, field, "is an object or a list, not a value; point the field at a single value")
    if fmt == "":
        return str(value)
    if fmt in ("date", "datetime"):
        moment = _moment(spec, field, value)
        if isinstance(moment, dt.datetime) and zone is not None and moment.tzinfo is not None:
            moment = moment.astimezone(zone)
        if fmt == "date" or not isinstance(moment, dt.datetime):
            day = moment.date() if isinstance(moment, dt.datetime) else moment
            return format_date(day, format="long", locale=locale)
        return format_datetime(moment, format="medium", tzinfo=moment.tzinfo, locale=locale)
    number = _decimal(spec, field, value)
    if fmt == "number":
        return format_decimal(number, locale=locale)
    currency = fmt.partition(":")[2] or _currency(spec, values)
    return format_currency(number, currency, locale=locale)


def _moment(spec: ToolSpec, field: str, value: object) -> dt.date | dt.datetime:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
        if isinstance(value, str):
            text = value.strip()
            if _NUMERIC.fullmatch(text):
                return dt.datetime.fromtimestamp(float(text), tz=dt.UTC)
            if len(text) <= 10:
                return dt.date.fromisoformat(text)
            return dt.datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        pass
    raise _invalid(spec, field, "is not an ISO 8601 date or time, nor UNIX seconds")


def _decimal(spec: ToolSpec, field: str, value: object) -> Decimal:
    if not isinstance(value, bool) and isinstance(value, int | float | str | Decimal):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = Decimal("NaN")
        if number.is_finite() and not (isinstance(value, float) and not math.isfinite(value)):
            return number
    raise _invalid(spec, field, "is not a number")


def _currency(spec: ToolSpec, values: Mapping[str, object]) -> str:
    code = values.get("currency")
    if code is None:
        raise InputError(f"tool {spec.name!r}: an amount needs 'currency', which the response did not give",
                         code=FIELD_MISSING)
    text = str(code).strip().upper()
    if not is_currency(text):
        raise _invalid(spec, "currency", "is not an ISO 4217 currency code")
    return text


def _invalid(spec: ToolSpec, field: str, problem: str) -> InputError:
    return InputError(f"tool {spec.name!r}: the response field {field!r} {problem}", code=INVALID_RESPONSE)
