"""Rate limits per API key, kept in Redis so every replica counts the same requests.

A token bucket per key (``rate_limit_per_minute`` refill, ``rate_limit_burst`` capacity),
updated by one Lua script so concurrent requests never both take the last token. A
request over the limit gets ``429`` with ``Retry-After`` (whole seconds).

Example:
    >>> limiter = RateLimiter(client, per_minute=600, burst=60)           # doctest: +SKIP
    >>> limiter.check("3f9a0c1b2d4e")                                     # doctest: +SKIP
"""

from __future__ import annotations

import math
import time

import redis

from polydesk.errors import RateLimitedError, StoreError
from polydesk.redisdb import redis_errors

KEY_PREFIX = "polydesk:rate"

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


class RateLimiter:
    def __init__(self, client: redis.Redis, *, per_minute: int, burst: int, fail_open: bool = False) -> None:
        self.capacity = burst
        self.rate = per_minute / 60.0
        self.fail_open = fail_open  # degraded mode: when Redis is down, let requests through to the safe reply
        self._take = client.register_script(_TAKE)

    def check(self, key_id: str) -> None:
        """Take one token for ``key_id``; a ``RateLimitedError`` (429) when there is none."""
        try:
            with redis_errors("check the rate limit"):
                allowed, wait = self._take(keys=[f"{KEY_PREFIX}:{key_id}"],
                                           args=[self.capacity, self.rate, time.time()])
        except StoreError:
            if self.fail_open:
                return
            raise
        if not int(allowed):
            retry_after = max(1, math.ceil(float(wait)))
            raise RateLimitedError(f"too many requests for this API key; retry in {retry_after} s",
                                   retry_after_s=retry_after)
