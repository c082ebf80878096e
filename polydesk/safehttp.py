"""Outbound HTTP that cannot be turned against the server (server-side request forgery).

A brand's tool declares a URL; a customer's message fills part of it; the answer may redirect anywhere. So every
address is checked where it counts:

1. ``check_url`` before a request: the scheme (https unless the policy allows http), no credentials in the URL,
   a host and a port, and every address the host resolves to (IP literals in any form that ``getaddrinfo``
   accepts: ``2130706433``, ``0x7f.1``, ``017700000001``, ``127.1``, ``[::ffff:7f00:1]``) must be public.
2. At connect time, on the address actually dialled: ``open_client`` gives an httpx client whose network backend
   resolves the host, refuses when any address is not allowed, and connects to a checked IP (no second lookup,
   so no DNS-rebinding window). TLS keeps the URL's host name for SNI and the certificate check.
3. Redirects are followed by hand, each ``Location`` checked again (and https to http refused).

Not public: loopback, private, link-local, unique- and site-local, carrier-grade NAT, multicast, unspecified,
reserved, benchmarking, broadcast, ``0.0.0.0/8``, and the IPv4-mapped, 6to4 and NAT64 forms of those.
``allow_private`` (``POLYDESK_ALLOW_PRIVATE_URLS``) or a ``host[:port]`` in ``allowed_private_hosts`` lets them
through; cloud metadata endpoints (``169.254.169.254``, ``fd00:ec2::254`` ...) never are.

The body is read up to ``max_bytes`` and the whole call, redirects included, ends within ``timeout_s``. Logs
name the host only: a path may hold a customer's order number or e-mail address and a query a key, so neither
reaches httpx's own log line either (httpx sees ``/``; the transport puts the path and query back for the wire),
and headers are never logged.

Example:
    >>> policy = OutboundPolicy(timeout_s=3.0)
    >>> with open_client(policy) as client:                                                  # doctest: +SKIP
    ...     fetched = fetch(client, "GET", "https://orders.example/api/orders/42", policy=policy)
    ...     fetched.json()["status"]
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import ipaddress
import json as jsonlib
import logging
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import certifi
import httpcore
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from polydesk.errors import (
    OutboundError,
    OutboundTimeoutError,
    PolydeskError,
    ResponseTooLargeError,
    UnsafeUrlError,
)

if TYPE_CHECKING:
    from polydesk.settings import Settings

log = logging.getLogger("polydesk.safehttp")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254",  # AWS, GCP, Azure IMDS; ECS task credentials
    "100.100.100.200", "168.63.129.16", "192.0.0.192",    # Alibaba, Azure WireServer, Oracle
))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SPECIAL_V4 = tuple((ipaddress.IPv4Network(net), why) for net, why in (
    ("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
    ("100.64.0.0/10", "carrier-grade NAT (100.64.0.0/10)"),
    ("198.18.0.0/15", "a benchmarking network (198.18.0.0/15)"),
    ("255.255.255.255/32", "broadcast"),
))
_REDIRECTS = {301, 302, 303, 307, 308}
_TARGET = "polydesk.target"  # request extension: the path and query, put into the URL for the wire only
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("polydesk_safehttp_deadline", default=None)
# getaddrinfo has no timeout of its own: lookups run here so a stalled resolver cannot outlast the deadline.
_RESOLVER = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="polydesk-resolve")


def _embedded(address: IPAddress) -> tuple[ipaddress.IPv4Address | None, str]:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address, and which form it is."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None, ""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    return None, ""


def _is_metadata(address: IPAddress) -> bool:
    return address in _METADATA or _embedded(address)[0] in _METADATA


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one (``"loopback"``, ``"private"`` ...), or None when it is."""
    if address in _METADATA:
        return "a cloud metadata endpoint"
    embedded, form = _embedded(address)
    if embedded is not None:
        problem = address_problem(embedded)
        return None if problem is None else f"{problem} ({form} {embedded})"
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "site-local"),
    )
    for hit, why in checks:
        if hit:
            return why
    if isinstance(address, ipaddress.IPv4Address):
        for network, why in _SPECIAL_V4:
            if address in network:
                return why
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    return None if address.is_global else "not globally routable"


def _host_text(raw_host: str) -> str:
    """A host as written in ``host:port`` (IPv6 in brackets)."""
    return f"[{raw_host}]" if ":" in raw_host else raw_host


class OutboundPolicy(BaseModel):
    """What an outbound call may reach, and how much of it may take (one per tool, or from settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allow_private: bool = Field(default=False, description="non-public addresses allowed (never cloud metadata)")
    allow_http: bool = Field(default=False, description="plain http allowed (an internal service)")
    allowed_private_hosts: frozenset[str] = Field(
        default=frozenset(), description="host[:port] names that may resolve to non-public addresses"
    )
    max_redirects: int = Field(default=3, ge=0, le=20)
    max_bytes: int = Field(default=1_000_000, ge=1)
    timeout_s: float = Field(default=5.0, gt=0, le=600, description="the whole call, redirects and body included")

    @field_validator("allowed_private_hosts", mode="before")
    @classmethod
    def _normalise_hosts(cls, value: Iterable[str]) -> frozenset[str]:
        hosts = set()
        for entry in [value] if isinstance(value, str) else value:
            try:
                url = httpx.URL(f"http://{str(entry).strip()}/")
            except httpx.InvalidURL as exc:
                raise ValueError(f"{entry!r} is not a host[:port]") from exc
            if not url.raw_host or url.userinfo or url.raw_path != b"/":
                raise ValueError(f"{entry!r} is not a host[:port]")
            host = _host_text(url.raw_host.decode("ascii"))
            hosts.add(host if url.port is None else f"{host}:{url.port}")
        return frozenset(hosts)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> OutboundPolicy:
        """The policy that ``POLYDESK_ALLOW_PRIVATE_URLS`` gives, with a tool's own values in ``overrides``."""
        return cls(**{"allow_private": settings.allow_private_urls, **overrides})

    def refusal(self, address: IPAddress, host: str, port: int) -> str | None:
        """Why ``host:port`` may not be reached at ``address``, or None when it may."""
        problem = address_problem(address)
        if problem is None or _is_metadata(address):
            return problem
        named = _host_text(host.lower())
        if self.allow_private or named in self.allowed_private_hosts or f"{named}:{port}" in self.allowed_private_hosts:
            return None
        return problem


def _remaining(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the current call's deadline (``expired`` raised when none is)."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


def _resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    """Every address of ``host``, in getaddrinfo's order (an IP literal in canonical form without a lookup)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    lookup = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise OutboundTimeoutError(f"looking up {host} took longer than the deadline") from None
    except (OSError, UnicodeError) as exc:
        raise OutboundError(f"{host} could not be resolved: {exc}") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OutboundError(f"{host} has no address")
    return addresses


def _checked_addresses(host: str, port: int, policy: OutboundPolicy, timeout: float | None) -> list[IPAddress]:
    addresses = _resolve(host, port, timeout)
    for address in addresses:
        problem = policy.refusal(address, host, port)
        if problem is not None:
            shown = "" if host == str(address) else f" resolves to {address}, which"
            raise UnsafeUrlError(f"refused {_host_text(host)}:{port}:{shown} is {problem}")
    return addresses


def _parse(url: str | httpx.URL) -> httpx.URL:
    try:
        return url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise UnsafeUrlError("refused a URL that cannot be parsed") from None


def _check(url: httpx.URL, policy: OutboundPolicy) -> list[IPAddress]:
    host = url.raw_host.decode("ascii")
    schemes = ("http", "https") if policy.allow_http else ("https",)
    if url.scheme not in schemes:
        raise UnsafeUrlError(f"refused {host or 'a URL'}: only {' or '.join(schemes)} is allowed")
    if not host:
        raise UnsafeUrlError("refused a URL without a host")
    if url.userinfo:
        raise UnsafeUrlError(f"refused {_host_text(host)}: credentials in the URL are not allowed")
    port = url.port if url.port is not None else (443 if url.scheme == "https" else 80)
    if not 1 <= port <= 65535:
        raise UnsafeUrlError(f"refused {_host_text(host)}: port {port} is out of range")
    return _checked_addresses(host, port, policy, _remaining(policy.timeout_s, OutboundTimeoutError))


def check_url(url: str, policy: OutboundPolicy) -> list[IPAddress]:
    """The addresses ``url``'s host resolves to, when the policy allows the URL and every one of them.

    Raises ``UnsafeUrlError`` (naming the host and why, never the path or query), ``OutboundError`` when the host
    does not resolve, ``OutboundTimeoutError`` when the lookup outlasts the deadline.
    """
    return _check(_parse(url), policy)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the current call's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        wait = _remaining(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks every address against the policy, then dials a checked IP (never the name again)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        timeout = _remaining(timeout, httpcore.ConnectTimeout)
        failure: Exception | None = None
        for address in _checked_addresses(host, port, self._policy, timeout):
            try:
                stream = self._inner.connect_tcp(str(address), port, _remaining(timeout, httpcore.ConnectTimeout),
                                                 local_address, socket_options)
                return _DeadlineStream(stream)
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        raise UnsafeUrlError("refused a Unix socket: outbound calls go over TCP only")


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport on the guarded backend; puts a request's path and query back for the wire only."""

    def __init__(self, policy: OutboundPolicy, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = request.extensions.get(_TARGET)
        if target:
            extensions = {k: v for k, v in request.extensions.items() if k != _TARGET}
            url = request.url.copy_with(raw_path=target)
            request = httpx.Request(request.method, url, headers=request.headers, stream=request.stream,
                                    extensions=extensions)
        return super().handle_request(request)


def open_client(policy: OutboundPolicy, *, ssl_context: ssl.SSLContext | None = None) -> httpx.Client:
    """A client that can only connect to addresses ``policy`` allows; close it (or use ``with``) when done.

    No redirects followed by httpx (``fetch`` follows them, checked), no proxy or ``.netrc`` from the environment,
    ``policy.timeout_s`` per operation (``fetch`` makes it the deadline of the whole call). ``ssl_context``:
    certificates to trust instead of certifi's (a test's own CA).
    """
    context = ssl_context or ssl.create_default_context(cafile=certifi.where())
    return httpx.Client(transport=_GuardedTransport(policy, context), follow_redirects=False, trust_env=False,
                        timeout=httpx.Timeout(policy.timeout_s))


@dataclass(frozen=True)
class Fetched:
    """A response read in full: ``url`` is the final one, after redirects; ``elapsed_ms`` covers them all."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str
    elapsed_ms: float

    def json(self) -> Any:
        """The body as JSON; ``OutboundError`` when it is not."""
        try:
            return jsonlib.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise OutboundError(f"the answer from {_where(httpx.URL(self.url))} is not valid JSON") from None


def _where(url: httpx.URL) -> str:
    """Host and port when not the default: what a log line or a message may show of a URL (its path may hold a
    customer's order number or e-mail address, its query a key)."""
    host = _host_text(url.raw_host.decode("ascii"))
    return f"{host}{'' if url.port is None else f':{url.port}'}"


def _origin(url: httpx.URL) -> tuple[str, bytes, int | None]:
    return url.scheme, url.raw_host, url.port


def _read_body(response: httpx.Response, policy: OutboundPolicy, deadline: float, where: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise ResponseTooLargeError(f"the answer from {where} is {declared} bytes, over {policy.max_bytes}")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > policy.max_bytes:
            raise ResponseTooLargeError(f"the answer from {where} is over {policy.max_bytes} bytes")
        if time.monotonic() > deadline:
            raise OutboundTimeoutError(f"{where} did not finish its answer within {policy.timeout_s:g} s")
    return bytes(body)


def _next_request(response: httpx.Response, url: httpx.URL, method: str, status: int) -> tuple[httpx.URL, str]:
    """Where a redirect leads and with which method (303, and 301/302 after a POST, become GET)."""
    try:
        target = url.join(response.headers["location"]).copy_with(fragment=None)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise OutboundError(f"{_where(url)} redirected to a URL that cannot be parsed") from None
    if url.scheme == "https" and target.scheme == "http":
        raise UnsafeUrlError(f"refused a redirect from https to http ({_where(url)} to {_where(target)})")
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method = "GET"
    return target, method


def _follow(client: httpx.Client, method: str, url: httpx.URL, policy: OutboundPolicy, deadline: float,
            headers: Mapping[str, str] | None, body: Any, follow: bool = True,
            ) -> tuple[httpx.Response, httpx.URL, bytes]:
    first = url
    for _ in range(policy.max_redirects + 1):
        _check(url, policy)
        left = _remaining(policy.timeout_s, OutboundTimeoutError)
        # A redirect to another origin gets none of the caller's headers: they may carry its credentials.
        same_origin = _origin(url) == _origin(first)
        request = client.build_request(
            method, url.copy_with(raw_path=b"/"), headers=headers if same_origin else None,
            json=body if method not in ("GET", "HEAD") else None,
            extensions={_TARGET: url.raw_path}, timeout=httpx.Timeout(left),
        )
        response = client.send(request, stream=True)
        try:
            log.info("outbound %s %s: %d", method, _where(url), response.status_code)
            if not follow or response.status_code not in _REDIRECTS or "location" not in response.headers:
                return response, url, _read_body(response, policy, deadline, _where(url))
            url, method = _next_request(response, url, method, response.status_code)
        finally:
            response.close()
    raise OutboundError(f"{_where(first)} redirected more than {policy.max_redirects} times")


def fetch(client: httpx.Client, method: str, url: str, *, policy: OutboundPolicy,
          headers: Mapping[str, str] | None = None, json: Any = None,
          params: Mapping[str, str | int] | None = None, follow_redirects: bool = True) -> Fetched:
    """``method url`` through ``client`` (from ``open_client``), checked, redirects followed, the body read.

    Raises ``UnsafeUrlError`` (the URL, a redirect or an address refused; nothing was sent there),
    ``OutboundTimeoutError`` (not done within ``policy.timeout_s``), ``ResponseTooLargeError`` (a body over
    ``policy.max_bytes``) and ``OutboundError`` (unreachable, a TLS or protocol failure, too many redirects).
    A 4xx or 5xx answer is returned, not raised: the caller decides what it means. ``follow_redirects=False``
    returns a redirect as it came (a crawler that checks where it leads before it goes there).
    """
    started = time.monotonic()
    target = _parse(url)
    if params:
        target = target.copy_merge_params(dict(params))
    token = _DEADLINE.set(started + policy.timeout_s)
    try:
        response, final, body = _follow(client, method.upper(), target, policy, started + policy.timeout_s,
                                        headers, json, follow_redirects)
    except PolydeskError as exc:
        log.warning("outbound %s %s refused or failed: %s", method.upper(), _where(target), exc.code)
        raise
    except httpx.TimeoutException as exc:
        log.warning("outbound %s %s timed out", method.upper(), _where(target))
        raise OutboundTimeoutError(f"{_where(target)} did not answer within {policy.timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        log.warning("outbound %s %s failed: %s", method.upper(), _where(target), type(exc).__name__)
        raise OutboundError(f"could not reach {_where(target)}: {type(exc).__name__}: {exc}") from exc
    finally:
        _DEADLINE.reset(token)
    return Fetched(status=response.status_code, headers=response.headers, body=body, url=str(final),
                   elapsed_ms=(time.monotonic() - started) * 1000)
