"""Erasing one customer of one tenant (GDPR article 17, right to erasure), and the audit log of erasures.

``CustomerEraser.erase(tenant, customer_id, actor=...)`` removes, in this order (so that a retry after a
failure still finds everything a first attempt left):

1. the handoff events of the customer (or of their conversations) from the events stream, and their copies
   in the webhook retry schedule and dead letters (``agent.events``, ``agent.webhook_store``), and the
   feedback given in their conversations, comments included (``agent.feedback``);
2. their conversations, each under its conversation lock (an answer in flight finishes first and cannot save
   it again afterwards), found through the customer index (``ConversationStore.link_customer``) and, for
   conversations saved before the index existed, a scan of the tenant's conversation keys;
3. every other Redis key linked to the customer (e.g. cached idempotent replies), and the messages kept
   on this replica's disk while a dependency was down (``agent.inbox``);
4. their chunks in ingested transcripts (``kind="conversation"``, ``extra["customer_id"]``): each affected
   document is written as a new version without them (``KnowledgeIndex.write_document`` switches versions
   atomically, then deletes the old version's chunks), or deleted when nothing else remains. The rewritten
   version keeps the document's ``source_hash``, so re-uploading the same original file is "unchanged" and
   does not bring the customer back;
5. the links of their identities (on any channel, with exactly that id) to customer profiles
   (``agent.profiles``); a profile left with no identity is deleted with its last one.

``erase_profile(tenant, profile_id, actor=...)`` erases one customer across channels: each identity the
profile links, as above (one audit entry per identity, so each id's erasure can be looked up later), which
unlinks it, deleting the profile with its last identity, then one audit entry for the profile itself
(``action="erase_profile"``, the digest of the profile id, the summed counts). The profile goes last, so a
failure halfway leaves it listing every identity not yet erased, and a retry finishes the job; a profile
erased already is a ``NotFoundError``.

Erasures of one tenant run one at a time (a Redis lock), so two of them never rewrite a document at once.
Everything is idempotent: erasing again reports nothing. Each request, completed or failed, appends an
``AuditEntry`` to the tenant's stream ``polydesk:audit:<tenant>``: who asked, when, the counts, and an
HMAC-SHA256 of the customer id keyed with a random per-tenant salt (never the id itself, never the content).
The salt keeps the digest from being reversed by hashing guessable ids (``cust-81``, a phone number) while the
tenant can still answer "was this customer erased, and when?" (``AuditLog.read(customer_id=...)``).

Example:
    >>> eraser = CustomerEraser(conversations=agent.conversations, index=agent.index)   # doctest: +SKIP
    >>> eraser.erase("tidewell", "cust-81", actor="key-admin-1").transcript_chunks      # doctest: +SKIP
    3
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import redis
from pydantic import BaseModel, Field

from agent.feedback import erase_feedback
from agent.inbox import Inbox
from agent.profiles import ProfileStore
from agent.state import KEY_PREFIX, ConversationStore
from agent.webhook_store import WebhookStore
from knowledge.index import KnowledgeIndex
from knowledge.schema import Chunk, DocumentRecord
from polydesk.errors import ConflictError
from polydesk.redisdb import redis_errors

AUDIT_PREFIX = "polydesk:audit"
AUDIT_SALT_PREFIX = "polydesk:audit-salt"
ERASE_LOCK_PREFIX = "polydesk:lock:erase"
_SCAN_BATCH = 1000
_PROFILE_ROUNDS = 5  # identities linked to a profile while it is erased are erased in the next round
AuditAction = Literal["erase_customer", "erase_profile"]


@dataclass
class ErasureReport:
    """What one erasure removed (the second erasure of a customer reports nothing)."""

    tenant: str
    customer_id: str
    conversation_ids: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)  # handoff events removed from the stream
    webhook_event_ids: list[str] = field(default_factory=list)  # from the webhook retries and dead letters
    linked_keys: int = 0  # other Redis records linked to the customer (e.g. cached idempotent replies)
    inbox_messages: int = 0  # messages kept on this replica's disk while a dependency was down
    transcript_chunks: int = 0
    documents_rewritten: list[str] = field(default_factory=list)
    documents_deleted: list[str] = field(default_factory=list)
    profile_links: int = 0  # links of the customer's identities to customer profiles
    feedback: int = 0  # ratings (with their comments) given in the customer's conversations
    audit_id: str | None = None  # the audit entry that records this erasure

    def counts(self) -> dict[str, int]:
        return {
            "conversations": len(self.conversation_ids),
            "events": len(self.event_ids),
            "webhook_entries": len(self.webhook_event_ids),
            "linked_keys": self.linked_keys,
            "inbox_messages": self.inbox_messages,
            "transcript_chunks": self.transcript_chunks,
            "documents_rewritten": len(self.documents_rewritten),
            "documents_deleted": len(self.documents_deleted),
            "profile_links": self.profile_links,
            "feedback": self.feedback,
        }

    @property
    def erased_anything(self) -> bool:
        return any(self.counts().values())


@dataclass
class ProfileErasureReport:
    """What erasing a customer profile removed: each of its identities' erasure, and the profile."""

    tenant: str
    profile_id: str
    customers: list[ErasureReport] = field(default_factory=list)  # one per identity's customer id
    audit_id: str | None = None  # the audit entry for the profile (each customer's has its own)

    def counts(self) -> dict[str, int]:
        total: Counter[str] = Counter({key: 0 for key in ErasureReport("", "").counts()})
        for report in self.customers:
            total.update(report.counts())
        return {"customers": len(self.customers), **total}


class AuditEntry(BaseModel):
    """One audited action; holds no erased content and no customer id, only its keyed digest."""

    id: str = Field(description="the stream id of the entry")
    action: AuditAction
    outcome: Literal["completed", "failed"]
    tenant: str
    actor: str = Field(description="who asked: the API key id")
    at: datetime
    customer_digest: str = Field(description="hex HMAC-SHA256 of the customer id (of the profile id for "
                                 "'erase_profile'), keyed with the tenant's salt")
    counts: dict[str, int]


class AuditLog:
    """Append-only audit entries, one Redis stream per tenant (``polydesk:audit:<tenant>``), never trimmed."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @staticmethod
    def stream(tenant: str) -> str:
        return f"{AUDIT_PREFIX}:{tenant}"

    def customer_digest(self, tenant: str, customer_id: str) -> str:
        """The customer id's HMAC-SHA256 with the tenant's salt (created once, on first use)."""
        key = f"{AUDIT_SALT_PREFIX}:{tenant}"
        with redis_errors("read the audit salt"):
            self.client.set(key, secrets.token_hex(32), nx=True)
            salt = self.client.get(key)
        assert salt is not None
        return hmac.new(salt if isinstance(salt, bytes) else str(salt).encode(), customer_id.encode(),
                        hashlib.sha256).hexdigest()

    def record(self, *, tenant: str, actor: str, customer_id: str, counts: dict[str, int],
               outcome: Literal["completed", "failed"] = "completed",
               action: AuditAction = "erase_customer") -> AuditEntry:
        """Append an entry; ``customer_id`` is the profile id for ``action="erase_profile"``."""
        at = datetime.now(UTC)
        fields: dict[Any, Any] = {
            "action": action, "outcome": outcome, "tenant": tenant, "actor": actor,
            "at": at.isoformat(), "customer_digest": self.customer_digest(tenant, customer_id),
            "counts": json.dumps(counts, sort_keys=True),
        }
        with redis_errors("write the audit log"):
            entry_id = self.client.xadd(self.stream(tenant), fields)
        return _entry(entry_id, fields)

    def read(self, tenant: str, limit: int = 50, *, customer_id: str | None = None) -> list[AuditEntry]:
        """The tenant's entries, newest first; only those about ``customer_id`` when given."""
        digest = self.customer_digest(tenant, customer_id) if customer_id is not None else None
        found: list[AuditEntry] = []
        end = "+"
        while len(found) < limit:
            with redis_errors("read the audit log"):
                page: Any = self.client.xrevrange(self.stream(tenant), max=end, min="-", count=max(limit, 100))
            for raw_id, raw_fields in page:
                entry = _entry(raw_id, {_text(k): _text(v) for k, v in raw_fields.items()})
                if entry.tenant == tenant and (digest is None or entry.customer_digest == digest):
                    found.append(entry)
                    if len(found) == limit:
                        break
            if len(page) < max(limit, 100):
                break
            end = f"({_text(page[-1][0])}"
        return found


class CustomerEraser:
    """Erases a customer's conversations, events, linked Redis keys and transcript chunks (module docstring)."""

    def __init__(self, *, conversations: ConversationStore, index: KnowledgeIndex, audit: AuditLog | None = None,
                 inbox: Inbox | None = None, profiles: ProfileStore | None = None, scan_conversations: bool = True,
                 lock_s: float = 900.0, wait_s: float = 60.0) -> None:
        self.conversations = conversations
        self.inbox = inbox
        self.client = conversations.client
        self.index = index
        self.audit = audit or AuditLog(conversations.client)
        self.profiles = profiles or ProfileStore(conversations.client)
        # Conversations saved before the customer index existed are found only by scanning (O(keyspace)).
        self.scan_conversations = scan_conversations
        self.lock_s, self.wait_s = lock_s, wait_s

    def erase(self, tenant: str, customer_id: str, *, actor: str) -> ErasureReport:
        """Erase everything of ``customer_id`` in ``tenant``; audited, completed or not."""
        report = ErasureReport(tenant=tenant, customer_id=customer_id)

        def erase() -> None:
            with self._tenant_locked(tenant):
                self._erase(report)

        report.audit_id = self._audited(tenant, actor, "erase_customer", customer_id, report.counts, erase)
        return report

    def erase_profile(self, tenant: str, profile_id: str, *, actor: str) -> ProfileErasureReport:
        """Erase every identity of the profile, then the profile (module docstring); a ``NotFoundError`` when
        there is no such profile (erased already, or never created)."""
        self.profiles.get(tenant, profile_id)
        report = ProfileErasureReport(tenant=tenant, profile_id=profile_id)

        def erase() -> None:
            with self._tenant_locked(tenant):
                for _ in range(_PROFILE_ROUNDS):
                    profile = self.profiles.find(tenant, profile_id)
                    if profile is None:
                        return
                    if not profile.identities:
                        self.profiles.delete(tenant, profile_id)
                        return
                    for customer_id in dict.fromkeys(i.customer_id for i in profile.identities):
                        report.customers.append(self._erase_audited(tenant, customer_id, actor))
                raise ConflictError(f"identities are being linked to profile {profile_id!r} while it is erased; "
                                    "try again")

        report.audit_id = self._audited(tenant, actor, "erase_profile", profile_id, report.counts, erase)
        return report

    def _erase_audited(self, tenant: str, customer_id: str, actor: str) -> ErasureReport:
        """``erase`` for a caller that holds the tenant's erasure lock."""
        report = ErasureReport(tenant=tenant, customer_id=customer_id)
        report.audit_id = self._audited(tenant, actor, "erase_customer", customer_id, report.counts,
                                        lambda: self._erase(report))
        return report

    def _audited(self, tenant: str, actor: str, action: AuditAction, subject: str,
                 counts: Callable[[], dict[str, int]], work: Callable[[], None]) -> str:
        """Run ``work`` and record it in the audit log, completed or failed; the entry's id."""
        try:
            work()
        except Exception:
            with suppress(Exception):  # Redis is down: the original error says more
                self.audit.record(tenant=tenant, actor=actor, customer_id=subject, counts=counts(),
                                  outcome="failed", action=action)
            raise
        return self.audit.record(tenant=tenant, actor=actor, customer_id=subject, counts=counts(), action=action).id

    @contextmanager
    def _tenant_locked(self, tenant: str) -> Iterator[None]:
        """Erasures of one tenant run one at a time; a ``ConflictError`` when another holds the lock too long."""
        lock = self.client.lock(f"{ERASE_LOCK_PREFIX}:{tenant}", timeout=self.lock_s, blocking_timeout=self.wait_s)
        with redis_errors("lock the erasure"):
            acquired = lock.acquire()
        if not acquired:
            raise ConflictError(f"another erasure of tenant {tenant!r} is running; try again")
        try:
            yield
        finally:
            with suppress(redis.exceptions.RedisError):  # it expired while held, or Redis is gone: it times out
                lock.release()

    def _erase(self, report: ErasureReport) -> None:
        tenant, customer_id = report.tenant, report.customer_id
        linked = self._linked_keys(tenant, customer_id)
        conversation_keys = self._conversation_keys(tenant, customer_id, linked)
        conversation_ids = {key.removeprefix(self.conversations.key(tenant, "")) for key in conversation_keys}
        events = self.conversations.events
        report.event_ids = events.erase_customer(tenant, customer_id, conversation_ids=conversation_ids)
        report.webhook_event_ids = WebhookStore(self.client, stream=events.stream).erase_customer(
            tenant, customer_id, conversation_ids=conversation_ids)
        prefix = self.conversations.key(tenant, "")
        with redis_errors("read the conversations"):
            theirs = self._owned(sorted(conversation_keys), customer_id)
        report.feedback += erase_feedback(self.client, tenant, (key.removeprefix(prefix) for key in theirs))
        for key in sorted(conversation_keys):
            if self._erase_conversation(tenant, customer_id, key):
                report.conversation_ids.append(key.removeprefix(self.conversations.key(tenant, "")))
        report.linked_keys = self._erase_linked(tenant, customer_id, linked - conversation_keys)
        if self.inbox is not None:
            report.inbox_messages = self.inbox.erase_customer(tenant, customer_id)
        self._erase_transcripts(report)
        report.profile_links = len(self.profiles.unlink_customer(tenant, customer_id))

    # -- Redis ---------------------------------------------------------------------------------------------------

    def _linked_keys(self, tenant: str, customer_id: str) -> set[str]:
        with redis_errors("read the customer index"):
            return {_text(m) for m in self.client.smembers(self.conversations.customer_key(tenant, customer_id))}

    def _conversation_keys(self, tenant: str, customer_id: str, linked: set[str]) -> set[str]:
        prefix = self.conversations.key(tenant, "")
        keys = {key for key in linked if key.startswith(prefix)}
        if self.scan_conversations:
            keys |= self._scan_conversations(tenant, customer_id)
        return keys

    def _scan_conversations(self, tenant: str, customer_id: str) -> set[str]:
        """The tenant's conversation keys whose conversation is the customer's, by scanning every key."""
        pattern = f"{KEY_PREFIX}:{_glob_escape(tenant)}:*"
        found: set[str] = set()
        batch: list[str] = []
        with redis_errors("scan the conversations"):
            for raw in self.client.scan_iter(match=pattern, count=_SCAN_BATCH):
                batch.append(_text(raw))
                if len(batch) == _SCAN_BATCH:
                    found |= self._owned(batch, customer_id)
                    batch = []
            found |= self._owned(batch, customer_id)
        return found

    def _owned(self, keys: list[str], customer_id: str) -> set[str]:
        if not keys:
            return set()
        values = self.client.mget(keys)
        return {key for key, value in zip(keys, values, strict=True) if _customer_of(value) == customer_id}

    def _erase_conversation(self, tenant: str, customer_id: str, key: str) -> bool:
        """Delete one conversation under its lock, if it is (still) the customer's; True when it was deleted."""
        index_key = self.conversations.customer_key(tenant, customer_id)
        conversation_id = key.removeprefix(self.conversations.key(tenant, ""))
        with self.conversations.lock(tenant, conversation_id), redis_errors("erase the conversation"):
            # The id may since have been reused by another customer: then only the stale link goes.
            ours = _customer_of(self.client.get(key)) == customer_id
            with self.client.pipeline(transaction=True) as pipe:
                if ours:
                    pipe.delete(key)
                pipe.srem(index_key, key)
                done = pipe.execute()
        return ours and bool(done[0])

    def _erase_linked(self, tenant: str, customer_id: str, keys: Collection[str]) -> int:
        erased = 0
        index_key = self.conversations.customer_key(tenant, customer_id)
        with redis_errors("erase the customer's records"):
            for key in sorted(keys):
                with self.client.pipeline(transaction=True) as pipe:
                    pipe.delete(key)
                    pipe.srem(index_key, key)
                    erased += int(pipe.execute()[0])
        return erased

    # -- the index -----------------------------------------------------------------------------------------------

    def _erase_transcripts(self, report: ErasureReport) -> None:
        records: list[DocumentRecord] = []
        offset: str | None = None
        while True:
            page = self.index.list_documents(report.tenant, kind="conversation", limit=100, offset=offset)
            records.extend(page.records)
            if page.next_offset is None:
                break
            offset = page.next_offset
        for record in records:
            self._erase_from_document(record, report)

    def _erase_from_document(self, record: DocumentRecord, report: ErasureReport) -> None:
        chunks = self.index.get_chunks(record.tenant, record.document_id)
        live = [c for c in chunks if c.version == record.version]
        theirs = [c for c in live if c.extra.get("customer_id") == report.customer_id]
        stale = [c for c in chunks if c.version < record.version and c.extra.get("customer_id") == report.customer_id]
        if not theirs:
            # A crash after a version switch leaves the old version's chunks (invisible) on disk: remove them,
            # unless a newer version is being written right now (an ingestion's chunks, not ours to delete).
            if stale and all(c.version <= record.version for c in chunks):
                self.index.store.delete_chunks(record.tenant, record.document_id, except_version=record.version)
                report.transcript_chunks += len(stale)
            return
        rest = [c for c in live if c.extra.get("customer_id") != report.customer_id]
        if not rest:
            self.index.delete_document(record.tenant, record.document_id)
            report.documents_deleted.append(record.document_id)
        else:
            self._rewrite(record, rest, version=max(c.version for c in chunks) + 1)
            report.documents_rewritten.append(record.document_id)
        report.transcript_chunks += len(theirs) + len(stale)  # both steps delete every other version

    def _rewrite(self, record: DocumentRecord, rest: list[Chunk], *, version: int) -> None:
        """Make a new version of the document holding only ``rest`` (re-encoded) the live one."""
        chunks = [c.model_copy(update={"version": version, "position": i}) for i, c in enumerate(rest)]
        languages = Counter(c.language for c in chunks)
        language = languages.most_common(1)[0][0] if len(languages) == 1 else "mul"
        new_record = record.model_copy(update={"version": version, "chunk_count": len(chunks), "language": language})
        self.index.write_document(new_record, chunks, self.index.encode([c.text for c in chunks]))


def _customer_of(raw: Any) -> str | None:
    """The ``customer_id`` of a stored conversation's JSON (None when absent or unreadable)."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    value = data.get("customer_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _glob_escape(text: str) -> str:
    return "".join(f"\\{ch}" if ch in "*?[]\\" else ch for ch in text)


def _entry(raw_id: Any, fields: dict[str, Any]) -> AuditEntry:
    return AuditEntry(id=_text(raw_id), action=fields["action"], outcome=fields["outcome"], tenant=fields["tenant"],
                      actor=fields["actor"], at=datetime.fromisoformat(fields["at"]),
                      customer_digest=fields["customer_digest"], counts=json.loads(fields["counts"]))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
