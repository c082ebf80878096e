"""The knowledge index: embedder + lexical encoder + store, with versioned documents.

Writing a new version of a document never leaves a moment where both
versions, or neither, are searchable:

1. the new version's chunks are written under new point ids (invisible: the
   catalogue still names the old version);
2. the catalogue entry is switched to the new version (one point, atomic);
3. the old version's chunks are deleted.

Searches drop any chunk whose version is not the one the catalogue names, so
steps 1 and 3 are invisible to readers. A crash between steps leaves only
invisible chunks, removed the next time the document is written (before its
new chunks: a crashed write of the same version number leaves chunks under
the very ids the next write uses).

Example:
    >>> index = KnowledgeIndex.open(Settings())                   # doctest: +SKIP
    >>> index.search("Rückgabefrist", tenant="tidewell", market="DE")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from knowledge.batching import QueryBatcher
from knowledge.embedder import Embedder, create_embedder
from knowledge.schema import (
    ANY_MARKET,
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
from knowledge.sparse import SparseEncoder
from knowledge.store import KnowledgeStore, prefetch_limit
from polydesk.errors import InputError
from polydesk.settings import Settings

SearchMode = Literal["hybrid", "dense", "sparse"]
_SPARE_HITS = 4  # hits asked for beyond the wanted ones, for chunks of other versions


def _wide(query: StoreQuery) -> StoreQuery:
    """``query`` asking for enough hits that chunks of other versions cannot crowd out the live ones."""
    return replace(query, limit=query.limit * 2 + 4)


def _without_versions(query: StoreQuery, hits: list[ScoredChunk], live: dict[str, DocumentRecord]) -> StoreQuery:
    """``query`` leaving out the versions of ``hits`` that are not the live ones of their documents."""
    left_out = {(hit.chunk.document_id, hit.chunk.version) for hit in hits
                if (record := live.get(hit.chunk.document_id)) is None or record.version != hit.chunk.version}
    if not left_out:
        return query
    # The versions left out before cannot be among the hits: the search did not return them.
    flt = replace(query.filter, except_versions=query.filter.except_versions + tuple(sorted(left_out)))
    return replace(query, filter=flt)


@dataclass(frozen=True, slots=True)
class EncodedChunks:
    dense: np.ndarray
    sparse: list[SparseVector]

    def __getitem__(self, part: slice) -> EncodedChunks:
        return EncodedChunks(dense=self.dense[part], sparse=self.sparse[part])


def open_store(settings: Settings, *, dim: int) -> KnowledgeStore:
    """The embedded Qdrant engine in ``data_dir``, or a Qdrant server when ``qdrant_url`` is set, or the embedded
    engine another process owns (``store_socket``: a worker of ``polydesk serve --workers N``; with
    ``store_replicas`` it reads its own copy, ``knowledge.replica``)."""
    if settings.store_socket is not None:
        from knowledge.replica import open_shared

        return open_shared(settings.store_socket, dim=dim, search_threads=settings.search_threads,
                           reserve_bytes=int(settings.storage_reserve_mb * 1024 * 1024))
    if settings.qdrant_url:
        from knowledge.qdrant_server import ServerStore

        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return ServerStore(url=settings.qdrant_url, api_key=api_key, dim=dim,
                           collection_prefix=settings.collection_prefix)
    from knowledge.qdrant_edge import EdgeStore

    return EdgeStore(path=settings.qdrant_path, dim=dim, collection_prefix=settings.collection_prefix,
                     reserve_bytes=int(settings.storage_reserve_mb * 1024 * 1024),
                     search_threads=settings.search_threads)


class KnowledgeIndex:
    def __init__(self, *, store: KnowledgeStore, embedder: Embedder, sparse: SparseEncoder | None = None,
                 rrf_k: int = 10) -> None:
        self.store = store
        self.embedder = embedder
        self.sparse = sparse or SparseEncoder()
        self.rrf_k = rrf_k

    @classmethod
    def open(cls, settings: Settings, *, embedder: Embedder | None = None) -> KnowledgeIndex:
        """The configured store and embedder; an embedder made here has its query embeddings batched across
        concurrent callers (``knowledge.batching.QueryBatcher``): the index answers many requests at once."""
        embedder = embedder or QueryBatcher(create_embedder(settings), max_batch=settings.embed_batch_size)
        return cls(store=open_store(settings, dim=embedder.dim), embedder=embedder, rrf_k=settings.rrf_k)

    def close(self) -> None:
        self.store.close()

    # -- writing -------------------------------------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> EncodedChunks:
        return EncodedChunks(dense=self.embedder.embed_passages(texts), sparse=self.sparse.encode_documents(texts))

    def get_document(self, tenant: str, document_id: str) -> DocumentRecord | None:
        return self.store.get_documents(tenant, [document_id]).get(document_id)

    def write_document(self, record: DocumentRecord, chunks: Sequence[Chunk], encoded: EncodedChunks) -> None:
        """Make ``record.version`` with these chunks the live version of the document (see module docstring)."""
        if len(chunks) != len(encoded.sparse) or len(chunks) != encoded.dense.shape[0]:
            raise InputError("each chunk needs exactly one dense and one sparse vector")
        if any(c.tenant != record.tenant or c.document_id != record.document_id or c.version != record.version
               for c in chunks):
            raise InputError("every chunk must belong to the record's tenant, document and version")
        previous = self.get_document(record.tenant, record.document_id)
        if previous is not None and previous.version == record.version:
            raise InputError(f"version {record.version} of {record.document_id} is already live")
        keep = previous.version if previous is not None else None
        # A write of this version that crashed (a killed process) left chunks under the ids about to be used, maybe
        # more of them than this write has: gone first, else they would go live with this record, mixing contents.
        self.store.delete_chunks(record.tenant, record.document_id, except_version=keep)
        try:
            self.store.upsert_chunks(chunks, encoded.dense.tolist(), encoded.sparse)
            self.store.put_document(record)
        except BaseException:
            # Nothing new became visible; remove what was written of the new version.
            self.store.delete_chunks(record.tenant, record.document_id, except_version=keep)
            raise
        self.store.delete_chunks(record.tenant, record.document_id, except_version=record.version)

    def delete_document(self, tenant: str, document_id: str) -> bool:
        """Remove a document and all its chunks. False when there was no such document."""
        found = self.get_document(tenant, document_id) is not None
        self.store.delete_document(tenant, document_id)  # invisible from here on
        self.store.delete_chunks(tenant, document_id)
        return found

    def embed_query(self, query: str) -> np.ndarray:
        """The query's dense vector (normalised), to pass to several ``search`` calls."""
        return self.embed_queries([query])[0]

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Several queries' vectors in one pass (e.g. a message, and the message with its context)."""
        return self.embedder.embed_queries(list(queries))

    def expecting_query(self, query: str) -> AbstractContextManager[None]:
        """While inside, a request waiting for its turn will embed ``query``: the batched embedder may embed it
        in the run of a request before it (``QueryBatcher.expecting``)."""
        return self.embedder.expecting(query) if isinstance(self.embedder, QueryBatcher) else nullcontext()

    # -- reading -------------------------------------------------------------------------------------------------

    def get_chunks(self, tenant: str, document_id: str, *, version: int | None = None) -> list[Chunk]:
        """A document's chunks in order (of one version, or of all that are stored)."""
        return self.store.get_chunks(tenant, document_id, version=version)

    def ping(self) -> None:
        """Read the store once (readiness): raises when it cannot be read."""
        self.store.count_chunks(ChunkFilter(tenant="polydesk-ping"))

    def list_documents(self, tenant: str, *, market: str | None = None, language: str | None = None,
                       kind: str | None = None, limit: int = 100, offset: str | None = None) -> DocumentPage:
        return self.store.list_documents(tenant, market=market, language=language, kind=kind, limit=limit,
                                         offset=offset)

    def search(self, query: str, *, tenant: str, market: str | None = None, language: str | None = None,
               kinds: Sequence[str] | None = None, top_k: int = 5, mode: SearchMode = "hybrid",
               query_vector: Sequence[float] | None = None, with_similarity: bool = False,
               include_flagged: bool = False) -> list[ScoredChunk]:
        """Best chunks for ``query`` within a tenant; a market also admits market-independent (``*``) chunks.

        Flagged chunks (``Chunk.flag``: e.g. text that reads as instructions to an assistant) are kept out unless
        ``include_flagged``, in the store's filter, so the top ``top_k`` are the best unflagged ones.
        ``query_vector`` is the query's embedding when the caller already has it (``embed_query``), so one
        embedding serves several searches. Dense scores are cosine similarities; hybrid scores are fused ranks.
        ``with_similarity`` also gives every hit its cosine similarity (``ScoredChunk.similarity``), hybrid
        hits included, so a caller needs no separate dense search to judge how well a hit matches.
        """
        return self.search_modes(query, [(mode, with_similarity)], tenant=tenant, market=market, language=language,
                                 kinds=kinds, top_k=top_k, query_vector=query_vector,
                                 include_flagged=include_flagged)[0]

    def search_modes(self, query: str, modes: Sequence[tuple[SearchMode, bool]], *, tenant: str,
                     market: str | None = None, language: str | None = None, kinds: Sequence[str] | None = None,
                     top_k: int = 5, query_vector: Sequence[float] | None = None,
                     include_flagged: bool = False) -> list[list[ScoredChunk]]:
        """``search`` in several (mode, with_similarity) at once: one store call and one catalogue read for all
        (the answer pipeline asks for the hybrid and the dense ranking of every message)."""
        if not query.strip():
            raise InputError("the query is empty")
        try:
            flt = ChunkFilter(
                tenant=tenant,
                markets=(normalize_market(market), ANY_MARKET) if market else None,
                languages=(normalize_language(language),) if language else None,
                kinds=tuple(kinds) if kinds else None,
                unflagged_only=not include_flagged,
            )
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        dense = None
        if any(mode != "sparse" for mode, _ in modes):
            dense = list(query_vector) if query_vector is not None else self.embed_query(query).tolist()
        sparse = self.sparse.encode_query(query) if any(mode != "dense" for mode, _ in modes) else None
        if sparse is not None and not sparse.indices:
            sparse = None  # no lexical term (e.g. only punctuation): dense alone, or nothing
        queries: list[StoreQuery | None] = []
        for mode, with_similarity in modes:
            wanted_dense = dense if mode != "sparse" else None
            wanted_sparse = sparse if mode != "dense" else None
            queries.append(None if wanted_dense is None and wanted_sparse is None else StoreQuery(
                filter=flt, limit=top_k, dense=wanted_dense, sparse=wanted_sparse, rrf_k=self.rrf_k,
                with_similarity=with_similarity and wanted_dense is not None))
        found = iter(self._search_live([q for q in queries if q is not None]))
        results = [next(found) if q is not None else [] for q in queries]
        return [self._exact_identifiers_first(query, hits) if mode != "dense" else hits
                for (mode, _), hits in zip(modes, results, strict=True)]

    def _exact_identifiers_first(self, query: str, hits: list[ScoredChunk]) -> list[ScoredChunk]:
        """A customer who types an order number or a product code means that one: chunks naming it go first.

        Rank fusion alone can let a near-identical string outrank the exact one (dense vectors barely tell
        ``TW-4417`` from ``TW-4471``); the lexical prefetch has already brought the exact matches into the hits.
        """
        wanted = self.sparse.identifiers(query)
        if not wanted:
            return hits
        exact = [h for h in hits if self.sparse.mentions(h.chunk.text, wanted)]
        return exact + [h for h in hits if h not in exact] if exact else hits

    def _search_live(self, queries: Sequence[StoreQuery], *, attempts: int = 3) -> list[list[ScoredChunk]]:
        """Hits of live versions only, per query.

        Chunks of versions that are not live (a document being written or replaced) can take places: a search asks
        for a few more hits than wanted, and when such chunks did fill its places, again for many more and without
        the versions they belong to (a large upload that repeats a live answer could otherwise fill every place,
        and every candidate the fusion gets). Every hit read back costs (most of a search's time is turning
        payloads into chunks), so the common case reads few. The fusion's candidates stay those of the wide search,
        so, unless versions were left out, the ranking does not depend on which was run.

        A version switch between the search and the catalogue read makes the hits of the old version stale
        while the new version's chunks were not searched: then the searches run again (rare, bounded).
        """
        if not queries:
            return []
        asked = [replace(q, limit=q.limit + _SPARE_HITS, candidates=q.candidates or prefetch_limit(_wide(q)))
                 for q in queries]
        found: list[list[ScoredChunk]] = []
        for _ in range(attempts):
            raws, live = self.store.search_with_records(asked)
            found = [[h for h in raw if (rec := live.get(h.chunk.document_id)) and rec.version == h.chunk.version]
                     for raw in raws]
            stale = any((rec := live.get(h.chunk.document_id)) and rec.version > h.chunk.version
                        for raw in raws for h in raw)
            crowded = [len(hits) < q.limit and len(raw) == a.limit
                       for hits, raw, q, a in zip(found, raws, queries, asked, strict=True)]
            if not stale and not any(crowded):
                break
            asked = [_without_versions(replace(a, limit=max(a.limit, _wide(q).limit)), raw, live) if short else a
                     for q, a, short, raw in zip(queries, asked, crowded, raws, strict=True)]
        return [hits[: query.limit] for hits, query in zip(found, queries, strict=True)]
