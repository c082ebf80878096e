"""Website syncs as ingestion jobs: queued on demand or by schedule, one at a time per source, pages as files."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from ingestion.jobs import JobQueue
from ingestion.web_store import DUE, make_source
from knowledge.embedder import Embedder
from knowledge.index import KnowledgeIndex
from polydesk.errors import NotFoundError
from polydesk.settings import Settings
from tests.ingestion.web_site import FakeSite

pytestmark = pytest.mark.integration


@pytest.fixture
def queue(redis_server: redis.Redis, settings: Settings, embedder: Embedder) -> Iterator[JobQueue]:
    redis_server.flushall()
    web = settings.model_copy(update={"allow_private_urls": True, "web_rate_per_second": 1000.0})
    index = KnowledgeIndex.open(web, embedder=embedder)
    jobs = JobQueue(redis_server, index=index, settings=web, poll_s=0.05)
    yield jobs
    jobs.stop()
    index.close()


@pytest.mark.slow
def test_a_sync_job_reports_each_page_as_a_file(queue: JobQueue, site: FakeSite) -> None:
    source = queue.sources.add(make_source(queue.settings, tenant="tidewell", url=site.url("/"), sitemap=True))
    job = queue.submit_sync("tidewell", source.id)
    assert job is not None and job.status == "queued" and job.source_id == source.id
    again = queue.submit_sync("tidewell", source.id)  # already queued: the same job, not a second sync
    assert again is not None and again.id == job.id
    assert queue.run_once() == job.id
    assert queue.run_once() is None
    finished = queue.get("tidewell", job.id)
    assert finished.status == "partial"  # the 500 page failed, robots and the redirect skipped
    assert finished.totals["added"] == 8 and finished.totals["failed"] == 1
    files = {f.url: f for f in finished.files}
    assert files[site.url("/es/garantia")].status == "failed"
    assert files[site.url("/es/garantia")].code == "http_500"
    assert files[site.url("/en/returns")].document_id is not None
    assert finished.files_done == len(finished.files)
    with pytest.raises(NotFoundError):
        queue.get("acme", job.id)
    with pytest.raises(NotFoundError):
        queue.submit_sync("acme", source.id)
    assert queue.sources.get("tidewell", source.id).last_sync is not None
    assert queue.sources.running("tidewell", source.id) is None  # the lock is released
    second = queue.submit_sync("tidewell", source.id)
    assert second is not None and second.id != job.id


def test_the_worker_queues_the_syncs_that_are_due(queue: JobQueue, site: FakeSite) -> None:
    source = queue.sources.add(make_source(queue.settings, tenant="tidewell", url=site.url("/"), every="6h"))
    assert queue.schedule() == 0  # due in six hours
    queue.client.zadd(DUE, {f"tidewell/{source.id}": time.time() - 1})
    assert queue.schedule() == 1
    assert queue.schedule() == 0  # the next one is six hours away again
    due = queue.client.zscore(DUE, f"tidewell/{source.id}")
    assert due is not None and due > time.time() + 5 * 3600
    assert queue.stats()["queued"] == 1
    queue.sources.remove("tidewell", source.id)
    queue.client.zadd(DUE, {f"tidewell/{source.id}": time.time() - 1})
    assert queue.schedule() == 0
    assert queue.client.zscore(DUE, f"tidewell/{source.id}") is None
