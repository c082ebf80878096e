"""``polydesk sources``: website sources (a help center, a docs site) synced into the knowledge index.

    polydesk sources add https://help.tidewell.example/ --tenant tidewell --market '*' --sitemap --every 6h
    polydesk sources sync --tenant tidewell --json
    polydesk sources list --tenant tidewell
    polydesk sources remove 5c0f3e9a1b2d4c6e --tenant tidewell

``add`` and ``sync`` run the sync in this process (a progress bar on a terminal) and print its summary; a server's
job worker runs the scheduled ones (``--every``) and those asked for through the API.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli.common import JsonOption, TenantOption, console, err_console, errors, load_settings, open_index, open_redis
from polydesk.errors import ConflictError

if TYPE_CHECKING:
    from ingestion.pipeline import Progress as SyncProgress
    from ingestion.web import SyncReport, WebSync
    from ingestion.web_store import SourceStore, WebSource
    from polydesk.settings import Settings

sources_app = typer.Typer(help="Website sources: sync a help center or docs site into the knowledge index.",
                          no_args_is_help=True)
GlobOption = Annotated[list[str] | None, typer.Option(help="URL path glob (repeatable), e.g. '/help/*'.")]


@sources_app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="The start page (links are followed), or the site or sitemap with "
                                            "--sitemap.")],
    tenant: TenantOption,
    market: Annotated[str, typer.Option("--market", "-m", help="Market for pages whose URL names none, or '*'.")],
    sitemap: Annotated[bool, typer.Option("--sitemap", help="Take the pages from the sitemap.")] = False,
    include: GlobOption = None,
    exclude: GlobOption = None,
    host: Annotated[list[str] | None, typer.Option(help="Another host that may be crawled (repeatable).")] = None,
    every: Annotated[str | None, typer.Option(help="Scheduled syncs by the server's job worker: 30m, 6h, 1d.")
                     ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a website source and run its first sync."""
    from ingestion.web_store import SourceStore, make_source

    settings = load_settings()
    with errors(as_json), open_redis(settings) as client:
        source = make_source(settings, tenant=tenant, url=url, market=market, sitemap=sitemap, include=include,
                             exclude=exclude, hosts=host, every=every)
        store = SourceStore(client)
        store.add(source)
        done = _sync_all(settings, store, [source], quiet=as_json)
    _print(done, as_json)


@sources_app.command("sync")
def sync(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant's sources.")] = None,
    as_json: JsonOption = False,
) -> None:
    """One pass over the sources (a tenant's, or every tenant's): fetch what changed, delete what is gone."""
    from ingestion.web_store import SourceStore

    settings = load_settings()
    with errors(as_json), open_redis(settings) as client:
        store = SourceStore(client)
        done = _sync_all(settings, store, _sources(store, tenant), quiet=as_json)
    _print(done, as_json)


@sources_app.command("list")
def list_sources(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant's sources.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The website sources and their last syncs."""
    from ingestion.web_store import SourceStore

    settings = load_settings()
    with errors(as_json), open_redis(settings) as client:
        sources = _sources(SourceStore(client), tenant)
    if as_json:
        print(json.dumps([s.model_dump(mode="json") for s in sources], ensure_ascii=False))
        return
    table = Table(title="website sources")
    for column in ("id", "tenant", "url", "market", "mode", "every", "last sync"):
        table.add_column(column)
    for s in sources:
        last = (f"{s.last_sync.finished_at:%Y-%m-%d %H:%M} {s.last_sync.status} "
                + ", ".join(f"{k} {v}" for k, v in s.last_sync.totals.items() if v and k != "pages")
                if s.last_sync else "never")
        table.add_row(s.id, s.tenant, s.url, s.market, "sitemap" if s.sitemap else "links",
                      _every(s.every_s), last)
    console.print(table)


@sources_app.command("remove")
def remove(
    source_id: Annotated[str, typer.Argument(help="The source id (see `polydesk sources list`).")],
    tenant: TenantOption,
    keep_documents: Annotated[bool, typer.Option("--keep-documents", help="Keep the pages' documents.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Stop following a website; its pages' documents are deleted too unless --keep-documents."""
    from ingestion.web import remove_source
    from ingestion.web_store import SourceStore

    settings = load_settings()
    with errors(as_json), open_redis(settings) as client, open_index(settings) as index:
        deleted = remove_source(SourceStore(client), index, tenant, source_id, keep_documents=keep_documents)
    if as_json:
        print(json.dumps({"removed": source_id, "documents_deleted": deleted}))
    else:
        console.print(f"removed {source_id}; {deleted} document(s) deleted")


def _every(seconds: int | None) -> str:
    if not seconds:
        return "on demand"
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}m"


def _sources(store: SourceStore, tenant: str | None) -> list[WebSource]:
    """A tenant's sources, or every tenant's."""
    if tenant is not None:
        return store.of_tenant(tenant)
    prefix = store.sources_key("")
    tenants = sorted({k.decode()[len(prefix):] for k in store.client.scan_iter(match=prefix + "*")})
    return [source for name in tenants for source in store.of_tenant(name)]


def _sync_all(settings: Settings, store: SourceStore, sources: list[WebSource], *, quiet: bool
              ) -> list[tuple[WebSource, SyncReport]]:
    """One sync of each source, on the index opened once."""
    from ingestion.web import WebSync

    with open_index(settings) as index:
        syncer = WebSync(index=index, settings=settings, store=store)
        return [(source, _run(syncer, store, source, quiet=quiet)) for source in sources]


def _run(syncer: WebSync, store: SourceStore, source: WebSource, *, quiet: bool) -> SyncReport:
    """One sync under the source's lock (``conflict`` when a server's worker is syncing it), with a progress bar
    on a terminal unless ``quiet``."""
    run_id = "cli-" + uuid.uuid4().hex[:12]
    holder = store.lock(source.tenant, source.id, run_id)
    if holder is not None:
        raise ConflictError(f"a sync of {source.url} is running now (job {holder}); try again when it has finished")
    try:
        if quiet or not sys.stderr.isatty():
            return syncer.run(source)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[chunks]} chunks"))
        with Progress(*columns, console=err_console, transient=True) as bar:
            task = bar.add_task("syncing", total=None, chunks=0)

            def on_progress(p: SyncProgress) -> None:
                bar.update(task, completed=p.files_done, total=p.files_total, chunks=p.chunks_embedded,
                           description=p.current[-40:] if p.current else "syncing")

            return syncer.run(source, progress=on_progress)
    finally:
        store.unlock(source.tenant, source.id, run_id)


def _print(done: list[tuple[WebSource, SyncReport]], as_json: bool) -> None:
    totals: Counter[str] = Counter()
    for _, report in done:
        totals.update(report.totals())
    keys = ("pages", "added", "replaced", "unchanged", "deleted", "failed", "skipped", "chunks")
    summary = {k: totals.get(k, 0) for k in keys}
    if as_json:
        print(json.dumps({"sources": [{"id": s.id, "tenant": s.tenant, "url": s.url, **r.to_dict()}
                                      for s, r in done], "totals": summary}, ensure_ascii=False))
        return
    for source, report in done:
        table = Table(title=f"{source.url} ({source.id})")
        for column in ("page", "status", "market", "language", "chunks", "detail"):
            table.add_column(column)
        for p in report.pages:
            style = {"failed": "red", "skipped": "yellow", "unchanged": "dim"}.get(p.status, "")
            detail = f"[{p.code}] {p.reason}" if p.code else ""
            table.add_row(escape(p.document_id or p.url), p.status, p.market or "", p.language or "",
                          str(p.chunks), escape(detail), style=style)
        console.print(table)
    console.print("pages {pages}: added {added}, replaced {replaced}, unchanged {unchanged}, deleted {deleted}, "
                  "failed {failed}, skipped {skipped}; chunks written {chunks}".format(**summary))
