"""Test support for the channel connectors: a fake chat platform on a loopback port, and an app that uses it.

``FakePlatform`` is a real HTTP server (``http.server`` in a thread) that records every call it receives
(path, headers, JSON body) and answers 200 with the platform's success body, or, while ``fail_next`` lasts,
the status it was told (a platform that is down). ``channel_app`` runs the real app with its background
workers on a channels file that points the tenant's accounts at the fake.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import ApiKey
from api.runtime import Runtime
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings
from tests.api.conftest import KEYS

# The channel tests' debounce window (the product's default is 2 s): long enough that a test's quick messages
# (milliseconds apart) fall in one window, short enough that the suite does not spend it waiting.
DEBOUNCE_S = 1.0
# How long a test waits to see that nothing (more) is sent: the window, a worker's poll and an answer, with margin.
QUIET_S = DEBOUNCE_S + 1.0


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int


@dataclass
class FakePlatform:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, count: int, status: int = 503) -> None:
        with self.lock:
            self.failures.extend([status] * count)

    def delivered(self, path_part: str = "") -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.status == 200 and path_part in c.path]

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            assert time.monotonic() < deadline, f"timed out; calls so far: {self.calls}"
            time.sleep(0.05)

    def quiet_for(self, seconds: float) -> None:
        """Let the background run a while (for checking that nothing more arrives)."""
        time.sleep(seconds)

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, bytes]:
        with self.lock:
            status = self.failures.pop(0) if self.failures else 200
            body = json.loads(raw) if raw else {}
            self.calls.append(Call(path, headers, body, status))
        if status != 200:
            return status, b'{"message": "unavailable"}'
        if "/sendMessage" in path:
            return 200, json.dumps({"ok": True, "result": {"message_id": len(self.calls), "text": body.get("text")}})\
                .encode()
        if path.endswith("/me/messages"):  # Messenger's Send API
            return 200, json.dumps({"recipient_id": body["recipient"]["id"], "message_id": f"m_{len(self.calls)}"})\
                .encode()
        if path.endswith("/messages"):  # WhatsApp Cloud API
            return 200, json.dumps({"messaging_product": "whatsapp", "contacts": [{"input": body["to"],
                                    "wa_id": body["to"]}], "messages": [{"id": f"wamid.{len(self.calls)}"}]}).encode()
        return 200, b'{"sentMessages": [{"id": "1", "quoteToken": "q"}]}'


def serve_platform() -> Iterator[FakePlatform]:
    platform = FakePlatform()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, body = platform.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-platform", daemon=True)
    thread.start()
    platform.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield platform
    server.shutdown()
    server.server_close()


def channel_app(index: KnowledgeIndex, open_runtime: Callable[[KnowledgeIndex, Settings], Runtime],
                data_dir: Path, channels: dict[str, Any], *, keys: Sequence[ApiKey] = KEYS,
                **values: Any) -> Iterator[TestClient]:
    """The app with its workers running, on ``channels`` (written to a JSON file) and ``index``; ``keys``: the
    API keys it knows (default: every role of both test tenants)."""
    path = data_dir / "channels.json"
    path.write_text(json.dumps(channels), encoding="utf-8")
    settings = Settings(data_dir=data_dir, channels=path, _env_file=None,  # type: ignore[call-arg]
                        channel_debounce_s=DEBOUNCE_S, channel_backoff_base_s=0.2, **values)
    runtime = open_runtime(index, settings)
    try:
        with TestClient(create_app(settings, runtime=runtime, keys=keys, background=True),
                        raise_server_exceptions=False) as client:
            yield client
    finally:
        runtime.close()
