"""Comparing runs and gating a release: a seeded regression must fail the gate (exit 1), noise must not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli.evals import eval_app
from evals.aggregate import summarize
from evals.compare import Gates, check_gates, compare_runs, market_changes

pytestmark = pytest.mark.unit

GATES = """accuracy_min: 0.5
escalation_recall_min: 0.5
max_errors: 0
max_drop_points: 10
drop_must_be_significant: true
"""


def make_records(broken: dict[str, int] | None = None, fixed: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """30 cases per market, 24 right; ``broken`` turns that many right cases of a market wrong, ``fixed`` that
    many wrong ones right."""
    records = []
    for market in ("DE", "TH", "JP"):
        for i in range(30):
            right = (i < 24 and i >= (broken or {}).get(market, 0)) or 24 <= i < 24 + (fixed or {}).get(market, 0)
            records.append({
                "case": {"id": f"{market.lower()}-{i}", "market": market, "language": "x", "channel": "web",
                         "escalate": i == 29, "queue": None, "answerable": True, "tags": [], "history": [],
                         "message": "m", "sources": []},
                "reply": {"status": "answered", "text": "t", "language": "x", "citations": [],
                          "escalation": {"escalate": i == 29, "queue": "support"}, "timings_ms": {"total": 5.0}},
                "error": None,
                "scores": {"correct": right, "outcome": "escalate" if i == 29 else "answer"},
            })
    return records


def write(folder: Path, records: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True)
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_market_changes_are_paired_and_significant_only_when_real() -> None:
    changes = market_changes(make_records(), make_records({"DE": 12, "TH": 1}))
    de, th, jp = changes["DE"], changes["TH"], changes["JP"]
    assert de["paired"] and de["delta_points"] == -40.0 and de["significant"]
    assert de["broken"] == sorted(f"de-{i}" for i in range(12)) and de["fixed"] == []
    assert th["delta_points"] == pytest.approx(-3.33, abs=0.01) and not th["significant"]
    assert jp["delta_points"] == 0.0 and not jp["significant"]


def test_gates_on_a_summary() -> None:
    gates = Gates.model_validate({"accuracy_min": 0.7, "accuracy_min_by_market": {"TH": 0.9},
                                  "escalation_recall_min": 1.0})
    results = {(g.gate, g.scope): g.passed for g in check_gates(summarize(make_records()), gates)}
    assert results == {("accuracy_min", "DE"): True, ("accuracy_min", "JP"): True, ("accuracy_min", "TH"): False,
                       ("escalation_recall_min", "all"): True}


def test_compare_cli_exits_non_zero_on_a_seeded_regression(tmp_path: Path) -> None:
    baseline = write(tmp_path / "a", make_records())
    regressed = write(tmp_path / "b", make_records({"DE": 12}))
    noisy = write(tmp_path / "c", make_records({"TH": 1}))
    gates = tmp_path / "gates.yaml"
    gates.write_text(GATES)
    runner = CliRunner()

    failed = runner.invoke(eval_app, ["compare", str(baseline), str(regressed), "--gates", str(gates)])
    assert failed.exit_code == 1, failed.output
    assert "FAIL max_drop_points [DE]" in failed.output

    passed = runner.invoke(eval_app, ["compare", str(baseline), str(noisy), "--gates", str(gates), "--json"])
    assert passed.exit_code == 0, passed.output
    result = json.loads(passed.output)
    assert result["passed"] and result["markets"]["TH"]["delta_points"] < 0

    no_gates = runner.invoke(eval_app, ["compare", str(baseline), str(regressed)])
    assert no_gates.exit_code == 0                                            # without gates nothing blocks


def test_a_drop_within_noise_blocks_only_when_asked() -> None:
    a, b = make_records(), make_records({"TH": 6}, {"TH": 2})                # 6 broke, 2 fixed: -13.3 points
    changes = market_changes(a, b)
    assert changes["TH"]["delta_points"] == pytest.approx(-13.33, abs=0.01)
    assert not changes["TH"]["significant"]                                  # ... which 30 cases cannot tell
    strict = Gates(max_drop_points=10, drop_must_be_significant=False)
    lenient = Gates(max_drop_points=10, drop_must_be_significant=True)
    assert not next(g for g in check_gates(summarize(b), strict, changes) if g.scope == "TH").passed
    assert next(g for g in check_gates(summarize(b), lenient, changes) if g.scope == "TH").passed


def test_compare_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    from polydesk.errors import InputError

    with pytest.raises(InputError, match="not a run folder"):
        compare_runs(tmp_path, tmp_path)
    gates = tmp_path / "g.yaml"
    gates.write_text("accuracy_minimum: 0.5\n")
    with pytest.raises(InputError, match="gates file"):
        Gates.load(gates)


def test_run_gates_fail_the_run_command(capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli.evals import _report_gates

    summary = summarize(make_records({"DE": 12}), run={"id": "r"})
    assert _report_gates(summary, Gates(accuracy_min=0.6), as_json=True, extra={"run_folder": "x"}) is True
    printed = json.loads(capsys.readouterr().out)
    assert printed["passed"] is False and printed["run_folder"] == "x"
    assert [g["scope"] for g in printed["gates"] if not g["passed"]] == ["DE"]
    assert _report_gates(summary, Gates(accuracy_min=0.4), as_json=False, extra={}) is False
    assert "PASS accuracy_min [DE]" in capsys.readouterr().out
