"""A worker's own copy of the embedded knowledge store: reads in the process, writes through the owner.

With ``polydesk serve --workers N`` one process owns the embedded Qdrant folder (``knowledge.store_host``) and
the workers called it for every search: about 1.6 core-ms of pickling, socket and the owner's interpreter per
answer, and while two workers waited on the owner at once a core stood idle. A ``ReplicaStore`` keeps a copy of
the store in a folder of its own and reads it in the worker's process:

- **Writes** go to the owner, as before. The owner numbers every write it applies (``ChangeLog``) and keeps the
  last number in a small shared file.
- **Reads** first compare that number with the copy's own, a read of shared memory and no call. A copy that has
  every write answers; one that is behind does not: the owner answers (as it does without copies), and the
  copy's own thread fetches the writes it misses and applies them in order (about 0.3 ms a write). A read that
  starts after a write has returned, in any worker, therefore sees it, as in one process, and no answer waits
  for a write to be applied.
- **A new copy** is filled from the owner's pages of points (``EdgeStore.export_page``) while writes go on, then
  applies every write numbered after the moment it started. That is exact because every write is an upsert of
  whole points, or a delete by point id or by a filter on the points' own fields: whichever pages a write came
  before or after, applying it again, in order, leaves each point as the owner has it.
- **A copy that cannot follow** is made again: one further behind than the owner keeps writes for, or one that
  saw a write fail at the owner (what that write changed before failing is unknown). While it cannot be made (a
  full disk, say), reads go to the owner, and the copy is tried again after a wait that doubles each time.

The copies live in ``DATA_DIR/replicas/<pid>/`` (the owner empties ``replicas/`` when it starts and stops; a
worker removes the copies of workers that died), one per worker: on disk and in the page cache, N + 1 times the
index. ``POLYDESK_STORE_REPLICAS=false`` turns them off. Measured (docs/performance.md, ninth round): 274 against
232 answers/s at 64 clients on two cores, p95 258 against 318 ms.
"""

from __future__ import annotations

import logging
import mmap
import os
import pickle
import shutil
import threading
import time
from collections.abc import Sequence
from itertools import count
from pathlib import Path

from knowledge.qdrant_edge import EdgeStore
from knowledge.schema import Chunk, ChunkFilter, DocumentPage, DocumentRecord, ScoredChunk, SparseVector, StoreQuery
from knowledge.store import KnowledgeStore
from knowledge.store_host import SEQUENCE_FILE, RemoteStore, read_sequence
from polydesk import errors
from polydesk.worker import Worker, process_alive

log = logging.getLogger("polydesk.store")

POLL_S = 1.0  # an idle copy looks for writes this often (a read that finds it behind wakes it at once)
MAX_BACKOFF_S = 60.0  # a copy that failed is tried again after POLL_S, doubling up to this; the owner answers
RETIRED_S = 60.0  # a copy made again stays open this long for the reads still under way on it
SHARDS = ("chunks", "documents")


def open_shared(socket: Path, *, dim: int, reserve_bytes: int = 0, search_threads: int = 1) -> KnowledgeStore:
    """The store of the process that owns the embedded folder: a ``ReplicaStore`` where the owner offers copies,
    else every call to the owner (``RemoteStore``)."""
    remote = RemoteStore(socket, dim=dim)
    replicas, _ = remote.call("replication")
    if replicas is None:
        return remote
    _remove_dead_copies(Path(replicas))
    return ReplicaStore(remote, Path(replicas) / str(os.getpid()), reserve_bytes=reserve_bytes,
                        search_threads=search_threads)


class ReplicaStore:
    """``KnowledgeStore`` reading its own copy of ``remote``'s store in ``folder`` while the copy has every write,
    and ``remote`` otherwise; writing through ``remote``."""

    def __init__(self, remote: RemoteStore, folder: Path, *, reserve_bytes: int = 0, search_threads: int = 1) -> None:
        self.remote = remote
        self.dim = remote.dim
        self.folder = folder
        self.reserve_bytes = reserve_bytes
        self.search_threads = search_threads
        shutil.rmtree(self.folder, ignore_errors=True)  # a process of the same id before this one
        with (remote.path.parent / SEQUENCE_FILE).open("rb") as file:
            self._sequence_view = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        self._lock = threading.Lock()  # the copy is changed by one thread at a time
        self._copy: EdgeStore | None = None
        self._sequence = 0  # the owner's last write that the copy has
        self._names = count()
        self._retired: list[tuple[float, EdgeStore]] = []
        # Writes are applied to the copy in a thread of its own, so that no answer waits for them (the owner
        # answers the reads meanwhile); idle, it looks for writes every POLL_S. It keeps the answers' CPU
        # priority: it holds the interpreter lock while it applies a write (about 0.3 ms), and a thread of lower
        # priority preempted while holding it would stall the answers of its process.
        self._follower = Worker("polydesk-store-copy", self._follow, poll_s=POLL_S, max_backoff_s=MAX_BACKOFF_S,
                                label="the worker's copy of the knowledge store", log=log)
        self._follower.start()

    # -- reads: the copy ----------------------------------------------------

    def get_chunks(self, tenant: str, document_id: str, *, version: int | None = None) -> list[Chunk]:
        return self._reader().get_chunks(tenant, document_id, version=version)

    def count_chunks(self, flt: ChunkFilter) -> int:
        return self._reader().count_chunks(flt)

    def search(self, query: StoreQuery) -> list[ScoredChunk]:
        return self._reader().search(query)

    def search_batch(self, queries: Sequence[StoreQuery]) -> list[list[ScoredChunk]]:
        return self._reader().search_batch(queries)

    def search_with_records(self, queries: Sequence[StoreQuery]
                            ) -> tuple[list[list[ScoredChunk]], dict[str, DocumentRecord]]:
        return self._reader().search_with_records(queries)

    def get_documents(self, tenant: str, document_ids: Sequence[str]) -> dict[str, DocumentRecord]:
        return self._reader().get_documents(tenant, document_ids)

    def list_documents(self, tenant: str, *, market: str | None = None, language: str | None = None,
                       kind: str | None = None, limit: int = 100, offset: str | None = None) -> DocumentPage:
        return self._reader().list_documents(tenant, market=market, language=language, kind=kind, limit=limit,
                                             offset=offset)

    # -- writes: the owner --------------------------------------------------

    def upsert_chunks(self, chunks: Sequence[Chunk], dense: Sequence[Sequence[float]],
                      sparse: Sequence[SparseVector]) -> None:
        self.remote.upsert_chunks(chunks, dense, sparse)

    def delete_chunks(self, tenant: str, document_id: str, *, except_version: int | None = None) -> None:
        self.remote.delete_chunks(tenant, document_id, except_version=except_version)

    def put_document(self, record: DocumentRecord) -> None:
        self.remote.put_document(record)

    def delete_document(self, tenant: str, document_id: str) -> None:
        self.remote.delete_document(tenant, document_id)

    # -- keeping the copy ---------------------------------------------------

    @property
    def current(self) -> bool:
        """Whether reads are served by the copy now (it has every write the owner has applied)."""
        return self._copy is not None and read_sequence(self._sequence_view) == self._sequence

    def _reader(self) -> KnowledgeStore:
        copy = self._copy
        if copy is not None and read_sequence(self._sequence_view) == self._sequence:
            return copy
        self._follower.wake()
        return self.remote  # always current

    def catch_up(self) -> None:
        """Bring the copy up to date with the owner, making it first if there is none. The copy's own thread
        does this whenever the copy is behind; a copy that fails on the way is set aside and made again."""
        with self._lock:
            try:
                for _ in range(3):
                    if self._copy is None:
                        self._make()
                    assert self._copy is not None
                    changes = self.remote.call("changes", self._sequence)
                    if changes is not None and all(frame is not None for _, frame in changes):
                        for number, frame in changes:
                            method, args, kwargs = pickle.loads(frame)
                            getattr(self._copy, method)(*args, **kwargs)
                            self._sequence = number
                        return
                    self._retire()  # too far behind, or a write failed at the owner: made again
                raise errors.StoreError("the copy of the knowledge store could not catch up with its owner")
            except BaseException:
                self._retire()
                raise

    def _follow(self) -> bool:
        self.catch_up()
        return not self.current  # written to meanwhile: again at once

    def _make(self) -> None:
        folder = self.folder / f"copy-{next(self._names)}"
        copy = EdgeStore(path=folder, dim=self.dim, reserve_bytes=self.reserve_bytes,
                         search_threads=self.search_threads)
        try:
            _, sequence = self.remote.call("replication")  # taken before the first page: see the module's note
            for shard in SHARDS:
                offset = None
                while True:
                    points, offset = self.remote.call("export_page", shard, offset)
                    copy.import_page(shard, points)
                    if offset is None:
                        break
        except BaseException:
            _discard(copy)
            raise
        self._sequence = sequence  # before the copy is visible: a reader compares the two
        self._copy = copy
        self._close_retired(time.monotonic() - RETIRED_S)

    def _retire(self) -> None:
        if self._copy is not None:
            self._retired.append((time.monotonic(), self._copy))
            self._copy = None

    def _close_retired(self, before: float) -> None:
        for retired, copy in list(self._retired):
            if retired <= before:
                self._retired.remove((retired, copy))
                _discard(copy)

    def close(self) -> None:
        self._follower.stop(timeout_s=30.0)
        with self._lock:
            self._retire()
            self._close_retired(float("inf"))
            self.remote.close()
            self._sequence_view.close()
            shutil.rmtree(self.folder, ignore_errors=True)


def _discard(copy: EdgeStore) -> None:
    copy.close()
    shutil.rmtree(copy.path, ignore_errors=True)


def _remove_dead_copies(replicas: Path) -> None:
    """The folders of workers that exited without closing their copy (killed, say)."""
    for folder in replicas.iterdir() if replicas.is_dir() else ():
        if folder.name.isdigit() and not process_alive(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)

