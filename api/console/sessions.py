"""Console sessions: made from an API key at sign-in, kept in Redis, named by a random id in an HttpOnly cookie.

The session keeps the key's short id, never the key: each request finds the caller again in the key ring
(``KeyRing.by_id``), so a key removed from the configuration ends its sessions at once, and the page allows
exactly what the API allows that key. Only a hash of the session id is stored, so a copy of Redis cannot be
replayed as cookies. Each session has its own CSRF token, which every form and every script call sends back.

Example:
    >>> store = SessionStore(redis_client, ttl_s=8 * 3600)  # doctest: +SKIP
    >>> raw_id, session = store.create(key_id="3f9c2a4e8b1d")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import redis
from pydantic import BaseModel, ValidationError

from polydesk.redisdb import redis_errors

KEY_PREFIX = "polydesk:console:session"
COOKIE = "polydesk_console"
ID_BYTES = 32


class ConsoleSession(BaseModel):
    key_id: str
    csrf: str
    created_at: float
    expires_at: float


class SessionStore:
    """Sessions in Redis with an absolute lifetime of ``ttl_s``; Redis failures become ``StoreError``."""

    def __init__(self, client: redis.Redis, *, ttl_s: int) -> None:
        self.client = client
        self.ttl_s = ttl_s

    @staticmethod
    def _key(raw_id: str) -> str:
        return f"{KEY_PREFIX}:{hashlib.sha256(raw_id.encode('utf-8', 'surrogatepass')).hexdigest()}"

    def create(self, *, key_id: str) -> tuple[str, ConsoleSession]:
        """A new session of the key ``key_id``: its raw id (for the cookie only) and the session."""
        raw_id = secrets.token_urlsafe(ID_BYTES)
        now = time.time()
        session = ConsoleSession(key_id=key_id, csrf=secrets.token_urlsafe(ID_BYTES), created_at=now,
                                 expires_at=now + self.ttl_s)
        with redis_errors("start a console session"):
            self.client.set(self._key(raw_id), session.model_dump_json(), ex=self.ttl_s)
        return raw_id, session

    def get(self, raw_id: str | None) -> ConsoleSession | None:
        """The live session of ``raw_id``; None for a missing, expired, malformed or unreadable one."""
        if not raw_id or len(raw_id) > 128:
            return None
        with redis_errors("read the console session"):
            stored: Any = self.client.get(self._key(raw_id))
        if stored is None:
            return None
        try:
            session = ConsoleSession.model_validate_json(stored)
        except ValidationError:
            return None
        return session if session.expires_at > time.time() else None

    def delete(self, raw_id: str | None) -> None:
        if raw_id and len(raw_id) <= 128:
            with redis_errors("end the console session"):
                self.client.delete(self._key(raw_id))
