"""``api.balance``: workers count their requests in flight in shared memory; a crowded one closes connections."""

from __future__ import annotations

import asyncio
import multiprocessing

import pytest
from starlette.types import Message, Receive, Scope, Send

from api.balance import ABSENT, MARGIN, WorkerBalance, WorkerLoads


class _App:
    """An ASGI app that answers 200 with ``headers``; it can be held mid-request and can fail."""

    def __init__(self, headers: list[tuple[bytes, bytes]] | None = None, *, fail: bool = False) -> None:
        self.headers = headers or []
        self.fail = fail
        self.seen: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append(scope)
        if self.fail:
            raise RuntimeError("the app failed")
        await send({"type": "http.response.start", "status": 200, "headers": list(self.headers)})
        await send({"type": "http.response.body", "body": b"ok"})


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _request(middleware: WorkerBalance, scope_type: str = "http") -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(middleware({"type": scope_type}, _receive, send))
    return sent


def _started(workers: int) -> WorkerLoads:
    """Loads of ``workers`` that all serve, none with a request in flight."""
    loads = WorkerLoads.make(workers)
    for index in range(workers):
        loads.counts[index] = 0
    return loads


def _connection(sent: list[Message]) -> list[bytes]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    return [value for name, value in start["headers"] if name.lower() == b"connection"]


def test_a_worker_is_crowded_with_the_margin_more_in_flight_than_another() -> None:
    loads = WorkerLoads.make(3)
    assert list(loads.counts) == [ABSENT] * 3  # none serves yet
    loads.counts[0], loads.counts[1], loads.counts[2] = 5, 5 - MARGIN + 1, 9
    assert not loads.crowded(0) and not loads.crowded(1)  # within the margin of each other, below the third
    assert loads.crowded(2)
    loads.counts[1] = 5 - MARGIN
    assert loads.crowded(0) and not loads.crowded(1)
    loads.counts[1] = ABSENT  # exited: the others compare themselves with each other only
    assert not loads.crowded(0) and loads.crowded(2)


def test_a_balanced_worker_answers_as_it_would_alone() -> None:
    loads = _started(2)
    app = _App([(b"content-type", b"text/plain")])
    sent = _request(WorkerBalance(app, loads, index=0))
    assert _connection(sent) == [] and sent[1]["body"] == b"ok"
    assert list(loads.counts) == [0, 0]


def test_a_crowded_worker_answers_and_closes_the_connection() -> None:
    loads = _started(2)
    middleware = WorkerBalance(_App(), loads, index=0)
    loads.counts[0] = MARGIN - 1  # requests of other clients in flight here; none on the other worker
    sent = _request(middleware)
    assert sent[0]["status"] == 200 and _connection(sent) == [b"close"] and sent[1]["body"] == b"ok"
    assert loads.counts[0] == MARGIN - 1  # this request counted while it was in flight, then not
    loads.counts[1] = 1  # the other worker took one: within the margin again
    assert _connection(_request(middleware)) == []


def test_a_connection_header_of_the_app_is_kept_and_not_doubled() -> None:
    loads = _started(2)
    middleware = WorkerBalance(_App([(b"Connection", b"keep-alive")]), loads, index=0)
    loads.counts[0] = MARGIN
    assert _connection(_request(middleware)) == [b"keep-alive"]


def test_a_request_that_fails_leaves_the_count_as_it_was() -> None:
    loads = _started(2)
    with pytest.raises(RuntimeError):
        _request(WorkerBalance(_App(fail=True), loads, index=1))
    assert list(loads.counts) == [0, 0]
    app = _App()
    _request(WorkerBalance(app, loads, index=1), scope_type="websocket")
    assert app.seen[0]["type"] == "websocket" and list(loads.counts) == [0, 0]


class _Lifespan:
    """An app's lifespan: start-up completes, or fails."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed" if self.fail else "lifespan.startup.complete"})


def test_a_worker_counts_once_its_server_has_started() -> None:
    loads = WorkerLoads.make(2)
    loads.counts[1] = 7  # the other worker, at work
    _request(WorkerBalance(_Lifespan(fail=True), loads, index=0), scope_type="lifespan")
    assert list(loads.counts) == [ABSENT, 7] and not loads.crowded(1)  # failed: still not there
    loads.counts[0] = 4  # left by a worker that died mid-requests, before the parent marked it
    _request(WorkerBalance(_Lifespan(), loads, index=0), scope_type="lifespan")  # its replacement
    assert list(loads.counts) == [0, 7] and loads.crowded(1)


def _count_in_child(loads: WorkerLoads) -> None:
    loads.counts[1] = 3


def test_the_counts_are_shared_with_worker_processes() -> None:
    context = multiprocessing.get_context("spawn")  # as ``polydesk serve --workers N`` starts them
    loads = WorkerLoads.make(2, context)
    loads.counts[0] = 0
    child = context.Process(target=_count_in_child, args=(loads,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert list(loads.counts) == [0, 3] and loads.crowded(1)
