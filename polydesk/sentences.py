"""Find the sentences of a text in any script the product serves; no spaces between words assumed.

A sentence ends:

* at ``.`` ``!`` ``?`` ``…`` (or a run of them, "...", "?!") before whitespace or the end of the text,
  so 4.95, 1.234,56 €, www.example.com, service@tidewell.de and z.B stay whole; a "." is no end after
  a single letter ("z. B.", "M."), initials ("e.g.", "d.h."), a one- or two-digit ordinal ("am 3. Oktober"),
  a listed abbreviation ("Nr. 5", "Dra. Silva") or "No." before a number, nor before a
  lowercase word ("etc. and", "usw. sowie"); "!" and "?" also end one right before Chinese or Japanese;
* at the full stops and question marks of unspaced and Arabic-script languages, spaces or not:
  ``。！？｡`` (Chinese, Japanese), ``؟`` and ``۔`` (Arabic, Urdu), ``।`` (Devanagari);
* at a line break;
* in Thai and Lao, which have no sentence punctuation, at two or more spaces after a letter.
  A single space between Thai words separates phrases; ``thai_phrases=True`` ends a unit there too.

Closing quotes and brackets after the end mark stay with the sentence (``「ありがとう。」``,
``„Danke.“``, ``« Merci. »``); Spanish ``¿`` and ``¡`` open the next one.

Where the callers must differ, and how each asks for it:

* guardrails (``agent.guardrails``) remove whole sentences and cut long replies at a sentence end:
  ``sentence_spans``, whose ``stop`` keeps the whitespace after each sentence for rejoining the rest;
* the extractive generator quotes units of a chunk: ``split_sentences`` within each line (it drops
  markup, table rules and units of under three letters itself);
* the chunker cuts a block that exceeds its token budget: ``sentence_spans(thai_phrases=True)``, any
  boundary will do, and it slices the block by offsets so the block's own whitespace survives;
* the stream (``api.answering.pieces``) sends sentence-sized pieces that join back to exactly the reply:
  it slices at each span's ``stop``, so no character is lost or moved;
* the LLM generator trims an answer cut off by the token limit: ``trim_to_last_sentence``, where only
  a mark (or a Thai sentence space) ends a sentence; a line break or the end of a cut-off text does not.

Example:
    >>> split_sentences("Die Lieferung folgt z. B. am 3. Oktober. Danke!送料は無料です。「よろしく。」")
    ['Die Lieferung folgt z. B. am 3. Oktober.', 'Danke!', '送料は無料です。', '「よろしく。」']
    >>> trim_to_last_sentence("You have 30 days. Refunds are sent to the")
    'You have 30 days.'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Sentence", "sentence_spans", "split_sentences", "trim_to_last_sentence"]

# A "." after these (any case) abbreviates: titles, "number", "street", "approximately", "including"…
# List-closing ones (etc., usw., dll.) are not here: they usually end a sentence unless lowercase follows.
_ABBREVIATIONS = frozenset(
    {"abs", "approx", "aprox", "av", "avda", "bspw", "bzw", "ca", "dept", "dr", "dra", "evtl", "fr", "ggf", "hr",
     "inkl", "jl", "jr", "kap", "max", "máx", "mind", "mín", "mr", "mrs", "ms", "nr", "núm", "pág", "prof", "sr", "sra",
     "srta", "st", "str", "tel", "tgl", "tp", "ud", "uds", "vgl", "vs", "ziff", "zzgl"}
)  # fmt: skip
# Abbreviations before a number ("No. 5", "Art. 3", "min. 20 °C"), words elsewhere ("The answer is no.").
_BEFORE_NUMBERS = frozenset({"art", "min", "no", "nos"})

_CLOSERS = "\"'”’“‘»«›‹)\\]」』）】〕》〉"
_CLOSING = rf"[{_CLOSERS}]*(?:[ \u00a0\u202f][»›](?=\s|\Z))?"  # French « Merci. » puts a space before »
_THAI = "\u0e01-\u0e3a\u0e40-\u0e5b\u0e81-\u0edf"  # Thai and Lao letters, marks and digits (not ฿)
_HAN_KANA = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SENTENCE_BOUNDARY = (
    rf"(?P<mark>[.!?…]+{_CLOSING})(?=\s|\Z)"
    rf"|(?P<mark_before_cjk>[!?]+[{_CLOSERS}]*)(?=[{_HAN_KANA}])"
    rf"|(?P<full>[。！？｡؟۔।॥]+[{_CLOSERS}]*)"
    r"|(?P<line>\n)"
    rf"|(?P<thai>(?<=[{_THAI}]) {{2,}})"
)
_BOUNDARY = re.compile(_SENTENCE_BOUNDARY)
_BOUNDARY_OR_THAI_PHRASE = re.compile(rf"{_SENTENCE_BOUNDARY}|(?P<phrase>(?<=[{_THAI}])\s+(?=[{_THAI}]))")
_CLOSED = frozenset({"mark", "mark_before_cjk", "full", "thai"})
_SPACE = re.compile(r"\s*")
_TOKEN_BEFORE = re.compile(r"[^\s(\[\"'“‘«„¿¡]+\Z")
_INITIALS = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # e.g, z.B, d.h (the final "." is the one being judged)


@dataclass(frozen=True, slots=True)
class Sentence:
    """Where one sentence lies in its text: ``text[start:end]`` is the sentence, ``text[end:stop]`` the space after."""

    start: int
    end: int  # after its end mark and closing quotes, or its last non-space character
    stop: int  # after the whitespace that follows: the next sentence's start
    closed: bool  # ended by a mark or a Thai sentence space, not by a line break, a Thai phrase or the text's end


def sentence_spans(text: str, *, thai_phrases: bool = False) -> list[Sentence]:
    """The sentences of ``text`` in order, without the whitespace around them (see the module docstring)."""
    pattern = _BOUNDARY_OR_THAI_PHRASE if thai_phrases else _BOUNDARY
    spans: list[Sentence] = []
    start = _after_space(text, 0)
    for match in pattern.finditer(text, start):
        kind = match.lastgroup or ""
        if match.start() < start or (kind == "mark" and not _is_full_stop(text, match.start(), match.end())):
            continue
        end = match.end() if kind in ("mark", "mark_before_cjk", "full") else _before_space(text, match.start())
        stop = _after_space(text, end)
        if end > start:
            spans.append(Sentence(start, end, stop, kind in _CLOSED))
        start = stop
    if start < len(text):
        spans.append(Sentence(start, _before_space(text, len(text)), len(text), closed=False))
    return spans


def split_sentences(text: str, *, thai_phrases: bool = False) -> list[str]:
    """The sentences of ``text`` as strings, stripped."""
    return [text[span.start : span.end] for span in sentence_spans(text, thai_phrases=thai_phrases)]


def trim_to_last_sentence(text: str) -> str:
    """``text`` up to the end of its last closed sentence (unchanged when none is closed): a cut-off tail dropped."""
    ends = [span.end for span in sentence_spans(text) if span.closed]
    return text[: ends[-1]] if ends else text


def _after_space(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


def _before_space(text: str, pos: int) -> int:
    while pos > 0 and text[pos - 1].isspace():
        pos -= 1
    return pos


def _is_full_stop(text: str, start: int, end: int) -> bool:
    """Whether the mark run at ``start`` ends a sentence: always unless it is a lone "." after an abbreviation."""
    if text[start] != "." or text.startswith("..", start):
        return True
    token = _TOKEN_BEFORE.search(text, max(0, start - 24), start)
    word = token.group().lower() if token else ""
    if (len(word) == 1 and word.isalpha()) or word in _ABBREVIATIONS or _INITIALS.fullmatch(word):
        return False
    if word.isdigit() and len(word) <= 2:  # "am 3. Oktober", "1. Schritt"
        return False
    following = text[(after := _after_space(text, end)) : after + 1]
    return not (following.islower() or (word in _BEFORE_NUMBERS and following.isdigit()))
