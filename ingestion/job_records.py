"""The record of an ingestion job, and how its end is worked out from what became of each file.

A job's files end in one of the statuses of ``ingestion.pipeline`` (``added``, ``replaced``,
``unchanged``, or ``skipped`` with a stable error ``code``), whether a file was refused when it was
uploaded (listed in ``files`` at once) or skipped while the job ingested it, the same way ``polydesk
ingest`` skips a bad file and goes on. The job then ends:

    done      every file was ingested (or was already, unchanged)
    partial   some files were ingested, the others are ``skipped`` with their codes
    failed    no file could be ingested (``error`` says why; ``files`` still lists each one),
              or the job itself failed (``error``: e.g. ``store_unavailable``, ``abandoned``)

Example:
    >>> outcome = JobOutcome.of(report, refused=[])          # doctest: +SKIP
    >>> outcome.status                                       # doctest: +SKIP
    'partial'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ingestion.pipeline import FileResult, IngestReport

JobStatus = Literal["queued", "running", "done", "partial", "failed"]
FINISHED: tuple[JobStatus, ...] = ("done", "partial", "failed")


class JobFile(BaseModel):
    """What became of one file of the job."""

    document_id: str | None = Field(examples=["policies/TH/คืนสินค้า.md"],
                                    description="null only for a file whose name was refused")
    name: str | None = Field(default=None, examples=["\\u202eexe.md"],
                             description="the file name as uploaded (invisible characters escaped), for a file "
                                         "refused at upload")
    status: Literal["added", "replaced", "unchanged", "skipped", "deleted", "failed"] = Field(
        description="a website sync's pages also end deleted (gone from the site) or failed (kept at their last "
                    "good version, fetched again next sync)")
    url: str | None = Field(default=None, description="the page, in a website sync", examples=[None])
    chunks: int = 0
    kind: str = Field(default="", examples=["policy"])
    code: str | None = Field(default=None, description="why it was skipped: a stable error code",
                             examples=["corrupt_file"])
    reason: str | None = None
    warnings: list[str] = Field(default_factory=list)
    redactions: dict[str, int] = Field(default_factory=dict, examples=[{"EMAIL": 2}])

    @classmethod
    def of(cls, result: FileResult) -> JobFile:
        return cls(**{k: v for k, v in asdict(result).items() if k != "path"})

    @classmethod
    def refused(cls, *, name: str, document_id: str | None, code: str, reason: str) -> JobFile:
        """A file refused at upload: never spooled, reported like a file the ingestion skipped."""
        return cls(document_id=document_id, name=name, status="skipped", code=code, reason=reason)

    def as_result(self) -> FileResult:
        return FileResult(path=self.name or self.document_id or "", document_id=self.document_id or "",
                          status=self.status,  # type: ignore[arg-type]  # upload files: never deleted or failed
                          chunks=self.chunks, kind=self.kind, code=self.code, reason=self.reason,
                          warnings=list(self.warnings), redactions=dict(self.redactions))


class JobError(BaseModel):
    code: str = Field(examples=["store_unavailable"])
    message: str


class Job(BaseModel):
    """An ingestion job as stored: what was uploaded, how far it got, and what became of each file."""

    id: str = Field(examples=["3f9c2a4e8b1d4c6f9a0e7b5d2c1f8e3a"])
    tenant: str = Field(examples=["tidewell"])
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    market: str = Field(default="*", examples=["TH"])
    language: str | None = None
    kind: str | None = None
    redact: bool = False
    uploaded: list[str] = Field(default_factory=list, description="the document ids the upload will write")
    files_total: int = Field(default=0, description="files the job ingests (those refused at upload not counted)")
    files_done: int = 0
    chunks_embedded: int = 0
    current: str | None = Field(default=None, description="the file being ingested now")
    files: list[JobFile] = Field(default_factory=list, description="per-file results: the files refused at upload "
                                 "at once, every file once the job is finished")
    totals: dict[str, int] = Field(default_factory=dict)
    error: JobError | None = Field(default=None, description="why the job failed (status failed)")
    attempts: int = 0
    source_id: str | None = Field(default=None, description="the website source this job syncs (files are its pages)")


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """The end of a job that ran: every file's result (ingested ones first, then those refused at upload)."""

    status: JobStatus
    files: list[JobFile]
    totals: dict[str, int]
    files_done: int  # the files the job ingested (or skipped while ingesting)
    error: JobError | None = None

    @classmethod
    def of(cls, report: IngestReport, *, refused: Sequence[JobFile]) -> JobOutcome:
        files = [JobFile.of(f) for f in report.files] + list(refused)
        totals = IngestReport(files=[f.as_result() for f in files], seconds=report.seconds).totals()
        skipped = [f for f in files if f.status == "skipped"]
        done = len(report.files)
        if not skipped:
            return cls("done", files, totals, done)
        if len(skipped) < len(files):
            return cls("partial", files, totals, done)
        codes = {f.code or "invalid_input" for f in skipped}
        code = codes.pop() if len(codes) == 1 else "invalid_input"
        message = (f"no file could be ingested: {skipped[0].reason}" if len(skipped) == 1 else
                   f"none of the {len(skipped)} files could be ingested; each file's code and reason are in files")
        return cls("failed", files, totals, done, JobError(code=code, message=message))

    def fields(self) -> dict[str, str]:
        """The record fields that end the job."""
        fields = {"status": self.status, "files": _json([f.model_dump(mode="json") for f in self.files]),
                  "totals": _json(self.totals), "files_done": str(self.files_done)}
        if self.error is not None:
            fields["error"] = self.error.model_dump_json()
        return fields


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def to_hash(job: Job) -> dict[Any, Any]:
    """A record as Redis hash fields: scalars as text, lists and objects as JSON; None is left out."""
    data = job.model_dump(mode="json")
    return {k: (_json(v) if isinstance(v, list | dict) else str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in data.items() if v is not None}


def from_hash(raw: dict[bytes, bytes]) -> Job:
    fields = {k.decode(): v.decode() for k, v in raw.items()}
    data: dict[str, Any] = {k: v for k, v in fields.items() if v != "" and k != "worker"}
    for key in ("uploaded", "files", "totals", "error"):
        if key in data:
            data[key] = json.loads(data[key])
    return Job.model_validate(data)
