"""Calling one brand tool: the URL, the secret, the safe request, the fields, the owner check, the breaker.

``ToolClient.call(spec, arguments, tenant=, customer=)`` does, in order:

1. **Breaker** (``CircuitBreaker``): a (tenant, tool) whose last ``threshold`` calls failed is not called for
   ``cooldown_s``: ``unavailable`` (code ``tool_unavailable``) at once. After the cooldown one trial call goes
   out; its success closes the breaker, its failure opens it again. The breaker lives in the process, not in
   Redis: it sits on every tool call's path (a Redis round trip would be most of the 5 ms budget) and a worker
   that has not seen the failures yet learns them within ``threshold`` calls of its own. Failures are what says
   the remote is unwell: a timeout, a connection error, a 5xx; not a 404, a refused URL or a missing secret.
2. **URL** from the template (``agent.tools.params.render_url``: values URL-encoded, a ``${ENV}`` base); a POST
   sends the parameters as a JSON object (``params.request_body``). A base URL variable that is not set fails
   the call with ``tool_misconfigured``.
3. **Auth** read from the environment now, never stored: ``bearer`` (``Authorization: Bearer …``), ``basic``
   (``username_env`` and ``secret_env``), ``header`` (the named header). A variable that is not set fails the
   call with ``tool_misconfigured``; the log names the variable, never a value.
4. **Request** through ``polydesk.safehttp.fetch`` under the settings' ``OutboundPolicy``, widened only by the
   operator's marks on the tool: ``internal`` allows plain http, ``allow_private`` lets this tool's own host be
   a private address; the tool's ``timeout_s``. A refused URL is ``refused_unsafe`` (code ``unsafe_url``) and
   nothing is sent.
5. **Response**: 404 is ``not_found``; another non-2xx is ``failed`` (``tool_http_<status>``); the JSON body's
   declared fields are picked by dotted path (``shipment.carrier``, ``items.0.sku``: ``ResponseSpec.extract``);
   a body that is not JSON is ``failed`` (``tool_bad_response``).
6. **Owner** (``response.owner``): the order's field must equal the conversation's customer id, or one of the
   customer's verified e-mail addresses (case-insensitive); an unknown customer or another value is
   ``not_yours`` and the result carries no fields.

Only the tool's name, the status, the time, the host and an error code are logged: never the path, the
arguments, a header or anything of the response (it holds personal data).

Example:
    >>> client = ToolClient(settings=settings, environ=os.environ)                       # doctest: +SKIP
    >>> result = client.call(spec, {"order_number": "TW-ORD-2026-004512"}, tenant="tidewell",
    ...                      customer=Customer(id="U4af49", emails=("buyer@example.co.th",)))
    >>> result.status, result.fields["carrier"]
    ('ok', 'Kerry Express')
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from agent.tools.params import render_url, request_body
from agent.tools.spec import ToolSpec, pick
from polydesk.errors import PolydeskError
from polydesk.safehttp import Fetched, OutboundPolicy, fetch, open_client
from polydesk.settings import Settings
from polydesk.waiting import remote_wait

__all__ = ["CircuitBreaker", "Customer", "ToolClient", "ToolResult", "ToolStatus"]

log = logging.getLogger("polydesk.tools")

ToolStatus = Literal["ok", "not_found", "not_yours", "failed", "unavailable", "refused_unsafe"]
BREAKER_THRESHOLD = 5
BREAKER_COOLDOWN_S = 30.0
# safehttp's error codes that say the remote is unwell (the breaker counts them).
_REMOTE_FAILURES = frozenset({"outbound_timeout", "outbound_failed"})


@dataclass(frozen=True, slots=True)
class Customer:
    """Who the conversation is with, as far as polydesk knows it: the channel's customer id and the e-mail
    addresses verified for them (the e-mail channel's sender; e-mail identities linked to their profile)."""

    id: str | None = None
    emails: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolResult:
    """One tool call's outcome. ``fields``: the declared response fields (empty unless ``ok``); ``latency_ms``:
    the call's own time, remote included; ``remote_ms``: the remote's share (what safehttp measured)."""

    tool: str
    status: ToolStatus
    fields: dict[str, Any] = field(default_factory=dict)
    latency_ms: float = 0.0
    code: str | None = None
    remote_ms: float = 0.0


class CircuitBreaker:
    """Consecutive failures per key; open for ``cooldown_s`` after ``threshold`` of them (thread-safe)."""

    def __init__(self, *, threshold: int = BREAKER_THRESHOLD, cooldown_s: float = BREAKER_COOLDOWN_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._failures: dict[tuple[str, str], int] = {}
        self._open_until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def allow(self, key: tuple[str, str]) -> bool:
        """Whether a call may go out now; after the cooldown one trial call does (the next waits for its end)."""
        with self._lock:
            until = self._open_until.get(key)
            if until is None:
                return True
            now = self.clock()
            if now < until:
                return False
            self._open_until[key] = now + self.cooldown_s  # half-open: this caller is the trial
            return True

    def record(self, key: tuple[str, str], *, ok: bool) -> None:
        with self._lock:
            if ok:
                self._failures.pop(key, None)
                self._open_until.pop(key, None)
                return
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            if failures >= self.threshold:
                self._open_until[key] = self.clock() + self.cooldown_s

    def is_open(self, key: tuple[str, str]) -> bool:
        with self._lock:
            until = self._open_until.get(key)
            return until is not None and self.clock() < until


class ToolClient:
    """Calls tools (see the module docstring); thread-safe. ``environ``: where secrets are read at call time
    (the composition root hands ``os.environ``). Close it to close its HTTP connections."""

    def __init__(self, *, settings: Settings, environ: Mapping[str, str],
                 breaker: CircuitBreaker | None = None) -> None:
        self.settings = settings
        self.environ = environ
        self.breaker = breaker or CircuitBreaker()
        self._base = OutboundPolicy.from_settings(settings)
        self._clients: dict[OutboundPolicy, httpx.Client] = {}
        self._policies: dict[tuple[Any, ...], OutboundPolicy] = {}
        self._lock = threading.Lock()

    def call(self, spec: ToolSpec, arguments: Mapping[str, str], *, tenant: str, customer: Customer) -> ToolResult:
        began = time.perf_counter()
        key = (tenant, spec.name)
        if not self.breaker.allow(key):
            return self._done(spec, "unavailable", began, host="-", code="tool_unavailable")
        try:
            url = render_url(spec, arguments, self.environ)
        except PolydeskError as exc:  # a ${ENV} base that is not set (invalid_config), a required value missing
            code = "tool_misconfigured" if exc.code == "invalid_config" else exc.code
            return self._done(spec, "failed", began, host="-", code=code)
        host = urlsplit(url).hostname or "-"
        headers = self._auth_headers(spec)
        if headers is None:
            return self._done(spec, "failed", began, host=host, code="tool_misconfigured")
        policy = self._policy(spec, url)
        try:
            with remote_wait():  # the brand's API answers in its own time: the CPU slot is free meanwhile
                fetched = fetch(self._client(policy), spec.method, url, policy=policy, headers=headers,
                                json=request_body(spec, arguments))
        except PolydeskError as exc:
            if exc.code == "unsafe_url":
                return self._done(spec, "refused_unsafe", began, host=host, code=exc.code)
            self.breaker.record(key, ok=exc.code not in _REMOTE_FAILURES)
            return self._done(spec, "failed", began, host=host, code=exc.code)
        self.breaker.record(key, ok=fetched.status < 500)
        return self._read(spec, fetched, customer, began, host)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    # -- steps ---------------------------------------------------------------------------------------------------

    def _read(self, spec: ToolSpec, fetched: Fetched, customer: Customer, began: float, host: str) -> ToolResult:
        remote = float(fetched.elapsed_ms)
        if fetched.status == 404:
            return self._done(spec, "not_found", began, host=host, code="not_found", remote_ms=remote)
        if not 200 <= fetched.status < 300:
            return self._done(spec, "failed", began, host=host, code=f"tool_http_{fetched.status}", remote_ms=remote)
        try:
            data = fetched.json()
        except PolydeskError:
            return self._done(spec, "failed", began, host=host, code="tool_bad_response", remote_ms=remote)
        owner = spec.response.owner
        if owner is not None and not _owned(pick(data, owner.field), owner.against, customer):
            return self._done(spec, "not_yours", began, host=host, code="not_yours", remote_ms=remote)
        return self._done(spec, "ok", began, host=host, fields=spec.response.extract(data), remote_ms=remote)

    def _auth_headers(self, spec: ToolSpec) -> dict[str, str] | None:
        """The auth header of the tool, from the environment now; None when a variable it names is not set."""
        auth = spec.auth
        if auth is None:
            return {"Accept": "application/json"}
        names = [auth.secret_env, *([auth.username_env] if auth.type == "basic" and auth.username_env else [])]
        missing = [name for name in names if not self.environ.get(name)]
        if missing:
            log.warning("tool %s: the environment variable %s is not set", spec.name, ", ".join(missing))
            return None
        secret = self.environ[auth.secret_env]
        if auth.type == "bearer":
            return {"Accept": "application/json", "Authorization": f"Bearer {secret}"}
        if auth.type == "basic":
            pair = f"{self.environ[auth.username_env or '']}:{secret}".encode()
            return {"Accept": "application/json", "Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}
        return {"Accept": "application/json", str(auth.header): secret}

    def _policy(self, spec: ToolSpec, url: str) -> OutboundPolicy:
        """The settings' policy, widened only by the operator's marks on this tool, with its timeout."""
        netloc = urlsplit(url).netloc.rpartition("@")[2]  # this tool's own host (and port), as the URL names it
        key = (spec.name, spec.internal, spec.allow_private, spec.timeout_s, netloc)
        policy = self._policies.get(key)
        if policy is None:
            update: dict[str, Any] = {"timeout_s": float(spec.timeout_s)}
            if spec.internal:
                update["allow_http"] = True
            if spec.allow_private:
                update["allowed_private_hosts"] = {*self._base.allowed_private_hosts, netloc}
            policy = self._policies[key] = OutboundPolicy.from_settings(self.settings, **update)
        return policy

    def _client(self, policy: OutboundPolicy) -> httpx.Client:
        with self._lock:
            client = self._clients.get(policy)
            if client is None:
                client = self._clients[policy] = open_client(policy)
            return client

    @staticmethod
    def _done(spec: ToolSpec, status: ToolStatus, began: float, *, host: str, code: str | None = None,
              fields: dict[str, Any] | None = None, remote_ms: float = 0.0) -> ToolResult:
        latency = round((time.perf_counter() - began) * 1000, 3)
        log.info("tool %s: %s in %.1f ms (host %s%s)", spec.name, status, latency, host, f", {code}" if code else "")
        return ToolResult(tool=spec.name, status=status, fields=fields or {}, latency_ms=latency, code=code,
                          remote_ms=round(remote_ms, 3))


def _owned(value: Any, against: str, customer: Customer) -> bool:
    """Whether the order's owner field names the conversation's customer (unknown customer: never)."""
    if value is None or isinstance(value, dict | list):
        return False
    text = str(value).strip()
    if against == "customer_id":
        return customer.id is not None and text == customer.id.strip()
    return bool(text) and text.casefold() in {email.strip().casefold() for email in customer.emails}
