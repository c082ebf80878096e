"""llama-index out: polydesk's knowledge index as a llama-index retriever.

``PolydeskRetriever`` is a llama-index ``BaseRetriever`` over ``KnowledgeIndex.search``: the same call
``polydesk search`` makes (hybrid dense + lexical by default), within one tenant, optionally one market (which
also admits market-independent ``*`` content) and one language, flagged chunks left out. Each hit is a
``NodeWithScore`` whose ``TextNode`` holds the chunk's text, its point id as node id, and metadata
``document_id``, ``version``, ``market``, ``language``, ``title``, ``kind``, ``section``, ``position`` and
``chunk_id``; the score is the search's (fused ranks for hybrid, cosine for dense).

    >>> with PolydeskRetriever.from_settings(settings, tenant="tidewell", market="DE") as retriever:  # doctest: +SKIP
    ...     nodes = retriever.retrieve("Wie lange habe ich Zeit für eine Rückgabe?")
    ...     engine = RetrieverQueryEngine.from_args(retriever, response_mode="no_text")
    ...     response = engine.query("Rückgabefrist")   # response.source_nodes: the same hits

``from_settings`` opens the index (the embedded store's folder lock included) and the retriever closes it
(``close()`` or the ``with`` block); a retriever made on an open ``KnowledgeIndex`` leaves it to its owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from knowledge.index import KnowledgeIndex, SearchMode
from knowledge.schema import ScoredChunk, normalize_language, normalize_market, normalize_tenant
from polydesk.errors import InputError
from polydesk.settings import Settings

# Metadata that only identifies a chunk: kept from the text an embedding model or an LLM sees.
_ID_KEYS = ["chunk_id", "version", "position"]


class PolydeskRetriever(BaseRetriever):
    """Retrieve from polydesk's index for one tenant (and market, language, kinds)."""

    def __init__(self, index: KnowledgeIndex, *, tenant: str, market: str | None = None, language: str | None = None,
                 kinds: Sequence[str] | None = None, top_k: int = 5, mode: SearchMode = "hybrid",
                 callback_manager: CallbackManager | None = None, owns_index: bool = False) -> None:
        try:
            self.tenant = normalize_tenant(tenant)
            self.market = normalize_market(market) if market else None
            self.language = normalize_language(language) if language else None
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        if not 1 <= top_k <= 100:
            raise InputError(f"top_k must be 1 to 100, not {top_k}")
        if mode not in ("hybrid", "dense", "sparse"):
            raise InputError(f"mode must be hybrid, dense or sparse, not {mode!r}")
        self.index = index
        self.kinds = tuple(kinds) if kinds else None
        self.top_k = top_k
        self.mode: SearchMode = mode
        self._owns_index = owns_index
        super().__init__(callback_manager=callback_manager)

    @classmethod
    def from_settings(cls, settings: Settings, *, tenant: str, market: str | None = None,
                      language: str | None = None, kinds: Sequence[str] | None = None, top_k: int = 5,
                      mode: SearchMode = "hybrid") -> PolydeskRetriever:
        """A retriever on the configured index, which it opens here and closes in ``close()``."""
        index = KnowledgeIndex.open(settings)
        try:
            return cls(index, tenant=tenant, market=market, language=language, kinds=kinds, top_k=top_k, mode=mode,
                       owns_index=True)
        except BaseException:
            index.close()
            raise

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.index.search(query_bundle.query_str, tenant=self.tenant, market=self.market,
                                 language=self.language, kinds=self.kinds, top_k=self.top_k, mode=self.mode)
        return [to_node(hit) for hit in hits]

    def close(self) -> None:
        """Close the index if this retriever opened it (``from_settings``); else nothing."""
        if self._owns_index:
            self._owns_index = False
            self.index.close()

    def __enter__(self) -> PolydeskRetriever:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def to_node(hit: ScoredChunk) -> NodeWithScore:
    """One search hit as llama-index sees a retrieved node."""
    chunk = hit.chunk
    metadata: dict[str, Any] = {
        "document_id": chunk.document_id, "version": chunk.version, "market": chunk.market,
        "language": chunk.language, "title": chunk.title, "kind": chunk.kind, "section": chunk.section,
        "position": chunk.position, "chunk_id": chunk.point_id,
    }
    if chunk.page is not None:
        metadata["page"] = chunk.page
    node = TextNode(id_=chunk.point_id, text=chunk.text, metadata=metadata,
                    excluded_embed_metadata_keys=list(_ID_KEYS), excluded_llm_metadata_keys=list(_ID_KEYS))
    return NodeWithScore(node=node, score=hit.score)
