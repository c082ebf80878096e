"""A tool's parameters: found in what the customer wrote, checked when a model proposes them, put into the request.

``find`` searches the message, then the customer's earlier messages newest first (the order number said two
messages ago counts). Text is normalised first: NFKC (full-width ``ＴＷ－ＯＲＤ－２０２６`` becomes
``TW-ORD-2026``), every decimal digit to ASCII (Thai ``๒๐๒๖``, Arabic-Indic ``٢٠٢٦``), and the dashes phones
and keyboards put in place of a hyphen (``–``, ``—``, ``−``, the Japanese long-vowel mark ``ー``) to ``-``.
Patterns are searched inside the text, in any script, with no spaces needed around the value
(``订单号TW-ORD-2026-004512怎么还没到``); a match is never cut out of a longer number (a digit right before or
after a match that starts or ends with a digit rejects it). When one message holds several different values,
the first in reading order wins; ``find_all`` lists them all so the caller can ask which one is meant.

``validate`` is the gate for a language model's function call: unknown names, wrong types, a value the pattern
does not match in full, a missing required parameter, or a parameter polydesk fills itself (the verified
customer id or e-mail) → ``InputError`` with code ``invalid_tool_arguments``, and nothing is called.

Example:
    >>> find(spec, "คำสั่งซื้อTW-ORD-2026-004512ถึงไหนแล้ว", [])                # doctest: +SKIP
    {'order_number': 'TW-ORD-2026-004512'}
    >>> environ = {"TIDEWELL_ORDERS_URL": "https://o.example"}
    >>> render_url(spec, {"order_number": "TW-ORD-2026-004512"}, environ)     # doctest: +SKIP
    'https://o.example/orders/TW-ORD-2026-004512'
"""

from __future__ import annotations

import logging
import string
import unicodedata
from collections.abc import Mapping, Sequence
from urllib.parse import quote, urlsplit

import regex

from agent.tools.spec import PATTERN_TIMEOUT_S, ParamSpec, ToolSpec
from polydesk.errors import ConfigError, InputError

log = logging.getLogger(__name__)

INVALID_ARGUMENTS = "invalid_tool_arguments"
_HYPHENS = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc"
_TO_NORMALISE = regex.compile(rf"[{_HYPHENS}]|(?![0-9])\p{{Nd}}")


def _ascii(match: regex.Match[str]) -> str:
    char = match.group(0)
    return "-" if char in _HYPHENS else str(unicodedata.decimal(char))


def normalize_text(text: str) -> str:
    """``text`` as patterns see it: NFKC, ASCII digits, ASCII hyphens (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    return text if text.isascii() else _TO_NORMALISE.sub(_ascii, text)


def _values_in(name: str, param: ParamSpec, text: str) -> list[str]:
    """The distinct values of ``param`` in normalised ``text``, in reading order."""
    pattern = param.compiled
    if pattern is None:
        return []
    values: list[str] = []
    try:
        for match in pattern.finditer(text, timeout=PATTERN_TIMEOUT_S):
            value, start, end = match.group(0), match.start(), match.end()
            if not value:
                continue
            if (value[0].isdigit() and start > 0 and text[start - 1].isdigit()) or (
                    value[-1].isdigit() and end < len(text) and text[end].isdigit()):
                continue  # part of a longer number, not this value
            if value not in values:
                values.append(value)
    except TimeoutError:
        log.warning("the pattern of parameter %r took too long on a message; no value taken", name)
    return values


def find_all(spec: ToolSpec, message: str) -> dict[str, list[str]]:
    """Every distinct value of each message parameter in ``message``, in reading order (absent ones left out)."""
    text = normalize_text(message)
    found = {name: _values_in(name, param, text) for name, param in spec.message_parameters.items()}
    return {name: values for name, values in found.items() if values}


def find(spec: ToolSpec, message: str, history: Sequence[str]) -> dict[str, str]:
    """Each message parameter's value: from ``message`` first, then ``history`` (the customer's earlier
    messages, oldest first as said) newest first; the first value in reading order of the first text with one."""
    texts = [message, *reversed(history)]
    normalised: list[str | None] = [None] * len(texts)
    found: dict[str, str] = {}
    for name, param in spec.message_parameters.items():
        for index, raw in enumerate(texts):
            text = normalised[index]
            if text is None:
                text = normalised[index] = normalize_text(raw)
            values = _values_in(name, param, text)
            if values:
                found[name] = values[0]
                break
    return found


def missing(spec: ToolSpec, found: Mapping[str, object]) -> list[str]:
    """The required parameters without a value, in declaration order. Only ``source: message`` ones can be
    asked for; a missing ``customer_id`` or ``customer_email`` means the customer is not verified."""
    return [name for name, param in spec.parameters.items() if param.required and found.get(name) in (None, "")]


def validate(spec: ToolSpec, arguments: object) -> dict[str, str]:
    """A model's proposed arguments checked against the declaration; ``InputError`` (``invalid_tool_arguments``)
    naming every problem, else the values as strings (normalised like a message)."""
    if not isinstance(arguments, Mapping):
        raise InputError(f"tool {spec.name!r}: the arguments must be a JSON object", code=INVALID_ARGUMENTS)
    problems: list[str] = []
    values: dict[str, str] = {}
    for key, value in arguments.items():
        name = str(key)
        param = spec.parameters.get(name)
        if param is None:
            problems.append(f"{_shown(name)} is not a parameter of this tool")
        elif param.source != "message":
            problems.append(f"{name} is filled by polydesk from the verified customer, never by the model")
        elif value is not None:
            checked = _checked(name, param, value)
            if isinstance(checked, _Problem):
                problems.append(checked.text)
            else:
                values[name] = checked
    problems += [f"{name} is required" for name in missing(spec, values)
                 if spec.parameters[name].source == "message"]
    if problems:
        raise InputError(f"tool {spec.name!r}: invalid arguments: {'; '.join(problems)}", code=INVALID_ARGUMENTS)
    return values


class _Problem:
    def __init__(self, text: str) -> None:
        self.text = text


def _checked(name: str, param: ParamSpec, value: object) -> str | _Problem:
    if param.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return _Problem(f"{name} must be an integer, got {type(value).__name__}")
        text = str(value)
    elif isinstance(value, str):
        text = normalize_text(value).strip()
    else:
        return _Problem(f"{name} must be a string, got {type(value).__name__}")
    pattern = param.compiled
    try:
        matched = pattern is None or pattern.fullmatch(text, timeout=PATTERN_TIMEOUT_S) is not None
    except TimeoutError:
        matched = False
    if not matched:
        return _Problem(f"{name} does not match the pattern {param.pattern}")
    return text


def _shown(name: str) -> str:
    return repr(name if len(name) <= 40 else name[:40] + "…")


def render_url(spec: ToolSpec, values: Mapping[str, object], environ: Mapping[str, str]) -> str:
    """The URL to call: the base from the environment (``${NAME}``), as is, then the template with every value
    URL-encoded (``quote(value, safe="")``: a value can never add a path segment or a query).

    A missing or unusable base URL is a ``ConfigError`` naming the variable, never its value; a missing
    required value an ``InputError`` (``invalid_tool_arguments``); a missing optional one is sent empty.
    """
    base = ""
    env = spec.url_env
    if env is not None:
        base = _base_url(spec, env, environ.get(env))
    parts = [base]
    for literal, field, _, _ in string.Formatter().parse(spec.url_path):
        parts.append(literal)
        if field is None:
            continue
        value = values.get(field)
        if value is None or value == "":
            if spec.parameters[field].required:
                raise InputError(f"tool {spec.name!r}: no value for the parameter {field}", code=INVALID_ARGUMENTS)
            value = ""
        parts.append(quote(str(value), safe=""))
    return "".join(parts)


def _base_url(spec: ToolSpec, env: str, raw: str | None) -> str:
    if not raw or not raw.strip():
        raise ConfigError(f"tool {spec.name!r}: the environment variable {env} is not set; it holds the base URL")
    value = raw.strip()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname or port == 0:
        raise ConfigError(f"tool {spec.name!r}: the environment variable {env} must hold an http(s) URL with a host")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"tool {spec.name!r}: the URL in {env} must have no user name, password, query or "
                          "fragment; use auth with secret_env")
    if parts.scheme == "http" and not spec.internal:
        raise ConfigError(f"tool {spec.name!r}: the URL in {env} is plain http; use https, or mark the tool "
                          "internal: true")
    return value.rstrip("/") if spec.url_path.startswith("/") else value


def request_body(spec: ToolSpec, values: Mapping[str, object]) -> dict[str, str | int] | None:
    """The JSON object a POST tool sends: every parameter with a value (integers as numbers); None for GET."""
    if spec.method != "POST":
        return None
    body: dict[str, str | int] = {}
    for name, param in spec.parameters.items():
        value = values.get(name)
        if value is None or value == "":
            continue
        body[name] = int(str(value)) if param.type == "integer" else str(value)
    return body
