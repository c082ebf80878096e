"""What the knowledge page needs besides its routes: the upload's body rewrite, the title search, the chunk
labels and the per-file rows of a job (``api.console.knowledge`` holds the routes and says why each exists).

``UploadBody`` wraps a ``multipart/form-data`` request so the API's own streaming receiver
(``api.uploads.receive_multipart``, through ``api.routes.knowledge.upload``) reads it once, as it arrives:

- the ``csrf`` field (the no-JS form's token, sent before any file) is read off the stream first and kept out of
  what the API sees (the API refuses unknown form fields);
- a file part with an empty file name (a file picker the user left empty: a browser still sends it), or a file
  field without a file name, is dropped;
- ``rename`` names every file part as that document id (re-ingest: a new version of one document).

Only the csrf part is buffered before the session is checked (at most ``CSRF_WINDOW`` bytes); everything else
flows through part by part, parsed off the event loop.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Message

from api.auth import Caller
from api.deps import Services
from api.routes import knowledge as knowledge_api
from ingestion.job_records import FINISHED, Job
from polydesk.errors import InputError

CSRF_FIELD = "csrf"
FILE_FIELDS = (b"files", b"file")
CSRF_WINDOW = 1024 * 1024  # a csrf field not complete within this many bytes is missing
SCAN_PAGE = 100  # documents read per store page while searching titles
SCAN_CAP = 2000  # documents one search request reads at most; "search further" goes on from there
BUILT_IN_LABELS = ("EMAIL", "CARD", "PHONE", "NAME", "ADDRESS")  # polydesk.redaction writes "[LABEL]"
# The codes a file or an upload can end with on this page: each has words in the locale file.
FILE_CODES = ("invalid_input", "unsupported_type", "invalid_name", "empty_file", "corrupt_file", "encrypted_file",
              "file_too_large", "too_many_files", "unsafe_archive", "invalid_record", "internal_error",
              "store_unavailable", "abandoned", "not_found", "csrf_failed")


class UploadBody:
    """A multipart request re-emitted without the csrf field and empty pickers (see the module docstring)."""

    def __init__(self, request: Request, *, rename: str | None = None) -> None:
        _, params = parse_options_header(request.headers.get("content-type", ""))
        if b"boundary" not in params:
            raise InputError("the multipart body has no boundary in its Content-Type header")
        self.boundary = params[b"boundary"]
        self.rename = rename
        self.source = request
        self.csrf: str | None = None
        self.out = bytearray()
        self.finished = False
        self.read = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._name, self._value = b"", b""
        self._mode = "emit"  # this part: emit, csrf (kept out, read) or drop
        self._token = bytearray()
        self._file_began = False
        self._csrf_done = False
        self._parser = MultipartParser(self.boundary, {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end, "on_end": self._end})

    async def read_csrf(self) -> str:
        """The csrf field's value, read off the stream before any file ("" when it is not there first)."""
        while not (self._csrf_done or self._file_began or self.finished) and self.read <= CSRF_WINDOW:
            if await self._pull() is not None:
                break  # the client went away
        return self.csrf or ""

    def request(self, *, csrf: str | None) -> Request:
        """The request the API reads: this body, and the token (when read from the body) as the CSRF header."""
        headers = [(k, v) for k, v in self.source.scope["headers"] if k not in (b"content-length", b"x-csrf-token")]
        if csrf is not None:
            headers.append((b"x-csrf-token", csrf.encode("latin-1", errors="replace")))
        elif (sent := self.source.headers.get("x-csrf-token")) is not None:
            headers.append((b"x-csrf-token", sent.encode("latin-1", errors="replace")))
        return Request({**self.source.scope, "headers": headers}, receive=self.receive)

    async def receive(self) -> Message:
        while not self.out and not self.finished:
            message = await self._pull()
            if message is not None:
                return message
        chunk = bytes(self.out)
        self.out.clear()
        return {"type": "http.request", "body": chunk, "more_body": not self.finished}

    async def _pull(self) -> Message | None:
        """Feed the parser one message of the original body; a disconnect is passed on."""
        message = await self.source.receive()
        if message["type"] == "http.disconnect":
            return message
        body: bytes = message.get("body", b"")
        self.read += len(body)
        try:
            if body:
                await run_in_threadpool(self._parser.write, body)
            if not message.get("more_body", False):
                self._parser.finalize()
                self._end()
        except InputError:
            raise
        except Exception as exc:  # python-multipart's parse errors
            raise InputError(f"the multipart body is malformed: {exc}") from exc
        return None

    # -- parser callbacks --------------------------------------------------------------------------------------

    def _part_begin(self) -> None:
        self._headers, self._mode, self._name, self._value = [], "emit", b"", b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers.append((self._name, self._value))
        self._name, self._value = b"", b""

    def _headers_finished(self) -> None:
        disposition = next((v for k, v in self._headers if k.strip().lower() == b"content-disposition"), b"")
        _, options = parse_options_header(disposition)
        if b"filename" not in options:
            if options.get(b"name") == CSRF_FIELD.encode() and not self._file_began:
                self._mode = "csrf"
            elif options.get(b"name") == CSRF_FIELD.encode() or options.get(b"name") in FILE_FIELDS:
                self._mode = "drop"  # a token after the files counts for nothing; a file field without a file
            if self._mode == "emit":
                self._write_headers(self._headers)
            return
        self._file_began = True
        if options[b"filename"] == b"":
            self._mode = "drop"  # a file picker left empty
            return
        headers = self._headers
        if self.rename is not None:
            name = self.rename.encode("utf-8").replace(b"\\", b"\\\\").replace(b'"', b'\\"')
            field = options.get(b"name", b"files").replace(b'"', b"")
            headers = [(k, b'form-data; name="%s"; filename="%s"' % (field, name))
                       if k.strip().lower() == b"content-disposition" else (k, v) for k, v in headers]
        self._write_headers(headers)

    def _write_headers(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.out += b"--" + self.boundary + b"\r\n"
        for name, value in headers:
            self.out += name + b": " + value + b"\r\n"
        self.out += b"\r\n"

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._mode == "emit":
            self.out += data[start:end]
        elif self._mode == "csrf" and len(self._token) < 4096:
            self._token += data[start:end]

    def _part_end(self) -> None:
        if self._mode == "emit":
            self.out += b"\r\n"
        elif self._mode == "csrf":
            self.csrf = bytes(self._token).decode("utf-8", errors="replace")
            self._csrf_done = True

    def _end(self) -> None:
        if not self.finished:
            self.out += b"--" + self.boundary + b"--\r\n"
            self.finished = True


# -- the documents table -------------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Text for a substring match in any script: compatibility forms unified (full-width Latin, half-width kana),
    case folded; no word boundaries assumed (Thai, Japanese and Chinese titles have no spaces)."""
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True, slots=True)
class Found:
    documents: list[knowledge_api.DocumentPublic]
    next_cursor: str | None
    scanned: int


def find_documents(caller: Caller, services: Services, *, q: str, market: str | None, language: str | None,
                   kind: Any, cursor: str | None, limit: int) -> Found:
    """One page of the table: the API's listing as is, or, with ``q``, the documents whose id or title holds
    ``q``, found by reading the API's listing page by page (same filters, same cursor) until a page of matches,
    the end, or ``SCAN_CAP`` documents read; ``next_cursor`` goes on from the last page read."""
    if not q.strip():
        page = knowledge_api.list_documents(caller, services, market=market, language=language, kind=kind,
                                            limit=limit, cursor=cursor)
        return Found(page.documents, page.next_cursor, len(page.documents))
    needle = fold(q.strip())
    found: list[knowledge_api.DocumentPublic] = []
    scanned = 0
    while True:
        page = knowledge_api.list_documents(caller, services, market=market, language=language, kind=kind,
                                            limit=SCAN_PAGE, cursor=cursor)
        scanned += len(page.documents)
        found += [d for d in page.documents if needle in fold(d.document_id) or needle in fold(d.title)]
        cursor = page.next_cursor
        if cursor is None or len(found) >= limit or scanned >= SCAN_CAP:
            return Found(found, cursor, scanned)


# -- a document's chunks -------------------------------------------------------------------------------------------


def label_pattern(extra: Mapping[str, str]) -> re.Pattern[str]:
    """The placeholders redaction leaves in a chunk's text: ``[EMAIL]``, ``[PHONE]``, ... and the extra labels."""
    labels = sorted({*BUILT_IN_LABELS, *extra}, key=len, reverse=True)
    return re.compile(r"\[(" + "|".join(re.escape(label) for label in labels) + r")\]")


def segments(text: str, pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """The text as ("text", part) and ("label", LABEL) pieces, for the template to show labels as labels."""
    pieces: list[tuple[str, str]] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() > position:
            pieces.append(("text", text[position:match.start()]))
        pieces.append(("label", match.group(1)))
        position = match.end()
    if position < len(text):
        pieces.append(("text", text[position:]))
    return pieces


# -- a job's files -----------------------------------------------------------------------------------------------


def job_rows(job: Job) -> list[dict[str, Any]]:
    """One row per file: its state (queued, running, ingested, added, replaced, unchanged, skipped, failed),
    chunks, code and reason. Before the job ends only the files refused at upload have results; ``current`` is
    the file the worker finished last."""
    results = {f.document_id or f.name or "": f for f in job.files}
    rows: list[dict[str, Any]] = []
    for document_id in job.uploaded:
        result = results.pop(document_id, None)
        if result is not None:
            rows.append(_result_row(document_id, result))
        elif job.status in FINISHED:
            rows.append({"id": document_id, "state": "failed", "chunks": 0,
                         "code": job.error.code if job.error else None,
                         "reason": job.error.message if job.error else None})
        else:
            state = "queued" if job.status == "queued" else "ingested" if document_id == job.current else "running"
            rows.append({"id": document_id, "state": state, "chunks": None, "code": None, "reason": None})
    rows += [_result_row(key, result) for key, result in results.items()]
    return rows


def _result_row(key: str, result: Any) -> dict[str, Any]:
    return {"id": result.document_id or key, "state": result.status, "chunks": result.chunks, "code": result.code,
            "reason": result.reason, "redactions": result.redactions}
