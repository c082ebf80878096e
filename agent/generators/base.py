"""The generator interface: every generator, one contract.

A generator gets a ``GenerationRequest`` (the customer's message, the reply language,
the persona and market, the conversation so far and the numbered evidence) and returns
a ``Draft``: the body of the reply. The pipeline, not the generator, adds the persona's
greeting and sign-off and the market's notices, so both generators sound the same
around the answer, and guardrails check every draft the same way.

A generator that cannot write a draft (its provider is down, or there is nothing to ground an
answer in) raises ``GenerationFailed``; ``agent.generators.fallback.FallbackGenerator`` turns that
into another generator's draft. Implementations and how to pick one: ``agent.generators``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from agent.schema import Draft, Evidence, Turn
from personas import Market, Persona


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    message: str
    query: str
    language: str
    persona: Persona
    market: Market
    channel: str
    evidence: list[Evidence]
    confidence: float
    min_confidence: float
    history: list[Turn] = field(default_factory=list)
    query_vector: list[float] = field(default_factory=list, repr=False)  # the query's embedding, when computed

    @property
    def answerable(self) -> bool:
        """Whether retrieval found anything worth answering from."""
        return bool(self.evidence) and self.confidence >= self.min_confidence


class GenerationFailed(Exception):
    """The generator wrote no draft. ``reason`` is a stable code (``timeout``, ``rate_limited``, ...), or None
    when it declined without trying (nothing to ground an answer in); ``elapsed_ms`` is what the attempt took."""

    def __init__(self, reason: str | None, *, elapsed_ms: float = 0.0, detail: str = "") -> None:
        super().__init__(reason or "declined")
        self.reason = reason
        self.elapsed_ms = elapsed_ms
        self.detail = detail


class Generator(Protocol):
    name: str

    def generate(self, request: GenerationRequest) -> Draft: ...
