"""llama-index in: Documents from llama-index readers ingested like files (redacted, chunked, detected, versioned)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llama_index.core import Document, SimpleDirectoryReader
from llama_index.readers.json import JSONReader

from ingestion.llama_documents import (
    DocumentRow,
    DocumentsError,
    ingest_documents,
    ingest_jsonl,
    read_jsonl,
    text_sources,
)
from ingestion.pipeline import Ingestor
from ingestion.sources import SourceOptions
from knowledge.index import KnowledgeIndex
from polydesk.errors import EmptyFileError
from polydesk.settings import Settings

VERSAND = "# Versand\n\nAb 50 € versenden wir kostenlos. Fragen an kundin.service@beispiel.de oder +49 30 12345678.\n"
KHUEN = "การคืนสินค้า\n\nคืนสินค้าได้ภายใน 30 วัน ติดต่อ somchai@example.co.th หรือโทร 081 234 5678\n"


def _texts(index: KnowledgeIndex, tenant: str, document_id: str) -> str:
    record = index.get_document(tenant, document_id)
    assert record is not None
    return "\n".join(c.text for c in index.get_chunks(tenant, document_id, version=record.version))


@pytest.mark.integration
def test_documents_are_redacted_and_versioned_like_files(index: KnowledgeIndex, settings: Settings) -> None:
    ingestor = Ingestor(index=index, settings=settings.model_copy(update={"redact_documents": True}))
    options = SourceOptions(tenant="acme", market="DE")
    documents = [Document(text=VERSAND, metadata={"file_name": "versand.md", "file_path": "/kb/versand.md"}),
                 Document(text=KHUEN, metadata={"document_id": "th/คืนสินค้า", "market": "TH", "language": "th",
                                                "title": "คืนสินค้า"})]

    first = ingest_documents(ingestor, documents, options)
    assert first.totals()["added"] == 2, first.to_dict()
    versand, khuen = first.files
    assert versand.document_id == "versand.md" and versand.path == "versand.md"
    assert versand.redactions == {"EMAIL": 1, "PHONE": 1} and khuen.redactions == {"EMAIL": 1, "PHONE": 1}
    stored = _texts(index, "acme", "versand.md") + _texts(index, "acme", "th/คืนสินค้า")
    for secret in ("kundin.service@beispiel.de", "12345678", "somchai@example.co.th", "234 5678"):
        assert secret not in stored
    assert stored.count("[EMAIL]") == 2 and stored.count("[PHONE]") == 2
    record = index.get_document("acme", "th/คืนสินค้า")
    assert record is not None
    assert (record.version, record.market, record.language, record.title) == (1, "TH", "th", "คืนสินค้า")
    assert record.source == "llama-index:th/คืนสินค้า"
    versand_record = index.get_document("acme", "versand.md")
    assert versand_record is not None and (versand_record.title, versand_record.market) == ("Versand", "DE")

    again = ingest_documents(ingestor, documents, options)
    assert [f.status for f in again.files] == ["unchanged", "unchanged"]

    changed = [Document(text=VERSAND.replace("50 €", "80 €"), metadata=documents[0].metadata), documents[1]]
    third = ingest_documents(ingestor, changed, options)
    assert [f.status for f in third.files] == ["replaced", "unchanged"]
    record = index.get_document("acme", "versand.md")
    assert record is not None and record.version == 2
    assert "80 €" in _texts(index, "acme", "versand.md") and "50 €" not in _texts(index, "acme", "versand.md")
    hits = index.search("Versandkosten kostenlos", tenant="acme", market="DE", top_k=3)
    assert hits and hits[0].chunk.document_id == "versand.md" and hits[0].chunk.version == 2

    retitled = [changed[0], Document(text=KHUEN, metadata={**documents[1].metadata, "title": "นโยบายคืนสินค้า"})]
    assert [f.status for f in ingest_documents(ingestor, retitled, options).files] == ["unchanged", "replaced"]


@pytest.mark.integration
def test_documents_are_not_redacted_unless_asked(index: KnowledgeIndex, settings: Settings) -> None:
    ingestor = Ingestor(index=index, settings=settings)
    documents = [Document(text=VERSAND, metadata={"document_id": "versand.md"})]
    ingest_documents(ingestor, documents, SourceOptions(tenant="acme", market="DE"))
    assert "kundin.service@beispiel.de" in _texts(index, "acme", "versand.md")
    report = ingest_documents(ingestor, documents, SourceOptions(tenant="acme", market="DE", redact=True))
    assert report.files[0].status == "replaced" and report.files[0].redactions == {"EMAIL": 1, "PHONE": 1}
    assert "kundin.service@beispiel.de" not in _texts(index, "acme", "versand.md")


@pytest.mark.integration
def test_simple_directory_reader_folder_is_ingested(index: KnowledgeIndex, settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "help"
    (folder / "jp").mkdir(parents=True)
    (folder / "versand.md").write_text(VERSAND, encoding="utf-8")
    (folder / "jp" / "返品.txt").write_text("返品は商品到着後30日以内に受け付けます。送料は当社が負担します。", encoding="utf-8")
    (folder / "envio.html").write_text("<html><body><nav>Menú</nav><h1>Envíos</h1><p>El envío es gratuito a partir "
                                       "de 50 euros en toda España.</p></body></html>", encoding="utf-8")
    documents = SimpleDirectoryReader(str(folder), recursive=True).load_data()
    assert len(documents) == 3

    report = ingest_documents(Ingestor(index=index, settings=settings), documents, SourceOptions(tenant="acme"))
    assert report.totals()["added"] == 3, report.to_dict()
    by_id = {r.document_id: r for r in index.list_documents("acme").records}
    assert set(by_id) == {"versand.md", "返品.txt", "envio.html"}
    assert (by_id["versand.md"].language, by_id["返品.txt"].language, by_id["envio.html"].language) == ("de", "ja", "es")
    assert by_id["envio.html"].title == "Envíos" and by_id["返品.txt"].title == "返品"
    assert "<p>" not in _texts(index, "acme", "envio.html")      # read as HTML, not as text with tags
    hits = index.search("返品の期限は？", tenant="acme", top_k=1)
    assert hits[0].chunk.document_id == "返品.txt"
    again = ingest_documents(Ingestor(index=index, settings=settings),
                             SimpleDirectoryReader(str(folder), recursive=True).load_data(), SourceOptions(tenant="acme"))
    assert again.totals()["unchanged"] == 3                       # new random id_s, same file names: same documents


@pytest.mark.integration
def test_json_reader_package_output_is_ingested(index: KnowledgeIndex, settings: Settings, tmp_path: Path) -> None:
    faq = tmp_path / "faq-id.json"
    faq.write_text(json.dumps({"pertanyaan": "Berapa lama pengiriman ke Surabaya?",
                               "jawaban": "Pengiriman ke Surabaya memakan waktu 2 sampai 3 hari kerja."},
                              ensure_ascii=False), encoding="utf-8")
    documents = JSONReader().load_data(str(faq), extra_info={"document_id": "faq/pengiriman", "market": "ID"})
    report = ingest_documents(Ingestor(index=index, settings=settings), documents, SourceOptions(tenant="acme"))
    assert report.totals()["added"] == 1
    record = index.get_document("acme", "faq/pengiriman")
    assert record is not None and (record.market, record.language) == ("ID", "id")
    hits = index.search("berapa hari kirim ke Surabaya", tenant="acme", market="ID", top_k=1)
    assert hits[0].chunk.document_id == "faq/pengiriman" and "2 sampai 3 hari" in hits[0].chunk.text


@pytest.mark.integration
def test_jsonl_export_in_both_shapes(index: KnowledgeIndex, settings: Settings) -> None:
    pages = [Document(text=f"Trang {n}: Đổi trả trong vòng 30 ngày, trang số {n} của chính sách.",
                      metadata={"file_name": "doi-tra.pdf", "file_path": "/kb/doi-tra.pdf", "market": "VN"})
             for n in (1, 2)]
    zh = Document(text="退货政策：收到商品后三十天内可以退货。", metadata={"title": "退货"}, id_="zh-returns")
    old_shape = json.loads(zh.to_json())
    del old_shape["text_resource"]
    new_shape = json.loads(pages[1].model_dump_json())
    del new_shape["text"]                                          # only text_resource.text
    data = "\n".join([pages[0].model_dump_json(), json.dumps(new_shape, ensure_ascii=False), "",
                      json.dumps(old_shape, ensure_ascii=False)]).encode()

    report = ingest_jsonl(Ingestor(index=index, settings=settings), data, SourceOptions(tenant="acme", market="CN"))
    assert [(f.document_id, f.status) for f in report.files] == [("doi-tra.pdf", "added"), ("zh-returns", "added")]
    text = _texts(index, "acme", "doi-tra.pdf")
    assert "Trang 1" in text and "Trang 2" in text and text.index("Trang 1") < text.index("Trang 2")
    records = {r.document_id: r for r in index.list_documents("acme").records}
    assert (records["doi-tra.pdf"].market, records["doi-tra.pdf"].language) == ("VN", "vi")
    assert (records["zh-returns"].market, records["zh-returns"].language, records["zh-returns"].title) == (
        "CN", "zh", "退货")


@pytest.mark.integration
def test_a_bad_line_refuses_the_whole_file(index: KnowledgeIndex, settings: Settings) -> None:
    good = Document(text="Ab 50 € versenden wir kostenlos.", metadata={"document_id": "versand"}).model_dump_json()
    lines = [good,
             '{"text": "kaputt"',                                                    # 2: not JSON
             '{"metadata": {"document_id": "x"}}',                                    # 3: no text
             json.dumps({"text": "Hola", "metadata": {"document_id": "es/envío", "market": "Spain"}}),  # 4
             json.dumps({"text": "Hola", "metadata": {"document_id": "\u202edm.exe"}}),                 # 5
             "[1, 2]"]                                                                 # 6
    with pytest.raises(DocumentsError) as caught:
        ingest_jsonl(Ingestor(index=index, settings=settings), "\n".join(lines).encode(), SourceOptions(tenant="acme"))
    error = caught.value
    assert error.code == "invalid_record" and "line 2" in error.message
    assert [(p["line"], p["code"]) for p in error.problems] == [(2, "invalid_record"), (3, "invalid_record"),
                                                               (6, "invalid_record")]
    with pytest.raises(DocumentsError) as caught:
        ingest_jsonl(Ingestor(index=index, settings=settings), "\n".join(lines[:1] + lines[3:5]).encode(),
                     SourceOptions(tenant="acme"))
    assert [(p["line"], p["code"]) for p in caught.value.problems] == [(2, "invalid_record"), (3, "invalid_name")]
    assert index.list_documents("acme").records == []               # the good line was not ingested either


@pytest.mark.unit
def test_reading_rules() -> None:
    with pytest.raises(EmptyFileError):
        read_jsonl(b"\n  \n")
    rows, numbers = read_jsonl(b'\xef\xbb\xbf{"text": "a", "doc_id": "old", "extra_info": {"market": "th"}}\n\n'
                               b'{"text_resource": {"text": "b"}, "id_": "new"}')
    assert rows == [DocumentRow("a", {"market": "th"}, "old"), DocumentRow("b", {}, "new")] and numbers == [1, 3]
    with pytest.raises(DocumentsError) as caught:
        read_jsonl(b'{"text": "a", "id_": "x"}\n\xff\xfe')
    assert caught.value.problems[0]["line"] == 2 and "UTF-8" in caught.value.problems[0]["message"]

    options = SourceOptions(tenant="acme")
    same_name = [Document(text="a", metadata={"file_name": "faq.md", "file_path": f"/kb/{lang}/faq.md"})
                 for lang in ("de", "th")]
    with pytest.raises(DocumentsError) as caught:
        text_sources(same_name, options)
    assert caught.value.problems == [{"document": 2, "code": "invalid_name", "message": caught.value.problems[0][
        "message"]}] and "document_id" in caught.value.problems[0]["message"]
    sources = text_sources([Document(text="x", id_="plain"), Document(text="  ", metadata={"file_name": "e.txt"}),
                            Document(text="y", metadata={"document_id": "a/b.md", "language": "PT_BR"}),
                            Document(text="z", metadata={"document_id": 42, "file_name": "row.txt"})], options)
    assert [(s.document_id, s.text, s.options.language) for s in sources] == [
        ("plain", "x", None), ("e.txt", "", None), ("a/b.md", "y", "pt-br"), ("42", "z", None)]
