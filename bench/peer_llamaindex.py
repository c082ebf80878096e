"""The peer of the throughput benchmark: a question-answering service as the llama-index tutorials write one.

FastAPI + a ``VectorStoreIndex`` over ``QdrantVectorStore`` (qdrant-client local mode, a folder) + the same
multilingual-e5-small through llama-index's ``HuggingFaceEmbedding`` (sentence-transformers, torch), returning
the top chunk of a question: no personas, no escalation, no guardrails, no conversation state. The knowledge is
the demo brand's, as polydesk parsed it (one llama-index ``Document`` per polydesk document, its chunks' text in
order), chunked again by llama-index's default splitter.

    .venv/bin/python -m bench.peer_llamaindex --documents docs.jsonl --data-dir DIR --port 8766

``bench.throughput`` starts it as its own process and loads it side by side with ``polydesk serve``.
"""

from __future__ import annotations

import polydesk  # noqa: F401  (offline switches first: nothing is downloaded)

# isort: split
import argparse
import json
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from knowledge.e5_convert import ensure_converted
from polydesk.settings import Settings


class Question(BaseModel):
    message: str
    market: str | None = None
    channel: str | None = None


class Answer(BaseModel):
    answer: str
    score: float | None
    document_id: str | None


def build_app(documents: Path, data_dir: Path, model_dir: Path) -> FastAPI:
    """The tutorial service: index the documents at start-up, answer with the best chunk."""
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core import Settings as LlamaSettings
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    LlamaSettings.embed_model = HuggingFaceEmbedding(model_name=str(model_dir), device="cpu",
                                                     query_instruction="query: ", text_instruction="passage: ")
    LlamaSettings.llm = None  # retrieval only: no model answers
    rows = [json.loads(line) for line in documents.read_text(encoding="utf-8").splitlines() if line.strip()]
    docs = [Document(text=row["text"], metadata={"document_id": row["document_id"]}) for row in rows]
    client = QdrantClient(path=str(data_dir / "qdrant-local"))
    store = QdrantVectorStore(client=client, collection_name="knowledge")
    index = VectorStoreIndex.from_documents(docs, storage_context=StorageContext.from_defaults(vector_store=store))
    retriever = index.as_retriever(similarity_top_k=1)
    app = FastAPI(title="llama-index tutorial service")

    @app.get("/readyz")
    def ready() -> dict[str, Any]:
        return {"status": "ready", "documents": len(docs)}

    @app.post("/answer", response_model=Answer)
    def answer(question: Question) -> Answer:
        nodes = retriever.retrieve(question.message)
        if not nodes:
            return Answer(answer="", score=None, document_id=None)
        best = nodes[0]
        return Answer(answer=best.node.get_content(), score=best.score,
                      document_id=best.node.metadata.get("document_id"))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=Path, required=True, help="JSONL: document_id, text")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    model_dir = ensure_converted(Settings(_env_file=None).model_cache_dir)  # type: ignore[call-arg]
    app = build_app(args.documents, args.data_dir, model_dir)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
