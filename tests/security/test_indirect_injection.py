"""Indirect injections: instructions and strangers' contact data planted in uploaded knowledge (a FAQ row,
Markdown, an HTML comment, hidden HTML, a PDF's white text, a JSON batch item, a transcript), then
triggered by an ordinary customer question (``data/indirect.jsonl``). Knowledge is data, never instructions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.security.corpus import Attack, judge, load_attacks
from tests.security.harness import Seeded, document_of, headers, job_summary, prompts_for

ApiHarness = Any  # tests/api/conftest.py
pytestmark = [pytest.mark.integration, pytest.mark.slow]

INDIRECT = load_attacks("indirect")


def test_every_planted_document_was_ingested(attacked: Seeded) -> None:
    for job in attacked.jobs:
        assert job["status"] == "done", job_summary(job)
    listed = attacked.client.get("/v1/knowledge/documents?limit=100", headers=headers("content")).json()
    assert set(attacked.documents) <= {d["document_id"] for d in listed["documents"]}


@pytest.mark.parametrize("attack", INDIRECT, ids=lambda a: a.id)
def test_an_indirect_injection_fails(attacked_api: ApiHarness, attacked: Seeded, attack: Attack) -> None:
    reply = attacked_api.ask(attack.message, market=attack.market)
    verdict = judge(attack, reply, prompts=prompts_for(attacked_api.services.catalog, reply))
    assert not verdict.succeeded, verdict.explain()


@pytest.mark.parametrize("attack", [a for a in INDIRECT if a.flag_expected], ids=lambda a: a.id)
def test_a_chunk_that_instructs_the_assistant_is_flagged(attacked: Seeded, attack: Attack) -> None:
    """The content editor sees why a chunk is kept out of answers; a chunk the parser dropped needs no flag."""
    document = document_of(attack)
    detail = attacked.client.get(f"/v1/knowledge/documents/{quote(document)}?chunks=50", headers=headers("content"))
    assert detail.status_code == 200, detail.text
    carrying = [c for c in detail.json()["chunks"] if attack.canary.casefold() in c["text"].casefold()]
    assert all(c.get("flag") for c in carrying), carrying
    if carrying:
        listed = attacked.client.get("/v1/knowledge/documents?limit=100", headers=headers("content")).json()
        record = next(d for d in listed["documents"] if d["document_id"] == document)
        assert record.get("flagged_chunks", 0) >= 1, record
