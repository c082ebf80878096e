"""The real app in-process (Starlette TestClient) with a real embedded Redis and a real Qdrant engine.

- ``api``: on the demo brand's index (tenant ``tidewell``, shared by the session: read-only use).
- ``fresh_api``: on an empty index of its own, job worker running (upload, delete, erase freely).

Both know keys for tenants ``tidewell`` and ``acme`` in every role: ``harness.headers("admin", "acme")``, and
agent keys for the desk: ``headers("agent", tenant)`` (agent ``<tenant>-desk``, reading English) and, for tidewell,
``agent_headers("mei")`` (Chinese, English) and ``agent_headers("agent-de")`` (German, English).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.auth import ROLES, ApiKey
from api.deps import Services
from api.runtime import Runtime
from ingestion.pipeline import IngestReport
from knowledge.embedder import Embedder
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings

TENANTS = ("tidewell", "acme")
RuntimeFactory = Callable[[KnowledgeIndex, Settings], Runtime]


def raw_key(tenant: str, role: str) -> str:
    return f"pd_test_{tenant}_{role}_key"


def agent_key(agent_id: str, tenant: str = "tidewell") -> str:
    return f"pd_test_{tenant}_agent_{agent_id}_key"


DESK_AGENTS = {"mei": ["zh", "en"], "agent-de": ["de", "en"]}  # tidewell's agents besides "tidewell-desk"
KEYS = [ApiKey(key=SecretStr(raw_key(tenant, role)), tenant=tenant, role=role) for tenant in TENANTS for role in ROLES]
KEYS += [ApiKey(key=SecretStr(raw_key(tenant, "agent")), tenant=tenant, role="agent", agent_id=f"{tenant}-desk",
                languages=["en"]) for tenant in TENANTS]
KEYS += [ApiKey(key=SecretStr(agent_key(agent_id)), tenant="tidewell", role="agent", agent_id=agent_id,
                languages=languages) for agent_id, languages in DESK_AGENTS.items()]


@dataclass
class ApiHarness:
    client: TestClient
    settings: Settings

    @property
    def services(self) -> Services:
        services: Services = self.client.app.state.services  # type: ignore[attr-defined]
        return services

    @staticmethod
    def headers(role: str, tenant: str = "tidewell", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {raw_key(tenant, role)}", **extra}

    @staticmethod
    def agent_headers(agent_id: str) -> dict[str, str]:
        """A tidewell desk agent's key (``DESK_AGENTS``)."""
        return {"Authorization": f"Bearer {agent_key(agent_id)}"}

    def ask(self, message: str, *, market: str, channel: str = "web", tenant: str = "tidewell",
            **fields: Any) -> dict[str, Any]:
        """POST /v1/answer as the tenant's connector; the reply object (asserts 200)."""
        response = self.client.post("/v1/answer", headers=self.headers("connector", tenant),
                                    json={"message": message, "market": market, "channel": channel, **fields})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def finished_job(self, job: dict[str, Any], *, tenant: str = "tidewell", timeout_s: float = 120) -> dict[str, Any]:
        """Follow an upload job (the ``202`` body of ``POST /v1/knowledge``) until it is done, partial or failed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            response = self.client.get(job["links"]["self"], headers=self.headers("content", tenant))
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["status"] in ("done", "partial", "failed"):
                return body
            time.sleep(0.05)
        raise AssertionError(f"job {job['id']} did not finish")

    def leftover_spools(self, wait_s: float = 10) -> list[str]:
        """Spool folders left; a finished job's folder is removed just after its record says done, so wait a bit."""
        folder = self.settings.upload_dir
        deadline = time.monotonic() + wait_s
        while True:
            left = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)


def _harness(runtime: Runtime, settings: Settings, *, background: bool) -> Iterator[ApiHarness]:
    app = create_app(settings, runtime=runtime, keys=KEYS, background=background)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield ApiHarness(client=client, settings=settings)
    runtime.close()


def _settings(tmp_path_factory: pytest.TempPathFactory, name: str) -> Settings:
    # Generous rate limits and failed-authentication throttle (schemathesis sends many invalid keys from one
    # address): tests that check limiting make their own app.
    return Settings(data_dir=tmp_path_factory.mktemp(name), rate_limit_per_minute=100_000,  # type: ignore[call-arg]
                    rate_limit_burst=10_000, auth_failure_burst=10_000, _env_file=None)


@pytest.fixture(scope="module")
def api(demo: tuple[IngestReport, KnowledgeIndex], open_runtime: RuntimeFactory,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiHarness]:
    _, index = demo
    settings = _settings(tmp_path_factory, "api")
    yield from _harness(open_runtime(index, settings), settings, background=False)


@pytest.fixture(scope="module")
def fresh_api(embedder: Embedder, open_runtime: RuntimeFactory,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiHarness]:
    settings = _settings(tmp_path_factory, "fresh-api")
    index = KnowledgeIndex.open(settings, embedder=embedder)
    yield from _harness(open_runtime(index, settings), settings, background=True)
    index.close()


@pytest.fixture
def app_on(api: ApiHarness) -> Callable[..., TestClient]:
    """A client of a second app on ``api``'s index and escalation policy, but on the given Redis client and
    settings (the client stays the caller's)."""

    def make(client: redis.Redis, data_dir: Path, **values: Any) -> TestClient:
        settings = Settings(data_dir=data_dir, _env_file=None, **values)  # type: ignore[call-arg]
        other = Runtime.open(settings, index=api.services.index, redis_client=client,
                             escalation=api.services.agent.escalation_policy)
        return TestClient(create_app(settings, runtime=other, keys=KEYS, background=False),
                          raise_server_exceptions=False)

    return make


@dataclass
class LiveServer:
    """An app served by uvicorn on a loopback port, in a thread: real sockets, thread pool and event loop."""

    url: str
    host: str
    port: int


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], LiveServer]]:
    """Serves apps (``live_server(app)``) until the test ends; their lifespans run as in ``polydesk serve``."""
    import socket
    import threading
    import time

    import uvicorn

    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(app: Any) -> LiveServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the live server did not start"
            time.sleep(0.01)
        port = sock.getsockname()[1]
        return LiveServer(url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port)

    yield serve
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=15)
