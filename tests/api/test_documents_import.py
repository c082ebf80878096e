"""POST /v1/knowledge/documents/import: llama-index Documents (JSONL) into the caller's tenant, at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from fastapi.testclient import TestClient
from llama_index.core import Document
from typer.testing import CliRunner

from api.cli.main import app
from polydesk.settings import get_settings
from tests.api.conftest import ApiHarness

pytestmark = pytest.mark.integration

URL = "/v1/knowledge/documents/import"
NDJSON = {"Content-Type": "application/x-ndjson"}


def _jsonl(*documents: Document) -> bytes:
    return "\n".join(d.model_dump_json() for d in documents).encode()


def _import(api: ApiHarness, body: bytes, *, tenant: str = "tidewell", role: str = "content",
            media: str = "application/x-ndjson", params: dict[str, str] | None = None) -> Any:
    return api.client.post(URL, content=body, params=params,
                           headers=api.headers(role, tenant, **{"Content-Type": media}))


def _document(api: ApiHarness, document_id: str, *, tenant: str = "tidewell") -> Any:
    return api.client.get(f"/v1/knowledge/documents/{quote(document_id)}", params={"chunks": 5},
                          headers=api.headers("content", tenant))


@pytest.mark.slow
def test_import_redacts_and_versions(fresh_api: ApiHarness) -> None:
    khuen = Document(text="# การคืนสินค้า\n\nคืนสินค้าได้ภายใน 30 วัน สอบถาม somchai@example.co.th หรือ 081 234 5678",
                     metadata={"file_name": "คืนสินค้า.md", "market": "TH"})
    versand = Document(text="Ab 50 € versenden wir kostenlos innerhalb Deutschlands.",
                       metadata={"document_id": "de/versand", "title": "Versand"})
    response = _import(fresh_api, _jsonl(khuen, versand), media="application/jsonl",
                       params={"market": "DE", "redact": "true"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["totals"]["added"] == 2
    assert [(f["document_id"], f["status"]) for f in report["files"]] == [("คืนสินค้า.md", "added"),
                                                                         ("de/versand", "added")]
    assert report["files"][0]["redactions"] == {"EMAIL": 1, "PHONE": 1}

    detail = _document(fresh_api, "คืนสินค้า.md").json()
    assert (detail["market"], detail["language"], detail["version"], detail["title"]) == ("TH", "th", 1, "การคืนสินค้า")
    text = " ".join(c["text"] for c in detail["chunks"])
    assert "somchai@example.co.th" not in text and "[EMAIL]" in text and "[PHONE]" in text
    detail = _document(fresh_api, "de/versand").json()
    assert (detail["market"], detail["language"], detail["title"]) == ("DE", "de", "Versand")

    again = _import(fresh_api, _jsonl(khuen, versand), params={"market": "DE", "redact": "true"}).json()
    assert [f["status"] for f in again["files"]] == ["unchanged", "unchanged"]
    changed = Document(text=versand.text.replace("50 €", "80 €"), metadata=versand.metadata)
    third = _import(fresh_api, _jsonl(changed), params={"market": "DE", "redact": "true"}).json()
    assert [f["status"] for f in third["files"]] == ["replaced"]
    detail = _document(fresh_api, "de/versand").json()
    assert detail["version"] == 2 and "80 €" in detail["chunks"][0]["text"]


def test_one_tenant_cannot_import_into_or_read_another(fresh_api: ApiHarness) -> None:
    secret = Document(text="Interne Notiz: Rabattcode TIDE-7781 nur für Stammkunden.",
                      metadata={"document_id": "intern/rabatt", "tenant": "acme", "market": "DE"})
    response = _import(fresh_api, _jsonl(secret), tenant="tidewell", params={"tenant": "acme"})  # ignored
    assert response.status_code == 200, response.text
    assert _document(fresh_api, "intern/rabatt", tenant="tidewell").status_code == 200
    assert _document(fresh_api, "intern/rabatt", tenant="acme").status_code == 404
    listed = fresh_api.client.get("/v1/knowledge/documents", headers=fresh_api.headers("content", "acme")).json()
    assert "intern/rabatt" not in [d["document_id"] for d in listed["documents"]]

    own = Document(text="Acme ships in two days.", metadata={"document_id": "intern/rabatt"})
    response = _import(fresh_api, _jsonl(own), tenant="acme")
    assert response.status_code == 200 and response.json()["files"][0]["status"] == "added"   # its own, version 1
    tidewell = _document(fresh_api, "intern/rabatt", tenant="tidewell").json()
    assert tidewell["version"] == 1 and "TIDE-7781" in tidewell["chunks"][0]["text"]
    acme = _document(fresh_api, "intern/rabatt", tenant="acme").json()
    assert "TIDE-7781" not in acme["chunks"][0]["text"]


def test_bad_lines_refuse_the_body_and_write_nothing(fresh_api: ApiHarness) -> None:
    good = Document(text="Pengiriman gratis untuk pembelian di atas Rp 500.000.", metadata={"document_id": "id/kirim"})
    body = b"\n".join([good.model_dump_json().encode(), b'{"text": 5, "id_": "x"}', b"not json",
                       json.dumps({"text": "Hola", "metadata": {"document_id": "es/a", "language": "español"}}).encode()])
    response = _import(fresh_api, body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "invalid_record"
    assert [(d["line"], d["code"]) for d in error["details"]] == [(2, "invalid_record"), (3, "invalid_record")]
    response = _import(fresh_api, b"\n".join([good.model_dump_json().encode(), body.split(b"\n")[3]]))
    assert response.status_code == 400 and response.json()["details"][0]["line"] == 2
    assert _document(fresh_api, "id/kirim").status_code == 404

    blank = _jsonl(Document(text=" \n ", metadata={"file_name": "leer.txt"}), good)
    report = _import(fresh_api, blank).json()                  # a document with no text is skipped, like a file
    assert [(f["document_id"], f["status"], f["code"]) for f in report["files"]] == [
        ("leer.txt", "skipped", "empty_file"), ("id/kirim", "added", None)]
    assert "/tmp" not in report["files"][0]["reason"] and "leer.txt" in report["files"][0]["reason"]


@pytest.mark.parametrize(("role", "media", "status", "code"), [
    ("content", "application/json", 415, "unsupported_type"),
    ("content", "text/plain", 415, "unsupported_type"),
    ("connector", "application/x-ndjson", 403, "forbidden"),
    ("admin", "application/x-ndjson", 200, None),
])
def test_media_types_and_roles(fresh_api: ApiHarness, role: str, media: str, status: int, code: str | None) -> None:
    body = _jsonl(Document(text="Envío gratis desde 50 €.", metadata={"document_id": "es/envio", "market": "ES"}))
    response = _import(fresh_api, body, role=role, media=media)
    assert response.status_code == status, response.text
    assert code is None or response.json()["code"] == code
    assert fresh_api.client.post(URL, content=body, headers=NDJSON).status_code == 401
    assert _import(fresh_api, body, params={"market": "Spain"}).json()["code"] == "invalid_input"
    assert _import(fresh_api, b"\n\n").json()["code"] == "empty_file"


def test_the_body_is_capped_like_an_uploaded_file(api: ApiHarness, app_on: Callable[..., TestClient],
                                                 tmp_path: Path) -> None:
    client: redis.Redis = api.services.redis
    body = _jsonl(*[Document(text="Ab 50 € versenden wir kostenlos. " * 20, metadata={"document_id": f"d{i}"})
                    for i in range(4)])
    assert len(body) > 2048
    with app_on(client, tmp_path, max_file_mb=2048 / (1024 * 1024)) as small:
        response = small.post(URL, content=body, headers=api.headers("content", "acme", **NDJSON))
        assert response.status_code == 413 and response.json()["code"] == "file_too_large"
        listed = small.get("/v1/knowledge/documents", headers=api.headers("content", "acme")).json()
        assert [d["document_id"] for d in listed["documents"] if d["document_id"].startswith("d")] == []


@pytest.mark.slow
def test_cli_ingest_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYDESK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert "ingest-documents" in runner.invoke(app, ["--help"]).output
        export = tmp_path / "export.jsonl"
        docs = [Document(text="# Đổi trả\n\nĐổi trả miễn phí trong vòng 30 ngày.", metadata={"file_name": "doi-tra.md"}),
                Document(text="# 退货\n\n收到商品后三十天内可以退货。", metadata={"document_id": "zh/退货", "market": "CN"})]
        export.write_bytes(_jsonl(*docs))
        result = runner.invoke(app, ["ingest-documents", str(export), "--tenant", "acme", "--market", "VN", "--json"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["totals"]["added"] == 2
        assert [(f["document_id"], f["status"]) for f in summary["files"]] == [("doi-tra.md", "added"),
                                                                              ("zh/退货", "added")]
        result = runner.invoke(app, ["search", "退货", "--tenant", "acme", "--market", "CN", "--json"])
        rows = json.loads(result.stdout)
        assert rows[0]["document_id"] == "zh/退货" and rows[0]["language"] == "zh"

        export.write_bytes(_jsonl(*docs) + b"\n{broken")
        result = runner.invoke(app, ["ingest-documents", str(export), "--tenant", "acme", "--market", "VN", "--json"])
        assert result.exit_code == 2
        error = json.loads(result.stdout)["error"]
        assert error["code"] == "invalid_record" and "line 3" in error["message"]
        result = runner.invoke(app, ["ingest-documents", str(tmp_path / "missing.jsonl"), "--tenant", "acme",
                                     "--market", "VN", "--json"])
        assert result.exit_code == 2 and json.loads(result.stdout)["error"]["code"] == "invalid_input"
    finally:
        get_settings.cache_clear()
