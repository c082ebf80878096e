"""What the agent says in its own words around a tool, in every language it serves.

Four kinds: ``ask_parameter`` (a value is missing), ``tool_failed`` (the lookup failed; ``handoff=True`` adds
that a colleague takes over), ``not_yours`` (the order belongs to another customer) and ``not_found`` (no
order with that number). Plain, polite and neutral like ``agent.phrases``: no religious, gendered or
honorific-breaking wording. A language not listed falls back to English.

``ask_parameter`` takes ``parameter`` (and ``description``): a built-in noun in the reply language for
``order_number`` and ``tracking_number`` in a natural question ("Could you send me your order number?");
for any other parameter the ParamSpec's description (written by the brand, usually in English) in a sentence
built so that any text fits it ("To look this up, I need the following: …"). ``what=`` gives that text
directly (a brand's own per-language ``label``). ``ask_for`` does this choice for a ParamSpec.

Example:
    >>> say("ask_parameter", "th", parameter="order_number")
    'กรุณาแจ้งหมายเลขคำสั่งซื้อของท่าน'
    >>> say("tool_failed", "de", handoff=True)
    'Das kann ich im Moment leider nicht nachsehen. Eine Kollegin oder ein Kollege übernimmt und meldet sich bei Ihnen.'
"""

from __future__ import annotations

from typing import Literal

from agent.tools.phrases_data import ASK_DESCRIBED, NOUNS, PHRASES
from agent.tools.spec import ParamSpec
from personas.fields import closest_language, pick_language

ToolPhrase = Literal["ask_parameter", "tool_failed", "not_yours", "not_found"]
LANGUAGES = tuple(PHRASES)


def _key(language: str) -> str:
    return closest_language(PHRASES, language) or "en"


def say(kind: ToolPhrase, language: str, *, handoff: bool = False, **values: str) -> str:
    """``kind`` in ``language`` (its closest variant, else English) with ``{placeholders}`` filled.

    ``not_found`` takes ``value`` (the number the customer gave); ``ask_parameter`` takes ``parameter`` and
    ``description``, or ``what``; ``handoff`` is only for ``tool_failed``.
    """
    key = _key(language)
    if handoff and kind != "tool_failed":
        raise ValueError("handoff=True only applies to 'tool_failed'")
    if kind == "ask_parameter":
        return _ask(key, values)
    if kind == "tool_failed" and handoff:
        return PHRASES[key]["tool_failed_handoff"]
    return PHRASES[key][kind].format(**values)


def ask_for(name: str, param: ParamSpec, language: str) -> str:
    """The question for a missing parameter: the brand's ``label`` in the language, else a built-in noun,
    else the description."""
    label = pick_language(param.label, language) if param.label else None
    if label is not None:
        return say("ask_parameter", language, what=label)
    return say("ask_parameter", language, parameter=name, description=param.description)


def _ask(key: str, values: dict[str, str]) -> str:
    noun = NOUNS[key].get(values.get("parameter", ""))
    if noun is not None and "what" not in values:
        return PHRASES[key]["ask_parameter"].format(what=noun)
    what = values.get("what") or values.get("description") or values.get("parameter", "").replace("_", " ")
    if not what:
        raise ValueError("ask_parameter needs parameter=, description= or what=")
    return ASK_DESCRIBED[key].format(what=what.strip().rstrip(".。!?！？:："))
