"""``polydesk ingest``, ``search``, ``documents`` and ``delete``: the knowledge index of a tenant."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli.common import JsonOption, TenantOption, console, err_console, errors, load_settings, open_index
from polydesk.errors import InputError

if TYPE_CHECKING:
    from ingestion.pipeline import Ingestor, IngestReport
    from ingestion.pipeline import Progress as IngestProgress
    from ingestion.sources import SourceOptions
    from knowledge.index import SearchMode


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (read recursively) to ingest.")],
    tenant: TenantOption,
    market: Annotated[str, typer.Option("--market", "-m", help="Market code (DE, TH, ...) or '*' for all markets.")],
    kind: Annotated[str | None, typer.Option(help="doc, faq, policy or conversation (default: by file type).")] = None,
    language: Annotated[str | None, typer.Option(help="Language of all files (default: detected per chunk).")] = None,
    redact: Annotated[bool, typer.Option("--redact", help="Redact PII in documents (always on for conversations).")
                      ] = False,
    question_column: Annotated[str | None, typer.Option(help="FAQ tables: the question column.")] = None,
    answer_column: Annotated[str | None, typer.Option(help="FAQ tables: the answer column.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest product docs, policies, FAQ tables and past conversations into the knowledge index.

    Unchanged files are skipped, changed files replace their previous version, bad files are reported
    with a reason and the rest of the batch is ingested. A polydesk.yaml in a folder sets market, kind,
    language and redact for that folder.
    """
    from ingestion.pipeline import Ingestor

    settings = load_settings()
    with errors(as_json):
        options = _source_options(tenant, market, kind, language, redact)
        with open_index(settings) as index:
            ingestor = Ingestor(index=index, settings=settings, question_column=question_column,
                                answer_column=answer_column)
            report = run_ingest(ingestor, paths, options, quiet=as_json)
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print_report(report)


def ingest_documents(
    file: Annotated[Path, typer.Argument(help="A JSONL export of llama-index Documents (one per line).")],
    tenant: TenantOption,
    market: Annotated[str, typer.Option("--market", "-m", help="Market code (DE, TH, ...) or '*'; a Document's "
                                        "metadata 'market' wins.")],
    kind: Annotated[str | None, typer.Option(help="doc, faq or policy (default: doc).")] = None,
    language: Annotated[str | None, typer.Option(help="Language of all documents (default: metadata 'language', "
                                                 "else detected per chunk).")] = None,
    redact: Annotated[bool, typer.Option("--redact", help="Redact PII in the documents.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Ingest llama-index Documents exported as JSONL (`doc.model_dump_json()` or `doc.to_json()` per line).

    Any llama-index reader's output (Notion, Confluence, a database, SimpleDirectoryReader) goes through
    polydesk's redaction, chunking, language detection and versioning. A document's id is its metadata
    `document_id`, else `file_name`, else `file_path`, else its `id_`. A bad line refuses the whole file
    (code invalid_record, with the line numbers); nothing is ingested then.
    """
    from ingestion.llama_documents import read_jsonl, text_sources
    from ingestion.pipeline import Ingestor

    settings = load_settings()
    with errors(as_json):
        options = _source_options(tenant, market, kind, language, redact)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror or exc}") from exc
        rows, lines = read_jsonl(data)
        sources = text_sources(rows, options, lines=lines)  # every line checked before the index opens
        with open_index(settings) as index:
            report = Ingestor(index=index, settings=settings).ingest_texts(sources)
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print_report(report)


def _source_options(tenant: str, market: str, kind: str | None, language: str | None, redact: bool
                    ) -> SourceOptions:
    from pydantic import TypeAdapter, ValidationError

    from ingestion.sources import SourceOptions
    from knowledge.schema import Kind, normalize_language, normalize_market, normalize_tenant

    try:
        return SourceOptions(
            tenant=normalize_tenant(tenant), market=normalize_market(market),
            kind=TypeAdapter(Kind).validate_python(kind) if kind else None,
            language=normalize_language(language) if language else None, redact=redact,
        )
    except (ValueError, ValidationError) as exc:
        raise InputError(str(exc).splitlines()[0] if isinstance(exc, ValidationError) else str(exc)) from exc


def run_ingest(ingestor: Ingestor, paths: list[Path], options: SourceOptions, *, quiet: bool) -> IngestReport:
    """Ingest, with a progress bar on a terminal unless ``quiet``."""
    if quiet or not sys.stderr.isatty():
        return ingestor.ingest(paths, options)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[chunks]} chunks"))
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("ingesting", total=None, chunks=0)

        def on_progress(p: IngestProgress) -> None:
            bar.update(task, completed=p.files_done, total=p.files_total, chunks=p.chunks_embedded,
                       description=Path(p.current).name[:40] if p.current else "ingesting")

        return ingestor.ingest(paths, options, progress=on_progress)


def print_report(report: IngestReport) -> None:
    """The ingest summary: one row per file, then the totals."""
    table = Table(title="ingest summary")
    for column in ("document", "kind", "status", "chunks", "detail"):
        table.add_column(column)
    for f in report.files:
        detail = f"[{f.code}] {f.reason}" if f.code else ", ".join(f"{k}×{v}" for k, v in f.redactions.items())
        if f.warnings:
            detail = (detail + "; " if detail else "") + f"{len(f.warnings)} warning(s): {f.warnings[0]}"
        style = {"skipped": "red", "unchanged": "dim"}.get(f.status, "")
        table.add_row(f.document_id, f.kind, f.status, str(f.chunks), detail, style=style)
    console.print(table)
    totals = report.totals()
    console.print(
        f"files {totals['files']}: added {totals['added']}, replaced {totals['replaced']}, "
        f"unchanged {totals['unchanged']}, skipped {totals['skipped']}; "
        f"chunks written {totals['chunks']}; {report.seconds:.1f} s"
    )


def search(
    query: Annotated[str, typer.Argument(help="What to look for, in any language.")],
    tenant: TenantOption,
    market: Annotated[str | None, typer.Option("--market", "-m", help="Market; market-independent (*) content too."
                                               )] = None,
    language: Annotated[str | None, typer.Option(help="Only chunks in this language.")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Only these kinds (repeatable).")] = None,
    top: Annotated[int, typer.Option("--top", "-k", min=1, max=100, help="How many hits.")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid (dense + lexical), dense or sparse.")] = "hybrid",
    as_json: JsonOption = False,
) -> None:
    """Search the knowledge index of a tenant and print the best chunks."""
    settings = load_settings()
    with errors(as_json), open_index(settings) as index:
        if mode not in ("hybrid", "dense", "sparse"):
            raise InputError(f"mode must be hybrid, dense or sparse, not {mode!r}")
        hits = index.search(query, tenant=tenant, market=market, language=language, kinds=kind, top_k=top,
                            mode=cast("SearchMode", mode))
    rows = [
        {"score": round(h.score, 4), "document_id": h.chunk.document_id, "title": h.chunk.title,
         "section": h.chunk.section, "market": h.chunk.market, "language": h.chunk.language, "kind": h.chunk.kind,
         "chunk_id": h.chunk.point_id, "text": h.chunk.text}
        for h in hits
    ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    _print_hits(query, rows)


def _print_hits(query: str, rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"search: {query}", show_lines=True)
    for column in ("score", "document", "market", "lang", "text"):
        table.add_column(column, overflow="fold")
    for row in rows:
        text = row["text"].replace("\n", " ")
        table.add_row(f"{row['score']:.3f}", f"{row['document_id']}\n{row['title']}", row["market"], row["language"],
                      text[:300] + ("…" if len(text) > 300 else ""))
    console.print(table if rows else "[yellow]no hits[/yellow]")


def documents(
    tenant: TenantOption,
    market: Annotated[str | None, typer.Option("--market", "-m")] = None,
    language: Annotated[str | None, typer.Option()] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    offset: Annotated[str | None, typer.Option(help="Continue a listing from its next_offset.")] = None,
    flagged: Annotated[bool, typer.Option("--flagged", help="Also show the chunks kept out of answers, with why.")
                       ] = False,
    as_json: JsonOption = False,
) -> None:
    """List the documents of a tenant (one page; --offset continues).

    The "flagged" column counts chunks kept out of answers (e.g. text that reads as instructions to an
    assistant); --flagged shows them with the reason.
    """
    settings = load_settings()
    with errors(as_json), open_index(settings) as index:
        page = index.list_documents(tenant, market=market, language=language, kind=kind, limit=limit, offset=offset)
        held = {r.document_id: [c for c in index.get_chunks(tenant, r.document_id, version=r.version) if c.flag]
                for r in page.records if flagged and r.flagged_chunks}
    if as_json:
        rows = [{**r.payload(), **({"flagged": [{"position": c.position, "flag": c.flag, "text": c.text}
                                                for c in held[r.document_id]]} if r.document_id in held else {})}
                for r in page.records]
        print(json.dumps({"documents": rows, "next_offset": page.next_offset}, ensure_ascii=False))
        return
    table = Table(title=f"documents of {tenant}")
    for column in ("document", "title", "kind", "market", "lang", "version", "chunks", "flagged"):
        table.add_column(column, overflow="fold")
    for r in page.records:
        table.add_row(r.document_id, r.title, r.kind, r.market, r.language, str(r.version), str(r.chunk_count),
                      str(r.flagged_chunks), style="yellow" if r.flagged_chunks else "")
    console.print(table)
    for document_id, chunks in held.items():
        for c in chunks:
            text = c.text.replace("\n", " ")
            console.print(f"[yellow]{escape(document_id)} #{c.position}[/yellow] {escape(c.flag or '')}: "
                          f"{escape(text[:200])}", highlight=False)
    if page.next_offset:
        console.print(f"more: --offset {page.next_offset}")


def delete(
    document_id: Annotated[str, typer.Argument(help="The document id, as `polydesk documents` shows it.")],
    tenant: TenantOption,
    as_json: JsonOption = False,
) -> None:
    """Delete a document and all its chunks from the index."""
    from polydesk.errors import NotFoundError

    settings = load_settings()
    with errors(as_json), open_index(settings) as index:
        if not index.delete_document(tenant, document_id):
            raise NotFoundError(f"tenant {tenant} has no document {document_id!r}")
    print(json.dumps({"deleted": document_id}) if as_json else f"deleted {document_id}")
