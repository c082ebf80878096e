"""A background loop in a daemon thread: run one step after another until stopped, backing off on failure.

``step()`` returns True when more work may be waiting (the next step runs at once) and False when it found
none (the next runs after ``poll_s``). A step that raises is logged and the wait doubles with each failure
in a row, up to ``max_backoff_s``; a step that succeeds resets it. ``on_start`` runs once in the thread
before the first step (a warm-up); if it fails, that is logged and the steps run anyway.

``lower_priority()`` lowers the calling thread's CPU priority (Linux, where a thread has its own; the threads it
starts inherit it): work that may wait, such as ingesting an upload, then yields the cores to the answers
served beside it. Such a thread still takes the interpreter lock, and the kernel seldom runs it on busy cores,
so it should not hold the lock often: give it the long work only (the ingestion jobs), not a polling loop.

``wake()`` ends an idle wait at once (new work is known to be waiting), not the wait after a failure.
``start()`` does nothing while the thread runs. ``stop(timeout_s)`` lets the current step finish, waiting
at most ``timeout_s``, and logs a thread that did not end; ``stopping`` tells a long step to give up early.

Example:
    >>> worker = Worker("polydesk-ingest-jobs", lambda: queue.run_once() is not None,    # doctest: +SKIP
    ...                 poll_s=0.2, max_backoff_s=25.6)              # a job ran: another may be waiting
    >>> worker.start()                                                                    # doctest: +SKIP
    >>> worker.stop(timeout_s=30.0)                                                       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

_MAX_DOUBLINGS = 64  # beyond any cap, and 2**64 still fits a float
# The ``nice`` of work that may wait (the ingestion jobs). Measured (docs/performance.md, "Ingestion while
# serving"): answer p95 at 16 clients while 500 files are ingested 0.87-1.24x its idle value with ingestion at
# nice 10, 1.05-1.57x at the answers' priority; the upload took 16-17 s instead of 15.
BACKGROUND_NICE = 10


def lower_priority(by: int = BACKGROUND_NICE) -> None:
    """Lower the calling thread's CPU priority by ``by`` (Linux; elsewhere nothing happens)."""
    if not sys.platform.startswith("linux"):
        return
    thread_id = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread_id, os.getpriority(os.PRIO_PROCESS, thread_id) + by)
    except OSError as exc:
        logger.warning("could not lower the CPU priority of thread %s: %s", threading.current_thread().name, exc)


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Worker:
    """Runs ``step`` in a daemon thread named ``name`` until stopped (see the module docstring).

    ``label`` names the loop in log lines ("ingestion worker pass failed (3 in a row)"; default: ``name``),
    written to ``log`` (default: this module's logger), so they read as the owner's.
    """

    def __init__(self, name: str, step: Callable[[], bool], *, poll_s: float, max_backoff_s: float,
                 on_start: Callable[[], None] | None = None, label: str | None = None,
                 log: logging.Logger | None = None) -> None:
        self.name = name
        self.step = step
        self.poll_s = poll_s
        self.max_backoff_s = max_backoff_s
        self.on_start = on_start
        self.label = label or name
        self.log = log or logger
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True from ``start()`` until ``stop()``, while the thread lives (one that did not stop in time is let go)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """True from ``stop()`` until the next ``start()``."""
        return self._stop.is_set()

    def start(self) -> threading.Thread:
        """Start the thread, unless it is running; returns it."""
        if self._thread is not None and self._thread.is_alive():
            return self._thread
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stop,), name=self.name, daemon=True)
        self._thread.start()
        return self._thread

    def wake(self) -> None:
        """Run the next step now instead of after ``poll_s``; the longer wait after a failed step is kept."""
        self._wake.set()

    def stop(self, timeout_s: float) -> bool:
        """Ask the thread to stop after its current step and wait at most ``timeout_s``; False if it still runs."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout_s)
        if thread.is_alive():
            self.log.warning("%s (thread %s) did not stop within %.0f s", self.label, self.name, timeout_s)
            return False
        return True

    def backoff_s(self, failures: int) -> float:
        """The wait before the next step after ``failures`` failed steps in a row (0: after an idle step)."""
        return min(self.max_backoff_s, self.poll_s * 2 ** min(failures, _MAX_DOUBLINGS))

    def _run(self, stop: threading.Event) -> None:
        if self.on_start is not None:
            try:
                self.on_start()
            except Exception:
                self.log.exception("%s: getting ready failed; running anyway", self.label)
        failures = 0
        while not stop.is_set():
            try:
                more, failures = self.step(), 0
                if more:
                    continue
            except Exception:
                failures += 1
                self.log.exception("%s pass failed (%d in a row)", self.label, failures)
            if failures:
                stop.wait(self.backoff_s(failures))
            else:
                self._wake.wait(self.poll_s)
                self._wake.clear()
