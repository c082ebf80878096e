"""The workers of ``polydesk serve --workers N`` kept equally loaded: a crowded worker sends a client elsewhere.

Each worker listens on the port with ``SO_REUSEPORT`` (``api.cli.workers``) and the kernel hands it a new
connection by a hash of the client's address and port. That spreads connections evenly only on average:
64 keep-alive connections of one load test came out 26:38, 27:37 and 28:36 between two workers in three runs
of eight. Every request waits behind the requests of its own worker, so the customers of the crowded one wait
a third longer than the others (and past capacity they are the first to get ``503``), while the work is the
same.

``WorkerBalance`` (a plain ASGI middleware, outermost) counts each worker's requests in flight in a small
array the workers share (``WorkerLoads``, made by the parent process). When a worker answers a request while
it has at least ``MARGIN`` more in flight than another worker, the response says ``Connection: close``: the
client opens a new connection (HTTP/1.1 clients do this on their own) and the kernel hashes it afresh, so the
crowded worker sheds connections until the counts are within the margin. No request is moved, refused or
answered differently, and with balanced workers nothing changes. A worker counts once its server has started
(lifespan start-up complete, just before it listens); before that, and once the parent has seen it exit, its
count is ``ABSENT`` and nobody compares itself with it.

Example (the worker process of ``api.cli.workers``)::

    loads = WorkerLoads.make(2)                       # in the parent, before the workers start
    app = WorkerBalance(serve_app(), loads, index=0)  # in worker 0
"""

from __future__ import annotations

import ctypes
import multiprocessing
from collections.abc import MutableSequence
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# How many more requests in flight than another worker make a worker close the connection it answers on. Two:
# a difference of one is the best an odd total allows, and counts move by one as requests come and go.
MARGIN = 2
ABSENT = -1  # the count of a worker that does not accept connections (starting, or exited): not compared


@dataclass(frozen=True)
class WorkerLoads:
    """Requests in flight per worker, in shared memory: each worker writes its own count, reads the others'."""

    counts: MutableSequence[int]

    @classmethod
    def make(cls, workers: int, context: BaseContext | None = None) -> WorkerLoads:
        # No lock: each count has one writer (its worker), and a reader only needs a recent value.
        counts = (context or multiprocessing.get_context()).RawArray(ctypes.c_int, [ABSENT] * workers)
        return cls(cast("MutableSequence[int]", counts))

    def crowded(self, index: int) -> bool:
        """Whether worker ``index`` has at least ``MARGIN`` more requests in flight than some other worker that
        accepts connections."""
        mine = self.counts[index]
        return any(mine - count >= MARGIN for number, count in enumerate(self.counts)
                   if number != index and count != ABSENT)


class WorkerBalance:
    """Counts this worker's requests in flight; answers with ``Connection: close`` while the worker is crowded."""

    def __init__(self, app: ASGIApp, loads: WorkerLoads, *, index: int) -> None:
        self.app = app
        self.loads = loads
        self.index = index

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        counts, index = self.loads.counts, self.index
        if scope["type"] == "lifespan":
            async def lifespan_send(message: Message) -> None:
                if message["type"] == "lifespan.startup.complete":
                    counts[index] = 0  # the server listens from now on, with nothing in flight
                await send(message)

            await self.app(scope, receive, lifespan_send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def balanced_send(message: Message) -> None:
            if message["type"] == "http.response.start" and self.loads.crowded(index):
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"connection" for name, _ in headers):
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        counts[index] += 1
        try:
            await self.app(scope, receive, balanced_send)
        finally:
            counts[index] -= 1
