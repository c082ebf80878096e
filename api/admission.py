"""Admission control for answers: a few at work at once, a bounded wait, ``503`` with ``Retry-After`` past it.

An answer is CPU work (the embedding, the search, the pipeline's Python). Forty threads answering at once do not
answer faster than four on two cores: they share the same cores and the same interpreter lock, and every answer
waits for all of them. ``Admission`` lets ``slots`` answers work at once (the rest wait on the event loop,
which costs nothing) and gives each waiting request at most ``queue_budget_s``: a request that has not started
by then gets ``503 overloaded`` with ``Retry-After`` (or, with ``POLYDESK_DEGRADED_REPLY``, the safe reply and
the message kept for a person), so a surge past capacity is refused fast and cleanly instead of queueing for
seconds.

Example (in an ``async`` route)::

    reply = await services.admission.run(produce)   # produce() runs in a worker thread once admitted
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

import anyio
import anyio.to_thread

from polydesk.errors import OverloadedError

T = TypeVar("T")
_arrived: ContextVar[float | None] = ContextVar("polydesk_request_arrived", default=None)


def mark_arrival() -> None:
    """Note when the current request arrived (``time.monotonic``): its queue budget counts from here."""
    _arrived.set(time.monotonic())


class Admission:
    """``slots`` answers at work at once; a request waits at most ``queue_budget_s`` for one."""

    def __init__(self, *, slots: int, queue_budget_s: float) -> None:
        self.slots = slots
        self.queue_budget_s = queue_budget_s
        self._admitted = anyio.CapacityLimiter(slots)
        self._threads = anyio.CapacityLimiter(slots)  # the worker threads of admitted work (never waited on)

    @property
    def busy(self) -> int:
        return int(self._admitted.borrowed_tokens)

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` in a worker thread once a slot is free; ``OverloadedError`` when none frees within the
        budget."""
        arrived = _arrived.get()
        left = self.queue_budget_s - (time.monotonic() - arrived if arrived is not None else 0.0)
        admitted = False
        try:
            self._admitted.acquire_nowait()  # a free slot is taken even when the budget is spent
            admitted = True
        except anyio.WouldBlock:
            with anyio.move_on_after(max(0.0, left)):
                await self._admitted.acquire()
                admitted = True
        if not admitted:  # counted by the caller (polydesk_overloaded_requests)
            raise OverloadedError("the service is answering as many messages as it can; retry shortly",
                                  retry_after_s=max(1, math.ceil(self.queue_budget_s)))
        try:
            return await anyio.to_thread.run_sync(work, limiter=self._threads)
        finally:
            self._admitted.release()
