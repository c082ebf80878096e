"""The extractive generator: answers with the brand's own sentences, never with new ones.

With nothing good enough retrieved it says plainly that it does not know (and offers a
colleague). Otherwise it quotes from the best source:

* a FAQ row or a past conversation: its answer, whole;
* a document or policy chunk: the sentences that best match the question. Sentences
  are lines, bullets, table rows and the parts between sentence marks (``.!?。！？؟``);
  they are scored by the question's terms they contain, each term weighted by how rare
  it is among the retrieved sentences (so "the", "die" or "ของ" count for little), with
  the script-aware tokens of the lexical index (character bigrams for Thai, Japanese and
  Chinese). When no term matches, the question is in another language than the source:
  sentences are then scored by embedding similarity to the question.

When the quoted source is in another language than the reply, a short lead-in in the
reply language says so ("ข้อมูลนี้มีเป็นภาษาอังกฤษ:") and ``Draft.content_language``
declares it, so guardrails accept the quote.

Example:
    >>> draft = ExtractiveGenerator().generate(request)            # doctest: +SKIP
    >>> draft.body, draft.cited
    ('Du hast 30 Tage ab Erhalt Zeit. ...', [1])
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import regex

from agent.generation import GenerationRequest
from agent.phrases import language_name, say
from agent.schema import Draft, Evidence
from knowledge.embedder import Embedder
from knowledge.sparse import SparseEncoder
from polydesk.language import language_family

_SENTENCE_END = regex.compile(r"(?<=[.!?;])\s+(?=\p{Lu}|\p{Lo}|[¿¡\"“«(])|(?<=[。！？؟])")
_MARKUP = regex.compile(r"\*\*|__|`|^#{1,6}\s*|^>\s*", regex.MULTILINE)
_LETTER = regex.compile(r"\p{L}")
_TABLE_RULE = regex.compile(r"^[\s|:\-–—]+$")
_MIN_LETTERS = 3
# A second or third sentence joins the best one when it scores at least this share of it.
_COMPANION_SHARE = 0.5
_CONTEXT_WEIGHT = 0.25
# Short lines without sentence marks, digits or a label ("■ 返品送料", "Versand") name a topic, not an answer.
_HEADING_WEIGHT = 0.3
_HEADING_MAX_CHARS = 24


def _looks_like_heading(unit: str) -> bool:
    return len(unit) <= _HEADING_MAX_CHARS and not regex.search(r"[\d:|.!?。！？؟]", unit)


def sentences(text: str) -> list[str]:
    """The quotable units of a chunk: lines, then sentences within a line; markup and rules removed."""
    units: list[str] = []
    for line in _MARKUP.sub("", text).splitlines():
        line = line.strip()
        if not line or _TABLE_RULE.match(line):
            continue
        for part in _SENTENCE_END.split(line):
            part = part.strip()
            if len(_LETTER.findall(part)) >= _MIN_LETTERS:
                units.append(part)
    return units


class ExtractiveGenerator:
    name = "extractive"

    def __init__(self, *, embedder: Embedder | None = None, tokenizer: SparseEncoder | None = None,
                 max_sentences: int = 3) -> None:
        self.embedder = embedder
        self.tokenizer = tokenizer or SparseEncoder()
        self.max_sentences = max_sentences

    def generate(self, request: GenerationRequest) -> Draft:
        if not request.answerable:
            return Draft(body=say("dont_know", request.language), generator=self.name, grounded=False)
        top = request.evidence[0]
        if top.chunk.kind in ("faq", "conversation") and top.chunk.extra.get("answer"):
            quote = top.chunk.extra["answer"].strip()
        else:
            quote = self._best_sentences(request, top)
        body, content_language = quote, None
        if top.chunk.language != "mul" and language_family(top.chunk.language) != language_family(request.language):
            content_language = top.chunk.language
            lead_in = say("source_language", request.language,
                          source=language_name(language_family(content_language), request.language))
            body = f"{lead_in}\n\n{quote}"
        return Draft(body=body, generator=self.name, cited=[top.number], grounded=True,
                     content_language=content_language)

    def _best_sentences(self, request: GenerationRequest, top: Evidence) -> str:
        headings = {part.strip().casefold() for part in (*top.chunk.section.split(">"), top.chunk.title)}
        units = [u for u in sentences(top.chunk.text) if u.casefold() not in headings]
        if not units:
            return top.chunk.text.strip()
        scores = self._lexical_scores(request, units)
        if max(scores) <= 0.0:
            scores = self._semantic_scores(request, units)
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
        pool = [set(self.tokenizer.tokens(u)) for e in request.evidence for u in sentences(e.chunk.text)]
        df = Counter(term for terms in pool for term in terms & query_terms)
        n = len(pool) or 1
        weight = {term: math.log(1 + n / count) * (1.0 if term in own else _CONTEXT_WEIGHT)
                  for term, count in df.items()}
        scores = []
        for unit in units:
            terms = self.tokenizer.tokens(unit)
            matched = query_terms.intersection(terms)
            score = sum(weight.get(t, 0.0) for t in matched) / max(1.0, len(terms)) ** 0.3
            scores.append(score * (_HEADING_WEIGHT if _looks_like_heading(unit) else 1.0))
        return scores

    def _semantic_scores(self, request: GenerationRequest, units: Sequence[str]) -> list[float]:
        """Cross-lingual fallback: embedding similarity to the question (the chunk's order without a model)."""
        if self.embedder is None or not request.query_vector:
            return [1.0 / (1 + i) for i in range(len(units))]
        vectors = self.embedder.embed_queries(list(units[:16]))
        similarity = vectors @ np.asarray(request.query_vector, dtype=np.float32)
        return [float(s) for s in similarity] + [0.0] * (len(units) - len(vectors))
