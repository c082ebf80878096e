"""The embedded store shared by several processes: one owns the Qdrant folder, the others call it over a socket.

The embedded Qdrant engine locks its folder to one process, and one Python process answers at most as fast as
its interpreter lock lets it (about 10 ms of Python an answer). ``polydesk serve --workers N`` without a Qdrant
server therefore opens the folder once, in the parent process, and serves it on a Unix socket in a private
folder (``StoreHost``); each worker process reaches it through ``RemoteStore``, a ``KnowledgeStore`` whose
every call is one round trip (a search: about 0.2 ms). One writer, the owner, so the engine's guarantees (its
write-ahead log, the versioned document switch of ``KnowledgeIndex``) hold as in one process; the ingestion jobs
(run by the parent) and the workers write through it like the request threads of one process do. By default
each worker reads its own copy of the store instead (``knowledge.replica``), kept up to date from the owner's
numbered writes (``ChangeLog``).

Frames are a 4-byte length and a pickle, between processes of one user on one machine: the socket's folder is
private (mode 700). Errors come back as their class name, code and message and are raised again in the caller;
an unreachable owner is a ``StoreError`` (503, or the degraded reply).
"""

from __future__ import annotations

import logging
import mmap
import pickle
import shutil
import socket
import struct
import tempfile
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from knowledge.schema import Chunk, ChunkFilter, DocumentPage, DocumentRecord, ScoredChunk, SparseVector, StoreQuery
from knowledge.store import KnowledgeStore
from polydesk import errors

log = logging.getLogger("polydesk.store")

_HEADER = struct.Struct("!I")
_SEQUENCE = struct.Struct("=Q")
_WRITES = frozenset({"upsert_chunks", "delete_chunks", "put_document", "delete_document"})
_CALLS = _WRITES | {"get_chunks", "count_chunks", "search", "search_batch", "search_with_records", "get_documents",
                    "list_documents"}
SEQUENCE_FILE = "sequence"  # in the socket's folder: the number of the last write applied (ChangeLog)
LOG_BYTES = 64 << 20  # the writes kept for copies to catch up with; one further behind is made again


def _send(conn: socket.socket, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    conn.sendall(_HEADER.pack(len(data)) + data)


def _receive(conn: socket.socket) -> Any:
    return pickle.loads(_frame(conn))


def _frame(conn: socket.socket) -> bytes:
    size = _HEADER.unpack(_exactly(conn, _HEADER.size))[0]
    return _exactly(conn, size)


def _exactly(conn: socket.socket, size: int) -> bytes:
    parts, left = [], size
    while left:
        part = conn.recv(min(left, 1 << 20))
        if not part:
            raise ConnectionError("the store connection closed")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


class ChangeLog:
    """The owner's writes, numbered in the order they were applied, for the workers' copies of the store
    (``knowledge.replica``). The number of the last one is also kept in a small shared file (``SEQUENCE_FILE``),
    which a copy reads without a call to see whether it is behind. Writes are kept as the frames that asked for
    them, up to ``max_bytes``; a copy further behind than that is made again. A write that failed is logged as
    ``None``: what it changed before failing is unknown, so the copies are made again."""

    def __init__(self, folder: Path, *, max_bytes: int = LOG_BYTES) -> None:
        self.max_bytes = max_bytes
        self.sequence = 0
        self._entries: deque[tuple[int, bytes | None]] = deque()
        self._bytes = 0
        with (folder / SEQUENCE_FILE).open("w+b") as file:
            file.write(bytes(_SEQUENCE.size))
            file.flush()
            self._shared = mmap.mmap(file.fileno(), _SEQUENCE.size)

    def append(self, frame: bytes | None) -> None:
        self.sequence += 1
        self._entries.append((self.sequence, frame))
        self._bytes += len(frame or b"")
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            self._bytes -= len(self._entries.popleft()[1] or b"")
        _SEQUENCE.pack_into(self._shared, 0, self.sequence)

    def since(self, sequence: int) -> list[tuple[int, bytes | None]] | None:
        """The writes after ``sequence``, oldest first; ``None`` when some of them are no longer kept."""
        if sequence == self.sequence:
            return []
        if not self._entries or sequence + 1 < self._entries[0][0] or sequence > self.sequence:
            return None
        return [entry for entry in self._entries if entry[0] > sequence]

    def close(self) -> None:
        self._shared.close()


def read_sequence(view: mmap.mmap) -> int:
    """The owner's last write number, from the shared file ``SEQUENCE_FILE`` mapped by a worker. Read while the
    owner writes it, it may be neither value: that only tells the copy it is behind, and it asks the owner."""
    number: int = _SEQUENCE.unpack_from(view)[0]
    return number


class StoreHost:
    """Serves ``store`` on a Unix socket in a private temporary folder (``path``); a thread per connection.

    With ``replicas`` (a folder), workers may keep their own copy of the store there (``knowledge.replica``):
    the host then numbers its writes (``ChangeLog``) and hands out pages of the store to start a copy from."""

    def __init__(self, store: KnowledgeStore, *, replicas: Path | None = None) -> None:
        self.store = store
        self.replicas = replicas
        if replicas is not None:  # the copies of workers before this start are of no use
            shutil.rmtree(replicas, ignore_errors=True)
            replicas.mkdir(parents=True)
        self._folder = Path(tempfile.mkdtemp(prefix="polydesk-store-"))  # mode 700
        self.path = self._folder / "store.sock"
        self.log = ChangeLog(self._folder)
        self._writing = threading.Lock()  # a write and its number, in one order
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.path))
        self._listener.listen(128)
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="polydesk-store-host", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="polydesk-store-call", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    frame = _frame(conn)
                    method, args, kwargs = pickle.loads(frame)
                except (ConnectionError, OSError, EOFError, pickle.PickleError):
                    return
                try:
                    reply: tuple[bool, object] = (True, self._run(frame, method, args, kwargs))
                except errors.PolydeskError as exc:
                    reply = (False, (type(exc).__name__, exc.code, exc.message))
                except Exception as exc:  # reported to the caller as the store's failure, like in one process
                    log.exception("store call %s failed", method)
                    reply = (False, ("StoreError", "store_unavailable", f"{method}: {type(exc).__name__}: {exc}"))
                try:
                    _send(conn, reply)
                except OSError:
                    return

    def _run(self, frame: bytes, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
        if method in _WRITES:
            with self._writing:
                try:
                    result = getattr(self.store, method)(*args, **kwargs)
                except errors.InputError:
                    raise  # refused before anything was written
                except BaseException:
                    self.log.append(None)
                    raise
                self.log.append(frame)
                return result
        if method in _CALLS:
            return getattr(self.store, method)(*args, **kwargs)
        if method == "replication":  # where a copy goes, and the number of the last write
            return self.replicas, self.log.sequence
        if method == "changes":
            return self.log.since(*args)
        if method == "export_page" and self.replicas is not None:
            return self.store.export_page(*args)  # type: ignore[attr-defined]  # EdgeStore only
        raise errors.InputError(f"{method!r} is not a store operation")

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        self.log.close()
        shutil.rmtree(self._folder, ignore_errors=True)
        if self.replicas is not None:
            shutil.rmtree(self.replicas, ignore_errors=True)


class RemoteStore:
    """The ``KnowledgeStore`` of another process's ``StoreHost``; one connection per thread."""

    def __init__(self, path: Path, *, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._local = threading.local()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self.call("count_chunks", ChunkFilter(tenant="polydesk-probe"))  # fails now if the owner is not there

    def _connection(self) -> socket.socket:
        conn: socket.socket | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect(str(self.path))
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def call(self, method: str, *args: object, **kwargs: object) -> Any:
        """One operation of the owner by name (the store's, or the host's own: ``StoreHost._run``)."""
        try:
            conn = self._connection()
            _send(conn, (method, args, kwargs))
            ok, value = _receive(conn)
        except (OSError, EOFError, pickle.PickleError) as exc:
            self._local.conn = None
            raise errors.StoreError(f"the process that owns the knowledge store is unreachable ({method}): "
                                    f"{type(exc).__name__}: {exc}") from exc
        if ok:
            return value
        name, code, message = value
        kind = getattr(errors, name, None)
        if isinstance(kind, type) and issubclass(kind, errors.PolydeskError) \
                and kind.__init__ is errors.PolydeskError.__init__:
            raise kind(message)
        raise errors.PolydeskError(message, code=code)

    def upsert_chunks(self, chunks: Sequence[Chunk], dense: Sequence[Sequence[float]],
                      sparse: Sequence[SparseVector]) -> None:
        self.call("upsert_chunks", list(chunks), [list(map(float, v)) for v in dense], list(sparse))

    def delete_chunks(self, tenant: str, document_id: str, *, except_version: int | None = None) -> None:
        self.call("delete_chunks", tenant, document_id, except_version=except_version)

    def get_chunks(self, tenant: str, document_id: str, *, version: int | None = None) -> list[Chunk]:
        chunks: list[Chunk] = self.call("get_chunks", tenant, document_id, version=version)
        return chunks

    def count_chunks(self, flt: ChunkFilter) -> int:
        return int(self.call("count_chunks", flt))

    def search(self, query: StoreQuery) -> list[ScoredChunk]:
        hits: list[ScoredChunk] = self.call("search", query)
        return hits

    def search_batch(self, queries: Sequence[StoreQuery]) -> list[list[ScoredChunk]]:
        found: list[list[ScoredChunk]] = self.call("search_batch", list(queries))
        return found

    def search_with_records(self, queries: Sequence[StoreQuery]
                            ) -> tuple[list[list[ScoredChunk]], dict[str, DocumentRecord]]:
        found: tuple[list[list[ScoredChunk]], dict[str, DocumentRecord]] = self.call("search_with_records",
                                                                                      list(queries))
        return found

    def put_document(self, record: DocumentRecord) -> None:
        self.call("put_document", record)

    def get_documents(self, tenant: str, document_ids: Sequence[str]) -> dict[str, DocumentRecord]:
        found: dict[str, DocumentRecord] = self.call("get_documents", tenant, list(document_ids))
        return found

    def list_documents(self, tenant: str, *, market: str | None = None, language: str | None = None,
                       kind: str | None = None, limit: int = 100, offset: str | None = None) -> DocumentPage:
        page: DocumentPage = self.call("list_documents", tenant, market=market, language=language, kind=kind,
                                        limit=limit, offset=offset)
        return page

    def delete_document(self, tenant: str, document_id: str) -> None:
        self.call("delete_document", tenant, document_id)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
