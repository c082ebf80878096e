"""``POST /v1/feedback`` and the widget's ``POST /v1/widget/conversations/{id}/feedback`` through the real app:
201 with the stored rating, a later rating of the same reply replaces it, the caller's tenant's conversations only,
comments checked, and the outcome counters follow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.auth import ApiKey
from api.runtime import Runtime
from polydesk.settings import Settings
from tests.api.conftest import KEYS

pytestmark = pytest.mark.integration

ApiHarness = Any  # tests/api/conftest.py


def feedback_counts(api: ApiHarness, market: str) -> tuple[int, int]:
    body = api.client.get(f"/v1/analytics/summary?market={market}", headers=api.headers("admin")).json()
    found = body["totals"]["feedback"]
    return found["up"], found["down"]


def rate(api: ApiHarness, tenant: str = "tidewell", **body: Any) -> Any:
    return api.client.post("/v1/feedback", headers=api.headers("connector", tenant), json=body)


def test_a_rating_is_stored_and_a_new_one_replaces_it(api: ApiHarness) -> None:
    reply = api.ask("¿Cuánto tarda el envío?", market="MX", channel="whatsapp")
    before = feedback_counts(api, "MX")
    first = rate(api, conversation_id=reply["conversation_id"], reply_id=1, rating="up")
    assert first.status_code == 201, first.text
    assert {k: first.json()[k] for k in ("reply_id", "rating", "market", "channel", "replaced")} == {
        "reply_id": 1, "rating": "up", "market": "MX", "channel": "whatsapp", "replaced": False}
    second = rate(api, conversation_id=reply["conversation_id"], reply_id=1, rating="down",
                  comment="  La respuesta no sirve  ")
    assert second.status_code == 201 and second.json()["replaced"] is True
    assert second.json()["comment"] == "La respuesta no sirve"
    assert feedback_counts(api, "MX") == (before[0], before[1] + 1)


def test_only_the_callers_conversations_and_replies_are_rated(api: ApiHarness) -> None:
    reply = api.ask("Berapa lama pengiriman ke Surabaya?", market="ID")
    other = rate(api, tenant="acme", conversation_id=reply["conversation_id"], rating="up")
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    missing = rate(api, conversation_id=reply["conversation_id"], reply_id=2, rating="up")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    unknown = rate(api, conversation_id="c-never-seen", rating="up")
    assert unknown.status_code == 404
    content = api.client.post("/v1/feedback", headers=api.headers("content"),
                                 json={"conversation_id": reply["conversation_id"], "rating": "up"})
    assert content.status_code == 403  # a content key is no connector


@pytest.mark.parametrize("body", [{"rating": "meh"}, {"rating": "up", "comment": "\u200b \u200b"},
                                  {"rating": "up", "comment": "x" * 1001}, {"rating": "up", "reply_id": 0},
                                  {"rating": "up", "extra": 1}])
def test_a_bad_rating_is_refused(api: ApiHarness, body: dict[str, Any]) -> None:
    reply = api.ask("Phí vận chuyển là bao nhiêu?", market="VN")
    response = rate(api, conversation_id=reply["conversation_id"], **body)
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


SHOP = "https://shop.example"
WIDGETS = {"own": "pd_widget_feedback_own_key", "other": "pd_widget_feedback_other_key"}


@pytest.fixture(scope="module")
def widget_client(api: ApiHarness, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app on the harness's index and Redis with two widget keys of tidewell."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("widget-feedback"), rate_limit_per_minute=100_000,  # type: ignore[call-arg]
                        rate_limit_burst=10_000, _env_file=None)
    runtime = Runtime.open(settings, index=api.services.index, redis_client=api.services.redis,
                           escalation=api.services.agent.escalation_policy)
    keys = [*KEYS, *(ApiKey(key=SecretStr(key), tenant="tidewell", role="widget", allowed_origins=[SHOP])
                     for key in WIDGETS.values())]
    with TestClient(create_app(settings, runtime=runtime, keys=keys, background=False),
                    raise_server_exceptions=False) as client:
        yield client
    runtime.close()


def test_the_widget_rates_only_the_conversations_its_key_opened(widget_client: TestClient) -> None:
    def headers(which: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {WIDGETS[which]}", "Origin": SHOP}

    opened = widget_client.post("/v1/widget/conversations", headers=headers("own"), json={"market": "JP"})
    assert opened.status_code == 201, opened.text
    path = f"/v1/widget/conversations/{opened.json()['conversation_id']}"
    sent = widget_client.post(f"{path}/messages", headers=headers("own"), json={"message": "返品は何日以内にできますか？"})
    assert sent.status_code == 200 and "event: reply" in sent.text
    rated = widget_client.post(f"{path}/feedback", headers=headers("own"), json={"reply_id": 1, "rating": "up"})
    assert rated.status_code == 201, rated.text
    assert (rated.json()["market"], rated.json()["channel"], rated.json()["rating"]) == ("JP", "web", "up")
    stranger = widget_client.post(f"{path}/feedback", headers=headers("other"), json={"rating": "down"})
    assert stranger.status_code == 404 and stranger.json()["code"] == "not_found"
    no_reply_yet = widget_client.post(f"{path}/feedback", headers=headers("own"), json={"reply_id": 2, "rating": "up"})
    assert no_reply_yet.status_code == 404
