"""Fault scenarios on the ingestion side (issue 21): a killed upload job, a killed replace under readers, a full disk.

Every scenario runs ``polydesk serve`` as its own process on a data folder (embedded Qdrant, embedded Redis unless
said otherwise) and uploads documents in up to ten languages through ``POST /v1/knowledge`` (the documents and the
API calls: ``bench/ingest_docs.py``). Each version of a document says which it is in every sentence (``K7V1X``:
document 7, version 1), so a chunk read back names its version by its text as well as by its id.

- ``serve_killed_during_upload``: a batch (new documents and new versions of existing ones) is uploaded and the
  serve process gets SIGKILL once the job is running with some files written; serve starts again on the same
  folder. Counted: documents half-written (a live version whose chunks are not all there, or carry another
  version's text) right after the restart and at the end, mixed versions in an answer, jobs that never finished.
  ``..._aof``: the same with the job records on a redis-server over TCP with AOF everysec.
- ``killed_during_replace``: readers ask about documents continuously through the API while a replace (version 2)
  runs; serve gets SIGKILL mid-replace and starts again; the readers go on. Counted: reads that saw neither
  version, reads that saw two versions mixed (answers' citations and text, documents' chunks); reads while serve
  was down are counted apart.
- ``disk_full`` (``bench/faults_disk.py``): the data folder's disk filled to under the index's reserve.

    .venv/bin/python -m bench.faults_ingest [--full] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.fault_kit import FaultResult, RedisProcess, ServeProcess, wait_until
from bench.faults_disk import disk_full
from bench.ingest_docs import (
    LANGUAGES,
    SERVE_ENV,
    Api,
    Doc,
    check_document,
    cited_versions,
    document_text,
    kill_serve,
)

# -- scenario 2: serve killed during an upload job --------------------------------------------------------------------


def serve_killed_during_upload(*, full: bool = False, workdir: Path | None = None,
                               redis: str = "embedded") -> FaultResult:
    """SIGKILL ``polydesk serve`` while an upload job runs; restart; the job ends done, no document half-written."""
    with tempfile.TemporaryDirectory(prefix="polydesk-faults-upload-", dir=workdir) as tmp:
        return _upload_killed(Path(tmp), full=full, redis=redis)


def _upload_killed(tmp: Path, *, full: bool, redis: str) -> FaultResult:
    rounds = 3 if full else 1
    # One document per language, so an answer in a language is about that document.
    languages = LANGUAGES if full else ("de", "ja", "th", "en", "id", "vi", "zh", "ar")
    # Each document its own number: the version token in an answer's text then names one document.
    replaced = [Doc(language, 10 + i) for i, language in enumerate(languages[:len(languages) // 2 if full else 3])]
    added = [Doc(language, 30 + i) for i, language in enumerate(languages[len(replaced):])]
    counts: Counter[str] = Counter(half_written_after_restart=0, half_written_at_end=0, mixed_in_search=0,
                                   jobs_unfinished=0, jobs_lost=0, not_at_new_version=0, kills_after_the_job_ended=0)
    figures: dict[str, float] = {}
    redis_server = RedisProcess(tmp / "redis", persistence="aof-everysec") if redis == "aof" else None
    env = {"POLYDESK_REDIS_URL": redis_server.start().url} if redis_server else {}
    serve = ServeProcess(tmp / "data", env={**SERVE_ENV, **env})
    try:
        serve.start()
        api = Api(serve.base)
        api.learn(replaced + added, versions=tuple(range(1, rounds + 2)))
        seed = api.upload({d.id: document_text(d.language, d.number, 1, 6) for d in replaced})
        seed.raise_for_status()
        assert api.wait_job(seed.json()["id"], 120)["status"] == "done", "seeding the first versions failed"
        for round_ in range(rounds):
            wanted = {d: round_ + 2 for d in replaced} | {d: round_ + 1 for d in added}  # added: new in round 1
            response = api.upload({d.id: document_text(d.language, d.number, v, 100 + 6 * round_)
                                   for d, v in wanted.items()})
            response.raise_for_status()
            job_id = response.json()["id"]
            running = api.wait_job(job_id, 120, until=lambda j: j["status"] != "queued" and j["files_done"] >= 1)
            counts["kills_after_the_job_ended"] += running["status"] != "running"
            kill_serve(serve, with_children=redis == "embedded-group")
            figures[f"files_done_at_kill_{round_ + 1}"] = running["files_done"]
            figures["files_in_job"] = running["files_total"]
            started = time.monotonic()
            serve.start()
            api.close()
            api = Api(serve.base)
            api.learn(replaced + added, versions=tuple(range(1, rounds + 2)))
            counts["half_written_after_restart"] += sum(check_document(api.document(d.id), d) in ("half", "mixed")
                                                        for d in replaced + added)
            try:
                if api.job_exists(job_id):
                    job = api.wait_job(job_id, 120)
                    figures[f"seconds_restart_to_done_{round_ + 1}"] = round(time.monotonic() - started, 1)
                    figures[f"attempts_{round_ + 1}"] = job["attempts"]
                    counts["jobs_unfinished"] += job["status"] != "done"
                else:
                    counts["jobs_lost"] += 1  # its record is gone: the upload was accepted (202) and never ingested
            except TimeoutError:
                counts["jobs_unfinished"] += 1
            for doc in replaced + added:
                state = check_document(api.document(doc.id), doc)
                counts["half_written_at_end"] += state in ("half", "mixed")
                response = api.document(doc.id)
                live = response.json().get("version") if response.status_code == 200 else None
                counts["not_at_new_version"] += live != wanted[doc]
            for doc in replaced + added:
                reply = api.answer(doc.language)
                seen = cited_versions(api, reply.json(), doc) if reply.status_code == 200 else set()
                counts["answers"] += 1
                counts["mixed_in_search"] += len(seen) > 1
                counts["answers_not_at_new_version"] += seen != {wanted[doc]}
        api.close()
    finally:
        serve.stop()
        if redis_server is not None:
            redis_server.stop()
    which = {"aof": "a redis-server on TCP with AOF everysec (it survives)",
             "embedded": "the embedded redis-server (PDEATHSIG: it saves, then exits with its owner)",
             "embedded-group": "the embedded redis-server, SIGKILLed with serve (no save: a container killed)"}[redis]
    group = redis == "embedded-group"
    return FaultResult(
        scenario=f"serve killed during an upload job ({'AOF Redis' if redis_server else 'embedded Redis'}"
                 f"{', killed with serve' if group else ''})",
        load=f"{rounds} upload(s) of {len(replaced) + len(added)} documents in {len(languages)} languages "
             f"({len(replaced)} new versions, {len(added)} new documents, ~35 chunks each)",
        fault=f"SIGKILL polydesk serve{' and its redis-server' if group else ''} once the job has written a file; "
              "restart on the same folder",
        counts=dict(counts),
        # Killed with serve, the embedded redis-server loses what it had not saved: the job record, measured here.
        must_be_zero=("half_written_after_restart", "half_written_at_end", "mixed_in_search",
                      *(() if group else ("jobs_unfinished", "jobs_lost", "not_at_new_version",
                                          "answers_not_at_new_version")), "kills_after_the_job_ended"),
        notes=f"job records on {which}; job lease 2 s (POLYDESK_JOB_LEASE_S)", figures=figures)


# -- scenario 3: killed during a replace that readers are querying ---------------------------------------------------


@dataclass
class Readers:
    """Threads asking about the documents in their languages and reading them, until stopped."""

    api: Api
    docs: list[Doc]
    counts: Counter[str] = field(default_factory=Counter)
    down: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, clients: int) -> None:
        for offset in range(clients):
            thread = threading.Thread(target=self._loop, args=(offset,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _loop(self, offset: int) -> None:
        turn = offset
        while not self.stop.is_set():
            doc = self.docs[turn % len(self.docs)]
            turn += 1
            try:
                self._read(doc)
            except (httpx.HTTPError, OSError):
                self.counts["reads_failed_while_down" if self.down.is_set() else "reads_failed_while_up"] += 1
                if self.down.is_set():
                    time.sleep(0.1)

    def _read(self, doc: Doc) -> None:
        reply = self.api.answer(doc.language)
        was_down = self.down.is_set()
        if reply.status_code != 200:
            self.counts["reads_failed_while_down" if was_down else "answers_not_200"] += 1
            return
        versions = cited_versions(self.api, reply.json(), doc)
        self.counts["answers"] += 1
        self.counts["answers_mixed"] += len(versions) > 1
        self.counts["answers_neither"] += not versions
        state = check_document(self.api.document(doc.id), doc)
        self.counts["document_reads"] += 1
        self.counts[f"document_reads_{state}"] += state != "whole"


def killed_during_replace(*, full: bool = False, workdir: Path | None = None) -> FaultResult:
    """Readers query documents while their version 2 is written; serve is killed mid-replace and restarted."""
    with tempfile.TemporaryDirectory(prefix="polydesk-faults-replace-", dir=workdir) as tmp:
        return _replace_killed(Path(tmp), full=full)


def _replace_killed(tmp: Path, *, full: bool) -> FaultResult:
    docs = [Doc(language, 70 + i) for i, language in enumerate(LANGUAGES if full else ("de", "ja", "th", "ar", "es",
                                                                                       "vi"))]
    clients = 4 if full else 2
    figures: dict[str, float] = {}
    serve = ServeProcess(tmp / "data", env=SERVE_ENV)
    readers: Readers | None = None
    unfinished = 0
    try:
        serve.start()
        api = Api(serve.base)
        api.seed(docs, sentences=24)
        readers = Readers(Api(serve.base), docs)
        readers.api.learn(docs)
        readers.start(clients)
        wait_until(lambda: readers is not None and readers.counts["answers"] >= 2 * len(docs), 120, "readers warm")
        figures["answers_before_replace"] = readers.counts["answers"]
        response = api.upload({d.id: document_text(d.language, d.number, 2, 130) for d in docs})
        response.raise_for_status()
        job_id = response.json()["id"]
        running = api.wait_job(job_id, 120, until=lambda j: j["status"] != "queued" and j["files_done"] >= 1)
        figures["files_replaced_at_kill"] = running["files_done"]
        readers.down.set()
        kill_serve(serve)
        down_at = time.monotonic()
        serve.start()
        figures["seconds_down"] = round(time.monotonic() - down_at, 1)
        readers.down.clear()
        api.close()
        api = Api(serve.base)
        try:
            job = api.wait_job(job_id, 120)
            unfinished = int(job["status"] != "done")
        except TimeoutError:
            unfinished = 1
        answers_at_done = readers.counts["answers"]
        wait_until(lambda: readers is not None and readers.counts["answers"] >= answers_at_done + len(docs), 120,
                   "reads after the replace")
        readers.join()
        final = Counter(check_document(api.document(d.id), d) for d in docs)
        api.close()
    finally:
        if readers is not None:
            readers.join()
            readers.api.close()
        serve.stop()
    counts = {"answers": readers.counts["answers"], "answers_neither": readers.counts["answers_neither"],
              "answers_mixed": readers.counts["answers_mixed"], "document_reads": readers.counts["document_reads"],
              "document_reads_half": readers.counts["document_reads_half"],
              "document_reads_mixed": readers.counts["document_reads_mixed"],
              "document_reads_absent": readers.counts["document_reads_absent"],
              "reads_failed_while_up": readers.counts["reads_failed_while_up"] + readers.counts["answers_not_200"],
              "reads_failed_while_down": readers.counts["reads_failed_while_down"],
              "documents_not_whole_at_end": len(docs) - final["whole"], "jobs_unfinished": unfinished}
    return FaultResult(
        scenario="serve killed during a replace under readers",
        load=f"{len(docs)} documents (version 1: ~8 chunks, version 2: ~45), {clients} readers asking and reading "
             "them in their languages",
        fault="SIGKILL polydesk serve once the replace has written a file; restart on the same folder",
        counts=counts,
        must_be_zero=("answers_neither", "answers_mixed", "document_reads_half", "document_reads_mixed",
                      "document_reads_absent", "reads_failed_while_up", "documents_not_whole_at_end",
                      "jobs_unfinished"),
        notes="reads while serve was down (connection refused) are counted apart", figures=figures)


SCENARIOS: dict[str, Callable[..., FaultResult]] = {
    "serve_killed_during_upload": serve_killed_during_upload,
    "serve_killed_during_upload_aof": lambda **kw: serve_killed_during_upload(redis="aof", **kw),
    "serve_and_redis_killed_during_upload": lambda **kw: serve_killed_during_upload(redis="embedded-group", **kw),
    "killed_during_replace": killed_during_replace,
    "disk_full": disk_full,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the longer version of each scenario")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), help="some scenarios only")
    args = parser.parse_args()
    results = []
    for name in args.only or list(SCENARIOS):
        started = time.monotonic()
        result = SCENARIOS[name](full=args.full)
        result.figures["seconds"] = round(time.monotonic() - started, 1)
        print(result, flush=True)
        results.append(result.to_dict())
    print(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
