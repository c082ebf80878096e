"""Faults on the ingestion side (issue 21): a killed upload job, a killed replace under readers, a full disk.

The scenarios (``bench/faults_ingest.py``) run ``polydesk serve`` as a process and SIGKILL it, in the background
(``conftest.py``); the full-disk one needs a tmpfs mount (root). Without a mount, the same refusals are checked here on the real parts: the index's
reserve on the real embedded engine, a real ENOSPC (``/dev/full``), a real Redis that cannot save (``MISCONF``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import redis

from api.errors import status_of
from bench.fault_kit import FaultResult, RedisProcess, wait_until
from bench.faults_disk import mount_tmpfs
from bench.faults_disk import unmount as unmount_tmpfs
from bench.ingest_docs import document_text
from ingestion.pipeline import Ingestor
from ingestion.sources import SourceOptions
from knowledge.index import EncodedChunks, KnowledgeIndex
from knowledge.schema import Chunk
from knowledge.store import KnowledgeStore
from polydesk.diskspace import MB, disk_writes, free_bytes
from polydesk.errors import StorageFullError, StoreError
from polydesk.redisdb import redis_errors
from polydesk.settings import Settings

pytestmark = pytest.mark.integration


def _write_docs(root: Path, version: int, sentences: int) -> Path:
    folder = root / f"v{version}"
    for number, language in enumerate(("de", "ja", "th"), start=1):
        (folder / f"aurora-{language}.md").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"aurora-{language}.md").write_text(document_text(language, number, version, sentences),
                                                      encoding="utf-8")
    return folder


# -- the scenarios: polydesk serve as a process, killed -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.scenario("serve_killed_during_upload")
def test_serve_killed_during_an_upload_job_resumes_and_no_document_is_half_written(scenario: FaultResult) -> None:
    assert scenario.ok, str(scenario)
    assert scenario.figures["attempts_1"] >= 2, f"the job was not interrupted: {scenario}"


@pytest.mark.slow
@pytest.mark.scenario("killed_during_replace")
def test_serve_killed_during_a_replace_readers_never_see_neither_version_nor_a_mix(scenario: FaultResult) -> None:
    assert scenario.ok, str(scenario)
    assert scenario.counts["answers"] >= 12 and scenario.counts["reads_failed_while_down"] >= 1, str(scenario)


@pytest.mark.slow
@pytest.mark.scenario("disk_full")
def test_disk_full_fails_uploads_with_storage_full_and_answering_goes_on(tmp_path: Path,
                                                                         scenario: FaultResult) -> None:
    probe = tmp_path / "probe"
    if not mount_tmpfs(probe, 1):
        pytest.skip("cannot mount a tmpfs here (needs root): the ENOSPC tests below check the same refusals")
    unmount_tmpfs(probe)
    assert scenario.ok and scenario.counts, str(scenario)


# -- the same refusals without a mount -------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_index_refuses_writes_below_its_reserve_and_stays_searchable(tmp_path: Path, index: KnowledgeIndex,
                                                                          settings: Settings) -> None:
    ingestor = Ingestor(index=index, settings=settings)
    first = ingestor.ingest([_write_docs(tmp_path, 1, 12)], SourceOptions(tenant="tidewell"))
    assert {f.status for f in first.files} == {"added"}
    store = index.store
    store.reserve_bytes = free_bytes(settings.qdrant_path) + 1024 * MB  # type: ignore[attr-defined]
    with pytest.raises(StorageFullError) as refused:
        ingestor.ingest([_write_docs(tmp_path, 2, 40)], SourceOptions(tenant="tidewell"))
    assert refused.value.code == "storage_full" and status_of(refused.value) == 507
    assert str(settings.qdrant_path) in refused.value.message and " free of " in refused.value.message
    for number, language in enumerate(("de", "ja", "th"), start=1):
        record = index.get_document("tidewell", f"aurora-{language}.md")
        assert record is not None and record.version == 1
        stored = index.get_chunks("tidewell", record.document_id)
        assert {c.version for c in stored} == {1} and len(stored) == record.chunk_count
        hits = index.search(f"Aurora {number} K{number}V1X", tenant="tidewell", top_k=3)
        assert hits and all(h.chunk.version == 1 for h in hits if h.chunk.document_id == record.document_id)
    store.reserve_bytes = 0  # type: ignore[attr-defined]  # space freed: the same files go in
    again = ingestor.ingest([_write_docs(tmp_path, 2, 40)], SourceOptions(tenant="tidewell"))
    assert {f.status for f in again.files} == {"replaced"}


def test_a_full_disk_while_writing_files_is_storage_full_naming_the_folder(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    # a real ENOSPC from the kernel
    with pytest.raises(StorageFullError) as full, disk_writes(tmp_path, "the upload"), open("/dev/full", "wb") as device:
        device.write(b"x" * 8192)
    assert str(tmp_path) in full.value.message and "the upload was not written" in full.value.message
    with pytest.raises(PermissionError), disk_writes(tmp_path, "the upload"):
        raise PermissionError(13, "Permission denied")  # other OS errors pass unchanged


@pytest.mark.slow
def test_redis_that_cannot_save_its_data_is_storage_full(tmp_path: Path) -> None:
    """A real redis-server whose save fails (its folder is gone) refuses writes with MISCONF."""
    with RedisProcess(tmp_path / "redis", persistence="rdb") as server:
        client = redis.Redis.from_url(server.url)
        gone = Path(tempfile.mkdtemp(dir=tmp_path))
        client.config_set("dir", str(gone))
        gone.rmdir()
        client.set("before", "1")
        client.bgsave()
        wait_until(lambda: client.info("persistence")["rdb_last_bgsave_status"] == "err", 30, "the failed save")
        with pytest.raises(StorageFullError) as full, redis_errors("record the ingestion job"):
            client.set("after", "1")
        assert "MISCONF" in full.value.message and isinstance(full.value, StoreError)
        server.kill()  # a SIGTERM would wait for a save that cannot succeed
        client.close()


def test_a_crashed_write_of_a_version_never_goes_live_with_the_next_write_of_it(index: KnowledgeIndex,
                                                                                 settings: Settings,
                                                                                 tmp_path: Path) -> None:
    """A killed write of version 2 (content A, 6 chunks) leaves invisible chunks under the ids version 2 uses; the
    next write of version 2 (content B, 2 chunks) must not make A's extra chunks live."""
    ingestor = Ingestor(index=index, settings=settings)
    ingestor.ingest([_write_docs(tmp_path, 1, 6)], SourceOptions(tenant="tidewell"))
    record = index.get_document("tidewell", "aurora-de.md")
    assert record is not None and record.version == 1
    store: KnowledgeStore = index.store
    crashed = [Chunk(tenant="tidewell", document_id=record.document_id, version=2, position=i, language="de",
                     kind="doc", source="upload:aurora-de.md", text=f"Inhalt A {i}: entkalken alle {i + 2} Wochen.")
               for i in range(6)]
    encoded = index.encode([c.text for c in crashed])
    store.upsert_chunks(crashed, encoded.dense.tolist(), encoded.sparse)  # killed before the catalogue switched
    written = [c.model_copy(update={"text": f"Inhalt B {c.position}: nur mit Essig entkalken."}) for c in crashed[:2]]
    index.write_document(record.model_copy(update={"version": 2, "chunk_count": 2}), written,
                         _encoded(index, written))
    live = index.get_chunks("tidewell", record.document_id, version=2)
    assert [c.text for c in live] == [c.text for c in written]
    assert {c.version for c in index.get_chunks("tidewell", record.document_id)} == {2}


def _encoded(index: KnowledgeIndex, chunks: list[Chunk]) -> EncodedChunks:
    encoded = index.encode([c.text for c in chunks])
    assert isinstance(encoded.dense, np.ndarray)
    return encoded


def test_polydesk_ingest_on_a_full_disk_exits_1_with_storage_full(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from api.cli.main import app
    from polydesk.settings import get_settings

    monkeypatch.setenv("POLYDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("POLYDESK_STORAGE_RESERVE_MB", str(10**9))  # more than any disk has free: "full"
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["ingest", str(_write_docs(tmp_path, 1, 6)), "--tenant", "tidewell",
                                          "--market", "*", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert '"code": "storage_full"' in result.output and str(tmp_path / "data" / "qdrant") in result.output
