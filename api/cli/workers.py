"""The answering processes of ``polydesk serve --workers N``: each accepts connections on its own socket.

uvicorn's own workers share one listening socket, and the first to wake takes every connection that is
waiting. Keep-alive clients that connect together (a reverse proxy's upstream pool, a load test) can then all
land on one process while the others idle: in four runs of the throughput bench, its 16 connections were split
16:0, 15:1, 12:4 and 8:8 between two workers. Here each worker binds the port itself with ``SO_REUSEPORT``,
and the kernel spreads new connections over the workers that are listening by a hash of their addresses. A
worker listens once its app has started, and a worker that exits takes its socket with it, so no connection
waits on a socket that nobody accepts from. The hash spreads connections evenly only on average (26:38 for 64
connections at times); ``api.balance`` evens out what the hash left uneven.

The parent process (``run_workers``) starts the workers, starts another when one exits, and stops them all on
SIGTERM or SIGINT. A worker that fails before it serves (the app cannot start, the port is taken) would fail
the same way again, so that stops everything.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
from functools import partial
from multiprocessing.process import BaseProcess
from types import FrameType

from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE  # a worker's exit code when it could not start serving

from api.balance import ABSENT, WorkerBalance, WorkerLoads
from polydesk.errors import ConfigError

APP = "api.app:serve_app"
log = logging.getLogger("polydesk.serve")


def listening_socket(host: str, port: int) -> socket.socket:
    """``host:port`` bound with ``SO_REUSEPORT``: every worker binds its own, the kernel spreads connections."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def run_workers(*, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve on ``workers`` processes until SIGTERM or SIGINT; ``ConfigError`` when the port cannot be bound."""
    try:
        listening_socket(host, port).close()  # a port another program holds fails here, before any worker starts
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    loads = WorkerLoads.make(workers, context)

    def start(index: int) -> BaseProcess:
        process = context.Process(target=_work, args=(host, port, log_level, loads, index), name="polydesk-worker")
        process.start()
        return process

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    processes = [start(index) for index in range(workers)]
    failed = False
    try:
        while not stop.wait(0.5):
            for number, process in enumerate(processes):
                if process.is_alive() or stop.is_set():  # stopping: workers exit on the same Ctrl-C
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("worker %d could not start serving; stopping", process.pid)
                    failed = True
                    stop.set()
                    break
                log.warning("worker %d exited (code %s); starting another", process.pid, process.exitcode)
                loads.counts[number] = ABSENT  # until its replacement listens: no peer to balance against
                processes[number] = start(number)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way, then exits
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
                process.join()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if failed:
        raise SystemExit(STARTUP_FAILURE)


def _balanced_app(loads: WorkerLoads, index: int) -> ASGIApp:
    from api.app import serve_app

    return WorkerBalance(serve_app(), loads, index=index)


def _work(host: str, port: int, log_level: str, loads: WorkerLoads, index: int) -> None:
    """Worker ``index``: its own socket on the port, listening once the app has started; it keeps its count of
    requests in flight in ``loads`` (``api.balance``)."""
    import uvicorn

    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", host, port, exc)
        raise SystemExit(STARTUP_FAILURE) from exc
    server = uvicorn.Server(uvicorn.Config(partial(_balanced_app, loads, index), factory=True, host=host,
                                           port=port, log_level=log_level))
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)
