"""Telegram Bot API webhooks end to end: updates with the secret token, replies at a fake Bot API."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.channels.config import ChannelAccounts
from api.channels.transport import URL_SECRET, SecretInUrlTransport, secret_extension
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from polydesk.errors import ConfigError
from tests.api.channel_fakes import QUIET_S, FakePlatform, channel_app, serve_platform
from tests.conftest import RuntimeFactory

pytestmark = pytest.mark.integration

BOT_TOKEN = "123456789:AAFakeTokenForTests_abcdefghijklmno"
SECRET_TOKEN = "tidewell-telegram_secret-42"
WEBHOOK = "/v1/channels/telegram/tidewell/webhook"


@pytest.fixture(scope="module")
def platform() -> Iterator[FakePlatform]:
    yield from serve_platform()


@pytest.fixture(scope="module")
def client(demo: tuple[IngestReport, KnowledgeIndex], open_runtime: RuntimeFactory, platform: FakePlatform,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    channels = {"tidewell": {"telegram": {"bot_token": BOT_TOKEN, "secret_token": SECRET_TOKEN, "market": "ID",
                                          "api_base": platform.url}}}
    yield from channel_app(demo[1], open_runtime, tmp_path_factory.mktemp("telegram"), channels)


def update(text: str, chat_id: int, *, update_id: int | None = None) -> dict[str, Any]:
    """An Update with a private text message, as the Bot API sends it to a webhook."""
    return {
        "update_id": update_id if update_id is not None else random.randrange(10**8, 10**9),
        "message": {
            "message_id": random.randrange(1, 10**6), "date": int(time.time()), "text": text,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Sari", "language_code": "id"},
            "chat": {"id": chat_id, "first_name": "Sari", "type": "private"},
        },
    }


def post(client: TestClient, payload: dict[str, Any], *, secret: str | None = SECRET_TOKEN,
         tamper: bool = False) -> Any:
    body = json.dumps(payload, ensure_ascii=False).encode()
    if tamper:
        body = body.replace(b'"text": "', b'"text": "x')
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return client.post(WEBHOOK, content=body, headers=headers)


def chat() -> int:
    return random.randrange(10**8, 10**10)


def sent_to(platform: FakePlatform, chat_id: int) -> list[dict[str, Any]]:
    return [c.body for c in platform.delivered(f"/bot{BOT_TOKEN}/sendMessage") if c.body["chat_id"] == str(chat_id)]


def test_a_message_with_the_secret_token_is_answered_once(client: TestClient, platform: FakePlatform) -> None:
    chat_id = chat()
    assert post(client, update("Apakah ada gratis ongkir?", chat_id)).status_code == 200
    platform.wait_for(lambda: bool(sent_to(platform, chat_id)))
    platform.quiet_for(1.5)
    [message] = sent_to(platform, chat_id)
    assert 0 < len(message["text"]) <= 4096
    assert "parse_mode" not in message and "**" not in message["text"]


@pytest.mark.parametrize("fault", ["wrong_secret", "missing_header"])
def test_a_wrong_or_missing_secret_token_is_refused(client: TestClient, platform: FakePlatform, fault: str) -> None:
    chat_id = chat()
    payload = update("Apakah ada gratis ongkir?", chat_id)
    response = post(client, payload, secret="not-the-secret" if fault == "wrong_secret" else None)
    assert response.status_code == 401
    platform.quiet_for(QUIET_S)  # longer than the debounce window: a queued message would be answered
    assert sent_to(platform, chat_id) == []
    assert post(client, payload).json() == {"queued": 1, "duplicates": 0}  # nothing of the refused one was kept


def test_a_secret_token_does_not_vouch_for_a_payload_that_is_not_an_update(client: TestClient) -> None:
    response = client.post(WEBHOOK, content=b"not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET_TOKEN})
    assert response.status_code == 400


def test_a_redelivered_update_is_answered_once(client: TestClient, platform: FakePlatform) -> None:
    chat_id = chat()
    payload = update("Berapa lama pengiriman ke Jakarta?", chat_id)
    assert post(client, payload).json() == {"queued": 1, "duplicates": 0}
    assert post(client, payload).json() == {"queued": 0, "duplicates": 1}
    platform.wait_for(lambda: bool(sent_to(platform, chat_id)))
    platform.quiet_for(QUIET_S)
    assert len(sent_to(platform, chat_id)) == 1


def test_three_quick_messages_are_answered_as_one(client: TestClient, platform: FakePlatform) -> None:
    chat_id = chat()
    for text in ("Halo", "saya mau tanya soal pengiriman", "apakah ada gratis ongkir?"):
        assert post(client, update(text, chat_id)).status_code == 200
        time.sleep(0.3)  # longer than a worker's poll (0.2 s), well within the window (DEBOUNCE_S)
    platform.wait_for(lambda: bool(sent_to(platform, chat_id)))
    platform.quiet_for(QUIET_S)
    assert len(sent_to(platform, chat_id)) == 1


def test_a_platform_down_then_up_gets_the_reply_exactly_once(client: TestClient, platform: FakePlatform,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    chat_id = chat()
    platform.fail_next(2, status=503)
    assert post(client, update("Apakah ada gratis ongkir?", chat_id)).status_code == 200
    platform.wait_for(lambda: bool(sent_to(platform, chat_id)))
    platform.quiet_for(QUIET_S)
    attempts = [c.status for c in platform.calls if c.body.get("chat_id") == str(chat_id)]
    assert attempts == [503, 503, 200]
    assert len(sent_to(platform, chat_id)) == 1
    assert any("sendMessage" in record.getMessage() for record in caplog.records)
    assert not any(BOT_TOKEN in record.getMessage() for record in caplog.records)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_the_bot_token_reaches_the_platform_but_no_log_line(platform: FakePlatform) -> None:
    """httpx logs every request URL at INFO, and a Bot API URL holds the token: the transport puts it in only
    on the wire, so whatever the logging set-up, the logged URL has the placeholder."""
    records, http_log = _Records(), logging.getLogger("httpx")
    level = http_log.level
    http_log.addHandler(records)
    http_log.setLevel(logging.DEBUG)
    try:
        with httpx.Client(transport=SecretInUrlTransport(httpx.HTTPTransport())) as http:
            response = http.post(f"{platform.url}/bot{URL_SECRET}/sendMessage", json={"chat_id": "7", "text": "hi"},
                                 extensions=secret_extension(BOT_TOKEN))
    finally:
        http_log.removeHandler(records)
        http_log.setLevel(level)
    assert response.status_code == 200
    assert platform.calls[-1].path == f"/bot{BOT_TOKEN}/sendMessage"
    assert any(f"/bot{URL_SECRET}/sendMessage" in message for message in records.messages)
    assert not any(BOT_TOKEN in message for message in records.messages)


@pytest.mark.parametrize("token", ["not-a-token", "123456789:", "12345:short", "123456789:AAF token with spaces"])
def test_a_bot_token_not_in_botfathers_format_is_a_config_error(token: str) -> None:
    telegram = {"bot_token": token, "secret_token": SECRET_TOKEN, "market": "SG"}
    with pytest.raises(ConfigError, match="bot_token"):
        ChannelAccounts.parse({"tidewell": {"telegram": telegram}}, environ={})


@pytest.mark.parametrize("secret", ["with space", "ä-umlaut", "x" * 257, ""])
def test_a_secret_token_telegram_would_refuse_is_a_config_error(secret: str) -> None:
    telegram = {"bot_token": BOT_TOKEN, "secret_token": secret, "market": "SG"}
    with pytest.raises(ConfigError, match="secret_token"):
        ChannelAccounts.parse({"tidewell": {"telegram": telegram}}, environ={})


def test_a_photo_without_text_gets_a_request_for_words_in_the_customers_language(
        client: TestClient, platform: FakePlatform) -> None:
    from agent.phrases import say

    chat_id = chat()
    payload = update("", chat_id)
    del payload["message"]["text"]
    payload["message"]["photo"] = [{"file_id": "AgACAgIAAxkBAAIB", "file_unique_id": "AQAD", "width": 90,
                                    "height": 67, "file_size": 1203}]
    assert post(client, payload).json() == {"queued": 1, "duplicates": 0}
    platform.wait_for(lambda: bool(sent_to(platform, chat_id)))
    [message] = sent_to(platform, chat_id)
    assert message["text"] == say("attachment_unread", "id")
