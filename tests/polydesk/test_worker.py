"""The background loop: real daemon threads, bounded waits, and no assertion on how long anything takes."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from polydesk.worker import BACKGROUND_NICE, Worker, lower_priority

pytestmark = pytest.mark.unit

PATIENCE_S = 10.0  # generous: "happens eventually" on a busy machine


def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.005)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Workers a test made; stopped afterwards, so no thread outlives its test."""
    made: list[Worker] = []
    yield made
    for worker in made:
        worker.stop(PATIENCE_S)


def test_a_step_with_more_work_runs_again_at_once_and_an_idle_one_waits(workers: list[Worker]) -> None:
    calls: list[int] = []

    def step() -> bool:
        calls.append(len(calls))
        return len(calls) < 5  # four times "more may be waiting", then idle

    workers.append(worker := Worker("test-worker", step, poll_s=3600, max_backoff_s=3600))
    worker.start()
    eventually(lambda: len(calls) == 5)
    assert worker.stop(PATIENCE_S)  # the idle wait ends at once when stopped
    assert len(calls) == 5  # the idle step was not followed by another within the hour


def test_wake_ends_an_idle_wait_but_not_the_wait_after_a_failure(workers: list[Worker]) -> None:
    calls: list[str] = []
    failing = threading.Event()

    def step() -> bool:
        calls.append("step")
        if failing.is_set():
            raise RuntimeError("the copy cannot be made")
        return False  # idle: the next step after an hour, unless woken

    workers.append(worker := Worker("test-worker", step, poll_s=3600, max_backoff_s=7200))
    worker.start()
    eventually(lambda: len(calls) == 1)
    worker.wake()
    eventually(lambda: len(calls) == 2)
    failing.set()
    worker.wake()
    eventually(lambda: len(calls) == 3)  # it failed: the next try waits two hours
    worker.wake()
    time.sleep(0.5)
    assert len(calls) == 3
    assert worker.stop(PATIENCE_S)


def test_a_failing_step_is_logged_and_the_loop_goes_on(workers: list[Worker],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    outcomes = iter([RuntimeError("redis is down"), RuntimeError("still down"), RuntimeError("down"), True])
    done = threading.Event()

    def step() -> bool:
        outcome = next(outcomes, None)
        if isinstance(outcome, Exception):
            raise outcome
        done.set()
        return False

    owner = logging.getLogger("tests.owner")
    workers.append(worker := Worker("test-worker", step, poll_s=0.001, max_backoff_s=0.01, label="delivery",
                                    log=owner))
    with caplog.at_level(logging.ERROR, logger="tests.owner"):
        worker.start()
        assert done.wait(PATIENCE_S)
        assert worker.running
    failures = [r for r in caplog.records if r.name == "tests.owner"]
    assert [r.getMessage() for r in failures] == [f"delivery pass failed ({n} in a row)" for n in (1, 2, 3)]
    assert all(r.exc_info is not None for r in failures)


def test_the_wait_doubles_with_each_failure_up_to_the_cap() -> None:
    worker = Worker("test-worker", lambda: False, poll_s=0.2, max_backoff_s=25.6)
    assert [worker.backoff_s(n) for n in range(9)] == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 25.6]
    assert worker.backoff_s(100_000) == 25.6  # a long outage does not overflow


def test_start_is_idempotent_and_a_stopped_worker_starts_again(workers: list[Worker]) -> None:
    steps = threading.Semaphore(0)

    def step() -> bool:
        steps.release()
        return False

    workers.append(worker := Worker("polydesk-test-loop", step, poll_s=0.001, max_backoff_s=0.01))
    first = worker.start()
    assert worker.start() is first and worker.running and not worker.stopping
    assert first.name == "polydesk-test-loop" and first.daemon
    assert steps.acquire(timeout=PATIENCE_S)
    assert worker.stop(PATIENCE_S)
    assert not first.is_alive() and not worker.running and worker.stopping
    second = worker.start()
    assert second is not first and not worker.stopping
    assert steps.acquire(timeout=PATIENCE_S)  # the new thread steps too


def test_on_start_runs_in_the_thread_before_the_first_step(workers: list[Worker]) -> None:
    seen: list[str] = []

    def on_start() -> None:
        seen.append(f"ready in {threading.current_thread().name}")

    def step() -> bool:
        seen.append("step")
        return False

    workers.append(worker := Worker("polydesk-test-loop", step, poll_s=3600, max_backoff_s=3600, on_start=on_start))
    worker.start()
    eventually(lambda: "step" in seen)
    assert seen == ["ready in polydesk-test-loop", "step"]


def test_a_failing_on_start_is_logged_and_the_steps_run_anyway(workers: list[Worker],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    stepped = threading.Event()

    def on_start() -> None:
        raise OSError("the model cache is not writable")

    def step() -> bool:
        stepped.set()
        return False

    workers.append(worker := Worker("test-worker", step, poll_s=3600, max_backoff_s=3600, on_start=on_start,
                                    label="ingestion worker"))
    with caplog.at_level(logging.ERROR, logger="polydesk.worker"):
        worker.start()
        assert stepped.wait(PATIENCE_S)
    [record] = [r for r in caplog.records if r.name == "polydesk.worker"]
    assert "ingestion worker" in record.getMessage() and record.exc_info is not None


def test_a_long_step_sees_stopping_and_gives_up_early(workers: list[Worker]) -> None:
    started = threading.Event()

    def step() -> bool:
        started.set()
        while not worker.stopping:
            time.sleep(0.005)
        return True

    workers.append(worker := Worker("test-worker", step, poll_s=3600, max_backoff_s=3600))
    thread = worker.start()
    assert started.wait(PATIENCE_S)
    assert worker.stop(PATIENCE_S)  # "more may be waiting", but the loop ends when stopped
    assert not thread.is_alive()


def test_stop_gives_up_on_a_step_that_does_not_end_and_says_so(workers: list[Worker],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    release, started = threading.Event(), threading.Event()

    def step() -> bool:
        started.set()
        release.wait(PATIENCE_S)  # ignores stopping: a stuck call
        return False

    workers.append(worker := Worker("polydesk-stuck", step, poll_s=3600, max_backoff_s=3600, label="delivery"))
    thread = worker.start()
    assert started.wait(PATIENCE_S)
    with caplog.at_level(logging.WARNING, logger="polydesk.worker"):
        assert worker.stop(0.01) is False
    assert thread.is_alive() and not worker.running
    assert any("delivery" in r.getMessage() and "polydesk-stuck" in r.getMessage() and "did not stop" in
               r.getMessage() for r in caplog.records)
    release.set()
    thread.join(PATIENCE_S)
    assert not thread.is_alive()  # once the step returns, the thread ends: it was told to stop


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own CPU priority is Linux's")
def test_lower_priority_lowers_the_calling_thread_only() -> None:
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    with ThreadPoolExecutor(1, initializer=lower_priority) as runner:  # how the ingestion jobs run
        seen = runner.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result()
    assert seen == min(19, before + BACKGROUND_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before  # the caller's thread: untouched
