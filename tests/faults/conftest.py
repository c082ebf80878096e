"""The fault scenarios whose verdicts are counts run two at a time, in the background.

A scenario spends most of its time waiting (``polydesk serve`` starting, Redis restarting, a job's lease running
out). Those judged by counts only (nothing lost, half-written, mixed or out of order) are marked
``@pytest.mark.scenario(NAME)``: when the first of them runs, every selected one is started, two at a time, and
each test waits for its own result. The scenarios that judge deadlines (a slow Redis, a hanging LLM) run alone
and first (``test_deadlines.py`` sorts before the others), with nothing in the background.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from bench.fault_kit import FaultResult
from bench.faults import scenarios


@pytest.fixture(scope="session")
def scenario_runs(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[FaultResult]]]:
    found, _ = scenarios()
    marked = [item.get_closest_marker("scenario") for item in request.session.items]
    names = list(dict.fromkeys(marker.args[0] for marker in marked if marker is not None))
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="polydesk-fault") as pool:
        runs = {name: pool.submit(found[name], workdir=tmp_path_factory.mktemp(name)) for name in names}
        yield runs
        for run in runs.values():
            run.cancel()


@pytest.fixture
def scenario(request: pytest.FixtureRequest, scenario_runs: dict[str, Future[FaultResult]]) -> FaultResult:
    """The result of the test's ``@pytest.mark.scenario(NAME)``, run in the background."""
    marker = request.node.get_closest_marker("scenario")
    assert marker is not None, "mark the test with @pytest.mark.scenario(NAME)"
    return scenario_runs[marker.args[0]].result(timeout=900)
