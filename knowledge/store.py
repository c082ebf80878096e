"""One store interface, two backends (see CONVENTIONS: qdrant-client).

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

from collections.abc import Sequence
from typing import Protocol

from knowledge.schema import Chunk, ChunkFilter, DocumentPage, DocumentRecord, ScoredChunk, SparseVector, StoreQuery

DENSE = "dense"
SPARSE = "sparse"
# Payload fields that get a keyword index: every filter the product uses.
INDEXED_FIELDS = ("tenant", "market", "language", "kind", "document_id")


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
