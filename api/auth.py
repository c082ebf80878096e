"""API keys: each belongs to one tenant and has one role; only their hashes are kept.

Roles (a higher role does what a lower one does, except where noted):

- ``connector``: answer customers (``/v1/answer*``, ``/v1/chat/completions``);
- ``content``: manage knowledge (``/v1/knowledge*``) and try personas;
- ``admin``: everything, including conversations, privacy and the audit log.

Keys come from ``POLYDESK_API_KEYS`` (a JSON list of ``{"key", "tenant", "role"}``) or, when
none is configured, from a key file ``polydesk serve`` writes once with demo keys.

Example:
    >>> ring = KeyRing([ApiKey(key="pd_live_0123456789abcdef", tenant="tidewell", role="connector")])
    >>> caller = ring.authenticate("pd_live_0123456789abcdef")
    >>> caller.tenant, caller.role, caller.allows("content")
    ('tidewell', 'connector', False)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError, field_validator

from knowledge.schema import normalize_tenant
from polydesk.errors import ConfigError

Role = Literal["connector", "content", "admin"]
ROLES: tuple[Role, ...] = ("connector", "content", "admin")
# What each role may do besides its own area: admin may do everything.
_GRANTS: dict[Role, frozenset[Role]] = {
    "connector": frozenset({"connector"}),
    "content": frozenset({"content"}),
    "admin": frozenset(ROLES),
}
MIN_KEY_CHARS = 16


class ApiKey(BaseModel):
    """One configured key, as ``POLYDESK_API_KEYS`` lists it."""

    key: SecretStr = Field(description=f"the secret the client sends; at least {MIN_KEY_CHARS} characters")
    tenant: str
    role: Role

    @field_validator("key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_KEY_CHARS:
            raise ValueError(f"an API key needs at least {MIN_KEY_CHARS} characters")
        return value

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str) -> str:
        return normalize_tenant(value)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sends a request: the key's short id (safe to log), its tenant and its role."""

    key_id: str
    tenant: str
    role: Role

    def allows(self, role: Role) -> bool:
        return role in _GRANTS[self.role]


def _digest(raw: str) -> bytes:
    return hashlib.sha256(raw.encode("utf-8")).digest()


class KeyRing:
    """The configured keys, by hash. ``authenticate`` compares in constant time."""

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        self._callers: dict[bytes, Caller] = {}
        for api_key in keys:
            digest = _digest(api_key.key.get_secret_value())
            self._callers[digest] = Caller(key_id=digest.hex()[:12], tenant=api_key.tenant, role=api_key.role)

    def __len__(self) -> int:
        return len(self._callers)

    def authenticate(self, raw: str) -> Caller | None:
        digest = _digest(raw)
        for known, caller in self._callers.items():
            if hmac.compare_digest(known, digest):
                return caller
        return None

    @property
    def tenants(self) -> list[str]:
        return sorted({caller.tenant for caller in self._callers.values()})


def parse_keys(text: str, *, origin: str) -> list[ApiKey]:
    """Keys from a JSON list; a ``ConfigError`` that names ``origin`` and the bad entry."""
    try:
        return TypeAdapter(list[ApiKey]).validate_json(text)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise ConfigError(f"{origin}: entry {where}: {problem['msg']}") from None


def demo_keys(path: Path, *, tenant: str) -> tuple[list[ApiKey], bool]:
    """The keys in ``path``, or new random keys (one per role) written there with mode 600. True when new."""
    if path.exists():
        return parse_keys(path.read_text(encoding="utf-8"), origin=str(path)), False
    keys = [ApiKey(key=SecretStr(f"pd_{role}_{secrets.token_urlsafe(24)}"), tenant=tenant, role=role)
            for role in ROLES]
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps([{"key": k.key.get_secret_value(), "tenant": k.tenant, "role": k.role} for k in keys], indent=2)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(data + "\n")
    return keys, True
