"""llama-index in: the ``Document``s any llama-index reader produces, ingested like files.

A reader (Notion, Confluence, a database, ``SimpleDirectoryReader``) turns a source into llama-index
``Document`` objects (text + metadata). ``ingest_documents`` ingests them through the same ``Ingestor`` as
files: chunking, redaction (``settings.redact_documents`` or ``SourceOptions.redact``), language detection,
instruction flags and versioning (unchanged text stays ``unchanged``, changed text becomes the next version)::

    >>> from llama_index.core import SimpleDirectoryReader                               # doctest: +SKIP
    >>> documents = SimpleDirectoryReader("help-center/").load_data()                    # doctest: +SKIP
    >>> report = ingest_documents(Ingestor.from_settings(settings), documents,           # doctest: +SKIP
    ...                           SourceOptions(tenant="tidewell", market="DE"))
    >>> report.totals()                                                                  # doctest: +SKIP
    {'files': 3, 'added': 3, 'replaced': 0, 'unchanged': 0, 'skipped': 0, 'chunks': 11}

What a ``Document`` becomes:

- its **id**: metadata ``document_id``, else ``file_name``, else ``file_path``, else the Document's ``id_``
  (llama-index makes a random ``id_`` when a reader sets none: give such documents a ``document_id``, or each
  import adds new documents instead of new versions). The id is checked like an uploaded name (``invalid_name``).
- its **market**, **language** and **title**: metadata ``market``, ``language`` and ``title`` when present, else
  the options' market and language (none: detected per chunk) and the text's first heading.
- Documents that share an id are one document, their texts joined in order: a reader that gives one Document per
  page or section of a file. Two files of one name (different ``file_path``) are refused: set ``document_id``.
- The id's suffix says how the text is read: ``.md`` as Markdown, ``.html`` as HTML, anything else plain text.

A JSONL export (``ingest_jsonl``, ``polydesk ingest-documents``, ``POST /v1/knowledge/documents/import``) holds
one Document per line as ``Document.model_dump_json()`` or ``doc.to_json()`` writes it: the text as ``text`` or
the newer ``text_resource.text``, ``metadata`` (older exports: ``extra_info``), ``id_`` (or ``doc_id``). Every
document is checked before anything is written: one bad line refuses the whole file (``DocumentsError``, code
``invalid_record``, with each bad line's number and code in ``problems``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ingestion.pipeline import Ingestor, IngestReport, ProgressCallback, TextSource
from ingestion.sources import SourceOptions
from knowledge.schema import normalize_document_id, normalize_language, normalize_market
from polydesk.errors import EmptyFileError, InvalidRecordError

SOURCE_PREFIX = "llama-index:"  # the records' ``source``: where the document came from
ID_KEYS = ("document_id", "file_name", "file_path")
MAX_PROBLEMS = 20  # bad lines listed in one error; the count says how many there were


class DocumentLike(Protocol):
    """What is read of a llama-index ``Document`` (``llama_index.core.Document`` fits; no import needed)."""

    @property
    def text(self) -> str: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...

    @property
    def id_(self) -> str: ...


@dataclass(frozen=True, slots=True)
class DocumentRow:
    """One line of a JSONL export."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    id_: str = ""


class DocumentsError(InvalidRecordError):
    """Documents refused before anything was written. ``problems``: one ``{"line" or "document", "code",
    "message"}`` per bad line (at most ``MAX_PROBLEMS``)."""

    def __init__(self, problems: list[dict[str, Any]], *, total: int | None = None) -> None:
        total = total if total is not None else len(problems)
        shown = "; ".join(f"{_where(p)}: {p['message']}" for p in problems[:3])
        more = f" (and {total - 3} more)" if total > 3 else ""
        super().__init__(f"{total} bad document(s), nothing was ingested: {shown}{more}")
        self.problems = problems[:MAX_PROBLEMS]


def _where(problem: Mapping[str, Any]) -> str:
    return f"line {problem['line']}" if "line" in problem else f"document {problem['document']}"


def ingest_documents(ingestor: Ingestor, documents: Sequence[DocumentLike], options: SourceOptions, *,
                     progress: ProgressCallback | None = None) -> IngestReport:
    """Ingest llama-index Documents for ``options.tenant`` (see the module docstring for ids and metadata).

    Raises ``DocumentsError`` (nothing written) when a document's id or metadata is refused; a document that fails
    later (no text once parsed) is reported ``skipped`` with its code, as a bad file is, and the rest goes on.
    """
    return ingestor.ingest_texts(text_sources(documents, options), progress=progress)


def ingest_jsonl(ingestor: Ingestor, data: bytes, options: SourceOptions, *,
                 progress: ProgressCallback | None = None) -> IngestReport:
    """Ingest a JSONL export of Documents (one per line); a bad line refuses the whole file."""
    rows, lines = read_jsonl(data)
    return ingestor.ingest_texts(text_sources(rows, options, lines=lines), progress=progress)


def read_jsonl(data: bytes) -> tuple[list[DocumentRow], list[int]]:
    """The Documents of a JSONL export and the line each is on; ``DocumentsError`` lists every bad line."""
    rows: list[DocumentRow] = []
    numbers: list[int] = []
    problems: list[dict[str, Any]] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if not raw.strip():
            continue
        try:
            rows.append(_row(raw))
            numbers.append(number)
        except ValueError as exc:
            problems.append({"line": number, "code": "invalid_record", "message": str(exc)})
    if problems:
        raise DocumentsError(problems)
    if not rows:
        raise EmptyFileError("the file holds no documents: one llama-index Document (JSON) per line")
    return rows, numbers


def _row(raw: bytes) -> DocumentRow:
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte 0x{raw[exc.start:exc.start + 1].hex()} at offset {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"a line holds one Document as a JSON object, not {type(value).__name__}")
    text = value.get("text")
    resource = value.get("text_resource")
    if not isinstance(text, str) and isinstance(resource, dict):
        text = resource.get("text")
    if not isinstance(text, str):
        raise ValueError("no text: expected a string in 'text' or 'text_resource.text'")
    metadata = value.get("metadata", value.get("extra_info"))
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise ValueError("'metadata' must be a JSON object")
    id_ = value.get("id_", value.get("doc_id"))
    if id_ is not None and not isinstance(id_, str):
        raise ValueError("'id_' must be a string")
    return DocumentRow(text=text, metadata=metadata, id_=id_ or "")


@dataclass(slots=True)
class _Merged:
    source: TextSource
    parts: list[str]
    file_path: object
    first: str


def text_sources(documents: Sequence[DocumentLike], options: SourceOptions, *,
                 lines: Sequence[int] | None = None) -> list[TextSource]:
    """One ``TextSource`` per document id (Documents sharing an id merged in order), or ``DocumentsError``.

    ``lines``: the JSONL line of each document, for the errors (else they name the document's position, from 1).
    """
    merged: dict[str, _Merged] = {}
    problems: list[dict[str, Any]] = []
    for position, document in enumerate(documents):
        where = {"line": lines[position]} if lines is not None else {"document": position + 1}
        try:
            source, file_path = _source(document, options)
        except _Refused as exc:
            problems.append({**where, "code": exc.code, "message": exc.message})
            continue
        known = merged.get(source.document_id)
        if known is None:
            merged[source.document_id] = _Merged(source, [document.text], file_path, _where(where))
        elif known.file_path != file_path:
            problems.append({**where, "code": "invalid_name", "message": (
                f"the id {source.document_id!r} also names another file ({known.first}): set metadata "
                "'document_id' to tell them apart")})
        elif (known.source.options, known.source.title) != (source.options, source.title):
            problems.append({**where, "code": "invalid_record", "message": (
                f"a part of {source.document_id!r} ({known.first}) has another market, language or title")})
        else:
            known.parts.append(document.text)
    if problems:
        raise DocumentsError(problems)
    return [replace(m.source, text="\n\n".join(part.strip() for part in m.parts if part.strip()))
            for m in merged.values()]


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _source(document: DocumentLike, options: SourceOptions) -> tuple[TextSource, object]:
    """The document's source (id, options, title) and its file path (to tell two files of one name apart)."""
    metadata = document.metadata or {}
    text = document.text
    if not isinstance(text, str):
        raise _Refused("invalid_record", "the text must be a string")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Refused("invalid_record", f"the text has a lone surrogate (U+{ord(text[exc.start]):04X}) at "
                                         f"character {exc.start}") from exc
    given = next((str(metadata[key]) for key in ID_KEYS if _names(metadata.get(key))), None) or document.id_
    if not isinstance(given, str) or not given.strip():
        raise _Refused("invalid_name", "no id: set metadata 'document_id' (or 'file_name', or the Document's id_)")
    try:
        document_id = normalize_document_id(given)
    except ValueError as exc:
        raise _Refused("invalid_name", str(exc)) from exc
    market, language = options.market, options.language
    try:
        if metadata.get("market") is not None:
            market = normalize_market(_text_field(metadata, "market"))
        if metadata.get("language") is not None:
            language = normalize_language(_text_field(metadata, "language"))
    except ValueError as exc:
        raise _Refused("invalid_record", f"metadata: {exc}") from exc
    title = metadata.get("title")
    title = title.strip() if isinstance(title, str) and title.strip() else None
    if title is not None and not title.isprintable() and any(0xD800 <= ord(c) <= 0xDFFF for c in title):
        raise _Refused("invalid_record", "metadata: the title has a lone surrogate")
    prefix = options.source_prefix if options.source_prefix is not None else SOURCE_PREFIX
    options = replace(options, market=market, language=language, source_prefix=prefix)
    source = TextSource(text=text, document_id=document_id, options=options, title=title)
    return source, None if _names(metadata.get("document_id")) else metadata.get("file_path")


def _names(value: object) -> bool:
    """An id in metadata: a non-blank string, or a number (a database row's key)."""
    return (isinstance(value, str) and bool(value.strip())) or (isinstance(value, int) and not isinstance(value, bool))


def _text_field(metadata: Mapping[str, Any], key: str) -> str:
    value = metadata[key]
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string, not {type(value).__name__}")
    return value
