"""The order-status suite run in-process on the demo brand, as `polydesk eval run evals/suites/tools/` runs it:
the brand folder with the tool (POLYDESK_PERSONAS_DIR=demo/tidewell) and the demo order service running
(`polydesk demo-orders`; here started by the test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from api.cli.demo_orders import DEMO_DIR, running_order_service
from api.runtime import Runtime
from evals.aggregate import summarize
from evals.metrics import CaseScorer
from evals.runner import InProcessTarget, run_cases
from evals.suite import SUITES_DIR, load_suites
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from personas import PersonaCatalog
from polydesk.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def order_records(demo: tuple[IngestReport, KnowledgeIndex],
                  open_runtime: Callable[[KnowledgeIndex, Settings], Runtime],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, Any]]]:
    _, index = demo
    settings = Settings(data_dir=tmp_path_factory.mktemp("tool-evals"), personas_dir=DEMO_DIR,  # type: ignore[call-arg]
                        _env_file=None)
    with running_order_service():
        runtime = open_runtime(index, settings)
        try:
            scorer = CaseScorer(catalog=PersonaCatalog.load(DEMO_DIR), tenant="tidewell")
            yield run_cases(load_suites([SUITES_DIR / "tools"]), InProcessTarget(runtime.agent, tenant="tidewell"),
                            run_id="t-tools", scorer=scorer)
        finally:
            runtime.close()


def test_the_order_suite_calls_the_tool_as_expected(order_records: list[dict[str, Any]]) -> None:
    summary = summarize(order_records)
    overall = summary["overall"]
    assert overall["errors"] == 0
    assert overall["tool_accuracy"] == 1.0, [r["case"]["id"] for r in order_records if not r["scores"]["tool_called"]]
    assert overall["accuracy"] >= 0.9, [r["case"]["id"] for r in order_records if not r["scores"]["correct"]]
    by_tag = summary["by_tag"]
    for tag in ("in-message", "earlier-turn", "missing-number", "not-found"):
        assert by_tag[tag]["tool_accuracy"] == 1.0, tag
    calls = [c for r in order_records for c in (r["reply"] or {}).get("tool_calls", [])]
    assert all(c["latency_ms"] < 1000 for c in calls)
    assert all(not r["reply"]["tool_calls"] for r in order_records if "no-tool" in r["case"]["tags"])
