"""Small talk gets the agent's own short reply in the customer's language, never another customer's past reply.

The demo index holds past conversations that end in thanks ("¡A ti, Lucía!…", "You're welcome, Jenna! Your
return label is on its way…", "It's already out for delivery in your area today"): before small talk had its
own reply, "gracias" or "👍👍👍" were answered from them, name and order situation included.
"""

from __future__ import annotations

import uuid

import pytest

from agent.escalation import Signals
from agent.intents import IntentPrediction
from agent.phrases import SmallTalkKind, small_talk_reply
from agent.pipeline import Agent
from agent.schema import AnswerRequest, Reply
from agent.sentiment import Frustration
from agent.smalltalk import small_talk
from personas import Intent
from personas.routing import Channel
from polydesk.language import language_family

# First names and situations of the demo's past conversations: none may reach a small-talk reply.
TRANSCRIPT_WORDS = ("Jenna", "Lucía", "Priya", "Mariana", "Andrés", "Lena", "Jonas", "Camille", "Thomas", "Dewi",
                    "Budi", "Omar", "Wei Ling", "田中", "佐藤", "นภัสสร", "عبدالله", "out for delivery", "return label")


def _signals(intent: Intent = Intent.SMALLTALK, probability: float = 0.9, anger: float = 0.05,
             frustration: float = 0.0) -> Signals:
    prediction = IntentPrediction(intent=intent, probability=probability, probabilities={intent.value: probability},
                                  anger=anger)
    return Signals(intent=prediction, keyword=None, frustration=Frustration(score=frustration, signals={}))


# -- the decision, on given signals ----------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(("message", "kind"), [
    ("thanks!", "thanks"), ("gracias", "thanks"), ("obrigada!", "thanks"), ("Danke schön", "thanks"),
    ("ありがとうございます", "thanks"), ("ขอบคุณครับ", "thanks"), ("terima kasih ya kak", "thanks"),
    ("cảm ơn shop nhiều ạ", "thanks"), ("谢谢", "thanks"), ("شكرًا جزيلاً", "thanks"), ("감사합니다", "thanks"),
    ("👍👍👍", "ok"), ("🙏", "thanks"), ("ok", "ok"), ("Alles klar", "ok"), ("โอเคค่ะ", "ok"), ("好的", "ok"),
    ("Hi!", "hello"), ("Bonjour", "hello"), ("สวัสดีครับ", "hello"), ("Tschüss!", "bye"), ("مع السلامة", "bye"),
])
def test_courtesy_alone_is_small_talk_whatever_the_classifier_says(message: str, kind: str) -> None:
    # The classifier is unsure and calls it something else: courtesy words alone decide.
    assert small_talk(message, _signals(Intent.POLICY_QUESTION, 0.4)) == kind


@pytest.mark.unit
@pytest.mark.parametrize("message", [
    "thanks, and when will my order ship?", "ok but where is my refund", "Danke, wie lange dauert der Versand?",
    "gracias, ¿cuánto cuesta el envío?", "谢谢，运费多少？", "ありがとう、送料はいくらですか", "ขอบคุณค่ะ ส่งฟรีไหมคะ",
    "terima kasih, ongkirnya berapa?", "cảm ơn, phí ship bao nhiêu?", "شكرا، كم رسوم الشحن؟",
])
def test_a_question_with_courtesy_around_it_is_no_small_talk(message: str) -> None:
    # Not even when the classifier leans towards small talk: the question mark and the words outside courtesy count.
    assert small_talk(message, _signals(Intent.SMALLTALK, 0.75)) is None


@pytest.mark.unit
def test_the_classifier_decides_short_small_talk_without_courtesy_words() -> None:
    assert small_talk("love your backpacks btw", _signals(Intent.SMALLTALK, 0.8)) == "ok"
    assert small_talk("Thanks, fingers crossed!", _signals(Intent.SMALLTALK, 0.8)) == "thanks"
    assert small_talk("love your backpacks btw", _signals(Intent.SMALLTALK, 0.5)) is None  # not sure enough
    # With thanks in it, small talk needs only be the most likely intent.
    thanks = "Perfect, just placed the new order. Thank you!"
    assert small_talk(thanks, _signals(Intent.SMALLTALK, 0.4)) == "thanks"
    assert small_talk(thanks, _signals(Intent.ORDER_STATUS, 0.4)) is None
    assert small_talk("are you a bot?", _signals(Intent.SMALLTALK, 0.9)) is None  # a question
    assert small_talk("ok order TW-ORD-2026-004512", _signals(Intent.SMALLTALK, 0.9)) is None  # an order number
    long = "we had a lovely time on our trip and the backpack was great all along the way"
    assert small_talk(long, _signals(Intent.SMALLTALK, 0.9)) is None


@pytest.mark.unit
def test_an_angry_thanks_is_no_small_talk() -> None:
    assert small_talk("thanks for nothing!!", _signals(anger=0.8)) is None
    assert small_talk("thanks!!!", _signals(frustration=0.6)) is None
    assert small_talk("thanks!!!", _signals(anger=0.1, frustration=0.1)) == "thanks"


# -- the pipeline on the demo brand ----------------------------------------------------------------------------


def _ask(agent: Agent, market: str, message: str, conversation: str | None = None) -> Reply:
    return agent.answer(AnswerRequest(tenant="tidewell", market=market, channel=Channel.WEB, message=message,
                                      conversation_id=conversation))


@pytest.mark.integration
@pytest.mark.parametrize(("market", "message", "language", "kind"), [
    ("ES", "gracias", "es", "thanks"),
    ("BR", "obrigada!", "pt", "thanks"),
    ("US", "thanks!", "en", "thanks"),
    ("US", "👍👍👍", "en", "ok"),
    ("JP", "ありがとうございます", "ja", "thanks"),
    ("TH", "ขอบคุณครับ", "th", "thanks"),
    ("ID", "terima kasih", "id", "thanks"),
    ("VN", "cảm ơn", "vi", "thanks"),
    ("SG", "谢谢", "zh", "thanks"),
    ("SA", "شكرا", "ar", "thanks"),
    ("DE", "danke", "de", "thanks"),
    ("MX", "¡Perfecto, muchas gracias!", "es", "thanks"),
    ("UK", "Hiya", "en", "hello"),
])
def test_small_talk_gets_the_short_reply_in_the_customers_language(agent: Agent, market: str, message: str,
                                                                    language: str, kind: SmallTalkKind) -> None:
    reply = _ask(agent, market, message)
    assert reply.generator == "smalltalk", (reply.generator, reply.text)
    assert not reply.escalation.escalate
    assert language_family(reply.language) == language_family(language)
    assert small_talk_reply(kind, reply.language) in reply.text
    assert reply.citations == [] and reply.retrieved == [] and reply.confidence == 0.0
    assert not any(word in reply.text for word in TRANSCRIPT_WORDS), reply.text


@pytest.mark.integration
def test_small_talk_in_a_running_conversation_stays_in_its_language_and_shows_the_notices_once(agent: Agent) -> None:
    conversation = f"st-{uuid.uuid4().hex[:8]}"
    first = _ask(agent, "DE", "danke", conversation=conversation)
    assert first.generator == "smalltalk" and first.notices == ["gdpr-privacy"]  # the law's notice is still shown
    question = _ask(agent, "DE", "Wie lange habe ich Zeit für eine Rücksendung?", conversation=conversation)
    assert "30 Tage" in question.text and question.notices == []
    thumbs = _ask(agent, "DE", "👍", conversation=conversation)
    assert thumbs.generator == "smalltalk" and thumbs.language == "de"
    assert thumbs.text == small_talk_reply("ok", "de")


@pytest.mark.integration
@pytest.mark.parametrize(("market", "message", "expected"), [
    ("US", "thanks, and how long do I have to return an item?", "30 days"),
    ("DE", "Danke! Wie lange habe ich Zeit für eine Rücksendung?", "30 Tage"),
    ("BR", "obrigada, qual o prazo para devolução?", "7 dias"),
])
def test_a_question_after_thanks_is_answered_from_knowledge(agent: Agent, market: str, message: str,
                                                            expected: str) -> None:
    reply = _ask(agent, market, message)
    assert reply.generator != "smalltalk" and reply.citations, (reply.generator, reply.text)
    assert expected in reply.text


@pytest.mark.integration
def test_ok_but_a_question_is_no_small_talk(agent: Agent) -> None:
    reply = _ask(agent, "US", "ok but where is my refund")
    assert reply.generator != "smalltalk"
    assert small_talk_reply("ok", "en") not in reply.text


@pytest.mark.integration
def test_thanks_for_nothing_is_not_answered_as_polite_thanks(agent: Agent) -> None:
    reply = _ask(agent, "US", "thanks for nothing!!")
    assert reply.generator != "smalltalk"
    assert small_talk_reply("thanks", "en") not in reply.text and "You're welcome" not in reply.text
    assert not any(word in reply.text for word in TRANSCRIPT_WORDS), reply.text
