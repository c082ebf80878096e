"""Console page speed: the documents page over 5,000 documents (50k chunks) and the outcomes page over 30 days of
100,000 recorded conversations, rendered by the real app (server time: in-process ASGI, no network).

The index holds 5,000 documents of 10 chunks each for the benchmarked tenant (16 markets, ten languages, titles
and text from the demo brand's knowledge) plus 1,000 documents of another tenant that the page must not show;
chunk vectors are random unit vectors (the pages read the document catalogue, not vectors). The outcomes are
recorded through the same code a reply, a handoff, a desk reply and a rating go through
(``agent.outcomes``; seeded by ``bench.outcomes.seed``), over the 30 days that end today.

Each page is requested ``--requests`` times after a warm-up, in ``--runs`` runs; the median of the runs' p50 and
p95 is reported, with the targets (documents ≤ 150 ms, outcomes ≤ 500 ms at p95).

    .venv/bin/python -m bench.console [--documents 5000] [--conversations 100000] [--requests 40] [--runs 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.auth import ApiKey
from api.runtime import Runtime
from bench.outcomes import seed
from bench.report import machine, write_result
from bench.search_latency import DIM, MARKETS, _corpus_sentences
from knowledge.index import KnowledgeIndex
from knowledge.schema import Chunk, DocumentRecord
from knowledge.sparse import SparseEncoder
from polydesk.settings import Settings

TENANT, OTHER = "bench-brand", "bench-other"
ADMIN_KEY = "pd_bench_console_admin_key"
LANGUAGES = ["en", "de", "ja", "id", "th", "vi", "zh", "ar", "es", "pt"]
KINDS = ["policy", "faq", "doc"]
CHUNKS_PER_DOCUMENT = 10
TARGETS_MS = {"documents": 150.0, "outcomes": 500.0}


def seed_documents(index: KnowledgeIndex, documents: int, rng: random.Random) -> None:
    """``documents`` documents of ``TENANT`` (and a fifth as many of ``OTHER``), ten chunks each."""
    sentences = _corpus_sentences()
    encoder = SparseEncoder()
    store = index.store
    plan = [(TENANT, i) for i in range(documents)] + [(OTHER, i) for i in range(documents // 5)]
    batch: list[Chunk] = []
    for tenant, number in plan:
        market, language = MARKETS[number % len(MARKETS)], LANGUAGES[number % len(LANGUAGES)]
        kind = KINDS[number % len(KINDS)]
        document_id = f"{kind}/{market}/{language}/document-{number:05d}.md"
        title = rng.choice(sentences)[:80]
        for position in range(CHUNKS_PER_DOCUMENT):
            batch.append(Chunk(tenant=tenant, document_id=document_id, version=1, position=position,
                               text=" ".join(rng.sample(sentences, 3)), market=market, language=language, kind=kind,
                               source=f"upload:{document_id}", title=title))
        store.put_document(DocumentRecord(tenant=tenant, document_id=document_id, version=1, title=title,
                                          source=f"upload:{document_id}", kind=kind, market=market,
                                          language=language, source_hash=f"{number}",
                                          chunk_count=CHUNKS_PER_DOCUMENT))
        if len(batch) >= 500:
            _flush(store, encoder, batch)
            batch = []
    if batch:
        _flush(store, encoder, batch)


def _flush(store: object, encoder: SparseEncoder, batch: list[Chunk]) -> None:
    vectors = np.random.default_rng(len(batch)).standard_normal((len(batch), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.upsert_chunks(batch, vectors.tolist(), encoder.encode_documents([c.text for c in batch]))  # type: ignore[attr-defined]


def sign_in(client: TestClient) -> str:
    page = client.get("/console/login")
    token = page.text.split('name="login_token" value="', 1)[1].split('"', 1)[0]
    response = client.post("/console/login", data={"key": ADMIN_KEY, "login_token": token},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.cookies["polydesk_console"]


def timed(request: Callable[[], int], count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        status = request()
        latencies.append((time.perf_counter() - started) * 1000)
        assert status == 200, status
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), rate_limit_per_minute=1_000_000,  # type: ignore[call-arg]
                            rate_limit_burst=1_000_000, _env_file=None)
        index = KnowledgeIndex.open(settings)
        started = time.perf_counter()
        seed_documents(index, args.documents, rng)
        documents_s = time.perf_counter() - started
        runtime = Runtime.open(settings, index=index)
        started = time.perf_counter()
        seed(runtime.redis, settings, TENANT, conversations=args.conversations, today=datetime.now(UTC).date(),
             embedder=index.embedder)
        outcomes_s = time.perf_counter() - started
        keys = [ApiKey(key=SecretStr(ADMIN_KEY), tenant=TENANT, role="admin")]
        today = datetime.now(UTC).date()
        start = today - timedelta(days=29)
        pages = {
            "documents": "/console/knowledge",
            "documents_filtered": "/console/knowledge?market=TH&language=th&kind=policy",
            "documents_search": "/console/knowledge?q=document-0421",
            "outcomes": f"/console/outcomes?from={start.isoformat()}&to={today.isoformat()}",
            "outcomes_one_market": f"/console/outcomes?from={start.isoformat()}&to={today.isoformat()}&market=DE",
        }
        results: dict[str, dict[str, object]] = {}
        with TestClient(create_app(settings, runtime=runtime, keys=keys, background=False)) as client:
            session = sign_in(client)
            client.cookies.clear()
            headers = {"Cookie": f"polydesk_console={session}"}
            first = client.get(pages["documents"], headers=headers).text
            assert first.count('<tr class="document"') == 50, "the documents page does not list a full page"
            assert 'data-market="DE"' in client.get(pages["outcomes"], headers=headers).text
            for name, url in pages.items():
                def request(url: str = url) -> int:
                    return client.get(url, headers=headers).status_code
                timed(request, 5)  # warm-up
                runs = []
                for _ in range(args.runs):
                    latencies = timed(request, args.requests)
                    runs.append((statistics.median(latencies), float(np.percentile(latencies, 95))))
                results[name] = {"p50_ms": round(statistics.median(r[0] for r in runs), 1),
                                 "p95_ms": round(statistics.median(r[1] for r in runs), 1),
                                 "per_run": [[round(a, 1), round(b, 1)] for a, b in runs]}
        runtime.close()
        index.close()
    result = {"documents": args.documents, "chunks": args.documents * CHUNKS_PER_DOCUMENT,
              "conversations": args.conversations, "requests_per_run": args.requests, "runs": args.runs,
              "seed_documents_s": round(documents_s, 1), "seed_outcomes_s": round(outcomes_s, 1),
              "pages": results, "targets_p95_ms": TARGETS_MS, "machine": machine()}
    write_result("console", result)
    print(f"{args.documents} documents ({args.documents * CHUNKS_PER_DOCUMENT} chunks), {args.conversations} "
          f"recorded conversations over 30 days; server time, median of {args.runs} runs x {args.requests}:")
    for name, numbers in results.items():
        target = TARGETS_MS["documents" if name.startswith("documents") else "outcomes"]
        print(f"  {name:22s} p50 {numbers['p50_ms']:7.1f} ms   p95 {numbers['p95_ms']:7.1f} ms   "
              f"(target p95 <= {target:.0f} ms)")


if __name__ == "__main__":
    main()
