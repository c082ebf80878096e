"""The console's knowledge page (content and admin keys): documents, uploads and their jobs, chunks, a test search.

Every action calls the knowledge API's own route functions (``api.routes.knowledge``) with the session's caller,
so the page allows, refuses and reports exactly what ``/v1/knowledge`` does, in the caller's tenant only.

**Uploads and CSRF.** The API streams a multipart upload straight to the job's spool folder
(``api.uploads.receive_multipart``), so its body can be read once, and never through ``request.form()`` (which
would spool every file to a temporary file first, outside the API's caps). The shared ``ContentUser`` dependency
reads the form of a multipart POST that carries no ``X-CSRF-Token`` header, so the upload routes do not take it:

- with JavaScript, the page's script sends the token as the ``X-CSRF-Token`` header;
- without, the form's hidden ``csrf`` input comes first in the body (browsers send fields in document order);
  ``knowledge_views.UploadBody`` reads that one small part off the stream, keeps it out of what the API sees
  (the API refuses unknown fields) and hands it on as the header.

Either way the very dependency behind ``ContentUser`` (``require_user("content")``: session, role, rate limit,
origin and token) then runs on that request, and the API's ``upload`` reads the rest of the stream. The same
wrapper drops the part of a file picker left empty (browsers send one) and, for a re-ingest, names the file
as the document.

**Re-ingest.** The ingestion does not keep uploaded files (a job's spool folder is removed when it ends), so a
document cannot be ingested again from the server's copy: re-ingest uploads a new file under the document's
own id, with its market and kind, and the job replaces the live version (or reports it ``unchanged``).

**Try a question** runs the answer pipeline's own retrieval stage (``agent.retrieval.Retriever`` on the index,
tenant-filtered, the market's knowledge plus ``*``), so it shows what a reply in that market and language would
draw on, with each chunk's similarity and fused score.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from agent.retrieval import Retriever
from api.console import i18n
from api.console.knowledge_views import FILE_CODES, UploadBody, find_documents, job_rows, label_pattern, segments
from api.console.web import (
    PREFIX,
    SECURITY_HEADERS,
    ConsoleUser,
    ContentUser,
    json_response,
    language_of,
    render,
    require_user,
    wants_json,
)
from api.deps import Services, ServicesDep
from api.routes import knowledge as knowledge_api
from api.uploads import checked_document_id
from ingestion.job_records import FINISHED
from knowledge.schema import KINDS, normalize_language, normalize_market
from polydesk.errors import InputError, UnsupportedTypeError
from polydesk.language import LanguageDetector

BASE = f"{PREFIX}/knowledge"
router = APIRouter(prefix=BASE, include_in_schema=False)
_content_user = require_user("content").dependency
PAGE_SIZE = 50
CHUNKS_PER_PAGE = 50
JOB_STATUSES = ("queued", "running", "done", "partial", "failed")
JOB_STATES = ("queued", "running", "ingested", "added", "replaced", "unchanged", "skipped", "failed")
Text = Annotated[str, Query(max_length=300)]



def words(request: Request) -> dict[str, Any]:
    """The words the page's script shows (job states, error codes), in the console's language."""
    t = i18n.translator(language_of(request))
    return {"codes": {code: t(f"knowledge.code.{code}") for code in FILE_CODES}, "other": t("knowledge.code.other"),
            "states": {state: t(f"knowledge.state.{state}") for state in JOB_STATES},
            "job_statuses": {status: t(f"knowledge.job.status.{status}") for status in JOB_STATUSES},
            "progress": t("knowledge.job.progress"), "no_hits": t("knowledge.try.no_hits"),
            "summary": t("knowledge.try.summary"),
            "sending": t("knowledge.upload.sending"), "refused": t("knowledge.upload.refused")}


def code_words(request: Request, code: str | None) -> str:
    if not code:
        return ""
    t = i18n.translator(language_of(request))
    return t(f"knowledge.code.{code}") if code in FILE_CODES else t("knowledge.code.other")


# -- the documents table -------------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def page(request: Request, user: ContentUser, services: ServicesDep, market: Text = "", language: Text = "",
         kind: Text = "", q: Text = "", cursor: Annotated[str | None, Query(max_length=200)] = None,
         deleted: Annotated[str, Query(max_length=600)] = "") -> HTMLResponse:
    if kind and kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    found = find_documents(user.caller, services, q=q, market=market or None, language=language or None,
                           kind=kind or None, cursor=cursor or None, limit=PAGE_SIZE)
    filters = {"market": market, "language": language, "kind": kind, "q": q}
    more = None
    if found.next_cursor:
        more = f"{BASE}?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in filters.items() if v) + (
            f"&cursor={quote(found.next_cursor, safe='')}")
    return render(request, "knowledge.html", {
        "documents": found.documents, "filters": filters, "kinds": KINDS, "next_url": more,
        "scanned": found.scanned, "deleted": deleted, "words": words(request),
        "limits": services.settings}, user=user)


# -- uploads and their jobs ----------------------------------------------------------------------------------------


@router.post("/upload", response_model=None)
async def upload(request: Request, services: ServicesDep) -> Response:
    """Files (and folders) for a new ingestion job: 303 to the job's page, or the job's JSON for the script."""
    user, result = await _send(request, services, document_id=None)
    return _answer(request, user, result)


@router.post("/documents/{document_id:path}/reingest", response_model=None)
async def reingest(request: Request, document_id: str, services: ServicesDep) -> Response:
    """A new version of one document: the uploaded file is named as the document (see the module docstring)."""
    user, result = await _send(request, services, document_id=checked_document_id(document_id))
    return _answer(request, user, result)


async def _send(request: Request, services: Services, *, document_id: str | None
                ) -> tuple[ConsoleUser, knowledge_api.JobPublic | JSONResponse]:
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        await _content_user(request, services)
        raise UnsupportedTypeError("send the files as multipart/form-data")
    body = UploadBody(request, rename=document_id)
    token = None if request.headers.get("x-csrf-token") is not None else await body.read_csrf()
    checked = body.request(csrf=token)
    user: ConsoleUser = await _content_user(checked, services)
    if document_id is not None:  # the document must exist, in this tenant (404 otherwise)
        knowledge_api.get_document(document_id, user.caller, services, chunks=0, flagged=False)
    return user, await knowledge_api.upload(checked, user.caller, services)


def _answer(request: Request, user: ConsoleUser, result: knowledge_api.JobPublic | JSONResponse) -> Response:
    if isinstance(result, JSONResponse):  # every file was refused: no job
        error = json.loads(bytes(result.body))
        if wants_json(request):
            return json_response(error, status_code=result.status_code)
        files = [{**f, "words": code_words(request, f.get("code"))} for f in error.get("details") or []]
        return render(request, "knowledge_refused.html", {"error": error, "files": files}, user=user,
                      status_code=result.status_code)
    if wants_json(request):
        return json_response(result.model_dump(mode="json"), status_code=202)
    return RedirectResponse(f"{BASE}/jobs/{result.id}", status_code=303, headers=SECURITY_HEADERS)


@router.get("/jobs/{job_id}.json", response_class=JSONResponse)
def job_json(job_id: str, user: ContentUser, services: ServicesDep) -> JSONResponse:
    """The API's job (``JobPublic``), for the page's script."""
    return json_response(knowledge_api.get_job(job_id, user.caller, services).model_dump(mode="json"))


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str, user: ContentUser, services: ServicesDep) -> HTMLResponse:
    job = knowledge_api.get_job(job_id, user.caller, services)
    rows = [{**row, "words": code_words(request, row["code"])} for row in job_rows(job)]
    return render(request, "knowledge_job.html", {
        "job": job, "rows": rows, "finished": job.status in FINISHED, "words": words(request),
        "error_words": code_words(request, job.error.code if job.error else None)}, user=user)


# -- one document --------------------------------------------------------------------------------------------------


@router.get("/documents/{document_id:path}", response_class=HTMLResponse)
def document_page(request: Request, document_id: str, user: ContentUser, services: ServicesDep,
                  page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    """The document and all its chunks as indexed (``CHUNKS_PER_PAGE`` a page), redactions shown as labels."""
    document = knowledge_api.get_document(document_id, user.caller, services, chunks=0, flagged=False)
    chunks = services.index.get_chunks(user.caller.tenant, document.document_id, version=document.version)
    pattern = label_pattern(services.settings.redact_patterns)
    shown = chunks[(page - 1) * CHUNKS_PER_PAGE: page * CHUNKS_PER_PAGE]
    pages = max(1, -(-len(chunks) // CHUNKS_PER_PAGE))
    return render(request, "knowledge_document.html", {
        "document": document, "chunks": [(c, segments(c.text, pattern)) for c in shown], "page": page,
        "pages": pages, "redacted": any(pattern.search(c.text) for c in chunks), "kinds": KINDS,
        "url": f"{BASE}/documents/{quote(document.document_id)}", "words": words(request)}, user=user)


@router.post("/documents/{document_id:path}/delete", response_model=None)
def delete(document_id: str, user: ContentUser, services: ServicesDep) -> Response:
    """Remove the document and its chunks (the API's delete); back to the table with a status line."""
    knowledge_api.delete_document(document_id, user.caller, services)
    return RedirectResponse(f"{BASE}?deleted={quote(document_id, safe='')}", status_code=303,
                            headers=SECURITY_HEADERS)


# -- try a question ------------------------------------------------------------------------------------------------


@cache
def _detector() -> LanguageDetector:
    return LanguageDetector()


@router.get("/try", response_model=None)
def try_question(request: Request, user: ContentUser, services: ServicesDep,
                 question: Annotated[str, Query(max_length=2000)] = "", market: Text = "",
                 language: Text = "") -> Response:
    """What the answer pipeline's retrieval returns for ``question`` in a market and language, with scores."""
    if not question.strip():
        raise InputError("type a question to try")
    try:
        market = normalize_market(market or "*")
        language = normalize_language(language) if language else _detector().detect(question, market=market)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    retriever = Retriever(services.index, top_k=services.settings.answer_top_k)
    retrieval = retriever.run(question, tenant=user.caller.tenant, market=market, language=language)
    hits = [{"number": e.number, "document_id": e.chunk.document_id, "title": e.chunk.title,
             "section": e.chunk.section, "text": e.chunk.text[:400] + ("…" if len(e.chunk.text) > 400 else ""),
             "score": round(e.score, 4), "similarity": round(e.similarity, 4), "market": e.chunk.market,
             "language": e.chunk.language, "kind": e.chunk.kind} for e in retrieval.evidence]
    result = {"question": question, "market": market, "language": language,
              "confidence": round(retrieval.confidence, 4), "hits": hits}
    if wants_json(request):
        return json_response(result)
    return render(request, "knowledge_try.html", {"result": result, "words": words(request)}, user=user)
