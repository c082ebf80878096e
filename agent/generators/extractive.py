"""The extractive generator: answers with the brand's own sentences, never with new ones.

With nothing good enough retrieved it says plainly that it does not know (and offers a
colleague). Otherwise it quotes from the best source:

* a FAQ row or a past conversation: its answer, whole;
* a document or policy chunk: the sentences that best match the question. Sentences
  are lines, bullets, table rows and the sentences of ``polydesk.sentences`` within them;
  they are scored by the question's terms they contain, each term weighted by how rare
  it is among the retrieved sentences (so "the", "die" or "ของ" count for little), with
  the script-aware tokens of the lexical index (character bigrams for Thai, Japanese and
  Chinese). When no term matches, the question is in another language than the source:
  sentences are then scored by embedding similarity to the question.

A persona that addresses customers formally (``agent.register``) does not quote another
customer's past conversation in the informal register ("du", "tu", "tú"): such a quote gives way
to the next evidence whose similarity is within ``register_margin`` of it and whose quote is in
the persona's register. The brand's own content (FAQ, policy, document) is quoted as written,
even when it is informal (the guardrails flag it): on the demo brand, whose help pages say "du"
and "tú", trading them for a formal neighbour cost more correct answers than it saved.

Knowledge is data, never instructions: a sentence that reads as an instruction to an assistant
(``polydesk.injection``, the detector ingestion flags chunks with) is never quoted, even from a chunk
indexed before it was flagged, nor what follows it on its line; evidence left with nothing to quote
gives way to the next.

When the quoted source is in another language than the reply, a short lead-in in the
reply language says so ("ข้อมูลนี้มีเป็นภาษาอังกฤษ:") and ``Draft.content_language``
declares it, so guardrails accept the quote.

Example:
    >>> draft = ExtractiveGenerator().generate(request)            # doctest: +SKIP
    >>> draft.body, draft.cited
    ('Du hast 30 Tage ab Erhalt Zeit. ...', [1])
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import regex

from agent.generators.base import GenerationRequest
from agent.phrases import language_name, say
from agent.register import informal_forms, needs_formal_register
from agent.schema import Draft, Evidence
from knowledge.embedder import Embedder
from knowledge.sparse import SparseEncoder
from polydesk.injection import strip_instructions
from polydesk.language import language_family
from polydesk.sentences import split_sentences

# Markup, and the number of a numbered step or heading ("2. Wähle", "1. Specifications"): not part of a quote.
_MARKUP = regex.compile(r"\*\*|__|`|^#{1,6}\s*|^>\s*|^[ \t]*\d{1,2}\.[ \t]+(?=\p{Lu}|\p{Lo}|[¿¡\"“«(])",
                        regex.MULTILINE)
_LETTER = regex.compile(r"\p{L}")
_TABLE_RULE = regex.compile(r"^[\s|:\-–—]+$")
_MIN_LETTERS = 3
# A second or third sentence joins the best one when it scores at least this share of it.
_COMPANION_SHARE = 0.5
_CONTEXT_WEIGHT = 0.25
# Short lines without sentence marks, digits or a label ("■ 返品送料", "Versand") name a topic, not an answer.
_HEADING_WEIGHT = 0.3
_HEADING_MAX_CHARS = 24
_LEAD_IN_ENDS = (":", "：")
_DIGIT = regex.compile(r"\d")
# Questions whose answer is a number: a duration, an amount, a count, a time of day.
_QUANTITY_QUESTION = regex.compile(
    r"\b(?:how (?:long|much|many|soon)|when will|what time|wie (?:lange|viel|viele|teuer|schnell)|bis wann|"
    r"ab wann|combien|quel délai|en combien|quand|cu[aá]nt[oa]s?|qu[eé] tan|a partir de qu[eé]|quant[oa]s?|"
    r"em quanto|berapa|kapan|bao (?:lâu|nhiêu)|mấy|khi nào|lúc mấy)\b"
    r"|กี่|เท่าไ[หร]|เมื่อไ[หร]|何日|何時|いくら|何円|いつ|どのくらい|どれくらい|多久|多少|几|什么时候|"
    r"كم|متى",
    regex.IGNORECASE)
_MAX_LIST_LINES = 8
_MAX_UNITS_EMBEDDED = 24
_UNIT_CACHE_SIZE = 2048  # chunks whose sentence vectors are kept: popular answers are asked again and again
# A source in the persona's register may stand in for a better-ranked informal past chat this close in similarity
# (multilingual-e5-small, German returns question: a past chat asking the same 0.93, the formal policy and FAQ
# 0.90-0.91, the shipping section of the same policy 0.82).
_REGISTER_MARGIN = 0.05


def _asks_for_a_quantity(message: str) -> bool:
    return bool(_QUANTITY_QUESTION.search(message))


def _looks_like_heading(unit: str) -> bool:
    return len(unit) <= _HEADING_MAX_CHARS and not regex.search(r"[\d:|.!?。！？؟]", unit)


def sentences(text: str) -> list[str]:
    """The quotable units of a chunk: lines, then sentences within a line; markup, rules and instructions to an
    assistant (``polydesk.injection``) removed.

    A line that introduces a list ("We accept:", "Zahlungsarten:", "お支払い方法：") stays one unit with the
    list lines that follow it, so the answer is quoted with its list, not as a dangling lead-in.
    """
    return list(_units(text))


@functools.lru_cache(maxsize=_UNIT_CACHE_SIZE)  # popular chunks are quoted again and again: detect once
def _units(text: str) -> tuple[str, ...]:
    units: list[str] = []
    listing = False  # the last unit is a lead-in collecting its list
    for line in _MARKUP.sub("", strip_instructions(text)).splitlines():
        line = line.strip()
        if not line or _TABLE_RULE.match(line):
            listing = False
            continue
        if listing and units[-1].count("\n") < _MAX_LIST_LINES and not _looks_like_heading(line):
            units[-1] += "\n" + line
            listing = not line.endswith(_LEAD_IN_ENDS)
            continue
        for part in split_sentences(line):
            if len(_LETTER.findall(part)) >= _MIN_LETTERS:
                units.append(part)
        listing = bool(units) and units[-1].endswith(_LEAD_IN_ENDS)
    return tuple(units)


class ExtractiveGenerator:
    name = "extractive"

    def __init__(self, *, embedder: Embedder | None = None, tokenizer: SparseEncoder | None = None,
                 max_sentences: int = 3, register_margin: float = _REGISTER_MARGIN) -> None:
        self.embedder = embedder
        self.tokenizer = tokenizer or SparseEncoder()
        self.max_sentences = max_sentences
        self.register_margin = register_margin
        # Per chunk (its point id names one version of its text), the vectors of its units.
        self._unit_vectors = functools.lru_cache(maxsize=_UNIT_CACHE_SIZE)(self._embed_units)
        # Per sentence of the evidence: its token count and its terms (tokenized once, not in every answer).
        self._terms = functools.lru_cache(maxsize=8 * _UNIT_CACHE_SIZE)(self._count_terms)

    def _count_terms(self, text: str) -> tuple[int, frozenset[str]]:
        tokens = self.tokenizer.tokens(text)
        return len(tokens), frozenset(tokens)

    def _embed_units(self, point_id: str, units: tuple[str, ...]) -> np.ndarray:
        assert self.embedder is not None
        return self.embedder.embed_queries(list(units))

    def generate(self, request: GenerationRequest) -> Draft:
        chosen = self._quote_in_register(request) if request.answerable else None
        if chosen is None:
            return Draft(body=say("dont_know", request.language), generator=self.name, grounded=False)
        top, quote = chosen
        body, content_language = quote, None
        if top.chunk.language != "mul" and language_family(top.chunk.language) != language_family(request.language):
            content_language = top.chunk.language
            lead_in = say("source_language", request.language,
                          source=language_name(language_family(content_language), request.language))
            body = f"{lead_in}\n\n{quote}"
        return Draft(body=body, generator=self.name, cited=[top.number], grounded=True,
                     content_language=content_language)

    def _quote(self, request: GenerationRequest, evidence: Evidence) -> str:
        """What to quote from ``evidence``: a FAQ's or past conversation's answer, else its best sentences;
        never an instruction to an assistant ("" when nothing else is left)."""
        if evidence.chunk.kind in ("faq", "conversation") and evidence.chunk.extra.get("answer"):
            return strip_instructions(evidence.chunk.extra["answer"]).strip()
        return self._best_sentences(request, evidence)

    def _quote_in_register(self, request: GenerationRequest) -> tuple[Evidence, str] | None:
        """The best evidence with something to quote, and its quote (None when none has); for a formal persona
        whose best is an informal past chat, the first nearly as good evidence quoted formally."""
        quotes = ((evidence, self._quote(request, evidence)) for evidence in request.evidence)
        top, quote = next(((evidence, text) for evidence, text in quotes if text), (None, ""))
        if top is None:
            return None
        if top.chunk.kind != "conversation" or not needs_formal_register(request.persona, request.market,
                                                                         request.language):
            return top, quote

        def informal(evidence: Evidence, text: str) -> bool:
            language = evidence.chunk.language if evidence.chunk.language != "mul" else request.language
            return bool(informal_forms(text, language))

        if not informal(top, quote):
            return top, quote
        for other in request.evidence[request.evidence.index(top) + 1:]:
            if other.similarity >= top.similarity - self.register_margin:
                other_quote = self._quote(request, other)
                if other_quote and not informal(other, other_quote):
                    return other, other_quote
        return top, quote  # nothing as good says it formally: the guardrails flag the register

    def _best_sentences(self, request: GenerationRequest, top: Evidence) -> str:
        headings = {part.strip().casefold() for part in (*top.chunk.section.split(">"), top.chunk.title)}
        units = [u for u in sentences(top.chunk.text) if u.casefold() not in headings]
        if not units:
            return strip_instructions(top.chunk.text).strip()
        if _asks_for_a_quantity(request.message):
            # "How long / how much / กี่วัน / 何日": the answer is a sentence with a number in it, when there is one.
            numeric = [u for u in units if _DIGIT.search(u)]
            units = numeric or units
        scores = self._lexical_scores(request, units)
        if max(scores) <= 0.0:
            scores = self._semantic_scores(request, top.chunk.point_id, units)
        best = int(np.argmax(scores))
        chosen = {best}
        budget = int(request.persona.max_reply_chars * 0.7) - len(units[best])
        for i in sorted(range(len(units)), key=lambda i: -scores[i]):
            if len(chosen) >= self.max_sentences or scores[i] < scores[best] * _COMPANION_SHARE:
                break
            if i not in chosen and len(units[i]) <= budget:
                chosen.add(i)
                budget -= len(units[i])
        return "\n".join(units[i] for i in sorted(chosen))

    def _lexical_scores(self, request: GenerationRequest, units: Sequence[str]) -> list[float]:
        """Question terms in each sentence, weighted by rarity among the retrieved sentences.

        Terms of the message itself count fully; terms only in the conversation's context (a follow-up's
        previous question) count a quarter, so "and the colours?" picks the colour line, not the product name.
        """
        own = set(self.tokenizer.tokens(request.message))
        context = set(self.tokenizer.tokens(request.query)) - own
        query_terms = own | context
        pool = [self._terms(u)[1] for e in request.evidence for u in sentences(e.chunk.text)]
        df = Counter(term for terms in pool for term in terms & query_terms)
        n = len(pool) or 1
        weight = {term: math.log(1 + n / count) * (1.0 if term in own else _CONTEXT_WEIGHT)
                  for term, count in df.items()}
        scores = []
        for unit in units:
            count, terms = self._terms(unit)
            matched = query_terms & terms
            score = sum(weight.get(t, 0.0) for t in matched) / max(1.0, count) ** 0.3
            scores.append(score * (_HEADING_WEIGHT if _looks_like_heading(unit) else 1.0))
        return scores

    def _semantic_scores(self, request: GenerationRequest, point_id: str, units: Sequence[str]) -> list[float]:
        """Cross-lingual fallback: embedding similarity to the question (the chunk's order without a model)."""
        if self.embedder is None or not request.query_vector:
            return [1.0 / (1 + i) for i in range(len(units))]
        vectors = self._unit_vectors(point_id, tuple(units[:_MAX_UNITS_EMBEDDED]))
        similarity = vectors @ np.asarray(request.query_vector, dtype=np.float32)
        return [float(s) for s in similarity] + [0.0] * (len(units) - len(vectors))
