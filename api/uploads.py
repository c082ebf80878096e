"""Reading a knowledge upload safely: stream it to the job's spool folder, capped, named safely, typed by content.

``receive_multipart`` parses a ``multipart/form-data`` body as it arrives (never the whole body in memory
or in a temporary file): each file part is written straight into the spool folder, and the upload stops
with a 413 as soon as a file passes ``max_file_bytes``, all files together pass ``max_total_bytes``, or
the file count passes ``max_files``. Then every file is checked: ZIP containers (DOCX/XLSX) for zip
bombs (entry count, inflated size, compression ratio) and nested archives (``UnsafeArchiveError``), and
every file's type by its content (``ingestion.filetypes.detect_type``: a PNG named ``.md`` is a 415).

A file's document id is its sanitised client file name, under an optional client folder
(``policies/TH/`` + ``คืนสินค้า.md`` → ``policies/TH/คืนสินค้า.md``): unicode is kept (NFC), path
traversal, control characters, hidden-file dots and drive letters are dropped.

Example:
    >>> safe_document_path("../../etc/返品ポリシー.md", folder="policies/JP/")
    'policies/JP/etc/返品ポリシー.md'
"""

from __future__ import annotations

import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ingestion.filetypes import ZIP_MAGICS, FileType, detect_type
from ingestion.sources import FOLDER_DEFAULTS_FILE
from polydesk.errors import (
    CorruptFileError,
    EncryptedFileError,
    FileTooLargeError,
    InputError,
    StoreError,
    TooManyFilesError,
    UnsafeArchiveError,
)
from polydesk.settings import Settings

FILE_FIELDS = frozenset({"files", "file"})
MAX_DEPTH = 8
MAX_PART_BYTES = 200  # a file or folder name, in UTF-8 bytes (file systems allow 255)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:$")
# Members of a ZIP that are archives themselves (by name or by their first bytes).
_ARCHIVE_SUFFIXES = (".zip", ".docx", ".xlsx", ".pptx", ".jar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar")
_ARCHIVE_MAGICS = (*ZIP_MAGICS, b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07")
# Office files keep embedded objects (a chart's data is an .xlsx) here; no parser opens them.
_EMBEDDINGS = re.compile(r"^(word|xl)/embeddings/[^/]+$")
RATIO_FLOOR_BYTES = 16 * 1024 * 1024  # small XML parts compress very well; the ratio counts above this


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_files: int
    max_file_bytes: int
    max_total_bytes: int
    max_fields: int = 16
    max_field_bytes: int = 4096
    max_archive_entries: int = 5000
    max_archive_bytes: int = 512 * 1024 * 1024
    max_archive_ratio: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        return cls(max_files=settings.max_upload_files, max_file_bytes=settings.max_file_bytes,
                   max_total_bytes=settings.max_upload_total_bytes, max_archive_bytes=10 * settings.max_file_bytes)


@dataclass(slots=True)
class SpooledFile:
    document_id: str
    path: Path
    size: int
    file_type: FileType | None = None


@dataclass(slots=True)
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[SpooledFile] = field(default_factory=list)


def safe_document_path(name: str, *, folder: str = "") -> str:
    """A relative POSIX path that stays inside the spool folder, for a client's file name (see module doc)."""
    raw_parts = re.split(r"[\\/]+", f"{folder}/{name}")
    parts = []
    for raw in raw_parts:
        part = unicodedata.normalize("NFC", _CONTROL.sub("", raw)).strip().lstrip(".").strip()
        if part and not _DRIVE.match(part):
            parts.append(_fit(part))
    if not parts or not name.strip(" ./\\"):
        raise InputError(f"the file name {name!r} is empty once made safe; give the file a name")
    if len(parts) > MAX_DEPTH:
        raise InputError(f"{name}: folders nest at most {MAX_DEPTH} levels deep")
    if parts[-1] == FOLDER_DEFAULTS_FILE:
        raise InputError(f"{FOLDER_DEFAULTS_FILE} is reserved; set market, language and kind as form fields")
    return "/".join(parts)


def _fit(part: str) -> str:
    """Shorten a name to MAX_PART_BYTES, keeping its extension."""
    if len(part.encode()) <= MAX_PART_BYTES:
        return part
    stem, dot, suffix = part.rpartition(".")
    if not dot or len(suffix) > 16:
        stem, suffix = part, ""
    budget = MAX_PART_BYTES - len(suffix.encode()) - 1
    while len(stem.encode()) > budget:
        stem = stem[:-1]
    return f"{stem}.{suffix}" if suffix else stem


# -- receiving ---------------------------------------------------------------------------------------------------


class _Receiver:
    """The multipart callbacks: fields into memory (small), files straight to disk, every cap checked."""

    def __init__(self, incoming: Path, limits: UploadLimits) -> None:
        self.incoming = incoming
        self.limits = limits
        self.upload = Upload()
        self.names: list[str] = []  # client file names, in the order of the files
        self.total = 0
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._field: str | None = None
        self._value = bytearray()
        self._handle: IO[bytes] | None = None
        self._size = 0

    def on_part_begin(self) -> None:
        self._disposition, self._field, self._value, self._size = b"", None, bytearray(), 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise InputError("a multipart part has no name in its Content-Disposition header")
        self._field = _text(options[b"name"], "a field name")
        if b"filename" not in options:
            if len(self.upload.fields) >= self.limits.max_fields:
                raise InputError(f"too many form fields; at most {self.limits.max_fields}")
            return
        if self._field not in FILE_FIELDS:
            raise InputError(f"files go in the form field 'files', not {self._field!r}")
        if len(self.names) >= self.limits.max_files:
            raise TooManyFilesError(f"an upload takes at most {self.limits.max_files} files; send the rest in "
                                    "another upload")
        self.names.append(_text(options[b"filename"], "a file name"))
        self._handle = (self.incoming / str(len(self.names))).open("xb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self._handle is None:
            if len(self._value) + size > self.limits.max_field_bytes:
                raise InputError(f"the form field {self._field!r} is longer than {self.limits.max_field_bytes} bytes")
            self._value.extend(data[start:end])
            return
        self._size += size
        self.total += size
        if self._size > self.limits.max_file_bytes:
            raise FileTooLargeError(f"{self.names[-1]}: the file is larger than the "
                                    f"{_mb(self.limits.max_file_bytes)} limit per file")
        if self.total > self.limits.max_total_bytes:
            raise FileTooLargeError(f"the upload is larger than the {_mb(self.limits.max_total_bytes)} limit for all "
                                    "its files together; split it")
        self._handle.write(data[start:end])

    def on_part_end(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            self.upload.files.append(SpooledFile(document_id="", path=self.incoming / str(len(self.names)),
                                                 size=self._size))
        elif self._field is not None:
            self.upload.fields[self._field] = _text(bytes(self._value), f"the form field {self._field!r}")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


async def receive_multipart(request: Request, folder: Path, limits: UploadLimits) -> Upload:
    """Stream the files of a multipart body into ``folder`` and check them; fields come back as text.

    The optional field ``folder`` becomes the document id prefix of every file. Raises an ``InputError``
    subclass (nothing is left in ``folder`` that the caller must keep; the caller removes it).
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_total_bytes + 1024 * 1024:
        raise FileTooLargeError(f"the upload is {_mb(int(declared))}, more than the {_mb(limits.max_total_bytes)} "
                                "limit for all its files together; split it")
    _, params = parse_options_header(request.headers.get("content-type", ""))
    if b"boundary" not in params:
        raise InputError("the multipart body has no boundary in its Content-Type header")
    incoming = folder / ".incoming"
    incoming.mkdir(parents=True)
    receiver = _Receiver(incoming, limits)
    parser = MultipartParser(params[b"boundary"], {
        "on_part_begin": receiver.on_part_begin, "on_part_data": receiver.on_part_data,
        "on_part_end": receiver.on_part_end, "on_header_field": receiver.on_header_field,
        "on_header_value": receiver.on_header_value, "on_header_end": receiver.on_header_end,
        "on_headers_finished": receiver.on_headers_finished,
    })
    try:
        async for chunk in request.stream():
            await run_in_threadpool(parser.write, chunk)  # file writes off the event loop
        parser.finalize()
    except InputError:
        raise
    except OSError as exc:
        raise StoreError(f"could not store the upload: {exc.strerror or exc}") from exc
    except Exception as exc:  # python-multipart's parse errors, a body cut short
        raise InputError(f"the multipart body is malformed: {exc}") from exc
    finally:
        receiver.close()
    await run_in_threadpool(_place, receiver, folder)
    return receiver.upload


def _place(receiver: _Receiver, folder: Path) -> None:
    """Move received files to their document paths, then check each one's content."""
    upload = receiver.upload
    if not upload.files:
        raise InputError("the upload has no file; send one or more files in the form field 'files'")
    prefix = upload.fields.get("folder", "")
    seen: set[str] = set()
    for spooled, name in zip(upload.files, receiver.names, strict=True):
        document_id = safe_document_path(name, folder=prefix)
        if document_id in seen:
            raise InputError(f"two files of the upload are both named {document_id!r}")
        seen.add(document_id)
        target = folder / document_id
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            spooled.path = spooled.path.rename(target)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            raise InputError(f"{document_id}: a file and a folder of the upload have the same name") from exc
        spooled.document_id = document_id
    shutil.rmtree(receiver.incoming)
    for spooled in upload.files:
        spooled.file_type = check_file(spooled.path, receiver.limits)


def check_file(path: Path, limits: UploadLimits) -> FileType:
    """The file's type by content, after a ZIP container passed ``check_archive``; else an ``InputError``."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(ZIP_MAGICS):
        check_archive(path, limits)
    return detect_type(path, max_bytes=limits.max_file_bytes)


def check_archive(path: Path, limits: UploadLimits) -> None:
    """Refuse a ZIP container that could exhaust memory or disk when parsed, or that nests archives."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > limits.max_archive_entries:
                raise UnsafeArchiveError(f"{path.name}: the archive has {len(members)} entries, more than "
                                         f"{limits.max_archive_entries}")
            inflated = sum(m.file_size for m in members)
            packed = max(1, sum(m.compress_size for m in members))
            if inflated > limits.max_archive_bytes or (
                    inflated > RATIO_FLOOR_BYTES and inflated > limits.max_archive_ratio * packed):
                raise UnsafeArchiveError(f"{path.name}: the archive would expand from {_mb(packed)} to "
                                         f"{_mb(inflated)} (ratio {inflated // packed}:1); refusing a likely zip bomb")
            for member in members:
                _check_member(archive, member, path.name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise CorruptFileError(f"{path.name}: the ZIP container is damaged ({exc})") from exc


def _check_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str) -> None:
    if member.flag_bits & 0x1:
        raise EncryptedFileError(f"{name}: the document is password-protected; remove the password and upload it again")
    if member.is_dir() or _EMBEDDINGS.match(member.filename):
        return
    nested = member.filename.lower().endswith(_ARCHIVE_SUFFIXES)
    if not nested and member.file_size >= 4:
        with archive.open(member) as entry:
            nested = entry.read(8).startswith(_ARCHIVE_MAGICS)
    if nested:
        raise UnsafeArchiveError(f"{name}: the document contains another archive ({member.filename}); "
                                 "nested archives are refused")


def _text(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not valid UTF-8") from exc


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
