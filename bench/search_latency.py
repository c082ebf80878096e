"""Filtered hybrid search latency on an index of 50k chunks (embedded Qdrant engine).

The index holds 50,000 chunks over 5 tenants and 16 markets, with 384-d unit
vectors (the size of multilingual-e5-small) and real lexical vectors built
from the demo brand's multilingual text. Query embedding is timed apart (it
is the embedder's cost, not the store's): the latency measured here is
``KnowledgeIndex`` search from query vectors to live hits, i.e. the fused
dense + sparse query with tenant and market filters plus the catalogue
check that hides replaced versions. Each ``--search-threads`` value (the engine's search pool,
``POLYDESK_SEARCH_THREADS``; 0: one thread per CPU) is measured on the same index, with the CPU a search
costs the process (the pool's threads included).

    .venv/bin/python -m bench.search_latency [--chunks 50000] [--queries 300] [--runs 3] [--search-threads 1 0]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.report import machine, write_result
from knowledge.index import KnowledgeIndex
from knowledge.qdrant_edge import EdgeStore
from knowledge.schema import Chunk, ChunkFilter, DocumentRecord, StoreQuery
from knowledge.sparse import SparseEncoder

MARKETS = ["US", "UK", "DE", "FR", "ES", "MX", "BR", "ID", "TH", "VN", "MY", "SG", "JP", "TW", "SA", "AE"]
DIM = 384
CHUNKS_PER_DOCUMENT = 20


def _corpus_sentences() -> list[str]:
    root = Path(__file__).resolve().parents[1] / "demo" / "tidewell" / "knowledge"
    sentences: list[str] = []
    for path in sorted(root.rglob("*")):
        if path.suffix in {".md", ".txt", ".html", ".csv", ".jsonl"}:
            sentences.extend(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if len(line) > 20)
    return sentences or ["Free shipping from 50 euros with DHL", "ส่งฟรีเมื่อซื้อครบ ฿1,000"]


def build(store: EdgeStore, n_chunks: int, rng: random.Random) -> None:
    sentences = _corpus_sentences()
    encoder = SparseEncoder()
    vectors = np.random.default_rng(7).standard_normal((n_chunks, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    batch: list[Chunk] = []
    for i in range(n_chunks):
        document = i // CHUNKS_PER_DOCUMENT
        tenant, market = f"tenant-{document % 5}", MARKETS[document % len(MARKETS)]
        text = " ".join(rng.sample(sentences, 3)) + f" TW-{i:05d}"
        batch.append(Chunk(tenant=tenant, document_id=f"doc-{document}", version=1, position=i % CHUNKS_PER_DOCUMENT,
                           text=text, market=market, language="en", kind="doc", source=f"doc-{document}"))
        if (i + 1) % CHUNKS_PER_DOCUMENT == 0:
            store.put_document(DocumentRecord(tenant=tenant, document_id=f"doc-{document}", version=1, source="bench",
                                              kind="doc", market=market, language="en", source_hash="x",
                                              chunk_count=CHUNKS_PER_DOCUMENT))
        if len(batch) == 256 or i == n_chunks - 1:
            start = i + 1 - len(batch)
            store.upsert_chunks(batch, vectors[start : i + 1].tolist(), encoder.encode_documents([c.text for c in batch]))
            batch = []


def measure(index: KnowledgeIndex, n_queries: int, rng: random.Random) -> tuple[list[float], float]:
    """Each search's latency (ms), and the process CPU per search (ms)."""
    sentences = _corpus_sentences()
    query_vectors = np.random.default_rng(11).standard_normal((n_queries, DIM)).astype(np.float32)
    query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)
    latencies = []
    cpu = 0.0
    for i in range(n_queries):
        words = rng.choice(sentences).split()[:6]
        flt = ChunkFilter(tenant=f"tenant-{i % 5}", markets=(rng.choice(MARKETS), "*"))
        query = StoreQuery(filter=flt, limit=5, dense=query_vectors[i].tolist(),
                           sparse=index.sparse.encode_query(" ".join(words)), rrf_k=index.rrf_k)
        started, cpu_started = time.perf_counter(), time.process_time()
        index._search_live([query])
        latencies.append((time.perf_counter() - started) * 1000)
        cpu += time.process_time() - cpu_started
    return latencies, cpu / n_queries * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--search-threads", type=int, nargs="+", default=[1, 0],
                        help="the engine's search pool sizes to measure (0: one thread per CPU)")
    args = parser.parse_args()
    rng = random.Random(3)
    measured = {}
    with tempfile.TemporaryDirectory() as folder:
        store = EdgeStore(path=Path(folder), dim=DIM)
        started = time.perf_counter()
        build(store, args.chunks, rng)
        build_seconds = time.perf_counter() - started
        store.close()
        for threads in args.search_threads:
            store = EdgeStore(path=Path(folder), dim=DIM, search_threads=threads)
            index = KnowledgeIndex(store=store, embedder=None)  # type: ignore[arg-type]  # vectors are given
            measure(index, 50, rng)  # warm-up
            runs = [measure(index, args.queries, rng) for _ in range(args.runs)]
            store.close()
            measured[threads] = {
                "p50_ms": round(statistics.median(statistics.median(lat) for lat, _ in runs), 2),
                "p95_ms": round(statistics.median(float(np.percentile(lat, 95)) for lat, _ in runs), 2),
                "cpu_ms_per_search": round(statistics.median(cpu for _, cpu in runs), 2),
                "per_run": [[round(statistics.median(lat), 2), round(float(np.percentile(lat, 95)), 2),
                             round(cpu, 2)] for lat, cpu in runs]}
    result = {"chunks": args.chunks, "queries_per_run": args.queries, "runs": args.runs,
              "build_seconds": round(build_seconds, 1), "by_search_threads": measured, "machine": machine()}
    write_result("search_latency", result)
    print(f"filtered hybrid search over {args.chunks} chunks (median of {args.runs} runs x {args.queries} queries; "
          f"build {build_seconds:.1f} s):")
    for threads, row in measured.items():
        print(f"  search threads {threads or 'one per CPU'}: p50 {row['p50_ms']:.2f} ms, p95 {row['p95_ms']:.2f} ms, "
              f"{row['cpu_ms_per_search']:.2f} CPU-ms a search")


if __name__ == "__main__":
    main()
