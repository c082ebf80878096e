"""From the per-case records of a run (``results.jsonl``) to its summary: metrics per market, language,
channel and tag, escalation precision/recall and the queue confusion matrix, latency per stage, bootstrap
confidence intervals; the tool accuracy (``tool_accuracy``) where a run has cases that expect a tool call.

Everything in ``summary.json`` and ``report.html`` is computed here from the records alone, so a summary can be
recomputed from ``results.jsonl`` at any time (``summarize(read_results(path))``).

Definitions: a mean skips cases where a metric does not apply (``None``); percentiles are numpy's linear
interpolation; confidence intervals are percentile bootstraps (2,000 resamples, fixed seed) of the mean.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MEAN_METRICS = ("fact_recall", "hit_at_1", "hit_at_3", "mrr", "context_recall", "context_precision", "chrf",
                "string_similarity", "rouge_l", "cited_hit_at_1")
# Summary name -> the per-case score it averages (evals.metrics.answer_scores): shares of the cases they apply to.
RATE_METRICS = {"answer_rate": "answered", "false_answer_rate": "false_answer"}
JUDGE_METRICS = ("faithfulness", "answer_relevancy", "answer_correctness")
RESAMPLES = 2000
NOT_RUN = "not run"
Record = dict[str, Any]


def read_results(path: Path) -> list[Record]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def bootstrap_ci(values: Sequence[float], *, level: float = 0.95, seed: int = 0,
                 resamples: int = RESAMPLES) -> list[float] | None:
    """Percentile bootstrap interval of the mean; None for no values."""
    if not len(values):
        return None
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return [round(float(np.percentile(means, tail)), 4), round(float(np.percentile(means, 100 - tail)), 4)]


def bootstrap_difference(a: Sequence[float], b: Sequence[float], *, paired: bool, level: float = 0.95,
                         seed: int = 0, resamples: int = RESAMPLES) -> list[float] | None:
    """Interval of mean(b) - mean(a); paired resamples the same cases in both (same length and order)."""
    if not len(a) or not len(b):
        return None
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    if paired:
        index = rng.integers(0, len(x), size=(resamples, len(x)))
        diffs = y[index].mean(axis=1) - x[index].mean(axis=1)
    else:
        diffs = (y[rng.integers(0, len(y), size=(resamples, len(y)))].mean(axis=1)
                 - x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1))
    tail = (1 - level) / 2 * 100
    return [round(float(np.percentile(diffs, tail)), 4), round(float(np.percentile(diffs, 100 - tail)), 4)]


def _mean(values: Iterable[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return round(sum(present) / len(present), 4) if present else None


def percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(values, dtype=float), q)), 3) if len(values) else None


def escalation_scores(records: Sequence[Record]) -> dict[str, float | int | None]:
    """Precision and recall of handing off, and the queue accuracy of right hand-offs that name a queue."""
    tp = fp = fn = queued = queue_right = 0
    for r in records:
        expected = bool(r["case"]["escalate"])
        observed = r["scores"]["outcome"] == "escalate"
        tp += expected and observed
        fp += observed and not expected
        fn += expected and not observed
        if expected and observed and r["case"].get("queue"):
            queued += 1
            queue_right += r["case"]["queue"] == (r["reply"] or {}).get("escalation", {}).get("queue")
    return {"escalation_precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "escalation_recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "queue_accuracy": round(queue_right / queued, 4) if queued else None,
            "escalations_expected": tp + fn, "escalations_observed": tp + fp}


def group_metrics(records: Sequence[Record]) -> dict[str, Any]:
    correct = [float(r["scores"]["correct"]) for r in records]
    totals = [r["reply"]["timings_ms"]["total"] for r in records
              if r["reply"] and "total" in r["reply"].get("timings_ms", {})]
    metrics: dict[str, Any] = {
        "cases": len(records), "errors": sum(r.get("error") is not None for r in records),
        "accuracy": _mean(correct), "accuracy_ci": bootstrap_ci(correct),
    }
    metrics.update({name: _mean(r["scores"].get(name) for r in records) for name in MEAN_METRICS})
    metrics.update({name: _mean(r["scores"].get(score) for r in records) for name, score in RATE_METRICS.items()})
    metrics.update(escalation_scores(records))
    metrics["language_match"] = _mean(r["scores"].get("language_match") for r in records)
    metrics["persona_compliance"] = _mean(r["scores"].get("persona_compliant") for r in records)
    if any("tool_called" in r["scores"] for r in records):  # only runs with tool cases carry it
        metrics["tool_accuracy"] = _mean(r["scores"].get("tool_called") for r in records)
    metrics["latency_p50_ms"], metrics["latency_p95_ms"] = percentile(totals, 50), percentile(totals, 95)
    for name in JUDGE_METRICS:
        judged = any(name in r["scores"] for r in records)
        metrics[name] = _mean(r["scores"].get(name) for r in records) if judged else NOT_RUN
    return metrics


def _grouped(records: Sequence[Record], keys: Callable[[Record], Iterable[str]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        for key in keys(r):
            groups[key].append(r)
    return {key: group_metrics(groups[key]) for key in sorted(groups)}


def queue_confusion(records: Sequence[Record]) -> dict[str, dict[str, int]]:
    """expected queue ('none' = must not hand off, 'any' = any queue) -> observed queue ('none') -> count."""
    matrix: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in records:
        case = r["case"]
        expected = (case.get("queue") or "any") if case["escalate"] else "none"
        escalation = (r["reply"] or {}).get("escalation", {})
        observed = (escalation.get("queue") or "any") if r["scores"]["outcome"] == "escalate" else "none"
        matrix[expected][observed] += 1
    return {e: dict(row) for e, row in sorted(matrix.items())}


def stage_latency(records: Sequence[Record]) -> dict[str, dict[str, float | int | None]]:
    stages: dict[str, list[float]] = defaultdict(list)
    for r in records:
        for stage, ms in ((r["reply"] or {}).get("timings_ms") or {}).items():
            stages[stage].append(ms)
    return {stage: {"n": len(v), "p50": percentile(v, 50), "p95": percentile(v, 95)} for stage, v in stages.items()}


def summarize(records: Sequence[Record], *, run: dict[str, Any] | None = None) -> dict[str, Any]:
    judged = any(name in r["scores"] for r in records for name in JUDGE_METRICS)
    return {
        "run": run or {},
        "overall": group_metrics(records),
        "by_market": _grouped(records, lambda r: [r["case"]["market"]]),
        "by_language": _grouped(records, lambda r: [r["case"]["language"]]),
        "by_channel": _grouped(records, lambda r: [r["case"]["channel"]]),
        "by_tag": _grouped(records, lambda r: r["case"].get("tags") or ["untagged"]),
        "escalation_confusion": queue_confusion(records),
        "latency_ms": stage_latency(records),
        "judge": (run or {}).get("judge") if judged else NOT_RUN,
    }
