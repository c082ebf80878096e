"""The throughput bench's verdicts: each target it measured, held or not, from the figures of one run."""

from __future__ import annotations

from typing import Any

from bench.throughput import PEER, targets


def _level(answers_per_s: float, p95_ms: float) -> dict[str, Any]:
    return {"answers_per_s": answers_per_s, "p95_ms": p95_ms}


def _result(*, rate_64: float, p95_64: float, peer_16: float, wait_ms: float, others: dict[str, int],
            ratio: float, own_p95: float) -> dict[str, Any]:
    return {"queue_budget_ms": 500,
            "levels": {"polydesk --workers 2": {"1": _level(80, 17), "16": _level(170, 116),
                                                 "64": _level(rate_64, p95_64)},
                       PEER: {"16": _level(peer_16, 690), "64": _level(27, 3100)}},
            "overload": {"longest_queue_ms_of_any_run": wait_ms, "other_statuses": others},
            "ingest_while_serving": {"p95_ratio": ratio},
            "llm_overhead": {"overhead_p95_ms": own_p95}}


def test_every_measured_target_gets_a_verdict_and_each_holds_when_its_figures_do() -> None:
    verdicts = targets(_result(rate_64=310, p95_64=224, peer_16=28, wait_ms=487, others={}, ratio=1.34,
                               own_p95=12.1), workers=2)
    assert len(verdicts) == 7
    assert all(met for _, _, met in verdicts), verdicts


def test_a_target_missed_on_any_of_its_figures_is_reported_not_met() -> None:
    verdicts = {target: met for target, _, met in targets(_result(
        rate_64=183, p95_64=419, peer_16=40, wait_ms=512, others={"500": 1}, ratio=1.51, own_p95=20.4), workers=2)}
    assert not verdicts["64 clients: >= 150 answers/s, p95 <= 250 ms"]  # the rate holds, the p95 does not
    assert not verdicts["16 clients: >= 5x the tutorial service"]  # 170 / 40 = 4.25x
    assert verdicts["64 clients: >= 5x the tutorial service"]
    assert verdicts["1 client: p95 <= 40 ms"]
    assert not verdicts["own time around an instant LLM, 16 clients: p95 <= 20 ms"]
    assert not verdicts["past capacity: no wait beyond the queue budget, only 200 and 503 + Retry-After"]
    assert not verdicts["p95 at 16 clients while 500 files are ingested <= 1.5x idle"]


def test_parts_the_run_skipped_get_no_verdict() -> None:
    result = {"levels": {"polydesk --workers 1": {"16": _level(90, 200)}}}
    assert targets(result, workers=1) == []
