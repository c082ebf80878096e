"""Per-case metrics: answer accuracy, retrieval, similarity to the reference, language, persona, escalation.

``score_case`` turns a case and the reply it got (the Reply JSON of ``agent.schema``, whether it came from the
agent in-process or over HTTP) into a flat dict of scores; ``evals.aggregate`` averages them per market,
language, channel and tag. Every score is computed from what the reply shows, nothing else:

- ``correct`` (the headline accuracy): an answerable case is correct when the reply answers (cites a source,
  does not hand off), states every required fact and no forbidden one; an unanswerable case when the reply
  cites nothing or hands off (and states no forbidden fact); an escalation case when it hands off.
- retrieval (answerable cases with reference sources): the documents retrieval ranked (the reply's
  ``retrieved``; the cited ones in citation order for a reply without it) against the reference documents:
  ragas' ID-based context recall and precision (no LLM), hit@1, hit@3 and MRR.
- similarity of the reply's body (greeting, sign-off and notices removed) to the reference answer: ragas'
  chrF (character n-grams: fit for Thai, Japanese and Chinese), ragas' normalised Levenshtein similarity,
  and ROUGE-L over words, or characters in scripts written without spaces (ragas' ``RougeScore`` tokenises
  with rouge-score's default, which keeps only ASCII letters and digits: it scores Thai against Thai on the
  digits alone).
- answering (what a customer gets, whichever document retrieval ranked first): ``answered`` (answerable cases:
  the reply cites a source and does not hand off), ``cited_hit_at_1`` (answerable cases with reference sources:
  the reply's first citation is one of them; no citation is a miss), ``false_answer`` (unanswerable cases: the
  reply cites a source and does not hand off, i.e. it answers what the knowledge cannot answer). Averaged, they
  are the answer rate, the cited hit@1 and the false-answer rate. A request that failed scores 0 for the first
  two and nothing for the third (an error is not an answer; ``errors`` counts it).
- tool (cases that expect a brand tool call): ``tool_called`` is 1 when the reply's ``tool_calls`` hold a call of
  the expected tool with the expected arguments and status (``not_called``: no call of it); such a case is correct
  only with it, and one whose tool answers (any expected status but ``not_called``) needs no citation: the tool's
  result is the source. Averaged, it is the tool accuracy.
- language: the reply's declared language and the language detected in its body are the customer's.
- persona: the persona routing expects for (tenant, channel, market) answered, greeting on the first reply
  only, sign-off, length, no term the market or persona bans, and, where the market requires honorifics, one of
  its forms in the persona's own words (the reply's greeting and sign-off; the quoted body does not count).
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

from agent.phrases import greeting_for, sign_off_for
from evals.facts import check_facts
from evals.suite import Case
from personas import PersonaCatalog
from polydesk.language import LanguageDetector, language_family
from polydesk.terms import UNSPACED, TermSet

HIT_KS = (1, 3)
TOOL_ANSWERS = ("ok", "not_found")
T = TypeVar("T")


class MultilingualTokenizer:
    """Words in spaced scripts; characters (with their combining marks) in scripts written without spaces.

    >>> MultilingualTokenizer().tokenize("ส่งฟรี 8日 Free shipping")
    ['ส่', 'ง', 'ฟ', 'รี', '8', '日', 'free', 'shipping']
    """

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        word = ""
        for char in unicodedata.normalize("NFKC", text).casefold():
            if unicodedata.category(char).startswith("M"):
                if word:
                    word += char
                elif tokens:
                    tokens[-1] += char
            elif UNSPACED.match(char):
                if word:
                    tokens.append(word)
                    word = ""
                tokens.append(char)
            elif char.isalnum() or char == "_":
                word += char
            elif word:
                tokens.append(word)
                word = ""
        return tokens + ([word] if word else [])


@lru_cache(maxsize=1)
def _ragas_metrics() -> dict[str, Any]:
    from ragas.metrics import ChrfScore, IDBasedContextPrecision, IDBasedContextRecall, NonLLMStringSimilarity

    return {"context_recall": IDBasedContextRecall(), "context_precision": IDBasedContextPrecision(),
            "chrf": ChrfScore(), "string_similarity": NonLLMStringSimilarity()}


@lru_cache(maxsize=1)
def _rouge() -> Any:
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rougeL"], tokenizer=MultilingualTokenizer())


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Await a coroutine from sync code, also where an event loop already runs (a notebook, an ASGI app)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _ragas(name: str, **sample: Any) -> float:
    from ragas.dataset_schema import SingleTurnSample

    metric = _ragas_metrics()[name]
    return round(float(run_sync(metric.single_turn_ascore(SingleTurnSample(**sample)))), 4)


def retrieval_scores(ranked: Sequence[str], reference: Sequence[str]) -> dict[str, float]:
    """Retrieved document ids (best first, repeats removed) against the documents that hold the answer."""
    cited = list(dict.fromkeys(ranked))
    relevant = set(reference)
    rank = next((i for i, doc in enumerate(cited, start=1) if doc in relevant), None)
    scores = {f"hit_at_{k}": float(rank is not None and rank <= k) for k in HIT_KS}
    scores["mrr"] = round(1.0 / rank, 4) if rank else 0.0
    if cited:
        scores["context_recall"] = _ragas("context_recall", retrieved_context_ids=cited,
                                          reference_context_ids=list(reference))
        scores["context_precision"] = _ragas("context_precision", retrieved_context_ids=cited,
                                             reference_context_ids=list(reference))
    else:
        scores["context_recall"] = scores["context_precision"] = 0.0
    return scores


def similarity_scores(response: str, reference: str) -> dict[str, float]:
    """chrF, normalised Levenshtein similarity (ragas) and ROUGE-L F1 (multilingual tokens), each in [0, 1]."""
    rouge = _rouge().score(reference, response)["rougeL"].fmeasure
    return {"chrf": _ragas("chrf", response=response, reference=reference),
            "string_similarity": _ragas("string_similarity", response=response, reference=reference),
            "rouge_l": round(float(rouge), 4)}


def answer_scores(case: Case, reply: dict[str, Any] | None, outcome: str) -> dict[str, float | None]:
    """Answer rate and cited hit@1 on answerable cases, the false-answer rate on unanswerable ones (per case)."""
    if case.expect == "answer":
        cited = [c["document_id"] for c in (reply or {}).get("citations", [])]
        scores: dict[str, float | None] = {"answered": float(outcome == "answer")}
        if case.sources:
            scores["cited_hit_at_1"] = float(bool(cited) and cited[0] in case.sources)
        return scores
    if case.expect == "decline":
        return {"false_answer": None if reply is None else float(outcome == "answer")}
    return {}


def tool_scores(case: Case, reply: dict[str, Any] | None) -> dict[str, float]:
    """``tool_called`` for a case that expects a tool call (nothing for one that does not)."""
    expected = case.tool
    if expected is None:
        return {}
    calls = [c for c in (reply or {}).get("tool_calls") or [] if c.get("tool") == expected.name]
    if expected.status == "not_called":
        return {"tool_called": float(reply is not None and not calls)}
    right = any(c.get("status") == expected.status
                and all((c.get("arguments") or {}).get(k) == v for k, v in expected.arguments.items())
                for c in calls)
    return {"tool_called": float(right)}


def observed_outcome(reply: dict[str, Any]) -> str:
    if reply["status"] == "handed_off" or reply["escalation"].get("escalate"):
        return "escalate"
    # A tool that found the order, or found there is none, answered as a cited document does.
    by_tool = any(c.get("status") in TOOL_ANSWERS for c in reply.get("tool_calls") or [])
    return "answer" if reply.get("citations") or by_tool else "decline"


def is_correct(case: Case, outcome: str, missing: Sequence[str], forbidden: Sequence[str],
               tool_called: float | None = None) -> bool:
    if tool_called is not None and not tool_called:
        return False
    if case.expect == "escalate":
        return outcome == "escalate"
    if case.expect == "decline":
        return outcome in ("decline", "escalate") and not forbidden
    if case.tool is not None and case.tool.status != "not_called":
        # The tool's reply is the answer (or the question for its parameter): no citation needed.
        return outcome != "escalate" and not missing and not forbidden
    return outcome == "answer" and not missing and not forbidden


class CaseScorer:
    """Scores replies to cases; holds the persona catalog and language detector the checks need."""

    def __init__(self, *, catalog: PersonaCatalog | None = None, tenant: str = "tidewell") -> None:
        self.catalog = catalog or PersonaCatalog.load()
        self.tenant = tenant
        self.detector = LanguageDetector()

    def score(self, case: Case, reply: dict[str, Any] | None) -> dict[str, Any]:
        if reply is None:
            return {"outcome": "error", "correct": False, "facts_found": [], "facts_missing": list(case.must_contain),
                    "forbidden_found": [], "fact_recall": 0.0 if case.must_contain else None,
                    **answer_scores(case, None, "error"), **tool_scores(case, None)}
        resolved = self.catalog.resolve(tenant=self.tenant, channel=case.channel, market=case.market)
        body, parts = split_reply(reply["text"], greeting_for(resolved.persona, reply["language"]),
                                  sign_off_for(resolved.persona, reply["language"]))
        outcome = observed_outcome(reply)
        facts = check_facts(body, case.must_contain, case.must_not_contain)
        tool = tool_scores(case, reply)
        scores: dict[str, Any] = {
            "outcome": outcome,
            "correct": is_correct(case, outcome, facts.missing, facts.forbidden, tool.get("tool_called")),
            "facts_found": facts.found, "facts_missing": facts.missing, "forbidden_found": facts.forbidden,
            "fact_recall": facts.recall, **answer_scores(case, reply, outcome), **tool,
        }
        if case.expect == "answer" and case.sources:
            # Ranked by retrieval when the reply says (``retrieved``), else the cited documents in citation order.
            ranked = reply.get("retrieved") or [c["document_id"] for c in reply.get("citations", [])]
            scores.update(retrieval_scores(ranked, case.sources))
        if case.reference and body.strip() and outcome == "answer":
            scores.update(similarity_scores(body, case.reference))
        if reply["status"] == "answered" and reply["text"].strip():
            scores.update(self._language(case, reply, body))
            scores.update(self._persona(case, reply, resolved, parts))
        return scores

    def _language(self, case: Case, reply: dict[str, Any], body: str) -> dict[str, Any]:
        expected = language_family(case.language)
        detected = self.detector.detect(body, market=case.market, default=reply["language"])
        declared_ok = language_family(reply["language"]) == expected
        return {"language_detected": detected,
                "language_match": declared_ok and language_family(detected) == expected}

    def _persona(self, case: Case, reply: dict[str, Any], resolved: Any, parts: dict[str, Any]) -> dict[str, Any]:
        persona, market = resolved.persona, resolved.market
        language = reply["language"]
        first = not case.history
        checks = {
            "persona_id": reply["persona_id"] == persona.id,
            "greeting": parts["greeting"] if first else not parts["greeting"],
            "sign_off": parts["sign_off"],
            "length": parts["chars"] <= persona.max_reply_chars,
        }
        banned = _banned_terms(tuple(market.culture.avoid_terms.get(language, ())), persona.avoid_phrases)
        found = sorted({label for label, _ in banned.find(reply["text"])})
        checks["banned_terms"] = not found
        honorifics = market.culture.honorifics
        if honorifics and honorifics.required and honorifics.forms and \
                language_family(language) == language_family(market.default_language):
            # Checked on the persona's own words in this reply (its greeting, on a first reply, and its sign-off),
            # which address the customer in every reply: the body quotes the brand's knowledge as the brand wrote
            # it (the guardrails flag informal address there), so a form it happens to contain does not count.
            own = (greeting_for(persona, language) if parts["greeting"] else "",
                   sign_off_for(persona, language) if parts["sign_off"] else "")
            checks["honorifics"] = bool(_honorific_forms(honorifics.forms).find("\n".join(own)))
        failed = [name for name, ok in checks.items() if not ok]
        return {"persona_compliant": not failed, "persona_failed": failed, "banned_found": found}


@lru_cache(maxsize=64)
def _honorific_forms(forms: tuple[str, ...]) -> TermSet:
    return TermSet.compile([(form, form) for form in forms])


@lru_cache(maxsize=256)
def _banned_terms(market_terms: tuple[str, ...], persona_phrases: tuple[str, ...]) -> TermSet:
    return TermSet.compile([(t, t) for t in (*market_terms, *persona_phrases)])


def split_reply(text: str, greeting: str, sign_off: str) -> tuple[str, dict[str, Any]]:
    """The answer body of a reply (without greeting, sign-off and the notices after it) and what was found."""
    body = text.strip()
    has_greeting = bool(greeting) and body.startswith(greeting.strip())
    if has_greeting:
        body = body[len(greeting.strip()):]
    at = body.rfind(sign_off.strip()) if sign_off.strip() else -1
    chars = len(text.strip())
    if at >= 0:
        chars = len(text.strip()) - len(body) + at + len(sign_off.strip())
        body = body[:at]
    return body.strip(), {"greeting": has_greeting, "sign_off": at >= 0, "chars": chars}
