"""What a source file is, decided by its content: the gate before any parser runs.

Binary formats are recognised by their magic bytes (PDF, ZIP-based Office files,
OLE containers); the extension only chooses among text-like types, whose bytes
must decode as UTF-8 (optionally with a BOM) or BOM-marked UTF-16. Every
rejection is a :class:`polydesk.errors.InputError` subclass that names the file
and the reason in plain words.

    >>> from pathlib import Path
    >>> file_type = detect_type(Path("faq/versand.md"), max_bytes=50_000_000)  # doctest: +SKIP
    >>> file_type is FileType.MARKDOWN  # doctest: +SKIP
    True
    >>> text = read_text(Path("faq/versand.md"))  # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import re
import zipfile
from enum import StrEnum
from pathlib import Path

import polydesk  # noqa: F401  (sets the offline environment before any third-party import)
from polydesk.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    FileTooLargeError,
    UnsupportedTypeError,
)

__all__ = ["FileType", "decode_text", "detect_type", "is_ole_container", "read_text"]


class FileType(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"
    EMAIL = "email"
    CSV = "csv"
    JSONL = "jsonl"


SNIFF_BYTES = 8192
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
# A ZIP that inflates past this much, at more than this ratio, is treated as a decompression bomb.
ZIP_BOMB_BYTES = 100 * 1024 * 1024
ZIP_BOMB_RATIO = 100

_TEXT_EXTENSIONS: dict[str, FileType] = {
    ".md": FileType.MARKDOWN,
    ".markdown": FileType.MARKDOWN,
    ".html": FileType.HTML,
    ".htm": FileType.HTML,
    ".eml": FileType.EMAIL,
    ".csv": FileType.CSV,
    ".jsonl": FileType.JSONL,
    ".ndjson": FileType.JSONL,
    ".txt": FileType.TEXT,
    ".text": FileType.TEXT,
    "": FileType.TEXT,
}
_OFFICE_EXTENSIONS = {".docx", ".docm", ".dotx", ".xlsx", ".xlsm", ".xltx", ".pptx"}
_LEGACY_OFFICE = {".doc": "Word 97-2003 (.doc)", ".xls": "Excel 97-2003 (.xls)", ".ppt": "PowerPoint 97-2003 (.ppt)",
                  ".msg": "Outlook message (.msg)"}
# Longer magics first so that, e.g., UTF-32 is not read as UTF-16.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BINARY_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"RIFF", "a RIFF media file (WebP, WAV, AVI)"),
    (b"\x7fELF", "an executable (ELF)"),
    (b"MZ", "a Windows executable"),
    (b"\xca\xfe\xba\xbe", "a compiled binary"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"OggS", "an Ogg media file"),
    (b"ID3", "an MP3 audio file"),
)
_HTML_SNIFF = re.compile(r"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.IGNORECASE | re.DOTALL)
_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):")
_EMAIL_REQUIRED_HEADERS = {"from", "subject", "date"}


def detect_type(path: Path, *, max_bytes: int) -> FileType:
    """The type of ``path`` by its content, or an ``InputError`` saying why it cannot be ingested."""
    size = path.stat().st_size
    if size > max_bytes:
        raise FileTooLargeError(f"{path.name}: the file is {_human(size)}, more than the {_human(max_bytes)} limit")
    if size == 0:
        raise EmptyFileError(f"{path.name}: the file is empty")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    binary = _binary_type(path, head)
    if binary is not None:
        return binary
    text = decode_text(path.read_bytes(), name=path.name)
    if not text.strip():
        raise EmptyFileError(f"{path.name}: the file contains only whitespace")
    return _text_type(path, text)


def read_text(path: Path) -> str:
    """The file decoded as detect_type accepts it: UTF-8 (BOM optional) or BOM-marked UTF-16/32."""
    return decode_text(path.read_bytes(), name=path.name)


def decode_text(data: bytes, *, name: str) -> str:
    """Bytes → str by BOM (UTF-8/16/32), else strict UTF-8; ``name`` is the file named in errors."""
    encoding = next((codec for bom, codec in _BOMS if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        bad = data[exc.start:exc.start + 1].hex()
        raise CorruptFileError(
            f"{name}: the text is not valid {encoding.upper().removesuffix('-SIG')} (byte 0x{bad} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from exc
    if "\x00" in text:
        raise UnsupportedTypeError(f"{name}: the file contains binary data (NUL characters), not text")
    return text.removeprefix("\ufeff")


def is_ole_container(head: bytes) -> bool:
    """True for OLE/CFB files: legacy Office formats and password-protected modern Office files."""
    return head.startswith(OLE_MAGIC)


def _binary_type(path: Path, head: bytes) -> FileType | None:
    """The binary type of the file, None when it should be text, or an error for binary content we refuse."""
    suffix = path.suffix.lower()
    if head.lstrip(b" \t\r\n").startswith(b"%PDF-"):
        return FileType.PDF
    if head.startswith(ZIP_MAGICS):
        return _office_type(path)
    if is_ole_container(head):
        if suffix in _OFFICE_EXTENSIONS:
            raise EncryptedFileError(f"{path.name}: the Office document is password-protected; remove the password "
                                     "and upload it again")
        legacy = _LEGACY_OFFICE.get(suffix, "a legacy Office (OLE) file")
        raise UnsupportedTypeError(f"{path.name}: {legacy} is not supported; save it as .docx or .xlsx")
    if head.startswith(tuple(bom for bom, _ in _BOMS)):
        return None
    if head.startswith(b"{\\rtf"):
        raise UnsupportedTypeError(f"{path.name}: RTF documents are not supported; save it as .docx")
    # Several magics are plain ASCII ("GIF89a", "MZ", "ID3"): they count only for content that is not text.
    if b"\x00" in head or not _utf8_prefix(head):
        for magic, description in _BINARY_MAGICS:
            if head.startswith(magic):
                raise UnsupportedTypeError(f"{path.name}: the content is {description}, which cannot be ingested")
        if b"\x00" in head:
            raise UnsupportedTypeError(f"{path.name}: the file contains binary data, not text or a supported document")
    return None


def _utf8_prefix(head: bytes) -> bool:
    """True when the bytes are valid UTF-8, allowing a character cut off at the end of the sample."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _office_type(path: Path) -> FileType:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptFileError(f"{path.name}: the ZIP container is damaged or truncated ({exc})") from exc
    unpacked = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if unpacked > ZIP_BOMB_BYTES and unpacked > ZIP_BOMB_RATIO * max(packed, 1):
        raise CorruptFileError(
            f"{path.name}: the archive would expand from {_human(packed)} to {_human(unpacked)} "
            f"(ratio {unpacked // max(packed, 1)}:1); refusing a likely zip bomb"
        )
    names = {m.filename for m in members}
    if "[Content_Types].xml" in names:
        if any(n.startswith("word/") for n in names):
            return FileType.DOCX
        if any(n.startswith("xl/") for n in names):
            return FileType.XLSX
        if any(n.startswith("ppt/") for n in names):
            raise UnsupportedTypeError(f"{path.name}: PowerPoint presentations are not supported")
    raise UnsupportedTypeError(f"{path.name}: a ZIP archive that is neither a Word (.docx) nor an Excel (.xlsx) file")


def _text_type(path: Path, text: str) -> FileType:
    suffix = path.suffix.lower()
    file_type = _TEXT_EXTENSIONS.get(suffix)
    if file_type is None:
        raise UnsupportedTypeError(f"{path.name}: text files with the extension '{suffix}' are not supported")
    if file_type is FileType.TEXT:
        if _HTML_SNIFF.match(text[:SNIFF_BYTES]):
            return FileType.HTML
        if _looks_like_email(text):
            return FileType.EMAIL
    return file_type


def _looks_like_email(text: str) -> bool:
    """RFC 822 headers at the very start, including From, Subject and Date."""
    seen: set[str] = set()
    for line in text[:SNIFF_BYTES].splitlines():
        if not line.strip():
            break
        if line[0] in " \t":  # a folded continuation of the previous header
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            return False
        seen.add(match.group(1).lower())
    return seen >= _EMAIL_REQUIRED_HEADERS


def _human(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
