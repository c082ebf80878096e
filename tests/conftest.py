"""Shared fixtures: the real embedding model (loaded once) and a fresh embedded index per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import polydesk  # noqa: F401  (offline switches first)
from knowledge.embedder import Embedder, create_embedder
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The default embedder (multilingual-e5-small on ONNX Runtime), converted once into the model cache."""
    return create_embedder(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def index(settings: Settings, embedder: Embedder) -> Iterator[KnowledgeIndex]:
    opened = KnowledgeIndex.open(settings, embedder=embedder)
    yield opened
    opened.close()
