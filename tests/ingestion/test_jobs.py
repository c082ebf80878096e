"""The ingestion job queue on a real embedded Redis and a real index: results, crashes, tenants, clean-up."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from ingestion.job_records import JobOutcome
from ingestion.jobs import PREFIX, Job, JobFile, JobQueue
from ingestion.pipeline import FileResult, IngestReport
from ingestion.sources import SourceOptions
from knowledge.index import KnowledgeIndex
from polydesk.errors import NotFoundError
from polydesk.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_server: redis.Redis) -> redis.Redis:
    redis_server.flushall()
    return redis_server


@pytest.fixture
def queue(client: redis.Redis, index: KnowledgeIndex, settings: Settings) -> Iterator[JobQueue]:
    jobs = JobQueue(client, index=index, settings=settings, poll_s=0.05)
    yield jobs
    jobs.stop()


def submit(queue: JobQueue, tenant: str, files: dict[str, bytes], market: str = "*",
           refused: tuple[JobFile, ...] = ()) -> Job:
    with queue.spool() as spool:
        for name, data in files.items():
            (spool.path / name).parent.mkdir(parents=True, exist_ok=True)
            (spool.path / name).write_bytes(data)
        return queue.submit(spool, options=SourceOptions(tenant=tenant, market=market), files=list(files),
                            refused=refused)


def wait_finished(queue: JobQueue, tenant: str, job_id: str, timeout_s: float = 30.0) -> Job:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = queue.get(tenant, job_id)
        if job.status in ("done", "partial", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {queue.get(tenant, job_id)}")


DE = "# Rückgabe\n\nSie können Artikel innerhalb von 30 Tagen kostenlos zurücksenden.\n".encode()
TH = "# การคืนสินค้า\n\nคุณสามารถคืนสินค้าได้ภายใน 30 วันโดยไม่มีค่าใช้จ่าย\n".encode()
NOW = datetime.now(UTC).isoformat()
JA = "# 返品について\n\n商品到着後30日以内であれば無料で返品できます。\n".encode()


def test_a_submitted_job_runs_to_done_with_per_file_results(queue: JobQueue, index: KnowledgeIndex,
                                                            settings: Settings, client: redis.Redis) -> None:
    job = submit(queue, "tidewell", {"policies/DE/rueckgabe.md": DE, "policies/TH/คืนสินค้า.md": TH,
                                     "返品.md": JA, "broken.pdf": b"%PDF-1.7\n1 0 obj <<\n garbage"})
    assert job.status == "queued" and job.files_total == 4
    queue.start()
    done = wait_finished(queue, "tidewell", job.id)
    assert done.status == "partial" and done.started_at and done.finished_at and done.attempts == 1
    results = {f.document_id: f for f in done.files}
    assert {d: f.status for d, f in results.items()} == {
        "policies/DE/rueckgabe.md": "added", "policies/TH/คืนสินค้า.md": "added", "返品.md": "added",
        "broken.pdf": "skipped"}
    assert results["broken.pdf"].code == "corrupt_file" and str(settings.upload_dir) not in str(results["broken.pdf"])
    assert done.totals["added"] == 3 and done.files_done == 4
    assert index.get_document("tidewell", "policies/TH/คืนสินค้า.md") is not None
    spool = settings.upload_dir / job.id  # removed right after the record says done (by the worker that owns it)
    deadline = time.monotonic() + 10
    while spool.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not spool.exists()
    ttl = client.ttl(f"{PREFIX}job:{job.id}")
    assert settings.job_retention_hours * 3600 - 60 < ttl <= settings.job_retention_hours * 3600  # type: ignore[operator]
    assert client.llen(f"{PREFIX}running") == 0


def test_a_tenant_never_sees_another_tenants_job_or_files(queue: JobQueue, index: KnowledgeIndex) -> None:
    ours = submit(queue, "tidewell", {"de.md": DE})
    theirs = submit(queue, "acme", {"th.md": TH})
    queue.start()
    wait_finished(queue, "tidewell", ours.id)
    wait_finished(queue, "acme", theirs.id)
    with pytest.raises(NotFoundError) as caught:
        queue.get("acme", ours.id)
    with pytest.raises(NotFoundError) as unknown:
        queue.get("acme", "0" * 32)
    assert str(caught.value).replace(ours.id, "") == str(unknown.value).replace("0" * 32, "")  # nothing revealed
    assert [r.document_id for r in index.list_documents("acme").records] == ["th.md"]
    assert [r.document_id for r in index.list_documents("tidewell").records] == ["de.md"]


def test_a_job_whose_worker_died_is_queued_again_and_finishes(client: redis.Redis, index: KnowledgeIndex,
                                                              settings: Settings) -> None:
    dead = JobQueue(client, index=index, settings=settings, lease_s=0.3)
    job = submit(dead, "tidewell", {"de.md": DE})
    # The dead worker takes the job (moving it to running, with a lease) and then never renews the lease.
    taken = dead._take(keys=[f"{PREFIX}queued", f"{PREFIX}running"], args=["dead-worker", 300, NOW, PREFIX])
    assert taken == job.id.encode() and dead.get("tidewell", job.id).status == "running"
    survivor = JobQueue(client, index=index, settings=settings, poll_s=0.05)
    assert survivor.recover() == 0  # the lease is still held: the job is not stolen from a live worker
    time.sleep(0.4)
    try:
        survivor.start()  # recovers it: the lease has expired
        done = wait_finished(survivor, "tidewell", job.id)
    finally:
        survivor.stop()
    assert done.status == "done" and done.attempts == 2 and done.files[0].status == "added"
    assert not (settings.upload_dir / job.id).exists()


def test_a_job_that_keeps_killing_its_worker_is_abandoned(client: redis.Redis, index: KnowledgeIndex,
                                                          settings: Settings) -> None:
    queue = JobQueue(client, index=index, settings=settings, lease_s=0.05, max_attempts=2)
    job = submit(queue, "tidewell", {"de.md": DE})
    for _ in range(2):
        queue._take(keys=[f"{PREFIX}queued", f"{PREFIX}running"], args=["doomed", 50, NOW, PREFIX])
        time.sleep(0.1)
        queue.recover()
    failed = queue.get("tidewell", job.id)
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "abandoned"
    assert queue.stats() == {"queued": 0, "running": 0}
    assert not (settings.upload_dir / job.id).exists()


def test_a_stopped_worker_puts_its_job_back(client: redis.Redis, index: KnowledgeIndex, settings: Settings) -> None:
    queue = JobQueue(client, index=index, settings=settings, poll_s=0.05)
    job = submit(queue, "tidewell", {f"{n:02d}.md": DE + str(n).encode() for n in range(12)})
    queue.stop()  # stopping before a job runs: the next progress report gives it back
    assert queue.run_once() == job.id
    back = queue.get("tidewell", job.id)
    assert back.status == "queued" and back.attempts == 0 and (settings.upload_dir / job.id).is_dir()
    queue.start()
    try:
        totals = wait_finished(queue, "tidewell", job.id).totals
    finally:
        queue.stop()
    assert totals["added"] + totals["unchanged"] == 12 and totals["skipped"] == 0


def test_spool_folders_are_removed_on_failure_and_when_orphaned(queue: JobQueue, settings: Settings) -> None:
    with pytest.raises(RuntimeError), queue.spool() as spool:
        (spool.path / "a.md").write_bytes(DE)
        raise RuntimeError("the upload broke off")
    assert not spool.path.exists()
    orphan = settings.upload_dir / ("f" * 32)
    orphan.mkdir(parents=True)
    old = time.time() - 2 * queue.orphan_spool_s
    os.utime(orphan, (old, old))
    fresh = settings.upload_dir / ("e" * 32)  # an upload still being received: kept
    fresh.mkdir()
    assert queue.sweep_spool() == ["f" * 32]
    assert fresh.is_dir() and not orphan.exists()


def test_unknown_or_malformed_job_ids_are_not_found(queue: JobQueue) -> None:
    for job_id in ("../../etc/passwd", "x" * 32, ""):
        with pytest.raises(NotFoundError):
            queue.get("tidewell", job_id)


def test_job_records_round_trip_through_redis(queue: JobQueue) -> None:
    job = submit(queue, "tidewell", {"返品.md": JA}, market="JP")
    stored = queue.get("tidewell", job.id)
    assert stored.model_dump() == job.model_dump()
    assert Path(stored.uploaded[0]).name == "返品.md"


def test_a_job_whose_files_are_gone_fails_with_a_reason(queue: JobQueue, settings: Settings) -> None:
    import shutil

    job = submit(queue, "tidewell", {"de.md": DE})
    shutil.rmtree(settings.upload_dir / job.id)  # e.g. an upload folder not shared with this replica
    assert queue.run_once() == job.id
    failed = queue.get("tidewell", job.id)
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "store_unavailable"
    assert "upload_dir" in failed.error.message and failed.finished_at is not None


PNG = JobFile.refused(name="logo.md", document_id="logo.md", code="unsupported_type",
                      reason="logo.md: the content is a PNG image, which cannot be ingested")
DISGUISED = JobFile.refused(name="\\u202ecod.exe", document_id=None, code="invalid_name",
                            reason="the document name contains the bidirectional control U+202E")


def test_files_refused_at_upload_are_reported_at_once_and_in_the_results(queue: JobQueue, index: KnowledgeIndex
                                                                         ) -> None:
    job = submit(queue, "tidewell", {"refused/de.md": DE, "refused/th.md": TH}, refused=(PNG, DISGUISED))
    assert job.files_total == 2 and [f.code for f in queue.get("tidewell", job.id).files] == [
        "unsupported_type", "invalid_name"]
    queue.start()
    done = wait_finished(queue, "tidewell", job.id)
    assert done.status == "partial" and done.error is None and done.files_done == 2
    assert [(f.document_id, f.status) for f in done.files] == [
        ("refused/de.md", "added"), ("refused/th.md", "added"), ("logo.md", "skipped"), (None, "skipped")]
    assert done.totals["files"] == 4 and done.totals["skipped"] == 2 and done.totals["added"] == 2
    assert index.get_document("tidewell", "logo.md") is None


def test_a_rerun_job_still_reports_the_files_refused_at_upload(client: redis.Redis, index: KnowledgeIndex,
                                                                settings: Settings) -> None:
    dead = JobQueue(client, index=index, settings=settings, lease_s=0.3)
    job = submit(dead, "tidewell", {"rerun/ja.md": JA}, refused=(PNG,))
    dead._take(keys=[f"{PREFIX}queued", f"{PREFIX}running"], args=["dead-worker", 300, NOW, PREFIX])
    time.sleep(0.4)
    survivor = JobQueue(client, index=index, settings=settings, poll_s=0.05)
    try:
        survivor.start()
        done = wait_finished(survivor, "tidewell", job.id)
    finally:
        survivor.stop()
    assert done.attempts == 2 and done.status == "partial"
    assert [(f.document_id, f.status) for f in done.files] == [("rerun/ja.md", "added"), ("logo.md", "skipped")]
    assert index.get_document("tidewell", "rerun/ja.md").version == 1  # type: ignore[union-attr]


def test_a_job_where_no_file_could_be_ingested_fails_with_the_files_code(queue: JobQueue) -> None:
    job = submit(queue, "tidewell", {"broken.pdf": b"%PDF-1.7\n1 0 obj <<\n garbage"}, refused=(PNG,))
    assert queue.run_once() == job.id
    failed = queue.get("tidewell", job.id)
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "invalid_input"
    assert [f.code for f in failed.files] == ["corrupt_file", "unsupported_type"]
    alone = submit(queue, "tidewell", {"broken.pdf": b"%PDF-1.7\n1 0 obj <<\n garbage"})
    assert queue.run_once() == alone.id
    error = queue.get("tidewell", alone.id).error
    assert error is not None and error.code == "corrupt_file" and "broken.pdf" in error.message


@pytest.mark.unit
@pytest.mark.parametrize(("statuses", "expected"), [
    (["added", "unchanged", "replaced"], "done"),
    (["added", "skipped"], "partial"),
    (["unchanged", "skipped", "skipped"], "partial"),
    (["skipped"], "failed"),
])
def test_a_jobs_end_follows_from_its_files(statuses: list[str], expected: str) -> None:
    report = IngestReport(files=[FileResult(path=f"/spool/{n}.md", document_id=f"{n}.md", status=s,  # type: ignore[arg-type]
                                            code="corrupt_file" if s == "skipped" else None)
                                 for n, s in enumerate(statuses)], seconds=0.1)
    outcome = JobOutcome.of(report, refused=[])
    assert outcome.status == expected and (outcome.error is not None) == (expected == "failed")
    assert outcome.totals["files"] == len(statuses) and outcome.files_done == len(statuses)
    with_refused = JobOutcome.of(report, refused=[PNG])
    assert with_refused.status == ("failed" if expected == "failed" else "partial")
    assert with_refused.totals["skipped"] == statuses.count("skipped") + 1 and with_refused.files[-1] == PNG
