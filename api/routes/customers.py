"""Customer profiles (one customer across channels) for admins: ``/v1/profiles*``.

A profile links the channel identities of one customer of the caller's tenant (a WhatsApp number, a LINE user
id, an e-mail address, ...) when the brand or the customer links them (``agent.profiles``); its history is the
conversations of all of them, in time order, for the person at the desk. ``DELETE /v1/profiles/{id}`` erases
the customer (GDPR): every linked identity's data, as ``DELETE /v1/customers/{id}`` erases one, then the
profile (``agent.privacy``). Another tenant's profile is a ``404`` on every route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from agent.privacy import CustomerEraser
from agent.profiles import MAX_IDENTITIES, PROFILE_ID_PATTERN, Identity, LinkedIdentity, Profile, profile_history
from api.deps import AdminCaller, ServicesDep
from api.errors import error_responses
from api.routes.conversations import ConversationPublic
from api.routes.privacy import ErasurePublic
from personas.routing import Channel
from polydesk.errors import NotFoundError

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])

ProfilePath = Annotated[str, Path(pattern=PROFILE_ID_PATTERN, description="the profile id",
                                  examples=["crm-4711"])]
CustomerPath = Annotated[str, Path(min_length=1, max_length=256, description="the customer's id on the channel")]


class ProfilePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "profile_id": "crm-4711",
        "identities": [{"channel": "email", "customer_id": "buyer.th@example.co.th", "linked_at": 1732275600.0},
                       {"channel": "line", "customer_id": "U4af4980629", "linked_at": 1732275600.0}],
        "created_at": 1732275600.0, "updated_at": 1732275600.0,
    }]})

    profile_id: str
    identities: list[LinkedIdentity] = Field(description="by channel, then customer id")
    created_at: float = Field(description="UNIX time")
    updated_at: float = Field(description="UNIX time of the last change to its identities")

    @classmethod
    def of(cls, profile: Profile) -> ProfilePublic:
        return cls(**profile.model_dump(include=set(cls.model_fields)))


class ProfileCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "profile_id": "crm-4711",
        "identities": [{"channel": "line", "customer_id": "U4af4980629"},
                       {"channel": "email", "customer_id": "Buyer.TH@Example.co.th"}],
    }]})

    profile_id: str | None = Field(default=None, pattern=PROFILE_ID_PATTERN,
                                   description="the brand's id, e.g. its CRM's; omit for a generated one")
    identities: list[Identity] = Field(default_factory=list, max_length=MAX_IDENTITIES)


class IdentityLink(Identity):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"channel": "whatsapp", "customer_id": "+66 81 234 5678", "merge": False}]})

    merge: bool = Field(default=False, description="when another profile holds the identity: merge that profile "
                        "into this one (its identities move here) instead of a 409")


class ProfileHistory(BaseModel):
    profile_id: str
    conversations: list[ConversationPublic] = Field(description="of every linked identity, oldest first")
    truncated: bool = Field(description="older conversations were left out (raise `limit`)")


class ProfileErasurePublic(BaseModel):
    """What erasing the profile removed: each identity's erasure (each audited), then the profile."""

    profile_id: str
    erased: bool = Field(description="whether any data of an identity was found and erased (the profile always is)")
    counts: dict[str, int] = Field(description="'customers' (ids erased), and the sums of their counts")
    customers: list[ErasurePublic] = Field(description="one per identity's customer id")
    audit_id: str | None = Field(description="the audit entry for the profile ('erase_profile')")


_ERRORS = (401, 403, 404, 422, 429, 503)


@router.post("", response_model=ProfilePublic, status_code=201, responses=error_responses(*_ERRORS, 400, 409),
             summary="Create a customer profile")
def create_profile(body: ProfileCreate, caller: AdminCaller, services: ServicesDep) -> ProfilePublic:
    """A profile with the identities given linked to it. ``409`` when the id is taken or an identity is linked
    to another profile (link it with ``merge`` instead); ``400`` for the reserved id ``lookup``."""
    return ProfilePublic.of(services.profiles.create(caller.tenant, body.profile_id, body.identities))


@router.get("/lookup", response_model=ProfilePublic, responses=error_responses(*_ERRORS),
            summary="Find the profile of a channel identity")
def lookup_profile(caller: AdminCaller, services: ServicesDep, channel: Annotated[Channel, Query()],
                   customer_id: Annotated[str, Query(min_length=1, max_length=256)]) -> ProfilePublic:
    """The profile the identity is linked to (the id normalised as on linking: an e-mail address lowercased,
    a WhatsApp number as digits); ``404`` when none is."""
    identity = Identity(channel=channel, customer_id=customer_id)
    profile = services.profiles.resolve(caller.tenant, identity)
    if profile is None:
        raise NotFoundError(f"no profile links the {channel.value} identity {identity.customer_id!r}")
    return ProfilePublic.of(profile)


@router.get("/{profile_id}", response_model=ProfilePublic, responses=error_responses(*_ERRORS),
            summary="Read a customer profile")
def get_profile(profile_id: ProfilePath, caller: AdminCaller, services: ServicesDep) -> ProfilePublic:
    return ProfilePublic.of(services.profiles.get(caller.tenant, profile_id))


@router.post("/{profile_id}/identities", response_model=ProfilePublic, responses=error_responses(*_ERRORS, 409),
             summary="Link an identity to a profile")
def link_identity(profile_id: ProfilePath, body: IdentityLink, caller: AdminCaller,
                  services: ServicesDep) -> ProfilePublic:
    """Link a channel identity (nothing changes when it is linked here already). ``409`` when another profile
    holds it, unless ``merge``: then that profile's identities move here and it is deleted, in one step."""
    identity = Identity(channel=body.channel, customer_id=body.customer_id)
    return ProfilePublic.of(services.profiles.link(caller.tenant, profile_id, identity, merge=body.merge))


@router.delete("/{profile_id}/identities/{channel}/{customer_id}", response_model=ProfilePublic,
               responses=error_responses(*_ERRORS), summary="Unlink an identity from a profile")
def unlink_identity(profile_id: ProfilePath, channel: Channel, customer_id: CustomerPath, caller: AdminCaller,
                    services: ServicesDep) -> ProfilePublic:
    """Remove the identity from the profile; its conversations stay (erase them with
    ``DELETE /v1/customers/{customer_id}``). The profile stays too, also with no identity left."""
    identity = Identity(channel=channel, customer_id=customer_id)
    return ProfilePublic.of(services.profiles.unlink(caller.tenant, profile_id, identity))


@router.get("/{profile_id}/history", response_model=ProfileHistory, responses=error_responses(*_ERRORS),
            summary="Read a customer's conversations across channels")
def read_history(profile_id: ProfilePath, caller: AdminCaller, services: ServicesDep,
                 limit: Annotated[int, Query(ge=1, le=50, description="the latest conversations to return")] = 20,
                 ) -> ProfileHistory:
    """The conversations of every identity the profile links (each on its own channel), oldest first, with
    their turns: what a person at the desk reads. Conversations expire with the retention period."""
    store = services.conversations
    profile = services.profiles.get(caller.tenant, profile_id)
    conversations, truncated = profile_history(store, profile, limit=limit)
    return ProfileHistory(profile_id=profile.profile_id, truncated=truncated, conversations=[
        ConversationPublic.of(c, store.ttl(caller.tenant, c.id)) for c in conversations])


@router.delete("/{profile_id}", response_model=ProfileErasurePublic, responses=error_responses(*_ERRORS, 409),
               summary="Erase a customer profile and every linked identity's data (GDPR)")
def erase_profile(profile_id: ProfilePath, caller: AdminCaller, services: ServicesDep) -> ProfileErasurePublic:
    """Erase the data of every identity the profile links, as ``DELETE /v1/customers/{customer_id}`` does
    (each audited on its own), then the profile (audited as ``erase_profile``). ``404`` once it is erased;
    ``409`` when another erasure runs or a conversation stays busy: retrying finishes the job."""
    eraser = CustomerEraser(conversations=services.conversations, index=services.index, inbox=services.inbox,
                            profiles=services.profiles)
    report = eraser.erase_profile(caller.tenant, profile_id, actor=caller.key_id)
    customers = [ErasurePublic.of(r) for r in report.customers]
    return ProfileErasurePublic(profile_id=report.profile_id, erased=any(c.erased for c in customers),
                                counts=report.counts(), customers=customers, audit_id=report.audit_id)
