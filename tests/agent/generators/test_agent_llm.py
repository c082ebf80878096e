"""The whole pipeline with an LLM: the real local model end to end, and a provider that is down."""

from __future__ import annotations

import pytest

from agent.generators import ExtractiveGenerator, FallbackGenerator
from agent.generators.llm import LLMGenerator
from agent.pipeline import Agent
from agent.schema import AnswerRequest
from personas import PersonaCatalog

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _agent_with(agent: Agent, llm: LLMGenerator) -> Agent:
    """``agent``'s parts with ``llm`` falling back to the extractive generator, as ``create_generator`` builds it."""
    extractive = ExtractiveGenerator(embedder=agent.index.embedder, tokenizer=agent.index.sparse)
    return Agent(index=agent.index, catalog=agent.catalog, conversations=agent.conversations,
                 generator=FallbackGenerator(llm, extractive), escalation=agent.escalation_policy,
                 settings=agent.settings)


def test_the_local_model_answers_through_the_pipeline(agent: Agent) -> None:
    llm = LLMGenerator("polydesk-local/smollm2", max_tokens=48, temperature=0.0, timeout_s=120)
    with_llm = _agent_with(agent, llm)
    reply = with_llm.answer(AnswerRequest(tenant="tidewell", market="US", channel="web",
                                          message="How much does shipping cost?"))
    # The model writes English; a body the guardrails had to replace would come back as extractive.
    assert reply.generator == "llm:polydesk-local/smollm2", reply.model_dump_json(indent=2)
    assert reply.fallback_reason is None
    assert reply.timings_ms["llm"] > 0 and reply.timings_ms["total"] >= reply.timings_ms["llm"]
    persona = PersonaCatalog.load().persona(reply.persona_id)
    assert reply.text.startswith(persona.greeting("en")) and persona.sign_off("en") in reply.text
    assert reply.citations and len(reply.text) <= persona.max_reply_chars


def test_a_provider_that_is_down_falls_back_to_extractive(agent: Agent) -> None:
    down = LLMGenerator("openai/gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="sk-test", timeout_s=5)
    with_llm = _agent_with(agent, down)
    reply = with_llm.answer(AnswerRequest(tenant="tidewell", market="DE", channel="web",
                                          message="Ab welchem Bestellwert ist der Versand kostenlos?"))
    assert (reply.generator, reply.fallback_reason) == ("extractive", "provider_unavailable")
    assert "50 €" in reply.text and reply.citations


def test_a_handed_off_conversation_gets_no_bot_reply(agent: Agent) -> None:
    first = agent.answer(AnswerRequest(tenant="tidewell", market="TH", channel="line", message="ส่งฟรีไหมคะ"))
    conversation = agent.conversations.get("tidewell", first.conversation_id)
    assert conversation is not None
    conversation.owner = "human"
    agent.conversations.save(conversation)
    reply = agent.answer(AnswerRequest(tenant="tidewell", market="TH", channel="line", message="ยังอยู่ไหมคะ",
                                       conversation_id=first.conversation_id))
    assert (reply.status, reply.text, reply.citations) == ("handed_off", "", [])
    stored = agent.conversations.get("tidewell", first.conversation_id)
    assert stored is not None and stored.turns[-1].text == "ยังอยู่ไหมคะ"
