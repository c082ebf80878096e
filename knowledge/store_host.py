"""The embedded store shared by several processes: one owns the Qdrant folder, the others call it over a socket.

The embedded Qdrant engine locks its folder to one process, and one Python process answers at most as fast as
its interpreter lock lets it (about 10 ms of Python an answer). ``polydesk serve --workers N`` without a Qdrant
server therefore opens the folder once, in the parent process, and serves it on a Unix socket in a private
folder (``StoreHost``); each worker process reaches it through ``RemoteStore``, a ``KnowledgeStore`` whose
every call is one round trip (a search: about 0.2 ms). One writer, the owner, so the engine's guarantees (its
write-ahead log, the versioned document switch of ``KnowledgeIndex``) hold as in one process; the workers'
ingestion jobs write through it like the request threads of one process do.

Frames are a 4-byte length and a pickle, between processes of one user on one machine: the socket's folder is
private (mode 700). Errors come back as their class name, code and message and are raised again in the caller;
an unreachable owner is a ``StoreError`` (503, or the degraded reply).
"""

from __future__ import annotations

import logging
import pickle
import socket
import struct
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from knowledge.schema import Chunk, ChunkFilter, DocumentPage, DocumentRecord, ScoredChunk, SparseVector, StoreQuery
from knowledge.store import KnowledgeStore
from polydesk import errors

log = logging.getLogger("polydesk.store")

_HEADER = struct.Struct("!I")
_CALLS = frozenset({"upsert_chunks", "delete_chunks", "get_chunks", "count_chunks", "search", "search_batch",
                    "search_with_records", "put_document", "get_documents", "list_documents", "delete_document"})


def _send(conn: socket.socket, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    conn.sendall(_HEADER.pack(len(data)) + data)


def _receive(conn: socket.socket) -> Any:
    size = _HEADER.unpack(_exactly(conn, _HEADER.size))[0]
    return pickle.loads(_exactly(conn, size))


def _exactly(conn: socket.socket, size: int) -> bytes:
    parts, left = [], size
    while left:
        part = conn.recv(min(left, 1 << 20))
        if not part:
            raise ConnectionError("the store connection closed")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


class StoreHost:
    """Serves ``store`` on a Unix socket in a private temporary folder (``path``); a thread per connection."""

    def __init__(self, store: KnowledgeStore) -> None:
        self.store = store
        self._folder = Path(tempfile.mkdtemp(prefix="polydesk-store-"))  # mode 700
        self.path = self._folder / "store.sock"
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
                    method, args, kwargs = _receive(conn)
                except (ConnectionError, OSError, EOFError):
                    return
                try:
                    if method not in _CALLS:
                        raise errors.InputError(f"{method!r} is not a store operation")
                    reply: tuple[bool, object] = (True, getattr(self.store, method)(*args, **kwargs))
                except errors.PolydeskError as exc:
                    reply = (False, (type(exc).__name__, exc.code, exc.message))
                except Exception as exc:  # reported to the caller as the store's failure, like in one process
                    log.exception("store call %s failed", method)
                    reply = (False, ("StoreError", "store_unavailable", f"{method}: {type(exc).__name__}: {exc}"))
                try:
                    _send(conn, reply)
                except OSError:
                    return

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        self.path.unlink(missing_ok=True)
        self._folder.rmdir()


class RemoteStore:
    """The ``KnowledgeStore`` of another process's ``StoreHost``; one connection per thread."""

    def __init__(self, path: Path, *, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._local = threading.local()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._call("count_chunks", ChunkFilter(tenant="polydesk-probe"))  # fails now if the owner is not there

    def _connection(self) -> socket.socket:
        conn: socket.socket | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect(str(self.path))
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _call(self, method: str, *args: object, **kwargs: object) -> Any:
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
        self._call("upsert_chunks", list(chunks), [list(map(float, v)) for v in dense], list(sparse))

    def delete_chunks(self, tenant: str, document_id: str, *, except_version: int | None = None) -> None:
        self._call("delete_chunks", tenant, document_id, except_version=except_version)

    def get_chunks(self, tenant: str, document_id: str, *, version: int | None = None) -> list[Chunk]:
        chunks: list[Chunk] = self._call("get_chunks", tenant, document_id, version=version)
        return chunks

    def count_chunks(self, flt: ChunkFilter) -> int:
        return int(self._call("count_chunks", flt))

    def search(self, query: StoreQuery) -> list[ScoredChunk]:
        hits: list[ScoredChunk] = self._call("search", query)
        return hits

    def search_batch(self, queries: Sequence[StoreQuery]) -> list[list[ScoredChunk]]:
        found: list[list[ScoredChunk]] = self._call("search_batch", list(queries))
        return found

    def search_with_records(self, queries: Sequence[StoreQuery]
                            ) -> tuple[list[list[ScoredChunk]], dict[str, DocumentRecord]]:
        found: tuple[list[list[ScoredChunk]], dict[str, DocumentRecord]] = self._call("search_with_records",
                                                                                      list(queries))
        return found

    def put_document(self, record: DocumentRecord) -> None:
        self._call("put_document", record)

    def get_documents(self, tenant: str, document_ids: Sequence[str]) -> dict[str, DocumentRecord]:
        found: dict[str, DocumentRecord] = self._call("get_documents", tenant, list(document_ids))
        return found

    def list_documents(self, tenant: str, *, market: str | None = None, language: str | None = None,
                       kind: str | None = None, limit: int = 100, offset: str | None = None) -> DocumentPage:
        page: DocumentPage = self._call("list_documents", tenant, market=market, language=language, kind=kind,
                                        limit=limit, offset=offset)
        return page

    def delete_document(self, tenant: str, document_id: str) -> None:
        self._call("delete_document", tenant, document_id)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
