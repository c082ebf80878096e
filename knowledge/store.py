"""One store interface, two backends behind it, picked by the settings (``knowledge.index.open_store``).

- ``EdgeStore`` (``knowledge/qdrant_edge.py``): the Qdrant engine embedded in
  the process through ``qdrant-edge-py``; one folder per install. The default.
- ``ServerStore`` (``knowledge/qdrant_server.py``): a Qdrant server or cluster
  through ``qdrant-client`` (``POLYDESK_QDRANT_URL``); ``":memory:"`` gives
  qdrant-client's local mode, used as the server stand-in in congruence tests.

Backends only do primitive operations. Versioning (which version of a
document is live) is decided by ``KnowledgeIndex`` on top of them, so both
backends behave the same by construction.

Each backend keeps two collections: chunks (a named dense vector ``dense``
and a named sparse vector ``sparse`` with the IDF modifier, so the sparse
side scores like BM25) and documents (the catalogue, payload only).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

import numpy as np

from knowledge.schema import (
    Chunk,
    ChunkFilter,
    DocumentPage,
    DocumentRecord,
    ScoredChunk,
    SparseVector,
    StoreQuery,
    normalize_language,
    normalize_market,
)
from polydesk.diskspace import is_disk_full
from polydesk.errors import InputError, PolydeskError, StorageFullError, StoreError

DENSE = "dense"
SPARSE = "sparse"
FLAG = "flag"  # Chunk.flag: set on chunks kept out of generation
# Payload fields that get a keyword index: every filter the product uses.
INDEXED_FIELDS = ("tenant", "market", "language", "kind", "document_id", FLAG)
BATCH_SIZE = 256
DOCUMENT_INDEXED_FIELDS = ("tenant", "market", "language", "kind")
_MAX_TERM_ID = 2**32 - 1
T = TypeVar("T")


class KnowledgeStore(Protocol):
    """The operations every backend offers. All of them are scoped to a tenant."""

    def upsert_chunks(self, chunks: Sequence[Chunk], dense: Sequence[Sequence[float]],
                      sparse: Sequence[SparseVector]) -> None:
        """Write chunks with their vectors (point id = ``chunk.point_id``). Validated before writing."""
        ...

    def delete_chunks(self, tenant: str, document_id: str, *, except_version: int | None = None) -> None:
        """Delete the chunks of one document; with ``except_version``, all versions but that one."""
        ...

    def get_chunks(self, tenant: str, document_id: str, *, version: int | None = None) -> list[Chunk]:
        """All chunks of a document (optionally one version), ordered by version then position."""
        ...

    def count_chunks(self, flt: ChunkFilter) -> int: ...

    def search(self, query: StoreQuery) -> list[ScoredChunk]:
        """Dense, sparse or hybrid (RRF-fused) search within ``query.filter``; best first."""
        ...

    def search_batch(self, queries: Sequence[StoreQuery]) -> list[list[ScoredChunk]]:
        """Several searches in one call (one planned batch where the engine has one); results in order."""
        ...

    def search_with_records(self, queries: Sequence[StoreQuery]
                            ) -> tuple[list[list[ScoredChunk]], dict[str, DocumentRecord]]:
        """``search_batch`` and the catalogue records of the documents its hits come from, in one call: one
        round trip where the store is another process's (``search_with_records`` below, for the others)."""
        ...

    def put_document(self, record: DocumentRecord) -> None:
        """Create or replace a catalogue entry (one point: an atomic switch)."""
        ...

    def get_documents(self, tenant: str, document_ids: Sequence[str]) -> dict[str, DocumentRecord]: ...

    def list_documents(self, tenant: str, *, market: str | None = None, language: str | None = None,
                       kind: str | None = None, limit: int = 100, offset: str | None = None) -> DocumentPage:
        """A page of the catalogue in point-id order (stable); ``next_offset`` continues it."""
        ...

    def delete_document(self, tenant: str, document_id: str) -> None:
        """Remove a catalogue entry (its chunks are removed with ``delete_chunks``)."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------
# Shared by both backends: validation, filter terms, payload mapping, errors
# ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Match:
    """One payload condition: ``key`` equals one of ``values`` (empty: matches nothing)."""

    key: str
    values: tuple[str, ...] | tuple[int, ...]

    def value_list(self) -> list[str] | list[int]:
        return cast("list[str] | list[int]", list(self.values))


@dataclass(frozen=True, slots=True)
class Empty:
    """One payload condition: ``key`` is unset, null or an empty list (chunks written before it existed too)."""

    key: str


@dataclass(frozen=True, slots=True)
class AllOf:
    """One condition: all of ``terms`` hold (left out with ``must_not``: one version of one document)."""

    terms: tuple[Condition, ...]


Condition = Match | Empty | AllOf


def similarities(vectors: Sequence[Any], query: Sequence[float]) -> list[float]:
    """Cosine similarity of each returned dense vector (a list, or a {name: list} of named vectors) and the query."""
    if not vectors:
        return []
    rows = np.asarray([v.get(DENSE) if isinstance(v, dict) else v for v in vectors], dtype=np.float32)
    wanted = np.asarray(query, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1) * float(np.linalg.norm(wanted))
    return [float(x) for x in (rows @ wanted) / np.maximum(norms, 1e-12)]


def hits_of(points: Sequence[Any], query: StoreQuery, cosines: Mapping[Any, float] | None = None,
            chunks: dict[Any, Chunk] | None = None) -> list[ScoredChunk]:
    """An engine's scored points (``payload``, ``score``, ``vector``) as hits, with their cosine similarity to the
    query's dense vector when ``query.with_similarity``: from ``cosines`` (by point id) where the engine scored
    them, else computed from the points' vectors. ``chunks`` (by point id) are those already made, and the ones
    made here are added: the searches of one batch share them (a point found by several is made into a chunk once,
    and crosses a process once), and ``EdgeStore`` keeps them from one search to the next (chunks are frozen)."""
    similarity: list[float | None] = [None] * len(points)
    if query.with_similarity:
        similarity = ([cosines.get(p.id) for p in points] if cosines is not None
                      else list(similarities([p.vector for p in points], query.dense or [])))
    made = {} if chunks is None else chunks
    hits = []
    for point, cosine in zip(points, similarity, strict=True):
        chunk = made.get(point.id)
        if chunk is None:
            chunk = made[point.id] = chunk_from_payload(point.payload)
        hits.append(ScoredChunk(chunk=chunk, score=point.score, similarity=cosine))
    return hits


def search_with_records(store: KnowledgeStore, queries: Sequence[StoreQuery]
                        ) -> tuple[list[list[ScoredChunk]], dict[str, DocumentRecord]]:
    """``KnowledgeStore.search_with_records`` of a store in this process: its searches, then one catalogue read.
    The queries are of one tenant (the records are read in its catalogue)."""
    tenants = {query.filter.tenant for query in queries}
    if len(tenants) > 1:
        raise InputError(f"one batch of searches is of one tenant, got {len(tenants)}")
    found = store.search_batch(queries)
    if not queries:
        return found, {}
    documents = sorted({hit.chunk.document_id for hits in found for hit in hits})
    return found, store.get_documents(queries[0].filter.tenant, documents)


def prefetch_limit(query: StoreQuery) -> int:
    """How many candidates each side of a hybrid search hands to the fusion."""
    return query.candidates or max(query.limit * 4, 20)


def chunk_filter_terms(flt: ChunkFilter) -> list[Condition]:
    """The conditions of a chunk filter; the tenant always comes first."""
    terms: list[Condition] = [Match("tenant", (flt.tenant,))]
    try:
        if flt.markets is not None:
            terms.append(Match("market", tuple(normalize_market(value) for value in flt.markets)))
        if flt.languages is not None:
            terms.append(Match("language", tuple(normalize_language(value) for value in flt.languages)))
    except ValueError as exc:
        raise InputError(f"invalid search filter: {exc}") from exc
    if flt.kinds is not None:
        terms.append(Match("kind", tuple(flt.kinds)))
    if flt.document_ids is not None:
        terms.append(Match("document_id", tuple(flt.document_ids)))
    if flt.unflagged_only:
        terms.append(Empty(FLAG))
    return terms


def chunk_filter_exclusions(flt: ChunkFilter) -> list[Condition]:
    """The conditions a chunk of the filter must not meet: the versions it leaves out."""
    return [AllOf(tuple(document_chunk_terms(flt.tenant, document_id, version)))
            for document_id, version in flt.except_versions]


def document_filter_terms(tenant: str, *, market: str | None, language: str | None, kind: str | None
                          ) -> list[Condition]:
    return chunk_filter_terms(ChunkFilter(
        tenant=tenant,
        markets=None if market is None else (market,),
        languages=None if language is None else (language,),
        kinds=None if kind is None else (kind,),
    ))


def document_chunk_terms(tenant: str, document_id: str, version: int | None = None) -> list[Condition]:
    terms: list[Condition] = [Match("tenant", (tenant,)), Match("document_id", (document_id,))]
    if version is not None:
        terms.append(Match("version", (version,)))
    return terms


def _dense_problem(vector: Sequence[float], dim: int) -> str | None:
    try:
        values = np.asarray(vector, dtype=np.float64)
    except (TypeError, ValueError):
        return "dense vector is not a sequence of numbers"
    if values.ndim != 1:
        return "dense vector is not a sequence of numbers"
    if len(values) != dim:
        return f"dense vector has {len(values)} values, the index expects {dim}"
    if not np.isfinite(values).all():
        return "dense vector has a non-finite value (NaN or infinity)"
    return None


def _sparse_problem(vector: SparseVector) -> str | None:
    try:
        if len(set(vector.indices)) != len(vector.indices):
            return "sparse vector repeats an index"
        if any(not 0 <= index <= _MAX_TERM_ID for index in vector.indices):
            return "sparse vector has an index outside 0..2**32-1"
        if not all(math.isfinite(value) for value in vector.values):
            return "sparse vector has a non-finite value (NaN or infinity)"
    except (TypeError, AttributeError):
        return "sparse vector is not a SparseVector of numbers"
    return None


def validate_upsert(chunks: Sequence[Chunk], dense: Sequence[Sequence[float]],
                    sparse: Sequence[SparseVector], *, dim: int) -> None:
    """Refuse the whole batch if any chunk is unfit: the engines would write the valid part of it."""
    if not len(chunks) == len(dense) == len(sparse):
        raise InputError(f"upsert needs one dense and one sparse vector per chunk: {len(chunks)} chunks, "
                         f"{len(dense)} dense, {len(sparse)} sparse; nothing was written")
    for number, (chunk, dense_vector, sparse_vector) in enumerate(zip(chunks, dense, sparse, strict=True)):
        problem = _dense_problem(dense_vector, dim) or _sparse_problem(sparse_vector)
        if problem:
            raise InputError(f"chunk #{number} (tenant {chunk.tenant!r}, document {chunk.document_id!r}, "
                             f"version {chunk.version}, position {chunk.position}): {problem}; nothing was written")


def validate_queries(queries: Sequence[StoreQuery], *, dim: int) -> None:
    """``validate_query`` for each; a dense vector that several queries share (the same list) is checked once."""
    checked: set[int] = set()
    for query in queries:
        validate_query(query, dim=dim, dense_checked=id(query.dense) in checked)
        checked.add(id(query.dense))


def validate_query(query: StoreQuery, *, dim: int, dense_checked: bool = False) -> None:
    problem = None
    if query.dense is not None and not dense_checked:
        problem = _dense_problem(query.dense, dim)
    if problem is None and query.sparse is not None:
        problem = _sparse_problem(query.sparse)
    if problem:
        raise InputError(f"invalid search query: {problem}")
    if query.rrf_k < 1:
        raise InputError(f"invalid search query: rrf_k must be at least 1, got {query.rrf_k}")


def parse_offset(offset: str | None) -> str | None:
    if offset is None:
        return None
    try:
        return str(uuid.UUID(offset))
    except ValueError as exc:
        raise InputError(f"{offset!r} is not a page offset returned by list_documents") from exc


_CHUNK_REQUIRED = frozenset(name for name, info in Chunk.model_fields.items() if info.is_required())


def chunk_from_payload(payload: Mapping[str, Any] | None) -> Chunk:
    """A chunk read back from the store. Its payload was validated when it was written (``Chunk.payload``), so a
    complete one is not validated again: a search reads dozens of chunks for every answer."""
    if payload and payload.keys() >= _CHUNK_REQUIRED:
        return Chunk.model_construct(**payload)
    return Chunk.model_validate(payload or {})


def record_from_payload(payload: Mapping[str, Any] | None) -> DocumentRecord:
    return DocumentRecord.model_validate(payload or {})


def in_batches(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@contextmanager
def store_errors(operation: str) -> Iterator[None]:
    """Report any backend failure as a ``StoreError``; our own errors pass through unchanged."""
    try:
        yield
    except PolydeskError:
        raise
    except Exception as exc:
        if is_disk_full(exc):  # a Qdrant server whose disk is full: storage_full, not a passing outage
            raise StorageFullError.from_exception(operation, exc) from exc
        raise StoreError.from_exception(operation, exc) from exc
