"""/v1/answer and its stream through the real app: roles, tenants, idempotency, SSE framing, input limits."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from polydesk.redisdb import connect_redis
from polydesk.settings import Settings

ApiHarness = Any  # tests/api/conftest.py
AppOn = Callable[..., TestClient]

pytestmark = [pytest.mark.integration]


def _conversation_id() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize(("market", "channel", "message", "language", "fact"), [
    ("US", "web", "How long do I have to return an item?", "en", "30"),
    ("DE", "email", "Ab wann ist der Versand kostenlos?", "de", "€"),
    ("TH", "line", "ส่งฟรีเมื่อซื้อครบเท่าไหร่", "th", "฿"),
    ("JP", "line", "返品はいつまでできますか", "ja", "8日"),  # the return period itself
    ("ID", "whatsapp", "Bisa bayar pakai GoPay?", "id", "GoPay"),
    ("SA", "whatsapp", "ما هي مدة الإرجاع؟", "ar", ""),
])
def test_answer_in_the_customers_language_with_citations(api: ApiHarness, market: str, channel: str, message: str,
                                                         language: str, fact: str) -> None:
    reply = api.ask(message, market=market, channel=channel)
    assert reply["status"] == "answered" and reply["language"] == language and reply["generator"] == "extractive"
    assert reply["citations"] and fact in reply["text"]
    assert reply["timings_ms"]["total"] > 0 and reply["escalation"]["escalate"] is False


def test_no_key_wrong_key_and_wrong_role_are_refused(api: ApiHarness) -> None:
    body = {"message": "Hi", "market": "US", "channel": "web"}
    missing = api.client.post("/v1/answer", json=body)
    assert missing.status_code == 401 and missing.json()["code"] == "unauthenticated"
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    unknown = api.client.post("/v1/answer", json=body, headers={"Authorization": "Bearer pd_nobody_knows_this"})
    assert unknown.status_code == 401 and unknown.json()["code"] == "unauthenticated"
    content = api.client.post("/v1/answer", json=body, headers=api.headers("content"))
    assert content.status_code == 403 and content.json()["code"] == "forbidden"
    admin = api.client.post("/v1/answer", json=body, headers=api.headers("admin"))
    assert admin.status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({"message": "x" * 4001, "market": "US", "channel": "web"}, "message"),
    ({"message": "   ", "market": "US", "channel": "web"}, "message"),
    ({"message": "hi", "market": "Germany", "channel": "web"}, "market"),
    ({"message": "hi", "market": "US", "channel": "web", "metadata": {f"k{i}": "v" for i in range(40)}}, "metadata"),
    ({"message": "hi", "market": "US", "channel": "web", "metadata": {"note": "x" * 600}}, "metadata"),
    ({"message": "hi", "market": "US", "channel": "web", "tenant": "acme"}, "tenant"),
    ({"message": "hi", "market": "US", "channel": "web", "conversation_id": "../../etc"}, "conversation_id"),
    ({"market": "US", "channel": "web"}, "message"),
])
def test_invalid_input_is_a_422_naming_the_field(api: ApiHarness, body: dict[str, Any], field: str) -> None:
    response = api.client.post("/v1/answer", json=body, headers=api.headers("connector"))
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == "validation_error" and field in error["message"]
    assert "Traceback" not in response.text


def test_unknown_market_and_channel_are_clear_errors(api: ApiHarness) -> None:
    market = api.client.post("/v1/answer", headers=api.headers("connector"),
                             json={"message": "hi", "market": "ZZ", "channel": "web"})
    assert market.status_code == 404 and market.json()["code"] == "not_found" and "ZZ" in market.json()["message"]
    channel = api.client.post("/v1/answer", headers=api.headers("connector"),
                              json={"message": "hi", "market": "US", "channel": "pigeon"})
    assert channel.status_code == 422 and "channel" in channel.json()["message"]


def test_malformed_json_is_a_clean_error(api: ApiHarness) -> None:
    response = api.client.post("/v1/answer", content=b'{"message": ', headers={
        **api.headers("connector"), "Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


def test_a_follow_up_continues_the_conversation(api: ApiHarness) -> None:
    first = api.ask("ส่งฟรีเมื่อซื้อครบเท่าไหร่คะ", market="TH", channel="line")
    second = api.ask("แล้วใช้เวลาส่งกี่วัน", market="TH", channel="line", conversation_id=first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"] and second["language"] == "th"
    stored = api.client.get(f"/v1/conversations/{first['conversation_id']}", headers=api.headers("admin"))
    assert stored.status_code == 200 and len(stored.json()["turns"]) == 4


def test_idempotency_key_replays_the_reply_without_a_second_turn(api: ApiHarness) -> None:
    conversation = _conversation_id()
    body = {"message": "Quanto tempo tenho para devolver?", "market": "BR", "channel": "whatsapp",
            "conversation_id": conversation, "customer_id": "cli-77"}
    headers = api.headers("connector", **{"Idempotency-Key": f"retry-{conversation}"})
    first = api.client.post("/v1/answer", json=body, headers=headers)
    again = api.client.post("/v1/answer", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert again.json() == first.json()
    turns = api.client.get(f"/v1/conversations/{conversation}", headers=api.headers("admin")).json()["turns"]
    assert [t["role"] for t in turns] == ["customer", "bot"]
    reused = api.client.post("/v1/answer", json={**body, "message": "E o frete?"}, headers=headers)
    assert reused.status_code == 400 and reused.json()["code"] == "idempotency_key_reused"


def test_idempotency_keys_are_per_tenant(api: ApiHarness) -> None:
    key = {"Idempotency-Key": f"shared-{uuid.uuid4().hex}"}
    body = {"message": "How long do I have to return an item?", "market": "US", "channel": "web"}
    tidewell = api.client.post("/v1/answer", json=body, headers=api.headers("connector", "tidewell", **key))
    acme = api.client.post("/v1/answer", json=body, headers=api.headers("connector", "acme", **key))
    assert tidewell.status_code == acme.status_code == 200
    assert "Idempotent-Replayed" not in acme.headers
    assert acme.json()["conversation_id"] != tidewell.json()["conversation_id"]
    assert acme.json()["citations"] == []  # acme has no knowledge: it never sees tidewell's


def test_stream_sends_sentences_then_the_reply(api: ApiHarness) -> None:
    with api.client.stream("POST", "/v1/answer/stream", headers=api.headers("connector"),
                           json={"message": "返品はいつまでできますか", "market": "JP", "channel": "line"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = "".join(response.iter_text())
    events = [block for block in raw.split("\n\n") if block]
    parsed = []
    for block in events:
        lines = block.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: ") and len(lines) == 2
        parsed.append((lines[0][7:], json.loads(lines[1][6:])))
    names = [name for name, _ in parsed]
    assert names[-1] == "reply" and set(names[:-1]) == {"delta"} and len(names) >= 3
    reply = parsed[-1][1]
    assert "".join(data["text"] for name, data in parsed[:-1]) == reply["text"]
    assert reply["language"] == "ja" and reply["citations"] and reply["persona_id"] == "jp-keigo"


def test_stream_errors_before_the_first_event_are_plain_json(api: ApiHarness) -> None:
    response = api.client.post("/v1/answer/stream", headers=api.headers("connector"),
                               json={"message": "hi", "market": "ZZ", "channel": "web"})
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def _unreachable_redis(tmp_path: Path) -> redis.Redis:
    """A Redis server that is down: configured as operators configure one, at a port nothing listens on."""
    return connect_redis(Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0", _env_file=None))


def test_redis_down_is_a_503_with_a_code(api: ApiHarness, app_on: AppOn, tmp_path: Path) -> None:
    with app_on(_unreachable_redis(tmp_path), tmp_path) as client:
        response = client.post("/v1/answer", headers=api.headers("connector"),
                               json={"message": "Ab wann ist der Versand kostenlos?", "market": "DE", "channel": "web"})
        assert response.status_code == 503 and response.json()["code"] == "store_unavailable"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["redis"] != "ok"
        assert client.get("/healthz").status_code == 200


def test_redis_down_with_degraded_reply_keeps_the_message(api: ApiHarness, app_on: AppOn, tmp_path: Path) -> None:
    with app_on(_unreachable_redis(tmp_path), tmp_path, degraded_reply=True) as client:
        response = client.post("/v1/answer", headers=api.headers("connector"), json={
            "message": "Mein Paket ist nicht angekommen, Bestellung TW-4417", "market": "DE", "channel": "email",
            "customer_id": "kunde-1"})
        assert response.status_code == 200, response.text
        reply = response.json()
        assert reply["language"] == "de" and reply["fallback_reason"] == "dependency_unavailable"
        assert "meldet sich" in reply["text"] and reply["generator"] == "none"
        kept = [json.loads(line) for line in (tmp_path / "inbox" / "pending.jsonl").read_text().splitlines()]
        assert len(kept) == 1 and kept[0]["request"]["message"].endswith("TW-4417")
        assert kept[0]["request"]["conversation_id"] == reply["conversation_id"]
        assert client.get("/readyz").json()["inbox"] == 1


def test_rate_limit_answers_429_with_retry_after(api: ApiHarness, app_on: AppOn, tmp_path: Path) -> None:
    client_redis = api.services.redis
    with app_on(client_redis, tmp_path, rate_limit_per_minute=1, rate_limit_burst=3) as client:
        headers = {"Authorization": "Bearer pd_test_acme_connector_key"}
        codes = [client.post("/v1/answer", headers=headers, json={"message": "hola", "market": "MX", "channel": "web"})
                 for _ in range(4)]
        assert [c.status_code for c in codes[:3]] == [200, 200, 200]
        assert codes[3].status_code == 429 and codes[3].json()["code"] == "rate_limited"
        assert int(codes[3].headers["Retry-After"]) >= 1
        other = client.post("/v1/answer", headers={"Authorization": "Bearer pd_test_acme_admin_key"},
                            json={"message": "hola", "market": "MX", "channel": "web"})
        assert other.status_code == 200  # limits are per key
