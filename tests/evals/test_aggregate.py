"""Aggregation: escalation precision/recall and queues, bootstrap intervals, percentiles, groups."""

from __future__ import annotations

from typing import Any

import pytest

from evals.aggregate import (
    NOT_RUN,
    bootstrap_ci,
    bootstrap_difference,
    escalation_scores,
    percentile,
    queue_confusion,
    summarize,
)

pytestmark = pytest.mark.unit


def record(market: str, *, correct: bool, expect_escalate: bool = False, queue: str | None = None,
           escalated: bool = False, got_queue: str | None = None, total_ms: float = 10.0,
           tags: list[str] | None = None, language: str = "de") -> dict[str, Any]:
    return {
        "case": {"id": f"{market}-{id(object())}", "market": market, "language": language, "channel": "web",
                 "escalate": expect_escalate, "queue": queue, "answerable": True, "tags": tags or [],
                 "history": [], "message": "m", "sources": []},
        "reply": {"status": "answered", "text": "t", "language": language, "citations": [],
                  "escalation": {"escalate": escalated, "queue": got_queue},
                  "timings_ms": {"retrieval": total_ms / 2, "total": total_ms}},
        "error": None,
        "scores": {"correct": correct, "outcome": "escalate" if escalated else "answer", "fact_recall": None},
    }


def test_escalation_precision_recall_queue_by_hand() -> None:
    records = [
        record("DE", correct=True, expect_escalate=True, queue="sales", escalated=True, got_queue="sales"),       # TP
        record("DE", correct=True, expect_escalate=True, queue="privacy", escalated=True, got_queue="support"),   # TP
        record("DE", correct=False, expect_escalate=True, queue="sales"),                                        # FN
        record("DE", correct=False, escalated=True, got_queue="support"),                                       # FP
        record("DE", correct=True),                                                                              # TN
    ]
    scores = escalation_scores(records)
    assert scores["escalation_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert scores["escalation_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert scores["queue_accuracy"] == 0.5
    assert queue_confusion(records) == {"none": {"support": 1, "none": 1}, "privacy": {"support": 1},
                                        "sales": {"sales": 1, "none": 1}}
    assert escalation_scores([record("DE", correct=True)])["escalation_recall"] is None   # nothing to recall


def test_bootstrap_interval() -> None:
    values = [1.0] * 16 + [0.0] * 4
    low, high = bootstrap_ci(values) or [0, 0]
    assert low < 0.8 < high and low > 0.55 and high <= 1.0
    assert bootstrap_ci(values) == bootstrap_ci(values)                       # seeded: reproducible
    wide, narrow = bootstrap_ci(values), bootstrap_ci(values * 25)
    assert wide and narrow and narrow[1] - narrow[0] < (wide[1] - wide[0]) / 3  # more cases, tighter
    assert bootstrap_ci([1.0, 1.0, 1.0]) == [1.0, 1.0]
    assert bootstrap_ci([]) is None


def test_bootstrap_difference_tells_noise_from_change() -> None:
    a = [1.0] * 20 + [0.0] * 5
    same = bootstrap_difference(a, list(a), paired=True)
    assert same == [0.0, 0.0]
    worse = [0.0 if i < 12 else v for i, v in enumerate(a)]                   # 12 cases broke
    low, high = bootstrap_difference(a, worse, paired=True) or [0, 0]
    assert high < 0                                                          # significant drop
    one_worse = [0.0 if i == 0 else v for i, v in enumerate(a)]              # one case broke
    low, high = bootstrap_difference(a, one_worse, paired=True) or [0, 0]
    assert low < 0 <= high                                                    # within noise


def test_percentiles() -> None:
    assert percentile([10, 20, 30, 40], 50) == 25.0
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([], 50) is None


def test_summary_groups_and_judge_not_run() -> None:
    records = [record("DE", correct=True, tags=["returns", "trap"], total_ms=10),
               record("DE", correct=False, tags=["returns"], total_ms=30),
               record("TH", correct=True, language="th", total_ms=20)]
    summary = summarize(records, run={"id": "x"})
    assert summary["by_market"]["DE"]["accuracy"] == 0.5
    assert summary["by_market"]["TH"]["accuracy"] == 1.0
    assert summary["by_tag"]["returns"]["cases"] == 2 and summary["by_tag"]["trap"]["cases"] == 1
    assert summary["by_tag"]["untagged"]["cases"] == 1
    assert summary["by_language"]["th"]["cases"] == 1
    assert summary["overall"]["latency_p50_ms"] == 20.0
    assert summary["latency_ms"]["retrieval"]["p50"] == 10.0
    assert summary["overall"]["faithfulness"] == NOT_RUN and summary["judge"] == NOT_RUN
    judged = [dict(r, scores={**r["scores"], "faithfulness": 0.5}) for r in records]
    assert summarize(judged, run={"judge": "openai/x"})["overall"]["faithfulness"] == 0.5
