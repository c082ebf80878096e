"""``polydesk serve --workers 2`` on the embedded store and Redis: the real command, its processes and sockets.

The parent opens the Qdrant folder and the redis-server once; the two answering processes share them
(``knowledge.store_host``). A document uploaded through one worker is searched and cited through every
connection, whichever worker takes it; SIGTERM stops every process it started.
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

import httpx
import psutil
import pytest

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


@pytest.mark.slow
def test_two_workers_share_the_embedded_store_and_redis(tmp_path: Path) -> None:
    port = _free_port()
    keys = [{"key": CONNECTOR, "tenant": "tidewell", "role": "connector"},
            {"key": CONTENT, "tenant": "tidewell", "role": "content"}]
    env = {**os.environ, "POLYDESK_DATA_DIR": str(tmp_path / "data"), "POLYDESK_API_KEYS": json.dumps(keys)}
    env.pop("POLYDESK_REDIS_URL", None)
    env.pop("POLYDESK_QDRANT_URL", None)
    command = [sys.executable, "-c", "from api.cli.main import app; app()", "serve", "--port", str(port),
               "--workers", "2", "--log-level", "warning"]
    serve = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
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
        socket_path = Path(next(c for c in psutil.Process(serve.pid).children()
                                if "python" in c.name()).environ()["POLYDESK_STORE_SOCKET"])
        assert socket_path.exists() and oct(socket_path.parent.stat().st_mode & 0o777) == "0o700"

        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {CONTENT}"}, timeout=60) as content:
            job = content.post("/v1/knowledge", files=[("files", ("versand.md", FAQ.encode(), "text/markdown"))],
                               data={"market": "DE"})
            assert job.status_code == 202, job.text
            while (state := content.get(job.json()["links"]["self"]).json())["status"] in ("queued", "running"):
                assert time.monotonic() < deadline + 120
                time.sleep(0.2)
            assert state["status"] == "done", state

        replies = []
        for attempt in range(12):  # new connections: the kernel hands them to either worker
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {CONNECTOR}"}, timeout=60) as client:
                response = client.post("/v1/answer", json={"message": "Wie lange habe ich Zeit für eine Rücksendung?",
                                                          "market": "DE", "channel": "web"})
                assert response.status_code == 200, response.text
                replies.append(response.json())
                listed = client.get("/v1/knowledge/documents", headers={"Authorization": f"Bearer {CONTENT}"})
                assert [d["document_id"] for d in listed.json()["documents"]] == ["versand.md"], attempt
        assert all("45 Tage" in r["text"] and r["citations"][0]["document_id"] == "versand.md" for r in replies)
        assert len({r["conversation_id"] for r in replies}) == len(replies)
    finally:
        processes = psutil.Process(serve.pid).children(recursive=True) if serve.poll() is None else []
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
        _, alive = psutil.wait_procs(processes, timeout=30)
        for process in alive:
            process.kill()
    assert not alive, f"left running: {[p.name() for p in alive]}"
    assert not socket_path.exists()
