"""The sparse lexical side of hybrid search: BM25-style term vectors for every script.

Dense embeddings blur exact strings such as a product code (``TW-4417``) or an
order term. A lexical vector keeps them. Tokens:

- scripts written with spaces: lower-cased (NFKC, casefold) words; a compound
  such as ``TW-4417`` or ``v2.1`` yields the whole compound and its parts;
- scripts written without spaces (Thai, Lao, Khmer, Myanmar, Chinese, Japanese
  kana and kanji): overlapping character bigrams (and the character itself
  for a one-character run), the usual n-gram indexing for unsegmented text.

Each token is hashed to a 32-bit term id. Document weights are the BM25 term
frequency part, ``tf·(k1+1) / (tf + k1·(1 − b + b·len/avg_len))``; the IDF part
is applied by Qdrant (the sparse vector is declared with the IDF modifier), so
the fused score is BM25. Query weights are 1 per distinct term.

Example:
    >>> encoder = SparseEncoder()
    >>> sorted(encoder.tokens("TW-4417 ส่งฟรี"))[:3]
    ['4417', 'tw', 'tw-4417']
"""

from __future__ import annotations

import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

import regex

from knowledge.schema import SparseVector

_UNSPACED = r"\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Han}\p{Hiragana}\p{Katakana}"
_WORD = r"[\p{L}\p{M}\p{N}]"
# A run of unspaced script, or a word, or a compound of words joined by - _ . / (product codes, versions).
_JOIN = r"(?:[-_./]|(?<=\p{N}),(?=\p{N}))"  # a comma joins only digits: 1,000
_JOIN_CHARS = r"\-_./,"
_SPACED_CHAR = rf"(?:(?![{_UNSPACED}]){_WORD})"
_TOKEN_RE = regex.compile(rf"(?P<cjk>[{_UNSPACED}ー]+)|(?P<word>{_SPACED_CHAR}+(?:{_JOIN}{_SPACED_CHAR}+)*)")
_PART_RE = regex.compile(_JOIN)
_IDENTIFIER = regex.compile(r"(?=.*\p{L})(?=.*\p{N})[\p{L}\p{N}][\p{L}\p{M}\p{N}\-_./]{2,}|\p{N}{5,}")


def term_id(token: str) -> int:
    return zlib.crc32(token.encode("utf-8"))


class SparseEncoder:
    """Text → sparse BM25 term vector, script-aware. Stateless and thread-safe."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.75, avg_len: float = 120.0) -> None:
        self.k1 = k1
        self.b = b
        self.avg_len = avg_len

    def tokens(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).casefold()
        out: list[str] = []
        for match in _TOKEN_RE.finditer(text):
            run = match.group("cjk")
            if run is not None:
                out.extend(_bigrams(run))
                continue
            word = match.group("word")
            parts = _PART_RE.split(word)
            if len(parts) > 1:
                out.append(word)
            out.extend(p for p in parts if p)
        return out

    def identifiers(self, text: str) -> set[str]:
        """Tokens that name one thing exactly: letters mixed with digits (``tw-4417``) or 5+ digits in a row."""
        words = (m.group("word") for m in _TOKEN_RE.finditer(unicodedata.normalize("NFKC", text).casefold()))
        return {w for w in words if w is not None and _IDENTIFIER.fullmatch(w)}

    def mentions(self, text: str, identifiers: set[str]) -> bool:
        """Whether ``text`` has one of ``identifiers`` (from ``identifiers``) as a whole token."""
        folded = unicodedata.normalize("NFKC", text).casefold()
        return any(
            _whole_token(identifier).search(folded) for identifier in identifiers if identifier in folded
        )

    def _vector(self, counts: Counter[str], length: int, *, query: bool) -> SparseVector:
        weights: dict[int, float] = {}
        norm = self.k1 * (1 - self.b + self.b * length / self.avg_len)
        for token, tf in counts.items():
            weight = 1.0 if query else tf * (self.k1 + 1) / (tf + norm)
            tid = term_id(token)
            # Two tokens hashing to one id (rare): keep the larger weight rather than summing into a fake tf.
            weights[tid] = max(weights.get(tid, 0.0), weight)
        indices = sorted(weights)
        return SparseVector(indices=indices, values=[weights[i] for i in indices])

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        vectors = []
        for text in texts:
            tokens = self.tokens(text)
            vectors.append(self._vector(Counter(tokens), len(tokens), query=False))
        return vectors

    def encode_query(self, text: str) -> SparseVector:
        tokens = self.tokens(text)
        return self._vector(Counter(tokens), len(tokens), query=True)


@lru_cache(maxsize=1024)
def _whole_token(identifier: str) -> regex.Pattern[str]:
    # Not inside a longer word: no letter or digit around it, nor a joiner that continues it ("tw-4417-b").
    return regex.compile(rf"(?<![\p{{L}}\p{{M}}\p{{N}}]|[\p{{L}}\p{{N}}][{_JOIN_CHARS}]){regex.escape(identifier)}"
                         rf"(?![\p{{L}}\p{{M}}\p{{N}}]|[{_JOIN_CHARS}][\p{{L}}\p{{N}}])")


def _bigrams(run: str) -> Iterable[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]
