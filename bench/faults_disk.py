"""Fault scenario 5 (issue 21): the data folder's disk is full.

``polydesk serve`` runs on a data folder in a size-limited tmpfs (``mount -t tmpfs``: root only; where it cannot
be mounted the scenario says it did not run, and ``tests/faults/test_ingest.py`` checks the same refusals without
a mount). Version 1 of documents in six languages is ingested, then the disk is filled to under the index's reserve
(``POLYDESK_STORAGE_RESERVE_MB``). Counted: a replace that does not fail with ``storage_full`` naming the folder, an
upload larger than the space left that is not refused with 507 ``storage_full``, documents no longer whole at
version 1, answers that fail or do not draw on version 1, the serve process dying, and the same replace not going
through once the space is freed.

``disk_full(reserve_mb=0, leave_mb=1)`` shows what the reserve is for: the embedded Qdrant engine writes through
memory-mapped files and the serve process dies of SIGBUS (exit -7) on the replace.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from bench.fault_kit import FaultResult, ServeProcess
from bench.ingest_docs import LANGUAGES, SERVE_ENV, Api, Doc, check_document, cited_versions, document_text


def mount_tmpfs(folder: Path, size_mb: int) -> bool:
    """A size-limited tmpfs at ``folder`` (root only); False when it cannot be mounted here."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder)],
                          capture_output=True, check=False)
    return done.returncode == 0


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def fill_disk(folder: Path, leave_mb: float) -> Path:
    """A ballast file that leaves about ``leave_mb`` free on the disk of ``folder``."""
    ballast = folder / "ballast.bin"
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    size = max(0, free - int(leave_mb * 1024 * 1024))
    with ballast.open("wb") as handle:
        block = b"\0" * (1024 * 1024)
        for _ in range(size // len(block)):
            handle.write(block)
        handle.write(b"\0" * (size % len(block)))
    return ballast


def disk_full(*, full: bool = False, workdir: Path | None = None, reserve_mb: int = 48, leave_mb: float = 24
              ) -> FaultResult:
    """Fill the data folder's disk under the index's reserve: uploads fail with storage_full, answering goes on.

    ``reserve_mb=0, leave_mb=1`` shows what happens without the reserve: the serve process dies (SIGBUS)."""
    with tempfile.TemporaryDirectory(prefix="polydesk-faults-disk-", dir=workdir) as tmp:
        mount = Path(tmp) / "disk"
        if not mount_tmpfs(mount, 200):
            return FaultResult(scenario="disk full (not run)", load="-", fault="-", counts={}, must_be_zero=(),
                               notes="cannot mount a tmpfs here (not root, or no mount permission); "
                                     "tests/faults/test_ingest.py checks the same refusals without a mount")
        try:
            return _disk_full(mount, full=full, reserve_mb=reserve_mb, leave_mb=leave_mb)
        finally:
            unmount(mount)


def _disk_full(mount: Path, *, full: bool, reserve_mb: int, leave_mb: float) -> FaultResult:
    docs = [Doc(language, 50 + i) for i, language in enumerate(LANGUAGES if full else ("en", "de", "ja", "th", "zh",
                                                                                       "pt"))]
    counts: Counter[str] = Counter()
    figures: dict[str, float] = {}
    notes: list[str] = []
    serve = ServeProcess(mount / "data", env={**SERVE_ENV, "POLYDESK_STORAGE_RESERVE_MB": str(reserve_mb)})
    serve.log_path = mount.parent / "serve.log"  # not on the full disk
    try:
        serve.start()
        api = Api(serve.base)
        api.seed(docs, sentences=12)
        ballast = fill_disk(mount, leave_mb=leave_mb)
        figures["free_mb_after_fill"] = round(os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize / 2**20, 1)
        # A replace through a job: the index refuses to write under its reserve.
        response = api.upload({d.id: document_text(d.language, d.number, 2, 150) for d in docs})
        if response.status_code == 202:
            try:
                job = api.wait_job(response.json()["id"], 120)
            except TimeoutError:
                job = {"error": {"code": "never_finished", "message": serve.log_tail(300)}}
            error = job.get("error") or {}
            counts["replace_not_storage_full"] += error.get("code") != "storage_full"
            counts["message_without_folder"] += str(mount) not in error.get("message", "")
            notes.append(f"job error: {error.get('message', '')}")
        else:
            counts["replace_not_storage_full"] += response.json().get("code") != "storage_full"
        if serve.process is None or serve.process.poll() is not None:
            counts["serve_died"] += 1
            notes.append(f"serve exited with {serve.process.returncode if serve.process else None}")
            return _disk_result(counts, figures, notes, docs, reserve_mb, leave_mb)
        # An upload larger than what is left on the disk: refused while it is spooled.
        big_mb = leave_mb * 3 + 8
        big = {"aurora-big.md": document_text("en", 99, 1, 1) + "x" * int(big_mb * 2**20)}
        refused = api.upload(big)
        counts["big_upload_not_507"] += refused.status_code != 507 or refused.json().get("code") != "storage_full"
        figures["big_upload_status"] = refused.status_code
        for doc in docs * (3 if full else 1):
            state = check_document(api.document(doc.id), doc)
            response = api.document(doc.id)
            counts["documents_not_at_last_version"] += state != "whole" or response.json().get("version") != 1
            reply = api.answer(doc.language)
            counts["answers"] += 1
            if reply.status_code != 200:
                counts["answers_failed"] += 1
                continue
            counts["answers_without_version_1"] += cited_versions(api, reply.json(), doc) != {1}
        counts["serve_died"] += serve.process is None or serve.process.poll() is not None
        ballast.unlink()
        again = api.upload({d.id: document_text(d.language, d.number, 2, 150) for d in docs})
        again.raise_for_status()
        counts["not_recovered_after_freeing"] += api.wait_job(again.json()["id"], 120)["status"] != "done"
        api.close()
    finally:
        serve.stop()
    return _disk_result(counts, figures, notes, docs, reserve_mb, leave_mb)


def _disk_result(counts: Counter[str], figures: dict[str, float], notes: list[str], docs: list[Doc],
                 reserve_mb: int, leave_mb: float) -> FaultResult:
    return FaultResult(
        scenario="disk full for the data folder",
        load=f"{len(docs)} documents in {len(docs)} languages; a replace of all of them, a "
             f"{leave_mb * 3 + 8:g} MB upload, {counts['answers']} answers",
        fault=f"data folder on a 200 MB tmpfs filled to {leave_mb:g} MB free (reserve {reserve_mb} MB)",
        counts=dict(counts),
        must_be_zero=("replace_not_storage_full", "message_without_folder", "big_upload_not_507",
                      "documents_not_at_last_version", "answers_failed", "answers_without_version_1", "serve_died",
                      "not_recovered_after_freeing"),
        notes="; ".join(["the embedded Qdrant engine dies of SIGBUS on a full disk (memory-mapped files): the index "
                         "keeps POLYDESK_STORAGE_RESERVE_MB free and refuses writes below it", *notes]),
        figures=figures)
