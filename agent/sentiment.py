"""Frustration: how angry a customer sounds, from words and from signals that are not words.

Each signal scores in [0, 1] and the score is their noisy-or (``1 - Π(1 - s)``), so two
moderate signals add up to a strong one and any single strong one suffices:

- ``anger``: the angry head of the intent classifier (``agent.intents``), on the embedding
  retrieval computes anyway; it hears anger in any language without a word list;
- ``frustration_terms``: the market's words of anger and exasperation ("inakzeptabel", "最悪");
- ``repeat_terms``: "third time", "schon wieder", "อีกแล้ว";
- ``angry_emoji``: 😡 🤬 😤 🙄 👎 and their kin;
- ``all_caps``: a message shouted in capitals (scripts with case only);
- ``exclamations``: "!!!", "！！"; ``question_marks``: "???", "？？", "؟؟";
- ``repeated_question``: the customer asks again what they asked before (character
  trigrams, so it works without spaces between words);
- ``echoes_bot``: the customer quotes the bot's previous reply back at it.

Capitals, "!!!" and "???" say how strongly someone feels, not what they feel: "WE WON!!!" shouts
too. So these three count in full once the message sounds negative in another way (the anger head
at 0.5 or more, any other signal above) and at 40% of their weight when nothing else does.

Example:
    >>> scorer = FrustrationScorer()
    >>> rules = EscalationRules.model_validate({"frustration_terms": {"en": ["ridiculous"]}})
    >>> result = scorer.score("THIS IS RIDICULOUS, WHERE IS MY PARCEL!!!", anger=0.2, rules=rules, history=[])
    >>> sorted(result.signals), result.score > 0.7
    (['all_caps', 'anger', 'exclamations', 'frustration_terms'], True)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import regex

from agent.schema import Turn
from personas import EscalationRules
from polydesk.terms import TermSet

__all__ = ["Frustration", "FrustrationScorer", "similarity", "trigrams"]

# Signal strengths: what each says about frustration on its own.
WEIGHTS = {
    "anger": 0.85,  # times the angry head's probability: the model alone is sure only when it is very sure
    "frustration_terms": 0.45,  # one term; two or more count 0.6
    "repeat_terms": 0.4,
    "angry_emoji": 0.3,
    "all_caps": 0.35,
    "exclamations": 0.25,
    "question_marks": 0.2,
    "repeated_question": 0.4,
    "echoes_bot": 0.35,
}
_INTENSITY_ALONE = 0.4  # their share of weight in a message that sounds negative in no other way
_NEGATIVE_ANGER = 0.5  # the angry head's probability from which a message sounds negative on its own
_ANGRY_EMOJI = re.compile("[\U0001F621\U0001F92C\U0001F624\U0001F620\U0001F4A2\U0001F44E\U0001F595"
                          "\U0001F644\U0001F612\U0001F926]")  # 😡 🤬 😤 😠 💢 👎 🖕 🙄 😒 🤦
_CASED = regex.compile(r"[\p{Latin}\p{Greek}\p{Cyrillic}]")
_EXCLAMATIONS = re.compile(r"[!！¡]")
_QUESTION_RUN = re.compile(r"[?？؟]{3,}")
_NOT_TEXT = regex.compile(r"[\p{P}\p{S}\s]+")
_MIN_CAPS_LETTERS = 10
_MIN_REPEAT_CHARS = 8
_REPEAT_SIMILARITY = 0.6
_ECHO_CONTAINMENT = 0.7
_MIN_ECHO_CHARS = 20
_CACHE_SIZE = 64


@dataclass(frozen=True, slots=True)
class Frustration:
    score: float
    signals: dict[str, float]  # name -> strength, only the signals present

    def explain(self) -> str:
        return ", ".join(f"{name} {value:.2f}" for name, value in sorted(self.signals.items(), key=lambda s: -s[1]))


def trigrams(text: str) -> set[str]:
    """The character trigrams of a text, casefolded, punctuation and spacing collapsed to one space."""
    flat = _NOT_TEXT.sub(" ", text.casefold()).strip()
    return {flat[i : i + 3] for i in range(max(0, len(flat) - 2))}


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of character trigrams (script-agnostic: no word boundaries needed)."""
    left, right = trigrams(a), trigrams(b)
    return len(left & right) / len(left | right) if left and right else 0.0


def _containment(part: str, whole: str) -> float:
    grams = trigrams(part)
    return len(grams & trigrams(whole)) / len(grams) if grams else 0.0


class FrustrationScorer:
    """Scores messages; build once and share (thread-safe). Term lists are compiled once per rules object."""

    def __init__(self) -> None:
        self._compiled: dict[int, tuple[EscalationRules, TermSet, TermSet]] = {}
        self._lock = threading.Lock()

    def score(self, message: str, *, anger: float, rules: EscalationRules, history: Sequence[Turn]) -> Frustration:
        frustration_terms, repeat_terms = self._terms(rules)
        signals: dict[str, float] = {}
        if anger >= 0.05:
            signals["anger"] = round(anger * WEIGHTS["anger"], 3)
        found = {label for label, _ in frustration_terms.find(message)}
        if found:
            signals["frustration_terms"] = 0.6 if len(found) > 1 else WEIGHTS["frustration_terms"]
        if repeat_terms.find(message):
            signals["repeat_terms"] = WEIGHTS["repeat_terms"]
        if _ANGRY_EMOJI.search(message):
            signals["angry_emoji"] = WEIGHTS["angry_emoji"]
        substance = len(_NOT_TEXT.sub("", message))
        if substance >= _MIN_REPEAT_CHARS and any(
            turn.role == "customer" and similarity(message, turn.text) >= _REPEAT_SIMILARITY for turn in history
        ):
            signals["repeated_question"] = WEIGHTS["repeated_question"]
        last_bot = next((turn for turn in reversed(history) if turn.role == "bot"), None)
        if (last_bot is not None and substance >= _MIN_ECHO_CHARS
                and _containment(message, last_bot.text) >= _ECHO_CONTAINMENT):
            signals["echoes_bot"] = WEIGHTS["echoes_bot"]
        negative = min(1.0, max(anger / _NEGATIVE_ANGER, 1.0 if signals.keys() - {"anger"} else 0.0))
        intensity = _INTENSITY_ALONE + (1.0 - _INTENSITY_ALONE) * negative
        cased = _CASED.findall(message)
        if len(cased) >= _MIN_CAPS_LETTERS and sum(c.isupper() for c in cased) >= 0.7 * len(cased):
            signals["all_caps"] = round(WEIGHTS["all_caps"] * intensity, 3)
        if len(_EXCLAMATIONS.findall(message)) >= 3:
            signals["exclamations"] = round(WEIGHTS["exclamations"] * intensity, 3)
        if _QUESTION_RUN.search(message):
            signals["question_marks"] = round(WEIGHTS["question_marks"] * intensity, 3)
        calm = 1.0
        for value in signals.values():
            calm *= 1.0 - value
        return Frustration(score=round(1.0 - calm, 4), signals=signals)

    def _terms(self, rules: EscalationRules) -> tuple[TermSet, TermSet]:
        entry = self._compiled.get(id(rules))
        if entry is not None and entry[0] is rules:
            return entry[1], entry[2]
        compiled = (
            TermSet.compile(((t, f"{t!r} ({lang})") for lang, ts in rules.frustration_terms.items() for t in ts),
                            plural=True),
            TermSet.compile(((t, f"{t!r} ({lang})") for lang, ts in rules.repeat_terms.items() for t in ts)),
        )
        with self._lock:
            if len(self._compiled) >= _CACHE_SIZE:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[id(rules)] = (rules, *compiled)
        return compiled
