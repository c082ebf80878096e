"""A thread that waits on another service gives its share of the CPU back for the wait.

The server lets a few answers work at once (``api.admission``): an answer is CPU work, and more of them at once
only share the same cores. A call to a hosted LLM is not CPU work: the thread only waits for the provider, for
a second or more. ``remote_wait()`` around such a call hands the answer's slot to the next request for the wait
and takes one again before the answer goes on (ahead of requests that have not started), so a process with two
slots keeps dozens of LLM calls in flight while it computes two answers at a time. Outside an admitted answer
(the CLI, the desk's translations, tests) it does nothing.

Example::

    with remote_wait():
        response = litellm.completion(**arguments)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Slot(Protocol):
    """The share of the CPU the current work holds."""

    def release(self) -> None: ...

    def reacquire(self) -> None: ...


current_slot: ContextVar[Slot | None] = ContextVar("polydesk_slot", default=None)


@contextmanager
def remote_wait() -> Iterator[None]:
    """The slot of the current work (if any) given back while the block waits, taken again after it."""
    slot = current_slot.get()
    if slot is None:
        yield
        return
    slot.release()
    try:
        yield
    finally:
        slot.reacquire()
