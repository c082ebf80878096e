"""A run folder: ``results.jsonl`` (one record per case), ``summary.json`` and a self-contained ``report.html``.

The page has a per-market table (accuracy with its 95% CI, cited hit@1, answer rate on answerable cases,
false-answer rate on unanswerable ones, retrieval, similarity, escalation P/R, language match, persona
compliance, latency; tool accuracy for a run with tool cases), inline SVG charts (accuracy per market, escalation
queue confusion matrix, latency), the same table per language, channel and tag, and every failed case with its
reply, cited sources and what was missing. Each market row carries its numbers as ``data-*`` attributes so tests (and
scripts) can check the page against ``results.jsonl``.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.aggregate import JUDGE_METRICS, NOT_RUN, Record, summarize
from evals.charts import accuracy_chart, confusion_chart, latency_chart

RESULTS, SUMMARY, REPORT = "results.jsonl", "summary.json", "report.html"
COLUMNS = [("cases", "cases", "n"), ("accuracy", "accuracy", "pct"), ("fact_recall", "fact recall", "pct"),
           ("cited_hit_at_1", "cited hit@1", "pct"), ("answer_rate", "answer rate", "pct"),
           ("false_answer_rate", "false answers", "pct"),
           ("hit_at_1", "hit@1", "pct"), ("mrr", "MRR", "num"), ("context_recall", "ctx recall", "pct"),
           ("context_precision", "ctx precision", "pct"), ("chrf", "chrF", "num"), ("rouge_l", "ROUGE-L", "num"),
           ("escalation_precision", "esc. P", "pct"), ("escalation_recall", "esc. R", "pct"),
           ("queue_accuracy", "queue acc.", "pct"), ("language_match", "language", "pct"),
           ("persona_compliance", "persona", "pct"), ("latency_p50_ms", "p50 ms", "ms"),
           ("latency_p95_ms", "p95 ms", "ms")]
TOOL_COLUMN = ("tool_accuracy", "tool acc.", "pct")  # shown only for a run with cases that expect a tool call
_STYLE = """body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 24px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;vertical-align:top}th{background:#f3f5f8}
td.l,th.l{text-align:left}.fail td{background:#fff}.small{font-size:12px;color:#555}pre{white-space:pre-wrap;margin:0;
max-width:480px}.charts svg{max-width:100%;height:auto}.bad{color:#b00020}h2{margin-top:32px}"""


def write_run(out: Path, records: Sequence[Record], run: dict[str, Any]) -> dict[str, Any]:
    """Write the three files of a run folder; the summary."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / RESULTS).open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    summary = summarize(records, run=run)
    (out / SUMMARY).write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / REPORT).write_text(render(summary, records), encoding="utf-8")
    return summary


def fmt(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "ms":
        return f"{value:.0f}"
    if kind == "num":
        return f"{value:.3f}"
    return str(value)


def _ci(metrics: dict[str, Any]) -> str:
    ci = metrics.get("accuracy_ci")
    return f" <span class=small>[{100 * ci[0]:.1f}–{100 * ci[1]:.1f}]</span>" if ci else ""


def _table(groups: dict[str, dict[str, Any]], key_name: str, *, data: bool = False, tools: bool = False) -> str:
    columns = [*COLUMNS, TOOL_COLUMN] if tools else COLUMNS
    head = f"<tr><th class=l>{key_name}</th>" + "".join(f"<th>{label}</th>" for _, label, _ in columns) + "</tr>"
    rows = []
    for key, metrics in groups.items():
        attributes = ""
        if data:
            numbers = {name: metrics.get(name) for name, _, _ in columns}
            attributes = f" data-{key_name}=\"{html.escape(key)}\"" + "".join(
                f" data-{name.replace('_', '-')}=\"{'' if v is None else v}\"" for name, v in numbers.items())
        cells = "".join(
            f"<td>{fmt(metrics.get(name), kind)}{_ci(metrics) if name == 'accuracy' else ''}</td>"
            for name, _, kind in columns)
        rows.append(f"<tr{attributes}><td class=l>{html.escape(key)}</td>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _latency(stages: dict[str, dict[str, Any]]) -> str:
    rows = "".join(f"<tr><td class=l>{html.escape(stage)}</td><td>{v['n']}</td><td>{fmt(v['p50'], 'num')}</td>"
                   f"<td>{fmt(v['p95'], 'num')}</td></tr>" for stage, v in stages.items())
    return f"<table><tr><th class=l>stage</th><th>replies</th><th>p50 ms</th><th>p95 ms</th></tr>{rows}</table>"


def _failed(records: Sequence[Record]) -> str:
    rows = []
    for r in records:
        if r["scores"]["correct"]:
            continue
        case, reply, scores = r["case"], r["reply"] or {}, r["scores"]
        expected = "answer" if case["answerable"] else "decline (says it does not know, or hands off)"
        if case["escalate"]:
            expected = f"escalate ({case['queue'] or 'any queue'})"
        observed = scores["outcome"]
        if observed == "escalate":
            observed += f" ({(reply.get('escalation') or {}).get('queue')})"
        sources = ", ".join(dict.fromkeys(c["document_id"] for c in reply.get("citations", [])))
        problems = []
        if scores.get("facts_missing"):
            problems.append("missing: " + ", ".join(scores["facts_missing"]))
        if scores.get("forbidden_found"):
            problems.append("forbidden: " + ", ".join(scores["forbidden_found"]))
        if r.get("error"):
            problems.append(f"error [{r['error']['code']}]: {r['error']['message']}")
        if scores.get("tool_called") == 0.0:
            problems.append(f"tool: expected {_tool(case['tool'])}; got "
                            + (", ".join(_tool(c) for c in reply.get("tool_calls") or []) or "no call"))
        message = "\n".join(f"(earlier) {m}" for m in case["history"]) + ("\n" if case["history"] else "")
        rows.append(
            f"<tr><td class=l>{html.escape(case['id'])}</td><td class=l>{case['market']}</td>"
            f"<td class=l>{case['language']}</td>"
            f"<td class=l><pre dir=auto>{html.escape(message + case['message'])}</pre></td>"
            f"<td class=l>{html.escape(expected)}<br><span class=small>{html.escape(', '.join(case['tags']))}"
            f"</span></td><td class=l>{html.escape(observed)}</td>"
            f"<td class=l><pre dir=auto>{html.escape(reply.get('text', ''))}</pre></td>"
            f"<td class=l>{html.escape(sources) or '–'}<br><span class=small>expected: "
            f"{html.escape(', '.join(case['sources'])) or '–'}</span></td>"
            f"<td class='l bad'>{html.escape('; '.join(problems)) or '–'}</td></tr>")
    head = ("<tr><th class=l>case</th><th class=l>market</th><th class=l>lang</th><th class=l>message</th>"
            "<th class=l>expected</th><th class=l>got</th><th class=l>reply</th><th class=l>sources</th>"
            "<th class=l>what was wrong</th></tr>")
    return f"<p>{len(rows)} failed case(s).</p><table>{head}{''.join(rows)}</table>"


def _tool(call: dict[str, Any]) -> str:
    arguments = ", ".join(f"{k}={v}" for k, v in (call.get("arguments") or {}).items())
    return f"{call.get('name') or call.get('tool')}({arguments}) {call.get('status', 'ok')}"


def render(summary: dict[str, Any], records: Sequence[Record]) -> str:
    run, overall = summary["run"], summary["overall"]
    stages: dict[str, list[float]] = defaultdict(list)
    for r in records:
        for stage, ms in ((r["reply"] or {}).get("timings_ms") or {}).items():
            stages[stage].append(ms)
    judge = summary["judge"]
    tools = "tool_accuracy" in overall
    judge_line = (f"LLM judge: {NOT_RUN} (run with --judge MODEL for faithfulness, answer relevancy and answer "
                  "correctness)" if judge == NOT_RUN else
                  "LLM judge " + html.escape(str(judge)) + ": " + ", ".join(
                      f"{name} {fmt(overall.get(name), 'num')}" for name in JUDGE_METRICS))
    meta = ", ".join(f"{k}: {html.escape(', '.join(map(str, v)) if isinstance(v, list) else str(v))}"
                     for k, v in run.items() if k != "judge")
    charts = [accuracy_chart(summary["by_market"]), confusion_chart(summary["escalation_confusion"]),
              latency_chart(stages.get("total", []), stages)]
    sections = [
        f"<h1>polydesk eval run {html.escape(str(run.get('id', '')))}</h1><p class=small>{meta}</p>",
        f"<p><b>accuracy {fmt(overall['accuracy'], 'pct')}</b>{_ci(overall)} over {overall['cases']} cases "
        f"({overall['errors']} errors); escalation P {fmt(overall['escalation_precision'], 'pct')} / "
        f"R {fmt(overall['escalation_recall'], 'pct')}; language {fmt(overall['language_match'], 'pct')}; "
        f"persona {fmt(overall['persona_compliance'], 'pct')}; cited hit@1 "
        f"{fmt(overall.get('cited_hit_at_1'), 'pct')}, answer rate {fmt(overall.get('answer_rate'), 'pct')}, "
        f"false answers {fmt(overall.get('false_answer_rate'), 'pct')}"
        + (f", tool accuracy {fmt(overall['tool_accuracy'], 'pct')}" if tools else "")
        + f".</p><p class=small>{judge_line}</p>",
        "<h2>Per market</h2>", _table(summary["by_market"], "market", data=True, tools=tools),
        "<div class=charts>" + "".join(charts) + "</div>",
        "<h2>Latency per stage</h2>", _latency(summary["latency_ms"]),
        "<h2>Per language</h2>", _table(summary["by_language"], "language", tools=tools),
        "<h2>Per channel</h2>", _table(summary["by_channel"], "channel", tools=tools),
        "<h2>Per tag</h2>", _table(summary["by_tag"], "tag", tools=tools),
        "<h2>Failed cases</h2>", _failed(records),
    ]
    return ("<!doctype html><html><head><meta charset=utf-8><title>polydesk eval "
            f"{html.escape(str(run.get('id', '')))}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(sections) + "</body></html>")
