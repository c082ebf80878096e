"""A person's replies and the copilot over HTTP, end to end: customers write on LINE and WhatsApp (signed webhooks,
replies at a fake platform) or through the API, the bot hands them to the desk, an agent claims them, asks for
suggestions, previews a reply and sends it. No translation engine is configured (every translation is
``unavailable``) except where ``translating_to`` gives the translator an engine through its test hook."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import regex
from fastapi.testclient import TestClient
from pydantic import SecretStr

from agent.translation import Translator
from api.auth import ApiKey
from api.deps import Services
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from tests.api import test_channel_line as line
from tests.api import test_channel_whatsapp as whatsapp
from tests.api.channel_fakes import FakePlatform, channel_app, serve_platform
from tests.api.conftest import KEYS, raw_key
from tests.conftest import RuntimeFactory

pytestmark = pytest.mark.integration

TENANT = "tidewell"
ZH_AGENT, JA_AGENT = "agent-zh", "agent-ja"
AGENT_KEYS = [ApiKey(key=SecretStr(f"pd_test_{agent}_desk_key"), tenant=TENANT, role="agent", agent_id=agent,
                     languages=[language]) for agent, language in ((ZH_AGENT, "zh"), (JA_AGENT, "ja"))]
THAI = regex.compile(r"\p{Thai}")
ASK_FOR_A_PERSON = "ขอคุยกับเจ้าหน้าที่หน่อยค่ะ"
OTHER_CUSTOMERS_EMAIL = "somchai.k@example.com"


@pytest.fixture(scope="module")
def platform() -> Iterator[FakePlatform]:
    yield from serve_platform()


@pytest.fixture(scope="module")
def client(demo: tuple[IngestReport, KnowledgeIndex], open_runtime: RuntimeFactory, platform: FakePlatform,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    channels = {TENANT: {
        "line": {"channel_secret": line.SECRET, "access_token": line.TOKEN, "market": "TH", "api_base": platform.url},
        "whatsapp": {"app_secret": whatsapp.APP_SECRET, "verify_token": whatsapp.VERIFY_TOKEN,
                     "access_token": whatsapp.ACCESS_TOKEN, "phone_numbers": {whatsapp.PHONE_NUMBER_ID: "ID"},
                     "api_base": platform.url}}}
    yield from channel_app(demo[1], open_runtime, tmp_path_factory.mktemp("desk-replies"), channels,
                           keys=[*KEYS, *AGENT_KEYS])


def agent(agent_id: str = ZH_AGENT) -> dict[str, str]:
    return {"Authorization": f"Bearer pd_test_{agent_id}_desk_key"}


def services(client: TestClient) -> Services:
    found: Services = client.app.state.services  # type: ignore[attr-defined]
    return found


def handed_off_and_claimed(client: TestClient, conversation_id: str, agent_id: str = ZH_AGENT) -> None:
    """Wait until the bot has handed the conversation to the desk, then claim it as ``agent_id`` (the desk's route)."""
    path, deadline = f"/v1/desk/conversations/{conversation_id}", time.monotonic() + 60
    while client.get(path, headers=agent(agent_id)).status_code == 404:
        assert time.monotonic() < deadline, f"{conversation_id} never reached the desk"
        time.sleep(0.1)
    claimed = client.post(f"{path}/claim", headers=agent(agent_id))
    assert claimed.status_code == 200, claimed.text


def line_customer(client: TestClient, *messages: str) -> tuple[str, str]:
    """A LINE customer who asked for a person, then wrote ``messages``; (their user id, the conversation id)."""
    customer = line.user()
    conversation_id = f"line-{customer}"
    assert line.post(client, [line.text_event(ASK_FOR_A_PERSON, customer)]).status_code == 200
    handed_off_and_claimed(client, conversation_id)
    for message in messages:
        assert line.post(client, [line.text_event(message, customer)]).status_code == 200
    deadline = time.monotonic() + 60
    while len(customer_turns(client, conversation_id)) < 1 + len(messages):
        assert time.monotonic() < deadline, "the customer's messages were never recorded"
        time.sleep(0.1)
    return customer, conversation_id


def customer_turns(client: TestClient, conversation_id: str) -> list[str]:
    conversation = services(client).conversations.get(TENANT, conversation_id)
    return [t.text for t in conversation.turns if t.role == "customer"] if conversation else []


def preview(client: TestClient, conversation_id: str, text: str, *, headers: dict[str, str] | None = None,
            **fields: Any) -> Any:
    return client.post(f"/v1/desk/conversations/{conversation_id}/replies/preview", headers=headers or agent(),
                       json={"text": text, **fields})


def send(client: TestClient, conversation_id: str, preview_id: str, *, headers: dict[str, str] | None = None) -> Any:
    return client.post(f"/v1/desk/conversations/{conversation_id}/replies", headers=headers or agent(),
                       json={"preview_id": preview_id})


def pushed_to(platform: FakePlatform, customer: str) -> list[str]:
    return [m["text"] for c in platform.delivered("/v2/bot/message/push") if c.body.get("to") == customer
            for m in c.body["messages"]]


@contextmanager
def translating_to(client: TestClient, translation: str) -> Iterator[None]:
    """The app's translator answers ``translation`` to every request: an engine through litellm, its reply given by
    the translator's test hook (``completion_kwargs={"mock_response": ...}``) and judged by its quality gate."""
    runtime = services(client).runtime
    configured = runtime.translator
    runtime.translator = Translator("openai/gpt-4o-mini", completion_kwargs={"mock_response": translation})
    try:
        yield
    finally:
        runtime.translator = configured


def test_an_agents_chinese_reply_reaches_a_thai_line_customer_in_thai_and_is_recorded(
        client: TestClient, platform: FakePlatform) -> None:
    customer, conversation_id = line_customer(client)
    chinese, thai = "您的包裹明天会到。", "พัสดุของคุณจะถึงภายในวันพรุ่งนี้ค่ะ"
    # No translation engine configured: the Chinese text is never sent untranslated.
    untranslated = preview(client, conversation_id, chinese).json()
    assert untranslated["sendable"] is False and untranslated["translation"]["quality"] == "unavailable"
    assert any(r.startswith("translation_unavailable") for r in untranslated["refusals"])
    refused = send(client, conversation_id, untranslated["preview_id"])
    assert refused.status_code == 409 and refused.json()["code"] == "reply_not_sendable"

    with translating_to(client, thai):
        shown = preview(client, conversation_id, chinese)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["original_language"], body["language"], body["text"]) == ("zh", "th", thai)
    assert body["translation"]["quality"] == "translated" and body["sendable"] is True

    sent = send(client, conversation_id, body["preview_id"])
    assert sent.status_code == 202, sent.text
    delivery = sent.json()
    assert delivery["via"] == "channel" and delivery["channel"] == "line" and delivery["reply_id"]
    platform.wait_for(lambda: thai in pushed_to(platform, customer))
    assert not any(chinese in text for text in pushed_to(platform, customer))
    conversation = services(client).conversations.get(TENANT, conversation_id)
    assert conversation is not None
    last = conversation.turns[-1]
    assert (last.role, last.text, last.language) == ("human", thai, "th")
    events = [e for _, e in services(client).events.read(tenant=TENANT, count=1000)
              if e.type == "reply" and e.conversation_id == conversation_id]
    assert [(e.agent_id, e.text, e.id) for e in events] == [(ZH_AGENT, thai, delivery["event_id"])]
    again = send(client, conversation_id, body["preview_id"])  # a preview goes out once
    assert again.status_code == 404 and again.json()["code"] == "preview_not_found"


def test_an_agent_writing_in_the_customers_language_needs_no_engine(client: TestClient) -> None:
    _, conversation_id = line_customer(client)
    thai = "ขอบคุณที่รอค่ะ เราตรวจสอบคำสั่งซื้อให้แล้ว"
    body = preview(client, conversation_id, thai).json()
    assert body["sendable"] is True and body["text"] == thai and body["original_language"] == "th"
    assert body["translation"]["quality"] == "same_language" and body["back_translation"] is None


def test_a_reply_with_another_customers_email_is_stopped(client: TestClient, platform: FakePlatform) -> None:
    customer, conversation_id = line_customer(client)
    body = preview(client, conversation_id, f"ลูกค้าอีกท่านติดต่อที่ {OTHER_CUSTOMERS_EMAIL} ค่ะ").json()
    assert body["sendable"] is False
    assert [f["rule"] for f in body["findings"]] == ["pii"]
    assert OTHER_CUSTOMERS_EMAIL not in json.dumps(body["text"]) and "[EMAIL]" in body["text"]
    refused = send(client, conversation_id, body["preview_id"])
    assert refused.status_code == 409 and refused.json()["code"] == "reply_not_sendable"
    platform.quiet_for(1.0)
    assert not any("[EMAIL]" in text or OTHER_CUSTOMERS_EMAIL in text for text in pushed_to(platform, customer))


def test_the_customers_own_email_may_be_repeated(client: TestClient) -> None:
    own = "nok.customer@example.com"
    _, conversation_id = line_customer(client, f"อีเมลของฉันคือ {own} ค่ะ")
    body = preview(client, conversation_id, f"เราจะส่งใบเสร็จไปที่ {own} ค่ะ").json()
    assert body["sendable"] is True and own in body["text"] and body["findings"] == []


def test_a_suggestion_cites_the_knowledge_in_the_customers_language(client: TestClient) -> None:
    _, conversation_id = line_customer(client, "ส่งฟรีเมื่อซื้อครบเท่าไหร่คะ")
    response = client.get(f"/v1/desk/conversations/{conversation_id}/suggestions", headers=agent())
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["language"] == "th" and found["agent_language"] == "zh"
    assert found["message"] == "ส่งฟรีเมื่อซื้อครบเท่าไหร่คะ"
    assert 1 <= len(found["suggestions"]) <= 3
    for suggestion in found["suggestions"]:
        assert suggestion["citations"] and all(c["document_id"] for c in suggestion["citations"])
        assert THAI.search(suggestion["text"])
        assert suggestion["translation"]["quality"] == "unavailable" and suggestion["translation"]["note"]
    first_sources = [s["citations"][0]["document_id"] for s in found["suggestions"]]
    assert len(set(first_sources)) == len(first_sources)  # each grounded in another document
    assert any("ship" in c["document_id"].lower() or "ship" in c["title"].lower() or "ส่ง" in c["title"]
               for s in found["suggestions"] for c in s["citations"])
    turns = customer_turns(client, conversation_id)
    assert len(turns) == 2  # suggestions are never stored as a turn


def test_a_whatsapp_reply_outside_the_24_hour_window_is_refused(client: TestClient, platform: FakePlatform) -> None:
    sender = whatsapp.wa_id()
    conversation_id = f"whatsapp-{whatsapp.PHONE_NUMBER_ID}-{sender}"
    stale = whatsapp.text_message("Berapa lama pengiriman ke Surabaya?", sender, age_s=25 * 3600)
    assert whatsapp.post(client, stale).status_code == 200
    handed_off_and_claimed(client, conversation_id)  # the bot's own reply was refused: a person follows up
    body = preview(client, conversation_id, "Pesanan Anda akan tiba besok.", language="id").json()
    assert body["sendable"] is True, body
    refused = send(client, conversation_id, body["preview_id"])
    assert refused.status_code == 409
    assert refused.json()["code"] == "channel_window_closed"
    assert refused.json()["message"].startswith("outside_24h_window")
    platform.quiet_for(1.0)
    assert whatsapp.sent_to(platform, sender) == []
    conversation = services(client).conversations.get(TENANT, conversation_id)
    assert conversation is not None and not any(t.role == "human" for t in conversation.turns)


def test_an_api_conversations_reply_goes_out_as_a_reply_event(client: TestClient) -> None:
    asked = client.post("/v1/answer", headers={"Authorization": f"Bearer {raw_key(TENANT, 'connector')}"},
                        json={"message": "I want to talk to a human agent, please.", "market": "US",
                              "channel": "web", "customer_id": f"cust-{uuid.uuid4().hex[:8]}"})
    assert asked.status_code == 200 and asked.json()["escalation"]["escalate"], asked.text
    conversation_id = asked.json()["conversation_id"]
    handed_off_and_claimed(client, conversation_id)
    body = preview(client, conversation_id, "Your parcel left our warehouse this morning.", language="en").json()
    sent = send(client, conversation_id, body["preview_id"])
    assert sent.status_code == 202, sent.text
    delivery = sent.json()
    assert delivery["via"] == "event" and delivery["channel"] == "web" and delivery["reply_id"] is None
    [event] = [e for _, e in services(client).events.read(tenant=TENANT, count=1000) if e.id == delivery["event_id"]]
    assert (event.type, event.text, event.agent_id) == ("reply", body["text"], ZH_AGENT)


def test_only_the_assignee_may_preview_or_send(client: TestClient) -> None:
    _, conversation_id = line_customer(client)
    own = preview(client, conversation_id, "ขอบคุณที่รอค่ะ").json()
    other = preview(client, conversation_id, "ขอบคุณที่รอค่ะ", headers=agent(JA_AGENT))
    assert other.status_code == 409 and other.json()["code"] == "conflict"
    assert send(client, conversation_id, own["preview_id"], headers=agent(JA_AGENT)).status_code == 409
    acme = {"Authorization": f"Bearer {raw_key('acme', 'admin')}"}
    for response in (preview(client, conversation_id, "ขอบคุณที่รอค่ะ", headers=acme),
                     send(client, conversation_id, own["preview_id"], headers=acme),
                     client.get(f"/v1/desk/conversations/{conversation_id}/suggestions", headers=acme)):
        assert response.status_code == 404 and "ขอบคุณ" not in response.text
    conversation = services(client).conversations.get(TENANT, conversation_id)
    assert conversation is not None and not any(t.role == "human" for t in conversation.turns)
