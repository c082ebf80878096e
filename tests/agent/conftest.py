"""An agent on the demo brand: the session's demo index, the built-in personas, an embedded Redis per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.escalation import EscalationPolicy
from agent.pipeline import Agent
from agent.state import ConversationStore
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from personas import PersonaCatalog
from polydesk.settings import Settings


@pytest.fixture(scope="module")
def agent(demo: tuple[IngestReport, KnowledgeIndex], escalation_policy: EscalationPolicy,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    _, index = demo
    settings = Settings(data_dir=tmp_path_factory.mktemp("agent"), _env_file=None)  # type: ignore[call-arg]
    conversations = ConversationStore.open(settings)
    yield Agent(index=index, catalog=PersonaCatalog.load(), conversations=conversations,
                escalation=escalation_policy, settings=settings)
    conversations.close()
