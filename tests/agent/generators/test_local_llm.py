"""The in-process local model (SmolLM2-135M on llama.cpp) through litellm, and LLMGenerator on it end to end.

The model is tiny and invents facts: these tests check plumbing (text, usage, finish reason,
async calls, errors), never what it says.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import litellm
import pytest

from agent.generators.base import GenerationRequest
from agent.generators.fallback import FallbackGenerator
from agent.generators.llm import LLMGenerator
from agent.generators.local import PROVIDER, LocalLLM, LocalModelMissingError, register_local_llm
from agent.schema import Draft, Evidence
from knowledge.schema import Chunk
from personas import PersonaCatalog

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL = "polydesk-local/smollm2"
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant. Answer in one short sentence."},
    {"role": "user", "content": "What colour is the sky on a clear day?"},
]


@pytest.fixture(scope="module")
def local() -> LocalLLM:
    llm = register_local_llm()
    llm.load()
    return llm


class FakeFallback:
    name = "extractive"

    def generate(self, request: GenerationRequest) -> Draft:
        return Draft(body="fallback", generator=self.name, grounded=False)


def test_completion_returns_text_usage_and_finish_reason(local: LocalLLM) -> None:
    response = litellm.completion(model=MODEL, messages=MESSAGES, max_tokens=24, temperature=0)
    choice = response.choices[0]

    assert choice.message.content.strip()
    assert choice.finish_reason in {"stop", "length"}
    assert response.usage.prompt_tokens > 10
    assert 0 < response.usage.completion_tokens <= 24
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_async_completion_gives_the_sync_text(local: LocalLLM) -> None:
    # The eval judge (ragas through langchain) calls the model async.
    whole = litellm.completion(model=MODEL, messages=MESSAGES, max_tokens=8, temperature=0)

    async def run() -> str:
        response = await litellm.acompletion(model=MODEL, messages=MESSAGES, max_tokens=8, temperature=0)
        return str(response.choices[0].message.content)

    text = asyncio.run(run())
    assert text.strip() and text == whole.choices[0].message.content  # temperature 0, no prompt cache


def test_errors_are_litellm_errors(local: LocalLLM) -> None:
    too_long = [{"role": "user", "content": "word " * 3000}]
    with pytest.raises(litellm.ContextWindowExceededError):
        litellm.completion(model=MODEL, messages=too_long, max_tokens=8)
    with pytest.raises(litellm.BadRequestError):
        litellm.completion(model=f"{PROVIDER}/no-such-model", messages=MESSAGES, max_tokens=8)
    with pytest.raises(litellm.Timeout):
        litellm.completion(model=MODEL, messages=MESSAGES, max_tokens=8, timeout=0.001)


def test_registration_is_idempotent_across_threads(local: LocalLLM) -> None:
    seen: list[LocalLLM] = []
    threads = [threading.Thread(target=lambda: seen.append(register_local_llm())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert seen == [local] * 4
    assert [entry["provider"] for entry in litellm.custom_provider_map].count(PROVIDER) == 1


def test_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(LocalModelMissingError) as raised:
        LocalLLM(tmp_path / "missing.gguf")
    assert raised.value.code == "invalid_config"


def test_llm_generator_end_to_end(local: LocalLLM) -> None:
    catalog = PersonaCatalog.load()

    def source(number: int, title: str, text: str) -> Evidence:
        chunk = Chunk(
            tenant="tidewell",
            document_id=f"policies/{number}",
            version=1,
            position=0,
            text=text,
            language="en",
            kind="policy",
            source=f"policies/{number}.md",
            title=title,
        )
        return Evidence(number=number, chunk=chunk, score=0.5, similarity=0.8)

    request = GenerationRequest(
        message="How many days do I have to return my order?",
        query="return days",
        language="en",
        persona=catalog.persona("us-friendly"),
        market=catalog.market("US"),
        channel="web",
        evidence=[
            source(1, "Returns", "You can return any order within 30 days of delivery. Returns are free."),
            source(2, "Refunds", "Refunds reach your card within 5 business days after we receive the item."),
        ],
        confidence=0.9,
        min_confidence=0.35,
    )
    # A generous timeout: the CPU model takes ~10 s here, and a busy machine must not turn that into a fallback.
    generator = FallbackGenerator(LLMGenerator(MODEL, max_tokens=48, temperature=0, timeout_s=120), FakeFallback())
    draft = generator.generate(request)

    assert draft.fallback_reason is None
    assert draft.generator == "llm:polydesk-local/smollm2"
    assert draft.body.strip() and "[" not in draft.body
    assert draft.cited and set(draft.cited) <= {1, 2}
    assert draft.grounded and draft.llm_ms > 0
