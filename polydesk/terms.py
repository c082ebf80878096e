"""Find words and phrases in text in any script: whole words where words are spaced, substrings where not.

Used for the terms a market forbids in replies, the phrases a persona avoids, and the
keywords that escalate a message. Matching is case-insensitive; in spaced scripts a
term matches as whole words (with an optional plural ``s``/``es`` when asked), in Thai,
Chinese, Japanese and the like as a substring; Arabic folds spelling variants
(alef forms, alef maqsura, ta marbuta), diacritics and tatweel, and admits the
attached conjunctions, prepositions and article (و ف ب ك ل ال).

Example:
    >>> terms = TermSet.compile([("lawyer", "lawyer (en)"), ("ทนาย", "ทนาย (th)"), ("محامي", "محامي (ar)")],
    ...                        plural=True)
    >>> [label for label, _ in terms.find("My lawyers will hear about this")]
    ['lawyer (en)']
    >>> [label for label, _ in terms.find("จะฟ้องทนายแล้วนะ")], [label for label, _ in terms.find("سأتصل بالمحامي")]
    (['ทนาย (th)'], ['محامي (ar)'])
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

# Scripts written without spaces between words: terms match as substrings.
UNSPACED = re.compile(r"[\u0E00-\u0EFF\u1000-\u109F\u1780-\u17FF\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]")
_HANGUL = re.compile(r"[\u1100-\u11FF\u3130-\u318F\uAC00-\uD7AF]")  # spaced, but particles attach to the word
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF]")
_WORD_CHAR = re.compile(r"\w")
_ARABIC_MARKS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"  # diacritics, Quranic marks, tatweel
_ARABIC_VARIANTS = {"ا": "[اأإآٱ]", "أ": "[اأإآٱ]", "إ": "[اأإآٱ]", "آ": "[اأإآٱ]", "ٱ": "[اأإآٱ]",
                    "ي": "[يى]", "ى": "[يى]", "ة": "[ةه]", "ه": "[ةه]"}  # fmt: skip
_M = f"[{_ARABIC_MARKS}]*"
_ARABIC_FOLD = {**dict.fromkeys(range(0x0610, 0x061B)), **dict.fromkeys(range(0x064B, 0x0660)),
                **dict.fromkeys(range(0x06D6, 0x06EE)), 0x0670: None, 0x0640: None,
                **str.maketrans("أإآٱىة", "اااايه")}  # fmt: skip
_ARABIC_START = rf"(?<![^\W\d_])(?<![{_ARABIC_MARKS}])(?:[وف]{_M})?(?:(?:[بكل]{_M})?ال{_M}|لل{_M}|[بل]{_M})?"


@dataclass(frozen=True, slots=True)
class _Term:
    """One term or phrase: ``key`` must occur in the folded text before ``pattern`` is worth running."""

    key: str
    pattern: re.Pattern[str]
    label: str


@dataclass(frozen=True, slots=True)
class TermSet:
    """Compiled terms, longest first (so "亲爱的" is reported rather than "亲" at the same place).

    A message is scanned once for every term's key (an Aho-Corasick automaton: hundreds of terms in all the
    languages of a market, tested on every message); only the terms whose key occurs run their pattern.
    """

    terms: tuple[_Term, ...] = ()
    _keys: Any = field(default=None, init=False, repr=False, compare=False)  # key -> the indices of its terms

    def __post_init__(self) -> None:
        by_key: dict[str, list[int]] = {}
        for number, term in enumerate(self.terms):
            by_key.setdefault(term.key, []).append(number)
        automaton = ahocorasick.Automaton()
        for key, numbers in by_key.items():
            automaton.add_word(key, tuple(numbers))
        automaton.make_automaton()
        object.__setattr__(self, "_keys", automaton)

    @classmethod
    def compile(cls, terms: Iterable[tuple[str, str]], *, plural: bool = False) -> TermSet:
        """``terms`` as (term, label) pairs; ``plural`` also matches a trailing s/es in spaced scripts."""
        ordered = sorted(terms, key=lambda item: -len(item[0]))
        return cls(
            tuple(
                _Term(
                    key=max((fold(word) for word in term.split()), key=len),
                    pattern=re.compile(_term_pattern(term, plural=plural), re.IGNORECASE),
                    label=label,
                )
                for term, label in ordered
                if term.strip()
            )
        )

    def __bool__(self) -> bool:
        return bool(self.terms)

    def find(self, text: str) -> list[tuple[str, tuple[int, int]]]:
        """Every (label, span) found in ``text``, term by term."""
        if not self.terms:
            return []
        numbers = sorted({number for _, found in self._keys.iter(fold(text)) for number in found})
        return [(self.terms[number].label, match.span()) for number in numbers
                for match in self.terms[number].pattern.finditer(text)]


def fold(text: str) -> str:
    """Case and Arabic spelling variants folded away: a cheap test of whether a term can match at all."""
    folded = text.casefold()
    return folded.translate(_ARABIC_FOLD) if _ARABIC.search(folded) else folded


def _term_pattern(term: str, *, plural: bool) -> str:
    words = term.split()
    if _ARABIC.search(term):
        return _ARABIC_START + r"\s+".join("".join(_arabic_char(c) for c in word) for word in words)
    body = r"\s+".join(re.escape(word) for word in words)
    if UNSPACED.search(term) or _HANGUL.search(term):
        return body
    start = r"(?<!\w)" if _WORD_CHAR.match(term[0]) else ""
    suffix = "(?:e?s)?" if plural and term[-1].isalpha() else ""
    end = r"(?!\w)" if _WORD_CHAR.match(term[-1]) else ""
    return start + body + suffix + end


def _arabic_char(char: str) -> str:
    return _ARABIC_VARIANTS.get(char, re.escape(char)) + _M
