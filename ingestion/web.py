"""Website sources: sync a help center or docs site into the knowledge base, and keep it current.

One sync of a source, top to bottom:

1. discover: the start page and the pages it links to (same host, or a host the source allows), or the URLs of
   the sitemap (sitemap index files too); ``include``/``exclude`` globs on the path, robots.txt, the page limit;
2. fetch each page (``web_fetch``): conditional when the last sync saw an ``ETag`` or ``Last-Modified`` (304 →
   unchanged), at the host's polite rate; a redirect off the site is never followed;
3. extract the main content (``web_extract``) and leave out the blocks common to the source's pages;
4. ingest each new or changed page through the ``Ingestor``'s own steps (the HTML parser of uploads, chunking,
   redaction, language detection per chunk, instruction flags) and write it as a new version of its document
   (``KnowledgeIndex.write_document``: a search during the sync sees the old version or the new one, never none).
   Same content → ``unchanged``, nothing embedded. Each chunk carries the page ``url`` and its ``alternates``
   (``hreflang`` → URL and document id) in ``extra``: a page's translations are known;
5. delete the documents of pages that are gone (404/410, or no longer found once discovery was complete); a page
   that fails (5xx, timeout) is reported ``failed``, keeps its last good version and is fetched again next sync;
6. save the page states in one transaction (``web_store``).

Example:
    >>> sync = WebSync(index=index, settings=settings, store=SourceStore(client))           # doctest: +SKIP
    >>> report = sync.run(store.get("tidewell", source_id))                                # doctest: +SKIP
    >>> report.totals()                                                                    # doctest: +SKIP
    {'pages': 7, 'added': 5, 'replaced': 0, 'unchanged': 0, 'deleted': 0, 'failed': 1, 'skipped': 1, 'chunks': 9}
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from ingestion.pipeline import PREPARE_AHEAD, FileResult, Ingestor, Prepared, Progress
from ingestion.sources import SourceFile, SourceOptions
from ingestion.web_extract import Extracted, boilerplate, decode_page, extract, market_of, page_id, render
from ingestion.web_fetch import Fetch, SiteFetcher, host_of, read_sitemap
from ingestion.web_store import PageState, SourceStore, SyncSummary, WebSource, dumps, now_utc
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings

PageStatus = Literal["added", "replaced", "unchanged", "deleted", "failed", "skipped"]
ProgressCallback = Callable[[Progress], None]
_NOT_PAGES = (".pdf", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".css", ".js", ".zip", ".gz", ".mp4",
              ".mp3", ".ico", ".woff", ".woff2", ".xml", ".json")
_MAX_SITEMAPS = 50
_MAX_LINKS_KEPT = 500


@dataclass(slots=True)
class PageResult:
    """What became of one page in a sync."""

    url: str
    document_id: str | None
    status: PageStatus
    chunks: int = 0
    market: str | None = None
    language: str | None = None
    code: str | None = None
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SyncReport:
    source_id: str
    pages: list[PageResult]
    seconds: float
    complete: bool  # discovery saw the whole site: pages not found were deleted
    requests: int

    def totals(self) -> dict[str, int]:
        counts = Counter(p.status for p in self.pages)
        return {"pages": len(self.pages),
                **{s: counts.get(s, 0) for s in ("added", "replaced", "unchanged", "deleted", "failed", "skipped")},
                "chunks": sum(p.chunks for p in self.pages if p.status in ("added", "replaced"))}

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source_id, "totals": self.totals(), "complete": self.complete,
                "requests": self.requests, "seconds": round(self.seconds, 3), "pages": [asdict(p) for p in self.pages]}


@dataclass(slots=True)
class _Crawl:
    """The state of one sync while it runs."""

    source: WebSource
    previous: dict[str, PageState]
    fetcher: SiteFetcher
    results: dict[str, PageResult] = field(default_factory=dict)
    states: dict[str, PageState] = field(default_factory=dict)
    fetched: list[tuple[Fetch, Extracted]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    complete: bool = True
    embedded: int = 0


class WebSync:
    """Runs syncs of website sources into the index (see the module docstring)."""

    def __init__(self, *, index: KnowledgeIndex, settings: Settings, store: SourceStore,
                 ingestor: Ingestor | None = None) -> None:
        self.index, self.settings, self.store = index, settings, store
        self.ingestor = ingestor or Ingestor(index=index, settings=settings)

    def run(self, source: WebSource, *, progress: ProgressCallback | None = None,
            job_id: str | None = None) -> SyncReport:
        started = time.perf_counter()
        hosts = {host_of(source.url), *(h.lower() for h in source.hosts)}
        with SiteFetcher(self.settings, hosts=hosts) as fetcher:
            crawl = _Crawl(source, self.store.pages(source.tenant, source.id), fetcher)
            report = (lambda current: progress(Progress(len(crawl.results), max(len(crawl.seen), 1),
                                                        crawl.embedded, current))) if progress else None
            self._discover(crawl, report)
            requests = fetcher.requests
        common = self._common(crawl)
        self._ingest(crawl, common, report)
        self._forget_missing(crawl)
        pages = list(crawl.results.values())
        sync = SyncReport(source.id, pages, time.perf_counter() - started, crawl.complete, requests)
        summary = SyncSummary(job_id=job_id, finished_at=now_utc(), status=sync_status(sync), totals=sync.totals())
        self.store.save_sync(source, crawl.states, common, summary)
        return sync

    # -- 1-2: discover and fetch -----------------------------------------------------------------------------

    def _discover(self, crawl: _Crawl, report: Callable[[str], None] | None) -> None:
        source, fetcher = crawl.source, crawl.fetcher
        queue = deque(self._seeds(crawl))
        crawl.seen.update(queue)
        fetches = 0
        while queue:
            url = queue.popleft()
            if not self._wanted(url, source, fetcher):
                continue
            if not fetcher.allowed(url):
                self._skip(crawl, url, "robots_disallowed", "robots.txt forbids this path; it is not fetched")
                continue
            if fetches >= self.settings.web_max_pages:
                crawl.complete = False  # the page limit: pages not reached are kept, not deleted
                continue
            fetches += 1
            links = self._fetch(crawl, url)
            if not source.sitemap:
                for link in links:
                    if link not in crawl.seen:
                        crawl.seen.add(link)
                        queue.append(link)
            if report is not None:
                report(url)

    def _seeds(self, crawl: _Crawl) -> list[str]:
        source, fetcher = crawl.source, crawl.fetcher
        if not source.sitemap:
            return [source.url]
        parts = urlsplit(source.url)
        if parts.path.endswith((".xml", ".xml.gz")):
            maps = [source.url]
        else:
            maps = fetcher.sitemaps(source.url) or [f"{parts.scheme}://{parts.netloc}/sitemap.xml"]
        pages: list[str] = []
        done: set[str] = set()
        while maps and len(done) < _MAX_SITEMAPS:
            sitemap = maps.pop(0)
            if sitemap in done or not fetcher.on_site(sitemap) or not fetcher.allowed(sitemap):
                continue
            done.add(sitemap)
            got = fetcher.page(sitemap, html_only=False)
            try:
                if got.outcome != "ok":
                    raise ValueError(got.reason or got.outcome)
                urls, children = read_sitemap(got.body, max_bytes=fetcher.policy.max_bytes)
            except ValueError:
                crawl.complete = False  # a sitemap missing: pages not listed are kept, not deleted
                continue
            pages.extend(u for u in urls if u not in pages)
            maps.extend(children)
        return pages

    @staticmethod
    def _wanted(url: str, source: WebSource, fetcher: SiteFetcher) -> bool:
        if not fetcher.on_site(url):
            return False
        path = unquote(urlsplit(url).path)
        if path.lower().endswith(_NOT_PAGES):
            return False
        if source.include and not any(fnmatch(path, glob) for glob in source.include):
            return False
        return not any(fnmatch(path, glob) for glob in source.exclude)

    def _fetch(self, crawl: _Crawl, url: str) -> list[str]:
        """Fetch one page and record what became of it; the on-site pages it links to."""
        previous = crawl.previous.get(url)
        got = crawl.fetcher.page(url, etag=previous.etag if previous else None,
                                 last_modified=previous.last_modified if previous else None)
        if got.outcome == "ok":
            page = extract(decode_page(got.body, got.content_type), url)
            links = [link for link in page.links if crawl.fetcher.on_site(link)][:_MAX_LINKS_KEPT]
            if page.noindex:
                self._skip(crawl, url, "noindex", "the page asks not to be indexed (meta robots noindex)")
                return links
            page.links = links
            crawl.fetched.append((got, page))
            return links
        if got.outcome == "not_modified" and previous is not None:
            crawl.states[url] = previous.model_copy(update={"status": "indexed", "failures": 0})
            crawl.results[url] = PageResult(url, previous.document_id, "unchanged", reason="304 Not Modified")
            return previous.links
        if got.outcome == "failed":
            if not crawl.source.sitemap:
                crawl.complete = False  # its links are unknown this time
            state = previous or PageState(url=url, document_id=page_id(url), status="failed")
            crawl.states[url] = state.model_copy(update={"status": "failed", "failures": state.failures + 1})
            crawl.results[url] = PageResult(url, state.document_id, "failed", code=got.code, reason=got.reason)
            return previous.links if previous is not None else []
        if got.outcome == "gone":
            self._skip(crawl, url, got.code or "gone", got.reason or "the page is gone")
            return []
        self._skip(crawl, url, got.code or "skipped", got.reason or "not a page that can be indexed")
        return []

    def _skip(self, crawl: _Crawl, url: str, code: str, reason: str) -> None:
        """A page not indexed this time; a document it had before is deleted (it moved away, is gone or refused)."""
        previous = crawl.previous.get(url)
        if previous is not None and self.index.delete_document(crawl.source.tenant, previous.document_id):
            crawl.results[url] = PageResult(url, previous.document_id, "deleted", code=code, reason=reason)
        else:
            crawl.results[url] = PageResult(url, None, "skipped", code=code, reason=reason)

    # -- 3-4: content and ingestion --------------------------------------------------------------------------

    def _common(self, crawl: _Crawl) -> set[str]:
        """Blocks common to the source's pages: from this sync's pages when it fetched enough of them, else the
        ones the last sync found (a re-sync where most pages answered 304)."""
        pages = [page for _, page in crawl.fetched]
        if len(pages) >= 3 and len(pages) * 2 >= len(crawl.previous):
            return boilerplate(pages)
        return self.store.common(crawl.source.tenant, crawl.source.id)

    def _ingest(self, crawl: _Crawl, common: set[str], report: Callable[[str], None] | None) -> None:
        pending: list[tuple[Fetch, Prepared]] = []
        # Pages are prepared (parsed, chunked) a few ahead in a worker thread: the embedder releases the GIL.
        with tempfile.TemporaryDirectory(prefix="polydesk-web-") as folder, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="polydesk-web-prepare") as pool:
            ahead: deque[tuple[Fetch, Future[Prepared | None]]] = deque()
            for position, (got, page) in enumerate(crawl.fetched):
                file = Path(folder) / f"{position}.html"
                ahead.append((got, pool.submit(self._prepare, crawl, got, page, common, file)))
                while ahead and (len(ahead) > PREPARE_AHEAD or position == len(crawl.fetched) - 1):
                    fetched, future = ahead.popleft()
                    prepared = future.result()
                    if prepared is not None:
                        pending.append((fetched, prepared))
                    if sum(len(p.chunks) for _, p in pending) >= self.ingestor.group_chunks:
                        self._write(crawl, pending, report)
            self._write(crawl, pending, report)

    def _prepare(self, crawl: _Crawl, got: Fetch, page: Extracted, common: set[str], file: Path) -> Prepared | None:
        source, url = crawl.source, got.url
        document_id = page_id(url)
        html = render(page, common)
        if not html:
            self._skip(crawl, url, "empty_page", "no main content once menus and common blocks are left out")
            return None
        own = next((lang for lang, href in page.alternates.items() if href == url), None)
        market = market_of(url, source.market, hreflang=own)
        file.write_text(html, encoding="utf-8")
        options = SourceOptions(tenant=source.tenant, market=market, kind=source.kind, source_prefix="")
        # The Ingestor's own per-file steps (type check, fingerprint, parse, chunk, redact, detect, flag).
        outcome = self.ingestor.prepare(SourceFile(path=file, document_id=document_id, options=options))
        state = PageState(url=url, document_id=document_id, etag=got.etag, last_modified=got.last_modified,
                          links=page.links)
        if isinstance(outcome, FileResult):
            if outcome.status == "unchanged":
                crawl.states[url] = state.model_copy(update={"content_hash": _hash_of(crawl, url)})
                crawl.results[url] = PageResult(url, document_id, "unchanged", outcome.chunks, market,
                                                reason="same content")
            else:
                self._skip(crawl, url, outcome.code or "skipped", outcome.reason or "the page could not be read")
            return None
        alternates = {lang: {"url": href, "document_id": page_id(href)} for lang, href in page.alternates.items()}
        extra = {"url": url, "alternates": dumps(alternates)} if alternates else {"url": url}
        outcome.chunks = [c.model_copy(update={"extra": {**c.extra, **extra}}) for c in outcome.chunks]
        outcome.record = outcome.record.model_copy(update={"source": url})
        crawl.states[url] = state.model_copy(update={"content_hash": outcome.record.source_hash})
        return outcome

    def _write(self, crawl: _Crawl, pending: list[tuple[Fetch, Prepared]],
               report: Callable[[str], None] | None) -> None:
        written = self.ingestor.write([prepared for _, prepared in pending])
        for (got, _), prepared in zip(pending, written, strict=True):
            crawl.embedded += len(prepared.chunks)
            result = prepared.result
            crawl.results[got.url] = PageResult(got.url, result.document_id, result.status, result.chunks,
                                                prepared.record.market, prepared.record.language,
                                                warnings=list(result.warnings))
            if report is not None:
                report(got.url)
        pending.clear()

    # -- 5: pages no longer there ----------------------------------------------------------------------------

    def _forget_missing(self, crawl: _Crawl) -> None:
        for url, previous in crawl.previous.items():
            if url in crawl.results or url in crawl.states:
                continue
            if not crawl.complete:
                crawl.states[url] = previous  # not reached this time: kept as it was
                continue
            deleted = self.index.delete_document(crawl.source.tenant, previous.document_id)
            crawl.results[url] = PageResult(url, previous.document_id, "deleted" if deleted else "skipped",
                                            code="not_found", reason="no longer linked from the site" if
                                            not crawl.source.sitemap else "no longer in the sitemap")


def _hash_of(crawl: _Crawl, url: str) -> str | None:
    previous = crawl.previous.get(url)
    return previous.content_hash if previous is not None else None


def sync_status(report: SyncReport) -> str:
    """``done`` (no page failed: pages skipped by rule, such as robots.txt or an off-site redirect, are listed
    but expected), ``partial`` (some pages failed and are retried next sync) or ``failed`` (no page could be
    synced)."""
    totals = report.totals()
    good = totals["added"] + totals["replaced"] + totals["unchanged"] + totals["deleted"]
    if not good and (totals["failed"] or totals["skipped"]):
        return "failed"
    return "partial" if totals["failed"] else "done"


def remove_source(store: SourceStore, index: KnowledgeIndex, tenant: str, source_id: str, *,
                  keep_documents: bool = False) -> int:
    """Forget a website source; its pages' documents are deleted too unless ``keep_documents``. How many were."""
    pages = store.pages(tenant, source_id)
    store.remove(tenant, source_id)
    if keep_documents:
        return 0
    return sum(index.delete_document(tenant, page.document_id) for page in pages.values())
