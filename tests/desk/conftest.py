"""The desk's fixtures: a conversation store and a desk on the test's own embedded Redis, and a race helper."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import pytest
import redis

from agent.events import EventLog
from agent.state import ConversationStore
from desk.store import DeskStore


@pytest.fixture
def conversations(redis_client: redis.Redis) -> ConversationStore:
    return ConversationStore(redis_client, ttl_s=3600, max_turns=50, events=EventLog(redis_client))


@pytest.fixture
def desk(redis_client: redis.Redis, conversations: ConversationStore) -> Iterator[DeskStore]:
    yield DeskStore(redis_client, conversations.events, conversations=conversations)


def race(attempts: Sequence[Callable[[], object]]) -> list[object]:
    """Run the attempts in threads released together by a barrier; each one's result, or the exception it raised."""
    barrier = threading.Barrier(len(attempts))
    results: list[object] = [None] * len(attempts)

    def run(position: int) -> None:
        barrier.wait()
        try:
            results[position] = attempts[position]()
        except Exception as exc:
            results[position] = exc

    threads = [threading.Thread(target=run, args=(position,)) for position in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
