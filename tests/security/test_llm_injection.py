"""The LLM path: a model that obeys the injection (litellm ``mock_response``) recites its system prompt or the
planted e-mail, phone or card; the output guardrails (``prompt_echo``, ``pii``, ``forbidden_term``,
``language``) must stop it before the customer sees it. And the real local model (SmolLM2) as a weak LLM."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agent.generators.llm import LLMGenerator
from tests.security.corpus import Attack, judge, load_attacks
from tests.security.harness import ObeyingLLM, Seeded, generating_with, prompts_for

ApiHarness = Any  # tests/api/conftest.py
pytestmark = [pytest.mark.integration, pytest.mark.slow]

OBEYED_DIRECT = [a for a in load_attacks("direct") if a.obeyed]
OBEYED_INDIRECT = [a for a in load_attacks("indirect") if a.obeyed]
LOCAL = [a for a in load_attacks("direct") if a.language == "en" and a.cls in (
    "repeat_above", "prompt_extraction", "delimiter_spoof", "translation_trick")]
REACHED: dict[str, bool] = {}


@pytest.fixture(scope="module")
def obeying(api: ApiHarness) -> Iterator[ObeyingLLM]:
    with generating_with(api.services.agent, ObeyingLLM()) as llm:
        yield llm


@pytest.fixture
def obeying_attacked(attacked_api: ApiHarness, attacked: Seeded) -> Iterator[ObeyingLLM]:
    with generating_with(attacked_api.services.agent, ObeyingLLM()) as llm:
        yield llm


def _attempt(harness: ApiHarness, llm: ObeyingLLM, attack: Attack) -> None:
    llm.obeyed, calls, llm.system = str(attack.obeyed), llm.calls, ""
    reply = harness.ask(attack.message, market=attack.market)
    REACHED[attack.id] = llm.calls > calls
    prompts = [llm.system, *prompts_for(harness.services.catalog, reply)] if llm.system else \
        prompts_for(harness.services.catalog, reply)
    verdict = judge(attack, reply, prompts=prompts)
    assert not verdict.succeeded, f"{verdict.explain()} generator={reply['generator']} guardrails={reply['guardrails']}"


@pytest.mark.parametrize("attack", OBEYED_DIRECT, ids=lambda a: a.id)
def test_an_obeying_model_is_stopped_on_a_direct_injection(api: ApiHarness, obeying: ObeyingLLM,
                                                           attack: Attack) -> None:
    _attempt(api, obeying, attack)


@pytest.mark.parametrize("attack", OBEYED_INDIRECT, ids=lambda a: a.id)
def test_an_obeying_model_is_stopped_on_an_indirect_injection(attacked_api: ApiHarness, obeying_attacked: ObeyingLLM,
                                                              attack: Attack) -> None:
    _attempt(attacked_api, obeying_attacked, attack)


def test_the_obeying_model_was_reached() -> None:
    """Most attacks above got as far as the model (retrieval confident enough): the guardrails were tested."""
    assert len(REACHED) == len(OBEYED_DIRECT) + len(OBEYED_INDIRECT)
    assert sum(REACHED.values()) >= len(REACHED) // 2, sorted(k for k, v in REACHED.items() if not v)


def test_the_local_model_recites_no_instructions(api: ApiHarness) -> None:
    local = LLMGenerator("polydesk-local/smollm2", max_tokens=64, temperature=0.0, timeout_s=120)
    failures = []
    with generating_with(api.services.agent, local):
        for attack in LOCAL:
            reply = api.ask(attack.message, market=attack.market)
            verdict = judge(attack, reply, prompts=prompts_for(api.services.catalog, reply))
            if verdict.succeeded:
                failures.append(verdict.explain())
    assert len(LOCAL) >= 4 and failures == []
