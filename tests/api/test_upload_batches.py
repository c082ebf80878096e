"""Upload batches like the CLI: one bad file is reported and skipped, the rest is ingested; names are checked.

Through the real app (real multipart parsing, real Redis job queue, real index): 16 good files in several
languages and one bad file of each kind, a batch of only bad files, refused names (``..``, ``.``, U+202E,
NUL, zero-width only, too long) next to Japanese, Thai and Arabic names that must keep working, JSON batches
and ``DELETE`` by id.
"""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

ApiHarness = Any  # tests/api/conftest.py

pytestmark = [pytest.mark.integration]

GOOD: dict[str, str] = {
    "rueckgabe.md": "# Rückgabe\n\nArtikel können innerhalb von 30 Tagen kostenlos zurückgesendet werden.\n",
    "versand.md": "# Versand\n\nDer Versand ist ab 50 Euro Bestellwert kostenlos.\n",
    "คืนสินค้า.md": "# การคืนสินค้า\n\nคุณสามารถคืนสินค้าได้ภายใน 30 วันหลังได้รับสินค้า\n",
    "จัดส่ง.txt": "การจัดส่งใช้เวลา 2 ถึง 4 วันทำการทั่วประเทศไทย\n",
    "返品ポリシー.md": "# 返品について\n\n商品到着後30日以内であれば、送料無料で返品を承ります。\n",
    "配送.txt": "ご注文から3日以内に発送いたします。\n",
    "الإرجاع.md": "# سياسة الإرجاع\n\nيمكنك إرجاع المنتج خلال ثلاثين يومًا من الاستلام مجانًا.\n",
    "الشحن.txt": "الشحن مجاني للطلبات التي تزيد عن مئتي ريال.\n",
    "退货.md": "# 退货政策\n\n收到商品后三十天内可以免费退货。\n",
    "devoluciones.md": "# Devoluciones\n\nPuedes devolver el artículo en un plazo de 30 días sin coste.\n",
    "livraison.md": "# Livraison\n\nLa livraison est gratuite dès 50 euros d'achat.\n",
    "doi-tra.md": "# Đổi trả\n\nBạn có thể đổi trả sản phẩm trong vòng 30 ngày.\n",
    "pengembalian.md": "# Pengembalian\n\nBarang dapat dikembalikan dalam 30 hari tanpa biaya.\n",
    "devolucoes.md": "# Devoluções\n\nVocê pode devolver o produto em até 30 dias sem custo.\n",
    "returns.md": "# Returns\n\nYou can return any item within 30 days of delivery, free of charge.\n",
    "faq.csv": "question,answer\nHow long does shipping take?,Shipping takes 3 to 5 working days.\n",
}


def docx_bytes() -> bytes:
    from docx import Document

    document, buffer = Document(), io.BytesIO()
    document.add_paragraph("Die Schale mit einem feuchten Tuch reinigen.")
    document.save(buffer)
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


BAD: dict[str, tuple[str, bytes, str]] = {
    "empty": ("空のファイル.md", b"", "empty_file"),
    "damaged docx": ("pflege.docx", docx_bytes()[:900], "corrupt_file"),
    "zip bomb": ("bomb.docx", zip_bytes({"[Content_Types].xml": b"<Types/>",
                                          "word/document.xml": b"<w>" + b"0" * 40_000_000}), "unsafe_archive"),
    "png named .md": ("picture.md", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "unsupported_type"),
}


def multipart(parts: list[tuple[bytes, bytes]], fields: dict[str, str] | None = None) -> tuple[bytes, str]:
    """A multipart body built byte for byte (a client library would escape a NUL in a file name)."""
    boundary = b"polydesk-test-boundary"
    body = b""
    for name, value in (fields or {}).items():
        body += (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n'
                 + value.encode() + b"\r\n")
    for filename, data in parts:
        body += (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="files"; filename="' + filename
                 + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + data + b"\r\n")
    return body + b"--" + boundary + b"--\r\n", f"multipart/form-data; boundary={boundary.decode()}"


def post(api: ApiHarness, parts: list[tuple[str | bytes, bytes | str]], **fields: str) -> Any:
    body, content_type = multipart([(n.encode() if isinstance(n, str) else n, d.encode() if isinstance(d, str) else d)
                                    for n, d in parts], fields)
    return api.client.post("/v1/knowledge", content=body,
                           headers=api.headers("content", **{"Content-Type": content_type}))


def documents(api: ApiHarness) -> set[str]:
    listed = api.client.get("/v1/knowledge/documents", headers=api.headers("content"), params={"limit": 100})
    assert listed.status_code == 200, listed.text
    return {d["document_id"] for d in listed.json()["documents"]}


@pytest.mark.parametrize("bad", list(BAD))
def test_sixteen_good_files_and_one_bad_are_ingested_and_reported(fresh_api: ApiHarness, bad: str) -> None:
    name, data, code = BAD[bad]
    parts: list[tuple[str | bytes, bytes | str]] = [*GOOD.items()]
    parts.insert(7, (name, data))  # in the middle of the batch
    response = post(fresh_api, parts, market="*")
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["files_total"] == 16 and len(queued["uploaded"]) == 16
    assert [(f["name"], f["status"], f["code"]) for f in queued["files"]] == [(name, "skipped", code)]
    job = fresh_api.finished_job(queued)
    assert job["status"] == "partial" and job["error"] is None, job
    results = {f["document_id"]: f for f in job["files"]}
    assert len(results) == 17 and results[name]["status"] == "skipped" and results[name]["code"] == code
    assert results[name]["reason"] and str(fresh_api.settings.upload_dir) not in results[name]["reason"]
    assert all(results[good]["status"] in ("added", "unchanged") for good in GOOD), job["files"]
    assert results["faq.csv"]["kind"] == "faq"
    assert job["totals"]["files"] == 17 and job["totals"]["skipped"] == 1
    assert set(GOOD) <= documents(fresh_api) and name not in documents(fresh_api)
    assert fresh_api.leftover_spools() == []


def test_a_batch_of_only_bad_files_is_refused_with_each_file_detailed(fresh_api: ApiHarness) -> None:
    before = documents(fresh_api)
    response = post(fresh_api, [(name, data) for name, data, _ in BAD.values()])
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_input" and "none of the 4 files" in body["message"]
    assert {d["name"]: d["code"] for d in body["details"]} == {name: code for name, _, code in BAD.values()}
    assert documents(fresh_api) == before and fresh_api.leftover_spools() == []
    one_kind = post(fresh_api, [("a.md", b""), ("b.md", b"  \n")])
    assert one_kind.status_code == 400 and one_kind.json()["code"] == "empty_file"
    assert len(one_kind.json()["details"]) == 2


BAD_NAMES: dict[bytes, str] = {
    b"..": "..",
    b".": ".",
    "\u202ecod.exe".encode(): "\\u202ecod.exe",  # shows as "exe.doc"
    b"a\x00b.md": "a\\u0000b.md",
    "\u200b\u200b".encode(): "\\u200b\\u200b",
    ("x" * 300 + ".md").encode(): "x" * 300 + ".md",
    b"../../etc/passwd.md": "../../etc/passwd.md",
    b"\xff\xfe.md": "\ufffd\ufffd.md",  # not UTF-8
}


def test_refused_names_are_reported_and_unicode_names_are_kept(fresh_api: ApiHarness) -> None:
    good = {"返品ポリシー.md": GOOD["返品ポリシー.md"], "คืนสินค้า.md": GOOD["คืนสินค้า.md"],
            "الإرجاع.md": GOOD["الإرجاع.md"]}
    parts: list[tuple[str | bytes, bytes | str]] = [*good.items(), *[(n, "# Text\n\nSome words.\n") for n in BAD_NAMES]]
    response = post(fresh_api, parts, folder="policies/多言語")
    assert response.status_code == 202, response.text
    job = fresh_api.finished_job(response.json())
    assert job["status"] == "partial"
    ingested = {f["document_id"]: f["status"] for f in job["files"] if f["status"] != "skipped"}
    assert set(ingested) == {f"policies/多言語/{n}" for n in good}
    refused = {f["name"]: f for f in job["files"] if f["status"] == "skipped"}
    assert set(refused) == set(BAD_NAMES.values())
    assert all(f["code"] == "invalid_name" and f["document_id"] is None and f["reason"] for f in refused.values())
    assert "U+202E" in refused["\\u202ecod.exe"]["reason"] and "\u202e" not in response.text + str(job)
    assert all("\u202e" not in d and "\x00" not in d for d in documents(fresh_api))


@pytest.mark.parametrize("folder", ["..", "a/../b", "\u202epolicies", "a\x00b", " / ./ "])
def test_a_refused_folder_refuses_the_upload(fresh_api: ApiHarness, folder: str) -> None:
    response = post(fresh_api, [("ok.md", GOOD["returns.md"])], folder=folder)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_name" and fresh_api.leftover_spools() == []


def test_a_file_over_the_size_limit_and_same_named_files_do_not_refuse_the_rest(
        fresh_api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fresh_api.services.settings, "max_file_mb", 0.01)
    response = post(fresh_api, [("big.md", "ä" * 20_000), ("same.md", "# A\n\nOne.\n"), ("same.md", "# B\n\nTwo.\n"),
                                ("small.md", GOOD["versand.md"])])
    assert response.status_code == 202, response.text
    job = fresh_api.finished_job(response.json())
    assert job["status"] == "partial"
    assert [(f["document_id"], f["status"], f["code"]) for f in job["files"]] == [
        ("small.md", "added", None), ("big.md", "skipped", "file_too_large"),
        ("same.md", "skipped", "invalid_input"), ("same.md", "skipped", "invalid_input")]
    assert "same.md" not in documents(fresh_api)


FAQ = [{"question": "¿Cuánto tarda el envío?", "answer": "El envío tarda de 3 a 5 días hábiles."},
       {"question": "ok", "answer": "👍"}]


@pytest.mark.parametrize("name", ["..", ".", "../..", "faq/..", ".hidden", "\u202efaq", "faq\x00", "\u200b", "a\\b"])
def test_a_json_batch_with_a_refused_name_is_refused(fresh_api: ApiHarness, name: str) -> None:
    response = fresh_api.client.post("/v1/knowledge", headers=fresh_api.headers("content"),
                                     json={"name": name, "faq": FAQ})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error" and "name" in response.json()["message"]
    assert "csv" not in documents(fresh_api) and fresh_api.leftover_spools() == []


def test_json_batch_faq_rows_are_stored_as_faq_chunks(fresh_api: ApiHarness) -> None:
    response = fresh_api.client.post("/v1/knowledge", headers=fresh_api.headers("content"),
                                     json={"name": "faq/envíos..v2", "language": "es", "faq": FAQ})
    assert response.status_code == 202, response.text
    job = fresh_api.finished_job(response.json())
    assert job["status"] == "done" and job["files"][0]["document_id"] == "faq/envíos..v2.csv"
    chunks = fresh_api.services.index.get_chunks("tidewell", "faq/envíos..v2.csv")
    assert [c.kind for c in chunks] == ["faq", "faq"]
    assert [(c.extra["question"], c.extra["answer"]) for c in chunks] == [(r["question"], r["answer"]) for r in FAQ]
    assert all("question" not in c.text.split("\n")[0].lower() for c in chunks)  # no raw CSV header in a chunk


@pytest.mark.parametrize("batch", [
    {"faq": [{"question": "\u200b\u200b", "answer": "Shipping is free."}]},
    {"faq": [{"question": "Is shipping free?", "answer": "\x00\x00 \u2060"}]},
    {"conversations": [{"conversation_id": "c-1", "turns": [{"role": "customer", "text": "\u200b\ufeff"},
                                                             {"role": "agent", "text": "Hello!"}]}]},
])
def test_a_json_batch_item_empty_once_normalised_is_refused(fresh_api: ApiHarness, batch: dict[str, Any]) -> None:
    response = fresh_api.client.post("/v1/knowledge", headers=fresh_api.headers("content"),
                                     json={"name": "faq/invisible", **batch})
    assert response.status_code == 422, response.text
    assert "empty once invisible" in response.json()["message"]
    assert "faq/invisible.csv" not in documents(fresh_api)


def test_delete_normalises_the_id_and_refuses_a_disguised_one(fresh_api: ApiHarness, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from ingestion.pipeline import Ingestor
    from ingestion.sources import SourceOptions

    api, headers = fresh_api, fresh_api.headers("content")
    assert post(api, [("Rückgabe-ü.md", GOOD["rueckgabe.md"])]).status_code == 202
    deadline = time.monotonic() + 60
    while "Rückgabe-ü.md" not in documents(api) and time.monotonic() < deadline:
        time.sleep(0.05)
    nfd = "Ru\u0308ckgabe-u\u0308.md"  # how macOS spells it
    assert api.client.delete(f"/v1/knowledge/documents/{nfd}", headers=headers).status_code == 204
    assert "Rückgabe-ü.md" not in documents(api)
    refused = api.client.delete("/v1/knowledge/documents/\u202ecod.exe", headers=headers)
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_name"
    assert "U+202E" in refused.json()["message"] and "\u202e" not in refused.text
    # A document stored under such an id before names were checked (a local ingest of that time) can still go.
    monkeypatch.setattr("ingestion.pipeline._check_name", lambda document_id: None)
    legacy = tmp_path / "\u202elegacy.md"
    legacy.write_text(GOOD["returns.md"], encoding="utf-8")
    Ingestor(index=api.services.index, settings=api.settings).ingest([legacy], SourceOptions(tenant="tidewell"))
    assert api.client.delete("/v1/knowledge/documents/\u202elegacy.md", headers=headers).status_code == 204
    assert "\u202elegacy.md" not in documents(api)
