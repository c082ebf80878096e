"""Conversations, personas and markets, operations endpoints and the OpenAPI schema, through the real app."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = [pytest.mark.integration]


def test_a_handoff_is_read_and_released_by_an_admin(api: Any) -> None:
    reply = api.ask("Ich will sofort mit einem Menschen sprechen!", market="DE", channel="email",
                    customer_id="kunde-42")
    conversation = reply["conversation_id"]
    assert reply["escalation"]["escalate"] is True
    silent = api.ask("Hallo?", market="DE", channel="email", conversation_id=conversation)
    assert silent["status"] == "handed_off" and silent["text"] == ""

    read = api.client.get(f"/v1/conversations/{conversation}", headers=api.headers("admin"))
    assert read.status_code == 200
    body = read.json()
    assert body["owner"] == "human" and body["customer_id"] == "kunde-42" and body["language"] == "de"
    assert [t["role"] for t in body["turns"]] == ["customer", "bot", "customer"]
    assert body["handoffs"][0]["escalation"]["reason"] == "customer_request" and body["expires_in_s"] > 0

    released = api.client.post(f"/v1/conversations/{conversation}/release", headers=api.headers("admin"),
                               json={"actor": "desk-anna"})
    assert released.status_code == 200 and released.json()["owner"] == "bot"
    assert released.json()["handoffs"][0]["released_by"] == "desk-anna"
    again = api.client.post(f"/v1/conversations/{conversation}/release", headers=api.headers("admin"))
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    answered = api.ask("Wie lange dauert der Versand?", market="DE", channel="email", conversation_id=conversation)
    assert answered["status"] == "answered" and answered["text"]


def test_conversations_need_an_admin_and_stay_within_the_tenant(api: Any) -> None:
    conversation = api.ask("How long do I have to return an item?", market="US")["conversation_id"]
    path = f"/v1/conversations/{conversation}"
    assert api.client.get(path, headers=api.headers("connector")).status_code == 403
    assert api.client.get(path, headers=api.headers("content")).status_code == 403
    other = api.client.get(path, headers=api.headers("admin", "acme"))
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    release = api.client.post(f"{path}/release", headers=api.headers("admin", "acme"))
    assert release.status_code == 404
    # acme sending the same conversation id starts its own conversation: tidewell's history stays apart.
    acme = api.ask("How long do I have to return an item?", market="US", tenant="acme", conversation_id=conversation)
    assert acme["conversation_id"] == conversation and acme["citations"] == []
    turns = api.client.get(path, headers=api.headers("admin")).json()["turns"]
    assert len(turns) == 2


def test_personas_and_markets_are_readable_by_content_teams(api: Any) -> None:
    personas = api.client.get("/v1/personas", headers=api.headers("content"))
    assert personas.status_code == 200
    ids = {p["id"] for p in personas.json()}
    assert {"de-formal", "jp-keigo"} <= ids
    assert all("llm_instructions" not in p for p in personas.json())
    keigo = api.client.get("/v1/personas/jp-keigo", headers=api.headers("content")).json()
    assert keigo["greetings"]["ja"].startswith("お問い合わせ")
    markets = api.client.get("/v1/markets", headers=api.headers("admin")).json()
    assert {"DE", "TH", "JP", "SA", "BR"} <= {m["code"] for m in markets}
    assert api.client.get("/v1/markets/de", headers=api.headers("content")).json()["human_response_time"] == "PT4H"
    missing = api.client.get("/v1/personas/pirate", headers=api.headers("content"))
    assert missing.status_code == 404 and "pirate" in missing.json()["message"]
    assert api.client.get("/v1/personas", headers=api.headers("connector")).status_code == 403


def test_preview_answers_in_the_chosen_persona_and_stores_nothing(api: Any) -> None:
    def stored_conversations() -> int:
        return len(list(api.services.redis.scan_iter("polydesk:conv:*")))

    before = stored_conversations()
    response = api.client.post("/v1/personas/preview", headers=api.headers("content"), json={
        "market": "JP", "channel": "line", "message": "返品はいつまでできますか", "persona_id": "jp-keigo"})
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["persona_id"] == "jp-keigo" and reply["language"] == "ja" and reply["citations"]
    assert stored_conversations() == before
    stored = api.client.get(f"/v1/conversations/{reply['conversation_id']}", headers=api.headers("admin"))
    assert stored.status_code == 404
    other = api.client.post("/v1/personas/preview", headers=api.headers("content"), json={
        "market": "DE", "message": "Ab wann ist der Versand kostenlos?", "persona_id": "de-formal"})
    assert other.json()["persona_id"] == "de-formal" and "€" in other.json()["text"]
    unknown = api.client.post("/v1/personas/preview", headers=api.headers("content"),
                              json={"market": "DE", "message": "Hallo", "persona_id": "pirate"})
    assert unknown.status_code == 404
    bad_market = api.client.post("/v1/personas/preview", headers=api.headers("content"),
                                 json={"market": "Deutschland", "message": "Hallo"})
    assert bad_market.status_code == 422 and bad_market.json()["code"] == "validation_error"


def test_health_readiness_and_metrics(api: Any) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"redis": "ok", "store": "ok", "model": "ok"}
    api.ask("ما هي مدة الإرجاع؟", market="SA", channel="whatsapp")
    api.ask("I want to order 2,000 bottles with our logo at a wholesale price.", market="US")
    metrics = api.client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert re.search(r'polydesk_answers_total\{generator="extractive",market="SA",status="answered"\} [1-9]', text)
    assert re.search(r'polydesk_escalations_total\{market="US",queue="sales",reason="[a-z_]+"\} [1-9]', text)
    assert re.search(r'polydesk_answer_stage_seconds_count\{stage="retrieval"\} [1-9]', text)
    assert re.search(r'polydesk_http_requests_total\{method="POST",route="/v1/answer",status="200"\} [1-9]', text)


def test_unknown_routes_and_methods_are_json_errors(api: Any) -> None:
    missing = api.client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = api.client.get("/v1/answer", headers=api.headers("connector"))
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


def test_openapi_documents_every_route_with_its_errors(api: Any) -> None:
    schema = api.client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/v1/answer", "/v1/answer/stream", "/v1/chat/completions", "/v1/conversations/{conversation_id}",
                 "/v1/conversations/{conversation_id}/release", "/v1/personas", "/v1/personas/preview",
                 "/v1/markets", "/healthz", "/readyz", "/metrics"):
        assert path in paths, path
    answer = paths["/v1/answer"]["post"]
    assert {"401", "403", "422", "429", "503"} <= set(answer["responses"])
    assert schema["components"]["schemas"]["CustomerMessage"]["examples"][0]["market"] == "TH"
