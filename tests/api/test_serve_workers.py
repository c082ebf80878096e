"""``polydesk serve --workers 2`` on the embedded store and Redis: the real command, its processes and sockets.

The parent opens the Qdrant folder and the redis-server once; the two answering processes share them
(``knowledge.store_host``), each worker reading its own copy of the store (``knowledge.replica``). A document
uploaded through one worker is ingested by the parent and searched and cited through every connection, whichever
worker takes it.
Connections are spread over both workers (each accepts on its own socket of the port); a worker that dies is
replaced, its replacement takes connections too, makes its own copy and removes the dead one's, and a new version
of the document uploaded then is what every connection cites. SIGTERM stops every process it started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import psutil
import pytest

from api.deps import Services

ROOT = Path(__file__).resolve().parents[2]
CONNECTOR = "pd_workers_connector_key_000000000"
CONTENT = "pd_workers_content_key_0000000000000"
FAQ = """# Versand und Rückgabe

Wie lange dauert der Versand nach Deutschland? Pakete nach Deutschland kommen in 2 bis 3 Werktagen an.

Wie lange habe ich Zeit für eine Rücksendung? Du kannst Artikel innerhalb von 45 Tagen zurückschicken.
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _workers(serve_pid: int) -> list[psutil.Process]:
    """The answering processes of a serve process (not its redis-server or multiprocessing's helper)."""
    return [child for child in psutil.Process(serve_pid).children()
            if any("spawn_main" in part for part in child.cmdline())]


def _listening_sockets(pid: int, port: int) -> set[str]:
    """The sockets (``socket:[inode]``) a process listens on ``port`` with."""
    process = psutil.Process(pid)
    return {os.readlink(f"/proc/{pid}/fd/{c.fd}") for c in process.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def _connections_per_worker(base: str, port: int, serve_pid: int, count: int = 16) -> list[int]:
    """How many of ``count`` keep-alive connections each worker holds. One request at a time: requests in flight
    together could make a worker crowded (``api.balance``) and close some of them."""
    clients = [httpx.Client(base_url=base, timeout=60) for _ in range(count)]
    try:
        assert all(client.get("/healthz").status_code == 200 for client in clients)
        return sorted(sum(1 for c in worker.net_connections("tcp")
                          if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
                      for worker in _workers(serve_pid))
    finally:
        for client in clients:
            client.close()


def _upload(base: str, text: str, deadline: float) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {CONTENT}"}, timeout=60) as content:
        job = content.post("/v1/knowledge", files=[("files", ("versand.md", text.encode(), "text/markdown"))],
                           data={"market": "DE"})
        assert job.status_code == 202, job.text
        while (state := content.get(job.json()["links"]["self"]).json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert state["status"] == "done", state


def _ask_every_worker(base: str, expected: str) -> None:
    """12 new connections (the kernel hands them to either worker): each cites the document with ``expected``."""
    replies = []
    for attempt in range(12):
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {CONNECTOR}"}, timeout=60) as client:
            response = client.post("/v1/answer", json={"message": "Wie lange habe ich Zeit für eine Rücksendung?",
                                                      "market": "DE", "channel": "web"})
            assert response.status_code == 200, response.text
            replies.append(response.json())
            listed = client.get("/v1/knowledge/documents", headers={"Authorization": f"Bearer {CONTENT}"})
            assert [d["document_id"] for d in listed.json()["documents"]] == ["versand.md"], attempt
    assert all(expected in r["text"] and r["citations"][0]["document_id"] == "versand.md" for r in replies), replies
    assert len({r["conversation_id"] for r in replies}) == len(replies)


@pytest.mark.slow
def test_two_workers_share_the_embedded_store_and_redis(tmp_path: Path) -> None:
    port = _free_port()
    keys = [{"key": CONNECTOR, "tenant": "tidewell", "role": "connector"},
            {"key": CONTENT, "tenant": "tidewell", "role": "content"}]
    env = {**os.environ, "POLYDESK_DATA_DIR": str(tmp_path / "data"), "POLYDESK_API_KEYS": json.dumps(keys)}
    env.pop("POLYDESK_REDIS_URL", None)
    env.pop("POLYDESK_QDRANT_URL", None)
    env.pop("POLYDESK_ANSWER_CONCURRENCY", None)
    command = [sys.executable, "-c", "from api.cli.main import app; app()", "serve", "--port", str(port),
               "--workers", "2", "--log-level", "warning"]
    serve = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    replicas = tmp_path / "data" / "replicas"  # the workers' copies of the store
    try:
        deadline = time.monotonic() + 300
        while True:
            assert serve.poll() is None, serve.stderr.read().decode() if serve.stderr else "serve exited"
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "polydesk serve --workers 2 did not become ready"
            time.sleep(0.5)
        children = psutil.Process(serve.pid).children(recursive=True)
        assert sum(1 for c in children if c.name() == "redis-server") == 1  # one redis-server for all workers
        worker_environ = next(c for c in psutil.Process(serve.pid).children() if "python" in c.name()).environ()
        socket_path = Path(worker_environ["POLYDESK_STORE_SOCKET"])
        assert worker_environ["POLYDESK_ANSWER_CONCURRENCY"] == "1"  # unset by the operator: a process per core
        assert worker_environ["POLYDESK_RUN_INGESTION_JOBS"] == "false"  # the parent runs them
        assert socket_path.exists() and oct(socket_path.parent.stat().st_mode & 0o777) == "0o700"

        _upload(base, FAQ, deadline + 120)
        _ask_every_worker(base, "45 Tage")
        assert sorted(f.name for f in replicas.iterdir()) == sorted(str(w.pid) for w in _workers(serve.pid))

        # Each worker accepts on a socket of its own (not one socket shared by all, which lets the first worker
        # to wake take every waiting connection); the parent listens on none.
        listening = [_listening_sockets(worker.pid, port) for worker in _workers(serve.pid)]
        assert [len(sockets) for sockets in listening] == [1, 1] and listening[0] != listening[1], listening
        assert not _listening_sockets(serve.pid, port)
        # 16 connections: each worker takes some (one shared socket gave 16:0 or 15:1 at times).
        spread = _connections_per_worker(base, port, serve.pid)
        assert len(spread) == 2 and sum(spread) == 16 and spread[0] > 0, spread
        # A worker killed is replaced, and the replacement takes connections too.
        killed = _workers(serve.pid)[0]
        killed.kill()
        killed.wait(timeout=30)
        while len(workers := _workers(serve.pid)) < 2 or killed.pid in {w.pid for w in workers}:
            assert time.monotonic() < deadline + 240, "the killed worker was not replaced"
            time.sleep(0.5)
        while (spread := _connections_per_worker(base, port, serve.pid))[0] == 0:
            assert time.monotonic() < deadline + 300, f"the new worker takes no connections: {spread}"
            time.sleep(1)
        assert sum(spread) == 16, spread
        # A new version uploaded now is what both workers cite; the replacement made its own copy and removed the
        # killed worker's.
        _upload(base, FAQ.replace("45 Tagen", "60 Tagen"), deadline + 360)
        _ask_every_worker(base, "60 Tage")
        assert sorted(f.name for f in replicas.iterdir()) == sorted(str(w.pid) for w in _workers(serve.pid))
    finally:
        processes = psutil.Process(serve.pid).children(recursive=True) if serve.poll() is None else []
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
        _, alive = psutil.wait_procs(processes, timeout=30)
        for process in alive:
            process.kill()
    assert not alive, f"left running: {[p.name() for p in alive]}"
    assert not socket_path.exists() and not replicas.exists()


@pytest.mark.unit
@pytest.mark.parametrize("runs_jobs", [True, False])
def test_a_worker_of_serve_workers_submits_ingestion_jobs_and_leaves_running_them_to_the_parent(
        runs_jobs: bool) -> None:
    started: list[str] = []
    service = SimpleNamespace(settings=SimpleNamespace(run_ingestion_jobs=runs_jobs), webhooks=None,
                              jobs=SimpleNamespace(start=lambda: started.append("jobs")),
                              channels=SimpleNamespace(start=lambda: started.append("channels")))
    Services.start(service, warm_up=False)  # type: ignore[arg-type]
    assert started == (["jobs", "channels"] if runs_jobs else ["channels"])
