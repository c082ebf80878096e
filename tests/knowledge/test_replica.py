"""A worker's copy of the embedded store (``knowledge.replica``) against its owner (``knowledge.store_host``).

Every check compares the copy with the owner's own store point for point (``export_page`` of both shards):
after writes through another worker's copy, with writes between the pages a copy is made from, after the
owner dropped writes the copy had not fetched, after a write that failed at the owner, and when no copy can be
made. The search results of the copies are checked against the owner's too, and by an exact oracle in
``test_store_congruence`` (the ``replica`` backend).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from knowledge import qdrant_edge
from knowledge.qdrant_edge import EdgeStore
from knowledge.replica import ReplicaStore, open_shared
from knowledge.schema import Chunk, ChunkFilter, DocumentRecord, SparseVector, StoreQuery
from knowledge.store_host import ChangeLog, RemoteStore, StoreHost, read_sequence
from polydesk.errors import InputError, StoreError
from tests.knowledge.test_store_congruence import CORPUS, DIM

pytestmark = pytest.mark.integration


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[tuple[EdgeStore, StoreHost]]:
    edge = EdgeStore(path=tmp_path / "owner", dim=DIM)
    CORPUS.upsert_into(edge)
    host = StoreHost(edge, replicas=tmp_path / "replicas")
    yield edge, host
    host.close()
    edge.close()


def replica(host: StoreHost, name: str) -> ReplicaStore:
    assert host.replicas is not None
    return ReplicaStore(RemoteStore(host.path, dim=DIM), host.replicas / name)


def points(store: EdgeStore) -> dict[str, dict[Any, tuple[Any, Any]]]:
    """Every point of both shards: id -> (vectors rounded to 5 places, payload)."""
    found: dict[str, dict[Any, tuple[Any, Any]]] = {}
    for shard in ("chunks", "documents"):
        found[shard], offset = {}, None
        while True:
            page, offset = store.export_page(shard, offset)
            for point_id, vectors, payload in page:
                rounded = {name: (value.indices, [round(v, 5) for v in value.values])
                           if isinstance(value, SparseVector) else [round(v, 5) for v in value]
                           for name, value in vectors.items()}
                found[shard][point_id] = (rounded, payload)
            if offset is None:
                break
    return found


def the_copy(store: ReplicaStore) -> EdgeStore:
    """The copy, brought up to date (its own thread does it too, soon; here at once)."""
    store.catch_up()
    assert store.current and store._copy is not None
    return store._copy


def document(number: int, version: int = 1, text: str = "") -> tuple[Chunk, list[float], SparseVector]:
    chunk = Chunk(tenant="tidewell", document_id=f"added-{number}.md", version=version, position=0,
                  text=text or f"Lieferung nach Japan {number}: 送料無料", market="JP", language="ja", kind="faq",
                  source=f"added-{number}.md")
    return chunk, [1.0] + [0.0] * (DIM - 1), SparseVector([number + 1000], [1.0])


def write(store: ReplicaStore | EdgeStore, number: int, version: int = 1) -> None:
    chunk, dense, sparse = document(number, version)
    store.upsert_chunks([chunk], [dense], [sparse])
    store.put_document(DocumentRecord(tenant="tidewell", document_id=chunk.document_id, version=version,
                                      source_hash="0" * 64, market="JP", language="ja", kind="faq",
                                      title=f"Japan {number}", source=chunk.source, chunk_count=1))


def test_a_write_through_one_worker_is_read_by_the_next_read_of_every_worker(
        owner: tuple[EdgeStore, StoreHost]) -> None:
    edge, host = owner
    first, second = replica(host, "1"), replica(host, "2")
    try:
        assert points(the_copy(first)) == points(edge) == points(the_copy(second))
        write(first, 1)
        first.delete_chunks("tidewell", "policies/returns.md")
        first.delete_document("tidewell", "tidewell/doc-1.md")
        assert not second.current  # it knows it is behind without a call: the shared sequence file
        tenant = ChunkFilter(tenant="tidewell")  # read from the owner while the copies are behind, then from them
        assert second.count_chunks(tenant) == edge.count_chunks(tenant) == first.count_chunks(tenant)
        assert second.get_documents("tidewell", ["added-1.md"])["added-1.md"].title == "Japan 1"
        assert points(the_copy(first)) == points(edge) == points(the_copy(second))
        query = StoreQuery(filter=ChunkFilter(tenant="tidewell", markets=("JP",)), dense=document(1)[1],
                           sparse=SparseVector([1001], [1.0]), limit=3)
        assert second.search(query)[0].chunk.document_id == "added-1.md"
        assert [(h.chunk.point_id, round(h.score, 5)) for h in second.search(query)] == \
               [(h.chunk.point_id, round(h.score, 5)) for h in edge.search(query)]
        copy = the_copy(second)
        with pytest.raises(InputError):  # refused by the owner, as a store in this process refuses it
            first.upsert_chunks([document(2)[0]], [[1.0]], [document(2)[2]])
        assert second.current and the_copy(second) is copy  # a refused write changed nothing: no new copy
    finally:
        first.close()
        second.close()
    assert not (host.replicas / "1").exists() and not (host.replicas / "2").exists()  # type: ignore[operator]


def test_a_copy_made_while_writes_go_on_ends_equal_to_the_owner(owner: tuple[EdgeStore, StoreHost],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes land between the pages a copy is made from: an upsert of a point already copied, a delete by
    filter of points not copied yet, a new version that replaces an old one. Applied again after the pages,
    they leave every point as the owner has it."""
    edge, host = owner
    monkeypatch.setattr(qdrant_edge, "BATCH_SIZE", 16)  # many pages
    writer = RemoteStore(host.path, dim=DIM)
    pages = 0

    class Interleaved(RemoteStore):
        def call(self, method: str, *args: object, **kwargs: object) -> Any:
            nonlocal pages
            if method == "export_page":
                pages += 1
                if pages == 3:
                    write(writer, 7)
                    writer.delete_chunks("northwind", "northwind/doc-9.md")
                    writer.delete_chunks("tidewell", "policies/returns.md", except_version=2)
                if pages == 6:
                    write(writer, 7, version=2)
                    writer.delete_chunks("tidewell", "added-7.md", except_version=2)
                    writer.delete_document("northwind", "northwind/doc-9.md")
            return super().call(method, *args, **kwargs)

    copy = ReplicaStore(Interleaved(host.path, dim=DIM), host.replicas / "1")  # type: ignore[operator]
    try:
        made = the_copy(copy)
        assert pages > 6
        assert points(made) == points(edge)
        assert [c.version for c in copy.get_chunks("tidewell", "added-7.md")] == [2]
        assert copy.get_chunks("northwind", "northwind/doc-9.md") == []
    finally:
        copy.close()
        writer.close()


def test_a_copy_further_behind_than_the_log_or_after_a_failed_write_is_made_again(
        owner: tuple[EdgeStore, StoreHost], monkeypatch: pytest.MonkeyPatch) -> None:
    edge, host = owner
    copy = replica(host, "1")
    writer = RemoteStore(host.path, dim=DIM)
    try:
        first = the_copy(copy)
        host.log.max_bytes = 1  # the owner keeps only its last write
        write(writer, 1)
        write(writer, 2)
        assert copy.count_chunks(ChunkFilter(tenant="tidewell")) == edge.count_chunks(ChunkFilter(tenant="tidewell"))
        second = the_copy(copy)
        assert second is not first and points(second) == points(edge)

        host.log.max_bytes = 64 << 20

        def broken(*args: object, **kwargs: object) -> None:
            edge.delete_document("tidewell", "added-1.md")  # it changed something, then failed
            raise RuntimeError("the engine failed halfway")

        monkeypatch.setattr(edge, "delete_chunks", broken)
        with pytest.raises(StoreError):
            writer.delete_chunks("tidewell", "added-1.md")
        assert copy.get_documents("tidewell", ["added-1.md"]) == {}  # the owner's answer until the copy is made
        assert the_copy(copy) is not second and points(the_copy(copy)) == points(edge)
    finally:
        copy.close()
        writer.close()


def test_reads_go_to_the_owner_while_no_copy_can_be_made(owner: tuple[EdgeStore, StoreHost], tmp_path: Path) -> None:
    edge, host = owner
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the copy's folder would go")
    copy = ReplicaStore(RemoteStore(host.path, dim=DIM), blocked / "1")
    try:
        with pytest.raises(StoreError):
            copy.catch_up()
        assert not copy.current
        write(copy, 1)
        assert copy.get_documents("tidewell", ["added-1.md"])["added-1.md"].title == "Japan 1"  # the owner's
        assert copy.count_chunks(ChunkFilter(tenant="tidewell")) == edge.count_chunks(ChunkFilter(tenant="tidewell"))
    finally:
        copy.close()


def test_open_shared_copies_only_where_the_owner_offers_it_and_clears_dead_workers_copies(tmp_path: Path) -> None:
    edge = EdgeStore(path=tmp_path / "owner", dim=DIM)
    try:
        plain = StoreHost(edge)
        store = open_shared(plain.path, dim=DIM)
        assert type(store) is RemoteStore
        store.close()
        plain.close()
        replicas = tmp_path / "replicas"
        replicas.mkdir()
        (replicas / "stale").write_text("left from a run before")
        host = StoreHost(edge, replicas=replicas)
        assert list(replicas.iterdir()) == []  # emptied when the owner starts
        dead = replicas / "999999999"  # no process has this id
        dead.mkdir()
        store = open_shared(host.path, dim=DIM)
        assert isinstance(store, ReplicaStore) and store.folder == replicas / str(os.getpid())
        assert not dead.exists()
        store.close()
        host.close()
        assert not replicas.exists()  # removed when the owner stops
    finally:
        edge.close()


def test_change_log_numbers_writes_and_says_when_it_no_longer_has_them(tmp_path: Path) -> None:
    log = ChangeLog(tmp_path, max_bytes=10)
    view = (tmp_path / "sequence").open("rb")
    try:
        import mmap

        shared = mmap.mmap(view.fileno(), 0, access=mmap.ACCESS_READ)
        assert log.since(0) == [] and read_sequence(shared) == 0
        log.append(b"aaaa")
        log.append(None)
        log.append(b"bbbb")
        assert read_sequence(shared) == 3
        assert log.since(0) == [(1, b"aaaa"), (2, None), (3, b"bbbb")]
        assert log.since(2) == [(3, b"bbbb")] and log.since(3) == []
        assert log.since(4) is None  # from the future: a log of an owner before this one
        log.append(b"cccccc")  # over 10 bytes: the oldest go
        assert log.since(0) is None and log.since(2) == [(3, b"bbbb"), (4, b"cccccc")]
        shared.close()
    finally:
        view.close()
        log.close()
