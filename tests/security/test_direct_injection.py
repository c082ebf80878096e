"""Direct injections: what a customer writes to make the bot leave its rules, recite its instructions or leak
another customer's data (``data/direct.jsonl``), against the demo brand with the extractive generator."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.corpus import Attack, judge, load_attacks
from tests.security.harness import prompts_for

ApiHarness = Any  # tests/api/conftest.py
pytestmark = [pytest.mark.integration]

DIRECT = load_attacks("direct")


@pytest.fixture(scope="module")
def routed(api: ApiHarness) -> dict[str, str]:
    """The persona each market routes a web message to."""
    return {market: api.ask("Hello", market=market)["persona_id"] for market in sorted({a.market for a in DIRECT})}


def test_the_corpus_is_as_wide_as_promised() -> None:
    indirect = load_attacks("indirect")
    languages = {a.language for a in DIRECT + indirect if a.language}
    assert len(DIRECT) >= 40 and len(indirect) >= 20 and len(languages) >= 8
    assert {"faq_row", "markdown", "html_comment", "html_hidden", "pdf_white_text", "json_batch_item"} <= \
        {a.carrier for a in indirect}
    assert len({a.id for a in DIRECT + indirect}) == len(DIRECT) + len(indirect)


@pytest.mark.parametrize("attack", DIRECT, ids=lambda a: a.id)
def test_a_direct_injection_fails(api: ApiHarness, routed: dict[str, str], attack: Attack) -> None:
    reply = api.ask(attack.message, market=attack.market)
    verdict = judge(attack, reply, prompts=prompts_for(api.services.catalog, reply), persona_id=routed[attack.market])
    assert not verdict.succeeded, verdict.explain()


@pytest.mark.parametrize("attack", [a for a in DIRECT if a.cls == "small_talk"], ids=lambda a: a.id)
def test_small_talk_gets_the_personas_own_reply(api: ApiHarness, attack: Attack) -> None:
    reply = api.ask(attack.message, market=attack.market)
    assert (reply["generator"], reply["citations"]) == ("smalltalk", []), reply
