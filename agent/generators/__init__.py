"""Generators write the body of a reply from the retrieved evidence; the pipeline does the rest.

========================  =====================================================================
``base``                  the contract: ``GenerationRequest`` in, ``Draft`` out; ``GenerationFailed``
``extractive``            the brand's own sentences, no LLM (the default)
``llm``                   any model litellm reaches, grounded and cited
``local``                 the packaged SmolLM2 model in-process, as litellm provider ``polydesk-local``
``fallback``              a wrapper: the primary's draft, else the fallback's
========================  =====================================================================

``create_generator`` picks one from the settings. A new generator is a class with a ``name`` and a
``generate(request) -> Draft`` that raises ``GenerationFailed`` when it cannot write a draft; add
its branch to ``create_generator``, wrapped in ``FallbackGenerator`` when it can fail.
"""

from __future__ import annotations

from agent.generators.base import GenerationFailed, GenerationRequest, Generator
from agent.generators.extractive import ExtractiveGenerator
from agent.generators.fallback import FallbackGenerator
from knowledge.embedder import Embedder
from knowledge.sparse import SparseEncoder
from polydesk.settings import Settings

__all__ = ["ExtractiveGenerator", "FallbackGenerator", "GenerationFailed", "GenerationRequest", "Generator",
           "create_generator"]


def create_generator(settings: Settings, *, embedder: Embedder, tokenizer: SparseEncoder) -> Generator:
    """The extractive generator, or with ``POLYDESK_LLM_MODEL`` the LLM one falling back to it."""
    extractive = ExtractiveGenerator(embedder=embedder, tokenizer=tokenizer)
    if not settings.llm_model:
        return extractive
    from agent.generators.llm import LLMGenerator  # imports litellm (seconds): only when configured

    return FallbackGenerator(LLMGenerator.from_settings(settings), extractive)
