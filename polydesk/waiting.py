"""A thread that waits on another service gives its share of the CPU back for the wait.

The server lets a few answers work at once (``api.admission``): an answer is CPU work, and more of them at once
only share the same cores. A call to a hosted LLM is not CPU work: the thread only waits for the provider, for
a second or more. ``remote_wait()`` around such a call hands the answer's slot to the next request once the call
has lasted ``LEND_AFTER_S`` and takes one again before the answer goes on (ahead of requests that have not
started), so a process with two slots keeps dozens of LLM calls in flight while it computes two answers at a
time. A call that returns sooner (a provider on the same machine, a fast brand API) keeps its slot: the first
milliseconds of a call are the client library's own CPU work (litellm builds the request, then parses the
reply: about 3 ms), and handing the slot over and taking it back would cost more than the wait. Outside an
admitted answer (the CLI, the desk's translations, tests) it does nothing.

Example::

    with remote_wait():
        response = litellm.completion(**arguments)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

# How long a remote call keeps the answer's slot before giving it to the next request. Ten milliseconds cover a
# fast call whole (litellm's own work around a loopback provider: 3.5 ms alone, more under load); a slow call
# holds a slot idle that long, once, against its own second or more.
LEND_AFTER_S = 0.010


class Slot(Protocol):
    """The share of the CPU the current work holds."""

    def wait_begins(self, lend_after_s: float) -> None:
        """The work waits on a remote call from now: the slot goes to the next request if the wait outlasts
        ``lend_after_s``."""

    def wait_ends(self) -> None:
        """The wait is over: returns once the work holds a slot again (at once if it never gave it away)."""


current_slot: ContextVar[Slot | None] = ContextVar("polydesk_slot", default=None)


@contextmanager
def remote_wait() -> Iterator[None]:
    """The slot of the current work (if any) given back while the block waits, taken again after it."""
    slot = current_slot.get()
    if slot is None:
        yield
        return
    slot.wait_begins(LEND_AFTER_S)
    try:
        yield
    finally:
        slot.wait_ends()
