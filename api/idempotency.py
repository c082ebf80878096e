"""Idempotency keys: a retried request gets the first reply back and does not add a turn again.

A connector that times out and retries sends the same ``Idempotency-Key`` header. The
first request claims the key (``SET NX``, a pending marker that expires like a
conversation lock); when its reply is ready, the reply is stored under the key for
``idempotency_ttl_hours``. A retry with the same key and body gets the stored reply; one
that arrives while the first is still running gets ``409 idempotency_in_progress``; the
same key with a different body gets ``400 idempotency_key_reused``. Keys are scoped by
tenant, and linked to the customer so an erasure removes the stored replies too.

Example:
    >>> store = IdempotencyStore(client, conversations=conversations, ttl_s=86400)  # doctest: +SKIP
    >>> with store.claim("tidewell", "retry-7f3a", body) as claim:                # doctest: +SKIP
    ...     reply = claim.replay or claim.done(agent.answer(request), customer_id="c-9")
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from pydantic import BaseModel, ValidationError

from agent.schema import Reply
from agent.state import ConversationStore
from polydesk.errors import ConflictError, InputError
from polydesk.redisdb import redis_errors

KEY_PREFIX = "polydesk:idem"
MAX_KEY_CHARS = 255


class _Record(BaseModel):
    fingerprint: str
    reply: Reply | None = None  # None while the first request runs


@dataclass
class Claim:
    """A claimed key: ``replay`` is the stored reply of an earlier request, else call ``done`` with the new one."""

    store: IdempotencyStore
    redis_key: str
    fingerprint: str
    tenant: str
    replay: Reply | None = None
    finished: bool = field(default=False, init=False)

    def done(self, reply: Reply, *, customer_id: str | None) -> Reply:
        record = _Record(fingerprint=self.fingerprint, reply=reply).model_dump_json()
        with redis_errors("store the idempotent reply"), self.store.client.pipeline(transaction=True) as pipe:
            pipe.set(self.redis_key, record, ex=self.store.ttl_s)
            if customer_id:
                self.store.conversations.link_customer(pipe, self.tenant, customer_id, self.redis_key)
            pipe.execute()
        self.finished = True
        return reply


class IdempotencyStore:
    def __init__(self, client: redis.Redis, *, conversations: ConversationStore, ttl_s: int) -> None:
        self.client = client
        self.conversations = conversations
        self.ttl_s = ttl_s

    @staticmethod
    def fingerprint(body: BaseModel) -> str:
        return hashlib.sha256(body.model_dump_json().encode("utf-8")).hexdigest()

    @contextmanager
    def claim(self, tenant: str, key: str, body: BaseModel) -> Iterator[Claim]:
        """Claim ``key`` for ``body``; released again when the request fails before ``done``."""
        if not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
            raise InputError(f"Idempotency-Key must be 1-{MAX_KEY_CHARS} printable characters",
                             code="invalid_idempotency_key")
        redis_key = f"{KEY_PREFIX}:{tenant}:{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}"
        claim = Claim(self, redis_key, self.fingerprint(body), tenant)
        pending = _Record(fingerprint=claim.fingerprint).model_dump_json()
        with redis_errors("claim the idempotency key"):
            claimed = self.client.set(redis_key, pending, nx=True, ex=int(self.conversations.lock_s))
            raw = None if claimed else self.client.get(redis_key)
        if not claimed:
            claim.replay = self._replay(raw, claim.fingerprint)
            yield claim
            return
        try:
            yield claim
        finally:
            if not claim.finished:
                with redis_errors("release the idempotency key"):
                    self.client.delete(redis_key)

    @staticmethod
    def _replay(raw: bytes | str | None, fingerprint: str) -> Reply:
        if raw is None:  # expired between SET NX and GET: the first request failed; the client retries
            raise ConflictError("a request with this Idempotency-Key has just failed; retry",
                                code="idempotency_in_progress")
        try:
            record = _Record.model_validate(json.loads(raw))
        except (ValidationError, ValueError) as exc:
            raise ConflictError("the stored reply for this Idempotency-Key is unreadable",
                                code="idempotency_in_progress") from exc
        if record.fingerprint != fingerprint:
            raise InputError("this Idempotency-Key was used for a different request", code="idempotency_key_reused")
        if record.reply is None:
            raise ConflictError("a request with this Idempotency-Key is still being answered; retry shortly",
                                code="idempotency_in_progress")
        return record.reply
