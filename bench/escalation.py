"""Escalation on the labelled test set: recall, false escalations and intent accuracy per language; latency.

Reads ``tests/agent/data/escalation_set.jsonl`` (messages in 12 languages, half of which
must reach a human), embeds each message as the agent does, and runs the signals and the
decision of ``agent.escalation`` with the rules of a market that speaks the language.
Reports per language: escalation recall, false-escalation rate, intent accuracy and queue
accuracy; and the latency the classification adds to a message beyond the embedding the
agent computes anyway (intent and anger heads, keyword rules, frustration, decision),
p50/p95 over several runs.

    .venv/bin/python -m bench.escalation [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import polydesk  # noqa: F401  (offline switches first)
from agent.escalation import EscalationPolicy
from agent.intents import IntentClassifier
from agent.schema import Escalation
from bench.report import machine, write_result
from knowledge.embedder import Embedder, create_embedder
from personas import PersonaCatalog
from polydesk.settings import Settings

LABELLED_SET = Path(__file__).resolve().parents[1] / "tests" / "agent" / "data" / "escalation_set.jsonl"
# The market whose rules apply to a message in each language of the set.
MARKET_OF = {"en": "US", "de": "DE", "fr": "FR", "es": "MX", "pt": "BR", "id": "ID", "ms": "MY", "th": "TH",
             "vi": "VN", "ja": "JP", "zh": "SG", "ar": "SA"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    language: str
    message: str
    escalate: bool
    intent: str
    queue: str | None


def read_cases(path: Path = LABELLED_SET) -> list[Case]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Case(id=r["id"], language=r["language"], message=r["message"], escalate=bool(r["escalate"]),
                 intent=r["intent"], queue=r.get("queue")) for r in rows]


def decide_all(policy: EscalationPolicy, catalog: PersonaCatalog, cases: Sequence[Case],
               vectors: np.ndarray) -> list[Escalation]:
    decisions = []
    for case, vector in zip(cases, vectors, strict=True):
        rules = catalog.escalation(MARKET_OF[case.language])
        signals = policy.signals(case.message, vector, rules=rules, history=[])
        decisions.append(policy.decide(signals, rules=rules))
    return decisions


def score(cases: Sequence[Case], decisions: Sequence[Escalation]) -> dict[str, dict[str, float]]:
    """Per language and ``all``: recall, false-escalation rate, intent and queue accuracy, counts."""
    groups: dict[str, list[tuple[Case, Escalation]]] = defaultdict(list)
    for case, decision in zip(cases, decisions, strict=True):
        groups[case.language].append((case, decision))
        groups["all"].append((case, decision))
    report = {}
    for language, pairs in sorted(groups.items()):
        positive = [d for c, d in pairs if c.escalate]
        negative = [d for c, d in pairs if not c.escalate]
        queued = [(c, d) for c, d in pairs if c.escalate and d.escalate]
        report[language] = {
            "messages": len(pairs),
            "recall": round(sum(d.escalate for d in positive) / max(len(positive), 1), 4),
            "false_escalation": round(sum(d.escalate for d in negative) / max(len(negative), 1), 4),
            "intent_accuracy": round(sum(c.intent == d.intent for c, d in pairs) / len(pairs), 4),
            "queue_accuracy": round(sum(c.queue == d.queue for c, d in queued) / max(len(queued), 1), 4),
        }
    return report


def misses(cases: Sequence[Case], decisions: Sequence[Escalation]) -> list[str]:
    return [f"{c.id}: expected {'escalate' if c.escalate else 'answer'} ({c.intent}), got "
            f"{'escalate ' + str(d.reason) if d.escalate else 'answer'} ({d.intent}, {d.scores}) — {c.message}"
            for c, d in zip(cases, decisions, strict=True) if c.escalate != d.escalate]


def policy_for(embedder: Embedder, settings: Settings) -> EscalationPolicy:
    return EscalationPolicy(IntentClassifier.load_or_train(embedder, settings.model_cache_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    embedder = create_embedder(settings)
    started = time.perf_counter()
    policy = policy_for(embedder, settings)
    print(f"classifier ready in {time.perf_counter() - started:.1f} s")
    catalog = PersonaCatalog.load(settings.personas_dir)
    cases = read_cases()
    vectors = embedder.embed_queries([case.message for case in cases])
    decisions = decide_all(policy, catalog, cases, vectors)  # also warms the compiled term caches
    report = score(cases, decisions)

    per_run = []
    for _ in range(args.runs):
        timings = []
        for case, vector in zip(cases, vectors, strict=True):
            began = time.perf_counter()
            rules = catalog.escalation(MARKET_OF[case.language])
            policy.decide(policy.signals(case.message, vector, rules=rules, history=[]), rules=rules)
            timings.append((time.perf_counter() - began) * 1000)
        timings.sort()
        per_run.append({"p50": timings[len(timings) // 2], "p95": timings[int(0.95 * (len(timings) - 1))]})
    latency = {q: round(statistics.median(run[q] for run in per_run), 3) for q in ("p50", "p95")}

    result = {"machine": machine(), "messages": len(cases), "runs": args.runs, "per_language": report,
              "classification_ms": latency, "misses": misses(cases, decisions)}
    path = write_result("escalation", result)
    print(f"{'language':<9}{'n':>4}{'recall':>8}{'false':>8}{'intent':>8}{'queue':>8}")
    for language, row in report.items():
        print(f"{language:<9}{row['messages']:>4.0f}{row['recall']:>8.2f}{row['false_escalation']:>8.2f}"
              f"{row['intent_accuracy']:>8.2f}{row['queue_accuracy']:>8.2f}")
    print(f"classification beyond the embedding: p50 {latency['p50']:.3f} ms, p95 {latency['p95']:.3f} ms "
          f"(median of {args.runs} runs over {len(cases)} messages)")
    for line in result["misses"]:  # type: ignore[attr-defined]
        print("  miss", line)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
