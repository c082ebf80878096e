"""Ingestion speed: parse + chunk pages per second, and embedding inside the pipeline vs the raw embedder.

1. parse + chunk (no model): 100 pages as one Markdown, one HTML and one TXT
   file, each parsed with unstructured and chunked; pages per second per
   format. A page is ~3,000 characters in one of ten languages: a heading,
   about eight paragraphs of three sentence pairs, and a three-item list.
2. embedding: the demo brand's chunks embedded by the raw embedder in
   batches, against the whole pipeline ingesting the demo brand into a fresh
   store (model load excluded from both); chunks per second and their ratio.

    .venv/bin/python -m bench.ingest_speed [--runs 3] [--pages 100] [--skip-embedding]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.report import machine, write_result
from ingestion.chunking import Chunker
from ingestion.filetypes import FileType
from ingestion.parsing import parse_document

PAGE_CHARS = 3000
PARAGRAPHS = {
    "en": "Orders over $75 ship free with UPS or USPS and arrive in 3–5 business days. Returns are accepted within 30 days.",
    "de": "Ab 50 € versenden wir kostenlos mit DHL, die Lieferung dauert 2–3 Werktage. Rückgabe innerhalb von 30 Tagen.",
    "ja": "8,000円以上のご注文は送料無料です。ヤマト運輸または佐川急便で1〜3営業日以内にお届けします。返品は到着後8日以内です。",
    "id": "Gratis ongkir untuk pembelian di atas Rp 500.000 dengan JNE, J&T, atau SiCepat. Pengembalian dalam 14 hari.",
    "th": "ส่งฟรีเมื่อซื้อครบ ฿1,000 จัดส่งโดย Kerry Express หรือ Flash Express ภายใน 2–4 วันทำการ คืนสินค้าได้ภายใน 14 วัน",
    "vi": "Miễn phí vận chuyển cho đơn từ 500.000₫ qua Giao Hàng Nhanh hoặc Viettel Post, giao trong 3–6 ngày làm việc.",
    "zh": "滿 NT$2,000 免運費，黑貓宅急便或 7-ELEVEN 超商取貨，2–4 個工作天送達。商品享有 7 天鑑賞期。",
    "ar": "الشحن مجاني للطلبات فوق 200 ريال عبر أرامكس أو SMSA، ويصل الطلب خلال 3–7 أيام عمل. يمكن الإرجاع خلال 15 يومًا.",
    "es": "Envío gratis en pedidos superiores a 50 € con Correos o SEUR, entrega en 3–5 días laborables. Devoluciones en 30 días.",
    "pt": "Frete grátis acima de R$ 299 pelos Correios ou Jadlog, entrega em 5–10 dias úteis. Devolução em até 7 dias corridos.",
}


def _page_sections(pages: int) -> list[tuple[str, list[str], list[str]]]:
    """(heading, paragraphs, list items) for each page, cycling through the languages."""
    languages = list(PARAGRAPHS)
    sections = []
    for page in range(pages):
        text = PARAGRAPHS[languages[page % len(languages)]]
        paragraphs, size = [], 0
        while size < PAGE_CHARS - 400:  # ~8 paragraphs of three sentence pairs, like a policy page
            n = len(paragraphs)
            paragraphs.append(f"{text} ({page}.{n}.1) {text} ({page}.{n}.2) {text} ({page}.{n}.3)")
            size += len(paragraphs[-1])
        sections.append((f"Section {page + 1}", paragraphs, [f"TW-{4417 + i} {text[:60]}" for i in range(3)]))
    return sections


def write_corpus(folder: Path, pages: int) -> dict[FileType, Path]:
    sections = _page_sections(pages)
    md = "\n\n".join(f"## {h}\n\n" + "\n\n".join(ps) + "\n\n" + "\n".join(f"- {i}" for i in items)
                     for h, ps, items in sections)
    html = "<html><body>" + "".join(
        f"<h2>{h}</h2>" + "".join(f"<p>{p}</p>" for p in ps) + "<ul>" + "".join(f"<li>{i}</li>" for i in items)
        + "</ul>" for h, ps, items in sections) + "</body></html>"
    txt = "\n\n".join(f"{h}\n\n" + "\n\n".join(ps) + "\n\n" + "\n".join(items) for h, ps, items in sections)
    files = {FileType.MARKDOWN: folder / "corpus.md", FileType.HTML: folder / "corpus.html",
             FileType.TEXT: folder / "corpus.txt"}
    for file_type, content in zip(files, (md, html, txt), strict=True):
        files[file_type].write_text(content, encoding="utf-8")
    return files


def parse_speed(pages: int, runs: int) -> dict[str, float]:
    chunker = Chunker()
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        files = write_corpus(Path(folder), pages)
        parse_document(files[FileType.TEXT], FileType.TEXT)  # warm-up: imports, tokenizer set-up
        for file_type, path in files.items():
            rates = []
            for _ in range(runs):
                started = time.perf_counter()
                chunker.chunk(parse_document(path, file_type).blocks)
                rates.append(pages / (time.perf_counter() - started))
            out[file_type.value] = round(statistics.median(rates), 1)
    return out


def embedding_speed(runs: int) -> dict[str, float]:
    from ingestion.pipeline import Ingestor
    from ingestion.sources import SourceOptions
    from knowledge.embedder import create_embedder
    from knowledge.index import KnowledgeIndex
    from polydesk.settings import Settings

    demo = Path(__file__).resolve().parents[1] / "demo" / "tidewell" / "knowledge"
    settings = Settings()
    embedder = create_embedder(settings)
    raw_rates, pipeline_rates = [], []
    texts: list[str] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            run_settings = settings.model_copy(update={"data_dir": Path(folder)})
            ingestor = Ingestor(index=KnowledgeIndex.open(run_settings, embedder=embedder), settings=run_settings)
            started = time.perf_counter()
            report = ingestor.ingest([demo], SourceOptions(tenant="bench"))
            pipeline_rates.append(report.totals()["chunks"] / (time.perf_counter() - started))
            if not texts:
                texts = [c.text for r in ingestor.index.list_documents("bench", limit=1000).records
                         for c in ingestor.index.store.get_chunks("bench", r.document_id)]
            ingestor.index.close()
        started = time.perf_counter()
        embedder.embed_passages(texts)
        raw_rates.append(len(texts) / (time.perf_counter() - started))
    raw, pipeline = statistics.median(raw_rates), statistics.median(pipeline_rates)
    return {"chunks": len(texts), "raw_chunks_per_s": round(raw, 1), "pipeline_chunks_per_s": round(pipeline, 1),
            "ratio": round(pipeline / raw, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--skip-embedding", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {"pages": args.pages, "runs": args.runs, "machine": machine()}
    result["parse_chunk_pages_per_s"] = parse_speed(args.pages, args.runs)
    print("parse + chunk, pages/s:", result["parse_chunk_pages_per_s"])
    if not args.skip_embedding:
        result["embedding"] = embedding_speed(args.runs)
        print("embedding:", result["embedding"])
    write_result("ingest_speed", result)


if __name__ == "__main__":
    main()
