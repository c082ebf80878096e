"""The ingestion pipeline end to end: real parsing, the real embedding model, the embedded Qdrant engine."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ingestion.pipeline import Ingestor
from ingestion.sources import SourceOptions
from knowledge.index import KnowledgeIndex
from knowledge.schema import ChunkFilter
from polydesk.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def ingestor(index: KnowledgeIndex, settings: Settings) -> Ingestor:
    return Ingestor(index=index, settings=settings)


def _ingest(ingestor: Ingestor, path: Path, tenant: str = "tidewell", market: str = "*"):  # type: ignore[no-untyped-def]
    return ingestor.ingest([path], SourceOptions(tenant=tenant, market=market))


def _stored_texts(index: KnowledgeIndex, tenant: str, document_id: str) -> list[str]:
    return [c.text for c in index.store.get_chunks(tenant, document_id)]


def test_every_source_type_is_ingested_with_its_metadata(ingestor: Ingestor, sources: Path) -> None:
    report = _ingest(ingestor, sources, market="US")
    by_id = {f.document_id: f for f in report.files}
    assert {f.status for f in report.files} == {"added"}, [(f.document_id, f.code, f.reason) for f in report.files]
    assert {k: by_id[k].kind for k in by_id} == {
        "policies/versand.md": "policy", "th.html": "doc", "jp.txt": "doc", "id.eml": "doc", "manual.pdf": "doc",
        "pflege.docx": "doc", "faq.csv": "faq", "wholesale.xlsx": "faq", "conversations.jsonl": "conversation",
        "more.csv": "conversation",
    }
    index = ingestor.index
    chunks = {d: index.store.get_chunks("tidewell", d) for d in by_id}
    assert {c.market for c in chunks["policies/versand.md"]} == {"DE"}  # polydesk.yaml beats --market
    assert {c.language for c in chunks["policies/versand.md"]} == {"de"}
    assert {c.language for c in chunks["th.html"]} == {"th"}
    assert {c.language for c in chunks["jp.txt"]} == {"ja"}
    assert {c.language for c in chunks["id.eml"]} == {"id"}
    assert {(c.market, c.language) for c in chunks["faq.csv"]} == {("BR", "pt"), ("VN", "vi")}
    assert {c.market for c in chunks["conversations.jsonl"]} == {"TH", "DE"}
    assert [c.extra["conversation_id"] for c in chunks["more.csv"]] == ["c-3"]
    assert any("TW-4417" in c.text and c.page == 1 for c in chunks["manual.pdf"])
    assert any("2,9 kg" in c.text for c in chunks["pflege.docx"])
    assert all(c.title for cs in chunks.values() for c in cs)
    assert report.totals()["chunks"] == sum(len(cs) for cs in chunks.values())


def test_conversations_are_always_redacted(ingestor: Ingestor, sources: Path) -> None:
    report = _ingest(ingestor, sources)
    texts = " ".join(_stored_texts(ingestor.index, "tidewell", "conversations.jsonl"))
    for secret in ("081-234-5678", "0151 23456789", "4111 1111 1111 1111"):
        assert secret not in texts
    assert "[PHONE]" in texts and "[CARD]" in texts
    result = next(f for f in report.files if f.document_id == "conversations.jsonl")
    assert result.redactions == {"PHONE": 2, "CARD": 1}


def test_reingesting_unchanged_files_changes_nothing(ingestor: Ingestor, sources: Path) -> None:
    first = _ingest(ingestor, sources)
    before = {r.document_id: (r.version, r.chunk_count) for r in ingestor.index.list_documents("tidewell").records}
    second = _ingest(ingestor, sources)
    assert {f.status for f in second.files} == {"unchanged"}
    assert second.totals()["chunks"] == 0
    after = {r.document_id: (r.version, r.chunk_count) for r in ingestor.index.list_documents("tidewell").records}
    assert after == before
    assert len(before) == len(first.files)


def test_a_changed_file_replaces_its_old_chunks(ingestor: Ingestor, tmp_path: Path) -> None:
    policy = tmp_path / "returns.md"
    policy.write_text("# Returns\n\nReturns are accepted within 30 days of delivery.\n")
    _ingest(ingestor, policy)
    policy.write_text("# Returns\n\nReturns are accepted within 45 days of delivery.\n")
    report = _ingest(ingestor, policy)
    assert report.files[0].status == "replaced"
    record = ingestor.index.get_document("tidewell", "returns.md")
    assert record is not None and record.version == 2
    stored = ingestor.index.store.get_chunks("tidewell", "returns.md")
    assert {c.version for c in stored} == {2}
    assert "45 days" in stored[0].text
    hits = ingestor.index.search("How many days do I have to return?", tenant="tidewell")
    assert [h.chunk.version for h in hits] == [2]


def test_readers_never_see_both_versions_or_neither(ingestor: Ingestor, tmp_path: Path) -> None:
    policy = tmp_path / "shipping.md"
    paragraphs = [f"Parcel option {i}: shipping to Austria takes {i + 2} working days." for i in range(12)]
    policy.write_text("# Shipping\n\n" + "\n\n".join(paragraphs))
    _ingest(ingestor, policy)
    seen: list[set[int]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            hits = ingestor.index.search("shipping to Austria", tenant="tidewell", top_k=3, mode="sparse")
            seen.append({h.chunk.version for h in hits})

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in range(2, 5):
            policy.write_text("# Shipping\n\n" + "\n\n".join(p.replace("Austria", "Austria ") + f" v{version}."
                                                              for p in paragraphs))
            assert _ingest(ingestor, policy).files[0].status == "replaced"
    finally:
        stop.set()
        reader.join()
    assert seen and all(len(versions) == 1 for versions in seen), [v for v in seen if len(v) != 1][:5]


def test_a_failed_write_leaves_the_previous_version_whole(ingestor: Ingestor, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "payment.md"
    policy.write_text("# Payment\n\nWe accept PayPal and SEPA direct debit.\n")
    _ingest(ingestor, policy)
    policy.write_text("# Payment\n\nWe accept PayPal, SEPA direct debit and Klarna.\n")
    store = ingestor.index.store

    def store_down(record: object) -> None:
        raise ConnectionError("store went away")

    monkeypatch.setattr(store, "put_document", store_down)
    with pytest.raises(ConnectionError):
        _ingest(ingestor, policy)
    monkeypatch.undo()
    assert {c.version for c in store.get_chunks("tidewell", "payment.md")} == {1}
    record = ingestor.index.get_document("tidewell", "payment.md")
    assert record is not None and record.version == 1


def test_deleting_a_document_removes_all_its_chunks(ingestor: Ingestor, sources: Path) -> None:
    _ingest(ingestor, sources)
    assert ingestor.index.delete_document("tidewell", "faq.csv")
    assert ingestor.index.get_document("tidewell", "faq.csv") is None
    assert ingestor.index.store.get_chunks("tidewell", "faq.csv") == []
    hits = ingestor.index.search("Quanto custa o frete?", tenant="tidewell", top_k=10)
    assert all(h.chunk.document_id != "faq.csv" for h in hits)
    assert not ingestor.index.delete_document("tidewell", "faq.csv")


def test_bad_files_are_skipped_with_a_reason_and_the_rest_is_ingested(ingestor: Ingestor, tmp_path: Path,
                                                                    make_pdf: Callable[..., Path]) -> None:
    from pypdf import PdfReader, PdfWriter

    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "good.md").write_text("# Garantie\n\nZwei Jahre Garantie auf alle Produkte.\n")
    (folder / "empty.txt").write_text("")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<\n garbage")
    (folder / "image.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    (folder / "program.exe").write_bytes(b"MZ\x90\x00" + b"\x00" * 64)
    (folder / "big.txt").write_text("x" * (2 * 1024 * 1024))
    (folder / "faq.csv").write_text("question,answer\n,\n")
    plain = make_pdf(tmp_path / "plain.pdf", ["Secret", "Price list"])
    writer = PdfWriter()
    for page in PdfReader(plain).pages:
        writer.add_page(page)
    writer.encrypt("pw")
    with open(folder / "locked.pdf", "wb") as handle:
        writer.write(handle)
    ingestor.settings = ingestor.settings.model_copy(update={"max_file_mb": 1.0})
    report = _ingest(ingestor, folder)
    codes = {f.document_id: (f.status, f.code) for f in report.files}
    assert codes == {
        "good.md": ("added", None),
        "empty.txt": ("skipped", "empty_file"),
        "broken.pdf": ("skipped", "corrupt_file"),
        "image.pdf": ("skipped", "unsupported_type"),
        "program.exe": ("skipped", "unsupported_type"),
        "big.txt": ("skipped", "file_too_large"),
        "faq.csv": ("skipped", "invalid_record"),
        "locked.pdf": ("skipped", "encrypted_file"),
    }
    assert all(f.reason for f in report.files if f.status == "skipped")
    documents = [r.document_id for r in ingestor.index.list_documents("tidewell").records]
    assert documents == ["good.md"]
    all_chunks = ingestor.index.store.count_chunks(ChunkFilter(tenant="tidewell"))
    assert all_chunks == len(ingestor.index.store.get_chunks("tidewell", "good.md"))


def test_a_tenant_never_sees_another_tenants_knowledge(ingestor: Ingestor, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "returns.md").write_text("# Rückgabe\n\nRückgabe innerhalb von 30 Tagen.\n")
    (b / "returns.md").write_text("# Rückgabe\n\nRückgabe innerhalb von 100 Tagen, Geheimtarif.\n")
    _ingest(ingestor, a, tenant="brand-a", market="DE")
    _ingest(ingestor, b, tenant="brand-b", market="DE")
    for query in ("Rückgabe 100 Tagen Geheimtarif", "Rückgabe"):
        for mode in ("hybrid", "dense", "sparse"):
            hits = ingestor.index.search(query, tenant="brand-a", top_k=10, mode=mode)  # type: ignore[arg-type]
            assert hits and {h.chunk.tenant for h in hits} == {"brand-a"}
    assert [r.document_id for r in ingestor.index.list_documents("brand-b").records] == ["returns.md"]
    assert ingestor.index.delete_document("brand-a", "returns.md")
    assert ingestor.index.get_document("brand-b", "returns.md") is not None


def test_a_file_whose_name_disguises_it_is_refused_and_the_rest_ingested(ingestor: Ingestor, tmp_path: Path) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    (folder / "ok-返品.md").write_text("# 返品\n\n商品到着後30日以内であれば返品できます。\n", encoding="utf-8")
    (folder / "\u202edm.exe").write_text("# Returns\n\nReturns are free within 30 days.\n", encoding="utf-8")
    report = _ingest(ingestor, folder)
    by_status = {f.status: f for f in report.files}
    assert set(by_status) == {"added", "skipped"}, [(f.document_id, f.status, f.code) for f in report.files]
    assert by_status["added"].document_id == "ok-返品.md"
    assert by_status["skipped"].code == "invalid_name" and "U+202E" in (by_status["skipped"].reason or "")
    assert ingestor.index.get_document("tidewell", "\u202edm.exe") is None
