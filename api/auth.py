"""API keys: each belongs to one tenant and has one role; only their hashes are kept.

Roles (a higher role does what a lower one does, except where noted):

- ``connector``: answer customers (``/v1/answer*``, ``/v1/chat/completions``);
- ``content``: manage knowledge (``/v1/knowledge*``) and try personas;
- ``agent``: a person at the desk (``/v1/desk/*``): sees only its tenant's handed-off conversations; the key
  names the agent (``agent_id``, required) and the languages the person reads and writes (``languages``, at
  least one, the first is the one customer messages are translated into);
- ``admin``: everything, including conversations, privacy, the audit log and the desk (as agent
  ``admin-<key id>`` reading English, unless the key sets ``agent_id`` and ``languages`` itself);
- ``widget``: a *public* key, written into a brand's web page (``/widget.js``): it may only open and continue the
  web chat widget's own conversations of its tenant (``/v1/widget/*``), and only from the origins it lists
  (``allowed_origins``, required: ``scheme://host[:port]``, no path, no wildcard). No other role does a widget
  key's work, not even admin (a widget request is checked against the key's origins, which an admin key has none
  of), and a widget key does nothing else. ``allowed_origins`` on any other role is refused.

Keys come from ``POLYDESK_API_KEYS`` (a JSON list of ``{"key", "tenant", "role"}``, plus ``allowed_origins``
for widget keys and ``agent_id`` and ``languages`` for agent keys, e.g. ``{"key": "…", "tenant": "tidewell",
"role": "agent", "agent_id": "mei", "languages": ["zh", "en"]}``) or, when none is configured, from a key
file ``polydesk serve`` writes once with demo keys.

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
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError, field_validator, model_validator

from knowledge.schema import normalize_language, normalize_tenant
from polydesk.errors import ConfigError, PermissionDeniedError

Role = Literal["connector", "content", "admin", "widget", "agent"]
# The roles of secret (server-side) keys that need nothing but a tenant; the public widget key is apart (it needs
# its allowed origins), and so is the agent key (it names a person at the desk).
ROLES: tuple[Role, ...] = ("connector", "content", "admin")
WIDGET: Role = "widget"
AGENT: Role = "agent"
# What each role may do besides its own area: admin may do everything a secret key does, the desk included.
_GRANTS: dict[Role, frozenset[Role]] = {
    "connector": frozenset({"connector"}),
    "content": frozenset({"content"}),
    "admin": frozenset({*ROLES, AGENT}),
    "widget": frozenset({"widget"}),
    "agent": frozenset({"agent"}),
}
AGENT_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"  # lower case, no ':' (it separates the parts of a Redis key)
DESK_ROLES: frozenset[Role] = frozenset({AGENT, "admin"})  # the roles whose keys may name an agent
MIN_KEY_CHARS = 16
ORIGIN_NOT_ALLOWED = "origin_not_allowed"  # the stable code of a widget request from an origin its key does not list


class ApiKey(BaseModel):
    """One configured key, as ``POLYDESK_API_KEYS`` lists it."""

    key: SecretStr = Field(description=f"the secret the client sends; at least {MIN_KEY_CHARS} characters")
    tenant: str
    role: Role
    allowed_origins: list[str] | None = Field(
        default=None, description="widget keys only, and required there: the origins of the brand's pages, "
        "e.g. 'https://shop.example'")
    agent_id: str | None = Field(default=None, pattern=AGENT_ID_PATTERN,
                                 description="agent keys only, and required there (admin keys may set it too): "
                                 "the person at the desk, e.g. 'mei'")
    languages: list[str] | None = Field(default=None, description="agent (and admin) keys: the languages the person "
                                        "reads and writes, first the one messages are translated into")

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

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(normalize_language(v) for v in value))

    @model_validator(mode="after")
    def _desk(self) -> ApiKey:
        if self.role not in DESK_ROLES and (self.agent_id is not None or self.languages is not None):
            raise ValueError(f"agent_id and languages are only for agent and admin keys, not {self.role} keys")
        if self.role == AGENT and (self.agent_id is None or not self.languages):
            raise ValueError("an agent key needs agent_id and at least one of the agent's languages")
        return self

    @model_validator(mode="after")
    def _origins(self) -> ApiKey:
        if self.role != WIDGET:
            if self.allowed_origins is not None:
                raise ValueError(f"allowed_origins is only for widget keys, not {self.role} keys")
            return self
        if not self.allowed_origins:
            raise ValueError("a widget key needs allowed_origins: the origins of the pages that embed the widget")
        self.allowed_origins = list(dict.fromkeys(normalize_origin(origin) for origin in self.allowed_origins))
        return self


def normalize_origin(value: str) -> str:
    """A web origin as browsers send it in ``Origin``: ``scheme://host[:port]``, lower case, the default port
    dropped, an international host in its ASCII form. ``ValueError`` for anything else (a path, a wildcard).

        >>> normalize_origin("HTTPS://Shop.Example:443")
        'https://shop.example'
    """
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise ValueError(f"the origin {value!r} has an invalid host or port") from None
    if scheme not in ("http", "https") or not host or "*" in value or parts.username is not None \
            or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"the origin {value!r} is not scheme://host[:port] (http or https, no path, no wildcard)")
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sends a request: the key's short id (safe to log), its tenant, its role and, for a widget key, the
    origins its pages may call from; at the desk (agent and admin keys), the agent it acts as and the languages
    that agent reads, first the one messages are translated into."""

    key_id: str
    tenant: str
    role: Role
    allowed_origins: frozenset[str] = frozenset()
    agent_id: str | None = None
    languages: tuple[str, ...] = ()

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
            key_id = digest.hex()[:12]
            desk = api_key.role in DESK_ROLES
            self._callers[digest] = Caller(
                key_id=key_id, tenant=api_key.tenant, role=api_key.role,
                allowed_origins=frozenset(api_key.allowed_origins or ()),
                agent_id=(api_key.agent_id or f"admin-{key_id}") if desk else None,
                languages=tuple(api_key.languages or ("en",)) if desk else ())

    def __len__(self) -> int:
        return len(self._callers)

    def authenticate(self, raw: str) -> Caller | None:
        digest = _digest(raw)
        for known, caller in self._callers.items():
            if hmac.compare_digest(known, digest):
                return caller
        return None

    def by_id(self, key_id: str) -> Caller | None:
        """The caller of the key whose short id is ``key_id`` (a console session names its key by it), or None
        once that key is no longer configured."""
        return next((caller for caller in self._callers.values() if caller.key_id == key_id), None)

    @property
    def tenants(self) -> list[str]:
        return sorted({caller.tenant for caller in self._callers.values()})

    def agents(self, tenant: str) -> list[Caller]:
        """The tenant's agent keys' callers (one per agent id): who the keys say works at the tenant's desk."""
        found = {c.agent_id: c for c in self._callers.values()
                 if c.tenant == tenant and c.role == AGENT and c.agent_id is not None}
        return [found[agent_id] for agent_id in sorted(found, key=str)]

    def widget_origin(self, origin: str) -> bool:
        """Whether some widget key lists ``origin`` (a CORS preflight carries no key to check it against)."""
        return any(origin in caller.allowed_origins for caller in self._callers.values())


def origin_refused(origin: str | None) -> PermissionDeniedError:
    """403 ``origin_not_allowed``: a widget request from a page its key does not list (or from no page)."""
    shown = "no Origin header" if origin is None else f"the origin {origin[:100]!r}"
    return PermissionDeniedError(f"{shown} may not use this widget key; list it in the key's allowed_origins",
                                 code=ORIGIN_NOT_ALLOWED)


def parse_keys(text: str, *, origin: str) -> list[ApiKey]:
    """Keys from a JSON list; a ``ConfigError`` that names ``origin`` and the bad entry."""
    try:
        return TypeAdapter(list[ApiKey]).validate_json(text)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise ConfigError(f"{origin}: entry {where}: {problem['msg']}") from None


# The demo widget key's pages: a test page served with ``python -m http.server 8080`` next to ``polydesk serve``.
DEMO_WIDGET_ORIGINS = ("http://localhost:8080", "http://127.0.0.1:8080")


def demo_keys(path: Path, *, tenant: str) -> tuple[list[ApiKey], bool]:
    """The keys in ``path``, or new random keys (one per role, and a widget key for ``DEMO_WIDGET_ORIGINS``)
    written there with mode 600. True when new."""
    if path.exists():
        return parse_keys(path.read_text(encoding="utf-8"), origin=str(path)), False
    keys = [ApiKey(key=SecretStr(f"pd_{role}_{secrets.token_urlsafe(24)}"), tenant=tenant, role=role)
            for role in ROLES]
    keys.append(ApiKey(key=SecretStr(f"pd_widget_{secrets.token_urlsafe(24)}"), tenant=tenant, role=WIDGET,
                       allowed_origins=list(DEMO_WIDGET_ORIGINS)))
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps([k.model_dump(mode="json", exclude_none=True) | {"key": k.key.get_secret_value()}
                       for k in keys], indent=2)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(data + "\n")
    return keys, True
