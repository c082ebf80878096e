"""Website sync against a real loopback help center: real HTTP, a real Redis, the real index and model."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from urllib.parse import unquote

import pytest
import redis

from ingestion.web import WebSync
from ingestion.web_extract import page_id
from ingestion.web_store import SourceStore, WebSource, make_source
from knowledge.embedder import Embedder
from knowledge.index import KnowledgeIndex
from polydesk.errors import InputError, NotFoundError, UnsafeUrlError
from polydesk.settings import Settings
from tests.ingestion.web_site import CONTENT, HELP_BOX, FakeSite, SitePage, help_center, page_html, second_version

pytestmark = pytest.mark.integration


@pytest.fixture
def store(redis_server: redis.Redis) -> SourceStore:
    redis_server.flushall()
    return SourceStore(redis_server)


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"allow_private_urls": True, "web_rate_per_second": 1000.0})


@pytest.fixture
def web_index(web_settings: Settings, embedder: Embedder) -> Iterator[KnowledgeIndex]:
    opened = KnowledgeIndex.open(web_settings, embedder=embedder)
    yield opened
    opened.close()


@pytest.fixture
def sites() -> Iterator[tuple[FakeSite, FakeSite]]:
    other = FakeSite()
    site = help_center(other)
    yield site, other
    site.close()
    other.close()


def add(store: SourceStore, settings: Settings, site: FakeSite, *, sitemap: bool = False, tenant: str = "tidewell",
        **values: object) -> WebSource:
    return store.add(make_source(settings, tenant=tenant, url=site.url("/"), sitemap=sitemap, **values))  # type: ignore[arg-type]


def statuses(pages: list) -> dict[str, str]:
    return {p.url.split("/", 3)[3]: p.status for p in pages}


@pytest.mark.slow
def test_first_sync_adds_the_allowed_pages_in_their_languages_and_markets(
        store: SourceStore, web_settings: Settings, web_index: KnowledgeIndex,
        sites: tuple[FakeSite, FakeSite]) -> None:
    site, other = sites
    source = add(store, web_settings, site)
    report = WebSync(index=web_index, settings=web_settings, store=store).run(source)

    totals = report.totals()
    assert totals["added"] == 9  # the start page and 8 content pages; not the forbidden, the 500 or the redirect
    assert totals["failed"] == 1 and totals["skipped"] == 2
    by_path = {unquote(p.url.removeprefix(site.base)): p for p in report.pages}
    assert by_path["/es/garantia"].status == "failed" and by_path["/es/garantia"].code == "http_500"
    assert by_path["/moved"].code == "off_host_redirect"
    assert by_path["/private/staff"].code == "robots_disallowed"
    # Never fetched: the path robots.txt forbids, and where the off-host redirect leads.
    assert site.hits["/private/staff"] == 0
    assert sum(other.hits.values()) == 0
    expected = {"/de-de/rueckgabe": ("de", "DE"), "/th/การคืนสินค้า": ("th", "TH"), "/ja/配送": ("ja", "JP"),
                "/id/pengiriman": ("id", "ID"), "/vi/bao-hanh": ("vi", "VN"), "/en/returns": ("en", "*")}
    for path, (language, market) in expected.items():
        record = web_index.get_document("tidewell", page_id(site.url(path)))
        assert record is not None, path
        assert (record.language, record.market, record.source) == (language, market, site.url(path))
    # Main content only: menus, footer and the help box common to every page are left out.
    chunks = web_index.get_chunks("tidewell", page_id(site.url("/en/returns")))
    text = " ".join(c.text for c in chunks)
    assert "30 days" in text
    assert HELP_BOX not in text and "Imprint" not in text and "Sign in" not in text
    # The page's translations are known.
    alternates = json.loads(chunks[0].extra["alternates"])
    assert alternates["de-DE"]["document_id"] == page_id(site.url("/de-de/rueckgabe"))
    assert alternates["th-TH"]["url"] == site.url("/th/การคืนสินค้า")
    assert chunks[0].extra["url"] == site.url("/en/returns")
    hits = web_index.search("คืนสินค้าได้ภายในกี่วัน", tenant="tidewell", market="TH", top_k=3)
    assert hits[0].chunk.document_id == page_id(site.url("/th/การคืนสินค้า"))


@pytest.mark.slow
def test_second_sync_reembeds_only_the_changed_page_and_deletes_the_vanished_one(
        store: SourceStore, web_settings: Settings, web_index: KnowledgeIndex,
        sites: tuple[FakeSite, FakeSite]) -> None:
    site, other = sites
    source = add(store, web_settings, site, sitemap=True)  # pages from the sitemap index
    sync = WebSync(index=web_index, settings=web_settings, store=store)
    first = sync.run(source)
    assert first.totals()["added"] == 8 and first.totals()["failed"] == 1
    assert site.hits["/sitemap-1.xml"] == 1 and site.hits["/sitemap-2.xml"] == 1

    second_version(site)
    second = sync.run(store.get("tidewell", source.id))

    by_path = {unquote(p.url.removeprefix(site.base)): p.status for p in second.pages}
    assert by_path["/en/shipping"] == "replaced"
    assert by_path["/en/old-offer"] == "deleted"
    assert by_path["/es/garantia"] == "added"  # the 500 page, retried
    unchanged = [path for path, status in by_path.items() if status == "unchanged"]
    assert len(unchanged) == 6
    for path in unchanged:  # asked conditionally, answered 304: not even downloaded
        assert site.not_modified[path] == 1, path
    totals = second.totals()
    assert (totals["added"], totals["replaced"], totals["deleted"], totals["failed"]) == (1, 1, 1, 0)
    assert totals["chunks"] == sum(p.chunks for p in second.pages if p.url.endswith(("/en/shipping", "/garantia")))
    assert site.hits["/es/garantia"] == 2 and site.hits["/private/staff"] == 0 and sum(other.hits.values()) == 0
    shipping = web_index.get_document("tidewell", page_id(site.url("/en/shipping")))
    returns = web_index.get_document("tidewell", page_id(site.url("/en/returns")))
    assert shipping is not None and shipping.version == 2
    assert returns is not None and returns.version == 1
    assert web_index.get_document("tidewell", page_id(site.url("/en/old-offer"))) is None
    assert "Saturdays" in " ".join(c.text for c in web_index.get_chunks("tidewell", shipping.document_id))
    assert store.get("tidewell", source.id).last_sync is not None


@pytest.mark.slow
def test_a_failing_page_keeps_its_last_good_version_and_is_fetched_again(
        store: SourceStore, web_settings: Settings, web_index: KnowledgeIndex,
        sites: tuple[FakeSite, FakeSite]) -> None:
    site, _ = sites
    source = add(store, web_settings, site, sitemap=True)
    sync = WebSync(index=web_index, settings=web_settings, store=store)
    sync.run(source)
    site.pages["/en/returns"].status = 503
    failing = sync.run(store.get("tidewell", source.id))
    assert statuses(failing.pages)["en/returns"] == "failed"
    document = page_id(site.url("/en/returns"))
    record = web_index.get_document("tidewell", document)
    assert record is not None and record.version == 1
    hits = web_index.search("return an item within 30 days", tenant="tidewell", market="US", top_k=3)
    assert document in {h.chunk.document_id for h in hits}

    lang, title, _ = CONTENT["/en/returns"]
    site.pages["/en/returns"] = SitePage(page_html(title, ["Returns are free within 60 days."], lang=lang, links=[]))
    again = sync.run(store.get("tidewell", source.id))
    assert statuses(again.pages)["en/returns"] == "replaced"
    assert site.hits["/en/returns"] == 3


@pytest.mark.slow
def test_search_during_a_sync_never_loses_a_document(
        store: SourceStore, web_settings: Settings, web_index: KnowledgeIndex,
        sites: tuple[FakeSite, FakeSite]) -> None:
    site, _ = sites
    source = add(store, web_settings, site, sitemap=True)
    sync = WebSync(index=web_index, settings=web_settings, store=store)
    sync.run(source)
    queries = {"/en/returns": ("return an item for a refund", "US"), "/de-de/rueckgabe": ("Artikel zurückgeben", "DE"),
               "/ja/配送": ("配送は何日かかりますか", "JP"), "/id/pengiriman": ("berapa lama pengiriman", "ID")}
    for path in queries:  # every page changes: the second sync replaces each one while the reader searches
        lang, title, paragraphs = CONTENT[path]
        site.pages[path] = SitePage(page_html(title, [*paragraphs, "Updated."], lang=lang, links=[]))
    missing: list[str] = []
    rounds = 0
    steps = 0
    done, searched = threading.Event(), threading.Event()

    def reader() -> None:
        nonlocal rounds
        while True:
            finished = done.is_set()
            for path, (query, market) in queries.items():
                hits = web_index.search(query, tenant="tidewell", market=market, top_k=10)
                if page_id(site.url(path)) not in {h.chunk.document_id for h in hits}:
                    missing.append(path)
            rounds += 1
            searched.set()
            if finished:
                return

    def step(_: object) -> None:  # after each page fetched or written, the reader searches once more
        nonlocal steps
        steps += 1
        searched.clear()
        searched.wait(30)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        report = sync.run(store.get("tidewell", source.id), progress=step)
    finally:
        done.set()
        thread.join(60)
    assert {unquote(p.url.removeprefix(site.base)) for p in report.pages if p.status == "replaced"} == set(queries)
    assert steps >= 4 and rounds >= steps
    assert missing == []


@pytest.mark.slow
def test_a_sync_stopped_halfway_leaves_the_previous_page_states(
        store: SourceStore, web_settings: Settings, web_index: KnowledgeIndex,
        sites: tuple[FakeSite, FakeSite]) -> None:
    site, _ = sites
    source = add(store, web_settings, site, sitemap=True)
    sync = WebSync(index=web_index, settings=web_settings, store=store)
    sync.run(source)
    before = store.pages("tidewell", source.id)
    second_version(site)
    seen: list[str] = []

    def stop_after_three(progress: object) -> None:
        seen.append(str(progress))
        if len(seen) == 3:
            raise RuntimeError("the worker stopped")

    with pytest.raises(RuntimeError):
        sync.run(store.get("tidewell", source.id), progress=stop_after_three)
    assert store.pages("tidewell", source.id) == before
    report = sync.run(store.get("tidewell", source.id))
    by_path = {unquote(p.url.removeprefix(site.base)): p.status for p in report.pages}
    assert by_path["/en/shipping"] == "replaced" and by_path["/en/old-offer"] == "deleted"


def test_page_limit_and_path_patterns(store: SourceStore, web_settings: Settings, web_index: KnowledgeIndex,
                                      sites: tuple[FakeSite, FakeSite]) -> None:
    site, _ = sites
    source = add(store, web_settings, site, sitemap=True, include=["/en/*", "/de-de/*"], exclude=["/en/old-*"])
    report = WebSync(index=web_index, settings=web_settings, store=store).run(source)
    assert {unquote(p.url.removeprefix(site.base)) for p in report.pages} == {"/en/returns", "/en/shipping", "/de-de/rueckgabe"}
    limited = web_settings.model_copy(update={"web_max_pages": 2})
    other = add(store, limited, site, sitemap=True, tenant="acme")
    capped = WebSync(index=web_index, settings=limited, store=store).run(other)
    assert capped.totals()["added"] == 2 and not capped.complete
    assert site.hits["/en/old-offer"] == 0


def test_sources_are_checked_and_tenant_scoped(store: SourceStore, web_settings: Settings,
                                               sites: tuple[FakeSite, FakeSite]) -> None:
    site, _ = sites
    strict = web_settings.model_copy(update={"allow_private_urls": False})
    with pytest.raises(UnsafeUrlError):
        make_source(strict, tenant="tidewell", url=site.url("/"))
    for url in ("ftp://help.example/", "not a url", "http:///nohost"):
        with pytest.raises(InputError) as caught:
            make_source(web_settings, tenant="tidewell", url=url)
        assert caught.value.code == "invalid_url"
    with pytest.raises(InputError) as schedule:
        make_source(web_settings, tenant="tidewell", url=site.url("/"), every="every tuesday")
    assert schedule.value.code == "invalid_schedule"
    source = add(store, web_settings, site)
    with pytest.raises(NotFoundError) as unknown:
        store.get("acme", source.id)
    assert unknown.value.code == "unknown_source"
    assert store.of_tenant("acme") == [] and [s.id for s in store.of_tenant("tidewell")] == [source.id]


def test_robots_txt_is_followed_through_a_redirect_and_a_broken_one_stops_the_crawl(
        store: SourceStore, web_settings: Settings, web_index: KnowledgeIndex,
        sites: tuple[FakeSite, FakeSite]) -> None:
    site, _ = sites
    site.pages["/robots.txt"] = SitePage("", status=301, location="/rules.txt", etag=False)
    site.pages["/rules.txt"] = SitePage("User-agent: *\nDisallow: /\n", content_type="text/plain")
    source = add(store, web_settings, site)
    report = WebSync(index=web_index, settings=web_settings, store=store).run(source)
    assert [(p.status, p.code) for p in report.pages] == [("skipped", "robots_disallowed")]
    assert site.hits["/rules.txt"] == 1 and site.hits["/"] == 0
    site.pages["/robots.txt"] = SitePage("down", status=503, content_type="text/plain")  # RFC 9309: fetch nothing
    again = WebSync(index=web_index, settings=web_settings, store=store).run(store.get("tidewell", source.id))
    assert [p.code for p in again.pages] == ["robots_disallowed"] and site.hits["/"] == 0
