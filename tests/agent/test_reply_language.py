"""One language per reply: greeting, body, sign-off and notices in the reply language, whatever the market."""

from __future__ import annotations

import pytest

from agent.phrases import language_name, say, say_in
from agent.pipeline import Agent
from agent.schema import AnswerRequest, Reply
from personas import PersonaCatalog
from polydesk.language import LanguageDetector, language_family

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CATALOG = PersonaCatalog.load()
DETECTOR = LanguageDetector()


def ask(agent: Agent, message: str, market: str, channel: str = "web") -> Reply:
    return agent.answer(AnswerRequest(tenant="tidewell", market=market, channel=channel, message=message))


def language_of(text: str) -> str:
    return language_family(DETECTOR.detect(text, default="??"))


def test_a_german_question_in_the_us_is_answered_in_german_throughout(agent: Agent) -> None:
    reply = ask(agent, "Wie lange habe ich Zeit für eine Rücksendung?", "US")
    persona = CATALOG.persona("us-friendly")
    assert reply.language == "de" and reply.persona_id == "us-friendly" and reply.market == "US"
    parts = reply.text.split("\n\n")
    greeting, body, sign_off = parts[0], parts[1:-1], parts[-1]
    # us-friendly speaks English and Spanish only: the built-in German greeting and sign-off stand in.
    assert greeting == say_in("greeting", "de") and sign_off == say_in("sign_off", "de")
    assert language_of(greeting) == "de" and language_of(sign_off) == "de"
    for english in (*persona.greetings.values(), *persona.sign_offs.values()):
        assert english not in reply.text
    # The body is German, or English policy quoted after a German note that says so.
    assert body and language_of(body[0]) == "de"
    if reply.citations and reply.citations[0].language == "en":
        assert body[0] == say("source_language", "de", source="Englisch")


@pytest.mark.parametrize(
    ("message", "market", "language", "persona_id", "notice_id"),
    [
        ("ส่งฟรีเมื่อซื้อครบเท่าไหร่", "DE", "th", "de-formal", "gdpr-privacy"),
        ("ما هي مدة إرجاع المنتجات؟", "FR", "ar", "precise-professional", "gdpr-privacy"),
        ("返品は何日以内にできますか？", "UK", "ja", "precise-professional", "uk-gdpr-privacy"),
    ],
)
def test_a_foreign_customer_in_europe_gets_the_privacy_notice_in_their_language(
    agent: Agent, message: str, market: str, language: str, persona_id: str, notice_id: str
) -> None:
    reply = ask(agent, message, market)
    resolved = CATALOG.resolve(tenant="tidewell", channel="web", market=market)
    assert reply.language == language and reply.persona_id == persona_id and reply.notices == [notice_id]
    parts = reply.text.split("\n\n")
    notice = resolved.market.compliance[0]
    assert parts[-1] == notice.text[language] and language_of(parts[-1]) == language_family(language)
    # Neither the persona's texts nor the market's notice in another language surround the body.
    assert parts[0] == say_in("greeting", language) and parts[-2] == say_in("sign_off", language)
    for other, text in [*resolved.persona.greetings.items(), *resolved.persona.sign_offs.items(),
                        *notice.text.items()]:
        assert other == language or text not in reply.text, other


@pytest.mark.parametrize(
    ("message", "market", "source"),
    [
        ("Packing cubes มีกี่ชิ้นในชุด", "TH", "en"),     # English product knowledge, a Thai customer
        ("คืนสินค้าได้ภายในกี่วัน", "JP", "ja"),              # Japanese policy, a Thai customer in Japan
    ],
)
def test_quoted_knowledge_in_another_language_carries_a_note_in_the_customers(
    agent: Agent, message: str, market: str, source: str
) -> None:
    reply = ask(agent, message, market, channel="line")
    assert reply.language == "th" and reply.citations and reply.citations[0].language == source
    note = say("source_language", "th", source=language_name(source, "th"))
    assert note in reply.text and language_of(note) == "th"
    assert note == {"en": "ข้อมูลนี้มีเป็นภาษาอังกฤษ:", "ja": "ข้อมูลนี้มีเป็นภาษาญี่ปุ่น:"}[source]
