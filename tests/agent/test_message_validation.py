"""A customer message must show something: NUL, control and zero-width-only messages are refused (422)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from agent.schema import AnswerRequest, CustomerMessage
from api import errors
from api.channels.openai_chat import ChatCompletionRequest, customer_message
from polydesk.errors import InputError
from polydesk.visible import visible_text

pytestmark = pytest.mark.unit

INVISIBLE = [
    "\x00",
    "\x00\x00\x00",
    "\u200b",  # zero-width space
    "\u200b\u200c\u200d",  # and the non-joiner and joiner
    "\u2060\ufeff",  # word joiner, BOM
    "\u202e\u202d\u2066\u2067\u2068\u2069\u200e\u200f",  # bidi overrides, isolates and marks
    " \u200b \t\n\u200b ",  # with whitespace
    "\x01\x02\x07\x1b\x7f",  # control characters
    "\u3164\u2800",  # Hangul filler, blank Braille pattern
]
NO_HEADERS: dict[str, str | None] = {"market": None, "channel": None, "conversation_id": None, "customer_id": None}


def _message(text: str) -> CustomerMessage:
    return CustomerMessage(channel="web", market="DE", message=text)


@pytest.mark.parametrize("text", INVISIBLE, ids=[ascii(text) for text in INVISIBLE])
def test_a_message_with_nothing_visible_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="message"):
        _message(text)
    with pytest.raises(ValidationError, match="message"):
        AnswerRequest(tenant="tidewell", channel="web", market="DE", message=text)


@pytest.mark.parametrize("text", ["Hallo\x00", "\x00Hallo", "返品\x00できますか"])
def test_a_nul_anywhere_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="NUL"):
        _message(text)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("\u200bWie lange habe ich Zeit?\u200b", "Wie lange habe ich Zeit?"),  # de
        ("\ufeff返品できますか？\u2060", "返品できますか？"),  # ja
        ("ส่งฟรีไหมคะ\u200b", "ส่งฟรีไหมคะ"),  # th: the tone mark stays with its consonant
        ("\u202eهل الشحن مجاني؟\u202c", "هل الشحن مجاني؟"),  # ar: bidi controls go
        ("Apakah\u0007 gratis ongkir?", "Apakah gratis ongkir?"),  # id: a bell character
        ("Giao hàng mất bao lâu?\u200d", "Giao hàng mất bao lâu?"),  # vi
        ("运费多少？", "运费多少？"),  # zh
        ("¿Cuánto cuesta el envío?", "¿Cuánto cuesta el envío?"),  # es
        ("\u200cQuanto custa o frete?", "Quanto custa o frete?"),  # pt
        ("👍", "👍"),
        ("👩\u200d💻 I need help", "👩\u200d💻 I need help"),  # a joiner inside an emoji sequence stays
        ("1\ufe0f\u20e3", "1\ufe0f\u20e3"),  # a keycap keeps its marks
        ("می\u200cخواهم", "می\u200cخواهم"),  # the Persian non-joiner inside a word stays
    ],
)
def test_visible_messages_pass_cleaned_at_the_edges(text: str, kept: str) -> None:
    assert _message(text).message == kept
    assert visible_text(text) == kept


def _app() -> FastAPI:
    app = FastAPI()
    errors.install(app)

    @app.post("/answer")
    def answer(message: CustomerMessage) -> dict[str, str]:
        return {"message": message.message}

    return app


def test_the_http_answer_is_422_validation_error() -> None:
    client = TestClient(_app())
    for text in ("\u200b\u200d\ufeff", "\x00", "hi\x00"):
        response = client.post("/answer", json={"channel": "web", "market": "DE", "message": text})
        assert response.status_code == 422, text
        assert response.json()["code"] == "validation_error"
    assert client.post("/answer", json={"channel": "web", "market": "DE", "message": "\u200bHallo"}).json() == {
        "message": "Hallo"}


@pytest.mark.parametrize("text", [*INVISIBLE, "Hallo\x00"], ids=[ascii(t) for t in [*INVISIBLE, "Hallo\x00"]])
def test_the_openai_route_refuses_an_invisible_user_message(text: str) -> None:
    body = ChatCompletionRequest.model_validate({"messages": [{"role": "user", "content": text}], "market": "DE"})
    with pytest.raises(InputError) as raised:
        customer_message(body, NO_HEADERS)

    assert raised.value.code == "validation_error" and errors.status_of(raised.value) == 422
    assert "visible" in raised.value.message


def test_the_openai_route_passes_a_visible_message_cleaned() -> None:
    body = ChatCompletionRequest.model_validate(
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "\u200bWie lange?\u200b"}]}], "market": "DE"})

    assert customer_message(body, NO_HEADERS).message == "Wie lange?"
