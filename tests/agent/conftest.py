"""An agent on the demo brand: the session's demo index, the built-in personas, an embedded Redis per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from agent.pipeline import Agent
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings


@pytest.fixture(scope="module")
def agent(demo: tuple[IngestReport, KnowledgeIndex], open_agent: Callable[[KnowledgeIndex, Settings], Agent],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    _, index = demo
    opened = open_agent(index, Settings(data_dir=tmp_path_factory.mktemp("agent"), _env_file=None))  # type: ignore[call-arg]
    yield opened
    opened.conversations.close()
