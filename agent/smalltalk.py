"""Small talk gets the agent's own short reply, never a past conversation's.

"thanks!", "ok 👍", "ขอบคุณครับ", "谢谢", "Hi!" ask nothing. Searched in the knowledge base, they find
the past conversations that ended the same way, and the extractive answer then quoted another
customer's farewell ("You're welcome, Jenna! Your return label is on its way…"). So the pipeline
asks ``small_talk`` after the escalation signals (a human request or an angry customer still
hands over first) and before retrieval; small talk gets ``agent.phrases.small_talk_reply`` in the
reply language, with no evidence, no citation and confidence 0.

A message is small talk when it does not sound angry (the anger head and the frustration score
both under 0.5: "thanks for nothing!!" is no thanks) and

- it is nothing but courtesy (``polydesk.courtesy``: thanks, ok, hello, bye with their fillers and
  particles, in any script), or has no letter or digit at all ("👍👍👍", "🙏"); or
- the intent classifier calls it small talk with probability ``MIN_PROBABILITY`` or more (its most likely
  intent, ``MIN_PROBABILITY_WITH_COURTESY``, when thanks or a greeting is in it: "Perfect, just placed the
  new order. Thank you!", "照片已附上，謝謝。"), and it is short (``MAX_WORDS`` words, or ``MAX_UNSPACED``
  characters of an unspaced script), asks nothing (no "?", "？", "؟", no question word: "where", "wann",
  "cuánto", "berapa", "ไหม", "いつ", "多少", "متى") and carries no digit (an order number makes it a request).

"thanks, and when will my order ship?" and "ok but where is my refund" are questions: courtesy
does not cover them, and the classifier does not call them small talk.

Example:
    >>> small_talk("ขอบคุณครับ", signals)                                     # doctest: +SKIP
    'thanks'
    >>> small_talk_reply("thanks", "th")                                     # doctest: +SKIP
    'ยินดีให้บริการ หากมีคำถามเพิ่มเติม สอบถามได้เลย'
"""

from __future__ import annotations

from functools import lru_cache

import regex

from agent.escalation import Signals
from agent.phrases import SmallTalkKind
from personas import Intent
from polydesk.courtesy import courtesy
from polydesk.terms import TermSet

__all__ = ["MAX_UNSPACED", "MAX_WORDS", "MIN_PROBABILITY", "MIN_PROBABILITY_WITH_COURTESY", "small_talk"]

MIN_PROBABILITY = 0.7
MIN_PROBABILITY_WITH_COURTESY = 0.35
MAX_WORDS = 8
MAX_UNSPACED = 24
_CALM = 0.5  # anger head and frustration score under which a message does not sound negative
_QUESTION = regex.compile(r"[?？؟¿]")
_UNSPACED = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]")
# Words that ask, for messages written without a question mark ("ok but where is my refund").
_QUESTION_WORDS = {
    "en": "where when how what why which who can could would is are do does will",
    "de": "wo wann wie was warum welche welcher wer kann können ist sind gibt",
    "fr": "où quand comment quoi pourquoi quel quelle combien est-ce peux pouvez",
    "es": "dónde donde cuándo cuando cómo como qué que cuánto cuanto por qué puedo pueden hay",
    "pt": "onde quando como quanto qual porque posso podem tem",
    "it": "dove quando come cosa perché quanto quale posso",
    "id": "mana kapan bagaimana gimana berapa apa apakah kenapa bisa",
    "ms": "mana bila bagaimana berapa apa kenapa boleh",
    "vi": "đâu khi nào bao nhiêu thế nào sao gì không",
    "th": "ไหม มั้ย อะไร ที่ไหน เมื่อไหร่ เท่าไหร่ ยังไง อย่างไร หรือเปล่า",
    "ja": "いつ どこ いくら 何 どう ですか ますか でしょうか",
    "zh": "哪 什么 什麼 多少 几 幾 吗 嗎 怎么 怎麼 为什么 為什麼",
    "ko": "어디 언제 얼마 무엇 왜 어떻게 나요 까요",
    "ar": "متى أين كم كيف ماذا لماذا هل وين ليش",
}


def small_talk(message: str, signals: Signals) -> SmallTalkKind | None:
    """The kind of small talk ``message`` is (see the module docstring), or None when it is more than that."""
    if signals.intent.anger >= _CALM or signals.frustration.score >= _CALM:
        return None
    found = courtesy(message)
    if found.only:
        return found.kind
    prediction = signals.intent
    needed = MIN_PROBABILITY_WITH_COURTESY if found.kind else MIN_PROBABILITY
    if prediction.intent != Intent.SMALLTALK or prediction.probability < needed:
        return None
    if _QUESTION.search(message) or _question_words().find(message) or any(char.isdigit() for char in message):
        return None
    return (found.kind or "ok") if _short(message) else None


@lru_cache(maxsize=1)
def _question_words() -> TermSet:
    return TermSet.compile((word, language) for language, words in _QUESTION_WORDS.items() for word in words.split())


def _short(message: str) -> bool:
    unspaced = len(_UNSPACED.findall(message))
    return unspaced <= MAX_UNSPACED and len(_UNSPACED.sub(" ", message).split()) <= MAX_WORDS
