"""``POST /v1/knowledge/documents/import``: a JSONL export of llama-index Documents, ingested at once.

Any llama-index reader's output (``doc.model_dump_json()`` or ``doc.to_json()`` per line) goes through polydesk's
redaction, chunking, language detection and versioning (``ingestion.llama_documents``), into the caller's
tenant: the body cannot name another (a ``tenant`` in a Document's metadata is only metadata). The body is capped
like an uploaded file (``max_file_mb``); a bad line refuses the whole body (400 ``invalid_record``, ``details``
one entry per bad line) and nothing is written. Content and admin keys only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import ContentCaller, ServicesDep
from api.errors import error_response, error_responses, status_of
from api.uploads import UploadLimits
from ingestion.llama_documents import DocumentsError, ingest_jsonl
from ingestion.pipeline import Ingestor
from ingestion.sources import SourceOptions
from knowledge.schema import normalize_language, normalize_market
from polydesk.errors import FileTooLargeError, InputError, UnsupportedTypeError

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])

MEDIA_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
_LINE_EXAMPLE = ('{"id_": "3c1d…", "metadata": {"file_name": "คืนสินค้า.md", "market": "TH"}, '
                 '"text": "# การคืนสินค้า\\n\\nคืนสินค้าได้ภายใน 30 วัน"}\n')
_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    media: {"schema": {"type": "string", "description": "one llama-index Document (JSON) per line"},
            "example": _LINE_EXAMPLE} for media in MEDIA_TYPES}}}


class ImportedDocument(BaseModel):
    document_id: str
    status: Literal["added", "replaced", "unchanged", "skipped"]
    chunks: int
    kind: str
    code: str | None = Field(default=None, description="why a skipped document was not ingested")
    reason: str | None = None
    warnings: list[str]
    redactions: dict[str, int] = Field(description="PII masked in the text, by kind")


class ImportReport(BaseModel):
    """The ingest summary: one entry per document (Documents sharing an id are one document)."""

    totals: dict[str, int] = Field(examples=[{"files": 2, "added": 1, "replaced": 0, "unchanged": 1, "skipped": 0,
                                              "chunks": 3}])
    seconds: float
    files: list[ImportedDocument]


@router.post("/documents/import", response_model=ImportReport, summary="Import llama-index Documents (JSONL)",
             responses=error_responses(400, 401, 403, 413, 415, 422, 429, 503), openapi_extra=_BODY)
async def import_documents(
    request: Request, caller: ContentCaller, services: ServicesDep,
    market: Annotated[str, Query(description="market of documents whose metadata names none; '*' for all",
                                 examples=["TH"], max_length=8)] = "*",
    language: Annotated[str | None, Query(description="skip detection (a Document's metadata 'language' wins)",
                                          max_length=16)] = None,
    kind: Annotated[Literal["doc", "faq", "policy"] | None, Query()] = None,
    redact: Annotated[bool, Query(description="redact PII (also on when the server redacts all documents)")] = False,
) -> ImportReport | JSONResponse:
    """Ingest the documents and answer with the report: ``added``, ``replaced`` (a new version), ``unchanged``
    or ``skipped`` (with a ``code``) per document. Ids come from metadata ``document_id``, else ``file_name``,
    else ``file_path``, else the Document's ``id_``."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise UnsupportedTypeError(f"send the documents as {' or '.join(MEDIA_TYPES[:2])}: one JSON Document a line")
    try:
        options = SourceOptions(tenant=caller.tenant, market=normalize_market(market), kind=kind, redact=redact,
                                language=normalize_language(language) if language else None)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    data = await _read_body(request, UploadLimits.from_settings(services.settings).max_file_bytes)
    ingestor = Ingestor(index=services.index, settings=services.settings)
    try:
        report = await run_in_threadpool(ingest_jsonl, ingestor, data, options)
    except DocumentsError as exc:
        return error_response(status_of(exc), exc.code, exc.message, details=exc.problems)
    return ImportReport(totals=report.totals(), seconds=round(report.seconds, 3),
                        files=[ImportedDocument.model_validate(f, from_attributes=True) for f in report.files])


async def _read_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise FileTooLargeError(f"the documents are larger than the {limit // (1024 * 1024)} MB limit of one "
                                    "file; split the export")
    return bytes(body)
