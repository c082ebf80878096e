"""The answer pipeline: one customer message in, one ``Reply`` out, in typed stages.

Read ``Agent.answer`` top to bottom; each stage is timed into ``Reply.timings_ms``:

1. ``state``: take the conversation's lock (one message at a time per conversation) and
   load it from Redis (or start one). A conversation a human owns gets no bot reply:
   ``status="handed_off"`` and an empty text; the message is still recorded.
2. ``persona``: resolve (tenant, channel, market) to the persona and market rules.
3. ``language``: the reply language (``agent.language``).
4. ``embedding``: one pass embeds the message (and, for a follow-up, the message with its
   context): the signals and the retrieval share it.
5. ``signals``: intent, keyword rules and frustration decide whether a human takes over
   (``agent.escalation``); if so the reply tells the customer when a person answers, the
   conversation is handed off and a ``handoff`` event is published (steps 6-8 are skipped). A brand tool
   that applies (an order number in the message, or its intent: ``agent.tools``) is called and its reply
   template answers (``Reply.tool_calls`` says which, with what, how it went); a failed call may hand off
   (reason ``tool_failed``). Small talk ("thanks!", "ok 👍", "ขอบคุณครับ") gets the agent's own short reply
   instead (``agent.smalltalk``).
6. ``retrieval``: follow-up rewrite, hybrid search with market and language preference,
   confidence (``agent.retrieval``). Messages the bot cannot answer, several in a row on one
   topic, hand off too (reason ``low_confidence``).
7. ``generation``: the LLM generator when ``POLYDESK_LLM_MODEL`` is set (it falls back to
   the extractive one when the provider fails), else the extractive generator.
8. ``guardrails``: every body is checked (``agent.guardrails``); an LLM body that has to be
   replaced is replaced by the extractive answer, which is checked again; a body that
   still fails becomes the safe reply.
9. ``save``: greeting (first reply of a conversation), body, sign-off, and the market's
   compliance notices once per conversation; the conversation is saved.

``Agent.release`` hands a conversation back to the bot (and publishes a ``release`` event);
``Agent.preview`` answers without touching any state (trying a persona); ``Agent.safe_reply``
is the reply for when Redis or the store is down.

The agent is built on resources it is handed (``api.runtime.Runtime`` opens and closes them) and
owns none of them.

Example:
    >>> with Runtime.open(Settings()) as runtime:                                # doctest: +SKIP
    ...     reply = runtime.agent.answer(AnswerRequest(tenant="tidewell", channel="line", market="JP",
    ...                                        message="返品は何日以内にできますか？"))
    >>> reply.persona_id, reply.language, reply.generator
    ('jp-keigo', 'ja', 'extractive')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable

import numpy as np

from agent.escalation import EscalationPolicy, Signals, customer_notice, plan_handoff, summary
from agent.events import HandoffEvent
from agent.generators.base import GenerationRequest, Generator
from agent.generators.extractive import ExtractiveGenerator
from agent.generators.fallback import FallbackGenerator
from agent.guardrails import GuardrailContext, Guardrails
from agent.language import LanguageStage
from agent.outcomes import OutcomeRecorder
from agent.ownership import release
from agent.phrases import greeting_for, notice_text, say, sign_off_for, small_talk_reply
from agent.retrieval import Retriever, citation_of, contextual_query, follow_up_vector, ranked_documents
from agent.schema import (
    AnswerRequest,
    Draft,
    Escalation,
    GuardrailFinding,
    LanguageDecision,
    Reply,
    Retrieval,
    Turn,
)
from agent.smalltalk import small_talk
from agent.stages import DryRunConversations
from agent.stages import StageClock as _Clock
from agent.state import (
    Conversation,
    ConversationStore,
    Handoff,
    SaveHook,
    decode_vector,
    encode_vector,
    new_conversation_id,
)
from agent.tools.stage import ToolOutcome, ToolRequest, ToolStage
from knowledge.index import KnowledgeIndex
from personas import ComplianceNotice, EscalationRules, Intent, PersonaCatalog, ResolvedPersona, Thresholds
from personas.routing import Channel
from polydesk.settings import Settings

_SEPARATOR = "\n\n"
# Cosine of two messages' embeddings above which they are on one topic (multilingual-e5-small: paraphrases
# score about 0.9, unrelated questions of one shop about 0.8).
SAME_TOPIC = 0.86
WARM_UP_TENANT = "polydesk-warm-up"


class Agent:
    """The answer pipeline on the resources it is handed: the index it searches and embeds with, the personas,
    the conversation store, the escalation policy, the generator (default: extractive) and the brand tools
    (``agent.tools``; default: none)."""

    def __init__(self, *, index: KnowledgeIndex, catalog: PersonaCatalog, conversations: ConversationStore,
                 escalation: EscalationPolicy, generator: Generator | None = None,
                 settings: Settings | None = None, recorder: OutcomeRecorder | None = None,
                 tools: ToolStage | None = None) -> None:
        self.settings = settings or Settings()
        self.recorder = recorder  # outcome counters (agent.outcomes): answers only, never previews
        self.index = index
        self.catalog = catalog
        self.conversations = conversations
        self.language = LanguageStage()
        self.escalation_policy = escalation
        self.retriever = Retriever(index, top_k=self.settings.answer_top_k)
        self.generator: Generator = generator or ExtractiveGenerator(embedder=index.embedder, tokenizer=index.sparse)
        self.guardrails = Guardrails()
        self.tools = tools
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)  # support hours are read on it

    def answer(self, request: AnswerRequest, *, on_save: SaveHook | None = None) -> Reply:
        """The reply to ``request``, its turns saved in its conversation; ``on_save`` adds writes to that save's
        transaction (an idempotent request's stored reply: both are kept, or neither)."""
        clock = _Clock()
        store = self.conversations if on_save is None else self.conversations.enlist(on_save)
        if request.conversation_id is None:
            reply = self._answer(request, clock, store)
        else:
            with clock.stage("state"), store.lock(request.tenant, request.conversation_id):
                reply = self._answer(request, clock, store)
        if self.recorder is not None:
            self.recorder.record_reply(request, reply, gap=clock.gap)
        return reply

    def preview(self, request: AnswerRequest, *, persona_id: str | None = None) -> Reply:
        """The reply ``request`` would get (in ``persona_id``'s voice if given), without reading or storing state.

        Nothing is saved and no event is published: a content editor can try a persona on a sample question.
        """
        dry = DryRunConversations(max_turns=self.conversations.max_turns)
        return self._answer(request.model_copy(update={"conversation_id": None}), _Clock(), dry, persona_id=persona_id)

    def warm_up(self) -> int:
        """Answer a dry-run message in every market, once per persona its channels route to, so no customer
        waits for first-use work.

        The first message of a market compiles its keyword rules, frustration terms and guardrail terms (about
        0.25 s per market); a server calls this once at start-up. Returns the number of dry runs.
        """
        done: set[tuple[str, str]] = set()
        for market in self.catalog.markets():
            for channel in Channel:
                persona = self.catalog.resolve(tenant=WARM_UP_TENANT, channel=channel, market=market.code).persona
                if (market.code, persona.id) not in done:
                    done.add((market.code, persona.id))
                    self.preview(AnswerRequest(tenant=WARM_UP_TENANT, channel=channel, market=market.code,
                                               message=market.default_language))
        return len(done)

    def safe_reply(self, request: AnswerRequest) -> Reply:
        """"A colleague will get back to you", in the customer's language and persona, without Redis or the store.

        For when a dependency is down (``degraded_reply``): the caller keeps the message for later.
        """
        clock = _Clock()
        resolved = self.catalog.resolve(tenant=request.tenant, channel=request.channel, market=request.market)
        decision = self.language.run(request.message, market=resolved.market, conversation_language=None,
                                     override=request.language, locale=request.locale)
        return Reply(status="answered", conversation_id=request.conversation_id or new_conversation_id(),
                     text=say("safe_reply", decision.language), language=decision.language,
                     market=resolved.market.code, persona_id=resolved.persona.id, generator="none", confidence=0.0,
                     fallback_reason="dependency_unavailable", timings_ms=clock.total())

    def release(self, tenant: str, conversation_id: str, *, actor: str | None = None) -> Conversation:
        """Hand a conversation back to the bot; a ``conflict`` error when no human owns it."""
        return release(self.conversations, tenant, conversation_id, actor=actor)

    def _answer(self, request: AnswerRequest, clock: _Clock, store: ConversationStore, *,
                persona_id: str | None = None) -> Reply:
        with clock.stage("state"):
            conversation = self._conversation(store, request)
        with clock.stage("persona"):
            resolved = self.catalog.resolve(tenant=request.tenant, channel=request.channel, market=request.market)
            if persona_id:  # a preview in a chosen persona
                resolved = resolved.model_copy(update={"persona": self.catalog.persona(persona_id)})
            rules = self.catalog.escalation(request.market)
        if conversation.owner == "human":
            return self._owned_by_human(store, request, conversation, resolved, clock)

        with clock.stage("language"):
            if request.language:
                conversation.language_override = request.language
            decision = self.language.run(request.message, market=resolved.market,
                                         conversation_language=conversation.language,
                                         override=conversation.language_override, locale=request.locale)
        with clock.stage("embedding"):
            query, rewritten = contextual_query(request.message, conversation.turns)
            message_vector, query_vector = self._embed(request.message, query, rewritten, conversation)
        with clock.stage("signals"):
            signals = self.escalation_policy.signals(request.message, message_vector, rules=rules,
                                                     history=conversation.turns)
            escalation = self.escalation_policy.decide(signals, rules=rules)
        if escalation.escalate:
            return self._escalate(store, request, conversation, resolved, decision, escalation, rules, clock)
        outcome = None  # a tool's question for a parameter waits: the knowledge may answer the message itself
        if self.tools is not None:
            with clock.stage("tools"):
                outcome = self.tools.run(ToolRequest(
                    tenant=request.tenant, market=resolved.market.code, language=decision.language,
                    message=request.message, history=tuple(t.text for t in conversation.turns if t.role == "customer"),
                    intent=signals.intent.intent.value, intent_probability=signals.intent.probability,
                    channel=request.channel.value,
                    customer_id=request.customer_id or conversation.customer_id))
            if outcome is not None and not outcome.defer:
                return self._tool_reply(store, request, conversation, resolved, decision, escalation, rules, outcome,
                                        clock)
        if (kind := small_talk(request.message, signals)) is not None:
            return self._own_reply(store, request, conversation, resolved, decision, escalation, clock,
                                   small_talk_reply(kind, decision.language), generator="smalltalk")

        with clock.stage("retrieval"):
            retrieval = self.retriever.run(query, rewritten=rewritten, tenant=request.tenant, market=request.market,
                                           language=decision.language, query_vector=query_vector.tolist())
            conversation.query_vector = encode_vector(query_vector)
            unanswered = _unanswered_streak(conversation, signals, retrieval, message_vector, rules.thresholds)
            clock.gap = message_vector if unanswered else None
        if outcome is not None and retrieval.confidence < rules.thresholds.low_confidence:
            return self._tool_reply(store, request, conversation, resolved, decision, escalation, rules, outcome, clock)
        if unanswered >= rules.thresholds.low_confidence_turns:
            escalation = self.escalation_policy.decide(signals, rules=rules, unanswered=unanswered)
            if escalation.escalate:
                return self._escalate(store, request, conversation, resolved, decision, escalation, rules, clock,
                                      retrieval)
        generation = GenerationRequest(
            message=request.message, query=retrieval.query, language=decision.language, persona=resolved.persona,
            market=resolved.market, channel=request.channel, evidence=retrieval.evidence,
            confidence=retrieval.confidence, min_confidence=self.settings.min_confidence,
            history=list(conversation.turns), query_vector=retrieval.query_vector,
        )
        with clock.stage("generation"):
            draft = self.generator.generate(generation)
        greeting, sign_off = frame = _frame(conversation, resolved, decision.language)
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

        text, notices = self._compose(conversation, resolved, decision.language, draft.body, frame)
        by_number = {e.number: e for e in retrieval.evidence}
        citations = [citation_of(by_number[n]) for n in draft.cited if n in by_number]
        reply = Reply(
            status="answered", conversation_id=conversation.id, text=text, language=decision.language,
            market=resolved.market.code, persona_id=resolved.persona.id, generator=draft.generator, citations=citations,
            retrieved=ranked_documents(retrieval), confidence=round(retrieval.confidence, 4), escalation=escalation,
            guardrails=findings,
            fallback_reason=draft.fallback_reason, notices=[n.id for n in notices], query=retrieval.query,
        )
        with clock.stage("save"):
            self._record(conversation, request, resolved, decision, text, notices, retrieval, store.max_turns)
            store.save(conversation, reply=reply)
        return clock.stamp(reply)

    # -- stages' helpers ---------------------------------------------------------------------------------------

    @staticmethod
    def _conversation(store: ConversationStore, request: AnswerRequest) -> Conversation:
        if request.conversation_id:
            found = store.get(request.tenant, request.conversation_id)
            if found is not None:
                found.market, found.channel = request.market, request.channel
                return found
        conversation_id = request.conversation_id or new_conversation_id()
        return Conversation.start(tenant=request.tenant, conversation_id=conversation_id, market=request.market,
                                  channel=request.channel, customer_id=request.customer_id)

    def _embed(self, message: str, query: str, rewritten: bool,
               conversation: Conversation) -> tuple[np.ndarray, np.ndarray]:
        """The message's embedding (for the signals) and the retrieval query's: one text embedded, not two.

        A follow-up's query vector is ``follow_up_vector`` of the previous query's, kept in the conversation.
        """
        message_vector = self.index.embed_queries([message])[0]
        if not rewritten:
            return message_vector, message_vector
        if conversation.query_vector is None:
            return message_vector, self.index.embed_queries([query])[0]
        return message_vector, follow_up_vector(decode_vector(conversation.query_vector), message_vector)

    def _checked(self, draft: Draft, generation: GenerationRequest,
                 context: GuardrailContext) -> tuple[Draft, list[GuardrailFinding]]:
        """The draft after guardrails; a replaced draft gives way to the generator's fallback's, checked again.
        Each draft is checked against the prompt it was written to (``Draft.prompt``: no echo of it)."""
        result = self.guardrails.check(draft.body, dataclasses.replace(context, prompt=draft.prompt))
        findings = list(result.findings)
        fallback = (self.generator.instead(generation, draft, reason="guardrails")
                    if result.replaced and isinstance(self.generator, FallbackGenerator) else None)
        if fallback is not None:
            context = dataclasses.replace(context, content_language=fallback.content_language, prompt=fallback.prompt)
            result = self.guardrails.check(fallback.body, context)
            findings += result.findings
            draft = fallback
        if result.replaced:
            return draft.model_copy(update={"body": result.body, "cited": [], "grounded": False}), findings
        return draft.model_copy(update={"body": result.body}), findings

    @staticmethod
    def _compose(conversation: Conversation, resolved: ResolvedPersona, language: str, body: str,
                 frame: tuple[str, str]) -> tuple[str, list[ComplianceNotice]]:
        """Greeting and sign-off (``_frame``) around the body, then the compliance notices not shown yet, all in
        the reply language (``agent.phrases``: the persona's or market's text in it, else a built-in one)."""
        greeting, sign_off = frame
        notices = [n for n in resolved.market.compliance
                   if not (n.once_per_conversation and n.id in conversation.notices_shown)]
        text = _SEPARATOR.join(part for part in (
            greeting, body, sign_off, *(notice_text(n, language, resolved.market) for n in notices),
        ) if part)
        return text, notices

    @staticmethod
    def _record(conversation: Conversation, request: AnswerRequest, resolved: ResolvedPersona,
                decision: LanguageDecision, text: str, notices: list[ComplianceNotice],
                retrieval: Retrieval | None, max_turns: int) -> None:
        """The customer's message and the bot's reply, into the conversation (saved by the caller)."""
        conversation.language = decision.language
        conversation.persona_id = resolved.persona.id
        conversation.notices_shown.extend(n.id for n in notices if n.id not in conversation.notices_shown)
        now = time.time()
        conversation.add(Turn(role="customer", text=request.message, language=decision.detected, at=now,
                              query=retrieval.query if retrieval else None), max_turns=max_turns)
        conversation.add(Turn(role="bot", text=text, language=decision.language, at=now,
                              confidence=retrieval.confidence if retrieval else None), max_turns=max_turns)

    def _escalate(self, store: ConversationStore, request: AnswerRequest, conversation: Conversation,
                  resolved: ResolvedPersona, decision: LanguageDecision, escalation: Escalation,
                  rules: EscalationRules, clock: _Clock, retrieval: Retrieval | None = None, lead: str = "") -> Reply:
        """A human takes over: tell the customer when (after ``lead``, e.g. why), hand the conversation off,
        publish the event."""
        with clock.stage("handoff"):
            market, language = resolved.market, decision.language
            plan = plan_handoff(escalation.queue or "support", market=market, rules=rules, language=language,
                                now=self.clock())
            escalation = escalation.model_copy(update={
                "team": plan.team, "open_now": plan.open_now, "reply_by": plan.reply_by,
                "summary": summary(escalation=escalation, market=market, language=language, channel=request.channel,
                                   customer_id=conversation.customer_id, message=request.message,
                                   history=conversation.turns),
            })
            body = _SEPARATOR.join(filter(None, (lead, customer_notice(plan, market=market, language=language))))
            frame = _frame(conversation, resolved, language)
            text, notices = self._compose(conversation, resolved, language, body, frame)
        with clock.stage("save"):
            self._record(conversation, request, resolved, decision, text, notices, retrieval, store.max_turns)
            conversation.owner = "human"
            conversation.unanswered = []
            conversation.handoffs.append(Handoff(escalation=escalation, at=time.time()))
            event = HandoffEvent(
                type="handoff", tenant=request.tenant, conversation_id=conversation.id,
                customer_id=conversation.customer_id, market=market.code, channel=request.channel, language=language,
                queue=escalation.queue, priority=escalation.priority, reason=escalation.reason,
                intent=escalation.intent, team=plan.team, reply_by=plan.reply_by, summary=escalation.summary,
            )
            reply = Reply(
                status="answered", conversation_id=conversation.id, text=text, language=language,
                market=resolved.market.code, persona_id=resolved.persona.id, generator="handoff",
                retrieved=ranked_documents(retrieval) if retrieval else [],
                confidence=round(retrieval.confidence, 4) if retrieval else 0.0, escalation=escalation,
                notices=[n.id for n in notices], query=retrieval.query if retrieval else "",
            )
            store.save(conversation, events=[event], reply=reply)
        return clock.stamp(reply)

    def _own_reply(self, store: ConversationStore, request: AnswerRequest, conversation: Conversation,
                   resolved: ResolvedPersona, decision: LanguageDecision, escalation: Escalation, clock: _Clock,
                   body: str, *, generator: str, frame: tuple[str, str] = ("", ""), confidence: float = 0.0) -> Reply:
        """The agent's own reply (small talk; a tool's), in the reply language, with the notices not shown yet:
        no knowledge."""
        with clock.stage("save"):
            text, notices = self._compose(conversation, resolved, decision.language, body, frame)
            conversation.unanswered = []
            self._record(conversation, request, resolved, decision, text, notices, None, store.max_turns)
            reply = Reply(status="answered", conversation_id=conversation.id, text=text, language=decision.language,
                          market=resolved.market.code, persona_id=resolved.persona.id, generator=generator,
                          confidence=confidence, escalation=escalation, notices=[n.id for n in notices])
            store.save(conversation, reply=reply)
        return clock.stamp(reply)

    def _tool_reply(self, store: ConversationStore, request: AnswerRequest, conversation: Conversation,
                    resolved: ResolvedPersona, decision: LanguageDecision, escalation: Escalation,
                    rules: EscalationRules, outcome: ToolOutcome, clock: _Clock) -> Reply:
        """The tool's reply in the persona's frame; a failure the brand wants handed off goes to a person
        (reason ``tool_failed``) after the honest sentence. The reply names the call in ``tool_calls``."""
        call = outcome.call
        if outcome.handoff:
            handoff = Escalation(escalate=True, reason="tool_failed", intent=escalation.intent, queue="support",
                                 priority="normal", scores=escalation.scores,
                                 explanation=[f"tool {call.tool}: {call.status} ({call.code})"])
            reply = self._escalate(store, request, conversation, resolved, decision, handoff, rules, clock,
                                   lead=outcome.body)
        else:
            reply = self._own_reply(store, request, conversation, resolved, decision, escalation, clock, outcome.body,
                                    generator=f"tool:{call.tool}", frame=_frame(conversation, resolved,
                                                                                decision.language),
                                    confidence=1.0 if call.status == "ok" else 0.0)
        return reply.model_copy(update={"tool_calls": [call]})

    @staticmethod
    def _owned_by_human(store: ConversationStore, request: AnswerRequest, conversation: Conversation,
                        resolved: ResolvedPersona, clock: _Clock) -> Reply:
        """A human owns the conversation: record the message, say nothing."""
        language = conversation.language or resolved.market.default_language
        with clock.stage("save"):
            conversation.add(Turn(role="customer", text=request.message, language=language, at=time.time()),
                             max_turns=store.max_turns)
            last = conversation.handoffs[-1].escalation if conversation.handoffs else Escalation(escalate=True)
            reply = Reply(status="handed_off", conversation_id=conversation.id, text="", language=language,
                          market=resolved.market.code, persona_id=resolved.persona.id, generator="none",
                          confidence=0.0, escalation=last)
            store.save(conversation, reply=reply)
        return clock.stamp(reply)


def _frame(conversation: Conversation, resolved: ResolvedPersona, language: str) -> tuple[str, str]:
    """The reply's greeting (on the bot's first reply only, unless the widget showed it) and sign-off, in the
    reply language."""
    greeting = "" if conversation.bot_has_replied or conversation.greeted else greeting_for(resolved.persona, language)
    return greeting, sign_off_for(resolved.persona, language)


def _unanswered_streak(conversation: Conversation, signals: Signals, retrieval: Retrieval, vector: np.ndarray,
                       thresholds: Thresholds) -> int:
    """How many messages in a row, this one included, on one topic, the bot could not answer (kept in state).

    Small talk ("thanks", "ok") is not a question the bot failed. One topic: a follow-up, or a message whose
    embedding is close to the previous unanswered one.
    """
    if retrieval.confidence >= thresholds.low_confidence or signals.intent.intent == Intent.SMALLTALK:
        conversation.unanswered = []
        return 0
    previous = conversation.unanswered[-1] if conversation.unanswered else None
    same_topic = previous is not None and (retrieval.rewritten or float(decode_vector(previous) @ vector) >= SAME_TOPIC)
    conversation.unanswered = [*(conversation.unanswered if same_topic else []), encode_vector(vector)][-10:]
    return len(conversation.unanswered)
