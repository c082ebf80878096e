"""Outbound HTTP that cannot reach the server's own network: address rules, then real loopback servers."""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from polydesk.errors import (
    InputError,
    OutboundError,
    OutboundTimeoutError,
    ResponseTooLargeError,
    UnsafeUrlError,
)
from polydesk.safehttp import OutboundPolicy, address_problem, check_url, fetch, open_client
from polydesk.settings import Settings

PATIENCE_S = 15.0  # generous: "it ends", never "it ends this fast"
LOOPBACK = OutboundPolicy(allow_private=True, allow_http=True)


# ---- unit: address rules and URL checks, no network --------------------------------------------------------------

@pytest.mark.unit
@pytest.mark.parametrize(("address", "why"), [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("fd12:3456::1", "private"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"), ("fec0::1", "site-local"),
    ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"), ("100.100.100.200", "metadata"),
    ("100.64.0.1", "carrier-grade NAT"), ("0.0.0.0", "unspecified"), ("0.1.2.3", "this network"),
    ("::", "unspecified"), ("198.18.0.1", "benchmarking"), ("255.255.255.255", "broadcast"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("240.0.0.1", "reserved"),
    ("::ffff:127.0.0.1", "IPv4-mapped"), ("::ffff:a00:1", "private (IPv4-mapped 10.0.0.1)"),
    ("2002:7f00:1::", "loopback (6to4"), ("2002:c0a8:101::1", "private (6to4"),
    ("64:ff9b::7f00:1", "loopback (NAT64"), ("64:ff9b::a9fe:a9fe", "metadata"),
    ("::127.0.0.1", "reserved"), ("2001:db8::1", "private"), ("192.0.2.1", "private"),
])
def test_a_non_public_address_is_named_for_what_it_is(address: str, why: str) -> None:
    problem = address_problem(ipaddress.ip_address(address))
    assert problem is not None and why in problem


@pytest.mark.unit
@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700::1111", "::ffff:8.8.8.8",
                                     "2002:808:808::1", "64:ff9b::808:808"])
def test_a_public_address_passes(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.unit
@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
    "http://2130706433/", "http://0x7f.1/", "http://0x7f000001/", "http://017700000001/", "http://127.1/",
    "http://0177.0.0.1/", "http://[::ffff:7f00:1]/", "http://[::ffff:127.0.0.1]:8080/", "http://0/",
    "http://LOCALHOST/", "http://[fe80::1]/", "http://10.0.0.1:8443/",
])
def test_every_form_of_a_private_address_is_refused(url: str) -> None:
    with pytest.raises(UnsafeUrlError) as refused:
        check_url(url, OutboundPolicy(allow_http=True))
    assert refused.value.code == "unsafe_url" and isinstance(refused.value, InputError)


@pytest.mark.unit
@pytest.mark.parametrize(("url", "why"), [
    ("http://8.8.8.8/", "only https"), ("ftp://8.8.8.8/", "only https"), ("file:///etc/passwd", "only https"),
    ("https://user:hunter2@8.8.8.8/", "credentials"), ("https:///path", "without a host"),
    ("https://8.8.8.8:0/", "out of range"), ("https://8.8.8.8:99999/", "out of range"),
    ("https://[::1/", "cannot be parsed"),
])
def test_scheme_credentials_host_and_port_are_checked(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrlError, match=why) as refused:
        check_url(url, OutboundPolicy())
    assert "hunter2" not in refused.value.message


@pytest.mark.unit
def test_a_public_literal_passes_without_a_lookup() -> None:
    assert check_url("https://8.8.8.8/dns-query?name=x", OutboundPolicy()) == [ipaddress.ip_address("8.8.8.8")]


@pytest.mark.unit
def test_cloud_metadata_stays_refused_when_private_addresses_are_allowed() -> None:
    for url in ("http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/"):
        with pytest.raises(UnsafeUrlError, match="metadata"):
            check_url(url, OutboundPolicy(allow_private=True, allow_http=True,
                                          allowed_private_hosts=frozenset({"169.254.169.254"})))


@pytest.mark.unit
def test_a_host_is_refused_when_any_of_its_addresses_is_private(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {"mixed.example": ["93.184.215.14", "10.0.0.7"], "public.example": ["93.184.215.14"]}

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert check_url("https://public.example/", OutboundPolicy()) == [ipaddress.ip_address("93.184.215.14")]
    with pytest.raises(UnsafeUrlError, match=r"mixed\.example:443: resolves to 10\.0\.0\.7, which is private"):
        check_url("https://mixed.example/", OutboundPolicy())


@pytest.mark.unit
def test_a_host_that_does_not_resolve_is_an_outbound_failure() -> None:
    with pytest.raises(OutboundError) as failed:
        check_url("https://no-such-host.invalid/", OutboundPolicy())
    assert failed.value.code == "outbound_failed"


@pytest.mark.unit
def test_allowed_private_hosts_are_normalised_and_bad_entries_refused() -> None:
    policy = OutboundPolicy(allowed_private_hosts=frozenset({"LOCALHOST:8080", "[::1]", " orders.internal "}))
    assert policy.allowed_private_hosts == {"localhost:8080", "[::1]", "orders.internal"}
    for bad in ("user@host", "host/path", "host:notaport", ""):
        with pytest.raises(ValidationError):
            OutboundPolicy(allowed_private_hosts=frozenset({bad}))


@pytest.mark.unit
def test_the_policy_follows_the_setting() -> None:
    assert OutboundPolicy.from_settings(Settings(_env_file=None)).allow_private is False  # type: ignore[call-arg]
    allowed = OutboundPolicy.from_settings(Settings(_env_file=None, allow_private_urls=True),  # type: ignore[call-arg]
                                           allow_http=True, timeout_s=2.0)
    assert (allowed.allow_private, allowed.allow_http, allowed.timeout_s) == (True, True, 2.0)


# ---- loopback servers --------------------------------------------------------------------------------------------

@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Server:
    """A real HTTP server on 127.0.0.1; ``routes`` maps a path (without query) to what answers it."""

    routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    scheme: str = "http"
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"


def _serve(server: Server, tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            server.seen.append(Seen(self.command, self.path, dict(self.headers.items())))
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            server.routes.get(self.path.split("?")[0], _not_found)(self)

        do_GET = do_POST = do_HEAD = _any

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        server.scheme = "https"
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(PATIENCE_S)


def _not_found(handler: BaseHTTPRequestHandler) -> None:
    handler.send_error(404)


def answer(body: bytes | dict[str, Any], status: int = 200) -> Callable[[BaseHTTPRequestHandler], None]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    return respond


def redirect(location: str, status: int = 302) -> Callable[[BaseHTTPRequestHandler], None]:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return respond


@pytest.fixture
def server() -> Iterator[Server]:
    yield from _serve(Server())


@pytest.fixture
def other() -> Iterator[Server]:
    yield from _serve(Server())


def get(url: str, policy: OutboundPolicy, **kwargs: Any) -> Any:
    with open_client(policy) as client:
        return fetch(client, kwargs.pop("method", "GET"), url, policy=policy, **kwargs)


# ---- integration: what reaches a server, and what does not -------------------------------------------------------

@pytest.mark.integration
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "2130706433", "0x7f.1", "017700000001",
                                  "127.1", "[::ffff:7f00:1]"])
def test_loopback_in_any_form_is_refused_by_default_and_nothing_is_sent(server: Server, host: str) -> None:
    server.routes["/ok"] = answer({"status": "shipped"})
    with pytest.raises(UnsafeUrlError):
        get(server.url("/ok", host), OutboundPolicy(allow_http=True))
    assert server.seen == []


@pytest.mark.integration
def test_the_metadata_address_is_refused() -> None:
    with pytest.raises(UnsafeUrlError, match=r"169\.254\.169\.254"):
        get("http://169.254.169.254/latest/meta-data/", OutboundPolicy(allow_http=True, allow_private=True))


@pytest.mark.integration
def test_a_client_used_directly_is_refused_at_connect_time(server: Server) -> None:
    """The guard is on the address dialled, not only in fetch: a client used on its own cannot reach loopback."""
    server.routes["/ok"] = answer({"status": "shipped"})
    with open_client(OutboundPolicy(allow_http=True)) as client, pytest.raises(UnsafeUrlError, match="loopback"):
        client.get(server.url("/ok", "localhost"))
    assert server.seen == []


@pytest.mark.unit
def test_a_name_that_turns_private_after_the_check_is_refused_at_connect_time(server: Server,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the first lookup (the URL check) answers a public address, the next one loopback."""
    answers = iter(["93.184.215.14", "127.0.0.1"])

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    server.routes["/ok"] = answer({"status": "shipped"})
    with pytest.raises(UnsafeUrlError, match=r"rebind\.example:\d+: resolves to 127\.0\.0\.1, which is loopback"):
        get(server.url("/ok", "rebind.example"), OutboundPolicy(allow_http=True))
    assert server.seen == []


@pytest.mark.integration
def test_loopback_is_reached_when_private_addresses_and_http_are_allowed(server: Server) -> None:
    server.routes["/orders/42"] = answer({"status": "shipped"})
    fetched = get(server.url("/orders/42", "localhost"), LOOPBACK, params={"lang": "th"})
    assert (fetched.status, fetched.json()) == (200, {"status": "shipped"})
    assert fetched.url == server.url("/orders/42?lang=th", "localhost") and fetched.elapsed_ms > 0
    assert [seen.path for seen in server.seen] == ["/orders/42?lang=th"]


@pytest.mark.integration
def test_an_allowed_private_host_is_reached_and_no_other(server: Server) -> None:
    server.routes["/ok"] = answer({"ok": True})
    policy = OutboundPolicy(allow_http=True, allowed_private_hosts=frozenset({server.host_port}))
    assert get(server.url("/ok"), policy).json() == {"ok": True}
    with pytest.raises(UnsafeUrlError):
        get(server.url("/ok", "localhost"), policy)  # the same server by another name is not listed
    with pytest.raises(UnsafeUrlError, match="only https"):
        get(server.url("/ok"), OutboundPolicy(allowed_private_hosts=frozenset({server.host_port})))
    assert len(server.seen) == 1


@pytest.mark.integration
@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "other"])
def test_a_redirect_to_a_private_target_is_refused_before_it_is_requested(server: Server, other: Server,
                                                                          target: str) -> None:
    location = other.url("/ok") if target == "other" else target
    server.routes["/go"] = redirect(location)
    other.routes["/ok"] = answer({"secret": "internal"})
    policy = OutboundPolicy(allow_http=True, allowed_private_hosts=frozenset({server.host_port}))
    with pytest.raises(UnsafeUrlError):
        get(server.url("/go"), policy)
    assert [seen.path for seen in server.seen] == ["/go"] and other.seen == []


@pytest.mark.integration
def test_a_redirect_to_another_origin_keeps_no_credentials_and_a_303_becomes_get(server: Server,
                                                                                 other: Server) -> None:
    server.routes["/create"] = redirect(other.url("/created"), status=303)
    other.routes["/created"] = answer({"id": 7})
    fetched = get(server.url("/create"), LOOPBACK, method="POST", json={"x": 1},
                  headers={"Authorization": "Bearer tool-secret", "X-Api-Key": "key-secret"})
    assert fetched.json() == {"id": 7} and fetched.url == other.url("/created")
    assert server.seen[0].headers["Authorization"] == "Bearer tool-secret"
    [followed] = other.seen
    assert followed.method == "GET"
    assert "Authorization" not in followed.headers and "X-Api-Key" not in followed.headers


@pytest.mark.integration
def test_redirects_are_followed_up_to_the_limit(server: Server) -> None:
    for hop in range(1, 4):
        server.routes[f"/hop{hop}"] = redirect(f"/hop{hop - 1}")
    server.routes["/hop0"] = answer({"arrived": True})
    assert get(server.url("/hop2"), LOOPBACK.model_copy(update={"max_redirects": 2})).json() == {"arrived": True}
    with pytest.raises(OutboundError, match="more than 2") as failed:
        get(server.url("/hop3"), OutboundPolicy(allow_private=True, allow_http=True, max_redirects=2))
    assert failed.value.code == "outbound_failed"


@pytest.mark.integration
def test_a_body_over_the_limit_is_cut(server: Server) -> None:
    def endless(handler: BaseHTTPRequestHandler) -> None:  # no Content-Length: the size shows only while reading
        handler.send_response(200)
        handler.end_headers()
        try:
            for _ in range(1000):
                handler.wfile.write(b"x" * 65536)
        except OSError:
            pass  # the client hung up, as it should

    server.routes["/endless"] = endless
    server.routes["/declared"] = answer(b"y" * 5000)
    policy = OutboundPolicy(allow_private=True, allow_http=True, max_bytes=100_000)
    for path in ("/endless", "/declared"):
        with pytest.raises(ResponseTooLargeError) as cut:
            get(server.url(path), policy if path == "/endless" else policy.model_copy(update={"max_bytes": 4000}))
        assert cut.value.code == "response_too_large"


@pytest.mark.integration
@pytest.mark.parametrize("path", ["/stall", "/trickle"])
def test_a_server_that_stalls_or_trickles_ends_in_a_timeout(server: Server, path: str) -> None:
    def stall(handler: BaseHTTPRequestHandler) -> None:
        server.release.wait(PATIENCE_S)

    def trickle(handler: BaseHTTPRequestHandler) -> None:  # every read succeeds; only the whole-call deadline ends it
        handler.send_response(200)
        handler.end_headers()
        try:
            while not server.release.wait(0.1):
                handler.wfile.write(b"x")
                handler.wfile.flush()
        except OSError:
            pass

    server.routes.update({"/stall": stall, "/trickle": trickle})
    started = time.monotonic()
    with pytest.raises(OutboundTimeoutError) as late:
        get(server.url(path), OutboundPolicy(allow_private=True, allow_http=True, timeout_s=1.0))
    assert late.value.code == "outbound_timeout"
    assert time.monotonic() - started < PATIENCE_S


@pytest.mark.integration
def test_a_refused_connection_is_an_outbound_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OutboundError) as failed:
        get(f"http://127.0.0.1:{port}/", LOOPBACK)
    assert failed.value.code == "outbound_failed"


@pytest.mark.integration
def test_no_log_line_holds_a_path_a_query_secret_or_a_header(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.routes["/orders/42"] = answer({"status": "shipped"})
    fetched = get(server.url("/orders/42?sig=url-secret"), LOOPBACK, params={"token": "param-secret"},
                  headers={"Authorization": "Bearer header-secret"})
    assert fetched.status == 200
    assert server.seen[0].path == "/orders/42?sig=url-secret&token=param-secret"  # all of it on the wire
    assert server.seen[0].headers["Authorization"] == "Bearer header-secret"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "outbound GET 127.0.0.1" in logged  # the host is said; the path may hold a customer's order number
    for secret in ("url-secret", "param-secret", "header-secret", "/orders/42"):
        assert secret not in logged


# ---- integration: TLS on loopback, a self-signed certificate for "localhost" -------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    crypto = pytest.importorskip("cryptography")
    assert crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[Server]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    yield from _serve(Server(), tls=context)


def tls_get(url: str, policy: OutboundPolicy, certificate: tuple[Path, Path]) -> Any:
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    with open_client(policy, ssl_context=trusted) as client:
        return fetch(client, "GET", url, policy=policy)


@pytest.mark.integration
def test_tls_checks_the_url_host_while_dialling_the_checked_address(tls_server: Server,
                                                                    certificate: tuple[Path, Path]) -> None:
    tls_server.routes["/ok"] = answer({"tls": True})
    policy = OutboundPolicy(allow_private=True)
    assert tls_get(tls_server.url("/ok", "localhost"), policy, certificate).json() == {"tls": True}
    with pytest.raises(OutboundError, match="CERTIFICATE_VERIFY_FAILED"):  # it names localhost, not 127.0.0.1
        tls_get(tls_server.url("/ok"), policy, certificate)


@pytest.mark.integration
def test_a_redirect_from_https_to_http_is_refused(tls_server: Server, other: Server,
                                                  certificate: tuple[Path, Path]) -> None:
    tls_server.routes["/go"] = redirect(other.url("/ok", "localhost"))
    other.routes["/ok"] = answer({"downgraded": True})
    with pytest.raises(UnsafeUrlError, match="https to http"):
        tls_get(tls_server.url("/go", "localhost"), LOOPBACK, certificate)
    assert [seen.path for seen in tls_server.seen] == ["/go"] and other.seen == []
