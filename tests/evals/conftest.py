"""An agent on the demo brand for the eval tests (the same pattern as tests/agent/conftest.py), and a small
scored run of the demo suites shared by the tests that read a run folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent.pipeline import Agent
from api.runtime import Runtime
from evals.runner import InProcessTarget, run_cases
from evals.suite import SUITES_DIR, Case, load_suites
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings


@pytest.fixture(scope="session")
def eval_runtime(demo: tuple[IngestReport, KnowledgeIndex],
                 open_runtime: Callable[[KnowledgeIndex, Settings], Runtime],
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    _, index = demo
    runtime = open_runtime(index, Settings(data_dir=tmp_path_factory.mktemp("eval-agent"), _env_file=None))  # type: ignore[call-arg]
    yield runtime
    runtime.close()


@pytest.fixture(scope="session")
def eval_agent(eval_runtime: Runtime) -> Agent:
    return eval_runtime.agent


def sample_cases(per_market: int = 3) -> list[Case]:
    """A few cases of every demo market: the first answerable ones, a follow-up, an escalation, an unknown."""
    picked: list[Case] = []
    for path in sorted(SUITES_DIR.glob("tidewell-*.jsonl")):
        cases = load_suites([path])
        kinds = [next(c for c in cases if c.expect == "answer"), next(c for c in cases if c.history),
                 next(c for c in cases if c.escalate), next(c for c in cases if c.expect == "decline")]
        picked += kinds[:per_market]
    return picked


@pytest.fixture(scope="session")
def sample_records(eval_agent: Agent) -> list[dict[str, Any]]:
    return run_cases(sample_cases(4), InProcessTarget(eval_agent, tenant="tidewell"), run_id="t-sample")
