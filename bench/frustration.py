"""Frustration on short social-media messages: AUC per language of the anger head and of the full score.

Reads ``tests/agent/data/frustration_set.jsonl`` (short posts written like real social-media
messages, labelled ``negative`` or ``positive``, in 11 languages; none of them is in the
training data), embeds each as the agent does, and scores it twice:

- ``head``: the anger head of the intent classifier (``IntentPrediction.anger``);
- ``score``: the full frustration score (``agent.sentiment.FrustrationScorer``) with the rules of
  a market that speaks the language, as escalation computes it on a first message.

Reports per language the AUC of each (the probability that a negative message scores above a
positive one; 0.5 is chance), the share of negative and positive messages whose score alone
reaches the market's sentiment threshold, and the counts.

    .venv/bin/python -m bench.frustration [--json PATH]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import polydesk  # noqa: F401  (offline switches first)
from agent.intents import IntentClassifier
from agent.sentiment import FrustrationScorer
from bench.escalation import MARKET_OF
from bench.report import machine, write_result
from knowledge.embedder import create_embedder
from personas import PersonaCatalog
from polydesk.settings import Settings

HELD_OUT_SET = Path(__file__).resolve().parents[1] / "tests" / "agent" / "data" / "frustration_set.jsonl"


@dataclass(frozen=True, slots=True)
class Post:
    text: str
    language: str
    negative: bool


@dataclass(frozen=True, slots=True)
class Scored:
    post: Post
    head: float
    score: float
    escalates: bool


def read_posts(path: Path = HELD_OUT_SET) -> list[Post]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if bad := [r["text"] for r in rows if r["label"] not in ("negative", "positive")]:
        raise ValueError(f"{path}: labels must be negative or positive: {bad[:3]}")
    return [Post(text=r["text"], language=r["language"], negative=r["label"] == "negative") for r in rows]


def auc(negative: Sequence[float], positive: Sequence[float]) -> float:
    """P(a negative post scores above a positive one), ties counting half (Mann-Whitney U / n·m)."""
    if len(negative) == 0 or len(positive) == 0:
        return float("nan")
    values = np.asarray([*negative, *positive], dtype=np.float64)
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):  # average ranks over ties
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    u = ranks[: len(negative)].sum() - len(negative) * (len(negative) + 1) / 2
    return float(u / (len(negative) * len(positive)))


def score_posts(posts: Sequence[Post], vectors: np.ndarray, classifier: IntentClassifier,
                catalog: PersonaCatalog) -> list[Scored]:
    scorer = FrustrationScorer()
    scored = []
    for post, vector in zip(posts, vectors, strict=True):
        rules = catalog.escalation(MARKET_OF[post.language])
        anger = classifier.predict(vector).anger
        frustration = scorer.score(post.text, anger=anger, rules=rules, history=[])
        scored.append(Scored(post=post, head=anger, score=frustration.score,
                             escalates=frustration.score >= rules.thresholds.sentiment))
    return scored


def report(scored: Sequence[Scored]) -> dict[str, dict[str, float]]:
    """Per language and ``all``: AUC of the head and of the score, share over the threshold, counts."""
    groups: dict[str, list[Scored]] = defaultdict(list)
    for item in scored:
        groups[item.post.language].append(item)
        groups["all"].append(item)
    table = {}
    for language, items in sorted(groups.items(), key=lambda g: (g[0] == "all", g[0])):
        negative = [i for i in items if i.post.negative]
        positive = [i for i in items if not i.post.negative]
        table[language] = {
            "negative": len(negative), "positive": len(positive),
            "auc_head": round(auc([i.head for i in negative], [i.head for i in positive]), 4),
            "auc_score": round(auc([i.score for i in negative], [i.score for i in positive]), 4),
            "over_threshold_negative": round(sum(i.escalates for i in negative) / max(len(negative), 1), 4),
            "over_threshold_positive": round(sum(i.escalates for i in positive) / max(len(positive), 1), 4),
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    embedder = create_embedder(settings)
    classifier = IntentClassifier.load_or_train(embedder, settings.model_cache_dir)
    posts = read_posts()
    vectors = embedder.embed_queries([post.text for post in posts])
    table = report(score_posts(posts, vectors, classifier, PersonaCatalog.load(settings.personas_dir)))

    result = {"machine": machine(), "embedder": embedder.name, "posts": len(posts), "per_language": table}
    path = write_result("frustration", result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{'language':<9}{'neg':>5}{'pos':>5}{'AUC head':>10}{'AUC score':>11}{'over thr neg':>14}{'pos':>6}")
    for language, row in table.items():
        print(f"{language:<9}{row['negative']:>5.0f}{row['positive']:>5.0f}{row['auc_head']:>10.3f}"
              f"{row['auc_score']:>11.3f}{row['over_threshold_negative']:>14.2f}{row['over_threshold_positive']:>6.2f}")
    print(f"written to {path}" + (f" and {args.json}" if args.json else ""))


if __name__ == "__main__":
    main()
