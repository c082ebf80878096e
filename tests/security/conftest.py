"""The red-team suite's apps: the demo brand (``api``, from tests/api) and one with the indirect injections planted.

``attacked``: a fresh index of its own with the job worker running, shared by the package; tenant
``tidewell`` uploaded every indirect attack of ``data/indirect.jsonl`` through ``POST /v1/knowledge``,
tenant ``acme`` a document of its own (``harness.seed``). Tests must not change it, except the
cross-tenant probes, which check that nothing of tidewell's changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from api.runtime import Runtime
from knowledge.embedder import Embedder
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings
from tests.api.conftest import ApiHarness, _harness, _settings, api  # noqa: F401  (api: the demo brand's app)
from tests.security.corpus import load_attacks
from tests.security.harness import Seeded, seed


@pytest.fixture(scope="package")
def attacked_api(embedder: Embedder, open_runtime: Callable[[KnowledgeIndex, Settings], Runtime],
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiHarness]:
    settings = _settings(tmp_path_factory, "redteam")
    index = KnowledgeIndex.open(settings, embedder=embedder)
    harnesses = _harness(open_runtime(index, settings), settings, background=True)
    try:
        yield next(harnesses)
    finally:
        next(harnesses, None)  # closes the client and the runtime
        index.close()


@pytest.fixture(scope="package")
def attacked(attacked_api: ApiHarness) -> Seeded:
    return seed(attacked_api.client, load_attacks("indirect"))
