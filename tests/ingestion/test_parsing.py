"""parse_document on generated PDF, DOCX, HTML, Markdown, text and e-mail files in several languages.

Fixtures are written into tmp_path by the helpers below (fpdf2, pypdf, python-docx); nothing binary is committed.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import matplotlib
import pytest

from ingestion.filetypes import FileType, detect_type
from ingestion.parsing import Block, ParsedDocument, parse_document
from polydesk.errors import CorruptFileError, EmptyFileError, EncryptedFileError, InputError, UnsupportedTypeError

pytestmark = pytest.mark.integration

MAX = 50_000_000
# matplotlib (installed with the stack) ships DejaVu Sans: a Unicode font on every machine, no system package.
DEJAVU = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
PdfPage = tuple[str, list[str], list[str]]  # (heading, paragraphs, list items)


def parse(path: Path) -> ParsedDocument:
    return parse_document(path, detect_type(path, max_bytes=MAX))


def texts(doc: ParsedDocument, kind: str | None = None) -> list[str]:
    return [b.text for b in doc.blocks if kind is None or b.kind == kind]


def block(doc: ParsedDocument, text: str) -> Block:
    return next(b for b in doc.blocks if b.text == text)


def refused(path: Path, file_type: FileType, error: type[InputError], code: str) -> str:
    with pytest.raises(error) as caught:
        parse_document(path, file_type)
    assert caught.value.code == code
    assert path.name in caught.value.message
    return caught.value.message


# -- fixture writers -------------------------------------------------------------------------------------------------


def write_pdf(path: Path, pages: list[PdfPage], *, top_margin: float = 25, running_header: str = "") -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_margins(20, top_margin)
    pdf.set_auto_page_break(False)
    for number, (heading, paragraphs, items) in enumerate(pages, start=1):
        pdf.add_page()
        if running_header:
            pdf.set_font("helvetica", size=8)
            pdf.set_xy(20, 4)
            pdf.cell(0, 4, running_header)
            pdf.set_xy(20, top_margin)
        pdf.set_font("helvetica", "B", size=18)
        pdf.cell(0, 10, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(8)
        pdf.set_font("helvetica", size=11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 5, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        for item in items:  # spaced: pdfminer glues a tight "-" list into one box (see the "•" test below)
            pdf.multi_cell(0, 5, f"- {item}", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        pdf.set_y(-15)
        pdf.set_font("helvetica", size=8)
        pdf.cell(0, 10, f"Page {number} of {len(pages)}", align="C")
    pdf.output(str(path))
    return path


SHIPPING_PDF: list[PdfPage] = [
    ("Shipping Policy",
     ["We ship all orders within two days. Customers receive a tracking number by e-mail once the parcel leaves."],
     ["Free shipping from 50 EUR", "Express delivery for 9 EUR"]),
    ("Returns",
     ["Items can be returned within thirty days. The refund goes to the original payment method."],
     []),
]


@pytest.fixture
def shipping_pdf(tmp_path: Path) -> Path:
    return write_pdf(tmp_path / "shipping.pdf", SHIPPING_PDF)


def write_docx(path: Path) -> Path:
    from docx import Document

    document = Document()
    document.add_heading("Harbor Spinner 55", level=1)
    document.add_paragraph("Die Schale aus Polycarbonat mit einem feuchten Tuch reinigen.")
    document.add_heading("Pflege", level=2)
    document.add_paragraph("TSA-Schloss vor jeder Reise prüfen", style="List Bullet")
    document.add_paragraph("Rollen einmal im Jahr ölen", style="List Bullet")
    document.add_heading("Maße", level=2)
    table = document.add_table(rows=3, cols=2)
    for row, cells in zip(table.rows, [("Maß", "Wert"), ("Gewicht", "2,9 kg"), ("Höhe", "55 cm")], strict=True):
        row.cells[0].text, row.cells[1].text = cells
    document.save(str(path))
    return path


THAI_HTML = """<!DOCTYPE html><html lang="th"><head><meta charset="utf-8"><title>นโยบาย</title>
<style>p { color: red; }</style><script>var x = "ไม่ควรปรากฏ";</script></head><body>
<h1>นโยบายการจัดส่ง</h1>
<p>คำสั่งซื้อทั้งหมดจะถูกจัดส่งภายในสองวันทำการ ลูกค้าจะได้รับหมายเลขติดตามทางอีเมล</p>
<h2>ค่าจัดส่ง</h2>
<ul><li>ส่งฟรีเมื่อซื้อครบ ฿1,000</li><li>ส่งด่วน 50 บาท</li></ul>
<table><thead><tr><th>ภูมิภาค</th><th>ระยะเวลา</th></tr></thead>
<tbody><tr><td>กรุงเทพฯ</td><td>1–2 วัน</td></tr><tr><td>เชียงใหม่</td><td>2–4 วัน</td></tr></tbody></table>
</body></html>
"""

MARKDOWN = """# 配送ガイド

ご注文は通常2営業日以内に発送されます。追跡番号はメールでお知らせします。
- 翌日配送は東京23区のみ
- 離島は追加で2〜3日かかります

## Versand nach Deutschland

Wir versenden alle Bestellungen innerhalb von zwei Tagen mit DHL.

1. Bestellung aufgeben
2. Bestätigung per E-Mail erhalten
   - mit Sendungsnummer

### Kosten

| Land | Kosten |
|------|--------|
| DE | 4,90 € |
| AT | 6,90 € |

## 返品について

返品は商品到着後8日以内にご連絡ください。
"""

VIETNAMESE_ARABIC_TXT = """CHÍNH SÁCH ĐỔI TRẢ

Quý khách có thể đổi trả sản phẩm trong vòng 30 ngày kể từ ngày nhận hàng. Tiền hoàn lại sẽ được chuyển về phương thức thanh toán ban đầu.

- Sản phẩm còn nguyên tem mác
- Có hóa đơn mua hàng

سياسة الإرجاع

يمكنك إرجاع المنتج خلال ثلاثين يومًا من تاريخ الاستلام. سيتم رد المبلغ إلى طريقة الدفع الأصلية بعد فحص المنتج.

【配送について】

ご注文は通常2営業日以内に発送されます。

ส่งฟรีเมื่อซื้อครบ ฿1,000 จัดส่งโดย Kerry Express ภายใน 2–4 วันทำการ คืนสินค้าได้ภายใน 14 วัน

退货政策
"""

INDONESIAN_EML = """From: Budi Santoso <budi.santoso@contoh.co.id>
To: Tim Dukungan <support@tidewell.example>
Cc: gudang@tidewell.example
Subject: =?utf-8?q?Pengembalian_barang_pesanan_=231234?=
Date: Mon, 14 Dec 2026 09:00:00 +0700
Message-ID: <abc123@contoh.co.id>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

Halo tim dukungan,

Saya ingin mengembalikan barang dari pesanan #1234 karena ukurannya tidak sesuai. Mohon kirimkan label pengembalian.

Terima kasih,
Budi
"""


# -- PDF -------------------------------------------------------------------------------------------------------------


def test_pdf_titles_lists_text_and_pages(shipping_pdf: Path) -> None:
    doc = parse(shipping_pdf)
    assert doc.title == "Shipping Policy"
    assert doc.metadata["pages"] == "2"
    assert texts(doc, "title") == ["Shipping Policy", "Returns"]
    assert texts(doc, "list_item") == ["Free shipping from 50 EUR", "Express delivery for 9 EUR"]
    first = block(doc, SHIPPING_PDF[0][1][0])
    assert (first.kind, first.page, first.heading_path) == ("text", 1, ("Shipping Policy",))
    second = block(doc, SHIPPING_PDF[1][1][0])
    assert (second.page, second.heading_path) == (2, ("Shipping Policy", "Returns"))
    assert not any("Page" in t and "of 2" in t for t in texts(doc))  # page footers are dropped


def test_pdf_narrow_margins_keep_the_first_lines_and_drop_running_headers(tmp_path: Path) -> None:
    # unstructured labels the top 7% of a page "Header": with a 10 mm margin that is the title itself.
    path = write_pdf(tmp_path / "narrow.pdf", SHIPPING_PDF, top_margin=10, running_header="Tidewell Handbook 2026")
    doc = parse(path)
    assert "Tidewell Handbook 2026" not in " ".join(texts(doc))
    assert texts(doc, "title")[0] == "Shipping Policy"
    assert SHIPPING_PDF[1][1][0] in texts(doc)


def test_pdf_tight_bullet_list_is_split_into_items(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_margins(20, 25)
    pdf.add_page()
    pdf.add_font("dejavu", fname=str(DEJAVU))
    pdf.set_font("dejavu", size=11)
    lines = ["Quý khách có thể đổi trả sản phẩm trong vòng 30 ngày kể từ ngày nhận hàng:", "• Còn nguyên tem mác",
             "• Có hóa đơn - bản gốc", "يمكنك إرجاع المنتج خلال ثلاثين يومًا من تاريخ الاستلام."]
    for line in lines:
        pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4 if line is lines[2] else 0)
    pdf.output(str(tmp_path / "tight.pdf"))
    doc = parse(tmp_path / "tight.pdf")
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("text", lines[0]), ("list_item", "Còn nguyên tem mác"), ("list_item", "Có hóa đơn - bản gốc"), ("text", lines[3])]


def test_encrypted_pdf(shipping_pdf: Path, tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=shipping_pdf)
    writer.encrypt("pw")
    writer.write(tmp_path / "locked.pdf")
    assert "password" in refused(tmp_path / "locked.pdf", FileType.PDF, EncryptedFileError, "encrypted_file")


def test_pdf_with_only_an_owner_password_is_read(shipping_pdf: Path, tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=shipping_pdf)
    writer.encrypt(user_password="", owner_password="owner")
    writer.write(tmp_path / "print-protected.pdf")
    assert "Returns" in texts(parse(tmp_path / "print-protected.pdf"), "title")


def test_truncated_pdf_is_corrupt(shipping_pdf: Path, tmp_path: Path) -> None:
    data = shipping_pdf.read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 3])
    refused(tmp_path / "cut.pdf", FileType.PDF, CorruptFileError, "corrupt_file")


def test_scanned_pdf_without_text_is_empty(tmp_path: Path) -> None:
    from fpdf import FPDF
    from PIL import Image

    Image.new("RGB", (300, 400), (235, 235, 225)).save(tmp_path / "scan.png")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(tmp_path / "scan.png"), x=10, y=10, w=190)
    pdf.add_page()  # and an empty page
    pdf.output(str(tmp_path / "scan.pdf"))
    assert "no extractable text" in refused(tmp_path / "scan.pdf", FileType.PDF, EmptyFileError, "empty_file")


# -- DOCX ------------------------------------------------------------------------------------------------------------


def test_docx_headings_bullets_and_table(tmp_path: Path) -> None:
    doc = parse(write_docx(tmp_path / "pflege.docx"))
    assert doc.title == "Harbor Spinner 55"
    assert [(b.text, b.heading_path) for b in doc.blocks if b.kind == "title"] == [
        ("Harbor Spinner 55", ()), ("Pflege", ("Harbor Spinner 55",)), ("Maße", ("Harbor Spinner 55",))]
    assert block(doc, "Die Schale aus Polycarbonat mit einem feuchten Tuch reinigen.").heading_path == (
        "Harbor Spinner 55",)
    bullets = [b for b in doc.blocks if b.kind == "list_item"]
    assert [b.text for b in bullets] == ["TSA-Schloss vor jeder Reise prüfen", "Rollen einmal im Jahr ölen"]
    assert bullets[0].heading_path == ("Harbor Spinner 55", "Pflege")
    rows = [b for b in doc.blocks if b.kind == "table_row"]
    assert [(r.text, r.table_header) for r in rows] == [("Gewicht | 2,9 kg", "Maß | Wert"), ("Höhe | 55 cm", "Maß | Wert")]
    assert rows[0].heading_path == ("Harbor Spinner 55", "Maße")


def test_encrypted_looking_docx(tmp_path: Path) -> None:
    path = tmp_path / "locked.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024)
    with pytest.raises(EncryptedFileError):
        detect_type(path, max_bytes=MAX)
    refused(path, FileType.DOCX, EncryptedFileError, "encrypted_file")


def test_damaged_docx_is_corrupt(tmp_path: Path) -> None:
    data = write_docx(tmp_path / "full.docx").read_bytes()
    (tmp_path / "cut.docx").write_bytes(data[: len(data) // 2])
    assert "could not be read as docx" in refused(tmp_path / "cut.docx", FileType.DOCX, CorruptFileError,
                                                  "corrupt_file")


# -- HTML and Markdown -----------------------------------------------------------------------------------------------


def test_thai_html(tmp_path: Path) -> None:
    path = tmp_path / "shipping.html"
    path.write_text(THAI_HTML, encoding="utf-8")
    doc = parse(path)
    assert doc.title == "นโยบายการจัดส่ง"
    assert texts(doc, "title") == ["นโยบายการจัดส่ง", "ค่าจัดส่ง"]
    paragraph = block(doc, "คำสั่งซื้อทั้งหมดจะถูกจัดส่งภายในสองวันทำการ ลูกค้าจะได้รับหมายเลขติดตามทางอีเมล")
    assert paragraph.kind == "text" and paragraph.heading_path == ("นโยบายการจัดส่ง",)
    assert texts(doc, "list_item") == ["ส่งฟรีเมื่อซื้อครบ ฿1,000", "ส่งด่วน 50 บาท"]
    rows = [b for b in doc.blocks if b.kind == "table_row"]
    assert [(r.text, r.table_header) for r in rows] == [
        ("กรุงเทพฯ | 1–2 วัน", "ภูมิภาค | ระยะเวลา"), ("เชียงใหม่ | 2–4 วัน", "ภูมิภาค | ระยะเวลา")]
    assert rows[0].heading_path == ("นโยบายการจัดส่ง", "ค่าจัดส่ง")
    assert "ไม่ควรปรากฏ" not in " ".join(texts(doc))  # script content is not text


def test_japanese_and_german_markdown(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    doc = parse(path)
    assert doc.title == "配送ガイド"
    assert [(b.text, b.heading_path) for b in doc.blocks if b.kind == "title"] == [
        ("配送ガイド", ()),
        ("Versand nach Deutschland", ("配送ガイド",)),
        ("Kosten", ("配送ガイド", "Versand nach Deutschland")),
        ("返品について", ("配送ガイド",)),
    ]
    assert block(doc, "ご注文は通常2営業日以内に発送されます。追跡番号はメールでお知らせします。").kind == "text"
    # a list straight after a paragraph (no blank line) is still a list
    assert texts(doc, "list_item") == ["翌日配送は東京23区のみ", "離島は追加で2〜3日かかります", "Bestellung aufgeben",
                                       "Bestätigung per E-Mail erhalten", "mit Sendungsnummer"]
    rows = [b for b in doc.blocks if b.kind == "table_row"]
    assert [(r.text, r.table_header, r.heading_path[-1]) for r in rows] == [
        ("DE | 4,90 €", "Land | Kosten", "Kosten"), ("AT | 6,90 €", "Land | Kosten", "Kosten")]
    assert block(doc, "返品は商品到着後8日以内にご連絡ください。").heading_path == ("配送ガイド", "返品について")


def test_trailing_markdown_headings_become_text(tmp_path: Path) -> None:
    # the chunker indexes no title without body under it: "Rückgabe" would otherwise be lost
    path = tmp_path / "stub.md"
    path.write_text("# Versand\n\n## Rückgabe\n", encoding="utf-8")
    assert [(b.kind, b.text) for b in parse(path).blocks] == [("title", "Versand"), ("text", "Rückgabe")]


def test_html_without_text_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.html"
    path.write_text("<html><head><script>var a = 1;</script></head><body> </body></html>", encoding="utf-8")
    refused(path, FileType.HTML, EmptyFileError, "empty_file")


# -- plain text and e-mail -------------------------------------------------------------------------------------------


def test_plain_text_keeps_every_paragraph_intact(tmp_path: Path) -> None:
    path = tmp_path / "policy.txt"
    path.write_text(VIETNAMESE_ARABIC_TXT, encoding="utf-8")
    doc = parse(path)
    all_text = texts(doc)
    for paragraph in (p.strip() for p in VIETNAMESE_ARABIC_TXT.split("\n\n")):
        for line in paragraph.splitlines():
            assert line.removeprefix("- ") in all_text
    assert doc.title == "CHÍNH SÁCH ĐỔI TRẢ"
    assert texts(doc, "list_item") == ["Sản phẩm còn nguyên tem mác", "Có hóa đơn mua hàng"]
    arabic = block(doc, "يمكنك إرجاع المنتج خلال ثلاثين يومًا من تاريخ الاستلام. سيتم رد المبلغ إلى طريقة الدفع الأصلية بعد فحص المنتج.")
    assert arabic.kind == "text" and arabic.heading_path == ("CHÍNH SÁCH ĐỔI TRẢ", "سياسة الإرجاع")
    assert block(doc, "ご注文は通常2営業日以内に発送されます。").heading_path[-1] == "【配送について】"
    # sentence-like lines are never titles, and a title with nothing under it becomes text
    assert block(doc, "ส่งฟรีเมื่อซื้อครบ ฿1,000 จัดส่งโดย Kerry Express ภายใน 2–4 วันทำการ คืนสินค้าได้ภายใน 14 วัน").kind == "text"
    assert block(doc, "退货政策").kind == "text"


def test_plain_text_wrapped_cjk_lines_are_not_joined_with_spaces(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.txt"
    path.write_text("ご注文は通常2営業日以内に発送されます。\n追跡番号はメールでお知らせします。\n\n以上です。\n", encoding="utf-8")
    assert texts(parse(path)) == ["ご注文は通常2営業日以内に発送されます。", "追跡番号はメールでお知らせします。", "以上です。"]


def test_utf16_text_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "utf16.txt"
    path.write_bytes("Kebijakan pengembalian\n\nBarang dapat dikembalikan dalam 14 hari.\n".encode("utf-16"))
    assert texts(parse(path)) == ["Kebijakan pengembalian", "Barang dapat dikembalikan dalam 14 hari."]


def test_whitespace_only_text_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text(" \n\n\t \n", encoding="utf-8")
    refused(path, FileType.TEXT, EmptyFileError, "empty_file")


def test_indonesian_email(tmp_path: Path) -> None:
    path = tmp_path / "ticket.eml"
    path.write_text(INDONESIAN_EML, encoding="utf-8")
    doc = parse(path)
    assert doc.title == "Pengembalian barang pesanan #1234"
    assert doc.metadata == {
        "from": "Budi Santoso <budi.santoso@contoh.co.id>",
        "to": "Tim Dukungan <support@tidewell.example>",
        "cc": "gudang@tidewell.example",
        "date": "Mon, 14 Dec 2026 09:00:00 +0700",
        "subject": "Pengembalian barang pesanan #1234",
    }
    assert doc.blocks[0] == Block("title", "Pengembalian barang pesanan #1234")
    body = "Saya ingin mengembalikan barang dari pesanan #1234 karena ukurannya tidak sesuai. Mohon kirimkan label pengembalian."
    assert block(doc, body).heading_path == ("Pengembalian barang pesanan #1234",)
    assert all(b.kind == "text" for b in doc.blocks[1:])  # greeting and signature lines are not headings
    joined = " ".join(texts(doc))
    assert "@" not in joined and "Santoso" not in joined  # addresses stay in metadata


# -- contract --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("file_type", [FileType.CSV, FileType.JSONL, FileType.XLSX])
def test_record_files_are_not_documents(tmp_path: Path, file_type: FileType) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("question,answer\nA,B\n", encoding="utf-8")
    refused(path, file_type, UnsupportedTypeError, "unsupported_type")


def test_blocks_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Block("text", "x").text = "y"  # type: ignore[misc]


def test_offline_blank_spacy_and_no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from unstructured.nlp import tokenize
    from unstructured.utils import _telemetry_opt_out

    attempts: list[str] = []

    def forbid(name: str) -> Callable[..., object]:
        def refuse(*args: object, **kwargs: object) -> object:
            attempts.append(f"{name}{args!r}")
            raise OSError("network disabled in tests")
        return refuse

    monkeypatch.setattr(socket.socket, "connect", forbid("connect"))
    monkeypatch.setattr(socket, "create_connection", forbid("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", forbid("getaddrinfo"))
    monkeypatch.setattr(tokenize, "_install_spacy_model", forbid("spacy download"))
    tokenize._get_nlp.cache_clear()

    (tmp_path / "a.txt").write_text("WICHTIG\n\nDer Versand ist kostenlos.\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Titel\n\nText.\n", encoding="utf-8")
    (tmp_path / "c.html").write_text(THAI_HTML, encoding="utf-8")
    (tmp_path / "d.eml").write_text(INDONESIAN_EML, encoding="utf-8")
    write_docx(tmp_path / "e.docx")
    write_pdf(tmp_path / "f.pdf", SHIPPING_PDF[:1])
    for path in sorted(tmp_path.iterdir()):
        assert parse(path).blocks, path.name
    assert tokenize._get_nlp().pipe_names == ["sentencizer"]
    assert _telemetry_opt_out()
    assert attempts == []
