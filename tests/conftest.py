"""Shared fixtures: the real embedding model (loaded once), a fresh embedded index per test, the demo brand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

import polydesk  # noqa: F401  (offline switches first)
from agent.escalation import EscalationPolicy
from agent.intents import IntentClassifier
from api.runtime import Runtime
from ingestion.pipeline import Ingestor, IngestReport
from ingestion.sources import SourceOptions
from knowledge.embedder import Embedder, create_embedder
from knowledge.index import KnowledgeIndex
from polydesk.redisdb import connect_redis
from polydesk.settings import Settings
from tests.ingestion.web_site import FakeSite, help_center


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The default embedder (multilingual-e5-small on ONNX Runtime), converted once into the model cache."""
    return create_embedder(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def escalation_policy(embedder: Embedder) -> EscalationPolicy:
    """The intent classifier trained on the shipped examples (cached in the model cache after the first run)."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return EscalationPolicy(IntentClassifier.load_or_train(embedder, settings.model_cache_dir))


RuntimeFactory = Callable[[KnowledgeIndex, Settings], Runtime]


@pytest.fixture(scope="session")
def open_runtime(escalation_policy: EscalationPolicy) -> RuntimeFactory:
    """Opens a runtime (and its agent) on an index, with the built-in personas and an embedded Redis under
    ``settings.data_dir``, sharing the session's trained escalation policy.

    The caller closes it with ``runtime.close()``, which closes the Redis it opened; the index stays the caller's.
    """

    def make(index: KnowledgeIndex, settings: Settings) -> Runtime:
        return Runtime.open(settings, index=index, escalation=escalation_policy)

    return make


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    """A client of the embedded Redis under ``settings.data_dir`` (started on first use), closed after the test."""
    client = connect_redis(settings)
    yield client
    client.close()


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


@pytest.fixture
def site() -> Iterator[FakeSite]:
    """The loopback help-centre website (``tests/ingestion/web_site.py``), served for one test."""
    served = help_center()
    yield served
    served.close()
