"""The edges of authentication and of what a request may send.

Failed authentication is throttled (429 + Retry-After) per client address and per key prefix, while
a valid key always gets in; failures are logged without key material; the key is checked before any
body is read; JSON bodies are UTF-8; a trailing slash is served, never redirected through the Host
header; a role error reads well.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import Runtime
from polydesk.settings import Settings
from tests.api.conftest import KEYS, ApiHarness, LiveServer

pytestmark = [pytest.mark.integration]

AppOn = Callable[..., TestClient]
QUESTION = {"message": "Ab wann ist der Versand kostenlos?", "market": "DE", "channel": "web"}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_failed_authentication_is_throttled_but_a_valid_key_gets_in(
        api: ApiHarness, app_on: AppOn, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "pd_live_Zq8rT5vW2xY7uK3mN9pA"
    caplog.set_level(logging.INFO, logger="polydesk.security")
    with app_on(api.services.redis, tmp_path, auth_failure_burst=3, auth_failures_per_minute=6) as client:
        codes = [client.post("/v1/answer", headers=_bearer(f"{secret}{i}"), json=QUESTION) for i in range(5)]
        assert [c.status_code for c in codes] == [401, 401, 401, 429, 429]
        assert codes[0].json()["code"] == "unauthenticated" and codes[0].headers["WWW-Authenticate"] == "Bearer"
        throttled = codes[3]
        assert throttled.json()["code"] == "auth_throttled" and 1 <= int(throttled.headers["Retry-After"]) <= 10
        # A request without a key guesses nothing: always 401, never counted.
        assert client.post("/v1/answer", json=QUESTION).status_code == 401
        # Only failures are throttled: a valid key from the same address is answered as ever.
        valid = client.post("/v1/answer", headers=api.headers("connector"), json=QUESTION)
        assert valid.status_code == 200, valid.text
    events = [r for r in caplog.records if r.name == "polydesk.security"]
    assert any(r.levelno == logging.WARNING and "throttled" in r.getMessage() for r in events)
    assert sum("authentication failed" in r.getMessage() for r in events) == 3
    logged = caplog.text
    for start in range(len(secret) - 5):  # not the key, nor any 6 characters of it
        assert secret[start:start + 6] not in logged


def test_an_attacker_changing_address_is_throttled_by_the_key_prefix(api: ApiHarness, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth_failure_burst=2, auth_failures_per_minute=6,  # type: ignore[call-arg]
                        _env_file=None)
    runtime = Runtime.open(settings, index=api.services.index, redis_client=api.services.redis,
                           escalation=api.services.agent.escalation_policy)
    app = create_app(settings, runtime=runtime, keys=KEYS, background=False)
    with TestClient(app, client=("198.51.100.1", 40000)) as first:
        statuses = [first.get("/v1/personas", headers=_bearer(f"pd_guess_{i:020d}")).status_code for i in range(2)]
        assert statuses == [401, 401]
        second = TestClient(app, client=("198.51.100.2", 40000))  # the same app, from another address
        assert second.get("/v1/personas", headers=_bearer("pd_guess_99999999999999999999")).status_code == 429
        assert second.get("/v1/personas", headers=_bearer("another-prefix-0000000000")).status_code == 401
        assert second.get("/v1/personas", headers=api.headers("content")).status_code == 200


class _Body:
    """A streamed request body that records whether anyone read it."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.consumed = False

    def __iter__(self) -> Iterator[bytes]:
        self.consumed = True
        yield self.payload


def test_the_key_is_checked_before_the_body_is_read(api: ApiHarness) -> None:
    for headers in ({}, _bearer("pd_unknown_key_00000000000")):
        body = _Body(json.dumps(QUESTION).encode())
        response = api.client.post("/v1/answer", headers={**headers, "Content-Type": "application/json"},
                                   content=body)
        assert response.status_code == 401 and not body.consumed
        assert response.headers["Connection"] == "close"
    body = _Body(json.dumps(QUESTION).encode())
    response = api.client.post("/v1/answer", headers={**api.headers("connector"), "Content-Type": "application/json"},
                               content=body)
    assert response.status_code == 200 and body.consumed


def test_a_malformed_body_without_a_key_is_401_not_422(api: ApiHarness, app_on: AppOn, tmp_path: Path) -> None:
    with app_on(api.services.redis, tmp_path) as client:  # its own throttle: earlier tests' failures do not count
        response = client.post("/v1/answer", content=b'{"message": ', headers={"Content-Type": "application/json"})
        assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
        with_key = client.post("/v1/answer", content=b'{"message": ', headers={
            **api.headers("connector"), "Content-Type": "application/json"})
        assert with_key.status_code == 422


def test_a_huge_body_without_a_key_is_answered_from_the_headers(
        api: ApiHarness, tmp_path: Path, live_server: Callable[[Any], LiveServer]) -> None:
    """On a real server: 200 MB announced, none sent; the 401 comes at once and the connection is closed."""
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    runtime = Runtime.open(settings, index=api.services.index, redis_client=api.services.redis,
                           escalation=api.services.agent.escalation_policy)
    server = live_server(create_app(settings, runtime=runtime, keys=KEYS, background=False))
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/knowledge HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 209715200\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):  # until the server closes the connection, not waiting for any body
            received += chunk
    head = received.split(b"\r\n\r\n", 1)[0].lower()
    # The server closed the connection without waiting for the body (the socket's 5 s timeout would raise).
    assert head.startswith(b"http/1.1 401") and b"connection: close" in head
    # Without a key elsewhere, a large body is refused by its length alone.
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 209715200\r\n\r\n")
        assert sock.recv(65536).lower().startswith(b"http/1.1 413")


def test_json_bodies_must_be_utf8(api: ApiHarness) -> None:
    headers = {**api.headers("connector"), "Content-Type": "application/json"}
    text = json.dumps({**QUESTION, "message": "Wie lange dauert der Versand?"})
    for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        response = api.client.post("/v1/answer", headers=headers, content=text.encode(encoding))
        assert response.status_code == 415, (encoding, response.text)
        assert response.json()["code"] == "unsupported_media_type"
    latin1 = json.dumps({**QUESTION, "message": "Größe?"}, ensure_ascii=False).encode("latin-1")
    assert api.client.post("/v1/answer", headers=headers, content=latin1).status_code == 415
    charset = api.client.post("/v1/answer", headers={**headers, "Content-Type": "application/json; charset=utf-16"},
                              content=text.encode("utf-8"))
    assert charset.status_code == 415 and "charset" in charset.json()["message"]
    declared = api.client.post("/v1/answer", headers={**headers, "Content-Type": "application/json; charset=UTF-8"},
                               content=text.encode("utf-8"))
    assert declared.status_code == 200, declared.text
    unlabelled = api.client.post("/v1/answer", headers=api.headers("connector"), content=text.encode("utf-16"))
    assert unlabelled.status_code == 415  # no content type is read as JSON, so it is checked as JSON


def test_a_utf16_knowledge_batch_is_refused(fresh_api: ApiHarness) -> None:
    batch = {"market": "DE", "faq": [{"question": "Wie lange dauert der Versand?", "answer": "Zwei Tage."}]}
    response = fresh_api.client.post("/v1/knowledge", content=json.dumps(batch).encode("utf-16"),
                                     headers={**fresh_api.headers("content"), "Content-Type": "application/json"})
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type", response.text


def test_a_trailing_slash_is_served_not_redirected(api: ApiHarness) -> None:
    response = api.client.post("/v1/answer/", headers={**api.headers("connector"), "Host": "attacker.example"},
                               json=QUESTION, follow_redirects=False)
    assert response.status_code == 200 and "location" not in response.headers
    personas = api.client.get("/v1/personas/", headers={**api.headers("content"), "Host": "attacker.example"},
                              follow_redirects=False)
    assert personas.status_code == 200 and "location" not in personas.headers
    health = api.client.get("/healthz/", headers={"Host": "attacker.example"}, follow_redirects=False)
    assert health.status_code == 200 and "location" not in health.headers
    nothing = api.client.get("//attacker.example/", follow_redirects=False)
    assert nothing.status_code == 404 and "location" not in nothing.headers


def test_a_role_error_names_the_role_it_needs(api: ApiHarness) -> None:
    admin_only = api.client.get("/v1/conversations/c-1", headers=api.headers("content"))
    assert admin_only.status_code == 403
    assert admin_only.json()["message"] == "a content key may not do this; it needs an admin key"
    content_only = api.client.get("/v1/personas", headers=api.headers("connector"))
    assert content_only.json()["message"] == "a connector key may not do this; it needs a content or admin key"
