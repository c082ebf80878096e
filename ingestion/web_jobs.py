"""Website syncs as ingestion jobs: the script that queues one, and a sync's report as a job's outcome.

``ingestion.jobs`` runs them; see its docstring for the keys.
"""

from __future__ import annotations

from ingestion.job_records import JobError, JobFile, JobOutcome
from ingestion.web import SyncReport, sync_status

# Queue a website sync unless one of that source is queued or running (its lock names the job), atomically.
# ARGV[4] > 0: a scheduled sync, queued only when the source is due (its next due time then set to ARGV[4]).
SUBMIT_SYNC = """
if tonumber(ARGV[4]) > 0 then
  local score = redis.call('ZSCORE', KEYS[4], ARGV[5])
  if (not score) or tonumber(score) > tonumber(ARGV[6]) then return false end
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[5])
end
local holder = redis.call('GET', KEYS[1])
if holder then
  local status = redis.call('HGET', ARGV[7] .. 'job:' .. holder, 'status')
  if status == 'queued' or status == 'running' then return holder end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('HSET', KEYS[2], unpack(ARGV, 8))
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('LPUSH', KEYS[3], ARGV[1])
return ARGV[1]
"""


def sync_outcome(report: SyncReport) -> JobOutcome:
    """A website sync's pages as a job's files, its totals and its end (``failed``: no page could be synced)."""
    files = [JobFile(document_id=p.document_id, url=p.url, status=p.status, chunks=p.chunks, kind="doc",
                     code=p.code, reason=p.reason, warnings=p.warnings) for p in report.pages]
    status = sync_status(report)
    error = None
    if status == "failed":
        codes = sorted({p.code or "outbound_failed" for p in report.pages if p.status in ("failed", "skipped")})
        error = JobError(code=codes[0] if len(codes) == 1 else "sync_failed",
                         message="no page of the site could be synced; each page's code and reason are in files")
    return JobOutcome(status, files, report.totals(), len(files), error)  # type: ignore[arg-type]
