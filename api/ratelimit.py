"""Rate limits per API key, and the throttle on failed authentication.

``RateLimiter``: a token bucket per key (``rate_limit_per_minute`` refill, ``rate_limit_burst``
capacity), kept in Redis so every replica counts the same requests, updated by one Lua script so
concurrent requests never both take the last token. While Redis is down (or hung) each process
keeps limiting on its own in-process buckets of the same size, so the limit never opens fully.
A request over the limit gets ``429 rate_limited`` with ``Retry-After`` (whole seconds).

``AuthThrottle``: a failed authentication (an unknown key) takes a token from a bucket of its
client address and one of the key's first characters (``auth_failure_burst`` capacity,
``auth_failures_per_minute`` refill); an empty bucket answers ``429 auth_throttled`` with
``Retry-After``. Only failures count and only failures are throttled: a valid key authenticates
from a throttled address too, so nobody can lock a real key out; a request without any key
guesses nothing and is always answered 401. The buckets are in-process (per process, not shared
between replicas: N replicas allow N times the failures). Each failure is logged on
``polydesk.security`` with the client address and a short hash of the key; the moment a bucket
runs empty is logged as a warning. No key material is logged.

Example:
    >>> limiter = RateLimiter(client, per_minute=600, burst=60)           # doctest: +SKIP
    >>> limiter.check("3f9a0c1b2d4e")                                     # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import redis

from polydesk.errors import RateLimitedError, StoreError
from polydesk.redisdb import redis_errors

KEY_PREFIX = "polydesk:rate"
PREFIX_CHARS = 8  # an unknown key's first characters share one throttle bucket
log = logging.getLogger("polydesk.api")
security = logging.getLogger("polydesk.security")

# KEYS[1] the bucket; ARGV: capacity, refill per second, now (s). Returns {allowed, seconds until one token}.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(wait)}
"""


class LocalBuckets:
    """Token buckets in this process, by key; the least recently used are forgotten beyond ``max_keys``
    (a forgotten bucket starts full again).

    Example:
        >>> buckets = LocalBuckets(capacity=2, per_minute=60)
        >>> [buckets.take("a") == 0 for _ in range(3)]
        [True, True, False]
    """

    def __init__(self, *, capacity: int, per_minute: float, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(capacity)
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()  # key -> [tokens, at, empty]
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token: 0 when taken, else the seconds until one is there (nothing taken)."""
        return self._take(key)[0]

    def _take(self, key: str) -> tuple[float, bool]:
        """(seconds to wait, whether this refusal is the first since the bucket last gave a token)."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.pop(key, None) or [self.capacity, now, 0.0]
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            tokens = min(self.capacity, bucket[0] + max(0.0, now - bucket[1]) * self.rate)
            bucket[1] = now
            if tokens >= 1:
                bucket[0], bucket[2] = tokens - 1, 0.0
                return 0.0, False
            bucket[0] = tokens
            first, bucket[2] = bucket[2] == 0.0, 1.0
            return (1 - tokens) / self.rate, first


class RateLimiter:
    def __init__(self, client: redis.Redis, *, per_minute: int, burst: int) -> None:
        self.capacity = burst
        self.rate = per_minute / 60.0
        self._take = client.register_script(_TAKE)
        self.local = LocalBuckets(capacity=burst, per_minute=per_minute)  # while Redis is down
        self._on_local = False

    def check(self, key_id: str) -> None:
        """Take one token for ``key_id``; a ``RateLimitedError`` (429) when there is none."""
        try:
            with redis_errors("check the rate limit"):
                allowed, wait = self._take(keys=[f"{KEY_PREFIX}:{key_id}"],
                                           args=[self.capacity, self.rate, time.time()])
        except StoreError as exc:
            if not self._on_local:
                log.warning("rate limits are counted in this process until Redis answers: %s", exc.message)
                self._on_local = True
            wait = self.local.take(key_id)
            allowed = wait == 0
        else:
            if self._on_local:
                log.warning("rate limits are counted in Redis again")
                self._on_local = False
        if not int(allowed):
            retry_after = max(1, math.ceil(float(wait)))
            raise RateLimitedError(f"too many requests for this API key; retry in {retry_after} s",
                                   retry_after_s=retry_after)


def key_hash(raw: str) -> str:
    """A short hash of a presented key, safe to log (a configured key's is its ``key_id``)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class AuthThrottle:
    """Counts failed authentications per client address and per key prefix (see the module docstring)."""

    def __init__(self, *, per_minute: int, burst: int, max_keys: int = 100_000) -> None:
        self.by_address = LocalBuckets(capacity=burst, per_minute=per_minute, max_keys=max_keys)
        self.by_prefix = LocalBuckets(capacity=burst, per_minute=per_minute, max_keys=max_keys)

    def failed(self, address: str, raw_key: str, *, path: str) -> int | None:
        """Count one unknown key: None when it may be answered 401, else the seconds to send in ``Retry-After``
        with a 429."""
        hashed = key_hash(raw_key)
        wait, first = self.by_address._take(address)
        prefix = hashlib.sha256(raw_key[:PREFIX_CHARS].encode("utf-8", "surrogatepass")).hexdigest()[:16]
        prefix_wait, prefix_first = self.by_prefix._take(prefix)
        if prefix_wait > wait:
            wait, first = prefix_wait, prefix_first
        if wait == 0:
            security.info("authentication failed: unknown key from %s (key hash %s) on %s", address, hashed, path)
            return None
        retry_after = max(1, math.ceil(wait))
        if first:
            security.warning("failed authentications throttled: unknown key from %s (key hash %s) on %s; "
                             "429 for %d s", address, hashed, path, retry_after)
        return retry_after
