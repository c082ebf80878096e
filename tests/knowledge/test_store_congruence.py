"""Congruence of the knowledge-store backends: EdgeStore (embedded engine), ServerStore (qdrant-client),
RemoteStore (the embedded engine of another process, through ``knowledge.store_host``) and ReplicaStore (a
worker's own copy of that engine's store, ``knowledge.replica``).

All four get the same ~200 chunks (two tenants, several markets, languages and kinds,
seeded random vectors). Every search is checked against an exact oracle computed
with numpy (cosine, BM25-style IDF within the tenant, RRF), and the backends
against each other. Every search also checks tenant isolation.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from knowledge.qdrant_edge import EdgeStore
from knowledge.qdrant_server import ServerStore
from knowledge.replica import ReplicaStore
from knowledge.schema import KINDS, Chunk, ChunkFilter, DocumentRecord, ScoredChunk, SparseVector, StoreQuery
from knowledge.store import KnowledgeStore
from knowledge.store_host import RemoteStore, StoreHost
from polydesk.errors import ConfigError, InputError, StoreError

pytestmark = pytest.mark.integration

DIM = 32
TENANTS = ("tidewell", "northwind")
MARKETS = ("DE", "FR", "*")
LANGUAGES = ("de", "fr", "en")
VOCABULARY = 400
# remote: the edge store used through a StoreHost; replica: read from a copy, written through the StoreHost, as
# serve's workers do
BACKENDS = ("edge", "server", "remote", "replica")


@dataclass
class Corpus:
    chunks: list[Chunk]
    dense: np.ndarray
    sparse: list[SparseVector]

    def upsert_into(self, store: KnowledgeStore) -> None:
        order = np.random.default_rng(1).permutation(len(self.chunks))  # shuffled, so ordering is the store's job
        store.upsert_chunks([self.chunks[i] for i in order], [self.dense[i].tolist() for i in order],
                            [self.sparse[i] for i in order])


def make_corpus(seed: int = 7) -> Corpus:
    rng = np.random.default_rng(seed)
    chunks: list[Chunk] = []
    for tenant in TENANTS:
        for number in range(10):
            # Document 0 exists under the same id in both tenants: isolation must hold for it.
            document_id = "policies/returns.md" if number == 0 else f"{tenant}/doc-{number}.md"
            versions = (1, 2) if number % 3 == 0 else (1,)
            for version in versions:
                for position in range(int(rng.integers(6, 11))):
                    chunks.append(Chunk(
                        tenant=tenant, document_id=document_id, version=version, position=position,
                        text=f"{tenant} {document_id} v{version} #{position}", market=MARKETS[number % 3],
                        language=LANGUAGES[(number // 3) % 3], kind=KINDS[number % 4], source=document_id))
    dense = rng.normal(size=(len(chunks), DIM)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    zipf = 1.0 / np.arange(1, VOCABULARY + 1)
    sparse = []
    for _ in chunks:
        terms = rng.choice(VOCABULARY, size=int(rng.integers(3, 13)), replace=False, p=zipf / zipf.sum())
        sparse.append(SparseVector(sorted(int(t) for t in terms), rng.uniform(0.2, 2.0, size=len(terms)).tolist()))
    return Corpus(chunks, dense, sparse)


CORPUS = make_corpus()


class HostedStore(RemoteStore):
    """An edge store served by a ``StoreHost`` (here, in this process) and used through its socket."""

    def __init__(self, path: Path) -> None:
        self.edge = EdgeStore(path=path, dim=DIM)
        self.host = StoreHost(self.edge)
        super().__init__(self.host.path, dim=DIM)

    def close(self) -> None:
        super().close()
        self.host.close()
        self.edge.close()


class ReplicatedStore(ReplicaStore):
    """An edge store served by a ``StoreHost`` that offers copies, read from this store's own copy."""

    def __init__(self, path: Path) -> None:
        self.edge = EdgeStore(path=path / "owner", dim=DIM)
        self.host = StoreHost(self.edge, replicas=path / "replicas")
        super().__init__(RemoteStore(self.host.path, dim=DIM), path / "replicas" / "worker")

    def close(self) -> None:
        super().close()
        self.host.close()
        self.edge.close()


def open_store(backend: str, path: Path) -> KnowledgeStore:
    if backend == "remote":
        return HostedStore(path)
    if backend == "replica":
        return ReplicatedStore(path)
    return EdgeStore(path=path, dim=DIM) if backend == "edge" else ServerStore(url=":memory:", dim=DIM)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, KnowledgeStore]]:
    stores = {backend: open_store(backend, tmp_path_factory.mktemp(backend)) for backend in BACKENDS}
    for store in stores.values():
        CORPUS.upsert_into(store)
    yield stores
    for store in stores.values():
        store.close()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KnowledgeStore]:
    opened = open_store(request.param, tmp_path)
    yield opened
    opened.close()


# -- the oracle ---------------------------------------------------------------


def matches(chunk: Chunk, flt: ChunkFilter) -> bool:
    def allowed(value: str, options: tuple[str, ...] | None, norm: Callable[[str], str] = str) -> bool:
        return options is None or value in {norm(option) for option in options}

    return (chunk.tenant == flt.tenant and allowed(chunk.market, flt.markets, str.upper)
            and allowed(chunk.language, flt.languages, str.lower) and allowed(chunk.kind, flt.kinds)
            and allowed(chunk.document_id, flt.document_ids))


def dense_ranking(query: list[float], flt: ChunkFilter) -> list[tuple[str, float]]:
    unit = np.asarray(query) / np.linalg.norm(query)
    scored = [(c.point_id, float(CORPUS.dense[i] @ unit)) for i, c in enumerate(CORPUS.chunks) if matches(c, flt)]
    return sorted(scored, key=lambda hit: -hit[1])


def sparse_ranking(query: SparseVector, flt: ChunkFilter) -> list[tuple[str, float]]:
    """BM25-style IDF, ln((n - df + 0.5) / (df + 0.5) + 1), counted over the tenant's chunks only."""
    corpus = [i for i, c in enumerate(CORPUS.chunks) if c.tenant == flt.tenant]
    df = {term: sum(term in CORPUS.sparse[i].indices for i in corpus) for term in query.indices}
    weight = {t: v * math.log((len(corpus) - df[t] + 0.5) / (df[t] + 0.5) + 1) for t, v in _terms(query).items()}
    scored = []
    for i, chunk in enumerate(CORPUS.chunks):
        shared = [(t, v) for t, v in _terms(CORPUS.sparse[i]).items() if t in weight]
        if shared and matches(chunk, flt):
            scored.append((chunk.point_id, sum(weight[t] * v for t, v in shared)))
    return sorted(scored, key=lambda hit: -hit[1])


def _terms(vector: SparseVector) -> dict[int, float]:
    return dict(zip(vector.indices, vector.values, strict=True))


def rrf_ranking(query: StoreQuery) -> list[tuple[str, float]]:
    assert query.dense is not None and query.sparse is not None
    fused: dict[str, float] = {}
    for ranking in (dense_ranking(query.dense, query.filter), sparse_ranking(query.sparse, query.filter)):
        # Each side hands max(limit * 4, 20) candidates to the fusion; RRF adds 1 / (rank + k), rank from 0.
        for rank, (point_id, _) in enumerate(ranking[:max(query.limit * 4, 20)]):
            fused[point_id] = fused.get(point_id, 0.0) + 1.0 / (rank + query.rrf_k)
    return sorted(fused.items(), key=lambda hit: -hit[1])


def search(store: KnowledgeStore, query: StoreQuery) -> list[tuple[str, float]]:
    """Run a search and assert what must hold for every one: only the tenant's chunks, only matching ones."""
    hits: list[ScoredChunk] = store.search(query)
    assert all(hit.chunk.tenant == query.filter.tenant for hit in hits), "a tenant saw another tenant's chunk"
    assert all(matches(hit.chunk, query.filter) for hit in hits), "a hit escaped the filter"
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    return [(hit.chunk.point_id, hit.score) for hit in hits]


def assert_ranking(actual: list[tuple[str, float]], expected: list[tuple[str, float]], *, tol: float) -> None:
    """Same scores rank by rank, and every hit carries its expected score: order may differ only within ties.

    ``expected`` is a full ranking (the oracle) or another top-N of the same length; in the latter, a hit it lacks
    is acceptable only as a tie at the cut (equal to the last score), which either side may keep.
    """
    assert len(actual) == len(expected[:len(actual)])
    assert [score for _, score in actual] == pytest.approx([score for _, score in expected[:len(actual)]], abs=tol)
    expected_score = dict(expected)
    tie_at_cut = expected[-1][1] if len(expected) == len(actual) else math.inf
    for point_id, score in actual:
        known = expected_score.get(point_id, tie_at_cut)
        assert known == pytest.approx(score, abs=tol), f"{point_id} ranks with {score}, expected {known}"


FILTERS = [
    ChunkFilter(tenant="tidewell"),
    ChunkFilter(tenant="northwind"),
    ChunkFilter(tenant="tidewell", markets=("de", "*")),
    ChunkFilter(tenant="northwind", languages=("FR",)),
    ChunkFilter(tenant="tidewell", kinds=("faq", "policy")),
    ChunkFilter(tenant="northwind", document_ids=("policies/returns.md", "northwind/doc-4.md")),
    ChunkFilter(tenant="tidewell", markets=("DE",), kinds=("doc", "faq"), languages=("de", "en")),
]


def queries(seed: int) -> list[tuple[list[float], SparseVector]]:
    rng = np.random.default_rng(seed)
    made = []
    for _ in range(3):
        terms = sorted(int(t) for t in rng.choice(60, size=4, replace=False))
        made.append((rng.normal(size=DIM).tolist(), SparseVector(terms, [1.0] * len(terms))))
    return made


CASES = [(flt, dense, terms) for n, flt in enumerate(FILTERS) for dense, terms in queries(n)]


# -- searches -------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_searches_match_the_exact_oracle(loaded: dict[str, KnowledgeStore], backend: str) -> None:
    store = loaded[backend]
    for flt, dense, terms in CASES:
        expected = dense_ranking(dense, flt)[:10]
        found = search(store, StoreQuery(filter=flt, dense=dense, limit=10))
        assert [hit[0] for hit in found] == [hit[0] for hit in expected]
        assert_ranking(found, expected, tol=1e-4)

        expected = sparse_ranking(terms, flt)
        found = search(store, StoreQuery(filter=flt, sparse=terms, limit=10))
        assert found, "the sparse query shares no term with the corpus: the test would prove nothing"
        assert [hit[0] for hit in found] == [hit[0] for hit in expected[:10]]
        assert_ranking(found, expected, tol=1e-3)

        query = StoreQuery(filter=flt, dense=dense, sparse=terms, limit=10, rrf_k=5)
        assert_ranking(search(store, query), rrf_ranking(query), tol=1e-6)

        # Every hybrid hit's similarity is its exact cosine to the query, the hits of the sparse side included.
        cosine = dict(dense_ranking(dense, flt))
        hits = store.search(replace(query, with_similarity=True))
        assert hits and all(h.similarity == pytest.approx(cosine[h.chunk.point_id], abs=1e-5) for h in hits)
        dense_side = {point_id for point_id, _ in dense_ranking(dense, flt)[:10]}
        assert any(h.chunk.point_id not in dense_side for h in hits), \
            "no hit comes from the sparse side only: the test would not show the cosine is of every hit"


def _by_score(hits: list[ScoredChunk]) -> dict[float, set[str]]:
    groups: dict[float, set[str]] = {}
    for hit in hits:
        groups.setdefault(round(hit.score, 6), set()).add(hit.chunk.point_id)
    if hits:
        groups.pop(round(hits[-1].score, 6))
    return groups


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_batch_of_searches_equals_the_searches_one_by_one(loaded: dict[str, KnowledgeStore], backend: str) -> None:
    store = loaded[backend]
    queries = [query for flt, dense, terms in CASES for query in (
        StoreQuery(filter=flt, dense=dense, sparse=terms, limit=10, rrf_k=5, with_similarity=True),
        StoreQuery(filter=flt, dense=dense, limit=10), StoreQuery(filter=flt, sparse=terms, limit=7))]
    batched = store.search_batch(queries)
    assert len(batched) == len(queries)
    for query, hits in zip(queries, batched, strict=True):
        alone = store.search(query)
        assert [h.score for h in hits] == pytest.approx([h.score for h in alone], abs=1e-6)
        # Equal fused scores (rank 3 in dense only, rank 3 in sparse only) may come in either order: the same
        # hits at each score above the last one, whose group the limit may cut anywhere.
        assert _by_score(hits) == _by_score(alone)
        similarity = {h.chunk.point_id: h.similarity for h in alone}
        assert all(h.similarity == pytest.approx(similarity[h.chunk.point_id], abs=1e-6)
                   for h in hits if h.chunk.point_id in similarity)
        assert all(h.chunk.tenant == query.filter.tenant for h in hits)
    assert store.search_batch([]) == []


def test_searches_with_records_give_the_hits_and_the_tenants_records_of_their_documents(
        store: KnowledgeStore) -> None:
    CORPUS.upsert_into(store)
    # Records for some documents of both tenants; "policies/returns.md" is in both, at other versions.
    for tenant, version in ((TENANTS[0], 2), (TENANTS[1], 1)):
        for document_id in ("policies/returns.md", f"{tenant}/doc-1.md", f"{tenant}/doc-2.md"):
            store.put_document(make_record(tenant, 1, version=version).model_copy(update={"document_id": document_id}))
    flt = ChunkFilter(tenant=TENANTS[0])
    dense, terms = queries(11)[0]
    asked = [StoreQuery(filter=flt, dense=dense, sparse=terms, limit=40, with_similarity=True),
             StoreQuery(filter=flt, dense=dense, limit=40)]

    hits, records = store.search_with_records(asked)

    assert [_by_score(found) for found in hits] == [_by_score(found) for found in store.search_batch(asked)]
    named = {h.chunk.document_id for found in hits for h in found}
    assert {"policies/returns.md", f"{TENANTS[0]}/doc-1.md"} <= named  # the limit reaches every document
    assert records == store.get_documents(TENANTS[0], sorted(named))
    assert set(records) == named & {"policies/returns.md", f"{TENANTS[0]}/doc-1.md", f"{TENANTS[0]}/doc-2.md"}
    assert {record.tenant for record in records.values()} == {TENANTS[0]}
    assert records["policies/returns.md"].version == 2  # this tenant's record, not the other's
    assert store.search_with_records([]) == ([], {})
    with pytest.raises(InputError):
        store.search_with_records([asked[1], replace(asked[1], filter=ChunkFilter(tenant=TENANTS[1]))])


def test_backends_agree_on_every_search(loaded: dict[str, KnowledgeStore]) -> None:
    edge, server = loaded["edge"], loaded["server"]
    for flt, dense, terms in CASES:
        for query, tol in ((StoreQuery(filter=flt, dense=dense, limit=10), 1e-4),
                           (StoreQuery(filter=flt, sparse=terms, limit=10), 1e-3)):
            from_edge, from_server = search(edge, query), search(server, query)
            assert [hit[0] for hit in from_edge] == [hit[0] for hit in from_server]
            assert [hit[1] for hit in from_edge] == pytest.approx([hit[1] for hit in from_server], abs=tol)
        # RRF gives equal scores to, say, rank 3 in dense only and rank 3 in sparse only; the engines order
        # such ties differently, so the order is compared up to ties: same score at every rank, same hit scores.
        hybrid = StoreQuery(filter=flt, dense=dense, sparse=terms, limit=10)
        assert_ranking(search(edge, hybrid), search(server, hybrid), tol=1e-6)


def test_tenant_never_sees_another_tenants_chunk_even_an_identical_one(loaded: dict[str, KnowledgeStore]) -> None:
    index = next(i for i, chunk in enumerate(CORPUS.chunks) if chunk.tenant == "northwind")
    query = StoreQuery(filter=ChunkFilter(tenant="tidewell"), dense=CORPUS.dense[index].tolist(),
                       sparse=CORPUS.sparse[index], limit=50)
    for store in loaded.values():
        hits = search(store, query)
        assert len(hits) == 50 and CORPUS.chunks[index].point_id not in {point_id for point_id, _ in hits}
        assert search(store, StoreQuery(filter=ChunkFilter(tenant="acme"), dense=query.dense)) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_count_and_get_chunks(loaded: dict[str, KnowledgeStore], backend: str) -> None:
    store = loaded[backend]
    for flt in [*FILTERS, ChunkFilter(tenant="tidewell", kinds=())]:
        assert store.count_chunks(flt) == sum(matches(chunk, flt) for chunk in CORPUS.chunks)
    own = [c for c in CORPUS.chunks if (c.tenant, c.document_id) == ("tidewell", "policies/returns.md")]
    got = store.get_chunks("tidewell", "policies/returns.md")
    assert got == sorted(own, key=lambda chunk: (chunk.version, chunk.position)) and {c.version for c in got} == {1, 2}
    assert store.get_chunks("tidewell", "policies/returns.md", version=2) == [c for c in got if c.version == 2]
    assert store.get_chunks("tidewell", "northwind/doc-1.md") == []


def test_invalid_queries_are_refused(loaded: dict[str, KnowledgeStore]) -> None:
    flt = ChunkFilter(tenant="tidewell")
    for store in loaded.values():
        with pytest.raises(InputError, match="31 values"):
            store.search(StoreQuery(filter=flt, dense=[0.1] * 31))
        with pytest.raises(InputError, match="repeats"):
            store.search(StoreQuery(filter=flt, sparse=SparseVector([3, 3], [1.0, 1.0])))
        with pytest.raises(InputError, match="market"):
            store.search(StoreQuery(filter=ChunkFilter(tenant="tidewell", markets=("Germany",)), dense=[0.1] * DIM))
        # In a batch too, after a valid query of another vector (a vector shared by queries is checked once).
        with pytest.raises(InputError, match="non-finite"):
            store.search_batch([StoreQuery(filter=flt, dense=[0.1] * DIM),
                                StoreQuery(filter=flt, dense=[0.1] * (DIM - 1) + [math.nan])])


@pytest.mark.parametrize("backend", ["edge", "remote", "replica"])
def test_a_point_found_by_several_searches_of_a_batch_is_one_chunk(loaded: dict[str, KnowledgeStore],
                                                                     backend: str) -> None:
    """The answer pipeline searches one vector hybrid and dense: a chunk both find is made, and crosses from the
    store's process, once."""
    flt, dense, terms = CASES[0]
    hybrid, dense_only = loaded[backend].search_batch([
        StoreQuery(filter=flt, dense=dense, sparse=terms, limit=10, with_similarity=True),
        StoreQuery(filter=flt, dense=dense, limit=10)])
    first = {hit.chunk.point_id: hit.chunk for hit in hybrid}
    shared = [hit for hit in dense_only if hit.chunk.point_id in first]
    assert shared, "the two searches share no hit: the test would show nothing"
    assert all(hit.chunk is first[hit.chunk.point_id] for hit in shared)


# -- writes -------------------------------------------------------------------


def test_delete_chunks_keeps_one_version_and_other_tenants(store: KnowledgeStore) -> None:
    CORPUS.upsert_into(store)
    store.delete_chunks("tidewell", "policies/returns.md", except_version=2)
    assert {c.version for c in store.get_chunks("tidewell", "policies/returns.md")} == {2}
    untouched = sum(c.document_id == "policies/returns.md" for c in CORPUS.chunks if c.tenant == "northwind")
    assert len(store.get_chunks("northwind", "policies/returns.md")) == untouched
    store.delete_chunks("tidewell", "policies/returns.md")
    assert store.get_chunks("tidewell", "policies/returns.md") == []
    remaining = sum(c.tenant == "tidewell" and c.document_id != "policies/returns.md" for c in CORPUS.chunks)
    assert store.count_chunks(ChunkFilter(tenant="tidewell")) == remaining


def _bad_dim(dense: list[list[float]], sparse: list[SparseVector]) -> None:
    dense[-1] = dense[-1][:-1]


def _nan(dense: list[list[float]], sparse: list[SparseVector]) -> None:
    dense[-1][3] = math.nan


def _repeated_term(dense: list[list[float]], sparse: list[SparseVector]) -> None:
    sparse[-1] = SparseVector([5, 5], [1.0, 2.0])


def _huge_term(dense: list[list[float]], sparse: list[SparseVector]) -> None:
    sparse[-1] = SparseVector([2**32], [1.0])


def _missing_vector(dense: list[list[float]], sparse: list[SparseVector]) -> None:
    sparse.pop()


@pytest.mark.parametrize("spoil", [_bad_dim, _nan, _repeated_term, _huge_term, _missing_vector])
def test_an_invalid_batch_writes_nothing(store: KnowledgeStore, spoil: Callable[..., None]) -> None:
    rng = np.random.default_rng(3)
    # 300 chunks: two write batches, the bad chunk in the second, so a half-written batch would show.
    chunks = [Chunk(tenant="tidewell", document_id="big.md", version=1, position=p, text=f"part {p}", language="en",
                    kind="doc", source="big.md") for p in range(300)]
    dense = [(v / np.linalg.norm(v)).tolist() for v in rng.normal(size=(300, DIM))]
    sparse = [SparseVector([p, p + 1], [1.0, 0.5]) for p in range(300)]
    good_dense, good_sparse = [list(v) for v in dense], list(sparse)
    spoil(dense, sparse)
    with pytest.raises(InputError, match="nothing was written"):
        store.upsert_chunks(chunks, dense, sparse)
    assert store.count_chunks(ChunkFilter(tenant="tidewell")) == 0
    store.upsert_chunks(chunks, good_dense, good_sparse)
    assert store.count_chunks(ChunkFilter(tenant="tidewell")) == 300


# -- the catalogue ------------------------------------------------------------------


INGESTED_AT = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)


def make_record(tenant: str, number: int, *, version: int = 1) -> DocumentRecord:
    return DocumentRecord(tenant=tenant, document_id=f"docs/{number:02d}.md", version=version, source="x.md",
                          kind=KINDS[number % 4], market=MARKETS[number % 3], language=LANGUAGES[number % 3],
                          source_hash=f"h{number}", chunk_count=number, ingested_at=INGESTED_AT)


def test_documents_put_get_list_delete(store: KnowledgeStore) -> None:
    for number in range(25):
        store.put_document(make_record("tidewell", number))
    for number in range(5):
        store.put_document(make_record("northwind", number))

    pages, offset = [], None
    while True:
        page = store.list_documents("tidewell", limit=10, offset=offset)
        pages.append(page.records)
        if (offset := page.next_offset) is None:
            break
    assert [len(records) for records in pages] == [10, 10, 5]
    listed = [record for records in pages for record in records]
    assert [r.point_id for r in listed] == sorted((r.point_id for r in listed), key=lambda pid: uuid.UUID(pid).int)
    assert sorted(listed, key=lambda r: r.document_id) == [make_record("tidewell", n) for n in range(25)]

    faqs = store.list_documents("tidewell", kind="faq", market="de").records
    assert {r.document_id for r in faqs} == {f"docs/{n:02d}.md" for n in range(25) if n % 4 == 1 and n % 3 == 0}

    wanted = ["docs/01.md", "docs/24.md", "docs/99.md"]
    assert set(store.get_documents("tidewell", wanted)) == {"docs/01.md", "docs/24.md"}
    assert set(store.get_documents("northwind", wanted)) == {"docs/01.md"}

    store.put_document(make_record("tidewell", 1, version=2))
    assert store.get_documents("tidewell", ["docs/01.md"])["docs/01.md"].version == 2
    store.delete_document("tidewell", "docs/01.md")
    assert store.get_documents("tidewell", ["docs/01.md"]) == {}
    assert len(store.list_documents("tidewell", limit=100).records) == 24
    assert store.get_documents("northwind", ["docs/01.md"])["docs/01.md"].version == 1
    with pytest.raises(InputError):
        store.list_documents("tidewell", offset="page-2")


def test_backends_list_the_catalogue_identically(tmp_path: Path) -> None:
    edge, server = EdgeStore(path=tmp_path, dim=DIM), ServerStore(url=":memory:", dim=DIM)
    try:
        for number in range(12):
            record = make_record("tidewell", number)
            edge.put_document(record)
            server.put_document(record)
        offset, seen = None, 0
        while True:
            from_edge, from_server = (s.list_documents("tidewell", limit=5, offset=offset) for s in (edge, server))
            assert from_edge == from_server
            seen += len(from_edge.records)
            if (offset := from_edge.next_offset) is None:
                break
        assert seen == 12
    finally:
        edge.close()
        server.close()


# -- opening ------------------------------------------------------------------------


def test_edge_store_reopens_its_folder_and_refuses_another_dim(tmp_path: Path) -> None:
    with EdgeStore(path=tmp_path, dim=DIM) as store:
        CORPUS.upsert_into(store)
        store.put_document(make_record("tidewell", 3))
        with pytest.raises(StoreError, match="another process"):
            EdgeStore(path=tmp_path, dim=DIM)
    with EdgeStore(path=tmp_path, dim=DIM) as store:
        assert store.count_chunks(ChunkFilter(tenant="tidewell")) == sum(c.tenant == "tidewell" for c in CORPUS.chunks)
        assert store.get_documents("tidewell", ["docs/03.md"]) == {"docs/03.md": make_record("tidewell", 3)}
        hits = store.search(StoreQuery(filter=ChunkFilter(tenant="tidewell"), dense=CORPUS.dense[0].tolist(), limit=1))
        assert hits[0].chunk == CORPUS.chunks[0] and hits[0].score == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ConfigError, match="vector size"):
        EdgeStore(path=tmp_path, dim=DIM * 2)
    with pytest.raises(StoreError, match="closed"):
        store.count_chunks(ChunkFilter(tenant="tidewell"))


def test_the_search_pool_is_the_one_asked_for_whatever_the_folder_was_opened_with(tmp_path: Path) -> None:
    flt, dense, terms = CASES[0]
    query = StoreQuery(filter=flt, dense=dense, sparse=terms, limit=10, with_similarity=True)
    found = {}
    for threads in (1, 0, 1):  # 0: the engine's default; the engine keeps what a folder was last opened with
        with EdgeStore(path=tmp_path, dim=DIM, search_threads=threads) as store:
            if not found:
                CORPUS.upsert_into(store)
            hits = store.search(query)
            found[threads] = (_by_score(hits), {h.chunk.point_id: h.similarity for h in hits})
        config = json.loads((tmp_path / "polydesk_chunks" / "edge_config.json").read_text(encoding="utf-8"))
        assert config["max_search_threads"] == threads
    (ranks_pool, similarity_pool), (ranks, similarity) = found[0], found[1]
    assert ranks_pool == ranks and ranks
    assert all(similarity_pool[pid] == pytest.approx(similarity[pid], abs=1e-6) for pid in set(similarity) & set(similarity_pool))


def test_server_store_checks_the_dim_of_existing_collections() -> None:
    client = QdrantClient(location=":memory:")
    first = ServerStore.from_client(client, dim=DIM)
    first.put_document(make_record("tidewell", 1))
    again = ServerStore.from_client(client, dim=DIM)
    assert set(again.get_documents("tidewell", ["docs/01.md"])) == {"docs/01.md"}
    with pytest.raises(ConfigError, match="size 32, not 64"):
        ServerStore.from_client(client, dim=DIM * 2)
    client.close()
