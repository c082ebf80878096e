"""Shared fixtures: the real embedding model (loaded once), a fresh embedded index per test, the demo brand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import polydesk  # noqa: F401  (offline switches first)
from agent.escalation import EscalationPolicy
from agent.intents import IntentClassifier
from agent.pipeline import Agent
from agent.state import ConversationStore
from ingestion.pipeline import Ingestor, IngestReport
from ingestion.sources import SourceOptions
from knowledge.embedder import Embedder, create_embedder
from knowledge.index import KnowledgeIndex
from personas import PersonaCatalog
from polydesk.settings import Settings


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The default embedder (multilingual-e5-small on ONNX Runtime), converted once into the model cache."""
    return create_embedder(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def escalation_policy(embedder: Embedder) -> EscalationPolicy:
    """The intent classifier trained on the shipped examples (cached in the model cache after the first run)."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return EscalationPolicy(IntentClassifier.load_or_train(embedder, settings.model_cache_dir))


AgentFactory = Callable[[KnowledgeIndex, Settings], Agent]


@pytest.fixture(scope="session")
def open_agent(escalation_policy: EscalationPolicy) -> AgentFactory:
    """Opens an agent on an index, with the built-in personas and an embedded Redis under ``settings.data_dir``.

    The caller closes it with ``agent.conversations.close()`` (the index is the caller's).
    """

    def make(index: KnowledgeIndex, settings: Settings) -> Agent:
        return Agent(index=index, catalog=PersonaCatalog.load(), conversations=ConversationStore.open(settings),
                     escalation=escalation_policy, settings=settings)

    return make


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def index(settings: Settings, embedder: Embedder) -> Iterator[KnowledgeIndex]:
    opened = KnowledgeIndex.open(settings, embedder=embedder)
    yield opened
    opened.close()


DEMO_KNOWLEDGE = Path(__file__).resolve().parents[1] / "demo" / "tidewell" / "knowledge"


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("demo"), _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def demo(demo_settings: Settings, embedder: Embedder) -> Iterator[tuple[IngestReport, KnowledgeIndex]]:
    """The demo brand (tenant ``tidewell``) ingested once per session. Tests must not change it."""
    index = KnowledgeIndex.open(demo_settings, embedder=embedder)
    report = Ingestor(index=index, settings=demo_settings).ingest([DEMO_KNOWLEDGE], SourceOptions(tenant="tidewell"))
    yield report, index
    index.close()
