"""``DELETE /v1/customers/{customer_id}`` (GDPR right to erasure) and ``GET /v1/audit``: admin keys only.

Erasure removes the customer's conversations, handoff events (also from the webhook retries and dead
letters), other records linked to them, and their chunks in ingested transcripts, all within the caller's
tenant (``agent.privacy``). Every request is recorded in the tenant's audit log, without the erased content.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from agent.privacy import AuditAction, AuditLog, CustomerEraser, ErasureReport
from api.deps import AdminCaller, ServicesDep
from api.errors import error_responses

router = APIRouter(tags=["privacy"])

CustomerId = Annotated[str, Path(min_length=1, max_length=128, description="the connector's customer id",
                                 examples=["cust-81"])]


class ErasureCounts(BaseModel):
    conversations: int = Field(description="conversations deleted")
    events: int = Field(description="handoff events removed from the events stream")
    webhook_entries: int = Field(description="events removed from the webhook retry schedule and dead letters")
    linked_keys: int = Field(description="other records of the customer, e.g. stored idempotent replies")
    inbox_messages: int = Field(description="messages kept while a dependency was down (this replica's inbox)")
    transcript_chunks: int = Field(description="chunks of ingested transcripts removed from the index")
    documents_rewritten: int = Field(description="transcript documents written again without the customer")
    documents_deleted: int = Field(description="transcript documents deleted: nothing else was left in them")
    profile_links: int = Field(description="links of the customer's identities to customer profiles "
                               "removed (a profile left with no identity is deleted)")
    feedback: int = Field(description="ratings (and their comments) of the customer's replies deleted")


class ErasurePublic(BaseModel):
    """What was erased. Erasing again is harmless: it reports nothing."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "customer_id": "cust-81",
        "erased": True,
        "counts": {"conversations": 2, "events": 1, "webhook_entries": 0, "linked_keys": 1,
                   "inbox_messages": 0, "transcript_chunks": 3, "documents_rewritten": 1, "documents_deleted": 0,
                   "profile_links": 1},
        "conversation_ids": ["c-5f0c9b7e2d1a4c3b8e6f", "c-91d2e0a4b7c84f1e9a3d"],
        "event_ids": ["3b9f1c2d7e8a4b5c9d0e1f2a3b4c5d6e"],
        "webhook_event_ids": [],
        "documents_rewritten": ["transcripts/line-th.jsonl"],
        "documents_deleted": [],
        "audit_id": "1732275600000-0",
    }]})

    customer_id: str
    erased: bool = Field(description="whether anything was found and erased")
    counts: ErasureCounts
    conversation_ids: list[str]
    event_ids: list[str] = Field(description="ids of the handoff events removed from the stream")
    webhook_event_ids: list[str] = Field(description="ids of the events removed from webhook retries/dead letters")
    documents_rewritten: list[str]
    documents_deleted: list[str]
    audit_id: str | None = Field(description="the audit entry recording this erasure")

    @classmethod
    def of(cls, report: ErasureReport) -> ErasurePublic:
        return cls(customer_id=report.customer_id, erased=report.erased_anything,
                   counts=ErasureCounts(**report.counts()), conversation_ids=report.conversation_ids,
                   event_ids=report.event_ids, webhook_event_ids=report.webhook_event_ids,
                   documents_rewritten=report.documents_rewritten, documents_deleted=report.documents_deleted,
                   audit_id=report.audit_id)


class AuditEntryPublic(BaseModel):
    id: str = Field(description="the entry's id (a Redis stream id: milliseconds-sequence)")
    action: AuditAction = Field(description="'erase_customer', or 'erase_profile' (its customer_digest is the "
                                "profile id's; each identity erased with it has an entry of its own)")
    outcome: Literal["completed", "failed"]
    actor: str = Field(description="the id of the API key that asked")
    at: datetime
    customer_digest: str = Field(description="hex HMAC-SHA256 of the customer id, keyed with a per-tenant salt")
    counts: dict[str, int]


class AuditPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"entries": [{
        "id": "1732275600000-0", "action": "erase_customer", "outcome": "completed", "actor": "k-admin-1a2b",
        "at": "2026-11-22T11:40:00Z", "customer_digest": "9f2c...e71a",
        "counts": {"conversations": 2, "events": 1, "transcript_chunks": 3},
    }]}]})

    entries: list[AuditEntryPublic] = Field(description="newest first")


@router.delete("/v1/customers/{customer_id}", response_model=ErasurePublic,
               responses=error_responses(401, 403, 409, 422, 429, 503), summary="Erase a customer (GDPR)")
def erase_customer(customer_id: CustomerId, caller: AdminCaller, services: ServicesDep) -> ErasurePublic:
    """Erase the customer's conversations, handoff events, linked records and transcript chunks in the
    index, and unlink their identities (with exactly this id) from customer profiles, in the caller's tenant
    only, and say what was erased. ``409`` when one of their conversations
    stays busy, or another erasure runs: retrying finishes the job."""
    eraser = CustomerEraser(conversations=services.conversations, index=services.index,
                            inbox=services.inbox, profiles=services.profiles)
    return ErasurePublic.of(eraser.erase(caller.tenant, customer_id, actor=caller.key_id))


@router.get("/v1/audit", response_model=AuditPage, responses=error_responses(401, 403, 422, 429, 503),
            summary="Read the audit log")
def read_audit(caller: AdminCaller, services: ServicesDep,
               limit: Annotated[int, Query(ge=1, le=1000)] = 50,
               customer_id: Annotated[str | None, Query(min_length=1, max_length=128,
                                                        description="only the entries about this customer")] = None,
               ) -> AuditPage:
    """The caller's tenant's audit entries, newest first."""
    entries = AuditLog(services.redis).read(caller.tenant, limit, customer_id=customer_id)
    return AuditPage(entries=[AuditEntryPublic.model_validate(e.model_dump()) for e in entries])
