"""The agent's contracts: what a connector sends, what the stages pass on, and the reply.

``AnswerRequest`` comes in; ``Reply`` goes out (a stable contract: channels, the desk and
evals read it). In between, each stage of ``agent.pipeline.Agent`` hands the next a typed
value: ``LanguageDecision``, ``Retrieval`` (numbered ``Evidence``), ``Draft`` (the body a
generator wrote) and the guardrails' ``GuardrailFinding`` list.

Example:
    >>> request = AnswerRequest(tenant="tidewell", channel="whatsapp", market="th", message="ส่งฟรีไหม")
    >>> request.market, request.conversation_id is None
    ('TH', True)
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from knowledge.schema import Chunk, normalize_language, normalize_market, normalize_tenant
from personas.routing import Channel
from polydesk.visible import visible_text

MAX_MESSAGE_CHARS = 4000
MAX_METADATA_ITEMS = 32

ConversationId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MetadataValue = Annotated[str, StringConstraints(max_length=512)]

class CustomerMessage(BaseModel):
    """One customer message, as a channel connector sends it over HTTP (the tenant comes from its API key)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "channel": "line", "market": "TH", "message": "ส่งฟรีเมื่อซื้อครบเท่าไหร่คะ",
        "conversation_id": "line-U4af4980629", "customer_id": "U4af4980629", "locale": "th-TH",
    }]})

    channel: Channel = Field(description="the channel the customer writes on")
    market: str = Field(pattern=r"^\s*[A-Za-z]{2,3}\s*$", description="the customer's market, e.g. 'DE', 'TH'")
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=r"\S")
    conversation_id: ConversationId | None = Field(default=None, description="omit to start a new conversation")
    customer_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$",
                                    description="the connector's id of the customer (erasure finds data by it)")
    language: LanguageCode | None = Field(default=None,
                                          description="the customer's explicit language choice (an override)")
    locale: LanguageCode | None = Field(default=None,
                                        description="a hint from the channel, e.g. 'de-DE'; weaker than text")
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict, max_length=MAX_METADATA_ITEMS)

    @field_validator("market")
    @classmethod
    def _market(cls, value: str) -> str:
        return normalize_market(value)

    @field_validator("message")
    @classmethod
    def _visible(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("a message must not contain NUL characters")
        visible = visible_text(value)
        if not visible:
            raise ValueError("the message shows nothing: only control, zero-width or formatting characters")
        return visible

    @field_validator("channel", mode="before")
    @classmethod
    def _channel(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return normalize_language(value) if value else None


class AnswerRequest(CustomerMessage):
    """A customer message of one tenant: what the agent answers (``polydesk ask``, the API)."""

    tenant: str

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str) -> str:
        return normalize_tenant(value)


class Turn(BaseModel):
    """One message of a conversation, as kept in its state."""

    role: Literal["customer", "bot", "human"]
    text: str
    language: str
    at: float = Field(description="UNIX time")
    query: str | None = Field(default=None, description="customer turns: what retrieval searched for")
    confidence: float | None = Field(default=None, description="bot turns: the retrieval confidence")


# -- between stages ------------------------------------------------------------------------------------------------

LanguageSource = Literal["override", "detected", "conversation", "locale", "market"]


class LanguageDecision(BaseModel):
    """The language to answer in, what the message itself looked like, and why this one was chosen."""

    language: str
    detected: str
    confidence: float
    source: LanguageSource


class Evidence(BaseModel):
    """A retrieved chunk, numbered as the generator and the citations refer to it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    number: int = Field(ge=1)
    chunk: Chunk
    score: float = Field(description="rank-fusion score of the hybrid search")
    similarity: float = Field(description="cosine similarity of the query and the chunk (dense)")

    @property
    def answer_text(self) -> str:
        """The part worth quoting: a FAQ's or past conversation's answer, else the whole chunk."""
        return self.chunk.extra.get("answer") or self.chunk.text


class Retrieval(BaseModel):
    query: str = Field(description="what was searched: the message, or the message with the conversation's context")
    rewritten: bool
    evidence: list[Evidence]
    confidence: float = Field(ge=0.0, le=1.0)
    query_vector: list[float] = Field(default_factory=list, repr=False, exclude=True)


class Draft(BaseModel):
    """A generator's answer body (the pipeline adds greeting, sign-off and notices)."""

    body: str
    generator: str = Field(description="'extractive' or 'llm:<model>'")
    cited: list[int] = Field(default_factory=list, description="numbers of the evidence the body draws on")
    grounded: bool = Field(description="False for 'I don't know' and other replies that state no fact")
    content_language: str | None = Field(
        default=None, description="language of quoted knowledge when it differs from the reply language"
    )
    llm_ms: float = 0.0
    fallback_reason: str | None = Field(default=None, description="why the configured LLM did not write this")
    prompt: str | None = Field(default=None, exclude=True, repr=False,
                               description="the system prompt the body was written to (guardrails: no echo)")


class GuardrailFinding(BaseModel):
    rule: Literal["prompt_echo", "forbidden_term", "pii", "avoid_phrase", "emoji", "length", "language", "register"]
    detail: str
    action: Literal["repaired", "replaced", "flagged"] = Field(description="'flagged': kept as is, for review")


# -- the reply -----------------------------------------------------------------------------------------------------


class Citation(BaseModel):
    document_id: str
    title: str
    chunk_id: str
    score: float
    source: str
    kind: str
    market: str
    language: str


EscalationReason = Literal["intent", "sentiment", "low_confidence", "policy", "customer_request", "tool_failed"]


class Escalation(BaseModel):
    """Whether a human takes over, why, where to and by when (see ``agent.escalation``)."""

    escalate: bool = False
    reason: EscalationReason | None = None
    intent: str | None = Field(default=None, description="the message's intent, also when it does not escalate")
    queue: str | None = Field(default=None, description="sales, support_senior, privacy or support")
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    summary: str | None = Field(default=None, description="for the human who takes over")
    scores: dict[str, float] = Field(default_factory=dict, description="intent probability, sentiment, ...")
    explanation: list[str] = Field(default_factory=list, description="which signals decided, in words")
    team: str | None = Field(default=None, description="the follow-the-sun team that takes it, if not the market's")
    open_now: bool | None = Field(default=None, description="whether a person is working on it now")
    reply_by: dt.datetime | None = Field(default=None, description="when a person will have answered")


ToolCallStatus = Literal["ok", "not_found", "not_yours", "failed", "unavailable", "refused_unsafe",
                         "missing_parameter", "invalid_arguments"]


class ToolCall(BaseModel):
    """A brand tool the agent used for this reply (``agent.tools``): which, with what, how it went.

    ``arguments`` are redacted where they are personal data (e-mail addresses, phone numbers, the customer's own
    id); ``missing_parameter`` and ``invalid_arguments`` mean no request was sent.
    """

    tool: str
    arguments: dict[str, str] = Field(default_factory=dict)
    status: ToolCallStatus
    latency_ms: float = Field(default=0.0, ge=0.0, description="the tool call's own time (0 when nothing was sent)")
    code: str | None = Field(default=None, description="why it did not succeed: a stable code, e.g. outbound_timeout")


class Reply(BaseModel):
    """What polydesk answers, whichever generator wrote it."""

    status: Literal["answered", "handed_off"]
    conversation_id: str
    text: str = Field(description="the reply to show; empty when handed off to a human")
    language: str
    market: str = Field(default="", description="the market's canonical code, e.g. 'GB' for a message sent with "
                        "'UK' (empty only in replies stored before the field existed)")
    persona_id: str
    generator: str
    citations: list[Citation] = Field(default_factory=list)
    retrieved: list[str] = Field(default_factory=list, description="document ids retrieval found, best first, "
                                 "cited or not (what retrieval metrics rank)")
    confidence: float = Field(ge=0.0, le=1.0)
    escalation: Escalation = Field(default_factory=Escalation)
    guardrails: list[GuardrailFinding] = Field(default_factory=list)
    fallback_reason: str | None = Field(default=None, description="set when the configured LLM failed")
    notices: list[str] = Field(default_factory=list, description="compliance notices shown in this reply")
    query: str = Field(default="", description="what retrieval searched for")
    timings_ms: dict[str, float] = Field(default_factory=dict, description="per stage, and 'total'")
    tool_calls: list[ToolCall] = Field(default_factory=list, description="brand tools called for this reply")
