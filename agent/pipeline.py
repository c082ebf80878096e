"""The answer pipeline: one customer message in, one ``Reply`` out, in typed stages.

Read ``Agent.answer`` top to bottom; each stage is timed into ``Reply.timings_ms``:

1. ``state``: load the conversation from Redis (or start one). A conversation a human
   owns gets no bot reply: ``status="handed_off"`` and an empty text, the message is
   still recorded.
2. ``persona``: resolve (tenant, channel, market) to the persona and market rules.
3. ``language``: the reply language (``agent.language``).
4. ``retrieval``: follow-up rewrite, hybrid search with market and language preference,
   confidence (``agent.retrieval``).
5. ``generation``: the LLM generator when ``POLYDESK_LLM_MODEL`` is set (it falls back to
   the extractive one when the provider fails), else the extractive generator.
6. ``guardrails``: every body is checked (``agent.guardrails``); an LLM body that has to be
   replaced is replaced by the extractive answer, which is checked again; a body that
   still fails becomes the safe reply.
7. ``reply``: greeting (first reply of a conversation), body, sign-off, and the market's
   compliance notices once per conversation; the conversation is saved.

Example:
    >>> with Agent.open(Settings()) as agent:                                    # doctest: +SKIP
    ...     reply = agent.answer(AnswerRequest(tenant="tidewell", channel="line", market="JP",
    ...                                        message="返品は何日以内にできますか？"))
    >>> reply.persona_id, reply.language, reply.generator
    ('jp-keigo', 'ja', 'extractive')
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from agent.extractive import ExtractiveGenerator
from agent.generation import GenerationRequest, Generator
from agent.guardrails import GuardrailContext, Guardrails
from agent.language import LanguageStage
from agent.retrieval import Retriever
from agent.schema import AnswerRequest, Citation, Draft, Evidence, GuardrailFinding, Reply, Turn
from agent.state import Conversation, ConversationStore, new_conversation_id
from knowledge.index import KnowledgeIndex
from personas import PersonaCatalog, ResolvedPersona
from polydesk.settings import Settings

_SEPARATOR = "\n\n"


class _Clock:
    """Milliseconds per stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round((time.perf_counter() - began) * 1000, 3)

    def total(self) -> dict[str, float]:
        return {**self.timings, "total": round((time.perf_counter() - self.start) * 1000, 3)}


class Agent:
    def __init__(self, *, index: KnowledgeIndex, catalog: PersonaCatalog, conversations: ConversationStore,
                 generator: Generator | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.index = index
        self.catalog = catalog
        self.conversations = conversations
        self.language = LanguageStage()
        self.retriever = Retriever(index, top_k=self.settings.answer_top_k)
        self.extractive = ExtractiveGenerator(embedder=index.embedder, tokenizer=index.sparse)
        self.generator: Generator = generator or self.extractive
        self.guardrails = Guardrails()

    @classmethod
    def open(cls, settings: Settings, *, index: KnowledgeIndex | None = None) -> Agent:
        """An agent on the configured knowledge index, personas, Redis and generator."""
        catalog = PersonaCatalog.load(settings.personas_dir)
        index = index or KnowledgeIndex.open(settings)
        conversations = ConversationStore.open(settings)
        agent = cls(index=index, catalog=catalog, conversations=conversations, settings=settings)
        if settings.llm_model:
            from agent.llm import LLMGenerator

            agent.generator = LLMGenerator.from_settings(settings, fallback=agent.extractive)
        return agent

    def close(self) -> None:
        self.conversations.close()
        self.index.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def answer(self, request: AnswerRequest) -> Reply:
        clock = _Clock()
        with clock.stage("state"):
            conversation = self._conversation(request)
        with clock.stage("persona"):
            resolved = self.catalog.resolve(tenant=request.tenant, channel=request.channel, market=request.market)
        if conversation.owner == "human":
            return self._handed_off(request, conversation, resolved, clock)

        with clock.stage("language"):
            if request.language:
                conversation.language_override = request.language
            decision = self.language.run(request.message, market=resolved.market,
                                         conversation_language=conversation.language,
                                         override=conversation.language_override, locale=request.locale)
        with clock.stage("retrieval"):
            retrieval = self.retriever.run(request.message, tenant=request.tenant, market=request.market,
                                           language=decision.language, history=conversation.turns)
        generation = GenerationRequest(
            message=request.message, query=retrieval.query, language=decision.language, persona=resolved.persona,
            market=resolved.market, channel=request.channel, evidence=retrieval.evidence,
            confidence=retrieval.confidence, min_confidence=self.settings.min_confidence,
            history=list(conversation.turns), query_vector=retrieval.query_vector,
        )
        with clock.stage("generation"):
            draft = self.generator.generate(generation)
        greeting = "" if conversation.bot_has_replied else resolved.persona.greeting(decision.language)
        sign_off = resolved.persona.sign_off(decision.language)
        with clock.stage("guardrails"):
            context = GuardrailContext(
                persona=resolved.persona, market=resolved.market, language=decision.language,
                max_body_chars=max(40, resolved.persona.max_reply_chars - len(greeting) - len(sign_off) - 4),
                customer_texts=[t.text for t in conversation.turns if t.role == "customer"] + [request.message],
                evidence=retrieval.evidence, content_language=draft.content_language,
            )
            draft, findings = self._checked(draft, generation, context)
        if draft.llm_ms:
            clock.timings["llm"] = round(draft.llm_ms, 3)

        notices = [n for n in resolved.market.compliance
                   if not (n.once_per_conversation and n.id in conversation.notices_shown)]
        text = _SEPARATOR.join(part for part in (
            greeting, draft.body, sign_off,
            *(n.text_for(decision.language, default=resolved.market.default_language) for n in notices),
        ) if part)
        by_number = {e.number: e for e in retrieval.evidence}
        citations = [_citation(by_number[n]) for n in draft.cited if n in by_number]

        with clock.stage("save"):
            conversation.language = decision.language
            conversation.persona_id = resolved.persona.id
            conversation.notices_shown.extend(n.id for n in notices if n.id not in conversation.notices_shown)
            now = time.time()
            conversation.add(Turn(role="customer", text=request.message, language=decision.detected, at=now,
                                  query=retrieval.query), max_turns=self.conversations.max_turns)
            conversation.add(Turn(role="bot", text=text, language=decision.language, at=now,
                                  confidence=retrieval.confidence), max_turns=self.conversations.max_turns)
            self.conversations.save(conversation)
        return Reply(
            status="answered", conversation_id=conversation.id, text=text, language=decision.language,
            persona_id=resolved.persona.id, generator=draft.generator, citations=citations,
            confidence=round(retrieval.confidence, 4), guardrails=findings, fallback_reason=draft.fallback_reason,
            notices=[n.id for n in notices], query=retrieval.query, timings_ms=clock.total(),
        )

    # -- stages' helpers ---------------------------------------------------------------------------------------

    def _conversation(self, request: AnswerRequest) -> Conversation:
        if request.conversation_id:
            found = self.conversations.get(request.tenant, request.conversation_id)
            if found is not None:
                found.market, found.channel = request.market, request.channel
                return found
        conversation_id = request.conversation_id or new_conversation_id()
        return Conversation.start(tenant=request.tenant, conversation_id=conversation_id, market=request.market,
                                  channel=request.channel, customer_id=request.customer_id)

    def _checked(self, draft: Draft, generation: GenerationRequest,
                 context: GuardrailContext) -> tuple[Draft, list[GuardrailFinding]]:
        """The draft after guardrails; a replaced LLM draft gives way to the extractive one, checked again."""
        result = self.guardrails.check(draft.body, context)
        findings = list(result.findings)
        if result.replaced and draft.generator != self.extractive.name:
            fallback = self.extractive.generate(generation)
            fallback = fallback.model_copy(update={"fallback_reason": "guardrails"})
            context = dataclasses.replace(context, content_language=fallback.content_language)
            result = self.guardrails.check(fallback.body, context)
            findings += result.findings
            draft = fallback
        if result.replaced:
            return draft.model_copy(update={"body": result.body, "cited": [], "grounded": False}), findings
        return draft.model_copy(update={"body": result.body}), findings

    def _handed_off(self, request: AnswerRequest, conversation: Conversation, resolved: ResolvedPersona,
                    clock: _Clock) -> Reply:
        """A human owns the conversation: record the message, say nothing."""
        language = conversation.language or resolved.market.default_language
        with clock.stage("save"):
            conversation.add(Turn(role="customer", text=request.message, language=language, at=time.time()),
                             max_turns=self.conversations.max_turns)
            self.conversations.save(conversation)
        return Reply(status="handed_off", conversation_id=conversation.id, text="", language=language,
                     persona_id=resolved.persona.id, generator="none", confidence=0.0, timings_ms=clock.total())


def _citation(evidence: Evidence) -> Citation:
    chunk = evidence.chunk
    return Citation(document_id=chunk.document_id, title=chunk.title or chunk.document_id, chunk_id=chunk.point_id,
                    score=round(evidence.similarity, 4), source=chunk.source, kind=chunk.kind, market=chunk.market,
                    language=chunk.language)
