"""Retrieval for an answer: follow-up rewrite, market and language preference, confidence.

1. **Follow-ups.** A short or connective message in a running conversation ("and the
   colours?", "und nach Österreich?", "แล้วค่าส่งล่ะ", "それはいつ届きますか") is searched
   together with the customer's previous question, so the conversation's topic carries over
   (its query vector can be ``follow_up_vector``: the previous query's embedding blended with
   the message's, so no second text is embedded).
2. **Search.** One query embedding feeds the searches of the knowledge index, all
   filtered by tenant and by the customer's market plus the market-independent ``*``
   knowledge: hybrid (dense + lexical), whose hits come back with their cosine similarity
   to the query (it measures how well each chunk answers); dense alone, so the embedding's
   own best are always candidates (lexical noise across languages or scripts can crowd
   them out of the fused list); and, when no top hit is in the reply language, dense
   restricted to that language (so knowledge in the customer's language is found even when
   another language ranks first).
3. **Ranking.** A chunk naming an identifier the customer typed (an order number, a product
   code) comes first; then candidates are ordered by similarity, with small bonuses for the
   customer's language, for the market's own knowledge over ``*`` and for curated answers
   (FAQ, policy), and a larger penalty for past conversations (other customers' chats:
   short, chatty turns resemble every question a little); ties follow the hybrid rank. The
   lexical signal thus adds candidates and exact identifiers but never demotes a strong
   dense hit. A flagged chunk (``Chunk.flag``: text that reads as instructions to an assistant,
   or a past answer about one customer's case) is never evidence: the index's searches leave
   flagged chunks out in the store's filter, and ranking drops any that still come back.
4. **Confidence** is the similarity of the best-ranked chunk (the one an answer quotes first)
   calibrated for the language relation of question and chunk (``agent.confidence``): the same
   number means the same in every language pair.

Example:
    >>> retriever = Retriever(index)                                             # doctest: +SKIP
    >>> result = retriever.run("Wie lange habe ich Zeit für eine Rückgabe?", tenant="tidewell",
    ...                        market="DE", language="de")
    >>> result.evidence[0].chunk.market, result.confidence > 0.5
    ('DE', True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import regex

from agent.confidence import Calibration
from agent.schema import Citation, Evidence, Retrieval, Turn
from knowledge.index import KnowledgeIndex
from knowledge.schema import ANY_MARKET, ScoredChunk
from polydesk.language import language_family
from polydesk.terms import UNSPACED

# Words that open a follow-up, per language (lower case; matched at the start of the message).
_FOLLOW_UP_OPENERS = (
    "and ", "and?", "what about", "how about", "also ", "but ", "so ", "then ",
    "und ", "und?", "was ist mit", "wie ist es mit", "auch ",
    "et ", "et pour", "et si", "y ", "y para", "y si", "¿y ", "e ", "e para", "e se",
    "dan ", "lalu ", "kalau ", "terus ", "bagaimana dengan", "gimana dengan", "macam mana dengan",
    "và ", "còn ", "thế còn", "vậy ", "và nếu",
    "แล้ว", "และ", "ส่วน",
    "それ", "では", "じゃあ", "あと", "また", "その",
    "那", "还有", "那么", "它", "这个",
    "و", "وماذا", "ماذا عن", "وكم", "وهل",
)  # fmt: skip
# Pronouns that point back at something said before.
_ANAPHORA = regex.compile(
    r"\b(?:it|its|that|this|those|them|one|es|das|dies|diese[nrms]?|ihn|le|la|les|lo|ello|eso|isso|ele|ela"
    r"|itu|ini|nya|nó|cái đó)\b|それ|その|これ|この|它|这个|那个|มัน|อันนี้|อันนั้น|هذا|هذه|ذلك",
    regex.IGNORECASE,
)
_LETTER = regex.compile(r"\p{L}")
_WORD = regex.compile(r"\p{L}+")
# A message this short is read as a follow-up when the conversation has a previous question.
_SHORT_WORDS = 5
_SHORT_UNSPACED_CHARS = 10
_MAX_CONTEXT_CHARS = 300
# A follow-up is searched with this share of the previous query's embedding (the rest is the message's).
FOLLOW_UP_CONTEXT = 0.6
# Hybrid hits fetched per answer source: wide enough that the best dense matches are among them.
_WIDEN = 2


@dataclass(frozen=True, slots=True)
class RankingWeights:
    """Tie-breakers added to the cosine similarity; kept small, so they only reorder near-equals."""

    language: float = 0.01       # a chunk in the customer's language
    market: float = 0.005        # the market's own knowledge, over '*'
    curated: float = 0.005       # FAQ rows and policies, over documents
    conversation: float = -0.03  # past conversations: other customers' cases, chatty, often off-topic


def _same_language(chunk_language: str, language: str) -> bool:
    """'zh-hant' knowledge is in the customer's language for a 'zh' or 'zh-hant' reply (see ``language_family``)."""
    return language_family(chunk_language) == language_family(language)


def is_follow_up(message: str) -> bool:
    """Whether ``message`` leans on what was said before (short, connective or pointing back)."""
    text = message.strip().lower()
    if text.startswith(_FOLLOW_UP_OPENERS):
        return True
    letters = len(_LETTER.findall(text))
    unspaced = len(UNSPACED.findall(text))
    if unspaced * 2 >= letters > 0:
        pointing_back = unspaced <= 2 * _SHORT_UNSPACED_CHARS and bool(_ANAPHORA.search(text))
        return unspaced <= _SHORT_UNSPACED_CHARS or pointing_back
    words = len(_WORD.findall(text))
    return words <= _SHORT_WORDS or (words <= 10 and bool(_ANAPHORA.search(text)))


def contextual_query(message: str, history: Sequence[Turn]) -> tuple[str, bool]:
    """The text to search for: the message, or the previous question and the message for a follow-up."""
    previous = next((turn for turn in reversed(history) if turn.role == "customer"), None)
    if previous is None or not is_follow_up(message):
        return message, False
    context = (previous.query or previous.text)[-_MAX_CONTEXT_CHARS:]
    return f"{context}\n{message}", True


def follow_up_vector(previous: np.ndarray, message: np.ndarray) -> np.ndarray:
    """A follow-up's query vector without embedding its text again: the previous query's blended with the message's.

    Cosine about 0.98 to embedding "previous question + message" as one text (multilingual-e5-small, the demo's
    follow-ups), at no embedding cost.
    """
    blended = FOLLOW_UP_CONTEXT * previous + (1 - FOLLOW_UP_CONTEXT) * message
    return blended / max(float(np.linalg.norm(blended)), 1e-12)


class Retriever:
    def __init__(self, index: KnowledgeIndex, *, top_k: int = 5, calibration: Calibration | None = None,
                 weights: RankingWeights | None = None) -> None:
        self.index = index
        self.top_k = top_k
        self.calibration = calibration or Calibration.load()
        self.weights = weights or RankingWeights()

    def run(self, query: str, *, tenant: str, market: str, language: str, rewritten: bool = False,
            query_vector: Sequence[float] | None = None) -> Retrieval:
        """Search for ``query`` (``contextual_query``'s text); ``query_vector`` is its embedding when known."""
        vector = list(query_vector) if query_vector is not None else self.index.embed_query(query).tolist()
        # The dense ranking's own best are always candidates: lexical noise (another language, another
        # script) can crowd them out of the fused list, and ranking below is by similarity anyway. Both
        # rankings come from one store call.
        hybrid, dense_hits = self.index.search_modes(query, [("hybrid", True), ("dense", False)], tenant=tenant,
                                                     market=market, top_k=self.top_k * _WIDEN, query_vector=vector)
        dense = [replace(hit, similarity=hit.score) for hit in dense_hits]
        in_language: list[ScoredChunk] = []
        if not any(_same_language(hit.chunk.language, language) for hit in hybrid[: self.top_k]):
            # Dense only: its scores are the similarities, so no vectors need to come back.
            in_language = [replace(hit, similarity=hit.score) for hit in self.index.search(
                query, tenant=tenant, market=market, language=language, top_k=self.top_k, mode="dense",
                query_vector=vector)]
        identifiers = self.index.sparse.identifiers(query)
        evidence = self._rank([*hybrid, *dense, *in_language], market=market, language=language,
                              identifiers=identifiers)
        confidence = self._confidence(evidence[0], language) if evidence else 0.0
        return Retrieval(query=query, rewritten=rewritten, evidence=evidence, confidence=confidence,
                         query_vector=vector)

    def _confidence(self, best: Evidence, language: str) -> float:
        """How sure the answer from the best-ranked evidence is: its similarity, calibrated for the language
        pair. A past chat must match better to be trusted (its short turns resemble every question a little)."""
        similarity = best.similarity + (self.weights.conversation if best.chunk.kind == "conversation" else 0.0)
        return self.calibration.confidence(similarity, language, best.chunk.language)

    def _rank(self, hits: list[ScoredChunk], *, market: str, language: str, identifiers: set[str]) -> list[Evidence]:
        fused: dict[str, ScoredChunk] = {}
        for hit in hits:
            if hit.chunk.flag is None:
                fused.setdefault(hit.chunk.point_id, hit)
        order = {point_id: rank for rank, point_id in enumerate(fused)}
        w = self.weights

        def key(hit: ScoredChunk) -> tuple[bool, float, int]:
            chunk = hit.chunk
            bonus = (w.language if _same_language(chunk.language, language) else 0.0) + (
                w.market if chunk.market != ANY_MARKET and chunk.market == market else 0.0)
            bonus += w.curated if chunk.kind in ("faq", "policy") else 0.0
            bonus += w.conversation if chunk.kind == "conversation" else 0.0
            # A customer who types an order number or a product code means that one.
            exact = bool(identifiers) and self.index.sparse.mentions(chunk.text, identifiers)
            return exact, (hit.similarity or 0.0) + bonus, -order[chunk.point_id]

        ranked = sorted(fused.values(), key=key, reverse=True)[: self.top_k]
        return [Evidence(number=n, chunk=hit.chunk, score=hit.score, similarity=hit.similarity or 0.0)
                for n, hit in enumerate(ranked, start=1)]


def ranked_documents(retrieval: Retrieval) -> list[str]:
    """The documents of the evidence, best first, each once (what retrieval metrics rank)."""
    return list(dict.fromkeys(e.chunk.document_id for e in retrieval.evidence))


def citation_of(evidence: Evidence) -> Citation:
    chunk = evidence.chunk
    return Citation(document_id=chunk.document_id, title=chunk.title or chunk.document_id, chunk_id=chunk.point_id,
                    score=round(evidence.similarity, 4), source=chunk.source, kind=chunk.kind, market=chunk.market,
                    language=chunk.language)
