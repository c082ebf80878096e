"""Compare two runs per market, with significance, and check release gates.

``compare_runs(a, b)`` reads two run folders; for each market it reports both accuracies, the difference in
points and a 95% bootstrap interval of the difference (paired over the cases both runs share, so the same
suite run twice compares case by case), and calls a change significant when the interval excludes zero.

Gates are a YAML file (see ``evals/suites/gates.yaml``)::

    accuracy_min: 0.6               # every market's accuracy
    accuracy_min_by_market: {TH: 0.5}
    escalation_recall_min: 0.9      # over all cases
    escalation_precision_min: 0.8
    language_match_min: 0.9
    max_errors: 0
    max_drop_points: 10             # no market's accuracy drops more than this vs the baseline run
    drop_must_be_significant: true  # ... unless the drop is within noise (its CI includes 0)

``check_gates(summary, gates, comparison=None)`` returns one ``GateResult`` per check; any failed means the
release is blocked (``polydesk eval run --gates`` and ``polydesk eval compare --gates`` exit 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from evals.aggregate import Record, bootstrap_difference, read_results, summarize
from evals.report import RESULTS
from knowledge.schema import MarketCode
from polydesk.errors import InputError


class Gates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accuracy_min: float | None = Field(default=None, ge=0, le=1)
    accuracy_min_by_market: dict[MarketCode, float] = Field(default_factory=dict)
    escalation_recall_min: float | None = Field(default=None, ge=0, le=1)
    escalation_precision_min: float | None = Field(default=None, ge=0, le=1)
    language_match_min: float | None = Field(default=None, ge=0, le=1)
    max_errors: int | None = Field(default=None, ge=0)
    max_drop_points: float | None = Field(default=None, ge=0, le=100)
    drop_must_be_significant: bool = True

    @classmethod
    def load(cls, path: Path) -> Gates:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            return cls.model_validate(data)
        except (OSError, yaml.YAMLError, ValueError) as exc:
            raise InputError(f"gates file {path}: {exc}") from exc


@dataclass(frozen=True)
class GateResult:
    gate: str
    scope: str
    value: float | None
    threshold: float
    passed: bool

    def line(self) -> str:
        value = "n/a" if self.value is None else f"{self.value:.4g}"
        return f"{'PASS' if self.passed else 'FAIL'} {self.gate} [{self.scope}]: {value} (threshold {self.threshold:g})"


def load_run(folder: Path) -> list[Record]:
    path = folder / RESULTS
    if not path.exists():
        raise InputError(f"{folder} is not a run folder (no {RESULTS})")
    return read_results(path)


def market_changes(a: list[Record], b: list[Record]) -> dict[str, dict[str, Any]]:
    """Per market: accuracy in A and B, difference in points, its 95% CI, and whether it is significant."""
    changes: dict[str, dict[str, Any]] = {}
    markets = sorted({r["case"]["market"] for r in a} | {r["case"]["market"] for r in b})
    for market in markets:
        in_a = {r["case"]["id"]: float(r["scores"]["correct"]) for r in a if r["case"]["market"] == market}
        in_b = {r["case"]["id"]: float(r["scores"]["correct"]) for r in b if r["case"]["market"] == market}
        shared = sorted(in_a.keys() & in_b.keys())
        paired = len(shared) == len(in_a) == len(in_b)
        xs = [in_a[i] for i in shared] if paired else list(in_a.values())
        ys = [in_b[i] for i in shared] if paired else list(in_b.values())
        acc_a = sum(xs) / len(xs) if xs else None
        acc_b = sum(ys) / len(ys) if ys else None
        ci = bootstrap_difference(xs, ys, paired=paired)
        delta = round(100 * (acc_b - acc_a), 2) if acc_a is not None and acc_b is not None else None
        changes[market] = {
            "cases_a": len(in_a), "cases_b": len(in_b), "paired": paired,
            "accuracy_a": None if acc_a is None else round(acc_a, 4),
            "accuracy_b": None if acc_b is None else round(acc_b, 4),
            "delta_points": delta, "delta_ci_points": [round(100 * c, 2) for c in ci] if ci else None,
            "significant": bool(ci and (ci[0] > 0 or ci[1] < 0)),
            "fixed": sorted(i for i in shared if in_a[i] < in_b[i]),
            "broken": sorted(i for i in shared if in_a[i] > in_b[i]),
        }
    return changes


def check_gates(summary: dict[str, Any], gates: Gates,
                changes: dict[str, dict[str, Any]] | None = None) -> list[GateResult]:
    results: list[GateResult] = []
    overall = summary["overall"]
    for market, metrics in summary["by_market"].items():
        threshold = gates.accuracy_min_by_market.get(market, gates.accuracy_min)
        if threshold is not None:
            value = metrics["accuracy"]
            results.append(GateResult("accuracy_min", market, value, threshold, value is not None and
                                      value >= threshold))
    for gate, name in (("escalation_recall_min", "escalation_recall"),
                       ("escalation_precision_min", "escalation_precision"),
                       ("language_match_min", "language_match")):
        threshold = getattr(gates, gate)
        if threshold is not None:
            value = overall[name]
            results.append(GateResult(gate, "all", value, threshold, value is not None and value >= threshold))
    if gates.max_errors is not None:
        results.append(GateResult("max_errors", "all", overall["errors"], gates.max_errors,
                                  overall["errors"] <= gates.max_errors))
    if gates.max_drop_points is not None and changes is not None:
        for market, change in changes.items():
            drop = 0.0 - (change["delta_points"] or 0.0)
            too_far = drop > gates.max_drop_points and (change["significant"] or not gates.drop_must_be_significant)
            results.append(GateResult("max_drop_points", market, drop, gates.max_drop_points, not too_far))
    return results


def compare_runs(a: Path, b: Path, gates: Gates | None = None) -> dict[str, Any]:
    """Everything ``polydesk eval compare`` prints: changes per market and the gates on B (vs A)."""
    records_a, records_b = load_run(a), load_run(b)
    summary_b = summarize(records_b)
    changes = market_changes(records_a, records_b)
    overall_a, overall_b = summarize(records_a)["overall"], summary_b["overall"]
    gate_results = check_gates(summary_b, gates, changes) if gates else []
    return {
        "a": str(a), "b": str(b), "markets": changes,
        "overall": {name: {"a": overall_a[name], "b": overall_b[name]}
                    for name in ("accuracy", "fact_recall", "hit_at_1", "mrr", "chrf", "escalation_precision",
                                 "escalation_recall", "queue_accuracy", "language_match", "persona_compliance",
                                 "latency_p50_ms", "latency_p95_ms")},
        "gates": [asdict(g) for g in gate_results],
        "passed": all(g.passed for g in gate_results),
    }
