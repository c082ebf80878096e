"""Confidence that means the same in every language pair: a similarity calibrated for the language relation.

multilingual-e5-small places a question and the passage that answers it closer when both are in one
language than when they are not: a Thai question scores about 0.04 lower against the English passage
that answers it than an English question does, and unrelated passages drop by about as much. Read on
one scale, cross-lingual questions look unanswerable (most were refused) while same-language ones look
answerable. ``Calibration`` first moves a cross-lingual similarity onto the same-language scale,

    adjusted = similarity + shift[query language] + shift[chunk language]     (different languages)
    adjusted = similarity                                                      (same language)

where ``shift[x]`` is how far language ``x`` sits from the shared space (fitted by least squares over
every (question language, knowledge language) pair of the cross-lingual eval suites: English, Japanese and
German knowledge, questions in 12 languages), then maps the adjusted similarity onto [0, 1] between
``low`` (an unrelated question scores about this) and ``high`` (a question the knowledge answers
directly). ``POLYDESK_MIN_CONFIDENCE`` on that scale then means one thing everywhere. A language with no
fitted shift gets ``default_shift``. ``python -m bench.calibrate_confidence`` refits the table
(``agent/data/confidence.json``); docs/confidence.md has the data and the curve.

Example:
    >>> calibration = Calibration.load()
    >>> round(calibration.confidence(0.83, "th", "en"), 2) > round(calibration.confidence(0.83, "en", "en"), 2)
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from polydesk.language import language_family

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "confidence.json"


@dataclass(frozen=True, slots=True)
class Calibration:
    low: float = 0.80
    high: float = 0.88
    shifts: Mapping[str, float] = field(default_factory=dict)
    default_shift: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.low < self.high <= 1.0:
            raise ValueError("confidence bounds need 0 <= low < high <= 1")

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> Calibration:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(low=data["low"], high=data["high"], shifts=data["shifts"], default_shift=data["default_shift"])

    def adjusted(self, similarity: float, query_language: str, chunk_language: str) -> float:
        """``similarity`` on the same-language scale."""
        query, chunk = language_family(query_language), language_family(chunk_language)
        if query == chunk or chunk == "mul":
            return similarity
        return similarity + self.shifts.get(query, self.default_shift) + self.shifts.get(chunk, self.default_shift)

    def confidence(self, similarity: float, query_language: str, chunk_language: str) -> float:
        adjusted = self.adjusted(similarity, query_language, chunk_language)
        return min(1.0, max(0.0, (adjusted - self.low) / (self.high - self.low)))
