"""detect_type: content decides, the extension only chooses among text types; every refusal names file and reason."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

import pytest

from ingestion.filetypes import FileType, decode_text, detect_type, read_text
from polydesk.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    FileTooLargeError,
    InputError,
    UnsupportedTypeError,
)

pytestmark = pytest.mark.unit

MAX = 10_000_000
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def refused(path: Path, error: type[InputError], code: str, *, max_bytes: int = MAX) -> str:
    with pytest.raises(error) as caught:
        detect_type(path, max_bytes=max_bytes)
    assert caught.value.code == code
    assert path.name in caught.value.message
    return caught.value.message


# -- binary formats by content --------------------------------------------------------------------------------------


def test_pdf_by_magic_whatever_the_extension(tmp_path: Path) -> None:
    assert detect_type(write(tmp_path, "manual.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), max_bytes=MAX) == "pdf"
    assert detect_type(write(tmp_path, "download.bin", b"%PDF-1.4\n1 0 obj"), max_bytes=MAX) is FileType.PDF


def test_docx_and_xlsx_by_their_zip_members(tmp_path: Path) -> None:
    from docx import Document
    from openpyxl import Workbook

    Document().save(str(tmp_path / "a.docx"))
    Workbook().save(str(tmp_path / "b.xlsx"))
    assert detect_type(tmp_path / "a.docx", max_bytes=MAX) is FileType.DOCX
    assert detect_type(tmp_path / "b.xlsx", max_bytes=MAX) is FileType.XLSX
    # content wins over a wrong extension
    (tmp_path / "b.xlsx").rename(tmp_path / "renamed.docx")
    assert detect_type(tmp_path / "renamed.docx", max_bytes=MAX) is FileType.XLSX


def test_other_zips_are_unsupported(tmp_path: Path) -> None:
    plain = write_zip(tmp_path / "archive.docx", {"readme.txt": b"hello"})
    assert "neither a Word" in refused(plain, UnsupportedTypeError, "unsupported_type")
    slides = write_zip(tmp_path / "deck.pptx", {"[Content_Types].xml": b"<Types/>", "ppt/slide1.xml": b"<x/>"})
    assert "PowerPoint" in refused(slides, UnsupportedTypeError, "unsupported_type")


def test_zip_bomb_is_refused_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(101):
                member.write(block)
    assert path.stat().st_size < 1_000_000
    message = refused(path, CorruptFileError, "corrupt_file")
    assert "zip bomb" in message and "101.0 MB" in message


def test_truncated_zip_is_corrupt(tmp_path: Path) -> None:
    from docx import Document

    Document().save(str(tmp_path / "full.docx"))
    data = (tmp_path / "full.docx").read_bytes()
    broken = write(tmp_path, "broken.docx", data[: len(data) // 2])
    assert "damaged" in refused(broken, CorruptFileError, "corrupt_file")


@pytest.mark.parametrize("name", ["secret.docx", "secret.xlsx"])
def test_ole_container_with_modern_office_extension_is_encrypted(tmp_path: Path, name: str) -> None:
    assert "password" in refused(write(tmp_path, name, OLE), EncryptedFileError, "encrypted_file")


@pytest.mark.parametrize(("name", "words"), [("old.doc", "Word 97-2003"), ("old.xls", "Excel 97-2003")])
def test_legacy_office_is_unsupported(tmp_path: Path, name: str, words: str) -> None:
    assert words in refused(write(tmp_path, name, OLE), UnsupportedTypeError, "unsupported_type")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("photo.pdf", PNG, "PNG image"),
        ("scan.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "JPEG image"),
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(range(256)), "Windows executable"),
        ("tool", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56, "ELF"),
        ("notes.txt.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", "gzip"),
        ("data.txt", b"header\x00\x01\x02 payload", "binary data"),
    ],
)
def test_binary_content_is_unsupported(tmp_path: Path, name: str, content: bytes, words: str) -> None:
    assert words in refused(write(tmp_path, name, content), UnsupportedTypeError, "unsupported_type")


def test_ascii_magic_in_real_text_is_still_text(tmp_path: Path) -> None:
    # "MZ" and "GIF89a" are magics only for binary content.
    assert detect_type(write(tmp_path, "mz.txt", "MZ Logistics ships on Mondays.\n"), max_bytes=MAX) is FileType.TEXT
    assert detect_type(write(tmp_path, "gif.md", "GIF89a is an image format.\n"), max_bytes=MAX) is FileType.MARKDOWN


# -- text by extension, with sniffing for .txt -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.md", FileType.MARKDOWN),
        ("a.markdown", FileType.MARKDOWN),
        ("a.HTML", FileType.HTML),
        ("a.htm", FileType.HTML),
        ("a.eml", FileType.EMAIL),
        ("a.csv", FileType.CSV),
        ("a.jsonl", FileType.JSONL),
        ("a.ndjson", FileType.JSONL),
        ("a.txt", FileType.TEXT),
        ("a.text", FileType.TEXT),
        ("README", FileType.TEXT),
    ],
)
def test_text_types_by_extension(tmp_path: Path, name: str, expected: FileType) -> None:
    assert detect_type(write(tmp_path, name, "ส่งฟรีเมื่อซื้อครบ ฿1,000\n"), max_bytes=MAX) is expected


def test_txt_sniffs_html_and_email(tmp_path: Path) -> None:
    html = write(tmp_path, "page.txt", "\n  <!DOCTYPE html>\n<html><body><p>Hallo</p></body></html>")
    bare = write(tmp_path, "page", "<html lang='th'><body>สวัสดี</body></html>")
    mail = write(tmp_path, "mail.txt", "Received: from x\nFrom: a@b.example\nSubject: Halo\n  lanjutan\n"
                                       "Date: Mon, 14 Dec 2026 09:00:00 +0700\n\nIsi pesan.\n")
    not_mail = write(tmp_path, "notes.txt", "From: the warehouse\nWe ship daily.\n")
    assert detect_type(html, max_bytes=MAX) is FileType.HTML
    assert detect_type(bare, max_bytes=MAX) is FileType.HTML
    assert detect_type(mail, max_bytes=MAX) is FileType.EMAIL
    assert detect_type(not_mail, max_bytes=MAX) is FileType.TEXT


def test_unknown_extension_with_text_names_the_extension(tmp_path: Path) -> None:
    assert "'.xyz'" in refused(write(tmp_path, "notes.xyz", "just text"), UnsupportedTypeError, "unsupported_type")


def test_text_renamed_to_a_binary_extension_is_unsupported(tmp_path: Path) -> None:
    assert "'.pdf'" in refused(write(tmp_path, "fake.pdf", "not really a pdf"), UnsupportedTypeError,
                               "unsupported_type")


# -- encodings ---------------------------------------------------------------------------------------------------


def test_utf8_bom_and_utf16_bom_are_text(tmp_path: Path) -> None:
    text = "# 配送について\n\nالشحن مجاني\n"
    with_bom = write(tmp_path, "bom.md", codecs.BOM_UTF8 + text.encode("utf-8"))
    utf16 = write(tmp_path, "wide.txt", text.encode("utf-16"))  # Python writes the BOM
    utf16be = write(tmp_path, "wide-be.txt", codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    assert detect_type(with_bom, max_bytes=MAX) is FileType.MARKDOWN
    assert detect_type(utf16, max_bytes=MAX) is FileType.TEXT
    assert detect_type(utf16be, max_bytes=MAX) is FileType.TEXT
    assert read_text(with_bom) == read_text(utf16) == read_text(utf16be) == text


def test_non_utf8_text_is_corrupt(tmp_path: Path) -> None:
    latin1 = write(tmp_path, "alt.txt", "Rückgabe innerhalb von 30 Tagen".encode("latin-1"))
    message = refused(latin1, CorruptFileError, "corrupt_file")
    assert "UTF-8" in message and "0xfc" in message


def test_decode_text_rejects_nul_characters() -> None:
    with pytest.raises(UnsupportedTypeError):
        decode_text("a\x00b".encode("utf-16"), name="x.txt")


# -- size and emptiness ---------------------------------------------------------------------------------------------


def test_empty_and_whitespace_only_files(tmp_path: Path) -> None:
    assert "empty" in refused(write(tmp_path, "empty.txt", b""), EmptyFileError, "empty_file")
    assert "whitespace" in refused(write(tmp_path, "blank.md", " \n\t\r\n\u3000 "), EmptyFileError, "empty_file")
    assert "whitespace" in refused(write(tmp_path, "blank16.txt", "  \n".encode("utf-16")), EmptyFileError,
                                   "empty_file")


def test_too_large_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "big.txt", "x" * 2048)

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was read")

    monkeypatch.setattr(Path, "open", no_reading)
    monkeypatch.setattr(Path, "read_bytes", no_reading)
    message = refused(path, FileTooLargeError, "file_too_large", max_bytes=1024)
    assert "2.0 KB" in message and "1.0 KB" in message
