"""WhatsApp Cloud API webhooks end to end: Meta's verification, signed payloads in the real wire format, replies
at a fake Graph API, and the 24-hour customer-service window."""

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

from api.channels.config import ChannelAccounts, WhatsAppAccount
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from polydesk.errors import ConfigError
from tests.api.channel_fakes import QUIET_S, FakePlatform, channel_app, serve_platform
from tests.api.conftest import raw_key
from tests.conftest import RuntimeFactory

pytestmark = pytest.mark.integration

APP_SECRET = "whatsapp-app-secret-0123456789abcdef"
VERIFY_TOKEN = "tidewell-verify-7f3a"
ACCESS_TOKEN = "EAAG-whatsapp-access-token"
PHONE_NUMBER_ID = "109876543210"
WEBHOOK = "/v1/channels/whatsapp/tidewell/webhook"


@pytest.fixture(scope="module")
def platform() -> Iterator[FakePlatform]:
    yield from serve_platform()


@pytest.fixture(scope="module")
def client(demo: tuple[IngestReport, KnowledgeIndex], open_runtime: RuntimeFactory, platform: FakePlatform,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    channels = {"tidewell": {"whatsapp": {"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN,
                                          "access_token": ACCESS_TOKEN, "phone_numbers": {PHONE_NUMBER_ID: "ID"},
                                          "api_base": platform.url}}}
    yield from channel_app(demo[1], open_runtime, tmp_path_factory.mktemp("whatsapp"), channels)


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """As Meta signs: ``sha256=`` and the hex HMAC-SHA256 of the raw body, keyed with the app secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def wa_id() -> str:
    return "628" + str(random.randrange(10**9, 10**10))


def notification(value: dict[str, Any]) -> dict[str, Any]:
    """A webhook notification of the ``messages`` field (Cloud API reference, "Webhooks components")."""
    metadata = {"display_phone_number": "6281100000000", "phone_number_id": PHONE_NUMBER_ID}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398",
                       "changes": [{"field": "messages",
                                    "value": {"messaging_product": "whatsapp", "metadata": metadata, **value}}]}]}


def text_message(text: str, sender: str, *, age_s: float = 0.0) -> dict[str, Any]:
    return notification({
        "contacts": [{"profile": {"name": "Sari"}, "wa_id": sender}],
        "messages": [{"from": sender, "id": f"wamid.{uuid.uuid4().hex}", "timestamp": str(int(time.time() - age_s)),
                      "type": "text", "text": {"body": text}}],
    })


def post(client: TestClient, payload: dict[str, Any], *, secret: str = APP_SECRET, tamper: bool = False,
         header: bool = True) -> Any:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if header:
        headers["X-Hub-Signature-256"] = sign(body, secret)
    if tamper:
        body = body.replace(b'"body": "', b'"body": "x')
    return client.post(WEBHOOK, content=body, headers=headers)


def sent_to(platform: FakePlatform, sender: str) -> list[dict[str, Any]]:
    return [c.body for c in platform.delivered(f"/{PHONE_NUMBER_ID}/messages") if c.body.get("to") == sender]


def verification(client: TestClient, token: str, mode: str = "subscribe") -> Any:
    return client.get(WEBHOOK, params={"hub.mode": mode, "hub.verify_token": token, "hub.challenge": "1158201444"})


def test_the_webhook_verification_echoes_the_challenge_for_the_verify_token(client: TestClient) -> None:
    response = verification(client, VERIFY_TOKEN)
    assert response.status_code == 200
    assert response.text == "1158201444" and response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(("token", "mode"), [("wrong-token", "subscribe"), ("", "subscribe"),
                                             (VERIFY_TOKEN, "unsubscribe")])
def test_a_verification_with_a_wrong_token_or_mode_is_403(client: TestClient, token: str, mode: str) -> None:
    response = verification(client, token, mode)
    assert response.status_code == 403
    assert "1158201444" not in response.text


def test_verification_of_an_unknown_tenant_is_404(client: TestClient) -> None:
    response = client.get("/v1/channels/whatsapp/acme/webhook",
                          params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"})
    assert response.status_code == 404


def test_a_signed_message_is_answered_once_in_indonesian(client: TestClient, platform: FakePlatform) -> None:
    sender = wa_id()
    assert post(client, text_message("Apakah ada gratis ongkir untuk pengiriman ke Jakarta?", sender)).json() \
        == {"queued": 1, "duplicates": 0}
    platform.wait_for(lambda: bool(sent_to(platform, sender)))
    platform.quiet_for(1.5)
    [message] = sent_to(platform, sender)
    assert message["messaging_product"] == "whatsapp" and message["recipient_type"] == "individual"
    assert message["type"] == "text" and message["text"]["preview_url"] is False
    assert 0 < len(message["text"]["body"]) <= 4096 and "**" not in message["text"]["body"]
    [call] = [c for c in platform.delivered("/messages") if c.body.get("to") == sender]
    assert call.path == f"/{PHONE_NUMBER_ID}/messages"
    assert call.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


@pytest.mark.parametrize("fault", ["tampered", "wrong_secret", "missing_header"])
def test_a_bad_signature_is_refused_and_nothing_is_sent(client: TestClient, platform: FakePlatform,
                                                        fault: str) -> None:
    sender = wa_id()
    payload = text_message("Berapa lama pengiriman?", sender)
    response = post(client, payload, tamper=fault == "tampered", header=fault != "missing_header",
                    secret="another-secret" if fault == "wrong_secret" else APP_SECRET)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    platform.quiet_for(QUIET_S)  # longer than the debounce window: a queued message would be answered
    assert sent_to(platform, sender) == []
    assert post(client, payload).json() == {"queued": 1, "duplicates": 0}  # nothing of the refused one was kept


def test_a_redelivered_notification_is_answered_once(client: TestClient, platform: FakePlatform) -> None:
    sender = wa_id()
    payload = text_message("Bagaimana cara mengembalikan barang?", sender)
    assert post(client, payload).json() == {"queued": 1, "duplicates": 0}
    assert post(client, payload).json() == {"queued": 0, "duplicates": 1}
    platform.wait_for(lambda: bool(sent_to(platform, sender)))
    platform.quiet_for(QUIET_S)
    assert len(sent_to(platform, sender)) == 1


def test_status_updates_are_ignored(client: TestClient) -> None:
    status = {"id": f"wamid.{uuid.uuid4().hex}", "status": "delivered", "timestamp": str(int(time.time())),
              "recipient_id": wa_id()}
    assert post(client, notification({"statuses": [status]})).json() == {"queued": 0, "duplicates": 0}


def test_a_reply_after_24_hours_is_refused_and_dead_lettered(client: TestClient, platform: FakePlatform) -> None:
    sender = wa_id()
    assert post(client, text_message("Halo, pesanan saya belum sampai", sender, age_s=25 * 3600)).json() \
        == {"queued": 1, "duplicates": 0}
    outbox = client.app.state.services.channels.outbox  # type: ignore[attr-defined]

    def dead() -> list[dict[str, str]]:
        return [d for d in outbox.dead_letters(1000) if json.loads(d["item"])["context"]["to"] == sender]

    platform.wait_for(lambda: bool(dead()))
    platform.quiet_for(1.0)
    [letter] = dead()
    assert letter["last_error"].startswith("outside_24h_window: ") and "24 h" in letter["last_error"]
    assert letter["attempts"] == "0" and json.loads(letter["item"])["batches"]
    assert sent_to(platform, sender) == []
    # ... and a person has it: the conversation is handed over with the reason and the reply that was not sent
    services = client.app.state.services  # type: ignore[attr-defined]
    [handoff] = [e for _, e in services.events.read(tenant="tidewell", count=10_000)
                 if e.customer_id == sender and e.type == "handoff"]
    assert handoff.reason == "policy" and handoff.summary and "outside_24h_window" in handoff.summary
    conversation = services.conversations.get("tidewell", handoff.conversation_id)
    assert conversation is not None and conversation.owner == "human"


def test_a_refused_reply_is_a_dead_letter_of_its_tenant_that_is_not_requeued(client: TestClient,
                                                                            platform: FakePlatform) -> None:
    sender = wa_id()
    assert post(client, text_message("Olá, meu pedido não chegou", sender, age_s=30 * 3600)).status_code == 200
    admin = {"Authorization": f"Bearer {raw_key('tidewell', 'admin')}"}

    def mine() -> list[dict[str, Any]]:
        letters = client.get("/v1/channels/dead-letters", headers=admin).json()
        assert isinstance(letters, list), letters
        return [letter for letter in letters if letter["conversation_id"].endswith(f"-{sender}")]

    dead_letters = client.app.state.services.channels.dead_letters  # type: ignore[attr-defined]
    platform.wait_for(lambda: any(str(d.conversation_id).endswith(f"-{sender}") for d in dead_letters.list("tidewell")))
    [letter] = mine()
    assert letter["kind"] == "reply" and letter["refused"] and letter["texts"]
    other = {"Authorization": f"Bearer {raw_key('acme', 'admin')}"}
    assert all(other_letter["id"] != letter["id"]
               for other_letter in client.get("/v1/channels/dead-letters", headers=other).json())
    for method, path in [("post", f"/v1/channels/dead-letters/{letter['id']}/requeue"),
                         ("delete", f"/v1/channels/dead-letters/{letter['id']}")]:
        assert client.request(method.upper(), path, headers=other).json()["code"] == "not_found"
    requeued = client.post(f"/v1/channels/dead-letters/{letter['id']}/requeue", headers=admin)
    assert requeued.status_code == 409 and requeued.json()["code"] == "conflict"
    connector = {"Authorization": f"Bearer {raw_key('tidewell', 'connector')}"}
    assert client.get("/v1/channels/dead-letters", headers=connector).status_code == 403
    assert client.delete(f"/v1/channels/dead-letters/{letter['id']}", headers=admin).status_code == 200
    assert mine() == []
    platform.quiet_for(1.0)
    assert sent_to(platform, sender) == []


def test_a_whatsapp_account_needs_its_secrets_and_a_market() -> None:
    base = {"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, "access_token": ACCESS_TOKEN}
    account = ChannelAccounts.parse({"t": {"whatsapp": {**base, "phone_numbers": {PHONE_NUMBER_ID: "id"}}}},
                                    environ={}).find("whatsapp", "t")
    assert isinstance(account, WhatsAppAccount) and account.market_for(PHONE_NUMBER_ID) == "ID"
    assert account.market_for("1") is None and account.api_base.startswith("https://graph.facebook.com/")
    assert APP_SECRET not in repr(account)
    for broken, problem in [({**base, "app_secret": " ", "market": "ID"}, "app_secret"),
                            ({k: v for k, v in base.items() if k != "verify_token"} | {"market": "ID"},
                             "verify_token"),
                            (base, "phone_numbers"),
                            ({**base, "phone_numbers": {"+62 811": "ID"}}, "phone_number_id")]:
        with pytest.raises(ConfigError, match=problem):
            ChannelAccounts.parse({"t": {"whatsapp": broken}}, environ={})
