"""The ``polydesk`` command line.

Every command reads its configuration from ``POLYDESK_*`` environment
variables (or ``.env``): see ``polydesk.settings``. Errors print a stable
code and a reason and exit non-zero; with ``--json`` they print
``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli_eval import eval_app
from polydesk.errors import ConfigError, InputError, PolydeskError
from polydesk.settings import Settings, get_settings

app = typer.Typer(
    name="polydesk",
    help="polydesk: a multilingual customer-service agent grounded in a brand's own knowledge.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
console = Console()
err_console = Console(stderr=True)

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo" / "tidewell"
DEMO_TENANT = "tidewell"
# (market, channel, message): what the demo asks the agent after ingesting the demo brand (the last one hands off).
DEMO_QUESTIONS = [
    ("US", "web", "How long do I have to return an item?"),
    ("DE", "email", "Ab wann ist der Versand kostenlos?"),
    ("TH", "line", "ส่งฟรีเมื่อซื้อครบเท่าไหร่"),
    ("JP", "line", "返品はいつまでできますか"),
    ("ID", "whatsapp", "Bisa bayar pakai GoPay?"),
    ("SA", "whatsapp", "ما هي مدة الإرجاع؟"),
    ("US", "web", "Who won the football world cup in 1998?"),
    ("BR", "whatsapp", "Já pedi o reembolso duas vezes. Se não resolverem hoje, vou abrir reclamação no Procon!"),
]

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant (brand) the data belongs to.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    """Map polydesk errors to a clear message and exit code 2 (bad input) or 1 (anything else)."""
    try:
        yield
    except PolydeskError as exc:
        if as_json:
            print(json.dumps({"error": exc.to_dict()}, ensure_ascii=False))
        else:
            err_console.print(f"[red]error[/red] \\[{exc.code}]: {escape(exc.message)}")
        raise typer.Exit(2 if isinstance(exc, InputError) else 1) from exc


@contextmanager
def _open_index(as_json: bool) -> Iterator[Any]:
    """The knowledge index for one command, closed (and its folder lock released) afterwards."""
    from knowledge.index import KnowledgeIndex

    settings = _settings()
    with _errors(as_json):
        index = KnowledgeIndex.open(settings)
        try:
            yield index
        finally:
            index.close()


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        err_console.print(f"[red]error[/red] \\[invalid_config]: {escape(str(exc))}")
        raise typer.Exit(1) from exc


@app.command()
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

    settings = _settings()
    with _errors(as_json):
        options = _source_options(tenant, market, kind, language, redact)
        ingestor = Ingestor.from_settings(settings, question_column=question_column, answer_column=answer_column)
        try:
            report = _run_ingest(ingestor, paths, options, quiet=as_json)
        finally:
            ingestor.index.close()
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_report(report)


def _source_options(tenant: str, market: str, kind: str | None, language: str | None, redact: bool) -> Any:
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


def _run_ingest(ingestor: Any, paths: list[Path], options: Any, *, quiet: bool) -> Any:
    if quiet or not sys.stderr.isatty():
        return ingestor.ingest(paths, options)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[chunks]} chunks"))
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("ingesting", total=None, chunks=0)

        def on_progress(p: Any) -> None:
            bar.update(task, completed=p.files_done, total=p.files_total, chunks=p.chunks_embedded,
                       description=Path(p.current).name[:40] if p.current else "ingesting")

        return ingestor.ingest(paths, options, progress=on_progress)


def _print_report(report: Any) -> None:
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


@app.command()
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
    with _open_index(as_json) as index:
        if mode not in ("hybrid", "dense", "sparse"):
            raise InputError(f"mode must be hybrid, dense or sparse, not {mode!r}")
        hits = index.search(query, tenant=tenant, market=market, language=language, kinds=kind, top_k=top,
                            mode=mode)
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


@app.command()
def documents(
    tenant: TenantOption,
    market: Annotated[str | None, typer.Option("--market", "-m")] = None,
    language: Annotated[str | None, typer.Option()] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    offset: Annotated[str | None, typer.Option(help="Continue a listing from its next_offset.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the documents of a tenant (one page; --offset continues)."""
    with _open_index(as_json) as index:
        page = index.list_documents(tenant, market=market, language=language, kind=kind, limit=limit, offset=offset)
    if as_json:
        print(json.dumps({"documents": [r.payload() for r in page.records], "next_offset": page.next_offset},
                         ensure_ascii=False))
        return
    table = Table(title=f"documents of {tenant}")
    for column in ("document", "title", "kind", "market", "lang", "version", "chunks"):
        table.add_column(column, overflow="fold")
    for r in page.records:
        table.add_row(r.document_id, r.title, r.kind, r.market, r.language, str(r.version), str(r.chunk_count))
    console.print(table)
    if page.next_offset:
        console.print(f"more: --offset {page.next_offset}")


@app.command()
def delete(
    document_id: Annotated[str, typer.Argument(help="The document id, as `polydesk documents` shows it.")],
    tenant: TenantOption,
    as_json: JsonOption = False,
) -> None:
    """Delete a document and all its chunks from the index."""
    from polydesk.errors import NotFoundError

    with _open_index(as_json) as index:
        if not index.delete_document(tenant, document_id):
            raise NotFoundError(f"tenant {tenant} has no document {document_id!r}")
    print(json.dumps({"deleted": document_id}) if as_json else f"deleted {document_id}")


@app.command()
def ask(
    message: Annotated[str | None, typer.Argument(help="The customer's message, in any language.")] = None,
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant (brand).")] = DEMO_TENANT,
    market: Annotated[str, typer.Option("--market", "-m", help="The customer's market (DE, TH, JP, ...).")] = "US",
    channel: Annotated[str, typer.Option("--channel", "-c", help="web, email, whatsapp, messenger, line, telegram."
                                         )] = "web",
    conversation: Annotated[str | None, typer.Option("--conversation", help="Continue this conversation.")] = None,
    language: Annotated[str | None, typer.Option(help="Answer in this language (the customer's choice).")] = None,
    batch: Annotated[Path | None, typer.Option("--batch", help="JSONL file: one request per line; '-' for stdin.",
                                               )] = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a customer message as the agent would, with citations, persona, language and timings.

    With `--batch FILE.jsonl` each line is a request (`message`, `market`, `channel`, optional `conversation_id`,
    `tenant`, `language`, `customer_id`) and each reply object is printed as one JSON line, in order; a bad line
    prints `{"line": N, "error": {...}}` and the rest still runs. The models load once.
    """
    from agent.pipeline import Agent
    from agent.schema import AnswerRequest

    if (message is None) == (batch is None):
        err_console.print("[red]error[/red] \\[invalid_input]: give a message or --batch FILE, not both")
        raise typer.Exit(2)
    settings = _settings()
    with _errors(as_json or batch is not None):
        agent = Agent.open(settings)
        try:
            if batch is not None:
                failed = _ask_batch(agent, batch, tenant=tenant)
                if failed:
                    raise typer.Exit(1)
                return
            request = _validated(AnswerRequest, {"tenant": tenant, "market": market, "channel": channel,
                                                 "message": message, "conversation_id": conversation,
                                                 "language": language})
            reply = agent.answer(request)
        finally:
            agent.close()
    if as_json:
        print(reply.model_dump_json())
    else:
        _print_reply(reply)


def _validated(model: Any, data: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in exc.errors())
        raise InputError(problems) from None


def _ask_batch(agent: Any, path: Path, *, tenant: str) -> int:
    """Answer every line of a JSONL file; returns how many lines failed."""
    from agent.schema import AnswerRequest

    try:
        lines = sys.stdin.readlines() if str(path) == "-" else path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    failed = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise InputError("a line must be a JSON object")
            request = _validated(AnswerRequest, {"tenant": tenant, **data})
            print(agent.answer(request).model_dump_json(), flush=True)
        except json.JSONDecodeError as exc:
            failed += 1
            print(json.dumps({"line": number, "error": {"code": "invalid_input", "message": f"not JSON: {exc}"}}))
        except PolydeskError as exc:
            if not isinstance(exc, InputError) and exc.code != "not_found":
                raise
            failed += 1
            print(json.dumps({"line": number, "error": exc.to_dict()}, ensure_ascii=False), flush=True)
    return failed


def _print_reply(reply: Any) -> None:
    console.print(escape(reply.text) or "[yellow](no reply: a person owns this conversation)[/yellow]")
    console.print()
    meta = Table(show_header=False, box=None)
    meta.add_row("conversation", reply.conversation_id)
    meta.add_row("persona / language", f"{reply.persona_id} / {reply.language}")
    meta.add_row("generator", reply.generator + (f" (fallback: {reply.fallback_reason})" if reply.fallback_reason
                                                 else ""))
    meta.add_row("confidence", f"{reply.confidence:.2f}")
    escalation = reply.escalation
    if escalation.escalate:
        promise = "open now" if escalation.open_now else "queued"
        reply_by = f", reply by {escalation.reply_by:%a %Y-%m-%d %H:%M %Z}" if escalation.reply_by else ""
        meta.add_row("escalation", escape(f"{escalation.reason} → {escalation.queue} ({escalation.priority}), intent "
                                          f"{escalation.intent}; {promise}{reply_by}"
                                          + (f", team {escalation.team}" if escalation.team else "")))
        for line in escalation.explanation:
            meta.add_row("", escape(line))
    elif escalation.intent:
        meta.add_row("intent", escalation.intent)
    for finding in reply.guardrails:
        meta.add_row("guardrail", escape(f"{finding.rule}: {finding.detail} ({finding.action})"))
    for citation in reply.citations:
        meta.add_row("source", escape(f"{citation.document_id} · {citation.title} ({citation.score:.3f})"))
    meta.add_row("timings (ms)", ", ".join(f"{k} {v:.1f}" for k, v in reply.timings_ms.items()))
    console.print(meta)


@app.command()
def release(
    conversation: Annotated[str, typer.Argument(help="The conversation a person has finished with.")],
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant (brand).")] = DEMO_TENANT,
    actor: Annotated[str | None, typer.Option(help="Who releases it, e.g. the human agent's id.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Hand a conversation back to the bot after a human handoff (publishes a `release` event)."""
    from agent.pipeline import Agent

    with _errors(as_json):
        agent = Agent.open(_settings())
        try:
            conversation_state = agent.release(tenant, conversation, actor=actor)
        finally:
            agent.close()
    print(json.dumps({"released": conversation_state.id, "owner": conversation_state.owner}) if as_json
          else f"released {conversation_state.id}: the bot answers it again")


app.add_typer(eval_app, name="eval")

events_app = typer.Typer(help="Handoff and release events for human-agent desks, and their webhook delivery.",
                         no_args_is_help=True)
app.add_typer(events_app, name="events")


@contextmanager
def _redis(as_json: bool) -> Iterator[Any]:
    from polydesk.redisdb import connect_redis

    with _errors(as_json):
        client = connect_redis(_settings())
        try:
            yield client
        finally:
            client.close()


@events_app.command("list")
def events_list(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant's events.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_json: JsonOption = False,
) -> None:
    """The latest handoff and release events on the events stream."""
    from agent.events import EventLog

    with _redis(as_json) as client:
        found = EventLog(client).read(tenant=tenant, count=100_000)[-limit:]
    if as_json:
        print(json.dumps([event.model_dump(mode="json") for _, event in found], ensure_ascii=False))
        return
    table = Table("time", "type", "tenant", "conversation", "queue", "reason", "reply by")
    for _, event in found:
        table.add_row(f"{event.created_at:%Y-%m-%d %H:%M:%S}", event.type, event.tenant, event.conversation_id,
                      event.queue or "", event.reason or "", f"{event.reply_by:%Y-%m-%d %H:%M %Z}" if event.reply_by
                      else "")
    console.print(table)


@events_app.command("deliver")
def events_deliver(
    once: Annotated[bool, typer.Option("--once", help="One delivery pass, then exit.")] = False,
    as_json: JsonOption = False,
) -> None:
    """POST events to `POLYDESK_WEBHOOK_URL` (signed, retried with backoff) until stopped with Ctrl-C."""
    import threading

    from agent.events import WebhookDispatcher

    with _redis(as_json) as client:
        dispatcher = WebhookDispatcher.from_settings(_settings(), client)
        if dispatcher is None:
            raise InputError("set POLYDESK_WEBHOOK_URL to deliver events to a webhook")
        try:
            if once:
                stats = dispatcher.run_once()
                print(json.dumps(dataclasses.asdict(stats)) if as_json else
                      f"delivered {stats.delivered}, failed {stats.failed} (will retry), dead {stats.dead}, "
                      f"waiting {stats.pending}")
                return
            stop = threading.Event()
            console.print(f"delivering events to {escape(dispatcher.url)} (Ctrl-C stops)")
            try:
                dispatcher.run_forever(stop)
            except KeyboardInterrupt:
                stop.set()
        finally:
            dispatcher.close()


@events_app.command("dead")
def events_dead(
    requeue: Annotated[bool, typer.Option("--requeue", help="Put every dead letter back in the retry schedule.")
                       ] = False,
    as_json: JsonOption = False,
) -> None:
    """Events the webhook never accepted (rejected, or retried until they expired), and their last error."""
    from agent.events import WebhookDispatcher

    with _redis(as_json) as client:
        dispatcher = WebhookDispatcher.from_settings(_settings(), client)
        if dispatcher is None:
            raise InputError("set POLYDESK_WEBHOOK_URL: dead letters belong to a webhook")
        try:
            if requeue:
                count = dispatcher.requeue_dead()
                print(json.dumps({"requeued": count}) if as_json else f"requeued {count} events")
                return
            dead = dispatcher.dead_letters()
        finally:
            dispatcher.close()
    if as_json:
        print(json.dumps([{"event": d.event.model_dump(mode="json"), "attempts": d.attempts,
                           "last_error": d.last_error, "dead_at": d.dead_at.isoformat()} for d in dead],
                         ensure_ascii=False))
        return
    table = Table("dead at", "event", "type", "conversation", "attempts", "last error")
    for letter in dead:
        table.add_row(f"{letter.dead_at:%Y-%m-%d %H:%M:%S}", letter.event.id, letter.event.type,
                      letter.event.conversation_id, str(letter.attempts), escape(letter.last_error))
    console.print(table)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes; more than 1 needs a Qdrant server.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP service (API docs at /docs), with the ingestion job worker and the webhook delivery.

    Keys come from `POLYDESK_API_KEYS`; without it, demo keys for tenant `tidewell` (one per role) are
    created once in `DATA_DIR/api-keys.json` (mode 600) and printed the first time.
    """
    import uvicorn

    from api.app import configured_keys

    settings = _settings()
    with _errors(False):
        if workers > 1 and not settings.qdrant_url:
            raise ConfigError("--workers > 1 needs POLYDESK_QDRANT_URL: the embedded Qdrant engine is opened by "
                              "one process at a time")
        keys, created = configured_keys(settings)
    if created is not None:
        console.print(f"API keys created in {created} (shown once):")
        for key in keys:
            console.print(f"  {key.role:<9} {key.key.get_secret_value()}  (tenant {key.tenant})")
    else:
        console.print(f"{len(keys)} API keys loaded for tenants {', '.join(sorted({k.tenant for k in keys}))}")
    uvicorn.run("api.app:serve_app", factory=True, host=host, port=port, workers=workers, log_level=log_level)


inbox_app = typer.Typer(help="Messages kept while Redis or the store was down (POLYDESK_DEGRADED_REPLY).",
                        no_args_is_help=True)
app.add_typer(inbox_app, name="inbox")


@inbox_app.command("list")
def inbox_list(as_json: JsonOption = False) -> None:
    """Show the kept messages."""
    from agent.inbox import Inbox

    entries = Inbox(_settings().inbox_path).pending()
    if as_json:
        print(json.dumps(entries, ensure_ascii=False))
        return
    for entry in entries:
        request: Any = entry["request"]
        console.print(f"{request['tenant']} · {request['market']} · {request['channel']} · "
                      f"{escape(str(request['message']))}")
    console.print(f"{len(entries)} kept")


@inbox_app.command("replay")
def inbox_replay(as_json: JsonOption = False) -> None:
    """Publish each kept message as a handoff event (a person answers it), then empty the inbox."""
    from agent.events import EventLog
    from agent.inbox import Inbox

    with _redis(as_json) as client:
        count = Inbox(_settings().inbox_path).replay(EventLog(client))
    print(json.dumps({"replayed": count}) if as_json else f"{count} messages handed to people as handoff events")


@app.command()
def demo(
    path: Annotated[Path, typer.Option(help="The demo brand folder.")] = DEMO_DIR,
) -> None:
    """Ingest the bundled demo brand (Tidewell) and let the agent answer sample questions in several languages."""
    from agent.pipeline import Agent
    from agent.schema import AnswerRequest
    from ingestion.pipeline import Ingestor
    from ingestion.sources import SourceOptions

    settings = _settings()
    with _errors(False):
        ingestor = Ingestor.from_settings(settings)
        try:
            report = _run_ingest(ingestor, [path / "knowledge"], SourceOptions(tenant=DEMO_TENANT), quiet=False)
            _print_report(report)
        finally:
            ingestor.index.close()
        with Agent.open(settings) as agent:
            for market, channel, message in DEMO_QUESTIONS:
                console.rule(escape(f"{market} · {channel} · {message}"))
                _print_reply(agent.answer(AnswerRequest.model_validate(
                    {"tenant": DEMO_TENANT, "market": market, "channel": channel, "message": message})))


def main() -> None:  # pragma: no cover - console entry
    app()
