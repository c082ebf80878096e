"""Idempotency keys: a retried request gets the first reply back and does not add a turn again.

A connector that times out and retries sends the same ``Idempotency-Key`` header. The
first request claims the key (``SET NX``, a pending marker that expires like a
conversation lock); when its reply is ready, the reply is stored under the key for
``idempotency_ttl_hours``. A retry with the same key and body gets the stored reply; one
that arrives while the first is still running gets ``409 idempotency_in_progress``; the
same key with a different body gets ``400 idempotency_key_reused``. Keys are scoped by
tenant, and linked to the customer so an erasure removes the stored replies too. A request that fails releases
its key, only if the key still holds its own pending marker; when Redis is down at that moment, the release is
done by the next claim once Redis answers again, so the connector's retry is answered instead of getting 409 for
the whole lock time.

Example:
    >>> store = IdempotencyStore(client, conversations=conversations, ttl_s=86400)  # doctest: +SKIP
    >>> with store.claim("tidewell", "retry-7f3a", body, customer_id="c-9") as claim:  # doctest: +SKIP
    ...     reply = claim.replay or claim.done(agent.answer(request, on_save=claim.store_reply))

The reply is stored in the same transaction as the conversation turn it ends (``on_save``: the agent's save
runs ``Claim.store_reply``), so a Redis crash keeps both or neither: a retry after a crash between the two writes
would otherwise store the message a second time. ``done`` then stores the complete reply (its timings, the
tools it called); a failure of that second write is logged, not raised, as the retry is answered either way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from pydantic import BaseModel, ValidationError

from agent.schema import Reply
from agent.state import ConversationStore
from polydesk.errors import ConflictError, InputError, StoreError
from polydesk.redisdb import redis_errors

log = logging.getLogger("polydesk.api")

KEY_PREFIX = "polydesk:idem"
MAX_KEY_CHARS = 255
# Delete a pending marker only if it is still this request's (a later request may have claimed the key since).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class _Record(BaseModel):
    fingerprint: str
    reply: Reply | None = None  # None while the first request runs
    claimant: str = ""  # the pending marker's owner, so a failed request releases its own marker only


@dataclass
class Claim:
    """A claimed key: ``replay`` is the stored reply of an earlier request, else call ``done`` with the new one."""

    store: IdempotencyStore
    redis_key: str
    fingerprint: str
    tenant: str
    customer_id: str | None = None
    replay: Reply | None = None
    finished: bool = field(default=False, init=False)
    saved: bool = field(default=False, init=False)  # the reply was added to its turn's save (done: it succeeded)

    def store_reply(self, pipe: redis.client.Pipeline, reply: Reply) -> None:
        """Add the reply's record (and its link to the customer, for erasure) to ``pipe``."""
        pipe.set(self.redis_key, _Record(fingerprint=self.fingerprint, reply=reply).model_dump_json(),
                 ex=self.store.ttl_s)
        if self.customer_id:
            self.store.conversations.link_customer(pipe, self.tenant, self.customer_id, self.redis_key)
        self.saved = True

    def done(self, reply: Reply) -> Reply:
        """Store ``reply`` for retries; when its turn's save stored it already, only refresh it (best effort)."""
        try:
            with redis_errors("store the idempotent reply"), self.store.client.pipeline(transaction=True) as pipe:
                self.store_reply(pipe, reply)
                pipe.execute()
        except StoreError:
            if not self.saved:
                raise
            log.warning("the reply stored with its turn stays the one replayed (%s): Redis did not take the "
                        "complete one", self.redis_key)
        self.finished = True
        return reply


class IdempotencyStore:
    def __init__(self, client: redis.Redis, *, conversations: ConversationStore, ttl_s: int) -> None:
        self.client = client
        self.conversations = conversations
        self.ttl_s = ttl_s
        self._unreleased: dict[str, str] = {}  # key -> pending marker whose release failed (Redis was down)
        self._unreleased_lock = threading.RLock()  # held while left-overs are released: a claim waits for it

    @staticmethod
    def fingerprint(body: BaseModel) -> str:
        return hashlib.sha256(body.model_dump_json().encode("utf-8")).hexdigest()

    @contextmanager
    def claim(self, tenant: str, key: str, body: BaseModel, *, customer_id: str | None = None) -> Iterator[Claim]:
        """Claim ``key`` for ``body`` (of ``customer_id``, whose erasure removes the stored reply); released again
        when the request fails before its reply is stored."""
        if not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
            raise InputError(f"Idempotency-Key must be 1-{MAX_KEY_CHARS} printable characters",
                             code="invalid_idempotency_key")
        redis_key = f"{KEY_PREFIX}:{tenant}:{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}"
        claim = Claim(self, redis_key, self.fingerprint(body), tenant, customer_id)
        pending = _Record(fingerprint=claim.fingerprint, claimant=uuid.uuid4().hex).model_dump_json()
        self._release_left_over()
        try:
            with redis_errors("claim the idempotency key"):
                claimed = self.client.set(redis_key, pending, nx=True, ex=int(self.conversations.lock_s))
                raw = None if claimed else self.client.get(redis_key)
        except StoreError:  # the SET may have reached Redis (and its AOF) without its reply: release it later
            self._release(redis_key, pending)
            raise
        if not claimed:
            claim.replay = self._replay(raw, claim.fingerprint)
            yield claim
            return
        try:
            yield claim
        finally:
            if not claim.finished:  # compare-and-delete: a reply stored with its turn stays
                self._release(redis_key, pending)

    def _release(self, redis_key: str, pending: str) -> bool:
        """Drop a failed request's pending marker; kept for the next claim when Redis does not answer (the
        request's own error is the one the caller sees)."""
        try:
            with redis_errors("release the idempotency key"):
                self.client.eval(_RELEASE, 1, redis_key, pending)
        except StoreError:
            with self._unreleased_lock:
                self._unreleased[redis_key] = pending
            return False
        return True

    def _release_left_over(self) -> None:
        """Release what failed requests left while Redis was down; a left-over stays listed until released, so a
        concurrent claim of the same key waits here rather than finding it half-released."""
        if not self._unreleased:
            return
        with self._unreleased_lock:
            for redis_key, pending in list(self._unreleased.items()):
                if self._release(redis_key, pending):
                    del self._unreleased[redis_key]

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
