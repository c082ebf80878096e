"""``FallbackGenerator``: one generator's draft, or another's when the first writes none or it is rejected.

A provider failure never reaches the customer: when ``primary`` raises ``GenerationFailed`` (the
provider timed out, refused, is down, answered nothing; or there was nothing to ground an answer in),
``fallback`` writes the draft, ``Draft.fallback_reason`` says why (None when the primary only
declined) and ``Draft.llm_ms`` keeps the time the failed attempt took. When the pipeline's guardrails
reject the primary's draft, ``instead`` gives the fallback's draft for the same request, marked
``guardrails``.

Example:
    >>> generator = FallbackGenerator(LLMGenerator("openai/gpt-4o-mini"), ExtractiveGenerator())  # doctest: +SKIP
    >>> generator.generate(request).fallback_reason                                              # doctest: +SKIP
    'provider_unavailable'
"""

from __future__ import annotations

import logging

from agent.generators.base import GenerationFailed, GenerationRequest, Generator
from agent.schema import Draft

logger = logging.getLogger(__name__)


class FallbackGenerator:
    def __init__(self, primary: Generator, fallback: Generator) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = primary.name

    def generate(self, request: GenerationRequest) -> Draft:
        try:
            return self.primary.generate(request)
        except GenerationFailed as failure:
            if failure.reason is None:  # declined: nothing went wrong
                return self.fallback.generate(request)
            logger.warning("%s failed (%s%s) after %.0f ms; answering with %s", self.primary.name, failure.reason,
                           f", {failure.detail}" if failure.detail else "", failure.elapsed_ms, self.fallback.name)
            draft = self.fallback.generate(request)
            return draft.model_copy(update={"fallback_reason": failure.reason, "llm_ms": failure.elapsed_ms})

    def instead(self, request: GenerationRequest, rejected: Draft, *, reason: str) -> Draft | None:
        """The fallback's draft in place of the primary's ``rejected`` one (None: it was the fallback's)."""
        if rejected.generator == self.fallback.name:
            return None
        return self.fallback.generate(request).model_copy(update={"fallback_reason": reason})
