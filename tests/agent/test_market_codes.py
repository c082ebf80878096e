"""Market codes as connectors send them: ISO 3166-1 `GB` is the United Kingdom, and `UK` is an alias of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.pipeline import Agent
from agent.schema import AnswerRequest
from api.cli.main import app
from ingestion.pipeline import Ingestor
from ingestion.sources import SourceOptions
from knowledge.schema import normalize_market
from polydesk.settings import get_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("market", ["GB", "UK", "gb"])
def test_gb_and_uk_reach_the_uk_market_persona_and_knowledge(agent: Agent, market: str) -> None:
    reply = agent.answer(AnswerRequest(tenant="tidewell", market=market, channel="email",
                                       message="How long do I have to return an item?"))
    assert reply.market == "GB" and reply.persona_id == "precise-professional"
    assert "30 days" in reply.text and reply.notices == ["uk-gdpr-privacy"]
    assert reply.citations and {c.market for c in reply.citations} <= {"GB", "*"}
    assert "policies/UK/delivery-returns-policy.md" in reply.retrieved


def test_every_reply_reports_the_canonical_market(agent: Agent) -> None:
    assert normalize_market(" uk ") == "GB" and normalize_market("EL") == "GR" and normalize_market("*") == "*"
    human = agent.answer(AnswerRequest(tenant="tidewell", market="uk", channel="web",
                                       message="I'd like to speak to a human, please."))
    assert human.escalation.escalate and human.market == "GB"
    assert agent.safe_reply(AnswerRequest(tenant="tidewell", market="UK", channel="web", message="Hi")).market == "GB"


def test_the_demo_brands_uk_files_are_stored_as_gb(agent: Agent) -> None:
    # policies/UK/polydesk.yaml and the conversations say "UK"; the index holds the canonical code.
    records = agent.index.list_documents("tidewell", market="UK", limit=500).records
    assert "policies/UK/delivery-returns-policy.md" in {r.document_id for r in records}
    assert {r.market for r in records} == {"GB"}
    hits = agent.index.search("Royal Mail delivery", tenant="tidewell", market="UK", top_k=5)
    assert hits and {h.chunk.market for h in hits} <= {"GB", "*"} and "GB" in {h.chunk.market for h in hits}


def test_a_brands_own_files_may_say_uk(agent: Agent, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "polydesk.yaml").write_text("market: uk\nkind: policy\n", encoding="utf-8")
    (folder / "returns.md").write_text("# Returns\n\nYou can return any item within 45 days.\n", encoding="utf-8")
    report = Ingestor(index=agent.index, settings=agent.settings).ingest([folder], SourceOptions(tenant="uk-brand"))
    assert [f.status for f in report.files] == ["added"]
    [record] = agent.index.list_documents("uk-brand").records
    assert record.market == "GB"
    [hit] = agent.index.search("return window", tenant="uk-brand", market="GB", top_k=1)
    assert hit.chunk.market == "GB"


@pytest.fixture
def cli_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("POLYDESK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def test_ingest_with_market_uk_stores_gb(tmp_path: Path, cli_data_dir: Path) -> None:
    folder = tmp_path / "uk"
    folder.mkdir()
    (folder / "delivery.md").write_text("# Delivery\n\nWe deliver with Royal Mail in 2-4 working days.\n",
                                        encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(folder), "--tenant", "acme", "--market", "UK", "--json"])
    assert result.exit_code == 0, result.output
    for market in ("GB", "UK"):
        result = runner.invoke(app, ["search", "Royal Mail", "--tenant", "acme", "--market", market, "--json"])
        [hit] = json.loads(result.stdout)
        assert hit["document_id"] == "delivery.md" and hit["market"] == "GB"
