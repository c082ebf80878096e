"""A real run on the demo brand: the report and summary are recomputed here from results.jsonl alone."""

from __future__ import annotations

import json
import re
import statistics
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli.evals import eval_app
from evals.aggregate import read_results
from evals.report import write_run
from evals.runner import InProcessTarget, run_cases
from evals.suite import SUITES_DIR

from .conftest import sample_cases

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("**", "")
    return re.sub(r"\s+", " ", re.sub(r"[–—〜~]", "-", text))


def _states(text: str, fact: str) -> bool:
    """An independent reading of a fact check (see evals/facts.py for the rules)."""
    for spelling in fact.split("|"):
        needle = _normal(spelling)
        for match in re.finditer(re.escape(needle), _normal(text)):
            before = _normal(text)[:match.start()]
            after = _normal(text)[match.end():]
            if needle[0].isdigit() and re.search(r"[0-9][.,]?$", before):
                continue
            if needle[-1].isdigit() and re.match(r"^[.,]?[0-9]", after):
                continue
            return True
    return False


def _recomputed_correct(record: dict[str, Any]) -> bool:
    case, reply = record["case"], record["reply"]
    if reply is None:
        return False
    escalated = reply["status"] == "handed_off" or reply["escalation"]["escalate"]
    outcome = "escalate" if escalated else ("answer" if reply["citations"] else "decline")
    text = reply["text"]
    forbidden = any(_states(text, f) for f in case["must_not_contain"])
    if case["escalate"]:
        return outcome == "escalate"
    if not case["answerable"]:
        return outcome != "answer" and not forbidden
    return outcome == "answer" and all(_states(text, f) for f in case["must_contain"]) and not forbidden


@pytest.fixture(scope="module")
def run_folder(sample_records: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run") / "r1"
    write_run(folder, sample_records, {"id": "r1", "generator": "extractive"})
    return folder


def test_report_numbers_are_recomputed_from_results(run_folder: Path) -> None:
    records = read_results(run_folder / "results.jsonl")
    summary = json.loads((run_folder / "summary.json").read_text(encoding="utf-8"))
    page = (run_folder / "report.html").read_text(encoding="utf-8")
    markets: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        markets[r["case"]["market"]].append(r)
    assert len(markets) == 16 and set(summary["by_market"]) == set(markets)
    for market, rows in markets.items():
        accuracy = round(sum(_recomputed_correct(r) for r in rows) / len(rows), 4)
        positives = [r for r in rows if r["case"]["escalate"]]
        flagged = [r for r in rows if r["reply"]["status"] == "handed_off" or r["reply"]["escalation"]["escalate"]]
        recall = round(sum(r in flagged for r in positives) / len(positives), 4)
        precision = round(sum(r in positives for r in flagged) / len(flagged), 4) if flagged else None
        p50 = round(statistics.quantiles([r["reply"]["timings_ms"]["total"] for r in rows], n=100,
                                         method="inclusive")[49], 3)
        shown = summary["by_market"][market]
        assert (shown["accuracy"], shown["escalation_recall"], shown["escalation_precision"]) == \
            (accuracy, recall, precision), market
        assert shown["latency_p50_ms"] == pytest.approx(p50, abs=0.002)
        row = re.search(rf'<tr data-market="{market}"[^>]*>', page)
        assert row, market
        assert f'data-accuracy="{accuracy}"' in row.group(0)
        assert f'data-escalation-recall="{recall}"' in row.group(0)
        cells = page[row.end():page.index("</tr>", row.end())]
        assert f"{100 * accuracy:.1f}%" in cells


def test_report_is_self_contained_with_charts_and_failures(run_folder: Path) -> None:
    page = (run_folder / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 3
    assert "<script" not in page and 'src="http' not in page and "<link" not in page
    records = read_results(run_folder / "results.jsonl")
    failed = [r for r in records if not r["scores"]["correct"]]
    assert f"<p>{len(failed)} failed case(s).</p>" in page
    for r in failed:
        assert f"<td class=l>{r['case']['id']}</td>" in page
    assert "LLM judge: not run" in page


def test_every_case_has_a_reply_and_scores(sample_records: list[dict[str, Any]]) -> None:
    assert all(r["error"] is None and r["reply"] for r in sample_records)
    # The metrics can fail: on the demo some cases do, some do not.
    assert 0 < sum(r["scores"]["correct"] for r in sample_records) < len(sample_records)
    follow_up = next(r for r in sample_records if r["case"]["history"])
    assert follow_up["reply"]["conversation_id"] == f"eval-t-sample-{follow_up['case']['id']}"


def test_concurrency_does_not_change_results(eval_agent: Any, sample_records: list[dict[str, Any]]) -> None:
    cases = sample_cases(4)[:16]
    parallel = run_cases(cases, InProcessTarget(eval_agent, tenant="tidewell"), run_id="t-par", concurrency=2)
    sequential = {r["case"]["id"]: r for r in sample_records}
    for r in parallel:
        other = sequential[r["case"]["id"]]
        assert (r["scores"]["correct"], r["scores"]["outcome"]) == (other["scores"]["correct"],
                                                                     other["scores"]["outcome"]), r["case"]["id"]


def test_cli_run_refuses_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(eval_app, ["run", str(tmp_path / "nope-*.jsonl")])
    assert missing.exit_code == 2 and "no suite file" in missing.output
    generator = runner.invoke(eval_app, ["run", str(SUITES_DIR / "tidewell-de.jsonl"), "--generator", "gpt"])
    assert generator.exit_code == 2 and "extractive or llm" in generator.output
    no_key = runner.invoke(eval_app, ["run", str(SUITES_DIR / "tidewell-de.jsonl"), "--against", "http://x"])
    assert no_key.exit_code == 2 and "--api-key" in no_key.output
    nothing = runner.invoke(eval_app, ["run", str(SUITES_DIR / "tidewell-de.jsonl"), "--market", "FR"])
    assert nothing.exit_code == 2 and "no cases" in nothing.output
