"""The knowledge store on a Qdrant server or cluster, through ``qdrant-client``.

Same collections and behaviour as ``EdgeStore``: ``{prefix}_chunks`` (named
dense vector ``dense``, cosine, and named sparse vector ``sparse`` with the IDF
modifier) and ``{prefix}_documents`` (payload only). ``url=":memory:"`` gives
qdrant-client's local mode, the server stand-in for congruence tests (slow at
scale and without payload indexes: never a default).

Validation, filter terms and error mapping come from ``knowledge.qdrant_edge``,
so the two backends cannot drift apart.

Usage::

    store = ServerStore(url="http://qdrant:6333", dim=384, api_key="…")
    store.upsert_chunks(chunks, dense_vectors, sparse_vectors)
    hits = store.search(StoreQuery(filter=ChunkFilter(tenant="tidewell"), dense=query_vector, sparse=terms))
    store.close()
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from qdrant_client import QdrantClient, models

from knowledge.schema import Chunk, ChunkFilter, DocumentPage, DocumentRecord, ScoredChunk, SparseVector, StoreQuery
from knowledge.store import (
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
    validate_query,
    validate_upsert,
)
from polydesk.errors import ConfigError, InputError


def _condition(match: Condition) -> models.FieldCondition | models.IsEmptyCondition | models.Filter:
    if isinstance(match, AllOf):
        return _server_filter(match.terms)
    if isinstance(match, Empty):
        return models.IsEmptyCondition(is_empty=models.PayloadField(key=match.key))
    if len(match.values) == 1:
        return models.FieldCondition(key=match.key, match=models.MatchValue(value=match.values[0]))
    return models.FieldCondition(key=match.key, match=models.MatchAny(any=match.value_list()))


def _server_filter(must: Sequence[Condition], must_not: Sequence[Condition] = ()) -> models.Filter:
    return models.Filter(must=[_condition(m) for m in must], must_not=[_condition(m) for m in must_not] or None)


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=[float(value) for value in vector.values])


class ServerStore:
    """``KnowledgeStore`` through ``qdrant-client``; every write waits until the server has applied it."""

    def __init__(self, *, url: str, dim: int, api_key: str | None = None, collection_prefix: str = "polydesk") -> None:
        client = QdrantClient(location=":memory:") if url == ":memory:" else QdrantClient(url=url, api_key=api_key)
        self._setup(client, dim=dim, collection_prefix=collection_prefix)

    @classmethod
    def from_client(cls, client: QdrantClient, *, dim: int, collection_prefix: str = "polydesk") -> ServerStore:
        """A store on an existing client (several stores on one local-mode client, in tests)."""
        store = cls.__new__(cls)
        store._setup(client, dim=dim, collection_prefix=collection_prefix)
        return store

    def _setup(self, client: QdrantClient, *, dim: int, collection_prefix: str) -> None:
        if dim < 1:
            raise ConfigError(f"vector size must be at least 1, got {dim}")
        self.dim = dim
        self._client = client
        self._chunks = f"{collection_prefix}_chunks"
        self._documents = f"{collection_prefix}_documents"
        with store_errors("open"):
            self._ensure_collection(
                self._chunks, INDEXED_FIELDS,
                vectors={DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
                sparse={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            )
            self._ensure_collection(self._documents, DOCUMENT_INDEXED_FIELDS, vectors={}, sparse=None)

    def _ensure_collection(self, name: str, indexed: Sequence[str], *, vectors: dict[str, models.VectorParams],
                           sparse: dict[str, models.SparseVectorParams] | None) -> None:
        if self._client.collection_exists(name):
            self._check_layout(name, vectors, sparse)
        else:
            self._client.create_collection(name, vectors_config=vectors, sparse_vectors_config=sparse)
        present = self._client.get_collection(name).payload_schema
        with warnings.catch_warnings():
            # Local mode warns that it has no payload indexes; the server builds them.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for field in indexed:
                if field not in present:
                    schema = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD,
                                                       is_tenant=True if field == "tenant" else None)
                    self._client.create_payload_index(name, field, field_schema=schema, wait=True)

    def _check_layout(self, name: str, vectors: dict[str, models.VectorParams],
                      sparse: dict[str, models.SparseVectorParams] | None) -> None:
        params = self._client.get_collection(name).config.params
        present = params.vectors if isinstance(params.vectors, dict) else {}
        for vector_name, wanted in vectors.items():
            found = present.get(vector_name)
            if found is None:
                raise ConfigError(f"collection {name!r} exists without the vector {vector_name!r}; "
                                  "it was not made by polydesk or by another version of it")
            if found.size != wanted.size:
                raise ConfigError(f"collection {name!r} holds vectors of size {found.size}, not {wanted.size}: "
                                  "rebuild the index or fix the embedding settings")
        missing = set(sparse or {}) - set(params.sparse_vectors or {})
        if missing:
            raise ConfigError(f"collection {name!r} exists without the sparse vector(s) {sorted(missing)}")

    def __enter__(self) -> ServerStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # -- chunks ------------------------------------------------------------

    def upsert_chunks(self, chunks: Sequence[Chunk], dense: Sequence[Sequence[float]],
                      sparse: Sequence[SparseVector]) -> None:
        validate_upsert(chunks, dense, sparse, dim=self.dim)
        points = [
            models.PointStruct(id=chunk.point_id, payload=chunk.payload(),
                               vector={DENSE: [float(value) for value in vector], SPARSE: _sparse(terms)})
            for chunk, vector, terms in zip(chunks, dense, sparse, strict=True)
        ]
        with store_errors("upsert_chunks"):
            for batch in in_batches(points):
                self._client.upsert(self._chunks, points=list(batch), wait=True)

    def delete_chunks(self, tenant: str, document_id: str, *, except_version: int | None = None) -> None:
        keep = [] if except_version is None else [Match("version", (except_version,))]
        selector = models.FilterSelector(filter=_server_filter(document_chunk_terms(tenant, document_id), keep))
        with store_errors("delete_chunks"):
            self._client.delete(self._chunks, points_selector=selector, wait=True)

    def get_chunks(self, tenant: str, document_id: str, *, version: int | None = None) -> list[Chunk]:
        flt = _server_filter(document_chunk_terms(tenant, document_id, version))
        records: list[models.Record] = []
        offset: models.ExtendedPointId | None = None
        with store_errors("get_chunks"):
            while True:
                page, offset = self._client.scroll(self._chunks, scroll_filter=flt, limit=256, offset=offset,
                                                   with_payload=True, with_vectors=False)
                records.extend(page)
                if offset is None:
                    break
        chunks = [chunk_from_payload(record.payload) for record in records]
        return sorted(chunks, key=lambda chunk: (chunk.version, chunk.position))

    def count_chunks(self, flt: ChunkFilter) -> int:
        count_filter = _server_filter(chunk_filter_terms(flt), chunk_filter_exclusions(flt))
        with store_errors("count_chunks"):
            return self._client.count(self._chunks, count_filter=count_filter, exact=True).count

    def search(self, query: StoreQuery) -> list[ScoredChunk]:
        validate_query(query, dim=self.dim)
        with store_errors("search"):
            response = self._client.query_points(self._chunks, limit=query.limit, with_payload=True,
                                                 with_vectors=[DENSE] if query.with_similarity else False,
                                                 **self._search_arguments(query))
        return hits_of(response.points, query)

    def search_batch(self, queries: Sequence[StoreQuery]) -> list[list[ScoredChunk]]:
        return [self.search(query) for query in queries]  # a server round trip each; the results agree

    def search_with_records(self, queries: Sequence[StoreQuery]
                            ) -> tuple[list[list[ScoredChunk]], dict[str, DocumentRecord]]:
        return search_with_records(self, queries)

    def _search_arguments(self, query: StoreQuery) -> dict[str, Any]:
        terms = chunk_filter_terms(query.filter)
        flt = _server_filter(terms, chunk_filter_exclusions(query.filter))
        # Sparse IDF counts only the tenant's own chunks: another tenant's vocabulary must not shift scores.
        idf = models.SearchParams(idf=models.IdfCorpusParams(corpus=_server_filter(terms[:1])))
        dense = None if query.dense is None else [float(value) for value in query.dense]
        sparse = None if query.sparse is None else _sparse(query.sparse)
        if dense is not None and sparse is not None:
            candidates = prefetch_limit(query)
            return {
                "query": models.RrfQuery(rrf=models.Rrf(k=query.rrf_k)),
                "query_filter": flt,
                "prefetch": [
                    models.Prefetch(query=dense, using=DENSE, limit=candidates, filter=flt),
                    models.Prefetch(query=sparse, using=SPARSE, limit=candidates, filter=flt, params=idf),
                ],
            }
        if dense is not None:
            return {"query": dense, "using": DENSE, "query_filter": flt}
        return {"query": sparse, "using": SPARSE, "query_filter": flt, "search_params": idf}

    # -- documents ---------------------------------------------------------

    def put_document(self, record: DocumentRecord) -> None:
        point = models.PointStruct(id=record.point_id, vector={}, payload=record.payload())
        with store_errors("put_document"):
            self._client.upsert(self._documents, points=[point], wait=True)

    def get_documents(self, tenant: str, document_ids: Sequence[str]) -> dict[str, DocumentRecord]:
        ids: list[models.ExtendedPointId] = [DocumentRecord.make_point_id(tenant, doc_id) for doc_id in document_ids]
        with store_errors("get_documents"):
            found = self._client.retrieve(self._documents, ids, with_payload=True, with_vectors=False) if ids else []
        records = (record_from_payload(point.payload) for point in found)
        return {record.document_id: record for record in records if record.tenant == tenant}

    def list_documents(self, tenant: str, *, market: str | None = None, language: str | None = None,
                       kind: str | None = None, limit: int = 100, offset: str | None = None) -> DocumentPage:
        if limit < 1:
            raise InputError(f"limit must be at least 1, got {limit}")
        flt = _server_filter(document_filter_terms(tenant, market=market, language=language, kind=kind))
        with store_errors("list_documents"):
            page, next_id = self._client.scroll(self._documents, scroll_filter=flt, limit=limit,
                                                offset=parse_offset(offset), with_payload=True, with_vectors=False)
        return DocumentPage(records=[record_from_payload(point.payload) for point in page],
                            next_offset=None if next_id is None else str(next_id))

    def delete_document(self, tenant: str, document_id: str) -> None:
        selector = models.PointIdsList(points=[DocumentRecord.make_point_id(tenant, document_id)])
        with store_errors("delete_document"):
            self._client.delete(self._documents, points_selector=selector, wait=True)

    def close(self) -> None:
        with store_errors("close"):
            self._client.close()

