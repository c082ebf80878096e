"""Which language to answer in: the message, weighed against the conversation and the market.

A message is detected on its own (``polydesk.language``), then weighed:

1. A language the customer chose (``AnswerRequest.language``) wins, now and for the
   rest of the conversation.
2. In a running conversation, the message must be clear evidence to switch: enough
   letters and a confident detection. "ok", "👍", "谢谢" or "Danke" never flip a
   conversation held in another language; a Han-only message never turns a Japanese
   conversation into Chinese (kanji are Japanese too); Indonesian and Malay are one.
3. A first message is trusted when the detection is confident, more readily for a
   language the market speaks; otherwise the channel's locale hint, else the market's
   default language.

Example:
    >>> stage = LanguageStage()
    >>> stage.run("谢谢", conversation_language="th", market=catalog.market("TH")).language   # doctest: +SKIP
    'th'
"""

from __future__ import annotations

import regex

from agent.schema import LanguageDecision
from knowledge.schema import normalize_language
from personas import Market
from polydesk.language import LanguageDetector, language_family

# Letters a message needs before its detection may switch a running conversation. Scripts
# without spaces carry about a word per character, hence the lower bar for them.
_SWITCH_LETTERS = 12
_SWITCH_LETTERS_UNSPACED = 4
_SWITCH_CONFIDENCE = 0.9
# A first message: confident enough for a language the market speaks, and for any other.
_FIRST_CONFIDENCE_MARKET = 0.5
_FIRST_CONFIDENCE_OTHER = 0.8

_LETTER = regex.compile(r"\p{L}")
_UNSPACED = regex.compile(r"[\p{Thai}\p{Han}\p{Hiragana}\p{Katakana}\p{Lao}\p{Khmer}\p{Myanmar}]")
_KANA = regex.compile(r"[\p{Hiragana}\p{Katakana}]")
_HAN = regex.compile(r"\p{Han}")


class LanguageStage:
    def __init__(self, detector: LanguageDetector | None = None) -> None:
        self.detector = detector or LanguageDetector()

    def run(self, message: str, *, market: Market, conversation_language: str | None = None,
            override: str | None = None, locale: str | None = None) -> LanguageDecision:
        detected, confidence = self.detector.detect_with_score(message, market=market.code,
                                                               default=conversation_language or market.default_language)
        if override:
            return LanguageDecision(language=normalize_language(override), detected=detected, confidence=confidence,
                                    source="override")
        if conversation_language:
            if self._switches(message, detected, confidence, conversation_language):
                return LanguageDecision(language=detected, detected=detected, confidence=confidence, source="detected")
            return LanguageDecision(language=conversation_language, detected=detected, confidence=confidence,
                                    source="conversation")
        threshold = _FIRST_CONFIDENCE_MARKET if detected in market.languages else _FIRST_CONFIDENCE_OTHER
        if confidence >= threshold:
            return LanguageDecision(language=detected, detected=detected, confidence=confidence, source="detected")
        if locale:
            try:
                return LanguageDecision(language=normalize_language(locale.split("-")[0].split("_")[0]),
                                        detected=detected, confidence=confidence, source="locale")
            except ValueError:
                pass  # an unusable hint is no worse than none
        return LanguageDecision(language=market.default_language, detected=detected, confidence=confidence,
                                source="market")

    @staticmethod
    def _switches(message: str, detected: str, confidence: float, current: str) -> bool:
        if language_family(detected) == language_family(current) or confidence < _SWITCH_CONFIDENCE:
            return False
        if current == "ja" and detected == "zh" and _HAN.search(message) and not _KANA.search(message):
            return False  # kanji alone may well be Japanese
        letters = len(_LETTER.findall(message))
        unspaced = len(_UNSPACED.findall(message))
        needed = _SWITCH_LETTERS_UNSPACED if unspaced * 2 >= letters else _SWITCH_LETTERS
        return letters >= needed
