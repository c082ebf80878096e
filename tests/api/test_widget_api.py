"""The web chat widget's routes, as the widget script calls them (no browser: tests/browser/ drives one).

A widget key is public: it opens and continues only its own conversations, only from the origins it lists, and
does nothing else; the preflight and the script need no key; the reply is the stream of /v1/answer/stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from api.app import create_app
from api.auth import ApiKey, parse_keys
from api.runtime import Runtime
from polydesk.errors import ConfigError
from polydesk.settings import Settings
from tests.api.conftest import KEYS, ApiHarness

pytestmark = [pytest.mark.integration]

SHOP = "https://shop.example"
WIDGET = "pd_widget_tidewell_shop_key"
SECOND = "pd_widget_tidewell_other_key"
ACME = "pd_widget_acme_shop_key"
WIDGET_KEYS = [
    ApiKey(key=SecretStr(WIDGET), tenant="tidewell", role="widget", allowed_origins=[SHOP, "http://localhost:8080"]),
    ApiKey(key=SecretStr(SECOND), tenant="tidewell", role="widget", allowed_origins=[SHOP]),
    ApiKey(key=SecretStr(ACME), tenant="acme", role="widget", allowed_origins=[SHOP]),
]


def _widget(key: str = WIDGET, origin: str | None = SHOP) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **({"Origin": origin} if origin else {})}


@pytest.fixture(scope="module")
def client(api: ApiHarness, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app on the demo brand's index with the harness's keys and three widget keys."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("widget-api"), rate_limit_per_minute=100_000,  # type: ignore[call-arg]
                        rate_limit_burst=10_000, auth_failure_burst=10_000, _env_file=None)
    runtime = Runtime.open(settings, index=api.services.index, redis_client=api.services.redis,
                           escalation=api.services.agent.escalation_policy)
    app = create_app(settings, runtime=runtime, keys=[*KEYS, *WIDGET_KEYS], background=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    runtime.close()


def _open(client: TestClient, market: str, key: str = WIDGET, **fields: str) -> dict[str, Any]:
    response = client.post("/v1/widget/conversations", headers=_widget(key), json={"market": market, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def _say(client: TestClient, conversation_id: str, message: str, key: str = WIDGET) -> Any:
    return client.post(f"/v1/widget/conversations/{conversation_id}/messages", headers=_widget(key),
                       json={"message": message})


@pytest.mark.unit
def test_a_widget_key_needs_its_origins_and_only_a_widget_key_has_them() -> None:
    key = ApiKey(key=SecretStr(WIDGET), tenant="tidewell", role="widget",
                 allowed_origins=["HTTPS://Shop.Example:443", "http://127.0.0.1:8080/", "https://shop.example"])
    assert key.allowed_origins == ["https://shop.example", "http://127.0.0.1:8080"]
    for origins in (None, [], ["https://*.example"], ["https://shop.example/help"], ["shop.example"],
                    ["ftp://shop.example"]):
        with pytest.raises(ValidationError):
            ApiKey(key=SecretStr(WIDGET), tenant="tidewell", role="widget", allowed_origins=origins)
    with pytest.raises(ValidationError, match="only for widget keys"):
        ApiKey(key=SecretStr(WIDGET), tenant="tidewell", role="connector", allowed_origins=[SHOP])
    with pytest.raises(ConfigError, match="allowed_origins"):
        parse_keys(json.dumps([{"key": WIDGET, "tenant": "tidewell", "role": "widget"}]), origin="POLYDESK_API_KEYS")


def test_the_script_is_served_cacheable_without_a_key(client: TestClient) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "max-age" in response.headers["cache-control"] and response.headers["etag"]
    assert "attachShadow" in response.text and "innerHTML" not in response.text
    again = client.get("/widget.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and not again.content


def test_a_japanese_conversation_is_greeted_and_answered_as_a_stream(client: TestClient) -> None:
    opened = _open(client, "JP")
    assert opened["conversation_id"].startswith("w-") and len(opened["conversation_id"]) > 30
    assert (opened["language"], opened["dir"], opened["persona_id"]) == ("ja", "ltr", "jp-keigo")
    assert opened["greeting"] == "お問い合わせいただき、誠にありがとうございます。"
    assert opened["labels"]["handoff"] and not opened["handed_off"] and opened["turns"] == []
    response = _say(client, opened["conversation_id"], "送料はいくらですか？")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["access-control-allow-origin"] == SHOP and "Origin" in response.headers["vary"]
    assert "access-control-allow-credentials" not in response.headers
    events = _events(response.text)
    deltas = [data["text"] for name, data in events if name == "delta"]
    name, reply = events[-1]
    assert name == "reply" and reply["language"] == "ja" and reply["status"] == "answered"
    assert "".join(deltas) == reply["text"] and "円" in reply["text"]
    assert opened["greeting"] not in reply["text"]  # the widget showed it when it opened: said once
    assert reply["citations"] and reply["conversation_id"] == opened["conversation_id"]
    after = client.get(f"/v1/widget/conversations/{opened['conversation_id']}", headers=_widget())
    assert after.status_code == 200
    assert [turn["role"] for turn in after.json()["turns"]] == ["customer", "bot"]


def test_an_arabic_conversation_runs_right_to_left(client: TestClient) -> None:
    opened = _open(client, "AE")
    assert (opened["language"], opened["dir"], opened["persona_id"]) == ("ar", "rtl", "gulf-respectful")
    assert opened["greeting"] == "مرحباً بك، وشكراً لتواصلك معنا."
    english = _open(client, "AE", locale="en-AE")
    assert (english["dir"], english["greeting"]) == ("ltr", "Welcome, and thank you for contacting us.")


def test_a_request_for_a_person_hands_the_conversation_off(client: TestClient) -> None:
    opened = _open(client, "JP")
    _, reply = _events(_say(client, opened["conversation_id"], "担当者と話したいです。").text)[-1]
    assert reply["escalation"]["escalate"] and reply["escalation"]["reason"] == "customer_request"
    after = client.get(f"/v1/widget/conversations/{opened['conversation_id']}", headers=_widget()).json()
    assert after["handed_off"] is True
    _, later = _events(_say(client, opened["conversation_id"], "まだですか？").text)[-1]
    assert later["status"] == "handed_off" and later["text"] == ""


def test_a_page_of_another_origin_is_refused(client: TestClient) -> None:
    for headers in (_widget(origin="https://evil.example"), _widget(origin=None), _widget(origin="null"),
                    _widget(key=SECOND, origin="http://localhost:8080")):
        response = client.post("/v1/widget/conversations", headers=headers, json={"market": "JP"})
        assert response.status_code == 403, headers
        assert response.json()["code"] == "origin_not_allowed"
    refused = client.post("/v1/widget/conversations", headers=_widget(origin="https://evil.example"),
                          json={"market": "JP"})
    assert "access-control-allow-origin" not in refused.headers


def test_the_preflight_allows_listed_origins_only(client: TestClient) -> None:
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    response = client.options("/v1/widget/conversations", headers={"Origin": SHOP, **asked})
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == SHOP
    assert {"Authorization", "Content-Type"} <= {h.strip() for h in
                                                 response.headers["access-control-allow-headers"].split(",")}
    assert "POST" in response.headers["access-control-allow-methods"] and "Origin" in response.headers["vary"]
    assert "access-control-allow-credentials" not in response.headers
    other = client.options("/v1/widget/conversations/w-1/messages", headers={"Origin": "https://evil.example", **asked})
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
    assert other.json()["code"] == "origin_not_allowed"


def test_a_widget_key_does_nothing_else_and_no_other_key_does_its_work(client: TestClient,
                                                                      api: ApiHarness) -> None:
    question = {"message": "送料はいくらですか？", "market": "JP", "channel": "web"}
    for method, path, body in (("POST", "/v1/answer", question), ("POST", "/v1/answer/stream", question),
                               ("GET", "/v1/knowledge", None), ("POST", "/v1/chat/completions",
                                                                {"messages": [{"role": "user", "content": "hi"}]})):
        response = client.request(method, path, headers=_widget(), json=body)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["code"] == "forbidden"
    for role in ("admin", "connector"):
        response = client.post("/v1/widget/conversations", headers={**api.headers(role), "Origin": SHOP},
                               json={"market": "JP"})
        assert response.status_code == 403, role
    assert client.post("/v1/widget/conversations", headers={"Origin": SHOP}, json={"market": "JP"}).status_code == 401


def test_a_widget_key_continues_only_the_conversations_it_opened(client: TestClient, api: ApiHarness) -> None:
    connectors = client.post("/v1/answer", headers=api.headers("connector"),
                             json={"message": "送料はいくらですか？", "market": "JP", "channel": "web"}).json()
    mine = _open(client, "JP")["conversation_id"]
    for key, conversation_id in ((WIDGET, connectors["conversation_id"]), (SECOND, mine), (ACME, mine),
                                 (WIDGET, "w-00000000000000000000000000000000")):
        assert _say(client, conversation_id, "こんにちは", key=key).status_code == 404, (key, conversation_id)
        read = client.get(f"/v1/widget/conversations/{conversation_id}", headers=_widget(key))
        assert read.status_code == 404 and read.json()["code"] == "not_found"
    assert _say(client, mine, "送料はいくらですか？").status_code == 200
    stored = api.services.conversations.get("tidewell", mine)
    assert stored is not None and stored.channel == "web"


def test_a_bad_message_or_market_is_refused_readably(client: TestClient) -> None:
    opened = _open(client, "JP")
    too_long = _say(client, opened["conversation_id"], "あ" * 4001)
    assert too_long.status_code == 422 and too_long.headers["access-control-allow-origin"] == SHOP
    assert _say(client, opened["conversation_id"], "\u200b").status_code == 422
    unknown = client.post("/v1/widget/conversations", headers=_widget(), json={"market": "ZZ"})
    assert unknown.status_code == 404


def test_the_demo_keys_include_a_widget_key_for_a_local_page(tmp_path: Path) -> None:
    from api.auth import demo_keys

    keys, created = demo_keys(tmp_path / "api-keys.json", tenant="tidewell")
    widget = [key for key in keys if key.role == "widget"]
    assert created and len(widget) == 1 and widget[0].allowed_origins
    assert widget[0].key.get_secret_value().startswith("pd_widget_")
    again, created_again = demo_keys(tmp_path / "api-keys.json", tenant="tidewell")
    assert not created_again and [k.allowed_origins for k in again] == [k.allowed_origins for k in keys]


def test_one_visitor_gets_a_share_of_the_public_key_s_limit(api: ApiHarness, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, rate_limit_per_minute=60, rate_limit_burst=30,  # type: ignore[call-arg]
                        _env_file=None)
    runtime = Runtime.open(settings, index=api.services.index, redis_client=api.services.redis,
                           escalation=api.services.agent.escalation_policy)
    app = create_app(settings, runtime=runtime, keys=[*KEYS, *WIDGET_KEYS], background=False)
    try:
        with TestClient(app, raise_server_exceptions=False, client=("203.0.113.7", 50000)) as visitor:
            codes = [visitor.post("/v1/widget/conversations", headers=_widget(SECOND), json={"market": "JP"})
                     for _ in range(4)]
        assert [c.status_code for c in codes] == [201, 201, 201, 429]  # burst 30 / 10 per visitor
        assert codes[-1].json()["code"] == "rate_limited" and int(codes[-1].headers["Retry-After"]) >= 1
        assert codes[-1].headers["access-control-allow-origin"] == SHOP  # the widget can read why
        with TestClient(app, raise_server_exceptions=False, client=("203.0.113.8", 50000)) as another:
            assert another.post("/v1/widget/conversations", headers=_widget(SECOND),
                                json={"market": "JP"}).status_code == 201
    finally:
        runtime.close()
