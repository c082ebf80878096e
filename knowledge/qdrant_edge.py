"""The knowledge store on the Qdrant engine embedded in the process (``qdrant-edge-py``).

One folder per install holds two shards: ``{prefix}_chunks`` (named dense vector
``dense``, cosine, and named sparse vector ``sparse`` with the IDF modifier) and
``{prefix}_documents`` (the catalogue, payload only). The shard folders are
locked while open: one process per folder.

Usage::

    store = EdgeStore(path=Path("var/qdrant"), dim=384)
    store.upsert_chunks(chunks, dense_vectors, sparse_vectors)
    hits = store.search(StoreQuery(filter=ChunkFilter(tenant="tidewell"), dense=query_vector, sparse=terms))
    store.close()
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import qdrant_edge as qe

from knowledge.schema import (
    Chunk,
    ChunkFilter,
    DocumentPage,
    DocumentRecord,
    ScoredChunk,
    SparseVector,
    StoreQuery,
)
from knowledge.store import (
    BATCH_SIZE,
    DENSE,
    DOCUMENT_INDEXED_FIELDS,
    INDEXED_FIELDS,
    SPARSE,
    AllOf,
    Condition,
    Empty,
    Match,
    chunk_filter_exclusions,
    chunk_filter_terms,
    chunk_from_payload,
    document_chunk_terms,
    document_filter_terms,
    hits_of,
    in_batches,
    parse_offset,
    prefetch_limit,
    record_from_payload,
    search_with_records,
    store_errors,
    validate_queries,
    validate_upsert,
)
from polydesk.diskspace import MB, ensure_free
from polydesk.errors import ConfigError, InputError, PolydeskError, StoreError

# A point as ``EdgeStore.export_page`` hands it out: id, named vectors, payload.
ExportedPoint = tuple[Any, dict[str, "list[float] | SparseVector"], dict[str, Any]]

_OPEN_RESERVE = 64 * MB  # opening may start new write-ahead-log segments (32 MB each)
MADE_CHUNKS = 4096  # chunks kept for the searches between two writes (EdgeStore._made_chunks); then begun afresh


def _plain_vectors(vectors: Any) -> dict[str, list[float] | SparseVector]:
    """A point's named vectors as ``export_page`` gives them (the engine's sparse vectors are not picklable)."""
    return {name: SparseVector(list(value.indices), list(value.values)) if isinstance(value, qe.SparseVector)
            else list(value) for name, value in (vectors or {}).items()}


def _condition(match: Condition) -> qe.FieldCondition | qe.IsEmptyCondition | qe.Filter:
    if isinstance(match, AllOf):
        return _edge_filter(match.terms)
    if isinstance(match, Empty):
        return qe.IsEmptyCondition(match.key)
    if len(match.values) == 1:
        return qe.FieldCondition(match.key, match=qe.MatchValue(match.values[0]))
    return qe.FieldCondition(match.key, match=qe.MatchAny(match.value_list()))


def _edge_filter(must: Sequence[Condition], must_not: Sequence[Condition] = ()) -> qe.Filter:
    return qe.Filter(must=[_condition(m) for m in must], must_not=[_condition(m) for m in must_not] or None)


def _chunks_config(dim: int, search_threads: int) -> qe.EdgeConfig:
    return qe.EdgeConfig(
        vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
        sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        max_search_threads=search_threads,
    )


def _documents_config(search_threads: int) -> qe.EdgeConfig:
    # The engine needs at least one vector; a sparse one costs nothing on points that never set it.
    return qe.EdgeConfig(sparse_vectors={"unused": qe.EdgeSparseVectorParams()}, max_search_threads=search_threads)


def _open_shard(path: Path, config: qe.EdgeConfig, indexed: Sequence[str]) -> qe.EdgeShard:
    exists = path.is_dir() and any(path.iterdir())
    try:
        shard = qe.EdgeShard.load(str(path), config) if exists else qe.EdgeShard.create(str(path), config)
    except Exception as exc:
        if "incompatible" in str(exc).lower():
            raise ConfigError(f"the knowledge index at {path} was built with another vector size or layout "
                              f"than asked for ({exc}); rebuild it or fix the embedding settings") from exc
        raise StoreError(f"cannot open the knowledge index at {path} (is another process using it?): {exc}") from exc
    try:
        present = shard.info().payload_schema
        for field in indexed:
            if field not in present:
                schema = qe.KeywordIndexParams(is_tenant=True) if field == "tenant" else qe.PayloadSchemaType.Keyword
                shard.update(qe.UpdateOperation.create_field_index(field, schema))
    except Exception as exc:
        shard.close()
        raise StoreError.from_exception("open", exc) from exc
    return shard


class EdgeStore:
    """``KnowledgeStore`` on the embedded engine. Writes are serialised; returned writes are durable (WAL).

    ``search_threads``: the engine's search pool per shard (0: the engine's default, one thread per CPU). With 1,
    a search runs in the calling thread: on a server, where concurrent requests already keep the cores busy,
    handing each search to a pool and waiting for it costs CPU and time (measured on 2 cores: 1.9 against 1.0
    core-ms for an answer's searches, 1.6 against 1.0 ms).
    """

    def __init__(self, *, path: Path, dim: int, collection_prefix: str = "polydesk", reserve_bytes: int = 0,
                 search_threads: int = 1) -> None:
        if dim < 1:
            raise ConfigError(f"vector size must be at least 1, got {dim}")
        self.path = Path(path)
        self.dim = dim
        # The engine writes through memory-mapped files: on a full disk it dies of SIGBUS instead of failing a
        # write, so every write first checks the disk keeps this much free (polydesk/diskspace.py).
        self.reserve_bytes = reserve_bytes
        ensure_free(self.path, reserve_bytes=min(reserve_bytes, _OPEN_RESERVE), what="opening the knowledge index")
        self._lock = threading.Lock()
        self._closed = False
        # Searches make chunks of the payloads they find, and an answer's searches mostly find chunks the last
        # answers found: those made since the last write are kept by point id (``_made_chunks``). Each write adds
        # one to ``_generation`` before it changes the engine and one after, so it is odd while one is under way.
        self._generation = 0
        self._made: tuple[int, dict[Any, Chunk]] = (0, {})
        # Always given (0 is the engine's own default): the engine keeps the value it was last opened with, and
        # would use that one when none is given.
        self._chunks = _open_shard(self.path / f"{collection_prefix}_chunks", _chunks_config(dim, search_threads),
                                   INDEXED_FIELDS)
        try:
            self._documents = _open_shard(self.path / f"{collection_prefix}_documents",
                                          _documents_config(search_threads), DOCUMENT_INDEXED_FIELDS)
        except PolydeskError:
            self._chunks.close()
            raise

    def __enter__(self) -> EdgeStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the knowledge index at {self.path} is closed")

    def _update(self, shard: qe.EdgeShard, operation: qe.UpdateOperation) -> None:
        with self._lock:
            self._check_open()
            ensure_free(self.path, reserve_bytes=self.reserve_bytes, what="the change to the knowledge index")
            self._generation += 1
            try:
                shard.update(operation)
            finally:
                self._generation += 1

    # -- chunks ------------------------------------------------------------

    def upsert_chunks(self, chunks: Sequence[Chunk], dense: Sequence[Sequence[float]],
                      sparse: Sequence[SparseVector]) -> None:
        validate_upsert(chunks, dense, sparse, dim=self.dim)
        points = [
            qe.Point(chunk.point_id,
                     {DENSE: [float(value) for value in vector],
                      SPARSE: qe.SparseVector(list(terms.indices), [float(value) for value in terms.values])},
                     chunk.payload())
            for chunk, vector, terms in zip(chunks, dense, sparse, strict=True)
        ]
        with store_errors("upsert_chunks"):
            for batch in in_batches(points):
                self._update(self._chunks, qe.UpdateOperation.upsert_points(list(batch)))

    def delete_chunks(self, tenant: str, document_id: str, *, except_version: int | None = None) -> None:
        keep = [] if except_version is None else [Match("version", (except_version,))]
        flt = _edge_filter(document_chunk_terms(tenant, document_id), keep)
        with store_errors("delete_chunks"):
            self._update(self._chunks, qe.UpdateOperation.delete_points_by_filter(flt))

    def get_chunks(self, tenant: str, document_id: str, *, version: int | None = None) -> list[Chunk]:
        flt = _edge_filter(document_chunk_terms(tenant, document_id, version))
        records: list[qe.Record] = []
        offset: Any = None
        with store_errors("get_chunks"):
            self._check_open()
            while True:
                page, offset = self._chunks.scroll(qe.ScrollRequest(
                    offset=offset, limit=BATCH_SIZE, filter=flt, with_payload=True, with_vector=False))
                records.extend(page)
                if offset is None:
                    break
        chunks = [chunk_from_payload(record.payload) for record in records]
        return sorted(chunks, key=lambda chunk: (chunk.version, chunk.position))

    def count_chunks(self, flt: ChunkFilter) -> int:
        request = qe.CountRequest(exact=True,
                                  filter=_edge_filter(chunk_filter_terms(flt), chunk_filter_exclusions(flt)))
        with store_errors("count_chunks"):
            self._check_open()
            return self._chunks.count(request)

    def search(self, query: StoreQuery) -> list[ScoredChunk]:
        return self.search_batch([query])[0]

    def search_batch(self, queries: Sequence[StoreQuery]) -> list[list[ScoredChunk]]:
        validate_queries(queries, dim=self.dim)
        with store_errors("search"):
            self._check_open()
            generation = self._generation
            # Each dense vector's query, made once: the search and the cosines of its hits share it, and so do
            # the queries of one vector (the pipeline searches a message's vector hybrid and dense).
            made: dict[int, Any] = {}
            denses = []
            for q in queries:
                if q.dense is not None and id(q.dense) not in made:
                    made[id(q.dense)] = qe.Query.Nearest(list(map(float, q.dense)), using=DENSE)
                denses.append(None if q.dense is None else made[id(q.dense)])
            found = self._query([self._search_request(q, dense) for q, dense in zip(queries, denses, strict=True)])
            # A hit's cosine to the query: the engine scores exactly the hits again in one dense search, which
            # costs less than reading their vectors back (384 numbers each) and computing it here.
            asked = [number for number, (query, points) in enumerate(zip(queries, found, strict=True))
                     if query.with_similarity and denses[number] is not None and points]
            scored = self._query([self._similarity_request(denses[number], found[number]) for number in asked])
        cosines = {number: {point.id: point.score for point in points}
                   for number, points in zip(asked, scored, strict=True)}
        chunks = self._made_chunks(generation)
        return [hits_of(points, query, cosines.get(number, {}), chunks)
                for number, (points, query) in enumerate(zip(found, queries, strict=True))]

    def _made_chunks(self, generation: int) -> dict[Any, Chunk]:
        """The chunks made by the searches since the last write, for a search that read the engine entirely
        within that time: it began at ``generation`` (even: no write under way) and no write has begun since.
        A search that a write overlapped may have read some points before it and some after, so it makes its
        chunks afresh and keeps none."""
        if generation % 2 or generation != self._generation:
            return {}
        made_at, made = self._made
        if made_at != generation or len(made) >= MADE_CHUNKS:
            made = {}
            self._made = (generation, made)
        return made

    def _query(self, requests: list[qe.QueryRequest]) -> list[list[qe.ScoredPoint]]:
        if len(requests) < 2:
            return [self._chunks.query(request) for request in requests]
        return self._chunks.query_batch(qe.QueryBatchRequest(requests))

    @staticmethod
    def _similarity_request(dense: Any, points: Sequence[qe.ScoredPoint]) -> qe.QueryRequest:
        ids: set[qe.PointId] = {point.id for point in points}
        return qe.QueryRequest(limit=len(ids), query=dense, filter=qe.Filter(must=[qe.HasIdCondition(ids)]),
                               with_payload=False, with_vector=False)

    def search_with_records(self, queries: Sequence[StoreQuery]
                            ) -> tuple[list[list[ScoredChunk]], dict[str, DocumentRecord]]:
        return search_with_records(self, queries)

    def _search_request(self, query: StoreQuery, dense: Any) -> qe.QueryRequest:
        terms = chunk_filter_terms(query.filter)
        flt = _edge_filter(terms, chunk_filter_exclusions(query.filter))
        # Sparse IDF counts only the tenant's own chunks: another tenant's vocabulary must not shift scores.
        idf = qe.SearchParams(idf=qe.IdfParams(corpus=_edge_filter(terms[:1])))
        sparse = None if query.sparse is None else qe.Query.Nearest(
            qe.SparseVector(list(query.sparse.indices), [float(v) for v in query.sparse.values]), using=SPARSE)
        if dense is not None and sparse is not None:
            candidates = prefetch_limit(query)
            # The stub types Fusion.Rrf as a nested class rather than a Fusion; the engine accepts it.
            fusion = cast(qe.Fusion, qe.Fusion.Rrf(k=query.rrf_k))
            return qe.QueryRequest(
                limit=query.limit, filter=flt, with_payload=True, query=fusion, with_vector=False,
                prefetches=[qe.Prefetch(limit=candidates, query=dense, filter=flt),
                            qe.Prefetch(limit=candidates, query=sparse, filter=flt, params=idf)])
        if dense is not None:
            return qe.QueryRequest(limit=query.limit, query=dense, filter=flt, with_payload=True, with_vector=False)
        return qe.QueryRequest(limit=query.limit, query=sparse, filter=flt, with_payload=True, params=idf)

    # -- copies (knowledge/replica.py) -----------------------------------------

    def export_page(self, shard: str, offset: Any = None) -> tuple[list[ExportedPoint], Any]:
        """A page of one shard's points (``"chunks"`` or ``"documents"``) as plain values: id, vectors (dense as a
        list, sparse as a ``SparseVector``), payload; and the offset of the next page (``None``: the last)."""
        with store_errors("export_page"):
            self._check_open()
            page, offset = self._shard(shard).scroll(qe.ScrollRequest(
                offset=offset, limit=BATCH_SIZE, with_payload=True, with_vector=True))
        return [(record.id, _plain_vectors(record.vector), record.payload or {}) for record in page], offset

    def import_page(self, shard: str, points: Sequence[ExportedPoint]) -> None:
        """Write points as ``export_page`` gave them, unchanged."""
        made = [qe.Point(point_id, {name: qe.SparseVector(value.indices, value.values)
                                    if isinstance(value, SparseVector) else value
                                    for name, value in vectors.items()}, payload)
                for point_id, vectors, payload in points]
        with store_errors("import_page"):
            if made:
                self._update(self._shard(shard), qe.UpdateOperation.upsert_points(made))

    def _shard(self, name: str) -> qe.EdgeShard:
        if name not in ("chunks", "documents"):
            raise InputError(f"no shard {name!r}: chunks or documents")
        return self._chunks if name == "chunks" else self._documents

    # -- documents ---------------------------------------------------------

    def put_document(self, record: DocumentRecord) -> None:
        point = qe.Point(record.point_id, {}, record.payload())
        with store_errors("put_document"):
            self._update(self._documents, qe.UpdateOperation.upsert_points([point]))

    def get_documents(self, tenant: str, document_ids: Sequence[str]) -> dict[str, DocumentRecord]:
        ids: list[qe.PointId] = [DocumentRecord.make_point_id(tenant, document_id) for document_id in document_ids]
        with store_errors("get_documents"):
            self._check_open()
            found = self._documents.retrieve(ids, True, False) if ids else []
        records = (record_from_payload(point.payload) for point in found)
        return {record.document_id: record for record in records if record.tenant == tenant}

    def list_documents(self, tenant: str, *, market: str | None = None, language: str | None = None,
                       kind: str | None = None, limit: int = 100, offset: str | None = None) -> DocumentPage:
        if limit < 1:
            raise InputError(f"limit must be at least 1, got {limit}")
        flt = _edge_filter(document_filter_terms(tenant, market=market, language=language, kind=kind))
        request = qe.ScrollRequest(offset=parse_offset(offset), limit=limit, filter=flt,
                                   with_payload=True, with_vector=False)
        with store_errors("list_documents"):
            self._check_open()
            page, next_id = self._documents.scroll(request)
        return DocumentPage(records=[record_from_payload(point.payload) for point in page],
                            next_offset=None if next_id is None else str(next_id))

    def delete_document(self, tenant: str, document_id: str) -> None:
        point_id: qe.PointId = DocumentRecord.make_point_id(tenant, document_id)
        with store_errors("delete_document"):
            self._update(self._documents, qe.UpdateOperation.delete_points([point_id]))

    def close(self) -> None:
        """Flush and release the folder lock. Closing twice is harmless."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with store_errors("close"):
                try:
                    # Not needed for durability (the WAL has every returned write); it leaves the segment
                    # files current, so a copy of the closed folder is a complete backup.
                    self._chunks.flush()
                    self._documents.flush()
                finally:
                    try:
                        self._chunks.close()
                    finally:
                        self._documents.close()

