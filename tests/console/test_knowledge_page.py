"""The console's knowledge page in-process: uploads (no-JS form and script), jobs, the table, chunks, try, delete.

Runs on ``fresh_api`` (an empty index with the job worker): a content editor of ``tidewell`` uploads small files in
German, Thai, Japanese and Arabic; ``acme`` must never see them.
"""

from __future__ import annotations

import html
import re
import time
from typing import Any
from urllib.parse import quote

import pytest

from tests.api.conftest import ApiHarness
from tests.console.conftest import Console, ConsoleFactory

pytestmark = pytest.mark.integration

FILES = {
    "rueckgabe.md": "# Rückgabe\n\nSie können Ware innerhalb von 30 Tagen zurückgeben. Die Rücksendung ist kostenlos. "
                    "Fragen an service@tidewell.example schreiben.\n",
    "จัดส่ง.md": "# การจัดส่งสินค้า\n\nเราจัดส่งสินค้าภายใน 3 วันทำการ ส่งฟรีเมื่อซื้อครบ 990 บาท\n",
    "よくある質問.md": "# よくある質問\n\n返品は30日以内に受け付けています。送料は無料です。\n",
    "تنبيه.txt": "تنبيه: سيتم إغلاق المتجر يوم الجمعة بسبب العطلة الرسمية. نعتذر عن الإزعاج.\n",
}


def _finished(console: Console, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = console.get(f"/console/knowledge/jobs/{job_id}.json")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in ("done", "partial", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def _upload_form(console: Console, files: dict[str, bytes], **fields: str) -> Any:
    """The no-JS form: the csrf field first, then the fields, both pickers (the folder one left empty)."""
    parts = [("files", (name, content, "text/markdown")) for name, content in files.items()]
    parts.append(("files", ("", b"", "application/octet-stream")))  # an empty picker, as a browser sends it
    return console.post("/console/knowledge/upload", data={"csrf": console.csrf, **fields}, files=parts)


@pytest.fixture(scope="module")
def uploaded() -> dict[str, Any]:
    """What the module's first upload left: its job, shared by the tests (the index is the module's)."""
    return {}


@pytest.fixture
def editor(fresh_api: ApiHarness, console_as: ConsoleFactory) -> Console:
    return console_as(fresh_api, "content", "tidewell")


@pytest.fixture
def seeded(fresh_api: ApiHarness, editor: Console, uploaded: dict[str, Any]) -> dict[str, Any]:
    """The four files uploaded once (redaction on) through the no-JS form; the finished job."""
    if "job" not in uploaded:
        response = _upload_form(editor, {name: text.encode() for name, text in FILES.items()}, redact="true",
                                folder="help/")
        assert response.status_code == 303, response.text
        job_id = response.headers["location"].rsplit("/", 1)[-1]
        uploaded["job"] = _finished(editor, job_id)
        uploaded["job_id"] = job_id
    return uploaded


def test_a_no_js_upload_runs_a_job_and_shows_every_file(editor: Console, seeded: dict[str, Any]) -> None:
    job = seeded["job"]
    assert job["status"] == "done", job
    assert sorted(f["document_id"] for f in job["files"]) == sorted(f"help/{name}" for name in FILES)
    page = editor.get(f"/console/knowledge/jobs/{seeded['job_id']}")
    assert page.status_code == 200
    assert 'data-status="done"' in page.text and 'http-equiv="refresh"' not in page.text
    for name in FILES:
        assert f'data-document-id="help/{name}" data-state="added"' in page.text
    assert page.text.count('class="file-progress"') == len(FILES)
    assert 'data-label="EMAIL"' in page.text  # the redaction counts of the German file


def test_the_table_filters_and_searches_in_any_script(editor: Console, seeded: dict[str, Any]) -> None:
    page = editor.get("/console/knowledge").text
    for name in FILES:
        assert f'data-document-id="help/{name}"' in page
    thai = editor.get("/console/knowledge", params={"language": "th"}).text
    assert 'data-document-id="help/จัดส่ง.md"' in thai and "rueckgabe" not in thai
    assert 'data-document-id="help/รับ' not in thai
    by_title = editor.get("/console/knowledge", params={"q": "จัดส่งสิน"}).text  # a Thai substring of the title
    assert 'data-document-id="help/จัดส่ง.md"' in by_title and "よくある" not in by_title
    japanese = editor.get("/console/knowledge", params={"q": "ある質"}).text  # inside the id, no spaces
    assert 'data-document-id="help/よくある質問.md"' in japanese and "rueckgabe" not in japanese
    case = editor.get("/console/knowledge", params={"q": "RÜCKGABE", "kind": "doc"}).text
    assert 'data-document-id="help/rueckgabe.md"' in case
    nothing = editor.get("/console/knowledge", params={"q": "ไม่มีเอกสารนี้"}).text
    assert 'id="documents-empty"' in nothing
    bad = editor.get("/console/knowledge", params={"kind": "poem"})
    assert bad.status_code == 400


def test_the_chunks_show_redactions_as_labels(editor: Console, seeded: dict[str, Any]) -> None:
    page = editor.get("/console/knowledge/documents/help/rueckgabe.md")
    assert page.status_code == 200
    assert 'class="label redaction" data-label="EMAIL"' in page.text
    assert "service@tidewell.example" not in page.text
    assert 'id="reingest-redact" name="redact" value="true" class="inline-check" checked' in page.text
    arabic = editor.get(f"/console/knowledge/documents/{quote('help/تنبيه.txt')}").text
    assert 'data-language="ar"' in arabic and 'class="chunk-text customer-text" dir="auto"' in arabic


def test_try_a_question_finds_the_document_with_scores(editor: Console, seeded: dict[str, Any]) -> None:
    page = editor.get("/console/knowledge/try", params={"question": "Wie lange kann ich Ware zurückgeben?",
                                                       "market": "DE", "language": "de"})
    assert page.status_code == 200
    hits = re.findall(r'class="hit" data-document-id="([^"]+)" data-score="([^"]+)" data-similarity="([^"]+)"',
                      page.text)
    assert hits and html.unescape(hits[0][0]) == "help/rueckgabe.md"
    assert float(hits[0][2]) > 0.5
    answer = editor.get("/console/knowledge/try", params={"question": "ส่งฟรีไหม"},
                        headers={"Accept": "application/json"}).json()
    assert answer["language"] == "th" and answer["hits"][0]["document_id"] == "help/จัดส่ง.md"
    assert answer["hits"][0]["similarity"] > 0


def test_a_script_upload_and_a_refused_file(editor: Console, seeded: dict[str, Any]) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    response = editor.post("/console/knowledge/upload",  # as the page's script sends it: the token as a header
                           headers={"Accept": "application/json", "X-CSRF-Token": editor.csrf},
                           files=[("files", ("faq/お知らせ.md", "# お知らせ\n\n営業時間は9時から18時です。".encode(),
                                             "text/markdown")),
                                  ("files", ("logo.md", png, "text/markdown")),
                                  ("files", ("empty.txt", b"", "text/plain"))])
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued" and job["uploaded"] == ["faq/お知らせ.md"]
    finished = _finished(editor, job["id"])
    assert finished["status"] == "partial"
    page = editor.get(f"/console/knowledge/jobs/{job['id']}").text
    assert 'data-document-id="logo.md" data-state="skipped"' in page
    assert '<code class="file-code">unsupported_type</code>' in page and "cannot be ingested" in page
    assert '<code class="file-code">empty_file</code>' in page and "The file is empty." in page
    refused = _upload_form(editor, {"only.md": png})
    assert refused.status_code == 415
    assert 'data-code="unsupported_type"' in refused.text and "type is read from its content" in refused.text


def test_reingest_makes_a_new_version(editor: Console, seeded: dict[str, Any]) -> None:
    url = "/console/knowledge/documents/help/" + quote("よくある質問.md")
    response = editor.post(f"{url}/reingest", data={"csrf": editor.csrf, "market": "JP", "kind": "faq"},
                           files=[("files", ("anything.md", "# よくある質問\n\n返品は60日以内です。".encode(),
                                             "text/markdown"))])
    assert response.status_code == 303, response.text
    job = _finished(editor, response.headers["location"].rsplit("/", 1)[-1])
    assert [(f["document_id"], f["status"]) for f in job["files"]] == [("help/よくある質問.md", "replaced")]
    page = editor.get(url).text
    assert 'data-version="2"' in page and "60日以内" in page
    missing = editor.post("/console/knowledge/documents/help/none.md/reingest", data={"csrf": editor.csrf},
                          files=[("files", ("x.md", b"# x\n\ntext", "text/markdown"))])
    assert missing.status_code == 404


def test_another_tenant_sees_nothing(fresh_api: ApiHarness, console_as: ConsoleFactory,
                                     seeded: dict[str, Any]) -> None:
    acme = console_as(fresh_api, "content", "acme")
    table = acme.get("/console/knowledge").text
    assert "help/" not in table and 'id="documents-empty"' in table
    assert acme.get("/console/knowledge/documents/help/rueckgabe.md").status_code == 404
    assert acme.get(f"/console/knowledge/jobs/{seeded['job_id']}").status_code == 404
    assert acme.get(f"/console/knowledge/jobs/{seeded['job_id']}.json").status_code == 404
    assert acme.form("/console/knowledge/documents/help/rueckgabe.md/delete", {}).status_code == 404
    answer = acme.get("/console/knowledge/try", params={"question": "Rückgabe", "market": "DE"},
                      headers={"Accept": "application/json"}).json()
    assert answer["hits"] == []


def test_an_upload_without_its_token_is_refused(editor: Console) -> None:
    response = editor.post("/console/knowledge/upload", csrf=False,
                           files=[("files", ("a.md", b"# a\n\ntext", "text/markdown"))])
    assert response.status_code == 403 and "csrf_failed" in response.text
    late = editor.post("/console/knowledge/upload", files=[("files", ("a.md", b"# a\n\ntext", "text/markdown"))],
                       data={"csrf": "wrong"})
    assert late.status_code == 403


def test_delete_removes_the_document(editor: Console, seeded: dict[str, Any]) -> None:
    document = "help/" + quote("تنبيه.txt")
    response = editor.form(f"/console/knowledge/documents/{document}/delete", {})
    assert response.status_code == 303 and response.headers["location"].startswith("/console/knowledge?deleted=")
    page = editor.get(response.headers["location"]).text
    assert 'id="status-message"' in page and "تنبيه.txt" in page and 'class="document" data-document-id="help/تنبيه' \
        not in page
    assert editor.get(f"/console/knowledge/documents/{document}").status_code == 404


def test_a_signed_in_upload_may_be_larger_than_an_anonymous_body(fresh_api: ApiHarness, editor: Console) -> None:
    """The guard's small body limit for requests without a key does not hold for a live console session."""
    limit = fresh_api.settings.unauthenticated_max_body_bytes
    large = ("# Versandbedingungen\n\n" + "Wir versenden innerhalb von zwei Werktagen mit DHL. " * (limit // 40)).encode()
    assert len(large) > limit
    response = _upload_form(editor, {"versand-lang.md": large}, market="DE")
    assert response.status_code == 303, response.text
    job = editor.get(response.headers["location"] + ".json").json()
    assert job["files_total"] == 1
    anonymous = Console(harness=fresh_api, session=None, csrf="")
    refused = anonymous.post("/console/knowledge/upload", data={"csrf": "x"},
                             files=[("files", ("versand-lang.md", large, "text/markdown"))])
    assert refused.status_code == 413 and "body_too_large" in refused.text
