"""Reply text for chat platforms: Markdown that would show as symbols taken out, long text split safely.

``plain_text`` turns the Markdown a generator may write (``**bold**``, ``# heading``, ``[label](url)``,
`` `code` ``) into what a plain-text chat shows well. ``split_text`` cuts a text into pieces of at most
``limit`` UTF-16 code units (what Telegram counts; never more than the characters LINE counts), cutting at
the best place within reach: a paragraph, a line, the end of a sentence, a space; never inside a grapheme
cluster (a flag, a family emoji, a Thai or Devanagari letter with its marks) and never inside a URL, unless
a single URL is longer than the limit itself.

Example:
    >>> split_text("Hello there. How are you?", limit=16)
    ['Hello there.', 'How are you?']
    >>> plain_text("**Free** shipping: see [our page](https://tidewell.example/ship)")
    'Free shipping: see our page (https://tidewell.example/ship)'
"""

from __future__ import annotations

from itertools import accumulate

import regex

_GRAPHEME = regex.compile(r"\X")
_URL = regex.compile(r"\b(?:https?://|www\.)[^\s<>\"']+")
_SENTENCE_END = frozenset(".!?。！？…؟।")

_LINK = regex.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_BOLD = regex.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = regex.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_CODE = regex.compile(r"`([^`\n]+)`")
_HEADING = regex.compile(r"(?m)^[ \t]{0,3}#{1,6}[ \t]+")
_FENCE = regex.compile(r"(?m)^[ \t]*```[^\n]*\n?")


def plain_text(text: str) -> str:
    """``text`` without the Markdown marks a plain-text chat would show as symbols (links keep their URL)."""
    text = _FENCE.sub("", text)
    text = _LINK.sub(lambda m: m[1] if m[1] == m[2] else f"{m[1]} ({m[2]})", text)
    text = _BOLD.sub(r"\2", text)
    text = _ITALIC.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    return _HEADING.sub("", text)


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units: how Telegram counts, and never less than the characters LINE counts."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, *, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-16 units, cut where a reader expects a break (see the module)."""
    if limit < 2:
        raise ValueError("limit must be at least 2")
    text = text.strip()
    if utf16_length(text) <= limit:
        return [text] if text else []
    units = [0, *accumulate(2 if ord(c) > 0xFFFF else 1 for c in text)]
    inside_url = _url_interiors(text)
    boundaries = [m.end() for m in _GRAPHEME.finditer(text) if m.end() not in inside_url]
    pieces: list[str] = []
    start = 0
    while units[-1] - units[start] > limit:
        cut = _best_cut(text, units, boundaries, start, limit)
        piece = text[start:cut].strip()
        if piece:
            pieces.append(piece)
        start = cut
        while start < len(text) and text[start].isspace():
            start += 1
    if rest := text[start:].strip():
        pieces.append(rest)
    return pieces


def _best_cut(text: str, units: list[int], boundaries: list[int], start: int, limit: int) -> int:
    """The end of the next piece: the best kind of break within reach, preferring one in its second half."""
    reach = [b for b in boundaries if start < b and units[b] - units[start] <= limit]
    if not reach:  # one grapheme (or one URL) longer than the limit: cut it at a code point, as a last resort
        return _code_point_cut(text, units, start, limit)
    half = units[start] + limit / 2
    best = max(reach, key=lambda b: (_kind(text, b) if units[b] >= half else -1, b))
    return best


def _kind(text: str, cut: int) -> int:
    """How good a break lies before ``cut``: 4 paragraph, 3 line, 2 sentence end, 1 space, 0 anywhere."""
    before = text[cut - 1]
    if before == "\n":
        return 4 if text[:cut].rstrip(" \t").endswith("\n\n") else 3
    if before in _SENTENCE_END:
        return 2
    if before.isspace():
        return 2 if text[:cut].rstrip()[-1:] in _SENTENCE_END else 1
    return 0


def _code_point_cut(text: str, units: list[int], start: int, limit: int) -> int:
    cut = start + 1
    while cut < len(text) and units[cut + 1] - units[start] <= limit:
        cut += 1
    return cut


def _url_interiors(text: str) -> set[int]:
    """Positions strictly inside a URL (a cut there would break the link)."""
    return {i for m in _URL.finditer(text) for i in range(m.start() + 1, m.end())}
