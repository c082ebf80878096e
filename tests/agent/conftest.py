"""An agent on the demo brand: the session's demo index, the built-in personas, an embedded Redis per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from agent.pipeline import Agent
from api.runtime import Runtime
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from polydesk.redisdb import connect_redis
from polydesk.settings import Settings


@pytest.fixture(scope="module")
def agent(demo: tuple[IngestReport, KnowledgeIndex], open_runtime: Callable[[KnowledgeIndex, Settings], Runtime],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    _, index = demo
    runtime = open_runtime(index, Settings(data_dir=tmp_path_factory.mktemp("agent"), _env_file=None))  # type: ignore[call-arg]
    yield runtime.agent
    runtime.close()


@pytest.fixture(scope="module")
def module_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    """An embedded Redis for a test module (events, webhooks)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("redis"), _env_file=None)  # type: ignore[call-arg]
    client = connect_redis(settings)
    yield client
    client.close()


@pytest.fixture
def r(module_redis: redis.Redis) -> redis.Redis:
    """The module's Redis, emptied for each test."""
    module_redis.flushall()
    return module_redis
