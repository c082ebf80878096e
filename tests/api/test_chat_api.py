"""/v1/chat/completions driven by the official ``openai`` SDK (blocking and streaming) against the real app."""

from __future__ import annotations

from typing import Any

import openai
import pytest

pytestmark = [pytest.mark.integration]


def _client(api: Any, role: str = "connector", tenant: str = "tidewell") -> openai.OpenAI:
    key = api.headers(role, tenant)["Authorization"].removeprefix("Bearer ")
    # The SDK speaks to the in-process app through the test client (an httpx.Client): no socket, same wire format.
    return openai.OpenAI(base_url="http://testserver/v1", api_key=key, http_client=api.client, max_retries=0)


def test_blocking_completion_carries_citations_and_escalation(api: Any) -> None:
    completion = _client(api).chat.completions.create(
        model="polydesk", messages=[{"role": "system", "content": "You are helpful."},
                                    {"role": "user", "content": "Bisa bayar pakai GoPay?"}],
        extra_body={"market": "ID", "channel": "whatsapp", "customer_id": "wa-62812"})
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    text = completion.choices[0].message.content or ""
    reply = (completion.model_extra or {})["polydesk"]
    assert "GoPay" in text and reply["text"] == text and reply["language"] == "id"
    assert reply["citations"] and reply["escalation"]["escalate"] is False
    assert completion.model == "polydesk/extractive"


def test_streaming_completion_joins_to_the_reply(api: Any) -> None:
    stream = _client(api).chat.completions.create(
        model="polydesk", stream=True, messages=[{"role": "user", "content": "Ab wann ist der Versand kostenlos?"}],
        extra_body={"market": "DE", "channel": "email"})
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    reply = (last.model_extra or {})["polydesk"]
    assert reply["text"] == text and reply["language"] == "de" and reply["citations"]
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)


def test_headers_carry_the_polydesk_fields_and_a_conversation_continues(api: Any) -> None:
    client = _client(api)
    first = client.chat.completions.create(
        model="polydesk", messages=[{"role": "user", "content": "ส่งฟรีเมื่อซื้อครบเท่าไหร่คะ"}],
        extra_headers={"X-Polydesk-Market": "TH", "X-Polydesk-Channel": "line"})
    conversation = (first.model_extra or {})["polydesk"]["conversation_id"]
    second = client.chat.completions.create(
        model="polydesk", messages=[{"role": "user", "content": "แล้วใช้เวลาส่งกี่วัน"}],
        extra_headers={"X-Polydesk-Market": "TH", "X-Polydesk-Channel": "line",
                       "X-Polydesk-Conversation-Id": conversation})
    reply = (second.model_extra or {})["polydesk"]
    assert reply["conversation_id"] == conversation and reply["language"] == "th"


def test_a_handoff_comes_back_as_an_escalation(api: Any) -> None:
    completion = _client(api).chat.completions.create(
        model="polydesk", messages=[{"role": "user", "content": "Quero falar com um atendente humano, por favor."}],
        extra_body={"market": "BR", "channel": "whatsapp"})
    escalation = (completion.model_extra or {})["polydesk"]["escalation"]
    assert escalation["escalate"] is True and escalation["reason"] == "customer_request"


def test_errors_reach_the_sdk_as_status_errors(api: Any) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as missing_market:
        _client(api).chat.completions.create(model="polydesk", messages=[{"role": "user", "content": "hola"}])
    assert missing_market.value.body["code"] == "validation_error"  # type: ignore[index]
    with pytest.raises(openai.PermissionDeniedError):
        _client(api, role="content").chat.completions.create(
            model="polydesk", messages=[{"role": "user", "content": "hola"}], extra_body={"market": "MX"})
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url="http://testserver/v1", api_key="pd_wrong_key_0000000", http_client=api.client,
                      max_retries=0).chat.completions.create(model="polydesk", messages=[{"role": "user", "content": "x"}])
