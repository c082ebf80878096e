"""The embedded redis-server belongs to the process that started it.

It stops when its last client closes, when its owner is killed (SIGTERM or SIGKILL: no orphan), and
when ``polydesk serve`` stops; a second process is refused the data folder instead of attaching to
a server it did not start, while a copied folder gets a server of its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polydesk.errors import StoreError
from polydesk.redisdb import EmbeddedRedis, connect_redis
from polydesk.settings import Settings

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")]

ROOT = Path(__file__).resolve().parents[2]
# A process that opens the embedded Redis of a data folder, writes a key, prints the server's pid and waits.
OWNER = """
import sys, time
from polydesk.redisdb import connect_redis
from polydesk.settings import Settings
client = connect_redis(Settings(data_dir=sys.argv[1], _env_file=None))
client.set("written-by", "owner")
print(client.server.pid, flush=True)
time.sleep(120)
"""


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]


def _gone(pid: int) -> bool:
    """No such process any more (a zombie waiting for a reaper counts as gone: it runs nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


def _wait_gone(pid: int, within_s: float = 5.0) -> float:
    began = time.monotonic()
    while not _gone(pid):
        assert time.monotonic() - began < within_s, f"process {pid} still runs after {within_s} s"
        time.sleep(0.02)
    return time.monotonic() - began


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split(" (", 1)[1].rsplit(") ", 1)
        except (OSError, IndexError, ValueError):
            continue
        if int(rest.split()[1]) == pid:
            found.append((int(stat.parent.name), name))
    return found


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    """Another Python process that owns the embedded Redis of ``tmp_path / "data"``: (process, redis pid, folder)."""
    data_dir = tmp_path / "data"
    process = subprocess.Popen([sys.executable, "-c", OWNER, str(data_dir)], cwd=ROOT, stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    redis_pid = int(process.stdout.readline())
    yield process, redis_pid, data_dir
    process.kill()
    process.wait()
    _wait_gone(redis_pid, within_s=20)


def test_the_server_stops_when_its_last_client_closes(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first, second = connect_redis(settings), connect_redis(settings)
    assert isinstance(first, EmbeddedRedis) and isinstance(second, EmbeddedRedis)
    server = first.server
    assert server is not None and second.server is server  # one server per folder and process
    first.set("kept", "yes")
    first.close()
    assert server.process.poll() is None and second.get("kept") == b"yes"
    second.close()
    assert server.process.poll() is not None and not Path(server.socket_path).exists()
    again = connect_redis(settings)  # the same process opens the folder again: its data was saved
    try:
        assert again.get("kept") == b"yes"
    finally:
        again.close()


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_server_dies_with_its_owner(owner: tuple[subprocess.Popen[str], int, Path], how: signal.Signals) -> None:
    process, redis_pid, data_dir = owner
    assert not _gone(redis_pid)
    left = Path((data_dir / "redis" / "polydesk.lock").read_text().split(maxsplit=2)[2].strip())
    assert (left / "redis.conf").is_file()  # the server's private folder: socket, config and log
    process.send_signal(how)
    process.wait()
    _wait_gone(redis_pid)
    client = connect_redis(_settings(data_dir))  # the folder is free again, and the owner's data was saved
    try:
        assert client.get("written-by") == b"owner"
        assert not left.exists()  # the killed owner could not remove it; the next owner of the folder did
    finally:
        client.close()


def test_another_process_is_refused_the_folder_and_a_copy_gets_its_own_server(
        owner: tuple[subprocess.Popen[str], int, Path], tmp_path: Path) -> None:
    process, redis_pid, data_dir = owner
    began = time.monotonic()
    with pytest.raises(StoreError) as refused:
        connect_redis(_settings(data_dir))
    assert time.monotonic() - began < 2
    message = refused.value.message
    assert f"process {process.pid}" in message and f"redis-server pid {redis_pid}" in message
    assert "POLYDESK_REDIS_URL" in message and refused.value.code == "store_unavailable"
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    client = connect_redis(_settings(copy))
    try:
        assert isinstance(client, EmbeddedRedis) and client.server is not None
        assert client.server.pid != redis_pid
        client.set("written-by", "the copy")
    finally:
        client.close()
    assert not _gone(redis_pid)  # the original's server was never touched


@pytest.mark.slow
def test_polydesk_serve_stops_its_redis_server(tmp_path: Path) -> None:
    """The real command: SIGTERM stops it gracefully, SIGKILL leaves no orphan either."""
    port = _free_port()
    env = {**os.environ, "POLYDESK_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-c", "from api.cli.main import app; app()", "serve", "--port", str(port),
               "--log-level", "warning"]
    for how in (signal.SIGKILL, signal.SIGTERM):
        serve = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while not (servers := [pid for pid, name in _children(serve.pid) if name == "redis-server"]):
                assert serve.poll() is None and time.monotonic() < deadline, "polydesk serve started no redis-server"
                time.sleep(0.1)
            serve.send_signal(how)
            serve.wait(timeout=60)
            _wait_gone(servers[0], within_s=15)
        finally:
            serve.kill()
            serve.wait()
