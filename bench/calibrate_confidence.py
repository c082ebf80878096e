"""Fit the confidence calibration (``agent/data/confidence.json``) on the cross-lingual eval suites.

For every case of the cross-lingual suites (English, Japanese and German knowledge; questions in 12
languages; answerable and unanswerable) the similarity of the retriever's best-ranked chunk is taken with
that chunk's language. Then:

1. **Shifts.** Per (question language q, knowledge language k) pair, the midpoint between the median best
   similarity of its answerable and of its unanswerable questions (where a threshold belongs), and for
   q != k how much lower it lies than the midpoint of questions asked in k itself:
   ``delta(q, k) = mid(k, k) - mid(q, k)``. A least-squares fit of ``shift[q] + shift[k] = delta(q, k)``
   over all pairs gives one shift per language (``default_shift``: their median, for other languages).
   Aligning midpoints rather than answerable medians alone also accounts for cross-lingual similarities
   separating answerable from unanswerable questions less well.
2. **Scale.** With every similarity moved onto the same-language scale, the threshold where the
   ``POLYDESK_MIN_CONFIDENCE`` point falls is chosen so that answerable questions are answered at least at
   ``--target-answer-rate`` over all languages, and ``low``/``high`` are placed around it with the width the
   same-language scale had (0.08).

It prints the shifts, the trade-off curve (answer rate on answerable and false-answer rate on unanswerable
questions per threshold) and, per question language, both rates at the chosen threshold; ``--write``
stores the fit. docs/confidence.md shows a run.

    .venv/bin/python -m bench.calibrate_confidence [--write] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import machine

WIDTH = 0.08  # high - low of the same-language scale (0.80 .. 0.88, measured on the demo knowledge)


def best_similarities(runtime: Any, language: str) -> list[dict[str, Any]]:
    """Per case of one knowledge set: question language, chunk language, answerable, best similarity."""
    from evals.crosslingual.build import KnowledgeSet
    from evals.suite import load_suites
    from ingestion.pipeline import Ingestor
    from ingestion.sources import SourceOptions

    kset = KnowledgeSet(language)
    Ingestor(index=runtime.index, settings=runtime.settings).ingest([kset.folder], SourceOptions(tenant=kset.tenant))
    rows = []
    for case in load_suites([kset.suite_folder]):
        retrieval = runtime.agent.retriever.run(case.message, tenant=kset.tenant, market=case.market,
                                                language=case.language)
        best = retrieval.evidence[0] if retrieval.evidence else None  # what the confidence is computed on
        if best is not None:
            rows.append({"question": case.language, "knowledge": language, "chunk": best.chunk.language,
                         "answerable": case.answerable, "similarity": best.similarity})
    return rows


def fit_shifts(rows: list[dict[str, Any]]) -> dict[str, float]:
    from polydesk.language import language_family

    groups: dict[tuple[str, str, bool], list[float]] = defaultdict(list)
    for r in rows:
        pair = (language_family(r["question"]), language_family(r["knowledge"]))
        groups[(*pair, r["answerable"])].append(r["similarity"])
    medians = {(q, k): (statistics.median(values) + statistics.median(groups[(q, k, False)])) / 2
               for (q, k, answerable), values in groups.items() if answerable and groups.get((q, k, False))}
    pairs = [(q, k) for (q, k) in medians if q != k and (k, k) in medians]
    languages = sorted({x for pair in pairs for x in pair})
    a = np.zeros((len(pairs), len(languages)))
    b = np.zeros(len(pairs))
    for i, (q, k) in enumerate(pairs):
        a[i, languages.index(q)] += 1
        a[i, languages.index(k)] += 1
        b[i] = medians[(k, k)] - medians[(q, k)]
    solution, *_ = np.linalg.lstsq(a, b, rcond=None)
    return {language: round(float(value), 4) for language, value in zip(languages, solution, strict=True)}


def rates(rows: list[dict[str, Any]], threshold: float) -> tuple[float, float]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    answer = sum(r["adjusted"] >= threshold for r in answerable) / max(1, len(answerable))
    false = sum(r["adjusted"] >= threshold for r in unanswerable) / max(1, len(unanswerable))
    return answer, false


def main() -> None:
    from agent.confidence import DEFAULT_PATH, Calibration
    from api.runtime import Runtime
    from evals.crosslingual.build import KNOWLEDGE_SETS
    from polydesk.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target-answer-rate", type=float, default=0.95)
    parser.add_argument("--write", action="store_true", help=f"store the fit in {DEFAULT_PATH}")
    parser.add_argument("--json", type=Path, help="write the rows and the fit to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="polydesk-calibrate-") as data:
        settings = Settings(data_dir=Path(data), _env_file=None).model_copy(  # type: ignore[call-arg]
            update={"qdrant_url": None, "redis_url": None, "llm_model": None})
        with Runtime.open(settings) as runtime:
            rows = [row for language in KNOWLEDGE_SETS for row in best_similarities(runtime, language)]
            min_confidence = settings.min_confidence

    shifts = fit_shifts(rows)
    default_shift = round(statistics.median(shifts.values()), 4) if shifts else 0.0
    provisional = Calibration(shifts=shifts, default_shift=default_shift)
    for r in rows:
        r["adjusted"] = provisional.adjusted(r["similarity"], r["question"], r["chunk"])
    answerable = sorted(r["adjusted"] for r in rows if r["answerable"])
    threshold = round(float(np.quantile(answerable, 1 - args.target_answer_rate)), 4)
    low = round(threshold - min_confidence * WIDTH, 4)
    calibration = {"low": low, "high": round(low + WIDTH, 4), "default_shift": default_shift, "shifts": shifts}

    print("shifts (added to a cross-lingual similarity, per language):",
          ", ".join(f"{k} {v:+.3f}" for k, v in shifts.items()), f"(default {default_shift:+.3f})")
    print(f"\nthreshold (adjusted similarity at confidence {min_confidence}): {threshold}; low {low}, "
          f"high {calibration['high']}\n")
    print("| adjusted similarity threshold | answer rate (answerable) | false answers (unanswerable) |")
    print("| --- | --- | --- |")
    for t in np.arange(threshold - 0.03, threshold + 0.0301, 0.01):
        answer, false = rates(rows, float(t))
        print(f"| {t:.3f}{' (chosen)' if abs(t - threshold) < 1e-9 else ''} | {answer:.2f} | {false:.2f} |")
    print("\n| question language | answer rate | false answers | before: answer rate | before: false answers |")
    print("| --- | --- | --- | --- | --- |")
    same_scale = Calibration()
    before_threshold = same_scale.low + min_confidence * (same_scale.high - same_scale.low)
    by_language: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_language[r["question"]].append(r)
    for language, group in sorted(by_language.items()):
        answer, false = rates(group, threshold)
        before = [{**r, "adjusted": r["similarity"]} for r in group]
        answer_0, false_0 = rates(before, before_threshold)
        print(f"| {language} | {answer:.2f} | {false:.2f} | {answer_0:.2f} | {false_0:.2f} |")

    if args.write:
        DEFAULT_PATH.write_text(json.dumps(calibration, indent=2) + "\n", encoding="utf-8")
        print(f"\nwritten to {DEFAULT_PATH}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "calibration": calibration, "rows": rows},
                                        indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
