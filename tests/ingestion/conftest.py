"""Sample sources of every supported type, written fresh for each test; an embedded Redis per test module."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from polydesk.redisdb import connect_redis
from polydesk.settings import Settings

EML = """From: Tidewell Support <support@tidewell.example>
To: pelanggan@contoh.co.id
Subject: Jadwal pengiriman akhir tahun
Date: Mon, 14 Dec 2026 09:00:00 +0700
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Halo,

Pesanan yang dibuat sebelum 20 Desember akan tiba sebelum tahun baru. Gratis ongkir untuk pembelian di atas Rp 500.000.

Salam, Tim Tidewell
"""


def write_pdf(path: Path, lines: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=16)
    pdf.cell(0, 10, lines[0], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for line in lines[1:]:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def write_docx(path: Path) -> Path:
    from docx import Document

    document = Document()
    document.add_heading("Harbor Spinner 55 (TW-2210)", level=1)
    document.add_heading("Pflege", level=2)
    document.add_paragraph("Die Schale aus Polycarbonat mit einem feuchten Tuch reinigen, keine Scheuermittel verwenden.")
    document.add_paragraph("TSA-Schloss vor jeder Reise prüfen", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Maß", "Wert"
    table.rows[1].cells[0].text, table.rows[1].cells[1].text = "Gewicht", "2,9 kg"
    document.save(str(path))
    return path


def write_xlsx(path: Path) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Question", "Answer", "Market", "Language"])
    sheet.append(["¿Hacen pedidos al por mayor?", "Sí, a partir de 50 unidades: escriba a b2b@tidewell.example.", "MX", "es"])
    workbook.save(str(path))
    return path


@pytest.fixture
def make_pdf() -> Callable[[Path, list[str]], Path]:
    return write_pdf


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A folder with one file of every supported type, in ten languages."""
    root = tmp_path / "knowledge"
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "polydesk.yaml").write_text("kind: policy\nmarket: DE\n")
    (root / "policies" / "versand.md").write_text(
        "# Versand und Rückgabe\n\n## Versand\n\nAb 50 € versenden wir kostenlos mit DHL.\n\n"
        "## Rückgabe\n\n- Rückgabe innerhalb von 30 Tagen\n- Kostenloses Rücksendeetikett\n", encoding="utf-8")
    (root / "th.html").write_text(
        "<html><body><h1>การจัดส่ง</h1><p>ส่งฟรีเมื่อซื้อครบ ฿1,000 จัดส่งโดย Kerry Express ภายใน 2–4 วันทำการ</p>"
        "</body></html>", encoding="utf-8")
    (root / "jp.txt").write_text("【返品について】\n\n返品は商品到着後8日以内にご連絡ください。送料無料は8,000円以上です。\n",
                                 encoding="utf-8")
    (root / "id.eml").write_text(EML, encoding="utf-8")
    write_pdf(root / "manual.pdf", ["Drift 40L Backpack", "The TW-4417 fits a 16 inch laptop in its padded sleeve."])
    write_docx(root / "pflege.docx")
    (root / "faq.csv").write_text(
        "question,answer,market,language\n"
        "Quanto custa o frete?,Frete grátis acima de R$ 299.,BR,pt\n"
        "Phí vận chuyển bao nhiêu?,Miễn phí cho đơn từ 500.000₫.,VN,vi\n", encoding="utf-8")
    write_xlsx(root / "wholesale.xlsx")
    conversations = [
        {"conversation_id": "c-1", "market": "TH", "customer_id": "cust-1", "channel": "line",
         "turns": [{"role": "customer", "text": "สั่งของแล้วยังไม่ได้รับค่ะ โทร 081-234-5678 ได้เลย"},
                   {"role": "agent", "text": "ขออภัยค่ะ จะติดต่อกลับภายในวันนี้ค่ะ"}]},
        {"conversation_id": "c-2", "market": "DE", "language": "de",
         "turns": [{"role": "customer", "text": "Bitte rufen Sie mich an: 0151 23456789, Karte 4111 1111 1111 1111"},
                   {"role": "agent", "text": "Wir melden uns. Bitte senden Sie keine Kartendaten per Chat."}]},
    ]
    (root / "conversations.jsonl").write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in conversations),
                                              encoding="utf-8")
    (root / "more.csv").write_text(
        "conversation_id,market,language,channel,customer_id,role,text\n"
        "c-3,SA,ar,whatsapp,cust-3,customer,هل يتوفر الدفع عند الاستلام؟\n"
        "c-3,,,,,agent,نعم، الدفع عند الاستلام متاح في جميع المدن.\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    """An embedded redis-server of the test module's own, stopped after it (tests flush it as they need)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("redis"), _env_file=None)  # type: ignore[call-arg]
    client = connect_redis(settings)
    yield client
    client.close()  # the last user: the server stops
