"""LINE Messaging API webhooks end to end: signed payloads in LINE's wire format, replies at a fake LINE."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import regex
from fastapi.testclient import TestClient

from api.channels.config import ChannelAccounts, LineAccount
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from polydesk.errors import ConfigError
from tests.api.channel_fakes import QUIET_S, FakePlatform, channel_app, serve_platform
from tests.conftest import RuntimeFactory

pytestmark = pytest.mark.integration

SECRET = "line-channel-secret-0123456789ab"
TOKEN = "line-access-token"
WEBHOOK = "/v1/channels/line/tidewell/webhook"
THAI = regex.compile(r"\p{Thai}")


@pytest.fixture(scope="module")
def platform() -> Iterator[FakePlatform]:
    yield from serve_platform()


@pytest.fixture(scope="module")
def client(demo: tuple[IngestReport, KnowledgeIndex], open_runtime: RuntimeFactory, platform: FakePlatform,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    channels = {"tidewell": {"line": {"channel_secret": SECRET, "access_token": TOKEN, "market": "TH",
                                      "api_base": platform.url}}}
    yield from channel_app(demo[1], open_runtime, tmp_path_factory.mktemp("line"), channels)


def sign(body: bytes, secret: str = SECRET) -> str:
    """As LINE signs: base64 of HMAC-SHA256 of the raw body, keyed with the channel secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def text_event(text: str, user: str, *, event_id: str | None = None, redelivery: bool = False) -> dict[str, Any]:
    """A text message event as LINE sends it (Messaging API reference, "Message event")."""
    return {
        "type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": event_id or f"01H{uuid.uuid4().hex[:23].upper()}",
        "deliveryContext": {"isRedelivery": redelivery},
        "replyToken": uuid.uuid4().hex,
        "message": {"id": str(uuid.uuid4().int)[:18], "type": "text", "quoteToken": "q-" + uuid.uuid4().hex,
                    "text": text},
    }


def post(client: TestClient, events: list[dict[str, Any]], *, secret: str = SECRET,
         tamper: bool = False, header: bool = True) -> Any:
    body = json.dumps({"destination": "U" + "0" * 32, "events": events}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if header:
        headers["X-Line-Signature"] = sign(body, secret)
    if tamper:
        body = body.replace("ส่ง".encode(), "ซื้อ".encode())
    return client.post(WEBHOOK, content=body, headers=headers)


def user() -> str:
    return "U" + uuid.uuid4().hex


def replies_to(platform: FakePlatform, user_id: str, tokens: set[str]) -> list[dict[str, Any]]:
    return [c.body for c in platform.delivered("/v2/bot/message/")
            if c.body.get("to") == user_id or c.body.get("replyToken") in tokens]


def test_a_signed_message_is_answered_once_in_thai_through_the_reply_api(client: TestClient,
                                                                          platform: FakePlatform) -> None:
    customer, event = user(), None
    event = text_event("ส่งฟรีเมื่อซื้อครบเท่าไหร่คะ", customer)
    response = post(client, [event])
    assert response.status_code == 200, response.text
    platform.wait_for(lambda: bool(replies_to(platform, customer, {event["replyToken"]})))
    platform.quiet_for(1.5)
    [reply] = replies_to(platform, customer, {event["replyToken"]})
    assert reply["replyToken"] == event["replyToken"]
    [call] = [c for c in platform.delivered("/reply") if c.body.get("replyToken") == event["replyToken"]]
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert all(m["type"] == "text" and 0 < len(m["text"]) <= 5000 for m in reply["messages"])
    assert THAI.search(reply["messages"][0]["text"])


def test_the_consoles_connection_check_gets_200(client: TestClient) -> None:
    response = post(client, [])
    assert response.status_code == 200
    assert response.json() == {"queued": 0, "duplicates": 0}


@pytest.mark.parametrize("fault", ["tampered", "wrong_secret", "missing_header"])
def test_a_bad_signature_is_refused_and_nothing_is_sent(client: TestClient, platform: FakePlatform,
                                                        fault: str) -> None:
    customer = user()
    event = text_event("ส่งฟรีไหม", customer)
    response = post(client, [event], tamper=fault == "tampered", header=fault != "missing_header",
                    secret="another-secret" if fault == "wrong_secret" else SECRET)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    platform.quiet_for(QUIET_S)  # longer than the debounce window: a queued message would be answered
    assert replies_to(platform, customer, {event["replyToken"]}) == []
    # The same event, correctly signed afterwards, is still new: nothing of the refused one was remembered.
    assert post(client, [event]).json() == {"queued": 1, "duplicates": 0}
    platform.wait_for(lambda: bool(replies_to(platform, customer, {event["replyToken"]})))


def test_unknown_tenant_or_channel_is_404_without_detail(client: TestClient) -> None:
    body = json.dumps({"destination": "x", "events": []}).encode()
    for path in ("/v1/channels/line/acme/webhook", "/v1/channels/whatsapp/tidewell/webhook"):
        response = client.post(path, content=body, headers={"X-Line-Signature": sign(body)})
        assert response.status_code == 404
        assert "acme" not in response.text and "whatsapp" not in response.text


def test_a_redelivered_event_is_answered_once(client: TestClient, platform: FakePlatform) -> None:
    customer = user()
    event = text_event("คืนสินค้าได้ภายในกี่วันคะ", customer)
    assert post(client, [event]).json() == {"queued": 1, "duplicates": 0}
    again = {**event, "deliveryContext": {"isRedelivery": True}}
    assert post(client, [again]).json() == {"queued": 0, "duplicates": 1}
    platform.wait_for(lambda: bool(replies_to(platform, customer, {event["replyToken"]})))
    platform.quiet_for(QUIET_S)
    assert len(replies_to(platform, customer, {event["replyToken"]})) == 1


def test_three_quick_messages_are_answered_as_one(client: TestClient, platform: FakePlatform) -> None:
    customer = user()
    events = [text_event(text, customer) for text in ("สวัสดีค่ะ", "อยากถามเรื่องการส่งสินค้า", "ส่งฟรีไหมคะ")]
    for event in events:
        assert post(client, [event]).status_code == 200
        time.sleep(0.3)  # longer than a worker's poll (0.2 s), well within the window (DEBOUNCE_S)
    tokens = {e["replyToken"] for e in events}
    platform.wait_for(lambda: bool(replies_to(platform, customer, tokens)))
    platform.quiet_for(QUIET_S)
    [reply] = replies_to(platform, customer, tokens)
    assert reply.get("replyToken") == events[-1]["replyToken"]  # the freshest token answers


def test_a_platform_down_then_up_gets_the_reply_exactly_once(client: TestClient, platform: FakePlatform) -> None:
    customer = user()
    platform.fail_next(3, status=503)
    event = text_event("ส่งฟรีเมื่อซื้อครบเท่าไหร่คะ", customer)
    assert post(client, [event]).status_code == 200
    platform.wait_for(lambda: bool(replies_to(platform, customer, {event["replyToken"]})))
    platform.quiet_for(QUIET_S)
    [reply] = replies_to(platform, customer, {event["replyToken"]})
    # The reply token was tried once; the retries went out as pushes with one retry key.
    assert reply["to"] == customer
    [push] = [c for c in platform.delivered("/push") if c.body.get("to") == customer]
    uuid.UUID(push.headers["x-line-retry-key"])
    attempts = [c for c in platform.calls if c.body.get("to") == customer
                or c.body.get("replyToken") == event["replyToken"]]
    assert [c.status for c in attempts] == [503, 503, 503, 200]


def test_a_channel_without_its_secret_stops_the_service(demo: tuple[IngestReport, KnowledgeIndex],
                                                        open_runtime: RuntimeFactory, tmp_path: Path) -> None:
    channels = {"tidewell": {"line": {"channel_secret": "  ", "access_token": TOKEN, "market": "TH",
                                      "api_base": "http://127.0.0.1:9"}}}
    app = channel_app(demo[1], open_runtime, tmp_path, channels)
    with pytest.raises(ConfigError, match="channel_secret"):
        next(app)


def test_a_webhook_keeps_the_unauthenticated_body_limit(client: TestClient) -> None:
    body = json.dumps({"destination": "x", "events": [], "pad": "ก" * 40_000}, ensure_ascii=False).encode()
    response = client.post(WEBHOOK, content=body, headers={"X-Line-Signature": sign(body)})
    assert response.status_code == 413


def test_secrets_can_come_from_the_environment_and_never_show() -> None:
    raw = {"tidewell": {"line": {"channel_secret_env": "TW_LINE_SECRET", "access_token_env": "TW_LINE_TOKEN",
                                 "market": "th"}}}
    accounts = ChannelAccounts.parse(raw, environ={"TW_LINE_SECRET": SECRET, "TW_LINE_TOKEN": TOKEN})
    account = accounts.find("line", "tidewell")
    assert isinstance(account, LineAccount) and account.market == "TH" and account.api_base == "https://api.line.me"
    assert account.channel_secret.get_secret_value() == SECRET and SECRET not in repr(account)
    assert accounts.find("telegram", "tidewell") is None and accounts.find("line", "acme") is None


@pytest.mark.parametrize(("line", "problem"), [
    ({"channel_secret_env": "UNSET_VARIABLE", "access_token": TOKEN, "market": "TH"}, "not set"),
    ({"channel_secret": "", "access_token": TOKEN, "market": "TH"}, "channel_secret"),
    ({"access_token": TOKEN, "market": "TH"}, "channel_secret"),
    ({"channel_secret": SECRET, "channel_secret_env": "X", "access_token": TOKEN, "market": "TH"}, "not both"),
    ({"channel_secret": SECRET, "access_token": TOKEN, "market": "TH", "verify": False}, "verify"),
])
def test_a_channel_that_cannot_be_verified_is_a_config_error(line: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        ChannelAccounts.parse({"tidewell": {"line": line}}, environ={"X": "x"})
    assert SECRET not in str(caught.value) and TOKEN not in str(caught.value)
