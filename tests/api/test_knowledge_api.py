"""/v1/knowledge through the real app: upload → job → documents → delete, roles, tenants, limits, unsafe files."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

import pytest

ApiHarness = Any  # tests/api/conftest.py

pytestmark = [pytest.mark.integration]

DE = "# Rückgabe\n\nArtikel können innerhalb von 30 Tagen kostenlos zurückgesendet werden.\n"
TH = "# การคืนสินค้า\n\nคุณสามารถคืนสินค้าได้ภายใน 30 วันหลังได้รับสินค้า โดยไม่มีค่าใช้จ่าย\n"
JA = "返品について\n\n商品到着後30日以内であれば、送料無料で返品を承ります。\n"
AR = "# سياسة الإرجاع\n\nيمكنك إرجاع المنتج خلال ثلاثين يومًا من الاستلام مجانًا.\n"
FAQ = [
    {"question": "¿Cuánto tarda el envío?", "answer": "El envío tarda de 3 a 5 días hábiles; a; b", "language": "es"},
    {"question": "Berapa lama pengiriman?", "answer": "Pengiriman memakan waktu 3-5 hari kerja.", "language": "id"},
    {"question": "Giao hàng mất bao lâu?", "answer": "Giao hàng mất từ 3 đến 5 ngày làm việc.", "language": "vi"},
    {"question": "Combien de temps dure la livraison ?", "answer": "La livraison prend 3 à 5 jours ouvrés.\tMerci"},
]


def files(*named: tuple[str, bytes | str]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, data.encode() if isinstance(data, str) else data, "application/octet-stream"))
            for name, data in named]


def upload(api: ApiHarness, *named: tuple[str, bytes | str], tenant: str = "tidewell", **form: str) -> dict[str, Any]:
    response = api.client.post("/v1/knowledge", headers=api.headers("content", tenant), files=files(*named),
                               data=form)
    assert response.status_code == 202, response.text
    return api.finished_job(response.json(), tenant=tenant)


def test_upload_list_read_and_delete_documents_in_many_languages(fresh_api: ApiHarness) -> None:
    api = fresh_api
    de = upload(api, ("rueckgabe.md", DE), market="DE", kind="policy", folder="policies/DE/")
    assert de["status"] == "done" and de["files"][0]["document_id"] == "policies/DE/rueckgabe.md"
    many = upload(api, ("คืนสินค้า.md", TH), ("返品ポリシー.txt", JA), ("الإرجاع.md", AR), ("../../etc/passwd.md", DE))
    assert many["status"] == "partial"
    assert {f["document_id"]: f["status"] for f in many["files"]} == {
        "คืนสินค้า.md": "added", "返品ポリシー.txt": "added", "الإرجاع.md": "added", None: "skipped"}
    traversal = many["files"][-1]
    assert traversal["name"] == "../../etc/passwd.md" and traversal["code"] == "invalid_name"
    batch = api.client.post("/v1/knowledge", headers=api.headers("content"),
                            json={"name": "faq/shipping", "market": "*", "faq": FAQ})
    assert batch.status_code == 202, batch.text
    faq = api.finished_job(batch.json())
    assert faq["status"] == "done" and faq["files"][0]["chunks"] == 4 and faq["files"][0]["kind"] == "faq"

    def listing(**params: Any) -> dict[str, Any]:
        response = api.client.get("/v1/knowledge/documents", headers=api.headers("content"), params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    every = {d["document_id"] for d in listing(limit=100)["documents"]}
    assert every == {"policies/DE/rueckgabe.md", "คืนสินค้า.md", "返品ポリシー.txt", "الإرجاع.md", "faq/shipping.csv"}
    assert [d["document_id"] for d in listing(market="DE")["documents"]] == ["policies/DE/rueckgabe.md"]
    assert [d["document_id"] for d in listing(language="th")["documents"]] == ["คืนสินค้า.md"]
    assert [d["document_id"] for d in listing(kind="faq")["documents"]] == ["faq/shipping.csv"]
    paged, cursor, pages = [], None, 0
    while True:
        page = listing(limit=4, **({"cursor": cursor} if cursor else {}))
        paged += [d["document_id"] for d in page["documents"]]
        pages, cursor = pages + 1, page["next_cursor"]
        if cursor is None:
            break
    assert pages == 2 and sorted(paged) == sorted(every)
    faq_chunks = api.services.index.get_chunks("tidewell", "faq/shipping.csv")
    assert [c.kind for c in faq_chunks] == ["faq"] * 4
    assert faq_chunks[0].extra["question"] == FAQ[0]["question"] and faq_chunks[0].extra["answer"] == FAQ[0]["answer"]

    th = api.client.get("/v1/knowledge/documents/คืนสินค้า.md", headers=api.headers("content")).json()
    assert th["language"] == "th" and th["chunk_count"] >= 1 and "30 วัน" in th["chunks"][0]["text"]
    assert "source" not in th  # no server path
    gone = api.client.delete("/v1/knowledge/documents/คืนสินค้า.md", headers=api.headers("content"))
    assert gone.status_code == 204 and gone.content == b""
    assert api.client.get("/v1/knowledge/documents/คืนสินค้า.md", headers=api.headers("content")).status_code == 404
    again = api.client.delete("/v1/knowledge/documents/คืนสินค้า.md", headers=api.headers("content"))
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    hits = api.services.agent.index.search("คืนสินค้าภายใน 30 วัน", tenant="tidewell", top_k=10)
    assert hits and all(h.chunk.document_id != "คืนสินค้า.md" for h in hits)
    assert api.leftover_spools() == []


def test_conversations_batch_is_ingested_redacted(fresh_api: ApiHarness) -> None:
    conversation = {"conversation_id": "c-1", "language": "th", "channel": "line", "customer_id": "cust-9",
                    "turns": [{"role": "customer", "text": "ส่งฟรีไหมคะ อีเมลฉัน somchai@example.co.th"},
                              {"role": "agent", "text": "ส่งฟรีเมื่อซื้อครบ 990 บาทค่ะ"}]}
    response = fresh_api.client.post("/v1/knowledge", headers=fresh_api.headers("admin"),
                                     json={"name": "transcripts/line-th", "market": "TH", "conversations": [conversation]})
    assert response.status_code == 202, response.text
    job = fresh_api.finished_job(response.json())
    result = job["files"][0]
    assert result["document_id"] == "transcripts/line-th.jsonl" and result["kind"] == "conversation"
    assert result["status"] == "added" and result["redactions"].get("EMAIL") == 1


def test_only_content_and_admin_keys_may_use_it(fresh_api: ApiHarness) -> None:
    api = fresh_api
    calls = [("get", "/v1/knowledge/documents"), ("get", "/v1/knowledge/documents/a.md"),
             ("delete", "/v1/knowledge/documents/a.md"), ("get", "/v1/knowledge/jobs/" + "0" * 32),
             ("post", "/v1/knowledge")]
    for method, url in calls:
        forbidden = api.client.request(method, url, headers=api.headers("connector"), json={"name": "x", "faq": FAQ})
        assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden", (method, url)
        missing = api.client.request(method, url)
        assert missing.status_code == 401 and missing.json()["code"] == "unauthenticated"
    admin = api.client.get("/v1/knowledge/documents", headers=api.headers("admin"))
    assert admin.status_code == 200


def test_another_tenant_can_neither_see_nor_touch_documents_or_jobs(fresh_api: ApiHarness) -> None:
    api = fresh_api
    job = upload(api, ("tidewell-only.md", DE), market="DE")
    acme = api.headers("content", "acme")
    assert api.client.get(job["links"]["self"], headers=acme).status_code == 404
    assert api.client.get("/v1/knowledge/documents/tidewell-only.md", headers=acme).status_code == 404
    refused = api.client.delete("/v1/knowledge/documents/tidewell-only.md", headers=acme)
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    listed = api.client.get("/v1/knowledge/documents", headers=acme).json()["documents"]
    assert all(d["document_id"] != "tidewell-only.md" for d in listed)
    ours = upload(api, ("tidewell-only.md", TH), tenant="acme")  # the same name is acme's own document
    assert ours["files"][0]["status"] == "added"
    kept = api.client.get("/v1/knowledge/documents/tidewell-only.md", headers=api.headers("content")).json()
    assert kept["market"] == "DE" and kept["language"] == "de"


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX_PARTS = {"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<Relationships/>"}


@pytest.mark.parametrize(("named", "status", "code"), [
    ([("picture.md", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)], 415, "unsupported_type"),
    ([("bomb.docx", zip_bytes({**DOCX_PARTS, "word/document.xml": b"<w>" + b"0" * 40_000_000}))], 400,
     "unsafe_archive"),
    ([("nested.docx", zip_bytes({**DOCX_PARTS, "word/document.xml": b"<w/>", "word/inner.zip": zip_bytes({"a": b"a"})}))],
     400, "unsafe_archive"),
    ([(f"{n}.md", DE) for n in range(21)], 413, "too_many_files"),
    ([("empty.md", b"")], 400, "empty_file"),
    ([("polydesk.yaml", b"market: US\n")], 400, "invalid_input"),
    ([("a.md", DE), ("a.md", TH)], 400, "invalid_input"),
])
def test_unsafe_or_invalid_uploads_are_refused_and_leave_nothing(fresh_api: ApiHarness, named: list[Any],
                                                                 status: int, code: str) -> None:
    response = fresh_api.client.post("/v1/knowledge", headers=fresh_api.headers("content"), files=files(*named))
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["message"] and "Traceback" not in response.text
    if code != "too_many_files":  # refused file by file: the body lists each one
        assert [d["name"] for d in body["details"]] == [name for name, _ in named]
        assert all(d["code"] == code for d in body["details"])
    assert fresh_api.leftover_spools() == []


def test_size_caps_stop_the_upload_while_it_streams(fresh_api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = fresh_api.services.settings
    monkeypatch.setattr(settings, "max_file_mb", 0.01)
    big = fresh_api.client.post("/v1/knowledge", headers=fresh_api.headers("content"),
                                files=files(("big.md", "ä" * 20_000)))
    assert big.status_code == 413 and big.json()["code"] == "file_too_large" and "big.md" in big.json()["message"]
    monkeypatch.setattr(settings, "max_upload_total_mb", 0.02)
    total = fresh_api.client.post("/v1/knowledge", headers=fresh_api.headers("content"),
                                  files=files(*[(f"{n}.md", "ü" * 4000) for n in range(5)]))
    assert total.status_code == 413 and total.json()["code"] == "file_too_large"
    assert fresh_api.leftover_spools() == []


def test_bad_requests_are_clear(fresh_api: ApiHarness) -> None:
    api, headers = fresh_api, fresh_api.headers("content")
    plain = api.client.post("/v1/knowledge", headers={**headers, "Content-Type": "text/plain"}, content=b"hello")
    assert plain.status_code == 415 and plain.json()["code"] == "unsupported_type"
    invalid = api.client.post("/v1/knowledge", headers=headers, json={"name": "x", "faq": [{"question": "q"}]})
    assert invalid.status_code == 422 and invalid.json()["code"] == "validation_error"
    assert "answer" in invalid.json()["message"]
    both = api.client.post("/v1/knowledge", headers=headers, json={"name": "x"})
    assert both.status_code == 400
    market = api.client.post("/v1/knowledge", headers=headers, files=files(("a.md", DE)), data={"market": "Germany"})
    assert market.status_code == 400 and "GERMANY" in market.json()["message"].upper()
    cursor = api.client.get("/v1/knowledge/documents", headers=headers, params={"cursor": "garbage"})
    assert cursor.status_code == 400 and cursor.json()["code"] == "invalid_input"
    limit = api.client.get("/v1/knowledge/documents", headers=headers, params={"limit": 101})
    assert limit.status_code == 422
    assert api.client.get("/v1/knowledge/jobs/../../etc", headers=headers).status_code == 404
    assert api.leftover_spools() == []


def office_files() -> list[tuple[str, bytes]]:
    from docx import Document
    from openpyxl import Workbook

    document, docx = Document(), io.BytesIO()
    document.add_heading("Pflege des Koffers", level=1)
    document.add_paragraph("Die Schale mit einem feuchten Tuch reinigen, keine Scheuermittel verwenden.")
    document.save(docx)
    workbook, xlsx = Workbook(), io.BytesIO()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Question", "Answer", "Language"])
    sheet.append(["¿Hacen pedidos al por mayor?", "Sí, a partir de 50 unidades.", "es"])
    workbook.save(xlsx)
    return [("pflege.docx", docx.getvalue()), ("mayoreo.xlsx", xlsx.getvalue())]


def test_office_files_pass_the_archive_checks_and_a_corrupt_pdf_is_reported_per_file(fresh_api: ApiHarness) -> None:
    job = upload(fresh_api, ("broken.pdf", b"%PDF-1.7\n1 0 obj <<\n garbage"), ("ok.md", AR), *office_files(),
                 market="SA")
    assert job["status"] == "partial"
    results = {f["document_id"]: f for f in job["files"]}
    assert results["pflege.docx"]["status"] == "added" and results["mayoreo.xlsx"]["kind"] == "faq"
    assert results["broken.pdf"]["status"] == "skipped" and results["broken.pdf"]["code"] == "corrupt_file"
    assert results["broken.pdf"]["reason"] and str(fresh_api.settings.upload_dir) not in results["broken.pdf"]["reason"]
    assert results["ok.md"]["status"] == "added" and job["totals"]["skipped"] == 1


@pytest.mark.slow
def test_answers_are_served_while_a_large_upload_is_ingested(fresh_api: ApiHarness) -> None:
    api = fresh_api
    upload(api, ("answers.md", DE), market="DE")
    paragraphs = "\n\n".join(f"## Abschnitt {n}\n\n" + DE * 4 for n in range(30))
    big = [(f"handbuch-{n}.md", f"# Handbuch {n}\n\n{paragraphs}") for n in range(2)]
    response = api.client.post("/v1/knowledge", headers=api.headers("content"), files=files(*big), data={"market": "DE"})
    assert response.status_code == 202
    job, served_during, state = response.json(), 0, {"status": "queued"}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        before = state["status"]
        reply = api.ask("Wie lange kann ich Artikel zurücksenden?", market="DE")
        assert reply["citations"], reply
        state = api.client.get(job["links"]["self"], headers=api.headers("content")).json()
        served_during += before == "running" and state["status"] == "running"  # answered while the job ran
        if state["status"] in ("done", "failed"):
            break
    assert state["status"] == "done" and state["totals"]["chunks"] > 40, state
    assert served_during >= 1  # the ingestion worker does not hold answers back until it is done


@pytest.mark.unit
@pytest.mark.parametrize(("name", "folder", "expected"), [
    ("返品ポリシー.md", "policies/JP/", "policies/JP/返品ポリシー.md"),
    ("C:\\Users\\somchai\\คืนสินค้า.md", "", "Users/somchai/คืนสินค้า.md"),
    ("a.md", "/abs//x/", "abs/x/a.md"),
    ("Ru\u0308ckgabe.md", "", "Rückgabe.md"),  # NFD (macOS) → NFC
    ("ก" * 80 + ".md", "", "ก" * 80 + ".md"),  # 243 UTF-8 bytes: within the 255 a file system allows
    ("a\u200bb.md", "", "ab.md"),  # a zero-width space is dropped
])
def test_file_names_are_made_safe_and_keep_unicode(name: str, folder: str, expected: str) -> None:
    from api.uploads import safe_document_path

    assert safe_document_path(name, folder=folder) == expected


@pytest.mark.unit
@pytest.mark.parametrize("name", ["..", "", " / ", "polydesk.yaml", "/".join("d" * 9) + "/x.md", "../../etc/x.md",
                                  ".env", "a\x00b.md", "\u202edm.exe", "ก" * 100 + ".md"])
def test_unsafe_file_names_are_refused(name: str) -> None:
    from api.uploads import safe_document_path
    from polydesk.errors import InputError

    with pytest.raises(InputError):
        safe_document_path(name)
