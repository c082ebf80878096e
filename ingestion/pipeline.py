"""Sources → chunks → index: the ingestion pipeline, readable top to bottom.

For each file: check (size, type by content) → fingerprint (unchanged files
stop here) → parse (unstructured for documents, table and transcript readers)
→ chunk → redact PII → detect language → embed (batched across files) →
write the new version (see ``KnowledgeIndex.write_document``). A file that
fails any step before the write is reported with a stable error code and a
reason, and the rest of the batch goes on; nothing of it is written. Documents held in memory (a llama-index
reader's output: ``ingestion.llama_documents``) take the same steps through ``ingest_texts``.

Example:
    >>> ingestor = Ingestor.from_settings(Settings())                      # doctest: +SKIP
    >>> report = ingestor.ingest([Path("demo/tidewell/knowledge")], SourceOptions(tenant="tidewell"))  # doctest: +SKIP
    >>> report.totals()["chunks"]                                           # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from ingestion.chunking import ChunkDraft, Chunker, separate_instructions
from ingestion.filetypes import FileType, detect_type
from ingestion.parsing import parse_document
from ingestion.sources import SourceFile, SourceOptions, discover
from ingestion.tables import TableDrafts, faq_drafts, looks_like_transcript, read_table
from ingestion.transcripts import conversation_drafts, read_jsonl, read_turn_rows
from knowledge.index import KnowledgeIndex
from knowledge.schema import Chunk, DocumentRecord, Kind, normalize_document_id
from polydesk.errors import InvalidNameError, InvalidRecordError, PolydeskError
from polydesk.language import LanguageDetector
from polydesk.redaction import Redactor
from polydesk.settings import Settings

PREPARE_AHEAD = 8  # files prepared ahead of the embedder: bounds memory on large folders

# Bump when parsing or chunking changes what a file turns into: every file is then re-ingested once.
PIPELINE_VERSION = "2"  # 2: text that reads as instructions to an assistant is flagged (Chunk.flag)

Status = Literal["added", "replaced", "unchanged", "skipped"]


@dataclass(slots=True)
class FileResult:
    path: str
    document_id: str
    status: Status
    chunks: int = 0
    kind: str = ""
    code: str | None = None
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class IngestReport:
    files: list[FileResult]
    seconds: float

    def totals(self) -> dict[str, int]:
        statuses = Counter(f.status for f in self.files)
        return {
            "files": len(self.files),
            **{status: statuses.get(status, 0) for status in ("added", "replaced", "unchanged", "skipped")},
            "chunks": sum(f.chunks for f in self.files if f.status in ("added", "replaced")),
        }

    def to_dict(self) -> dict[str, object]:
        return {"totals": self.totals(), "seconds": round(self.seconds, 3), "files": [asdict(f) for f in self.files]}


@dataclass(slots=True)
class Prepared:
    """A file parsed, chunked and redacted, its new version's record made: what ``Ingestor.write`` writes."""

    result: FileResult
    record: DocumentRecord
    chunks: list[Chunk]


@dataclass(frozen=True, slots=True)
class Progress:
    """What a progress bar shows: files done of all files, and chunks embedded so far."""

    files_done: int
    files_total: int
    chunks_embedded: int
    current: str = ""


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class TextSource:
    """A document held in memory for ``Ingestor.ingest_texts``. The id's suffix says how the text is read:
    ``.md``/``.markdown`` as Markdown, ``.html``/``.htm`` as HTML, anything else as plain text."""

    text: str
    document_id: str
    options: SourceOptions
    title: str | None = None  # None: the text's first heading, else the id's file name without suffix


def _text_stem(document_id: str) -> str:
    """The id's file name without suffix, for the temporary file (a parser's fallback title); "document" when it
    cannot name a file (the id itself is checked like any other, and refused with ``invalid_name`` if bad)."""
    stem = Path(document_id).stem
    return stem if stem and "\x00" not in stem and len(stem.encode()) <= 200 else "document"


_TEXT_SUFFIXES = {".md": ".md", ".markdown": ".md", ".html": ".html", ".htm": ".html"}  # else plain text


def _text_suffix(document_id: str) -> str:
    return _TEXT_SUFFIXES.get(Path(document_id).suffix.lower(), ".txt")


def _check_name(document_id: str) -> None:
    """A file whose name an upload would refuse (a bidi override, controls, only dots) is refused here too."""
    try:
        normalize_document_id(document_id)
    except ValueError as exc:
        raise InvalidNameError(str(exc)) from exc


def _record_source(source: SourceFile) -> str:
    prefix = source.options.source_prefix
    return f"{prefix}{source.document_id}" if prefix is not None else str(source.path)


class Ingestor:
    def __init__(self, *, index: KnowledgeIndex, settings: Settings, chunker: Chunker | None = None,
                 redactor: Redactor | None = None, detector: LanguageDetector | None = None,
                 question_column: str | None = None, answer_column: str | None = None) -> None:
        self.index = index
        self.settings = settings
        self.chunker = chunker or Chunker(max_tokens=settings.chunk_tokens,
                                          overlap_tokens=settings.chunk_overlap_tokens)
        self.redactor = redactor or Redactor(extra_patterns=settings.redact_patterns)
        self.detector = detector or LanguageDetector()
        self.question_column = question_column
        self.answer_column = answer_column
        # Embedding in large batches across files keeps the embedder at its batched throughput.
        self.group_chunks = max(settings.embed_batch_size * 8, 256)

    def ingest(self, paths: Sequence[Path], base: SourceOptions, *, progress: ProgressCallback | None = None
               ) -> IngestReport:
        return self.ingest_sources(discover(list(paths), base), progress=progress)

    def ingest_texts(self, texts: Sequence[TextSource], *, progress: ProgressCallback | None = None
                     ) -> IngestReport:
        """Documents held in memory (a reader's output), ingested exactly as files are: each is written to a
        private temporary file that the same checks, parsers, redaction and versioning read. The report and the
        progress name each by its document id."""
        with tempfile.TemporaryDirectory(prefix="polydesk-texts-") as folder:
            sources: list[SourceFile] = []
            ids: dict[str, str] = {}
            for number, text in enumerate(texts):
                path = Path(folder) / str(number) / f"{_text_stem(text.document_id)}{_text_suffix(text.document_id)}"
                path.parent.mkdir()
                path.write_text(text.text, encoding="utf-8")
                sources.append(SourceFile(path, text.document_id, text.options, title=text.title))
                ids[str(path)] = text.document_id

            def named(p: Progress) -> None:
                if progress is not None:
                    progress(Progress(p.files_done, p.files_total, p.chunks_embedded, ids.get(p.current, p.current)))

            report = self.ingest_sources(sources, progress=named)
        for result in report.files:
            result.path = result.document_id
            result.reason = result.reason and result.reason.replace(folder + "/", "")
        return report

    def ingest_sources(self, sources: Sequence[SourceFile], *, progress: ProgressCallback | None = None
                       ) -> IngestReport:
        started = time.perf_counter()
        results: list[FileResult] = []
        pending: list[Prepared] = []
        embedded = 0

        def report(current: str = "") -> None:
            if progress is not None:
                progress(Progress(len(results), len(sources), embedded, current))

        def flush() -> None:
            nonlocal embedded
            for prepared in self.write(pending):
                embedded += len(prepared.chunks)
                results.append(prepared.result)
                report(prepared.result.path)
            pending.clear()

        for outcome in self._prepared(sources):
            if isinstance(outcome, FileResult):
                results.append(outcome)
                report(outcome.path)
                continue
            pending.append(outcome)
            if sum(len(p.chunks) for p in pending) >= self.group_chunks:
                flush()
        flush()
        order = {s.document_id: i for i, s in enumerate(sources)}
        results.sort(key=lambda r: order[r.document_id])
        return IngestReport(files=results, seconds=time.perf_counter() - started)

    def write(self, prepared: Sequence[Prepared]) -> Iterator[Prepared]:
        """Embed the prepared files' chunks in one run, then write each document (its new version, atomically);
        yields each once it is written."""
        if not prepared:
            return
        encoded = self.index.encode([c.text for p in prepared for c in p.chunks])
        start = 0
        for one in prepared:
            end = start + len(one.chunks)
            self.index.write_document(one.record, one.chunks, encoded[start:end])
            start = end
            yield one

    def _prepared(self, sources: Sequence[SourceFile]) -> Iterator[Prepared | FileResult]:
        """Files prepared (parsed, chunked, redacted) in a worker thread, a few ahead, in order.

        The embedder releases the GIL while it runs, so parsing the next files overlaps embedding these.
        """
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="polydesk-prepare") as pool:
            ahead: deque[Future[Prepared | FileResult]] = deque()
            for source in sources:
                ahead.append(pool.submit(self.prepare, source))
                if len(ahead) > PREPARE_AHEAD:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()

    # -- one file --------------------------------------------------------------------------------------------------

    def prepare(self, source: SourceFile) -> Prepared | FileResult:
        """One file parsed, chunked and redacted, not yet embedded nor written (``unchanged`` when its fingerprint
        is the index's); a ``skipped`` result with its code when it cannot be ingested. A caller with files of its
        own to fetch first (a website sync) prepares them here and writes them with ``write``."""
        result = FileResult(path=str(source.path), document_id=source.document_id, status="skipped")
        try:
            _check_name(source.document_id)
            file_type = detect_type(source.path, max_bytes=self.settings.max_file_bytes)
            fingerprint = self._fingerprint(source, file_type)
            previous = self.index.get_document(source.options.tenant, source.document_id)
            if previous is not None and previous.source_hash == fingerprint:
                result.status, result.chunks, result.kind = "unchanged", previous.chunk_count, previous.kind
                return result
            kind, title, drafts = self._drafts(source, file_type, result)
            drafts = separate_instructions(drafts)
            if not drafts:
                raise InvalidRecordError("nothing to index: the file has no text")
            version = previous.version + 1 if previous is not None else 1
            chunks = self._chunks(source, kind, title, version, drafts, result)
        except PolydeskError as exc:
            result.code, result.reason = exc.code, exc.message
            return result
        except Exception as exc:  # a parser bug must not stop the batch; report it like any bad file
            result.code, result.reason = "internal_error", f"{type(exc).__name__}: {exc}"
            return result
        result.status = "replaced" if previous is not None else "added"
        result.kind, result.chunks = kind, len(chunks)
        languages = Counter(c.language for c in chunks)
        # "mul" (ISO 639-2: multiple languages) for a table or transcript file mixing languages.
        language = languages.most_common(1)[0][0] if len(languages) == 1 else "mul"
        record = DocumentRecord(
            tenant=source.options.tenant, document_id=source.document_id, version=version, title=title,
            source=_record_source(source), kind=kind, market=source.options.market,
            language=language, source_hash=fingerprint, chunk_count=len(chunks),
            flagged_chunks=sum(c.flag is not None for c in chunks),
        )
        return Prepared(result=result, record=record, chunks=chunks)

    def _fingerprint(self, source: SourceFile, file_type: FileType) -> str:
        digest = hashlib.sha256(source.path.read_bytes())
        options = {
            "pipeline": PIPELINE_VERSION, "type": file_type.value, "options": asdict(source.options),
            "redact_documents": self.settings.redact_documents, "patterns": self.settings.redact_patterns,
            "chunk": [self.settings.chunk_tokens, self.settings.chunk_overlap_tokens],
            "embedder": self.index.embedder.name, "columns": [self.question_column, self.answer_column],
        }
        if source.title is not None:  # only when set: files' fingerprints stay as they were
            options["title"] = source.title
        digest.update(json.dumps(options, sort_keys=True).encode())
        return digest.hexdigest()

    def _drafts(self, source: SourceFile, file_type: FileType, result: FileResult
                ) -> tuple[Kind, str, list[ChunkDraft]]:
        """The file's kind, title and chunk drafts, by what its content is."""
        title = source.path.stem
        wanted = source.options.kind
        table_drafts: TableDrafts | None = None
        if file_type == FileType.JSONL:
            table_drafts = conversation_drafts(*read_jsonl(source.path.read_bytes()))
            kind: Kind = "conversation"
        elif file_type in (FileType.CSV, FileType.XLSX):
            table = read_table(source.path, file_type)
            if wanted == "conversation" or (wanted is None and looks_like_transcript(table)):
                table_drafts, kind = conversation_drafts(*read_turn_rows(table)), "conversation"
            else:
                table_drafts = faq_drafts(table, question_column=self.question_column, answer_column=self.answer_column)
                kind = wanted or "faq"
        else:
            if wanted == "conversation":
                raise InvalidRecordError("conversations must be JSONL or CSV transcripts (see the README)")
            parsed = parse_document(source.path, file_type)
            if parsed.metadata.get("hidden_elements"):
                result.warnings.append(f"{parsed.metadata['hidden_elements']} hidden HTML element(s) left out: "
                                       "text no reader of the page sees is not knowledge")
            title = source.title or parsed.title or title
            kind = wanted or "doc"
            return kind, title, self.chunker.chunk(parsed.blocks)
        result.warnings.extend(table_drafts.warnings)
        return kind, title, table_drafts.drafts

    def _chunks(self, source: SourceFile, kind: Kind, title: str, version: int, drafts: list[ChunkDraft],
                result: FileResult) -> list[Chunk]:
        options = source.options
        redact = kind == "conversation" or options.redact or self.settings.redact_documents
        chunks = []
        for position, draft in enumerate(drafts):
            market = draft.market or options.market
            text, extra = draft.text, dict(draft.extra)
            if redact:
                text = self._redact(text, market, result)
                for key in ("question", "answer"):
                    if key in extra:
                        extra[key] = self.redactor.redact(extra[key], market=market).text
            language = draft.language or options.language or self.detector.detect(text, market=market)
            chunks.append(Chunk(
                tenant=options.tenant, document_id=source.document_id, version=version, position=position,
                text=text, market=market, language=language, kind=kind, source=source.document_id,
                title=title, section=draft.section, page=draft.page, extra=extra, flag=draft.flag,
            ))
        flagged = Counter(c.flag for c in chunks if c.flag is not None)
        if flagged:
            reasons = "; ".join(f"{reason} ×{count}" for reason, count in flagged.most_common())
            result.warnings.append(f"{sum(flagged.values())} chunk(s) kept out of answers ({reasons}); "
                                   "see the document's chunks")
        return chunks

    def _redact(self, text: str, market: str, result: FileResult) -> str:
        redaction = self.redactor.redact(text, market=market)
        for label, count in redaction.counts.items():
            result.redactions[label] = result.redactions.get(label, 0) + count
        return redaction.text

    @classmethod
    def from_settings(cls, settings: Settings, *, question_column: str | None = None,
                      answer_column: str | None = None) -> Ingestor:
        return cls(index=KnowledgeIndex.open(settings), settings=settings, question_column=question_column,
                   answer_column=answer_column)
