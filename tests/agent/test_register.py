"""The register of a persona: a formal persona ("Sie") never quotes a source that says "du"."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from agent.generators.base import GenerationRequest
from agent.generators.extractive import ExtractiveGenerator
from agent.guardrails import GuardrailContext, Guardrails
from agent.pipeline import Agent
from agent.register import informal_forms, needs_formal_register
from agent.schema import AnswerRequest
from ingestion.pipeline import Ingestor
from ingestion.sources import SourceOptions
from personas import PersonaCatalog

CATALOG = PersonaCatalog.load()
QUESTION = "Wie lange habe ich Zeit für eine Rücksendung?"
POLICY = """# Rückgabe

Für eine Rücksendung haben Sie 30 Tage ab Erhalt Zeit. Die Rücksendung ist für Sie kostenlos: Sie erhalten von
uns ein Retourenetikett per E-Mail.
"""
SHIPPING = """# Versand

Ab 50 € Bestellwert liefern wir versandkostenfrei, darunter berechnen wir 4,95 €. Die Lieferung dauert 2–3 Werktage.
"""
# Another customer's chat, answered informally: it asks the very question, so it ranks first.
CHAT = {"conversation_id": "c-1", "market": "DE", "language": "de", "turns": [
    {"role": "customer", "text": "Hallo, wie lange habe ich Zeit für eine Rücksendung?"},
    {"role": "agent", "text": "Hallo! Du hast 30 Tage ab Erhalt Zeit. Die Rücksendung ist für dich kostenlos."}]}


def _ingest(agent: Agent, tenant: str, folder: Path, *, policies: bool) -> None:
    (folder / "chats.jsonl").write_text(json.dumps(CHAT, ensure_ascii=False) + "\n", encoding="utf-8")
    ingestor = Ingestor(index=agent.index, settings=agent.settings)
    ingestor.ingest([folder / "chats.jsonl"], SourceOptions(tenant=tenant, market="DE"))
    if policies:
        (folder / "policies").mkdir()
        (folder / "policies" / "rueckgabe.md").write_text(POLICY, encoding="utf-8")
        (folder / "policies" / "versand.md").write_text(SHIPPING, encoding="utf-8")
        ingestor.ingest([folder / "policies"], SourceOptions(tenant=tenant, market="DE", kind="policy"))


@pytest.fixture(scope="module")
def formal_brand(agent: Agent, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A brand whose policy says "Sie" and whose past chat says "du"."""
    _ingest(agent, "formal-brand", tmp_path_factory.mktemp("formal"), policies=True)
    return "formal-brand"


@pytest.fixture(scope="module")
def chat_only_brand(agent: Agent, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A brand whose only knowledge is the informal chat."""
    _ingest(agent, "chat-only-brand", tmp_path_factory.mktemp("chat"), policies=False)
    return "chat-only-brand"


@pytest.mark.integration
@pytest.mark.slow
def test_a_formal_persona_skips_a_past_chat_in_du_that_ranks_first(agent: Agent, formal_brand: str) -> None:
    retrieval = agent.retriever.run(QUESTION, tenant=formal_brand, market="DE", language="de")
    chat = next(e for e in retrieval.evidence if e.chunk.kind == "conversation")
    # Whatever the ranking does (it may well prefer the policy), put the informal chat first.
    evidence = [chat, *(e for e in retrieval.evidence if e is not chat)]
    resolved = CATALOG.resolve(tenant=formal_brand, channel="web", market="DE")
    request = GenerationRequest(message=QUESTION, query=QUESTION, language="de", persona=resolved.persona,
                                market=resolved.market, channel="web", evidence=evidence, confidence=1.0,
                                min_confidence=0.0, query_vector=retrieval.query_vector)
    generator = ExtractiveGenerator(embedder=agent.index.embedder, tokenizer=agent.index.sparse)
    draft = generator.generate(request)
    assert "30 Tage" in draft.body and informal_forms(draft.body, "de") == []
    assert draft.cited == [next(e.number for e in evidence if e.chunk.document_id == "rueckgabe.md")]
    # A casual persona quotes the best source as it is.
    draft = generator.generate(replace(request, persona=CATALOG.persona("us-friendly"), market=CATALOG.market("US")))
    assert draft.cited == [chat.number] and "Du hast 30 Tage" in draft.body


@pytest.mark.integration
@pytest.mark.slow
def test_a_de_formal_reply_never_says_du(agent: Agent, formal_brand: str) -> None:
    reply = agent.answer(AnswerRequest(tenant=formal_brand, market="DE", channel="web", message=QUESTION))
    assert reply.persona_id == "de-formal" and reply.language == "de"
    assert "chats.jsonl" in reply.retrieved  # the chat was found ...
    assert reply.citations[0].document_id == "rueckgabe.md"  # ... and the policy answered
    assert "30 Tage" in reply.text and informal_forms(reply.text, "de") == []
    assert not [f for f in reply.guardrails if f.rule == "register"]


@pytest.mark.integration
@pytest.mark.slow
def test_with_no_formal_source_the_informal_quote_is_flagged(agent: Agent, chat_only_brand: str) -> None:
    reply = agent.answer(AnswerRequest(tenant=chat_only_brand, market="DE", channel="web", message=QUESTION))
    assert reply.citations[0].document_id == "chats.jsonl" and "30 Tage" in reply.text
    [finding] = [f for f in reply.guardrails if f.rule == "register"]
    assert finding.action == "flagged" and "Du" in finding.detail and "dich" in finding.detail


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Die Rücksendung ist für dich kostenlos. Du hast 30 Tage Zeit, gib deine Nummer an.", "de",
         ["dich", "Du", "deine"]),
        ("Sie haben 30 Tage Zeit. Ihr Paket, Ihre Bestellung: wir erstatten Ihnen den Betrag. Dirham.", "de", []),
        ("Tu peux retourner ta commande, on t'envoie une étiquette.", "fr", ["Tu", "ta", "t'"]),
        ("Vous pouvez retourner votre commande ; nous vous envoyons une étiquette.", "fr", []),
        ("Te enviamos tu número de guía.", "es-MX", ["Te", "tu"]),
        ("Le enviamos su número de guía; usted tiene 20 días. Un té, por favor.", "es", []),
        ("返品は8日以内だよ。送料は無料だ。", "ja", ["だよ", "だ"]),
        ("返品は8日以内にお手続きください。送料は無料でございます。", "ja", []),
        ("You can return it within 30 days.", "en", []),
        ("Você tem 7 dias para devolver.", "pt", []),  # "você" is fine in Brazil
    ],
)
def test_informal_forms_of_address(text: str, language: str, expected: list[str]) -> None:
    assert informal_forms(text, language) == expected


@pytest.mark.unit
@pytest.mark.parametrize(
    ("persona", "market", "language", "formal"),
    [
        ("de-formal", "DE", "de", True),
        ("precise-professional", "FR", "fr", True),
        ("latam-friendly", "MX", "es", True),   # a neutral persona, but Mexico requires "usted"
        ("latam-friendly", "BR", "pt", False),  # "você"
        ("us-friendly", "US", "es", False),     # US Spanish says "tú"
        ("jp-keigo", "JP", "ja", True),
    ],
)
def test_which_replies_need_the_formal_register(persona: str, market: str, language: str, formal: bool) -> None:
    assert needs_formal_register(CATALOG.persona(persona), CATALOG.market(market), language) is formal


@pytest.mark.unit
def test_the_guardrails_flag_informal_address_and_keep_the_body() -> None:
    context = GuardrailContext(persona=CATALOG.persona("de-formal"), market=CATALOG.market("DE"), language="de",
                               max_body_chars=500)
    result = Guardrails().check("Du hast 30 Tage ab Erhalt Zeit. Die Rücksendung ist für dich kostenlos.", context)
    assert result.body.startswith("Du hast 30 Tage") and not result.replaced
    assert [(f.rule, f.action) for f in result.findings] == [("register", "flagged")]
    formal = Guardrails().check("Sie haben 30 Tage ab Erhalt Zeit.", context)
    assert formal.findings == []
