"""Website sources: a help center or docs site the knowledge base follows (``ingestion.web``).

``POST /v1/knowledge/sources`` adds a site and queues its first sync; ``POST .../{id}/sync`` queues another (or
answers the one already queued or running); a sync is an ingestion job (``GET /v1/knowledge/jobs/{id}``) whose
files are the site's pages. Everything is scoped to the caller's tenant: another tenant's source is a 404
(``unknown_source``), never a 403. Content and admin keys only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import ContentCaller, Services, ServicesDep
from api.errors import error_responses
from api.routes.knowledge import JobPublic
from ingestion.jobs import JobQueue
from ingestion.web import remove_source
from ingestion.web_store import SyncSummary, WebSource, make_source
from knowledge.schema import Kind, MarketCode
from polydesk.errors import StoreError

router = APIRouter(prefix="/v1/knowledge/sources", tags=["knowledge"])


class SourceCreate(BaseModel):
    """A website to follow."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"url": "https://help.tidewell.example/", "market": "*", "sitemap": True, "exclude": ["/blog/*"],
         "every": "6h"}]})

    url: str = Field(max_length=2000, description="the start page (links are followed), or with `sitemap` the "
                                                  "site (its robots.txt's sitemaps, else /sitemap.xml) or a sitemap")
    market: MarketCode = Field(default="*", description="for pages whose URL names no market (/de-de/, /th/)")
    sitemap: bool = False
    include: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=50,
                                                                 description="URL path globs a page must match")
    exclude: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=50,
                                                                 description="URL path globs left out")
    hosts: list[Annotated[str, Field(max_length=255)]] = Field(default_factory=list, max_length=20,
                                                               description="other hosts that may be crawled")
    kind: Kind = "doc"
    every: str | None = Field(default=None, max_length=20, description="scheduled syncs: 30m, 6h, 1d; null: on "
                                                                       "demand only")


class SourceLinks(BaseModel):
    self: str
    sync: str


class SourcePublic(BaseModel):
    """A website source and its last sync."""

    id: str
    url: str
    market: str
    sitemap: bool
    include: list[str]
    exclude: list[str]
    hosts: list[str]
    kind: str
    every_s: int | None
    created_at: str
    last_sync: SyncSummary | None
    running_job: str | None = Field(default=None, description="the sync job queued or running now, if any")
    links: SourceLinks

    @classmethod
    def of(cls, source: WebSource, running: str | None = None) -> SourcePublic:
        data = source.model_dump(mode="json", exclude={"tenant"})
        return cls(**data, running_job=running, links=SourceLinks(self=f"{router.prefix}/{source.id}",
                                                                  sync=f"{router.prefix}/{source.id}/sync"))


class SourceAdded(BaseModel):
    source: SourcePublic
    job: JobPublic = Field(description="the first sync")


class SourceList(BaseModel):
    sources: list[SourcePublic]


def _queue(services: Services) -> JobQueue:
    if services.jobs is None:
        raise StoreError("this server does not run ingestion jobs; use another replica")
    return services.jobs


@router.post("", status_code=201, response_model=SourceAdded, summary="Add a website source",
             responses=error_responses(400, 401, 403, 422, 429, 503))
def add_source(body: SourceCreate, caller: ContentCaller, services: ServicesDep) -> SourceAdded:
    """Check the URL (``invalid_url``; ``unsafe_url`` for a private or loopback address unless the operator allows
    them), save the source and queue its first sync; follow it at ``job.links.self``."""
    source = make_source(services.settings, tenant=caller.tenant, url=body.url, market=body.market,
                         sitemap=body.sitemap, include=body.include, exclude=body.exclude, hosts=body.hosts,
                         kind=body.kind, every=body.every)
    queue = _queue(services)
    queue.sources.add(source)
    job = queue.submit_sync(caller.tenant, source.id)
    assert job is not None
    return SourceAdded(source=SourcePublic.of(source, job.id), job=JobPublic.of(job))


@router.get("", response_model=SourceList, summary="List website sources",
            responses=error_responses(401, 403, 429, 503))
def list_sources(caller: ContentCaller, services: ServicesDep) -> SourceList:
    store = _queue(services).sources
    return SourceList(sources=[SourcePublic.of(s, store.running(caller.tenant, s.id))
                               for s in store.of_tenant(caller.tenant)])


@router.get("/{source_id}", response_model=SourcePublic, summary="Read a website source",
            responses=error_responses(401, 403, 404, 429, 503))
def get_source(source_id: str, caller: ContentCaller, services: ServicesDep) -> SourcePublic:
    store = _queue(services).sources
    return SourcePublic.of(store.get(caller.tenant, source_id), store.running(caller.tenant, source_id))


@router.post("/{source_id}/sync", status_code=202, response_model=JobPublic, summary="Sync a website source now",
             responses=error_responses(401, 403, 404, 429, 503))
def sync_source(source_id: str, caller: ContentCaller, services: ServicesDep) -> JobPublic:
    """Queue a sync (or answer the one already queued or running for this source)."""
    job = _queue(services).submit_sync(caller.tenant, source_id)
    assert job is not None
    return JobPublic.of(job)


@router.delete("/{source_id}", status_code=204, response_class=Response, summary="Remove a website source",
               responses=error_responses(401, 403, 404, 429, 503))
async def delete_source(source_id: str, caller: ContentCaller, services: ServicesDep,
                        keep_documents: Annotated[bool, Query(description="keep the pages' documents")] = False
                        ) -> Response:
    """Stop following the site; its pages' documents are deleted too unless ``keep_documents``."""
    store = _queue(services).sources
    await run_in_threadpool(remove_source, store, services.index, caller.tenant, source_id,
                            keep_documents=keep_documents)
    return Response(status_code=204)
