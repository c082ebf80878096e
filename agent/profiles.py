"""One customer across channels: per tenant, a profile that links the channel identities polydesk sees.

An identity is a channel and the id that channel gives the customer (``Identity``): a WhatsApp number, a LINE
user id, a Telegram user id, a Messenger PSID, an e-mail address, a web connector's id. It is the
``customer_id`` conversations of that channel are saved with, so a profile finds their conversations through
the customer index (``ConversationStore.customer_conversations``) and ``profile_history`` shows a person at
the desk one customer's conversations of every channel in time order. Ids are normalised the way the
channels send them (``normalize_customer_id``): an e-mail address lowercased, a WhatsApp number as digits
only (``+66 81-234 5678`` -> ``66812345678``, WhatsApp's ``wa_id``), any other id stripped; ids with control,
format or bidirectional characters are refused, never silently changed.

Keys, all scoped by tenant (``<field>`` is ``<channel>:<customer id>``)::

    polydesk:profile:<tenant>:<profile id>             hash: created_at, updated_at (UNIX time)
    polydesk:profile-identities:<tenant>:<profile id>  hash: <field> -> linked_at
    polydesk:identity:<tenant>:<field>                 string: the profile id the identity is linked to

Every change is one Lua script, so an identity is linked to at most one profile of its tenant and both
sides of a link change together: linking an identity another profile holds is a ``ConflictError`` unless
``merge=True``, which moves every identity of the other profile into this one and deletes the other, in
the same step. A profile holds nothing but ids and times (no name, no content: the brand's CRM, whose id it
may carry, holds the rest); it lives until it is deleted, or erased (``agent.privacy``) with its data.

Example:
    >>> profiles = ProfileStore(redis_client)                                              # doctest: +SKIP
    >>> profiles.create("tidewell", "crm-4711", [Identity(channel="line", customer_id="U4af4980629")])
    >>> profiles.link("tidewell", "crm-4711", Identity(channel="email", customer_id="Buyer.TH@Example.co.th"))
    >>> profiles.resolve("tidewell", Identity(channel="email", customer_id="buyer.th@example.co.th")).profile_id
    'crm-4711'
"""

from __future__ import annotations

import re
import time
import unicodedata
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

import redis
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from agent.state import Conversation, ConversationStore
from knowledge.schema import normalize_tenant
from personas.routing import Channel
from polydesk.errors import ConflictError, InputError, NotFoundError
from polydesk.redisdb import redis_errors
from polydesk.visible import BIDI_CONTROLS, escape_invisible, has_visible_text

PROFILE_PREFIX = "polydesk:profile"
IDENTITIES_PREFIX = "polydesk:profile-identities"
IDENTITY_PREFIX = "polydesk:identity"
MAX_CUSTOMER_ID_CHARS = 128  # as CustomerMessage.customer_id
MAX_IDENTITIES = 50  # linked to one profile (a merge may not exceed it either)

PROFILE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$"  # no ':' (it separates the parts of a key)
RESERVED_PROFILE_IDS = frozenset({"lookup"})  # GET /v1/profiles/lookup
ProfileId = Annotated[str, StringConstraints(pattern=PROFILE_ID_PATTERN)]

_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")
_REFUSED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def normalize_customer_id(channel: Channel | str, value: str) -> str:
    """``value`` as ``channel`` sends it as a customer id, or a ``ValueError`` that says what is wrong."""
    channel = Channel(channel)
    text = value.strip()
    bad = next((c for c in text if c in BIDI_CONTROLS or unicodedata.category(c) in _REFUSED), None)
    if bad is not None:
        raise ValueError(f"the customer id '{escape_invisible(text[:80])}' contains the invisible or control "
                         f"character U+{ord(bad):04X}; remove it")
    if not has_visible_text(text):
        raise ValueError("the customer id is empty")
    if channel is Channel.EMAIL:
        text = text.lower()
        if not _EMAIL.fullmatch(text):
            raise ValueError(f"an e-mail identity needs an address such as name@example.com, got {text[:80]!r}")
    elif channel is Channel.WHATSAPP:
        digits = _PHONE_PUNCTUATION.sub("", text).removeprefix("+")
        if not (digits.isascii() and digits.isdigit() and 6 <= len(digits) <= 15):
            raise ValueError("a WhatsApp identity is a phone number in international form, e.g. +66 81 234 5678, "
                             f"got {text[:80]!r}")
        text = digits
    if len(text) > MAX_CUSTOMER_ID_CHARS:
        raise ValueError(f"the customer id is {len(text)} characters, more than the {MAX_CUSTOMER_ID_CHARS} allowed")
    return text


class Identity(BaseModel):
    """A channel and the customer's id on it (normalised: see ``normalize_customer_id``)."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [
        {"channel": "line", "customer_id": "U4af4980629"}]})

    channel: Channel = Field(description="the channel the id belongs to")
    customer_id: str = Field(min_length=1, max_length=256, description="the id the channel gives the customer: "
                             "a WhatsApp number, a LINE userId, a Telegram user id, a Messenger PSID, an e-mail "
                             "address (lowercased), a web connector's customer id")

    @field_validator("channel", mode="before")
    @classmethod
    def _channel(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("customer_id")
    @classmethod
    def _customer_id(cls, value: str, info: ValidationInfo) -> str:
        channel = info.data.get("channel")
        return value if channel is None else normalize_customer_id(channel, value)  # None: the channel was refused

    @property
    def field(self) -> str:
        return f"{self.channel.value}:{self.customer_id}"



class LinkedIdentity(Identity):
    linked_at: float = Field(description="UNIX time the identity was linked")


class Profile(BaseModel):
    tenant: str
    profile_id: str
    identities: list[LinkedIdentity] = Field(description="by channel, then id")
    created_at: float
    updated_at: float


# -- scripts (KEYS and ARGV as the methods below pass them) ---------------------------------------------------------

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
for i = 3, #KEYS do
  local owner = redis.call('GET', KEYS[i])
  if owner then return {'linked', ARGV[i], owner} end
end
redis.call('HSET', KEYS[1], 'created_at', ARGV[2], 'updated_at', ARGV[2])
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[2])
end
return {'created'}
"""
# ARGV: profile id, field, now, merge, profile prefix, identities prefix, identity prefix, max identities
_LINK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local owner = redis.call('GET', KEYS[3])
if owner == ARGV[1] then return {'unchanged'} end
if owner and ARGV[4] ~= '1' then return {'linked', owner} end
if owner then
  local other, others = ARGV[5] .. owner, ARGV[6] .. owner
  local moved = redis.call('HGETALL', others)
  if redis.call('HLEN', KEYS[2]) + #moved / 2 > tonumber(ARGV[8]) then return {'full'} end
  for i = 1, #moved, 2 do
    redis.call('SET', ARGV[7] .. moved[i], ARGV[1])
    redis.call('HSETNX', KEYS[2], moved[i], moved[i + 1])
  end
  local theirs, ours = redis.call('HGET', other, 'created_at'), redis.call('HGET', KEYS[1], 'created_at')
  if theirs and tonumber(theirs) < tonumber(ours) then redis.call('HSET', KEYS[1], 'created_at', theirs) end
  redis.call('DEL', other, others)
  redis.call('SET', KEYS[3], ARGV[1])
  redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3])
else
  if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[8]) then return {'full'} end
  redis.call('SET', KEYS[3], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[3])
if owner then return {'merged', owner} end
return {'done'}
"""
# ARGV: profile id, field, now, delete the profile when it has no identity left ('1')
_UNLINK = """
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[2], ARGV[2])
if ARGV[4] == '1' and redis.call('HLEN', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 2
end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[3])
return 1
"""
# ARGV: profile id, identity prefix
_DELETE = """
for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
  local key = ARGV[2] .. field
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return redis.call('DEL', KEYS[1], KEYS[2])
"""


class ProfileStore:
    """Customer profiles and their identities in Redis (module docstring); every failure of Redis becomes a
    ``StoreError``, a missing profile a ``NotFoundError``, a link to another profile a ``ConflictError``."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client  # the caller's: it opens and closes it
        self._create = client.register_script(_CREATE)
        self._link = client.register_script(_LINK)
        self._unlink = client.register_script(_UNLINK)
        self._delete = client.register_script(_DELETE)

    @staticmethod
    def profile_key(tenant: str, profile_id: str) -> str:
        return f"{PROFILE_PREFIX}:{tenant}:{profile_id}"

    @staticmethod
    def identities_key(tenant: str, profile_id: str) -> str:
        return f"{IDENTITIES_PREFIX}:{tenant}:{profile_id}"

    @staticmethod
    def identity_key(tenant: str, identity: Identity) -> str:
        return f"{IDENTITY_PREFIX}:{tenant}:{identity.field}"

    def create(self, tenant: str, profile_id: str | None = None, identities: Sequence[Identity] = ()) -> Profile:
        """A new profile (``profile_id``: the brand's, e.g. its CRM id; else ``p-<random hex>``) with
        ``identities`` linked; a ``ConflictError`` when the id is taken or an identity is linked elsewhere."""
        profile_id = _checked(tenant, profile_id or f"p-{uuid.uuid4().hex}")
        if profile_id in RESERVED_PROFILE_IDS:
            raise InputError(f"the profile id {profile_id!r} is reserved; pick another")
        unique = list(dict.fromkeys(identities))
        if len(unique) > MAX_IDENTITIES:
            raise InputError(f"a profile links at most {MAX_IDENTITIES} identities, got {len(unique)}")
        keys = [self.profile_key(tenant, profile_id), self.identities_key(tenant, profile_id),
                *(self.identity_key(tenant, i) for i in unique)]
        with redis_errors("create the profile"):
            outcome = _texts(self._create(keys=keys, args=[profile_id, repr(time.time()),
                                                           *(i.field for i in unique)]))
        if outcome[0] == "exists":
            raise ConflictError(f"a profile {profile_id!r} exists already")
        if outcome[0] == "linked":
            raise ConflictError(f"the identity {outcome[1]!r} is linked to profile {outcome[2]!r}; link it to "
                                "this profile with merge to merge the two")
        return self.get(tenant, profile_id)

    def link(self, tenant: str, profile_id: str, identity: Identity, *, merge: bool = False) -> Profile:
        """Link ``identity`` to the profile (nothing changes when it is linked to it already). When another
        profile holds it: a ``ConflictError``, or with ``merge`` that profile's identities move here and it is
        deleted."""
        profile_id = _checked(tenant, profile_id)
        keys = [self.profile_key(tenant, profile_id), self.identities_key(tenant, profile_id),
                self.identity_key(tenant, identity)]
        args = [profile_id, identity.field, repr(time.time()), "1" if merge else "0",
                self.profile_key(tenant, ""), self.identities_key(tenant, ""), f"{IDENTITY_PREFIX}:{tenant}:",
                MAX_IDENTITIES]
        with redis_errors("link the identity"):
            outcome = _texts(self._link(keys=keys, args=args))
        if outcome[0] == "missing":
            raise NotFoundError(f"no profile {profile_id!r}")
        if outcome[0] == "linked":
            raise ConflictError(f"the identity {identity.field!r} is linked to profile {outcome[1]!r}; send "
                                "merge=true to merge that profile into this one")
        if outcome[0] == "full":
            raise ConflictError(f"profile {profile_id!r} would link more than {MAX_IDENTITIES} identities")
        return self.get(tenant, profile_id)

    def unlink(self, tenant: str, profile_id: str, identity: Identity) -> Profile:
        """Remove ``identity`` from the profile (the profile stays, also with no identity left); a
        ``NotFoundError`` when the profile does not hold it."""
        profile_id = _checked(tenant, profile_id)
        if not self._unlink_one(tenant, profile_id, identity, drop_empty=False):
            raise NotFoundError(f"profile {profile_id!r} has no identity {identity.field!r}")
        return self.get(tenant, profile_id)

    def unlink_customer(self, tenant: str, customer_id: str) -> list[str]:
        """Remove every identity whose id is ``customer_id`` (on any channel) from its profile, deleting a
        profile left with no identity; the profile ids it was removed from (for a customer's erasure)."""
        found: list[tuple[Identity, str]] = []
        for channel in Channel:
            try:
                identity = Identity(channel=channel, customer_id=customer_id)
            except ValueError:
                continue
            if identity.customer_id != customer_id:  # the data erased is under the id as given, not this one
                continue
            with redis_errors("read the identities"):
                owner = self.client.get(self.identity_key(tenant, identity))
            if owner is not None:
                found.append((identity, _text(owner)))
        return [owner for identity, owner in found if self._unlink_one(tenant, owner, identity, drop_empty=True)]

    def _unlink_one(self, tenant: str, profile_id: str, identity: Identity, *, drop_empty: bool) -> bool:
        keys = [self.profile_key(tenant, profile_id), self.identities_key(tenant, profile_id),
                self.identity_key(tenant, identity)]
        with redis_errors("unlink the identity"):
            return bool(self._unlink(keys=keys, args=[profile_id, identity.field, repr(time.time()),
                                                      "1" if drop_empty else "0"]))

    def find(self, tenant: str, profile_id: str) -> Profile | None:
        """The profile, or None (also for an id no profile could have)."""
        try:
            profile_id = _checked(tenant, profile_id)
        except InputError:
            return None
        with redis_errors("read the profile"), self.client.pipeline(transaction=True) as pipe:
            pipe.hgetall(self.profile_key(tenant, profile_id))
            pipe.hgetall(self.identities_key(tenant, profile_id))
            meta, linked = (_decoded(raw) for raw in pipe.execute())
        if not meta:
            return None
        identities = [LinkedIdentity(channel=f.split(":", 1)[0], customer_id=f.split(":", 1)[1],  # type: ignore[arg-type]
                                     linked_at=float(at)) for f, at in linked.items()]
        identities.sort(key=lambda i: (i.channel.value, i.customer_id))
        return Profile(tenant=tenant, profile_id=profile_id, identities=identities,
                       created_at=float(meta["created_at"]), updated_at=float(meta["updated_at"]))

    def get(self, tenant: str, profile_id: str) -> Profile:
        """The profile; a ``NotFoundError`` when the tenant has none of that id."""
        profile = self.find(tenant, profile_id)
        if profile is None:
            raise NotFoundError(f"no profile {profile_id!r}")
        return profile

    def resolve(self, tenant: str, identity: Identity) -> Profile | None:
        """The profile ``identity`` is linked to, or None."""
        with redis_errors("resolve the identity"):
            owner = self.client.get(self.identity_key(tenant, identity))
        return None if owner is None else self.find(tenant, _text(owner))

    def delete(self, tenant: str, profile_id: str) -> bool:
        """Delete the profile and its links (not the customer's data: that is ``agent.privacy``'s erasure);
        True when there was one."""
        profile_id = _checked(tenant, profile_id)
        keys = [self.profile_key(tenant, profile_id), self.identities_key(tenant, profile_id)]
        with redis_errors("delete the profile"):
            return bool(self._delete(keys=keys, args=[profile_id, f"{IDENTITY_PREFIX}:{tenant}:"]))


def profile_history(conversations: ConversationStore, profile: Profile, *, limit: int) -> tuple[list[Conversation],
                                                                                                  bool]:
    """The latest ``limit`` conversations of the profile's identities (each identity's conversations on its
    channel), oldest first, and whether older ones were left out."""
    found: dict[str, Conversation] = {}
    for identity in profile.identities:
        for conversation in conversations.customer_conversations(profile.tenant, identity.customer_id):
            if conversation.channel == identity.channel.value:
                found[conversation.id] = conversation
    ordered = sorted(found.values(), key=lambda c: (c.created_at, c.id))
    return ordered[-limit:], len(ordered) > limit


def _checked(tenant: str, profile_id: str) -> str:
    normalize_tenant(tenant)
    if not re.fullmatch(PROFILE_ID_PATTERN, profile_id):
        raise InputError(f"a profile id is 1-128 letters, digits, '.', '_', '@' or '-', starting with a letter or "
                         f"digit; got {escape_invisible(profile_id[:80])!r}")
    return profile_id


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _texts(values: Any) -> list[str]:
    return [_text(v) for v in values]


def _decoded(raw: dict[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}
