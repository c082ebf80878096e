"""llama-index out: PolydeskRetriever gives the hits `polydesk search` gives, as llama-index nodes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nbformat
import pytest
from llama_index.core import Document
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers.no_text import NoText
from nbclient import NotebookClient
from typer.testing import CliRunner

from api.cli.main import app
from ingestion.llama_documents import ingest_documents
from ingestion.pipeline import Ingestor, IngestReport
from ingestion.sources import SourceOptions
from knowledge.embedder import Embedder
from knowledge.index import KnowledgeIndex
from knowledge.llama_index import PolydeskRetriever
from polydesk.errors import InputError
from polydesk.settings import Settings, get_settings

pytestmark = pytest.mark.integration

# (query, market, language): several languages and scripts, with and without filters.
CASES = [
    ("Wie lange habe ich Zeit, etwas zurückzuschicken?", "DE", None),
    ("คืนสินค้าได้ภายในกี่วัน", "TH", "th"),
    ("返品の送料は誰が払いますか", "JP", None),
    ("¿Cuánto cuesta el envío?", "ES", "es"),
    ("Berapa lama pengiriman?", "ID", None),
    ("Đổi trả hàng như thế nào?", None, None),
    ("شحن مجاني", "SA", "ar"),
]


def _ranking(pairs: list[tuple[str, float]]) -> list[tuple[float, str]]:
    """Hits in rank order, ties (equal fused scores, whose order the engine does not fix) by id."""
    return sorted(((round(score, 6), chunk_id) for chunk_id, score in pairs), key=lambda p: (-p[0], p[1]))


@pytest.mark.parametrize(("query", "market", "language"), CASES)
def test_the_same_hits_as_the_index_search(demo: tuple[IngestReport, KnowledgeIndex], query: str, market: str | None,
                                           language: str | None) -> None:
    _, index = demo
    retriever = PolydeskRetriever(index, tenant="tidewell", market=market, language=language, top_k=6)
    nodes = retriever.retrieve(query)
    hits = index.search(query, tenant="tidewell", market=market, language=language, top_k=6)
    assert hits, "the demo knowledge answers every case"
    assert _ranking([(n.node.node_id, n.score or 0.0) for n in nodes]) == _ranking(
        [(h.chunk.point_id, h.score) for h in hits])
    assert [n.score for n in nodes] == pytest.approx([h.score for h in hits], abs=1e-6)
    by_id = {h.chunk.point_id: h for h in hits}
    for node in nodes:
        hit = by_id[node.node.node_id]
        meta = node.node.metadata
        assert node.node.get_content() == hit.chunk.text
        assert (meta["document_id"], meta["version"], meta["market"], meta["language"], meta["title"],
                meta["chunk_id"]) == (hit.chunk.document_id, hit.chunk.version, hit.chunk.market,
                                      hit.chunk.language, hit.chunk.title, hit.chunk.point_id)
        assert market is None or meta["market"] in (market, "*")
        assert language is None or meta["language"] == language
    retriever.close()                                    # not its index: it stays open
    assert index.search(query, tenant="tidewell", market=market, top_k=1)


def test_filters_tenant_and_dense_mode(demo: tuple[IngestReport, KnowledgeIndex]) -> None:
    _, index = demo
    assert PolydeskRetriever(index, tenant="acme").retrieve("Rückgabe") == []          # another tenant's knowledge
    dense = PolydeskRetriever(index, tenant="tidewell", market="TH", mode="dense", top_k=3).retrieve("ส่งฟรีไหม")
    expected = index.search("ส่งฟรีไหม", tenant="tidewell", market="TH", mode="dense", top_k=3)
    assert _ranking([(n.node.node_id, n.score or 0.0) for n in dense]) == _ranking(
        [(h.chunk.point_id, h.score) for h in expected])
    assert all(0 < (n.score or 0) <= 1 for n in dense)                                  # cosine similarities
    nodes = asyncio.run(PolydeskRetriever(index, tenant="tidewell", market="DE").aretrieve("Rückgabefrist"))
    assert nodes and {n.node.metadata["market"] for n in nodes} <= {"DE", "*"}
    for bad in ({"tenant": "bad tenant"}, {"tenant": "tidewell", "market": "Germany"},
                {"tenant": "tidewell", "language": "deutsch"}, {"tenant": "tidewell", "top_k": 0}):
        with pytest.raises(InputError):
            PolydeskRetriever(index, **bad)


def test_usable_in_a_query_engine(demo: tuple[IngestReport, KnowledgeIndex]) -> None:
    _, index = demo
    retriever = PolydeskRetriever(index, tenant="tidewell", market="VN", top_k=4)
    # "no_text" synthesises nothing: the placeholder LLM is never called.
    engine = RetrieverQueryEngine(retriever, response_synthesizer=NoText(llm=MockLLM()))
    response = engine.query("Bao lâu thì được giao hàng?")
    expected = index.search("Bao lâu thì được giao hàng?", tenant="tidewell", market="VN", top_k=4)
    assert _ranking([(n.node.node_id, n.score or 0.0) for n in response.source_nodes]) == _ranking(
        [(h.chunk.point_id, h.score) for h in expected])
    assert response.source_nodes[0].node.metadata["language"] == "vi"


@pytest.mark.slow
def test_the_same_hits_as_the_cli_and_from_settings_owns_its_index(embedder: Embedder, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    index = KnowledgeIndex.open(settings, embedder=embedder)
    documents = [
        Document(text="# Versand\n\nAb 50 € versenden wir kostenlos innerhalb Deutschlands.", metadata={
            "document_id": "de/versand.md", "market": "DE"}),
        Document(text="# Rückgabe\n\nSie können Artikel 30 Tage lang zurückgeben.", metadata={
            "document_id": "de/rueckgabe.md", "market": "DE"}),
        Document(text="# การจัดส่ง\n\nจัดส่งฟรีเมื่อซื้อครบ 990 บาท", metadata={"document_id": "th/ship.md", "market": "TH"}),
        Document(text="# 配送\n\n5,000円以上のご注文で送料無料です。", metadata={"document_id": "jp/ship.md", "market": "JP"}),
        Document(text="# Shipping\n\nFree shipping on every order over 50 dollars.", metadata={"document_id": "all/ship.md"}),
    ]
    report = ingest_documents(Ingestor(index=index, settings=settings), documents, SourceOptions(tenant="acme"))
    assert report.totals()["added"] == 5
    index.close()

    monkeypatch.setenv("POLYDESK_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    cases = (("kostenloser Versand", "DE"), ("送料無料", "JP"))
    try:
        cli_rows = []
        for query, market in cases:
            result = CliRunner().invoke(app, ["search", query, "--tenant", "acme", "--market", market, "--top", "3",
                                              "--json"])
            assert result.exit_code == 0, result.output
            cli_rows.append(json.loads(result.stdout))
    finally:
        get_settings.cache_clear()
    with PolydeskRetriever.from_settings(settings, tenant="acme", market="DE", top_k=3) as owner:
        for (query, market), rows in zip(cases, cli_rows, strict=True):
            nodes = PolydeskRetriever(owner.index, tenant="acme", market=market, top_k=3).retrieve(query)
            assert rows and len(nodes) == len(rows)
            assert [n.score for n in nodes] == pytest.approx([r["score"] for r in rows], abs=1e-4)
            assert _ranking([(n.node.node_id, round(n.score or 0.0, 4)) for n in nodes]) == _ranking(
                [(r["chunk_id"], r["score"]) for r in rows])
            documents_of = {n.node.node_id: n.node.metadata["document_id"] for n in nodes}
            assert all(documents_of[r["chunk_id"]] == r["document_id"] for r in rows)
            assert rows[0]["document_id"] == {"DE": "de/versand.md", "JP": "jp/ship.md"}[market]
    reopened = KnowledgeIndex.open(settings, embedder=embedder)       # the retriever released the folder lock
    reopened.close()


NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "llama_index_retriever.ipynb"


@pytest.mark.slow
def test_the_notebook_runs() -> None:
    """The notebook as CI runs it (also alone: pytest --nbmake notebooks/), on its own temporary index."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    for document_id in ("versand-rueckgabe-zahlung.md", "shipping-returns-th.html", "shipping-returns-ja.txt",
                        "id/pengiriman.md", "es/envios.md"):
        assert document_id in text
    assert "'added': 5" in text and "'unchanged': 5" in text
    assert "DE: same hits: True" in text and "ID: same hits: True" in text and "acme: []" in text
    assert "cs@tidewell.example" not in text and "[EMAIL]" in text                  # redacted on the way in
