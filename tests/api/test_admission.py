"""Admission control: a few answers at work at once, a bounded wait, then ``503 overloaded`` with ``Retry-After``.

The only slot is held by a real request that waits for its conversation (the test holds the conversation's
lock in Redis, as a second message of the same conversation would, and such a wait keeps its slot here);
meanwhile a new request is refused after the queue budget, or, with ``POLYDESK_DEGRADED_REPLY``, gets the safe
reply and its message is kept for a person.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from agent.state import LOCK_PREFIX
from api.admission import Admission, _Slots
from api.app import create_app
from api.runtime import Runtime
from knowledge.batching import QueryBatcher
from knowledge.index import KnowledgeIndex
from polydesk.errors import OverloadedError
from polydesk.settings import Settings
from polydesk.waiting import remote_wait
from tests.api.conftest import KEYS, ApiHarness


@contextmanager
def _follow_up_waiting(api: ApiHarness, client: TestClient) -> Iterator[list[Any]]:
    """A follow-up admitted (it took the app's only answer slot) and waiting for its conversation's lock, held
    here until the block ends; then it is answered."""
    services = client.app.state.services  # type: ignore[attr-defined]
    first = client.post("/v1/answer", headers=api.headers("connector"),
                        json={"message": "Wie lange dauert der Versand?", "market": "DE", "channel": "web"})
    assert first.status_code == 200, first.text
    conversation_id = first.json()["conversation_id"]
    done: list[Any] = []
    with services.conversations.lock("tidewell", conversation_id):
        waiting = threading.Thread(target=lambda: done.append(client.post(
            "/v1/answer", headers=api.headers("connector"), json={
                "message": "Und wie teuer ist er?", "market": "DE", "channel": "web",
                "conversation_id": conversation_id})))
        waiting.start()
        deadline = time.monotonic() + 30
        while services.admission.busy < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            assert services.admission.busy == 1
            yield done
            assert not done, "the follow-up waits for its conversation"
        finally:  # a failed check still lets the follow-up end before the app stops
            services.conversations.client.delete(f"{LOCK_PREFIX}:tidewell:{conversation_id}")
            waiting.join(timeout=60)
    assert done and done[0].status_code == 200, "the admitted request is answered once its conversation is free"


@pytest.fixture
def waits_keep_their_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wait on another service (here: a follow-up's wait for its conversation) keeps its slot for 60 s."""
    monkeypatch.setattr("polydesk.waiting.LEND_AFTER_S", 60.0)


def test_a_follow_up_waiting_for_its_conversation_lends_its_slot_to_other_customers(
        api: ApiHarness, app_on: Callable[..., TestClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One slot. A follow-up waits for its conversation (the message before it still being answered): once the
    wait has lasted the lending delay, its slot goes to another customer's message, answered meanwhile."""
    monkeypatch.setattr("polydesk.waiting.LEND_AFTER_S", 0.5)  # long enough to see the slot held first
    with app_on(api.services.redis, tmp_path, answer_concurrency=1, answer_queue_ms=100) as client:
        admission = client.app.state.services.admission  # type: ignore[attr-defined]
        with _follow_up_waiting(api, client):
            deadline = time.monotonic() + 30
            while admission.busy > 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            other = client.post("/v1/answer", headers=api.headers("connector"),
                                json={"message": "Berapa lama pengiriman ke Jakarta?", "market": "ID",
                                      "channel": "whatsapp"})
            assert other.status_code == 200, other.text
            assert other.json()["language"] == "id"


@pytest.mark.usefixtures("waits_keep_their_slot")
def test_a_message_waiting_for_its_turn_is_embedded_in_the_run_of_the_answer_before_it(
        api: ApiHarness, tmp_path: Path) -> None:
    """One slot, held by a follow-up waiting for its conversation; a new message waits behind it. When the
    follow-up is answered, its model run embeds the waiting message too, which then takes that row instead of
    running the model, and is answered as it would be alone."""
    batcher = QueryBatcher(api.services.index.embedder)
    index = KnowledgeIndex(store=api.services.index.store, embedder=batcher)
    settings = Settings(data_dir=tmp_path, answer_concurrency=1, answer_queue_ms=60_000,  # type: ignore[call-arg]
                        _env_file=None)
    runtime = Runtime.open(settings, index=index, redis_client=api.services.redis,
                           escalation=api.services.agent.escalation_policy)
    message = {"message": "返品は何日以内ですか", "market": "JP", "channel": "line"}
    try:
        with TestClient(create_app(settings, runtime=runtime, keys=KEYS, background=False),
                        raise_server_exceptions=False) as client:
            waiting: list[Any] = []
            behind = threading.Thread(target=lambda: waiting.append(
                client.post("/v1/answer", headers=api.headers("connector"), json=message)))
            with _follow_up_waiting(api, client):
                behind.start()
                deadline = time.monotonic() + 30
                while message["message"] not in batcher._expected and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert message["message"] in batcher._expected
            behind.join(timeout=60)
    finally:
        runtime.close()
    assert (batcher.stats.ahead, batcher.stats.taken) == (1, 1)
    assert waiting and waiting[0].status_code == 200, waiting
    reply = waiting[0].json()
    assert reply["status"] == "answered" and reply["language"] == "ja" and reply["citations"]
    assert batcher._expected == {} and batcher._ahead == {}


@pytest.mark.usefixtures("waits_keep_their_slot")
def test_past_the_queue_budget_a_request_gets_503_overloaded_with_retry_after(
        api: ApiHarness, app_on: Callable[..., TestClient], tmp_path: Path) -> None:
    with app_on(api.services.redis, tmp_path, answer_concurrency=1, answer_queue_ms=100) as client:
        with _follow_up_waiting(api, client):
            refused = client.post("/v1/answer", headers=api.headers("connector"),
                                  json={"message": "返品は何日以内ですか", "market": "JP", "channel": "line"})
            admission = client.app.state.services.admission  # type: ignore[attr-defined]
            assert 0 < admission.place_s < 1  # measured on the first: its wait, a place in the queue
            admission.place_s = 1.0  # as a longer queue would measure it: the next request is hopeless
            streamed = client.post("/v1/answer/stream", headers=api.headers("connector"),
                                   json={"message": "Posso pagar com Pix?", "market": "BR", "channel": "whatsapp"})
        # The wait the server saw, for the caller's dashboards, and its part in the admission's queue: the first
        # waited there; the second was refused at the door.
        waited = []
        for response in (refused, streamed):
            assert response.status_code == 503 and response.json()["code"] == "overloaded"
            assert int(response.headers["Retry-After"]) >= 1
            parts = (part.strip().split(";dur=") for part in response.headers["Server-Timing"].split(","))
            waited.append({name: float(ms) for name, ms in parts})
            assert waited[-1]["queue"] > 0
        assert 0 < waited[0]["admission"] <= waited[0]["queue"]
        assert "admission" not in waited[1]
        assert "polydesk_overloaded_requests_total 2.0" in client.get("/metrics").text


@pytest.mark.usefixtures("waits_keep_their_slot")
def test_with_the_degraded_reply_an_overloaded_request_is_kept_for_a_person(
        api: ApiHarness, app_on: Callable[..., TestClient], tmp_path: Path) -> None:
    with app_on(api.services.redis, tmp_path, answer_concurrency=1, answer_queue_ms=100,
                degraded_reply=True) as client:
        with _follow_up_waiting(api, client):
            response = client.post("/v1/answer", headers=api.headers("connector"), json={
                "message": "ส่งฟรีเมื่อซื้อครบเท่าไหร่", "market": "TH", "channel": "line", "customer_id": "line-u1"})
        assert response.status_code == 200, response.text
        reply = response.json()
        assert reply["language"] == "th" and reply["generator"] == "none"
        assert reply["fallback_reason"] == "dependency_unavailable"
        kept = [json.loads(line) for line in (tmp_path / "inbox" / "pending.jsonl").read_text().splitlines()]
        assert [k["reason"] for k in kept] == ["overloaded"]
        assert kept[0]["request"]["conversation_id"] == reply["conversation_id"]


async def _behind_a_long_answer(admission: Admission, long: Callable[[], str],
                                after: threading.Event) -> tuple[str, OverloadedError | None]:
    """``long`` takes the only slot, then another request comes (``after`` is set once it is answered or
    refused): what ``long`` returned, and the other's refusal (None if it was admitted)."""
    results: list[str] = []
    refused: OverloadedError | None = None

    async def first() -> None:
        results.append(await admission.run(long))

    async def second() -> None:
        nonlocal refused
        try:
            await admission.run(lambda: "second")
        except OverloadedError as exc:
            refused = exc
        after.set()

    async with anyio.create_task_group() as group:
        group.start_soon(first)
        await anyio.sleep(0.01)
        group.start_soon(second)
    return results[0], refused


@pytest.mark.unit
def test_admission_runs_work_in_order_of_slots_and_refuses_past_the_budget() -> None:
    release = threading.Event()

    async def scenario() -> tuple[list[str], OverloadedError | None]:
        admission = Admission(slots=1, queue_budget_s=0.05)
        first, refused = await _behind_a_long_answer(admission, lambda: (release.wait(30), "long")[1], release)
        return [first, await admission.run(lambda: "after")], refused

    results, refused = anyio.run(scenario)
    assert results == ["long", "after"]
    assert refused is not None and refused.code == "overloaded" and refused.retry_after_s >= 1


@pytest.mark.unit
def test_work_waiting_on_a_remote_call_gives_its_slot_back_and_takes_one_again() -> None:
    """One slot, three answers that each wait on a hosted LLM: all three wait at once (the barrier needs them
    all), while the CPU work around the waits never runs two at a time."""
    calls = threading.Barrier(3, timeout=30)
    lock = threading.Lock()
    working, most = 0, 0

    def cpu_work() -> None:
        nonlocal working, most
        with lock:
            working += 1
            most = max(most, working)
        time.sleep(0.01)
        with lock:
            working -= 1

    def answer(name: str) -> str:
        cpu_work()
        with remote_wait():
            calls.wait()  # breaks (and fails the test) unless all three are waiting together
        cpu_work()
        return name

    async def scenario() -> list[str]:
        admission = Admission(slots=1, queue_budget_s=30)
        done: list[str] = []

        async def one(name: str) -> None:
            done.append(await admission.run(lambda: answer(name)))

        async with anyio.create_task_group() as group:
            for name in ("a", "b", "c"):
                group.start_soon(one, name)
        assert admission.busy == 0
        return done

    assert sorted(anyio.run(scenario)) == ["a", "b", "c"]
    assert most == 1
    with remote_wait():  # outside admitted work: nothing to give back
        pass


@pytest.mark.unit
def test_a_remote_call_shorter_than_the_lending_delay_keeps_its_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """One slot, lent after 0.3 s of a remote wait. ``quick`` makes a call that returns at once, then computes for
    0.6 s more, past the moment its call's timer fires: ``next`` (queued meanwhile) starts only once ``quick``
    has ended, since the stale timer lends nothing. Then ``slow`` waits 1 s on its call: ``next`` starts during
    that wait."""
    monkeypatch.setattr("polydesk.waiting.LEND_AFTER_S", 0.3)
    events: list[str] = []

    def quick() -> None:
        with remote_wait():
            pass
        time.sleep(0.6)
        events.append("quick ends")

    def slow() -> None:
        with remote_wait():
            time.sleep(1.0)
        events.append("slow ends")

    async def scenario(first: Callable[[], None]) -> None:
        admission = Admission(slots=1, queue_budget_s=30)
        async with anyio.create_task_group() as group:
            group.start_soon(admission.run, first)
            with anyio.fail_after(30):
                while admission.busy < 1:
                    await anyio.sleep(0.005)
            group.start_soon(admission.run, lambda: events.append("next starts"))
        assert admission.busy == 0

    anyio.run(scenario, quick)
    assert events == ["quick ends", "next starts"]
    events.clear()
    anyio.run(scenario, slow)
    assert events == ["next starts", "slow ends"]


@pytest.mark.unit
def test_a_request_that_could_not_start_within_its_budget_is_refused_on_arrival() -> None:
    """A place in the queue has taken 100 s to clear (as measured): a request that finds no free slot cannot
    start within its 30 s budget, so it is refused at once, not after 30 s (the running answer ends only after
    the refusal)."""
    refusal = threading.Event()

    async def scenario() -> tuple[str, OverloadedError | None]:
        admission = Admission(slots=1, queue_budget_s=30)
        admission.place_s = 100.0
        return await _behind_a_long_answer(
            admission, lambda: "ended after the refusal" if refusal.wait(10) else "waited", refusal)

    outcome, refused = anyio.run(scenario)
    assert refused is not None and refused.retry_after_s >= 1
    assert outcome == "ended after the refusal"


@pytest.mark.unit
def test_a_wait_whose_timer_woke_late_sets_the_next_ones_early() -> None:
    """The event loop is blocked past a waiting request's deadline (as a process under full load runs its loop
    behind): its timer wakes late, the request is refused, and the admission ends later waits early by that
    lateness, at most a quarter of the budget, forgetting it by a fiftieth at each timer that wakes on time, down to
    two switch intervals of the interpreter or a twentieth of the budget (the lead before any timer woke late)."""
    release = threading.Event()

    async def scenario() -> tuple[Admission, OverloadedError | None]:
        admission = Admission(slots=1, queue_budget_s=0.4)

        async def block_the_loop() -> None:
            while admission._queued < 1:
                await anyio.sleep(0.005)
            time.sleep(0.6)  # from at or after the waiter's arrival to past its deadline by at least 0.2 s

        async with anyio.create_task_group() as group:
            group.start_soon(block_the_loop)
            _, refused = await _behind_a_long_answer(admission, lambda: (release.wait(30), "long")[1], release)
        return admission, refused

    admission, refused = anyio.run(scenario)
    assert refused is not None and refused.code == "overloaded"
    assert admission.lead_s == pytest.approx(0.1)  # woke at least 0.2 s late; the lead is capped at 0.4 / 4
    admission.place_s = 0.0  # only the lead decides now
    # A request that has spent all but 60 ms of its budget cannot start in time: the lead (100 ms) is not left.
    assert admission._hopeless(time.monotonic() - 0.34)
    admission.learn_lateness(0.0)
    assert admission.lead_s == pytest.approx(0.098)
    assert not admission._hopeless(time.monotonic() - 0.2)
    for _ in range(300):
        admission.learn_lateness(0.0)
    assert admission.lead_s == pytest.approx(Admission(slots=1, queue_budget_s=0.4).lead_s)
    assert admission.lead_s == pytest.approx(max(2 * sys.getswitchinterval(), 0.4 / 20))


@pytest.mark.unit
def test_an_answer_back_from_its_remote_call_goes_before_requests_that_have_not_started() -> None:
    """One slot. ``resumed`` gives it back while it waits on its LLM and ``holder`` takes it; ``new`` arrives and
    queues; then the LLM answers and ``resumed`` queues too, after ``new``. When ``holder`` ends, the slot goes
    to ``resumed``: work under way finishes before new work starts (a plain FIFO would run ``new`` first)."""
    calling, llm_answered, holder_may_end = threading.Event(), threading.Event(), threading.Event()
    order: list[str] = []

    def resumed() -> None:
        with remote_wait():
            calling.set()
            llm_answered.wait(30)
        order.append("resumed")

    def holder() -> None:
        holder_may_end.wait(30)
        order.append("holder")

    async def until(condition: Callable[[], bool]) -> None:
        with anyio.fail_after(30):
            while not condition():
                await anyio.sleep(0.005)

    async def scenario() -> None:
        admission = Admission(slots=1, queue_budget_s=30)
        slots = admission._admitted
        async with anyio.create_task_group() as group:
            group.start_soon(admission.run, resumed)
            await until(calling.is_set)  # the slot is free again
            group.start_soon(admission.run, holder)
            await until(lambda: admission.busy == 1)
            group.start_soon(admission.run, lambda: order.append("new"))
            await until(lambda: len(slots._arriving) == 1)
            llm_answered.set()
            await until(lambda: len(slots._resuming) == 1)
            holder_may_end.set()

    anyio.run(scenario)
    assert order == ["holder", "resumed", "new"]


@pytest.mark.unit
def test_a_slot_handed_to_a_request_whose_budget_ran_out_goes_on_to_the_next() -> None:
    """The slot is handed to a waiting request in the same moment its budget runs out: the request takes none,
    and the slot is not lost (free again, or handed to the next in line)."""

    async def scenario() -> int:
        slots = _Slots(1)
        assert slots.take_nowait()
        scopes: list[anyio.CancelScope] = []

        async def waiting() -> None:
            with anyio.CancelScope() as scope:
                scopes.append(scope)
                await slots.take(resuming=False)
                raise AssertionError("a cancelled request must not go on with the slot")

        async with anyio.create_task_group() as group:
            group.start_soon(waiting)
            with anyio.fail_after(30):
                while not slots._arriving:
                    await anyio.sleep(0.005)
            scopes[0].cancel()  # the budget runs out...
            slots.give()  # ...and the slot is handed over before the request could run again
        return slots.free

    assert anyio.run(scenario) == 1
