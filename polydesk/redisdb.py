"""Redis for polydesk: one way to connect (a server, or the embedded redis-server) and one error mapping.

Conversation state, handoff events and their webhook delivery share these, so a Redis
that is down is reported the same way everywhere: a ``StoreError`` (``store_unavailable``).

Every call has a deadline: ``redis_timeout_s`` for connecting and for each reply. A Redis that
accepts connections but never answers (a stopped process, a full network buffer) fails a call
within it; a timed-out call is not retried (a connection refused or reset is, twice, quickly).
After a timeout a small circuit breaker makes the calls of this client fail at once for
``redis_breaker_cooldown_s``; then one call probes Redis again, and its answer closes the
breaker. So 60 requests against a hung Redis wait out the deadline about once, not each
several times over.

Example:
    >>> client = connect_redis(Settings(redis_url="redis://localhost:6379/0"))   # doctest: +SKIP
    >>> with redis_errors("read the conversation"):                              # doctest: +SKIP
    ...     client.get("polydesk:conv:tidewell:c-1")
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.connection import AbstractConnection, UnixDomainSocketConnection
from redis.retry import Retry

from polydesk.diskspace import is_disk_full
from polydesk.errors import StorageFullError, StoreError
from polydesk.redis_server import EmbeddedServer
from polydesk.settings import Settings

log = logging.getLogger("polydesk.redis")


class CircuitOpenError(redis.exceptions.ConnectionError):
    """A call refused at once: Redis did not answer a moment ago (never retried)."""


class CircuitBreaker:
    """Closed while Redis answers. A timeout opens it for ``cooldown_s``: calls fail at once. Then one call
    (the probe) may go through; an answer closes it, another timeout opens it again.

    Example:
        >>> breaker = CircuitBreaker(cooldown_s=2.0, probe_s=1.0)
        >>> breaker.allow(owner=1), breaker.failed(), breaker.allow(owner=2)
        (True, None, False)
    """

    def __init__(self, *, cooldown_s: float, probe_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown_s = cooldown_s
        self.probe_s = probe_s  # how long a probe may take before another call may probe
        self.clock = clock
        self._lock = threading.Lock()
        self._open_until: float | None = None
        self._probe: tuple[int, float] | None = None  # (owner, until)

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def allow(self, *, owner: int) -> bool:
        """May ``owner`` (a connection) call Redis now? Claims the probe when the cool-down is over."""
        if self._open_until is None:
            return True
        with self._lock:
            if self._open_until is None:
                return True
            now = self.clock()
            if now < self._open_until:
                return False
            if self._probe is None or self._probe[0] == owner or now >= self._probe[1]:
                self._probe = (owner, now + self.probe_s)
                return True
            return False

    def failed(self) -> None:
        """A call timed out: open (again) for the cool-down."""
        if self.cooldown_s <= 0:
            return
        with self._lock:
            if self._open_until is None:
                log.warning("Redis did not answer in time: its calls fail at once for %.1f s, then one probes",
                            self.cooldown_s)
            self._open_until = self.clock() + self.cooldown_s
            self._probe = None

    def succeeded(self) -> None:
        if self._open_until is None:
            return
        with self._lock:
            if self._open_until is not None:
                log.warning("Redis answers again")
            self._open_until = None
            self._probe = None


class _Guarded(AbstractConnection):
    """A connection that asks the breaker first and tells it what happened (mixed into redis-py's classes)."""

    breaker: CircuitBreaker

    def _refuse(self) -> None:
        self.disconnect()
        raise CircuitOpenError(f"Redis at {self._host_error()} did not answer a moment ago; not waiting again yet")

    def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True) -> None:
        if self._sock is None and not self.breaker.allow(owner=id(self)):
            self._refuse()
        try:
            super().connect_check_health(check_health=check_health, retry_socket_connect=retry_socket_connect)
        except redis.exceptions.TimeoutError:
            self.breaker.failed()
            raise

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self.breaker.allow(owner=id(self)):
            self._refuse()
        try:
            super().send_packed_command(command, check_health=check_health)
        except redis.exceptions.TimeoutError:
            self.breaker.failed()
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().read_response(*args, **kwargs)
        except redis.exceptions.TimeoutError:
            self.breaker.failed()
            raise
        except redis.exceptions.ResponseError:  # an answer all the same
            self.breaker.succeeded()
            raise
        self.breaker.succeeded()
        return response


class _Retry(Retry):
    """Retries a refused or reset connection (a blip, a failover), never a timeout nor an open breaker: the
    deadline is the deadline."""

    def __init__(self) -> None:
        super().__init__(ExponentialWithJitterBackoff(base=0.02, cap=0.2), retries=2,
                         supported_errors=(redis.exceptions.ConnectionError,))

    def call_with_retry(self, do: Callable[[], Any], fail: Callable[..., Any],
                        is_retryable: Callable[[Exception], bool] | None = None,
                        with_failure_count: bool = False) -> Any:
        def retryable(error: Exception) -> bool:
            if isinstance(error, CircuitOpenError | redis.exceptions.TimeoutError):
                return False
            return is_retryable is None or is_retryable(error)

        return super().call_with_retry(do, fail, retryable, with_failure_count)


def _guard(pool: redis.ConnectionPool, settings: Settings) -> CircuitBreaker:
    """Swap the pool's connection class for a guarded subclass with its own breaker (before any connection)."""
    breaker = CircuitBreaker(cooldown_s=settings.redis_breaker_cooldown_s, probe_s=2 * settings.redis_timeout_s)
    base = pool.connection_class
    pool.connection_class = type(f"Guarded{base.__name__}", (_Guarded, base), {"breaker": breaker})
    return breaker


def _timeouts(settings: Settings) -> dict[str, Any]:
    return {"socket_timeout": settings.redis_timeout_s, "socket_connect_timeout": settings.redis_timeout_s,
            "retry": _Retry()}


class EmbeddedRedis(redis.Redis):
    """A client of this process's embedded redis-server; closing the last one stops the server."""

    server: EmbeddedServer | None = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            server, self.server = self.server, None
            if server is not None:
                server.release()


def connect_redis(settings: Settings) -> redis.Redis:
    """A Redis client: the server at ``settings.redis_url``, else the embedded redis-server of ``data_dir``
    (started by this process if it does not run yet; a ``StoreError`` when another process owns it)."""
    if settings.redis_url:
        try:
            pool = redis.ConnectionPool.from_url(settings.redis_url, **_timeouts(settings))
        except ValueError as exc:
            raise StoreError(f"POLYDESK_REDIS_URL is not a Redis URL: {exc}") from exc
        _guard(pool, settings)
        return redis.Redis.from_pool(pool)
    server = EmbeddedServer.acquire(settings.redis_path)
    try:
        pool = redis.ConnectionPool(connection_class=UnixDomainSocketConnection, path=server.socket_path,
                                    **_timeouts(settings))
        _guard(pool, settings)
        client = EmbeddedRedis(connection_pool=pool)
    except BaseException:
        server.release()
        raise
    client.auto_close_connection_pool = True  # the pool is this client's alone (``Redis.from_pool``)
    client.server = server
    return client


def breaker_of(client: redis.Redis) -> CircuitBreaker | None:
    """The circuit breaker of a client ``connect_redis`` made (None for another client)."""
    breaker: CircuitBreaker | None = getattr(client.connection_pool.connection_class, "breaker", None)
    return breaker


@contextmanager
def redis_errors(action: str) -> Iterator[None]:
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise StoreError(f"could not {action}: Redis is unreachable ({exc})") from exc
    except redis.exceptions.RedisError as exc:
        if is_disk_full(exc):  # MISCONF: Redis refuses writes since it could not save its data
            raise StorageFullError(f"could not {action}: Redis cannot save its data (is its disk full?): {exc}"
                                   ) from exc
        raise StoreError(f"could not {action}: {exc}") from exc
