"""Cited hit@1, answer rate and false-answer rate: per case, per language and market, in the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.aggregate import summarize
from evals.metrics import CaseScorer, answer_scores
from evals.report import write_run
from evals.suite import Case

pytestmark = pytest.mark.unit

RETURNS, REFUNDS = "returns/return-policy.md", "returns/refunds.md"


def _case(answerable: bool = True, *, language: str = "th", market: str = "TH", escalate: bool = False,
          sources: tuple[str, ...] = (RETURNS,)) -> Case:
    return Case(id=f"c-{language}", market=market, language=language, message="คืนสินค้าได้ภายในกี่วัน",
                answerable=answerable, escalate=escalate, sources=list(sources) if answerable else [])


def _reply(*cited: str, handed_off: bool = False, language: str = "th") -> dict[str, Any]:
    return {"status": "handed_off" if handed_off else "answered", "conversation_id": "c", "language": language,
            "text": "" if handed_off else "คืนสินค้าได้ภายใน 60 วัน", "persona_id": "apac-courteous",
            "generator": "extractive", "confidence": 0.5, "timings_ms": {"total": 10.0},
            "citations": [{"document_id": d, "chunk_id": "x", "title": "", "score": 1.0} for d in cited],
            "retrieved": list(cited), "escalation": {"escalate": handed_off, "queue": "support" if handed_off else None}}


def test_answerable_case_right_first_citation_wrong_first_citation_and_no_citation() -> None:
    case = _case()
    assert answer_scores(case, _reply(RETURNS, REFUNDS), "answer") == {"answered": 1.0, "cited_hit_at_1": 1.0}
    # The right document cited, but second: answered, yet not a cited hit@1.
    assert answer_scores(case, _reply(REFUNDS, RETURNS), "answer") == {"answered": 1.0, "cited_hit_at_1": 0.0}
    # "I don't know": neither answered nor a hit, whatever retrieval ranked.
    assert answer_scores(case, _reply(), "decline") == {"answered": 0.0, "cited_hit_at_1": 0.0}
    assert answer_scores(case, _reply(handed_off=True), "escalate") == {"answered": 0.0, "cited_hit_at_1": 0.0}
    assert answer_scores(case, None, "error") == {"answered": 0.0, "cited_hit_at_1": 0.0}
    # Without reference sources there is no hit to score, only whether it answered.
    assert answer_scores(_case(sources=()), _reply(RETURNS), "answer") == {"answered": 1.0}


def test_unanswerable_case_false_answer_only_when_a_source_is_cited() -> None:
    case = _case(answerable=False)
    assert answer_scores(case, _reply(RETURNS), "answer") == {"false_answer": 1.0}
    assert answer_scores(case, _reply(), "decline") == {"false_answer": 0.0}
    assert answer_scores(case, _reply(handed_off=True), "escalate") == {"false_answer": 0.0}
    assert answer_scores(case, None, "error") == {"false_answer": None}        # no reply is no answer either way
    assert answer_scores(_case(escalate=True), _reply(), "decline") == {}    # escalation cases: other metrics


def test_case_scorer_reports_the_three_scores() -> None:
    scorer = CaseScorer()
    scores = scorer.score(_case(), _reply(REFUNDS))
    assert (scores["outcome"], scores["answered"], scores["cited_hit_at_1"]) == ("answer", 1.0, 0.0)
    scores = scorer.score(_case(answerable=False), _reply(RETURNS))
    assert (scores["correct"], scores["false_answer"]) == (False, 1.0)
    assert "false_answer" not in scorer.score(_case(), _reply(RETURNS))
    assert scorer.score(_case(), None)["answered"] == 0.0


def _record(case: Case, reply: dict[str, Any]) -> dict[str, Any]:
    return {"case": case.model_dump(mode="json"), "reply": reply, "error": None,
            "scores": CaseScorer().score(case, reply)}


def test_rates_per_language_and_market_by_hand(tmp_path: Path) -> None:
    th = [_record(_case(), _reply(RETURNS)),                          # answered, right document first
          _record(_case(), _reply(REFUNDS, RETURNS)),                 # answered, wrong document first
          _record(_case(), _reply()),                                 # refused an answerable question
          _record(_case(answerable=False), _reply(REFUNDS)),          # answered the unanswerable
          _record(_case(answerable=False), _reply())]                 # said it does not know
    ar = [_record(_case(language="ar", market="SA"), _reply(RETURNS, language="ar")),
          _record(_case(False, language="ar", market="SA"), _reply(handed_off=True, language="ar"))]
    summary = summarize(th + ar)
    assert summary["by_language"]["th"]["cited_hit_at_1"] == pytest.approx(1 / 3, abs=1e-4)
    assert summary["by_language"]["th"]["answer_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["by_language"]["th"]["false_answer_rate"] == 0.5
    assert summary["by_market"]["SA"]["cited_hit_at_1"] == 1.0
    assert summary["by_market"]["SA"]["answer_rate"] == 1.0
    assert summary["by_market"]["SA"]["false_answer_rate"] == 0.0             # a handoff is not a false answer
    assert summary["overall"]["answer_rate"] == 0.75 and summary["overall"]["false_answer_rate"] == pytest.approx(
        1 / 3, abs=1e-4)
    # Only escalation cases: the rates do not apply (no value, not 0).
    escalation = summarize([_record(_case(escalate=True), _reply(handed_off=True))])["overall"]
    assert escalation["answer_rate"] is None and escalation["false_answer_rate"] is None

    write_run(tmp_path / "run", th + ar, {"id": "r"})
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert 'data-cited-hit-at-1="1.0" data-answer-rate="1.0" data-false-answer-rate="0.0"' in page
    assert "<th>cited hit@1</th><th>answer rate</th><th>false answers</th>" in page
    assert "<td class=l>th</td><td>5</td>" in page                           # the per-language table has th
