"""Whether a reply states a fact: normalised substring matching that works in every script.

A fact is a short string in the reply's language ("30 Tage", "฿1,000", "8日"); "a|b" lists spellings that
count alike. Both texts are normalised first: Unicode NFKC (full-width digits and letters become ASCII),
case folded, Markdown emphasis dropped, dashes and wave dashes (– — 〜 ～) read as "-", runs of white space as
one space. Then the fact must occur as a substring, except that a fact that starts (ends) with a digit must not
be preceded (followed) by another digit or a decimal/thousands separator followed by a digit, so "30 days" is not
found in "130 days" and "8日" not in "18日". No word boundaries are assumed: Thai, Japanese and Chinese are
written without spaces, and "30 Tage" is meant to be found in "30 Tagen".

Example:
    >>> check_facts("ส่งฟรีเมื่อซื้อครบ ฿1,000 ขึ้นไป", ["฿1,000"], ["฿60"])
    FactCheck(found=['฿1,000'], missing=[], forbidden=[])
    >>> fact_present("返品は商品到着日を含めて18日以内", "8日")
    False
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

_DASHES = re.compile(r"[\u2010-\u2015\u2212\u301c\uff5e~]")
_SPACES = re.compile(r"\s+")
_EMPHASIS = re.compile(r"(\*\*|__|`)")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _EMPHASIS.sub("", _DASHES.sub("-", text))
    return _SPACES.sub(" ", text).strip()


def _pattern(fact: str) -> re.Pattern[str]:
    body = re.escape(normalize(fact))
    start = r"(?<![0-9])(?<![0-9][.,])" if fact[:1].isdigit() else ""
    end = r"(?![0-9])(?![.,][0-9])" if fact[-1:].isdigit() else ""
    return re.compile(start + body + end)


def fact_present(text: str, fact: str) -> bool:
    """True when ``text`` states ``fact`` (any of its '|' spellings)."""
    normalized = normalize(text)
    return any(_pattern(spelling.strip()).search(normalized) for spelling in fact.split("|") if spelling.strip())


@dataclass(frozen=True)
class FactCheck:
    found: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        total = len(self.found) + len(self.missing)
        return len(self.found) / total if total else None


def check_facts(text: str, must: Sequence[str], must_not: Sequence[str]) -> FactCheck:
    found = [f for f in must if fact_present(text, f)]
    return FactCheck(found=found, missing=[f for f in must if f not in found],
                     forbidden=[f for f in must_not if fact_present(text, f)])
