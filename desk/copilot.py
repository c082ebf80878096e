"""The copilot: up to three suggested replies to a conversation's latest customer message, for a person at the desk.

Each suggestion is written by the bot's own stages, so a suggestion says what the bot would say from that source:
the agent's ``Retriever`` searches once (the message, or the previous question and the message for a follow-up),
the retrieved evidence is grouped by document (best-ranked first), and the agent's ``Generator`` (extractive
without an LLM, the LLM with the extractive fallback when one is configured) writes one draft per document from
that document's evidence only, so the suggestions are grounded in different sources. Every draft passes the
agent's ``Guardrails`` as a bot reply would; a draft the guardrails replace, a draft that states no fact, or one
with the same text as an earlier one is left out. A document whose best chunk is below ``min_confidence``
(calibrated like the bot's confidence) gives no suggestion; when none is left, ``Suggestions.note`` says why.

Each suggestion is in the customer's language, with its translation into the agent's language
(``agent.translation.Translator``: its quality and note say when no engine could translate it) and its citations.
Suggestions are never stored as a turn and never sent: the agent picks one, edits it and sends it as their own
reply (``desk.replies``).

Example:
    >>> found = suggest(runtime.agent, runtime.translator, conversation, agent_language="zh")  # doctest: +SKIP
    >>> [(s.generator, s.citations[0].title) for s in found.suggestions]
    [('extractive', 'Shipping'), ('extractive', 'Returns')]
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from agent.generators.base import GenerationFailed, GenerationRequest
from agent.guardrails import GuardrailContext
from agent.pipeline import Agent
from agent.retrieval import citation_of, contextual_query
from agent.schema import Citation, Draft, Evidence, Retrieval
from agent.state import Conversation
from agent.translation import Translator

MAX_SUGGESTIONS = 3


class TranslationView(BaseModel):
    """A text in the agent's language, and how far to trust it (``agent.translation``'s quality flag)."""

    text: str
    language: str
    quality: str = Field(description="same_language, translated or unavailable (then text is the original)")
    engine: str
    note: str = ""


class Suggestion(BaseModel):
    text: str = Field(description="the suggested reply body, in the customer's language")
    language: str
    translation: TranslationView = Field(description="the suggestion in the agent's language")
    citations: list[Citation] = Field(description="the knowledge it quotes or draws on")
    generator: str = Field(description="'extractive' or 'llm:<model>'")
    confidence: float = Field(ge=0.0, le=1.0, description="calibrated confidence of its best source")


class Suggestions(BaseModel):
    conversation_id: str
    message: str = Field(default="", description="the customer message the suggestions answer")
    language: str = Field(description="the customer's language")
    agent_language: str
    suggestions: list[Suggestion] = Field(default_factory=list)
    note: str = Field(default="", description="why there are no suggestions, when there are none")


def customer_language(conversation: Conversation, default: str) -> str:
    """The language a reply to the customer is written in: the one they chose, else the conversation's."""
    return conversation.language_override or conversation.language or default


def suggest(agent: Agent, translator: Translator, conversation: Conversation, *, agent_language: str | None,
            limit: int = MAX_SUGGESTIONS) -> Suggestions:
    """Up to ``limit`` suggested replies to ``conversation``'s latest customer message (see the module), translated
    into ``agent_language`` (None: the customer's)."""
    resolved = agent.catalog.resolve(tenant=conversation.tenant, channel=conversation.channel,
                                     market=conversation.market)
    language = customer_language(conversation, resolved.market.default_language)
    agent_language = agent_language or language
    found = Suggestions(conversation_id=conversation.id, language=language, agent_language=agent_language)
    at = next((i for i in range(len(conversation.turns) - 1, -1, -1) if conversation.turns[i].role == "customer"),
              None)
    if at is None:
        return found.model_copy(update={"note": "the customer has not written yet"})
    message, history = conversation.turns[at], conversation.turns[:at]
    query, rewritten = contextual_query(message.text, history)
    retrieval = agent.retriever.run(query, rewritten=rewritten, tenant=conversation.tenant,
                                    market=conversation.market, language=language)
    customer_texts = [t.text for t in conversation.turns if t.role == "customer"]
    suggestions: list[Suggestion] = []
    for evidence in _by_document(retrieval.evidence):
        confidence = agent.retriever.calibration.confidence(evidence[0].similarity, language,
                                                            evidence[0].chunk.language)
        if confidence < agent.settings.min_confidence:
            continue
        request = GenerationRequest(
            message=message.text, query=retrieval.query, language=language, persona=resolved.persona,
            market=resolved.market, channel=conversation.channel, evidence=evidence, confidence=confidence,
            min_confidence=agent.settings.min_confidence, history=list(history), query_vector=retrieval.query_vector)
        draft = _written(agent, request, customer_texts)
        if draft is None or any(s.text == draft.body for s in suggestions):
            continue
        translation = translator.translate(draft.body, language, agent_language)
        by_number = {e.number: e for e in evidence}
        suggestions.append(Suggestion(
            text=draft.body, language=language, generator=draft.generator, confidence=round(confidence, 4),
            citations=[citation_of(by_number[n]) for n in draft.cited if n in by_number],
            translation=TranslationView(text=translation.text, language=agent_language, quality=translation.quality,
                                        engine=translation.engine, note=translation.note)))
        if len(suggestions) == limit:
            break
    note = "" if suggestions else _nothing_found(retrieval, agent.settings.min_confidence)
    return found.model_copy(update={"message": message.text, "suggestions": suggestions, "note": note})


def _by_document(evidence: Sequence[Evidence]) -> list[list[Evidence]]:
    """The evidence grouped by document, groups in the order of their best-ranked chunk."""
    groups: dict[str, list[Evidence]] = {}
    for item in evidence:
        groups.setdefault(item.chunk.document_id, []).append(item)
    return list(groups.values())


def _written(agent: Agent, request: GenerationRequest, customer_texts: list[str]) -> Draft | None:
    """The generator's draft from ``request``'s evidence, its body after the guardrails; None when it states no
    fact or the guardrails had to replace it (the safe reply is no suggestion)."""
    try:
        draft = agent.generator.generate(request)
    except GenerationFailed:
        return None
    if not draft.grounded or not draft.cited:
        return None
    context = GuardrailContext(persona=request.persona, market=request.market, language=request.language,
                               max_body_chars=request.persona.max_reply_chars, customer_texts=customer_texts,
                               evidence=request.evidence, content_language=draft.content_language, prompt=draft.prompt)
    checked = agent.guardrails.check(draft.body, context)
    if checked.replaced or not checked.body.strip():
        return None
    return draft.model_copy(update={"body": checked.body})


def _nothing_found(retrieval: Retrieval, min_confidence: float) -> str:
    if not retrieval.evidence:
        return "nothing in the knowledge matches this message"
    return (f"nothing in the knowledge answers this message with enough confidence (best {retrieval.confidence:.2f}, "
            f"needed {min_confidence:.2f}); write the reply yourself")
