"""Small parts of the answer pipeline (``agent.pipeline``): the stage clock and the store previews answer on.

``StageClock.stage(name)`` times a stage into ``Reply.timings_ms``; ``DryRunConversations`` is a conversation
store that remembers nothing (``Agent.preview``: every conversation is new and nothing is saved).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from agent.events import HandoffEvent
from agent.schema import Reply
from agent.state import Conversation, ConversationStore

__all__ = ["DryRunConversations", "StageClock"]


class StageClock:
    """Milliseconds per stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.gap: np.ndarray | None = None  # the message's embedding when retrieval could not answer it

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round((time.perf_counter() - began) * 1000, 3)

    def total(self) -> dict[str, float]:
        return {**self.timings, "total": round((time.perf_counter() - self.start) * 1000, 3)}

    def stamp(self, reply: Reply) -> Reply:
        """``reply`` with the timings so far (it was saved without them)."""
        reply.timings_ms = self.total()
        return reply


class DryRunConversations(ConversationStore):
    """A conversation store that remembers nothing: every conversation is new, nothing is saved (previews)."""

    def __init__(self, *, max_turns: int) -> None:  # no Redis behind it
        self.max_turns = max_turns

    def get(self, tenant: str, conversation_id: str) -> Conversation | None:
        return None

    def save(self, conversation: Conversation, *, events: Sequence[HandoffEvent] = (),
             reply: Reply | None = None) -> None:
        return None

    @contextmanager
    def lock(self, tenant: str, conversation_id: str) -> Iterator[None]:
        yield
