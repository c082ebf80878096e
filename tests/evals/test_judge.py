"""The LLM judge's wiring: which cases it scores, with what, and that failures stay unscored (never guessed).
Without a judge the columns read "not run" (test_aggregate.py); ragas' own prompts are ragas' to test."""

from __future__ import annotations

from typing import Any

import pytest

from evals.aggregate import summarize
from evals.judge import judge_records
from evals.report import render

pytestmark = pytest.mark.unit


class FakeMetric:
    def __init__(self, value: float | None) -> None:
        self.value, self.samples = value, []  # type: list[Any]

    async def single_turn_ascore(self, sample: Any) -> float:
        self.samples.append(sample)
        if self.value is None:
            raise TimeoutError("judge timed out")
        return self.value


def record(outcome: str, *, reference: str = "30 Tage") -> dict[str, Any]:
    return {"case": {"id": outcome, "market": "DE", "language": "de", "channel": "web", "escalate": False,
                     "queue": None, "answerable": True, "tags": [], "history": [], "message": "Rückgabe?",
                     "reference": reference, "sources": []},
            "reply": {"status": "answered", "text": "Sie haben 30 Tage.", "language": "de", "escalation": {},
                      "citations": [{"document_id": "d", "chunk_id": "c"}], "timings_ms": {"total": 1.0}},
            "error": None, "scores": {"outcome": outcome, "correct": outcome == "answer"}}


def test_judge_scores_answered_cases_only_and_never_guesses() -> None:
    records = [record("answer"), record("decline"), record("answer", reference="")]
    metrics = {"faithfulness": FakeMetric(0.5), "answer_relevancy": FakeMetric(0.75),
               "answer_correctness": FakeMetric(None)}
    judge_records(records, metrics, contexts=lambda r: ["Sie haben 30 Tage Zeit."])
    judged, declined, no_reference = (r["scores"] for r in records)
    assert judged["faithfulness"] == 0.5 and judged["answer_relevancy"] == 0.75
    assert judged["answer_correctness"] is None                               # the judge failed: unscored
    assert "faithfulness" not in declined                                     # nothing to judge
    assert "answer_correctness" not in no_reference                           # needs a reference
    assert metrics["faithfulness"].samples[0].retrieved_contexts == ["Sie haben 30 Tage Zeit."]
    summary = summarize(records, run={"id": "j", "judge": "openai/judge"})
    assert summary["overall"]["faithfulness"] == 0.5
    assert summary["overall"]["answer_correctness"] is None
    assert summary["judge"] == "openai/judge"
    assert "LLM judge openai/judge: faithfulness 0.500" in render(summary, records)


def test_faithfulness_is_not_run_without_source_texts() -> None:
    records = [record("answer")]
    judge_records(records, {"faithfulness": FakeMetric(1.0), "answer_relevancy": FakeMetric(1.0)}, contexts=None)
    assert "faithfulness" not in records[0]["scores"] and records[0]["scores"]["answer_relevancy"] == 1.0
