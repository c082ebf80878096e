"""Structure-aware chunking that works for scripts with and without spaces.

A chunk never crosses a heading: each section (the blocks under one heading
path) is packed into chunks of at most ``max_tokens`` estimated model tokens,
block by block (paragraphs, list items, table rows). A block larger than the
budget is cut at sentence ends (``polydesk.sentences``, and any space between
Thai or Lao words: a piece only has to fit), a sentence larger than the budget
at a character count; the pieces keep the block's own whitespace. Table rows
are packed under their header row, repeated in every chunk. The nearest heading
leads each chunk's text, because a passage without its heading loses its subject.

Sizes are estimated tokens: a character of an unspaced script counts as one
token (Thai as 0.4, being written with several characters per syllable), the
words of spaced scripts as a quarter of their letters (at least one a word). That tracks the XLM-R
tokenizer of multilingual-e5 closely enough to stay under its 512 tokens.

Example:
    >>> chunker = Chunker(max_tokens=64, overlap_tokens=8)
    >>> drafts = chunker.chunk([Block(kind="text", text="Free shipping from 50 €.", heading_path=("Versand",))])
    >>> drafts[0].text
    'Versand\\nFree shipping from 50 €.'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import regex

from ingestion.parsing import Block
from polydesk.injection import instruction_reason, instruction_spans, strip_instructions
from polydesk.sentences import sentence_spans

_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Khmer}\p{Myanmar}]")
_THAI = regex.compile(r"[\p{Thai}\p{Lao}]")
_UNSPACED = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Khmer}\p{Myanmar}\p{Thai}\p{Lao}]")
_LETTER = regex.compile(r"\p{L}")


def estimate_tokens(text: str) -> float:
    """Estimated model tokens: unspaced characters one each (Thai 0.4), spaced words ``max(words, letters/4)``."""
    if _UNSPACED.search(text) is None:  # the common case, kept cheap: no per-character work in Python
        words = text.split()
        return max(float(len(words)), sum(map(len, words)) / 4)
    cjk = len(_CJK.findall(text))
    thai = len(_THAI.findall(text))
    spaced = _UNSPACED.sub(" ", text).split()
    return cjk + 0.4 * thai + max(float(len(spaced)), sum(map(len, spaced)) / 4)


@dataclass(frozen=True, slots=True)
class ChunkDraft:
    """A chunk's text before it gets an identity in the index.

    Table-like sources (FAQ rows, conversation turns) set their own market,
    language and kind-specific fields; ``None`` means "the document's".
    """

    text: str
    section: str = ""
    page: int | None = None
    market: str | None = None
    language: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    flag: str | None = None  # set: indexed but kept out of generation, for this reason (``Chunk.flag``)


class _Piece(NamedTuple):
    text: str
    page: int | None
    cost: float


class Chunker:
    def __init__(self, *, max_tokens: int = 256, overlap_tokens: int = 32) -> None:
        if overlap_tokens >= max_tokens:
            raise ValueError("overlap_tokens must be smaller than max_tokens")
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens

    def chunk(self, blocks: Sequence[Block]) -> list[ChunkDraft]:
        drafts: list[ChunkDraft] = []
        for section_blocks in _sections(blocks):
            drafts.extend(self._chunk_section(section_blocks))
        return self._merge_small(drafts)

    def _merge_small(self, drafts: list[ChunkDraft]) -> list[ChunkDraft]:
        """Join a run of short sections (a PDF's one-line headings, FAQ-like lists) into one chunk that fits.

        A chunk of a few words is a poor search result and a poor citation; its neighbours give it context.
        """
        small = self.max_tokens / 4
        merged: list[ChunkDraft] = []
        merged_cost = 0.0  # estimated tokens of merged[-1]
        for draft in drafts:
            cost = estimate_tokens(draft.text)
            if merged and merged_cost < small and merged_cost + cost <= self.max_tokens:
                previous = merged[-1]
                merged[-1] = ChunkDraft(text=f"{previous.text}\n{draft.text}", section=previous.section,
                                        page=previous.page)
                merged_cost += cost
            else:
                merged.append(draft)
                merged_cost = cost
        return merged

    def _chunk_section(self, blocks: list[Block]) -> Iterable[ChunkDraft]:
        body = [b for b in blocks if b.kind != "title"]
        if not body:
            return
        path = body[0].heading_path
        heading = path[-1] if path else ""
        section = " > ".join(path)
        budget = self.max_tokens - estimate_tokens(heading)
        pieces: list[_Piece] = []  # of the chunk being packed
        used = 0.0
        table_header = ""
        for block in body:
            if block.kind == "table_row" and block.table_header != table_header:
                if pieces:
                    yield self._draft(heading, table_header, pieces, section)
                    pieces, used = [], 0.0
                table_header = block.table_header
            header_cost = estimate_tokens(table_header) if block.kind == "table_row" else 0.0
            for text, cost in self._fit(block.text, budget - header_cost):
                if pieces and used + cost > budget - header_cost:
                    yield self._draft(heading, table_header, pieces, section)
                    pieces = self._overlap(pieces) if block.kind != "table_row" else []
                    used = sum(p.cost for p in pieces)
                pieces.append(_Piece(text, block.page, cost))
                used += cost
            if block.kind != "table_row":
                table_header = ""
        if pieces:
            yield self._draft(heading, table_header, pieces, section)

    def _overlap(self, pieces: list[_Piece]) -> list[_Piece]:
        last = pieces[-1]
        return [last] if self.overlap_tokens and last.cost <= self.overlap_tokens else []

    def _fit(self, text: str, budget: float) -> list[tuple[str, float]]:
        """The block as (piece, estimated tokens) that each fit the budget: whole, else sentences, else cuts."""
        whole = estimate_tokens(text)
        if whole <= budget:
            return [(text, whole)]
        pieces: list[tuple[int, int]] = []  # spans of ``text``, so the block's own whitespace stays
        for sentence in sentence_spans(text, thai_phrases=True):
            for start, end in _hard_split(text, sentence.start, sentence.end, budget):
                if pieces and estimate_tokens(text[pieces[-1][0] : end]) <= budget:
                    pieces[-1] = (pieces[-1][0], end)
                else:
                    pieces.append((start, end))
        return [(text[start:end], estimate_tokens(text[start:end])) for start, end in pieces]

    @staticmethod
    def _draft(heading: str, table_header: str, pieces: list[_Piece], section: str) -> ChunkDraft:
        lines = [heading] if heading else []
        if table_header:
            lines.append(table_header)
        lines.extend(p.text for p in pieces)
        return ChunkDraft(text="\n".join(lines), section=section, page=pieces[0].page)


def _sections(blocks: Sequence[Block]) -> Iterable[list[Block]]:
    """Runs of blocks under one heading path; a title opens a new run."""
    current: list[Block] = []
    path: tuple[str, ...] | None = None
    has_body = False
    for block in blocks:
        if block.kind == "title" or (has_body and block.heading_path != path):
            if current:
                yield current
            current, has_body = [], False
        if block.kind != "title":
            path, has_body = block.heading_path, True
        current.append(block)
    if current:
        yield current


def _hard_split(text: str, start: int, end: int, budget: float) -> list[tuple[int, int]]:
    """``text[start:end]`` (one sentence) as spans that each fit ``budget``, cut at a space where there is one."""
    if estimate_tokens(text[start:end]) <= budget:
        return [(start, end)]
    # Cut by characters: keep each part's estimate under budget (an unspaced char ≈ 1 token, a spaced one ≈ 1/4).
    step = max(16, int(budget))
    if not _CJK.search(text, start, end) and not _THAI.search(text, start, end):
        step = max(16, int(budget * 4))
    parts: list[tuple[int, int]] = []
    while start < end:
        cut = min(end, start + step)
        # Prefer a cut at a space so a spaced-script word is not split in two.
        space = text.rfind(" ", start + step // 2, cut)
        if cut < end and space > start:
            cut = space
        parts.append(_strip(text, start, cut))
        start = cut
    return [(a, b) for a, b in parts if a < b]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def separate_instructions(drafts: Sequence[ChunkDraft]) -> list[ChunkDraft]:
    """The drafts with text that reads as instructions to an assistant (``polydesk.injection``) flagged.

    A document chunk keeps its knowledge: the instruction lines go into a flagged chunk of their own, right after
    it, and the rest stays an ordinary chunk (a chunk left with only its heading is flagged whole). A table row (a
    FAQ answer, a conversation turn, quoted whole) is flagged whole. Flagged chunks stay in the index, where the
    content editor sees them with the reason, and out of answers.
    """
    separated: list[ChunkDraft] = []
    for draft in drafts:
        if draft.flag is not None:
            separated.append(draft)
        elif draft.extra:
            reason = next(filter(None, map(instruction_reason, (draft.text, *draft.extra.values()))), None)
            separated.append(replace(draft, flag=reason) if reason else draft)
        elif findings := instruction_spans(draft.text):
            reason = findings[0].reason
            heading = draft.section.rsplit(">", 1)[-1].strip()
            lines = [line.rstrip() for line in strip_instructions(draft.text, findings).splitlines() if line.strip()]
            if not any(line.strip() != heading and _LETTER.search(line) for line in lines):
                separated.append(replace(draft, flag=reason))
                continue
            flagged = "\n".join(draft.text[f.start:f.end] for f in findings)
            separated.append(replace(draft, text="\n".join(lines)))
            separated.append(replace(draft, text=flagged, flag=reason))
        else:
            separated.append(draft)
    return separated
