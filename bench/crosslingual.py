"""Cross-lingual answer quality: questions in 12 languages against a help center that exists in one language.

Ingests each knowledge set of the Cairnline brand (``evals/crosslingual/``: English-only, Japanese-only,
German-only) into a throw-away data dir (embedded Qdrant and Redis, extractive generator, one tenant per set),
runs that set's cross-lingual suite in-process with the eval runner, and prints one table per knowledge set:
per question language, the cited hit@1 (the reply's first citation is the right document; no citation is a
miss), the answer rate on answerable questions, the false-answer rate on unanswerable ones, the hit@1 of what
retrieval ranked (cited or not), the ceiling: the dense-only top-1 of the index's embedding model alone
(the question embedded, the nearest chunk's document; no lexical signal, no fusion, no confidence), and the
share of all its cases handed to a person (none of them asks for one: each handoff is a false escalation).

    .venv/bin/python -m bench.crosslingual [--sets en ja de] [--languages th ja ...] [--json FILE] [--out DIR]

``--json`` writes the numbers (and the machine) to FILE; ``--out`` keeps each set's run folder
(results.jsonl, summary.json, report.html) under DIR for reading the failed cases.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.report import machine

RATES = ("cited_hit_at_1", "answer_rate", "false_answer_rate", "hit_at_1", "dense_top1", "handed_off")
HEADERS = ("lang", "answerable", "unanswerable", "cited hit@1", "answer rate", "false answers", "retrieved hit@1",
           "dense top-1", "handed off")


def dense_top1(index: Any, cases: Sequence[Any], *, tenant: str) -> dict[str, float]:
    """Case id -> 1.0 when the nearest chunk by the embedding alone belongs to one of the case's sources."""
    answerable = [c for c in cases if c.expect == "answer" and c.sources]
    if not answerable:
        return {}
    # One question at a time, as the agent embeds them: int8 activations are quantized per batch, so a
    # batched embedding can differ slightly and flip near-ties against what the agent ranks.
    found: dict[str, float] = {}
    for case in answerable:
        vector = index.embed_query(case.message)
        hits = index.search(case.message, tenant=tenant, mode="dense", top_k=1, query_vector=vector.tolist())
        found[case.id] = float(bool(hits) and hits[0].chunk.document_id in case.sources)
    return found


def per_language(records: Sequence[dict[str, Any]], dense: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Question language (and "all") -> counts and rates, the summary's own numbers plus the dense ceiling."""
    from evals.aggregate import summarize

    summary = summarize(records)
    groups: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if r["case"]["id"] in dense:
            groups[r["case"]["language"]].append(dense[r["case"]["id"]])
            groups["all"].append(dense[r["case"]["id"]])
    rows: dict[str, dict[str, Any]] = {}
    for language, metrics in {**summary["by_language"], "all": summary["overall"]}.items():
        mine = [r for r in records if language in ("all", r["case"]["language"])]
        ceiling = groups.get(language)
        rows[language] = {
            "answerable": sum(r["case"]["answerable"] and not r["case"]["escalate"] for r in mine),
            "unanswerable": sum(not r["case"]["answerable"] for r in mine),
            "cited_hit_at_1": metrics["cited_hit_at_1"], "answer_rate": metrics["answer_rate"],
            "false_answer_rate": metrics["false_answer_rate"], "hit_at_1": metrics["hit_at_1"],
            "dense_top1": round(sum(ceiling) / len(ceiling), 4) if ceiling else None,
            # None of these cases should reach a person: a handoff here is a false escalation.
            "handed_off": round(sum(r["scores"]["outcome"] == "escalate" for r in mine) / len(mine), 4),
            "errors": metrics["errors"],
        }
    return rows


def print_table(title: str, rows: dict[str, dict[str, Any]]) -> None:
    def cell(value: Any) -> str:
        return "–" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = [HEADERS] + [(language, *(cell(row[k]) for k in ("answerable", "unanswerable", *RATES)))
                         for language, row in rows.items()]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]
    print(f"\n{title}")
    for n, line in enumerate(lines):
        print("  ".join(text.ljust(w) if i == 0 else text.rjust(w) for i, (text, w) in enumerate(zip(line, widths,
                                                                                                       strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def run_set(runtime: Any, language: str, *, question_languages: Sequence[str] | None, concurrency: int,
            out: Path | None) -> dict[str, Any]:
    """Ingest one knowledge set as its own tenant, run its suite, and return its numbers per question language."""
    from evals.crosslingual.build import KnowledgeSet
    from evals.metrics import CaseScorer
    from evals.report import write_run
    from evals.runner import InProcessTarget, new_run_id, run_cases
    from evals.suite import load_suites
    from ingestion.pipeline import Ingestor
    from ingestion.sources import SourceOptions

    kset = KnowledgeSet(language)
    began = time.perf_counter()
    report = Ingestor(index=runtime.index, settings=runtime.settings).ingest(
        [kset.folder], SourceOptions(tenant=kset.tenant))
    ingest_s = time.perf_counter() - began
    cases = [c for c in load_suites([kset.suite_folder])
             if not question_languages or c.language in question_languages]
    began = time.perf_counter()
    scorer = CaseScorer(catalog=runtime.catalog, tenant=kset.tenant)
    run_id = new_run_id()
    records = run_cases(cases, InProcessTarget(runtime.agent, tenant=kset.tenant), run_id=run_id, scorer=scorer,
                        concurrency=concurrency)
    answer_s = time.perf_counter() - began
    dense = dense_top1(runtime.index, cases, tenant=kset.tenant)
    if out is not None:
        write_run(out / f"knowledge-{language}", records, {"id": run_id, "tenant": kset.tenant,
                                                            "suites": [kset.suite_folder.name], "cases": len(cases)})
    rows = per_language(records, dense)
    print_table(f"knowledge-{language} (tenant {kset.tenant}, {report.totals()['files']} documents, "
                f"{len(cases)} cases; ingest {ingest_s:.1f} s, answers {answer_s:.1f} s)", rows)
    return {"tenant": kset.tenant, "documents": report.totals()["files"], "chunks": report.totals()["chunks"],
            "cases": len(cases), "ingest_s": round(ingest_s, 1), "run_s": round(answer_s, 1),
            "by_question_language": rows}


def main() -> None:
    from api.runtime import Runtime
    from evals.crosslingual.build import KNOWLEDGE_SETS, LANGUAGES
    from polydesk.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", choices=KNOWLEDGE_SETS, default=list(KNOWLEDGE_SETS),
                        help="knowledge sets to run (default: all)")
    parser.add_argument("--languages", nargs="+", choices=LANGUAGES, help="only these question languages")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the numbers to this file")
    parser.add_argument("--out", type=Path, help="keep each set's run folder (report.html) under this folder")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="polydesk-crosslingual-") as data:
        # Embedded everything in a fresh data dir, extractive replies: the numbers depend on nothing configured.
        settings = Settings(data_dir=Path(data), _env_file=None).model_copy(  # type: ignore[call-arg]
            update={"qdrant_url": None, "redis_url": None, "llm_model": None})
        with Runtime.open(settings) as runtime:
            for language in args.sets:
                results[f"knowledge-{language}"] = run_set(runtime, language, question_languages=args.languages,
                                                           concurrency=args.concurrency, out=args.out)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": machine(), "generator": "extractive", "embedder": settings.embedder,
                   "min_confidence": settings.min_confidence, "sets": results}
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nnumbers written to {args.json}")


if __name__ == "__main__":
    main()
