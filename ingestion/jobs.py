"""Ingestion jobs: uploads wait in a Redis queue, and a worker thread in each API process ingests them.

A job is a spool folder of uploaded files (``settings.upload_dir/<job id>/``, laid out as the document ids
they become) plus a record in Redis. The worker ingests the folder with ``Ingestor`` under the job's own
tenant and options, so a job only ever sees its own files, then removes the folder.

Redis keys (one hash slot, ``{jobs}``, so the scripts also run on Redis Cluster)::

    polydesk:{jobs}:queued       list of job ids waiting (LPUSH on submit, taken from the right: FIFO)
    polydesk:{jobs}:running      list of job ids a worker has taken
    polydesk:{jobs}:job:<id>     hash, the job record; expires job_retention_hours after submit and after finish
    polydesk:{jobs}:lease:<id>   the running worker's token, with a TTL its heartbeat renews

Reliability: taking a job moves it to ``running`` and sets the lease in one script. A worker that dies
stops renewing its lease; any queue's ``recover()`` (at ``start()`` and every ``lease_s`` while idle) moves
a running job without a lease back to the front of ``queued``, at most ``max_attempts`` times, after which
the job fails with code ``abandoned``. Every write to a record is fenced by the lease token, so a worker
that lost its job cannot overwrite the next run. ``stop()`` puts an unfinished job back in the queue.

Example:
    >>> queue = JobQueue(client, index=index, settings=settings)           # doctest: +SKIP
    >>> queue.start()                                                       # doctest: +SKIP
    >>> with queue.spool() as spool:                                        # doctest: +SKIP
    ...     (spool.path / "returns.md").write_text("# Rückgabe ...")
    ...     job = queue.submit(spool, options=SourceOptions(tenant="tidewell", market="DE"), files=["returns.md"])
    >>> queue.get("tidewell", job.id).status                                # doctest: +SKIP
    'done'

The record and how a job's end (``done``, ``partial``, ``failed``) follows from its files: ``job_records``.

A website sync (``ingestion.web``) is a job too: ``submit_sync`` queues one (or answers the one already queued or
running for that source), the worker runs it and records each page as one of the job's files; every lease period
the worker also queues the syncs that a source's schedule (``every``) says are due.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis

from ingestion.job_records import FINISHED, Job, JobError, JobFile, JobOutcome, JobStatus, from_hash, to_hash
from ingestion.pipeline import Ingestor, Progress
from ingestion.sources import SourceOptions
from ingestion.web import WebSync
from ingestion.web_jobs import SUBMIT_SYNC, sync_outcome
from ingestion.web_store import DUE, SourceStore
from knowledge.index import KnowledgeIndex
from polydesk.errors import NotFoundError, PolydeskError
from polydesk.redisdb import redis_errors
from polydesk.settings import Settings
from polydesk.worker import Worker, lower_priority

logger = logging.getLogger(__name__)

PREFIX = "polydesk:{jobs}:"
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
__all__ = ["PREFIX", "Job", "JobError", "JobFile", "JobQueue", "JobStatus", "Spool"]
_FINISHED_BYTES = tuple(status.encode() for status in FINISHED)

# Take the oldest queued job: move it to running, set the lease and mark the record, atomically.
_TAKE = """
local id = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
if not id then return false end
redis.call('SET', ARGV[4] .. 'lease:' .. id, ARGV[1], 'PX', ARGV[2])
local job = ARGV[4] .. 'job:' .. id
if redis.call('EXISTS', job) == 1 then
  redis.call('HSET', job, 'status', 'running', 'started_at', ARGV[3], 'worker', ARGV[1])
  redis.call('HINCRBY', job, 'attempts', 1)
end
return id
"""
# A running job whose lease is gone: back to the front of the queue, or failed after max attempts.
_RECOVER = """
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('LREM', KEYS[1], 0, ARGV[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end
if tonumber(redis.call('HGET', KEYS[4], 'attempts') or '0') >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[4], 'status', 'failed', 'finished_at', ARGV[3], 'error', ARGV[4], 'worker', '')
  redis.call('EXPIRE', KEYS[4], ARGV[5])
  return -2
end
redis.call('HSET', KEYS[4], 'status', 'queued', 'worker', '')
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
"""
# Fenced write: only the lease holder may change the record.
_UPDATE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
"""
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""
# Fenced end of a run: write the outcome, leave running, drop the lease, restart the retention clock.
# ARGV[2] = 'requeue' puts the job back at the front of the queue instead (a clean stop; not an attempt).
_FINISH = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('LREM', KEYS[3], 0, ARGV[3])
redis.call('DEL', KEYS[2])
if ARGV[2] == 'requeue' then
  redis.call('HSET', KEYS[1], 'status', 'queued', 'worker', '')
  redis.call('HINCRBY', KEYS[1], 'attempts', -1)
  redis.call('RPUSH', KEYS[4], ARGV[3])
  return 1
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


@dataclass(slots=True)
class Spool:
    """A reserved job id and the folder its files go to (the folder is the root of their document ids)."""

    job_id: str
    path: Path
    submitted: bool = False


class _Stopped(Exception):
    """Raised from the progress callback when the queue is stopping: the job goes back to the queue."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class JobQueue:
    """Redis-backed ingestion queue with one worker thread (see the module docstring)."""

    def __init__(self, client: redis.Redis, *, index: KnowledgeIndex, settings: Settings, lease_s: float = 30.0,
                 poll_s: float = 0.2, max_attempts: int = 3, orphan_spool_s: float = 3600.0) -> None:
        self.client, self.index, self.settings = client, index, settings
        self.lease_s, self.poll_s, self.max_attempts = lease_s, poll_s, max_attempts
        self.orphan_spool_s, self.retention_s = orphan_spool_s, max(1, int(settings.job_retention_hours * 3600))
        self._take = client.register_script(_TAKE)
        self._recover = client.register_script(_RECOVER)
        self._update = client.register_script(_UPDATE)
        self._renew = client.register_script(_RENEW)
        self._finish = client.register_script(_FINISH)
        self._submit_sync = client.register_script(SUBMIT_SYNC)
        self.sources = SourceStore(client)
        self._ingestor: Ingestor | None = None
        self._last_recover = 0.0  # time.monotonic() of the last recover() and sweep_spool()
        self._worker = Worker("polydesk-ingest-jobs", self._step, poll_s=poll_s, max_backoff_s=min(30.0, poll_s * 2**7),
                              on_start=self._warm_up, label="ingestion worker", log=logger)
        self._runner = ThreadPoolExecutor(1, "polydesk-ingest-run", lower_priority)  # jobs: lower CPU priority

    # -- submitting and reading ------------------------------------------------------------------------------

    @property
    def upload_dir(self) -> Path:
        return self.settings.upload_dir

    @contextmanager
    def spool(self) -> Iterator[Spool]:
        """A new job id and its empty folder; the folder is removed again unless ``submit`` succeeded."""
        job_id = uuid.uuid4().hex
        spool = Spool(job_id=job_id, path=self.upload_dir / job_id)
        spool.path.mkdir(parents=True)
        try:
            yield spool
        finally:
            if not spool.submitted:
                shutil.rmtree(spool.path, ignore_errors=True)

    def submit(self, spool: Spool, *, options: SourceOptions, files: Sequence[str],
               refused: Sequence[JobFile] = ()) -> Job:
        """Record the job (status ``queued``) and queue it; ``files`` are the document ids in the spool,
        ``refused`` the files refused at upload (reported in the job's results from the start)."""
        job = Job(id=spool.job_id, tenant=options.tenant, status="queued", created_at=datetime.now(UTC),
                  market=options.market, language=options.language, kind=options.kind, redact=options.redact,
                  uploaded=list(files), files_total=len(files), files=list(refused))
        with redis_errors("queue the ingestion job"), self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(job.id), mapping=to_hash(job))
            pipe.expire(self._key(job.id), self.retention_s)
            pipe.lpush(PREFIX + "queued", job.id)
            pipe.execute()
        spool.submitted = True
        return job

    def submit_sync(self, tenant: str, source_id: str, *, scheduled: bool = False) -> Job | None:
        """Queue a sync of the website source (``unknown_source`` when the tenant has none), or the job already
        queued or running for it. ``scheduled``: only when the source's schedule says it is due (None if not)."""
        source = self.sources.get(tenant, source_id)
        job = Job(id=uuid.uuid4().hex, tenant=tenant, status="queued", created_at=datetime.now(UTC),
                  market=source.market, kind=source.kind, source_id=source.id)
        next_due = time.time() + source.every_s if scheduled and source.every_s else 0
        fields = [v for kv in to_hash(job).items() for v in kv]
        with redis_errors("queue the website sync"):
            queued = self._submit_sync(
                keys=[self.sources.lock_key(tenant, source_id), self._key(job.id), PREFIX + "queued", DUE],
                args=[job.id, self.retention_s, self.retention_s, next_due, f"{tenant}/{source_id}", time.time(),
                      PREFIX, *fields])
        if queued is None:
            return None
        return self.get(tenant, queued.decode() if isinstance(queued, bytes) else str(queued))

    def schedule(self) -> int:
        """Queue the syncs whose schedule is due; how many were queued."""
        queued = 0
        for tenant, source_id in self.sources.due(time.time()):
            try:
                queued += self.submit_sync(tenant, source_id, scheduled=True) is not None
            except NotFoundError:  # removed meanwhile
                with redis_errors("update the website schedule"):
                    self.client.zrem(DUE, f"{tenant}/{source_id}")
        return queued

    def get(self, tenant: str, job_id: str) -> Job:
        """The job, or ``NotFoundError`` when there is none of this tenant (another tenant's job included)."""
        job = self._load(job_id) if JOB_ID.match(job_id) else None
        if job is None or job.tenant != tenant:
            raise NotFoundError(f"no ingestion job {job_id!r}; finished jobs are kept "
                                f"{self.settings.job_retention_hours:g} hours")
        return job

    def stats(self) -> dict[str, int]:
        """Jobs waiting and running, for ``/metrics`` or a readiness check."""
        with redis_errors("count ingestion jobs"):
            return {"queued": int(self.client.llen(PREFIX + "queued")),
                    "running": int(self.client.llen(PREFIX + "running"))}

    def _key(self, job_id: str) -> str:
        return f"{PREFIX}job:{job_id}"

    def _load(self, job_id: str) -> Job | None:
        with redis_errors("read the ingestion job"):
            raw: dict[bytes, bytes] = self.client.hgetall(self._key(job_id))  # type: ignore[assignment]
        return from_hash(raw) if raw else None

    # -- the worker ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Recover jobs of dead workers, sweep orphaned spool folders, and start the worker thread."""
        if self._worker.running:
            return
        self.recover()
        self.sweep_spool()
        self._last_recover = time.monotonic()
        self._worker.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the worker; a job it is running goes back to the queue at its next progress report."""
        self._worker.stop(timeout_s)

    def recover(self) -> int:
        """Re-queue running jobs whose worker is gone (no lease). Returns how many went back to the queue."""
        requeued = 0
        with redis_errors("recover ingestion jobs"):
            running = [i.decode() for i in self.client.lrange(PREFIX + "running", 0, -1)]  # type: ignore[union-attr]
            for job_id in running:
                error = JobError(code="abandoned", message=f"the job was interrupted {self.max_attempts} times "
                                 "(its worker stopped); upload the files or sync the source again").model_dump_json()
                outcome = self._recover(
                    keys=[PREFIX + "running", PREFIX + "queued", f"{PREFIX}lease:{job_id}", self._key(job_id)],
                    args=[job_id, self.max_attempts, _now(), error, self.retention_s])
                if outcome == 1:
                    logger.warning("ingestion job %s lost its worker; queued again", job_id)
                    requeued += 1
                elif outcome in (-1, -2):
                    logger.error("ingestion job %s lost its worker and is %s", job_id,
                                 "gone" if outcome == -1 else "abandoned")
                    shutil.rmtree(self.upload_dir / job_id, ignore_errors=True)
        return requeued

    def sweep_spool(self) -> list[str]:
        """Remove spool folders of finished or expired jobs (left by a crash), and of uploads never submitted."""
        removed = []
        folders = [p for p in self.upload_dir.iterdir() if p.is_dir()] if self.upload_dir.is_dir() else []
        for folder in folders:
            if not JOB_ID.match(folder.name):
                continue
            with redis_errors("read the ingestion job"):
                status = self.client.hget(self._key(folder.name), "status")
            stale = time.time() - folder.stat().st_mtime > self.orphan_spool_s
            if status in _FINISHED_BYTES or (status is None and stale):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
        return removed

    def run_once(self) -> str | None:
        """Take one queued job and run it to its end. Returns its id, or None when the queue was empty."""
        token = uuid.uuid4().hex
        with redis_errors("take an ingestion job"):
            taken = self._take(keys=[PREFIX + "queued", PREFIX + "running"],
                               args=[token, int(self.lease_s * 1000), _now(), PREFIX])
        if taken is None:
            return None
        job_id = taken.decode() if isinstance(taken, bytes) else str(taken)
        self._runner.submit(self._run, job_id, token).result()
        return job_id

    def _step(self) -> bool:
        """Recover and sweep every lease period, then run a job; True when one ran (more may be waiting)."""
        if time.monotonic() - self._last_recover > self.lease_s:
            self.recover()
            self.sweep_spool()
            self.schedule()
            self._last_recover = time.monotonic()
        return self.run_once() is not None

    def _run(self, job_id: str, token: str) -> None:
        job = self._load(job_id)
        spool = self.upload_dir / job_id
        if job is None:  # expired while queued: nothing to report to
            with redis_errors("drop an expired ingestion job"), self.client.pipeline(transaction=True) as pipe:
                pipe.lrem(PREFIX + "running", 0, job_id)
                pipe.delete(f"{PREFIX}lease:{job_id}")
                pipe.execute()
            shutil.rmtree(spool, ignore_errors=True)
            return
        beat = threading.Event()
        threading.Thread(target=self._heartbeat, args=(job_id, token, beat), name=f"polydesk-lease-{job_id[:8]}",
                         daemon=True).start()
        try:
            outcome = self._outcome(job, token, spool)
        except _Stopped:
            beat.set()
            self._finish(keys=self._finish_keys(job_id), args=[token, "requeue", job_id, self.retention_s])
            return
        finally:
            beat.set()
        fields = {"finished_at": _now(), "current": "", **outcome}
        args: list[str | int] = [token, "done", job_id, self.retention_s, *[v for kv in fields.items() for v in kv]]
        if self._finish(keys=self._finish_keys(job_id), args=args):
            shutil.rmtree(spool, ignore_errors=True)
        else:
            logger.error("ingestion job %s was taken over by another worker; its outcome here is dropped", job_id)

    def _outcome(self, job: Job, token: str, spool: Path) -> dict[str, str]:
        """The record fields that end the run: results and totals, or the error that failed it."""
        if job.source_id is not None:
            return self._sync_outcome(job, token)
        if not spool.is_dir():
            return _failed("store_unavailable", "the uploaded files are gone: is settings.upload_dir shared by "
                           "every replica that runs jobs?")
        try:
            options = SourceOptions(tenant=job.tenant, market=job.market, kind=job.kind,  # type: ignore[arg-type]
                                    language=job.language, redact=job.redact, source_prefix="upload:")
            report = self._get_ingestor().ingest([spool], options,
                                                 progress=lambda p: self._progress(job.id, token, spool, p))
            for result in report.files:
                result.reason = _scrub(result.reason, spool)
            # job.files holds the files refused at upload until the job ends: a rerun reports them again.
            return JobOutcome.of(report, refused=job.files).fields()
        except _Stopped:
            raise
        except PolydeskError as exc:
            if self._worker.stopping:  # the index closing under a stopping worker: run it again later
                raise _Stopped from exc
            return _failed(exc.code, _scrub(exc.message, spool) or exc.code)
        except Exception as exc:
            if self._worker.stopping:
                raise _Stopped from exc
            logger.exception("ingestion job %s failed", job.id)
            return _failed("internal_error", "the job failed unexpectedly; the server log has details")

    def _sync_outcome(self, job: Job, token: str) -> dict[str, str]:
        """Run the website sync of a sync job: each page is one of the job's files."""
        assert job.source_id is not None
        try:
            source = self.sources.get(job.tenant, job.source_id)
            sync = WebSync(index=self.index, settings=self.settings, store=self.sources,
                           ingestor=self._get_ingestor())
            report = sync.run(source, job_id=job.id,
                              progress=lambda p: self._progress(job.id, token, None, p))
            return sync_outcome(report).fields()
        except _Stopped:
            raise
        except PolydeskError as exc:
            if self._worker.stopping:
                raise _Stopped from exc
            return _failed(exc.code, exc.message)
        except Exception as exc:
            if self._worker.stopping:
                raise _Stopped from exc
            logger.exception("website sync job %s failed", job.id)
            return _failed("internal_error", "the sync failed unexpectedly; the server log has details")
        finally:
            self.sources.unlock(job.tenant, job.source_id, job.id)

    def _progress(self, job_id: str, token: str, spool: Path | None, progress: Progress) -> None:
        if self._worker.stopping:
            raise _Stopped
        current = (_scrub(progress.current, spool) if spool is not None else progress.current) or ""
        fields: list[str | int] = ["files_done", progress.files_done, "files_total", progress.files_total,
                  "chunks_embedded", progress.chunks_embedded, "current", current]
        try:
            self._update(keys=[self._key(job_id), f"{PREFIX}lease:{job_id}"], args=[token, *fields])
        except redis.exceptions.RedisError:
            logger.warning("could not record the progress of ingestion job %s", job_id, exc_info=True)

    def _heartbeat(self, job_id: str, token: str, done: threading.Event) -> None:
        while not done.wait(self.lease_s / 3):
            try:
                if not self._renew(keys=[f"{PREFIX}lease:{job_id}"], args=[token, int(self.lease_s * 1000)]):
                    logger.error("ingestion job %s: the lease was lost; another worker may run it", job_id)
                    return
            except redis.exceptions.RedisError:
                logger.warning("ingestion job %s: could not renew the lease", job_id, exc_info=True)

    def _finish_keys(self, job_id: str) -> list[str]:
        return [self._key(job_id), f"{PREFIX}lease:{job_id}", PREFIX + "running", PREFIX + "queued"]

    def _warm_up(self) -> None:
        """Load the parsers, language detector and redactor (seconds) before the first upload waits for them: in
        the worker thread before its first job (if this fails, it is logged and the first job loads them)."""
        from ingestion.filetypes import FileType
        from ingestion.parsing import parse_document

        self._get_ingestor()
        with tempfile.TemporaryDirectory(prefix="polydesk-warm-up-") as folder:
            sample = Path(folder) / "warm-up.md"
            sample.write_text("# Warm-up\n\nOne sentence to parse.\n", encoding="utf-8")
            parse_document(sample, FileType.MARKDOWN)

    def _get_ingestor(self) -> Ingestor:
        if self._ingestor is None:
            self._ingestor = Ingestor(index=self.index, settings=self.settings)
        return self._ingestor


def _failed(code: str, message: str) -> dict[str, str]:
    return {"status": "failed", "error": JobError(code=code, message=message).model_dump_json()}


def _scrub(text: str | None, spool: Path) -> str | None:
    """Server paths out of a message: a file is named by its document id."""
    if text is None:
        return None
    for root in {str(spool.resolve()), str(spool)}:
        text = text.replace(root + "/", "").replace(root, "")
    return text
