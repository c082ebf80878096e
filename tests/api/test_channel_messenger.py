"""Messenger and Instagram messaging webhooks end to end: Meta's verification, signed payloads in the real wire
format, replies at a fake Send API."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.channels.config import ChannelAccounts
from api.channels.messenger import MessengerAdapter
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from tests.api.channel_fakes import QUIET_S, FakePlatform, channel_app, serve_platform
from tests.conftest import RuntimeFactory

pytestmark = pytest.mark.integration

APP_SECRET = "meta-app-secret-fedcba9876543210"
VERIFY_TOKEN = "tidewell-messenger-verify"
PAGE_TOKEN = "EAAG-page-access-token"
PAGE_ID = "1234567890123456"


@pytest.fixture(scope="module")
def platform() -> Iterator[FakePlatform]:
    yield from serve_platform()


@pytest.fixture(scope="module")
def client(demo: tuple[IngestReport, KnowledgeIndex], open_runtime: RuntimeFactory, platform: FakePlatform,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    account = {"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, "access_token": PAGE_TOKEN,
               "api_base": platform.url}
    channels = {"tidewell": {"messenger": {**account, "market": "MX"}, "instagram": {**account, "market": "BR"}}}
    yield from channel_app(demo[1], open_runtime, tmp_path_factory.mktemp("messenger"), channels)


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def psid() -> str:
    return str(random.randrange(10**15, 10**16))


def messaging(text: str, sender: str, *, product: str = "page", echo: bool = False) -> dict[str, Any]:
    """A ``messages`` webhook event as the Messenger Platform sends it (``object`` ``instagram`` for Instagram)."""
    now_ms = int(time.time() * 1000)
    message: dict[str, Any] = {"mid": f"m_{uuid.uuid4().hex}", "text": text}
    if echo:
        message["is_echo"] = True
    sender_id, recipient_id = (PAGE_ID, sender) if echo else (sender, PAGE_ID)
    return {"object": product,
            "entry": [{"id": PAGE_ID, "time": now_ms,
                       "messaging": [{"sender": {"id": sender_id}, "recipient": {"id": recipient_id},
                                      "timestamp": now_ms, "message": message}]}]}


def post(client: TestClient, payload: dict[str, Any], *, channel: str = "messenger", secret: str = APP_SECRET,
         tamper: bool = False, header: bool = True) -> Any:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if header:
        headers["X-Hub-Signature-256"] = sign(body, secret)
    if tamper:
        body = body.replace(b'"text": "', b'"text": "x')
    return client.post(f"/v1/channels/{channel}/tidewell/webhook", content=body, headers=headers)


def sent_to(platform: FakePlatform, sender: str) -> list[dict[str, Any]]:
    return [c.body for c in platform.delivered("/me/messages") if c.body["recipient"]["id"] == sender]


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
def test_the_webhook_verification_echoes_the_challenge(client: TestClient, channel: str) -> None:
    url = f"/v1/channels/{channel}/tidewell/webhook"
    good = client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"})
    assert good.status_code == 200 and good.text == "42"
    bad = client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "42"})
    assert bad.status_code == 403


@pytest.mark.parametrize(("channel", "product", "text"), [
    ("messenger", "page", "Hola, ¿el envío es gratis a Monterrey?"),
    ("instagram", "instagram", "Oi, o frete é grátis para São Paulo?"),
])
def test_a_signed_message_is_answered_once(client: TestClient, platform: FakePlatform, channel: str, product: str,
                                           text: str) -> None:
    sender = psid()
    assert post(client, messaging(text, sender, product=product), channel=channel).json() \
        == {"queued": 1, "duplicates": 0}
    platform.wait_for(lambda: bool(sent_to(platform, sender)))
    platform.quiet_for(1.5)
    [message] = sent_to(platform, sender)
    assert message["messaging_type"] == "RESPONSE" and set(message) == {"recipient", "messaging_type", "message"}
    assert 0 < len(message["message"]["text"]) <= 2000 and "**" not in message["message"]["text"]
    [call] = [c for c in platform.delivered("/me/messages") if c.body["recipient"]["id"] == sender]
    assert call.headers["authorization"] == f"Bearer {PAGE_TOKEN}"


@pytest.mark.parametrize("fault", ["tampered", "wrong_secret", "missing_header"])
def test_a_bad_signature_is_refused_and_nothing_is_sent(client: TestClient, platform: FakePlatform,
                                                        fault: str) -> None:
    sender = psid()
    payload = messaging("¿Cuánto tarda el envío?", sender)
    response = post(client, payload, tamper=fault == "tampered", header=fault != "missing_header",
                    secret="another-secret" if fault == "wrong_secret" else APP_SECRET)
    assert response.status_code == 401
    platform.quiet_for(QUIET_S)  # longer than the debounce window: a queued message would be answered
    assert sent_to(platform, sender) == []
    assert post(client, payload).json() == {"queued": 1, "duplicates": 0}


def test_a_redelivered_event_is_answered_once_and_echoes_never(client: TestClient, platform: FakePlatform) -> None:
    sender = psid()
    payload = messaging("¿Puedo devolver un producto?", sender)
    assert post(client, payload).json() == {"queued": 1, "duplicates": 0}
    assert post(client, payload).json() == {"queued": 0, "duplicates": 1}
    assert post(client, messaging("Claro, tienes 30 días.", sender, echo=True)).json() \
        == {"queued": 0, "duplicates": 0}
    platform.wait_for(lambda: bool(sent_to(platform, sender)))
    platform.quiet_for(QUIET_S)
    assert len(sent_to(platform, sender)) == 1


def test_messenger_keeps_the_24_hour_window_too() -> None:
    raw = {"t": {"messenger": {"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, "access_token": PAGE_TOKEN,
                               "market": "MX"}}}
    account = ChannelAccounts.parse(raw, environ={}).find("messenger", "t")
    assert account is not None
    adapter = MessengerAdapter(account)  # type: ignore[arg-type]
    now = time.time()
    payload = messaging("Hola", psid())
    payload["entry"][0]["messaging"][0]["timestamp"] = int((now - 25 * 3600) * 1000)
    [inbound] = adapter.parse(json.dumps(payload).encode(), received_at=now)
    assert (adapter.refusal(inbound.context, now=now) or "").startswith("outside_24h_window")
    assert adapter.refusal(inbound.context, now=now - 2 * 3600) is None
