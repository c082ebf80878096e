"""Admission control for answers: a few at work at once, a bounded wait, ``503`` with ``Retry-After`` past it.

An answer is CPU work (the embedding, the search, the pipeline's Python). Forty threads answering at once do not
answer faster than four on two cores: they share the same cores and the same interpreter lock, and every answer
waits for all of them. ``Admission`` lets ``slots`` answers work at once (the rest wait on the event loop,
which costs nothing) and gives each waiting request at most ``queue_budget_s``: a request that has not started
by then gets ``503 overloaded`` with ``Retry-After`` (or, with ``POLYDESK_DEGRADED_REPLY``, the safe reply and
the message kept for a person), so a surge past capacity is refused fast and cleanly instead of queueing for
seconds. An answer that waits on a hosted LLM gives its slot back for the wait, once the wait has lasted a few
milliseconds (``polydesk.waiting``): the slots bound the CPU work, not the calls in flight. When the call
returns, the answer takes a slot again before any request that has not started: work under way finishes first,
so an answer's own time is not stretched by the arrivals that came during its LLM call.

Example (in an ``async`` route)::

    reply = await services.admission.run(produce)   # produce() runs in a worker thread once admitted
"""

from __future__ import annotations

import asyncio
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from functools import partial
from typing import TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread

from polydesk.errors import OverloadedError
from polydesk.waiting import current_slot

T = TypeVar("T")
_arrived: ContextVar[float | None] = ContextVar("polydesk_request_arrived", default=None)


def mark_arrival() -> None:
    """Note when the current request arrived (``time.monotonic``): its queue budget counts from here."""
    _arrived.set(time.monotonic())


def _arrival() -> float:
    """When the current request arrived (``mark_arrival``), or now when nothing marked it."""
    return _arrived.get() or time.monotonic()


class Admission:
    """``slots`` answers at work at once; a request waits at most ``queue_budget_s`` for one. An answer waiting on
    a remote call (``polydesk.waiting.remote_wait``: a hosted LLM) gives its slot back for the wait; up to
    ``waiting`` such answers per process.

    A request that could not start within its budget anyway is refused on arrival rather than when the budget
    runs out: its expected wait is its place in the queue times how long a place has taken to clear lately
    (``place_s``, measured on the requests that waited: their wait over their place). Refusing early keeps a
    surge cheap: a refused request costs the server almost nothing and its caller learns at once to come back
    after ``Retry-After``.

    A process under full load runs its event loop behind: a wait's timer wakes after its deadline (the loop's
    thread asks for the interpreter lock after one switch interval, and the thread holding it may take about as
    long again to let go; a garbage collection or the OS scheduler adds more now and then). At 256 clients on
    two cores most timers woke within 7 ms of their deadline, a few 15–25 ms after it. So each wait ends early
    by ``lead_s``: two switch intervals or a twentieth of the budget, or more while timers have lately woken
    later than that (the latest lateness, decaying slowly; at most a quarter of the budget). A refusal then
    comes within the budget the operator set, including in the first moments of a surge, before any timer has
    woken late.
    """

    def __init__(self, *, slots: int, queue_budget_s: float, waiting: int = 64) -> None:
        self.slots = slots
        self.queue_budget_s = queue_budget_s
        self._admitted = _Slots(slots)
        # The worker threads of admitted work: those at work and those waiting on a remote call.
        self._threads = anyio.CapacityLimiter(slots + waiting)
        self._queued = 0  # requests waiting for a slot now
        self.place_s = 0.0  # how long one place in the queue takes to clear: a moving average (0: not measured)
        # How early a wait's timer is set, for the loop's lateness. At least two of the interpreter's switch
        # intervals (5 ms each by default) or a twentieth of the budget, whichever is more: on a fully loaded
        # machine the OS also pauses a process for a time slice or two now and then, more often than a budget's
        # timer can learn it.
        self.least_lead_s = max(2 * sys.getswitchinterval(), queue_budget_s / 20)
        self.lead_s = self.least_lead_s

    @property
    def busy(self) -> int:
        return self.slots - self._admitted.free

    def refuse_if_hopeless(self) -> None:
        """``OverloadedError`` now if a request arriving now could not start within its budget: called before
        the request's key is rate-limited and its body validated, so a refusal in a surge costs almost nothing."""
        arrived = _arrival()
        if self._admitted.free < 1 and self._hopeless(arrived):
            raise self._overloaded(arrived)

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` in a worker thread once a slot is free; ``OverloadedError`` when none frees within the
        budget, or at once when the requests ahead of it would take longer than the budget."""
        arrived, reached = _arrival(), time.monotonic()
        slot = _Slot(self._admitted, asyncio.get_running_loop())
        slot.held = self._admitted.take_nowait()  # a free slot is taken even when the budget is spent
        if not slot.held and not self._hopeless(arrived):
            await self._wait(slot, arrived)
        if not slot.held:  # counted by the caller (polydesk_overloaded_requests)
            raise self._overloaded(arrived, reached)
        bound = current_slot.set(slot)  # the worker thread runs in a copy of this context
        try:
            return await anyio.to_thread.run_sync(work, limiter=self._threads)
        finally:
            current_slot.reset(bound)
            if slot.held:
                self._admitted.give()

    async def _wait(self, slot: _Slot, arrived: float) -> None:
        """Wait for a slot until the budget runs out; learn from the wait how long a place takes to clear."""
        self._queued += 1
        place, began = self._queued, time.monotonic()
        deadline = max(began, arrived + self.queue_budget_s - self.lead_s)
        try:
            with anyio.move_on_after(deadline - began) as timer:
                await self._admitted.take(resuming=False)
                slot.held = True
        finally:
            self._queued -= 1
            woke = time.monotonic()
            # Waited in vain: at least that long per place (a lower bound, still a better guess than before).
            sample = (woke - began) / place
            self.place_s += (sample - self.place_s) * (0.2 if self.place_s else 1.0)
        if timer.cancelled_caught:
            self.learn_lateness(woke - deadline)

    def learn_lateness(self, late_s: float) -> None:
        """Note that a wait's timer woke ``late_s`` after its deadline: later timers are set that much early. The
        lead is the longest recent lateness (each timer that runs out less late takes a fiftieth off it), at least
        ``least_lead_s`` and at most a quarter of the budget."""
        self.lead_s = min(self.queue_budget_s / 4, max(self.least_lead_s, late_s, self.lead_s * 0.98))

    def _hopeless(self, arrived: float) -> bool:
        """Whether the places ahead, at the measured time per place, outlast the budget this request has left."""
        left = self.queue_budget_s - self.lead_s - (time.monotonic() - arrived)
        return left <= 0 or (self._queued + 1) * self.place_s >= left

    def _overloaded(self, arrived: float, reached: float | None = None) -> OverloadedError:
        """The refusal of a request that arrived at ``arrived`` and reached the admission's queue at ``reached``
        (None: refused at the door)."""
        now = time.monotonic()
        return OverloadedError("the service is answering as many messages as it can; retry shortly",
                               retry_after_s=max(1, math.ceil(self.queue_budget_s)), queued_ms=(now - arrived) * 1000,
                               admission_ms=None if reached is None else (now - reached) * 1000)


class _Slots:
    """``count`` slots, handed out on the event loop (every method runs there). A freed slot goes to an answer
    taking one back after a remote call first, then to the longest-waiting new request; a free slot is never
    left idle while someone waits for one."""

    def __init__(self, count: int) -> None:
        self.free = count
        self._resuming: deque[anyio.Event] = deque()  # each set when a slot is handed to its waiter
        self._arriving: deque[anyio.Event] = deque()

    def take_nowait(self) -> bool:
        if self.free < 1:
            return False
        self.free -= 1
        return True

    async def take(self, *, resuming: bool) -> None:
        """A slot, once one is handed to this caller; cancelled (a spent budget) before that, it takes none."""
        if self.take_nowait():
            return
        handed = anyio.Event()
        queue = self._resuming if resuming else self._arriving
        queue.append(handed)
        try:
            await handed.wait()
        except BaseException:  # cancelled: a slot handed over meanwhile goes on to the next in line
            if handed.is_set():
                self.give()
            else:
                queue.remove(handed)
            raise

    def give(self) -> None:
        for queue in (self._resuming, self._arriving):
            if queue:
                queue.popleft().set()
                return
        self.free += 1


class _Slot:
    """One admitted answer's slot, lent out and taken again around its worker thread's remote waits
    (``polydesk.waiting.remote_wait``). A wait asks the event loop for a timer and goes on at once; if the timer
    fires while the wait lasts, the loop hands the slot to the next in line. A wait that ends before it keeps the
    slot and never waits for the loop; its timer, fired later, finds the wait over and does nothing."""

    def __init__(self, slots: _Slots, loop: asyncio.AbstractEventLoop) -> None:
        self._slots = slots
        self._loop = loop
        self.held = False  # set by the loop before the work and by its timer during a wait; by the worker after one
        self._lock = threading.Lock()  # the worker thread and the loop's timer decide who ends a wait
        self._waits = 0  # waits begun so far: a timer belongs to one (a stale one must not lend a later wait's slot)
        self._open: int | None = None  # the wait under way, if any

    def wait_begins(self, lend_after_s: float) -> None:
        with self._lock:
            self._waits += 1
            self._open = wait = self._waits
        self._loop.call_soon_threadsafe(self._loop.call_later, lend_after_s, self._lend, wait)

    def _lend(self, wait: int) -> None:  # on the loop
        with self._lock:
            if wait != self._open:
                return
            self.held = False
        self._slots.give()

    def wait_ends(self) -> None:
        with self._lock:
            self._open = None
            lent = not self.held
        if lent:  # no queue budget here: the answer is under way and finishing it is worth the wait; it goes first
            anyio.from_thread.run(partial(self._slots.take, resuming=True))
            self.held = True
