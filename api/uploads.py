"""Reading a knowledge upload safely: stream it to the job's spool folder, capped, named safely, typed by content.

``receive_multipart`` parses a ``multipart/form-data`` body as it arrives (never the whole body in memory
or in a temporary file): each file part is written straight into the spool folder, and the upload stops
with a 413 as soon as a file passes ``max_file_bytes``, all files together pass ``max_total_bytes``, or
the file count passes ``max_files``. Then every file is checked: ZIP containers (DOCX/XLSX) for zip
bombs (entry count, inflated size, compression ratio) and nested archives (``UnsafeArchiveError``), and
every file's type by its content (``ingestion.filetypes.detect_type``: a PNG named ``.md``).

One bad file does not refuse the upload: a file over the per-file size limit, with a refused name, with the
same name as another file of the upload, of a refused type or an unsafe archive is set aside with its error
(``SpooledFile.error``, ``Upload.refused``) and the rest goes on to the job, which reports it. What refuses the
whole upload: the caps on the file count and the total size, a bad ``folder`` or form field, a malformed
body, and an upload whose files are all refused (``refusal`` builds that 4xx with one entry per file).

A file's document id is its client file name under an optional client folder (``policies/TH/`` +
``คืนสินค้า.md`` → ``policies/TH/คืนสินค้า.md``), each part checked by
``knowledge.schema.normalize_name`` (NFC; control characters, bidi overrides, only dots, hidden and too
long names refused, code ``invalid_name``), so path traversal cannot happen; Windows separators and a drive
letter are understood.

Example:
    >>> safe_document_path("C:\\Users\\somchai\\返品ポリシー.md", folder="policies/JP/")
    'policies/JP/Users/somchai/返品ポリシー.md'
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ingestion.filetypes import ZIP_MAGICS, FileType, detect_type
from ingestion.sources import FOLDER_DEFAULTS_FILE
from knowledge.schema import normalize_document_id
from polydesk.diskspace import is_disk_full, storage_full
from polydesk.errors import (
    CorruptFileError,
    EncryptedFileError,
    FileTooLargeError,
    InputError,
    InvalidNameError,
    StoreError,
    TooManyFilesError,
    UnsafeArchiveError,
)
from polydesk.settings import Settings
from polydesk.visible import escape_invisible

FILE_FIELDS = frozenset({"files", "file"})
MAX_DEPTH = 8
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
    """One file of the upload: where it is, and either its document id and type or why it was refused."""

    name: str  # as the client sent it, invisible characters escaped (safe to show)
    path: Path
    size: int = 0
    document_id: str | None = None
    file_type: FileType | None = None
    error: InputError | None = None

    def detail(self) -> dict[str, Any]:
        """The file in an error body or a job: name, document id, code and message."""
        return {"name": self.name, "document_id": self.document_id,
                "code": self.error.code if self.error else None, "message": self.error.message if self.error else None}


@dataclass(slots=True)
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    received: list[SpooledFile] = field(default_factory=list)  # every file part, in the order sent

    @property
    def files(self) -> list[SpooledFile]:
        """The files that passed every check, in their document paths: what the job ingests."""
        return [f for f in self.received if f.error is None]

    @property
    def refused(self) -> list[SpooledFile]:
        return [f for f in self.received if f.error is not None]


def safe_document_path(name: str, *, folder: str = "") -> str:
    """The document id (a relative POSIX path inside the spool folder) of a client's file name under
    ``folder``, or an ``InputError`` (code ``invalid_name``) saying which part is refused and why."""
    names = _segments(name)
    if not names:
        raise InvalidNameError(f"the file name '{escape_invisible(name)}' is empty; give the file a name")
    parts = [*_segments(folder), *names]
    if len(parts) > MAX_DEPTH:
        raise InvalidNameError(f"{escape_invisible(name)}: folders nest at most {MAX_DEPTH} levels deep")
    try:
        document_id = normalize_document_id("/".join(parts))
    except ValueError as exc:
        raise InvalidNameError(str(exc)) from exc
    if document_id.rsplit("/", 1)[-1] == FOLDER_DEFAULTS_FILE:
        raise InputError(f"{FOLDER_DEFAULTS_FILE} is reserved; set market, language and kind as form fields")
    return document_id


def checked_document_id(value: str) -> str:
    """A document id from a client (a URL's ``document_id``): normalised, or a 400 ``invalid_name``."""
    try:
        return normalize_document_id(value)
    except ValueError as exc:
        raise InvalidNameError(str(exc)) from exc


def _segments(path: str) -> list[str]:
    """The parts of a client path, ``/`` or ``\\`` separated, without empty parts and a leading drive letter."""
    parts = [p for p in re.split(r"[\\/]+", path) if p != ""]
    return parts[1:] if parts and _DRIVE.match(parts[0]) else parts


def refusal(refused: list[SpooledFile]) -> InputError:
    """The error of an upload whose every file was refused: the one error, or what they have in common."""
    errors = [f.error for f in refused if f.error is not None]
    if len(errors) == 1:
        return errors[0]
    summary = "; ".join(e.message for e in errors[:3]) + ("; …" if len(errors) > 3 else "")
    message = f"none of the {len(errors)} files can be ingested (details list each one): {summary}"
    kinds = {type(e) for e in errors}
    codes = {e.code for e in errors}
    if len(kinds) == 1 and len(codes) == 1:
        return errors[0].__class__(message, code=errors[0].code)
    return InputError(message)


# -- receiving ---------------------------------------------------------------------------------------------------


class _Receiver:
    """The multipart callbacks: fields into memory (small), files straight to disk, every cap checked."""

    def __init__(self, incoming: Path, limits: UploadLimits) -> None:
        self.incoming = incoming
        self.limits = limits
        self.upload = Upload()
        self.names: list[str] = []  # client file names as sent, in the order of the files
        self.total = 0
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._field: str | None = None
        self._value = bytearray()
        self._file: SpooledFile | None = None  # the file part being received
        self._handle: IO[bytes] | None = None

    def on_part_begin(self) -> None:
        self._disposition, self._field, self._value, self._file = b"", None, bytearray(), None

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
        raw = options[b"filename"]
        name = raw.decode("utf-8", errors="replace")
        self.names.append(name)
        self._file = SpooledFile(name=escape_invisible(name), path=self.incoming / str(len(self.names)))
        self.upload.received.append(self._file)
        if name.encode("utf-8", errors="replace") != raw:
            self._file.error = InvalidNameError(f"the file name '{escape_invisible(name)}' is not valid UTF-8")
        else:
            self._handle = self._file.path.open("xb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self._file is None:
            if len(self._value) + size > self.limits.max_field_bytes:
                raise InputError(f"the form field {self._field!r} is longer than {self.limits.max_field_bytes} bytes")
            self._value.extend(data[start:end])
            return
        self._file.size += size
        self.total += size
        if self.total > self.limits.max_total_bytes:
            raise FileTooLargeError(f"the upload is larger than the {_mb(self.limits.max_total_bytes)} limit for all "
                                    "its files together; split it")
        if self._file.size > self.limits.max_file_bytes and self._file.error is None:
            self._file.error = FileTooLargeError(f"{self._file.name}: the file is larger than the "
                                                 f"{_mb(self.limits.max_file_bytes)} limit per file")
            self._drop()  # the rest of this part is read and thrown away; the other files go on
        if self._handle is not None:
            self._handle.write(data[start:end])

    def on_part_end(self) -> None:
        if self._file is not None:
            self.close()
        elif self._field is not None:
            self.upload.fields[self._field] = _text(bytes(self._value), f"the form field {self._field!r}")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _drop(self) -> None:
        self.close()
        if self._file is not None:
            self._file.path.unlink(missing_ok=True)


async def receive_multipart(request: Request, folder: Path, limits: UploadLimits) -> Upload:
    """Stream the files of a multipart body into ``folder`` and check them; fields come back as text.

    The optional field ``folder`` becomes the document id prefix of every file. A file that fails a check is
    left out of ``folder`` and listed in ``Upload.refused``. Raises an ``InputError`` subclass for what refuses
    the whole upload (nothing is left in ``folder`` that the caller must keep; the caller removes it).
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
        if is_disk_full(exc):
            raise storage_full(folder, "the upload") from exc
        raise StoreError(f"could not store the upload: {exc.strerror or exc}") from exc
    except Exception as exc:  # python-multipart's parse errors, a body cut short
        raise InputError(f"the multipart body is malformed: {exc}") from exc
    finally:
        receiver.close()
    await run_in_threadpool(_place, receiver, folder)
    return receiver.upload


def _place(receiver: _Receiver, folder: Path) -> None:
    """Name each received file, move it to its document path and check its content; set aside what fails."""
    upload = receiver.upload
    if not upload.received:
        raise InputError("the upload has no file; send one or more files in the form field 'files'")
    prefix = upload.fields.get("folder", "")
    if _segments(prefix):  # a bad folder refuses the upload: it would name every file
        try:
            normalize_document_id("/".join(_segments(prefix)), folder=True)
        except ValueError as exc:
            raise InvalidNameError(str(exc)) from exc
    for spooled, name in zip(upload.received, receiver.names, strict=True):
        if spooled.error is not None and isinstance(spooled.error, InvalidNameError):
            continue  # a name that is not UTF-8: no document id to report
        try:
            spooled.document_id = safe_document_path(name, folder=prefix)
        except InputError as exc:
            spooled.error = spooled.error or exc  # a file already refused (too large) keeps that reason
    named = Counter(f.document_id for f in upload.files)
    for spooled in upload.files:
        if named[spooled.document_id] > 1:
            spooled.error = InputError(f"{named[spooled.document_id]} files of the upload are named "
                                       f"{spooled.document_id!r}; none of them is ingested, rename them")
    for spooled in upload.files:
        target = folder / str(spooled.document_id)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            spooled.path = spooled.path.rename(target)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            spooled.error = InputError(f"{spooled.document_id}: a file and a folder of the upload have the same name")
    shutil.rmtree(receiver.incoming)  # the refused files that were received
    for spooled in upload.files:
        try:
            spooled.file_type = check_file(spooled.path, receiver.limits)
        except InputError as exc:
            spooled.error = exc
            spooled.path.unlink()


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
