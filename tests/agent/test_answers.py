"""The answer pipeline on the demo brand: market facts, languages, personas, follow-ups, honesty, guardrails."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.phrases import say
from agent.pipeline import Agent
from agent.schema import AnswerRequest, Reply
from ingestion.pipeline import Ingestor
from ingestion.sources import SourceOptions
from personas import PersonaCatalog

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CATALOG = PersonaCatalog.load()


def ask(agent: Agent, message: str, market: str, channel: str = "web", conversation_id: str | None = None,
        tenant: str = "tidewell") -> Reply:
    return agent.answer(AnswerRequest(tenant=tenant, market=market, channel=channel, message=message,
                                      conversation_id=conversation_id))


def test_a_german_customer_gets_the_german_return_window(agent: Agent) -> None:
    reply = ask(agent, "Wie lange habe ich Zeit für eine Rücksendung?", "DE")
    assert reply.language == "de" and reply.persona_id == "de-formal"
    assert "30 Tage" in reply.text and "days" not in reply.text
    assert reply.citations and {c.market for c in reply.citations} <= {"DE", "*"}
    assert all(c.language == "de" for c in reply.citations)
    assert reply.notices == ["gdpr-privacy"] and "Datenschutz" in reply.text


def test_a_brazilian_customer_gets_seven_days_not_thirty(agent: Agent) -> None:
    reply = ask(agent, "Qual o prazo para devolução?", "BR", channel="whatsapp")
    assert reply.language == "pt" and "7 dias" in reply.text and "30" not in reply.text


def test_a_thai_question_is_answered_from_thai_knowledge(agent: Agent) -> None:
    reply = ask(agent, "ส่งฟรีเมื่อซื้อครบเท่าไหร่", "TH", channel="line")
    assert reply.language == "th" and reply.persona_id == "warm-quick"
    assert "฿1,000" in reply.text
    assert reply.citations[0].language == "th" and reply.citations[0].market == "TH"


def test_a_thai_question_without_thai_knowledge_quotes_english_with_a_thai_greeting(agent: Agent) -> None:
    reply = ask(agent, "Packing cubes มีกี่ชิ้นในชุด", "TH", channel="line")
    assert reply.language == "th"
    assert reply.text.startswith(CATALOG.persona("warm-quick").greeting("th"))
    assert reply.citations[0].language == "en"
    assert say("source_language", "th", source="ภาษาอังกฤษ") in reply.text
    # "How many pieces": the catalogue's line with the number ("Pieces: 3 — S, M, L") or its "Three cubes".
    assert "Pieces: 3" in reply.text or "Three cubes" in reply.text
    assert not [f for f in reply.guardrails if f.action == "replaced"]


def test_a_follow_up_uses_the_conversation(agent: Agent) -> None:
    first = ask(agent, "How much does shipping cost?", "US")
    assert "$75" in first.text
    follow = ask(agent, "and which carriers?", "US", conversation_id=first.conversation_id)
    assert follow.query.startswith("How much does shipping cost?")
    assert "UPS" in follow.text
    # The greeting opens a conversation once.
    assert not follow.text.startswith(CATALOG.persona("us-friendly").greeting("en"))


def test_a_japanese_reply_uses_the_keigo_persona(agent: Agent) -> None:
    reply = ask(agent, "返品は何日以内にできますか？", "JP", channel="line")
    persona = CATALOG.persona("jp-keigo")
    assert reply.persona_id == "jp-keigo" and reply.language == "ja"
    assert reply.text.startswith(persona.greeting("ja")) and persona.sign_off("ja") in reply.text
    assert "8日" in reply.text


def test_an_unknown_question_gets_an_honest_dont_know(agent: Agent) -> None:
    for message, market, language in [("Who won the football world cup in 1998?", "US", "en"),
                                      ("Apa resep nasi goreng yang paling enak?", "ID", "id"),
                                      ("日本の首相は誰ですか？", "JP", "ja")]:
        reply = ask(agent, message, market)
        assert reply.confidence < agent.settings.min_confidence
        assert say("dont_know", language) in reply.text and reply.citations == []


@pytest.fixture(scope="module")
def gulf_tenant(agent: Agent) -> str:
    """A brand whose Gulf knowledge carries phrases the Gulf market forbids."""
    folder = Path(__file__).parent / "data" / "gulf"
    report = Ingestor(index=agent.index, settings=agent.settings).ingest(
        [folder], SourceOptions(tenant="gulf-brand", market="SA", kind="faq"))
    assert [f.status for f in report.files] == ["added"]
    return "gulf-brand"


def test_a_forbidden_term_never_reaches_a_gulf_customer(agent: Agent, gulf_tenant: str) -> None:
    market = CATALOG.market("SA")
    forbidden = [t.casefold() for terms in market.culture.avoid_terms.values() for t in terms]
    for message in ("متى يصل طلبي إلى الرياض؟", "When will my order arrive in Riyadh?"):
        reply = ask(agent, message, "SA", channel="whatsapp", tenant=gulf_tenant)
        assert reply.citations, "the knowledge with the forbidden phrase must have been used"
        assert not [t for t in forbidden if t in reply.text.casefold()]
        assert any(f.rule == "forbidden_term" for f in reply.guardrails)


def test_every_reply_reports_its_stages(agent: Agent) -> None:
    reply = ask(agent, "Bisa bayar pakai GoPay?", "ID", channel="whatsapp")
    assert set(reply.timings_ms) >= {"state", "persona", "language", "retrieval", "generation", "guardrails", "save",
                                     "total"}
    assert reply.generator == "extractive" and reply.status == "answered"
