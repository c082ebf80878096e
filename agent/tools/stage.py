"""The tool stage of the answer pipeline: does a brand tool answer this message, and what does the reply say?

``ToolStage.run(ToolRequest)`` returns None when no tool applies (the pipeline goes on to retrieval), else a
``ToolOutcome``: the reply body, the ``ToolCall`` record for ``Reply.tool_calls`` and whether a person takes
over (reason ``tool_failed``).

1. **Which tool**: among the tenant's tools for the market (``ToolCatalog.for_tenant``), the first whose
   parameter pattern occurs in this message ("TW-ORD-2026-004512"), else the first whose ``asks`` phrases do
   ("my order", "ออเดอร์ของฉัน"), else the first that serves the message's intent (``order_status``) when the
   classifier gives it at least ``min_intent_probability``: a follow-up such as "and which carriers?"
   (order_status at 0.24, top of a flat distribution) stays with the knowledge.
2. **Arguments**: a parameter of ``source: message`` is found by its pattern in this message, then in the
   customer's earlier messages, newest first (``params.find``); with an LLM (``ToolArgumentExtractor``) the
   model fills the declared schema by function calling and its arguments are validated (type, pattern, and
   they must occur in what the customer wrote) before anything is sent: an invalid one sends nothing and asks
   for the parameter. ``customer_id`` and ``customer_email`` parameters come from the conversation, never from
   the message or a model.
3. **Reply**: a missing parameter is asked for in the reply language: at once when the message used one of
   the tool's ``asks`` phrases, else the outcome is ``defer``-red and the pipeline asks only when the knowledge
   cannot answer the message (the classifier reads "how long does delivery to Germany take?" as order_status
   too); the call's result becomes the tool's
   reply template for the language, dates and amounts in the locale (``render.reply``); not found, not yours
   and failure get the tool's own sentences (``phrases.say``). A failure hands off when the tool says so
   (``on_failure.handoff``).

Results are data: a template only inserts field values as text, and no result ever reaches a prompt (the LLM
sees the customer's messages to fill arguments, never what a tool returned). A response saying "ignore your
rules" is shown as that text.

Example:
    >>> stage = ToolStage(catalog=ToolCatalog.load(personas_dir), client=ToolClient(settings=s, environ=env))
    >>> outcome = stage.run(ToolRequest(tenant="tidewell", market="TH", language="th",          # doctest: +SKIP
    ...                                 message="คำสั่งซื้อTW-ORD-2026-004512 ถึงไหนแล้วคะ", intent="order_status"))
    >>> outcome.call.tool, outcome.call.status, outcome.handoff
    ('order_status', 'ok', False)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.profiles import Identity, ProfileStore
from agent.schema import ToolCall, ToolCallStatus
from agent.tools import params, phrases, render
from agent.tools.client import Customer, ToolClient, ToolResult
from agent.tools.llm import ToolArgumentExtractor
from agent.tools.spec import ToolCatalog, ToolSpec
from personas.routing import Channel
from polydesk.errors import InputError, PolydeskError
from polydesk.redaction import Redactor
from polydesk.terms import TermSet

__all__ = ["ToolOutcome", "ToolRequest", "ToolStage"]

log = logging.getLogger("polydesk.tools")

_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
# The intent alone (no parameter in the message) calls a tool from this probability on: "Wo ist meine Bestellung?"
# scores 0.44, "Where is my order?" 0.85, a vague follow-up 0.24 (multilingual-e5-small, the shipped classifier).
MIN_INTENT_PROBABILITY = 0.4
_CUSTOMER_SOURCES = {"customer_id": "[CUSTOMER_ID]", "customer_email": "[EMAIL]"}


@dataclass(frozen=True, slots=True)
class ToolRequest:
    """What the stage needs of the message and its conversation. ``history``: the customer's earlier messages,
    oldest first; ``intent``: the intent classifier's top intent, with its probability."""

    tenant: str
    market: str
    language: str
    message: str
    history: tuple[str, ...] = ()
    intent: str | None = None
    intent_probability: float = 1.0
    channel: str = "web"
    customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """The reply body (with a handoff: the honest sentence; the pipeline adds when a person answers), the
    record for ``Reply.tool_calls``, and whether a person takes over (reason ``tool_failed``)."""

    body: str
    call: ToolCall
    handoff: bool = False
    result: ToolResult | None = field(default=None, repr=False)  # None when nothing was sent
    defer: bool = False  # a question for a parameter the message did not ask about by name: only if the knowledge
    # cannot answer the message (the pipeline decides after retrieval)


class ToolStage:
    """Chooses a tool, finds its arguments, calls it and words the outcome (see the module docstring).

    ``profiles``: e-mail identities linked to the customer's profile count as verified for an owner check.
    """

    def __init__(self, *, catalog: ToolCatalog, client: ToolClient, extractor: ToolArgumentExtractor | None = None,
                 profiles: ProfileStore | None = None, redactor: Redactor | None = None,
                 min_intent_probability: float = MIN_INTENT_PROBABILITY) -> None:
        self.catalog = catalog
        self.min_intent_probability = min_intent_probability
        self.client = client
        self.extractor = extractor
        self.profiles = profiles
        self.redactor = redactor or Redactor()
        self._asks: dict[str, TermSet] = {}  # each tool's compiled ``asks`` phrases

    def run(self, request: ToolRequest) -> ToolOutcome | None:
        tools = self.catalog.for_tenant(request.tenant, request.market)
        spec = self.choose(tools, request) if tools else None
        if spec is None:
            return None
        customer = self._customer(spec, request)
        history = list(request.history)
        try:
            arguments = self._arguments(spec, request, history)
        except InputError as exc:  # the model's arguments failed validation: nothing is sent
            log.info("tool %s: invalid arguments from the model (%s)", spec.name, exc.code)
            return self._ask(spec, request, {}, list(spec.message_parameters)[:1], status="invalid_arguments",
                             code=exc.code)
        for name, parameter in spec.parameters.items():
            if parameter.source == "customer_id" and customer.id:
                arguments[name] = customer.id
            elif parameter.source == "customer_email" and customer.emails:
                arguments[name] = customer.emails[0]
        missing = params.missing(spec, arguments)
        if any(spec.parameters[name].source != "message" for name in missing):
            # the conversation does not say who the customer is: no order can be shown as theirs
            return self._worded(spec, request, arguments, ToolResult(tool=spec.name, status="not_yours",
                                                                       code="customer_unknown"))
        if missing:
            return self._ask(spec, request, arguments, missing, status="missing_parameter", code="missing_parameter",
                             defer=not self._asked(spec, request.message))
        result = self.client.call(spec, arguments, tenant=request.tenant, customer=customer)
        return self._worded(spec, request, arguments, result)

    def choose(self, tools: Sequence[ToolSpec], request: ToolRequest) -> ToolSpec | None:
        """The first tool whose parameter occurs in this message, else the first serving the message's intent."""
        for spec in tools:
            if spec.message_parameters and params.find(spec, request.message, []):
                return spec
        asked = next((spec for spec in tools if self._asked(spec, request.message)), None)
        if asked is not None or request.intent is None or request.intent_probability < self.min_intent_probability:
            return asked
        return next((spec for spec in tools if request.intent in spec.intents), None)

    def _asked(self, spec: ToolSpec, message: str) -> bool:
        """Whether the message uses one of the tool's ``asks`` phrases ("my order"), in any language."""
        if spec.asks is None:
            return False
        if spec.name not in self._asks:
            self._asks[spec.name] = TermSet.compile((term, term) for terms in spec.asks.values() for term in terms)
        return bool(self._asks[spec.name].find(message))

    # -- steps ---------------------------------------------------------------------------------------------------

    def _arguments(self, spec: ToolSpec, request: ToolRequest, history: list[str]) -> dict[str, str]:
        """The message-sourced arguments: the model's (validated) when one is configured and called the tool,
        else the patterns' (``params.find``)."""
        if self.extractor is not None and spec.message_parameters:
            extracted = self.extractor.extract(spec, request.message, history, language=request.language)
            if extracted is not None:
                return dict(extracted)
        return dict(params.find(spec, request.message, history))

    def _customer(self, spec: ToolSpec, request: ToolRequest) -> Customer:
        """The customer id, and the e-mail addresses polydesk can vouch for: the e-mail channel's sender, and
        e-mail identities linked to the customer's profile (looked up only when the tool checks an e-mail)."""
        customer_id = request.customer_id
        if not customer_id:
            return Customer()
        emails: list[str] = []
        if request.channel == Channel.EMAIL.value and _EMAIL.fullmatch(customer_id.strip()):
            emails.append(customer_id.strip().lower())
        needs_email = (spec.response.owner is not None and spec.response.owner.against == "customer_email") or any(
            p.source == "customer_email" for p in spec.parameters.values())
        if needs_email and self.profiles is not None:
            try:
                profile = self.profiles.resolve(request.tenant, Identity(channel=Channel(request.channel),
                                                                         customer_id=customer_id))
            except (ValueError, PolydeskError) as exc:  # an id the channel could not have sent; Redis down
                log.warning("tool %s: the customer's profile could not be read (%s)", spec.name,
                            getattr(exc, "code", type(exc).__name__))
                profile = None
            if profile is not None:
                emails += [i.customer_id for i in profile.identities if i.channel is Channel.EMAIL]
        return Customer(id=customer_id, emails=tuple(dict.fromkeys(emails)))

    def _ask(self, spec: ToolSpec, request: ToolRequest, arguments: dict[str, str], missing: list[str], *,
             status: ToolCallStatus, code: str, defer: bool = False) -> ToolOutcome:
        name = missing[0] if missing else next(iter(spec.message_parameters))
        body = phrases.ask_for(name, spec.parameters[name], request.language)
        call = ToolCall(tool=spec.name, arguments=self._redacted(spec, request, arguments), status=status, code=code)
        return ToolOutcome(body=body, call=call, defer=defer)

    def _worded(self, spec: ToolSpec, request: ToolRequest, arguments: dict[str, str],
                result: ToolResult) -> ToolOutcome:
        """The reply body for the call's result, and whether a person takes over."""
        status, code = result.status, result.code
        language, handoff = request.language, False
        if status == "ok":
            try:
                body = render.reply(spec, language, request.market, {**arguments, **result.fields})
            except PolydeskError as exc:  # the response lacks a field the template needs
                log.warning("tool %s: the reply template could not be filled (%s)", spec.name, exc.code)
                status, code = "failed", exc.code
        if status == "not_found":
            body = self._not_found(spec, request, arguments)
        elif status == "not_yours":
            body = phrases.say("not_yours", language)
        elif status != "ok":  # with a handoff, the pipeline adds when a person answers
            handoff = spec.on_failure.handoff
            body = phrases.say("tool_failed", language)
        call = ToolCall(tool=spec.name, arguments=self._redacted(spec, request, arguments), status=status,
                        latency_ms=result.latency_ms, code=code)
        return ToolOutcome(body=body, call=call, handoff=handoff, result=result)

    def _not_found(self, spec: ToolSpec, request: ToolRequest, arguments: dict[str, str]) -> str:
        """The tool's own not-found template for the language when it has one, else the built-in sentence."""
        try:
            own = render.not_found_reply(spec, request.language, request.market, arguments)
        except PolydeskError as exc:
            log.warning("tool %s: the not-found template could not be filled (%s)", spec.name, exc.code)
            own = None
        value = next((arguments[n] for n in spec.message_parameters if n in arguments), "")
        return own if own is not None else phrases.say("not_found", request.language, value=value)

    def _redacted(self, spec: ToolSpec, request: ToolRequest, arguments: dict[str, str]) -> dict[str, str]:
        """The arguments as the reply may show them: the customer's own id and e-mail replaced, e-mail
        addresses and phone numbers in message values redacted."""
        shown: dict[str, str] = {}
        for name, value in arguments.items():
            source = spec.parameters[name].source if name in spec.parameters else "message"
            shown[name] = (_CUSTOMER_SOURCES[source] if source in _CUSTOMER_SOURCES
                           else self.redactor.redact(str(value), market=request.market).text)
        return shown

