"""Website sources and what each sync left: durable in Redis, scoped by tenant.

Keys (the ``{jobs}`` hash slot of ``ingestion.jobs``, so a source, its pages and a queued sync job change
together in one transaction, on Redis Cluster too)::

    polydesk:{jobs}:sources:<tenant>                hash: source id → the source (JSON)
    polydesk:{jobs}:source-pages:<tenant>:<id>      hash: page URL → its state after the last sync (JSON)
    polydesk:{jobs}:source-common:<tenant>:<id>     set: keys of the blocks common to the source's pages
    polydesk:{jobs}:sources-due                     sorted set: "<tenant>/<id>" → when its next scheduled sync is due
    polydesk:{jobs}:source-lock:<tenant>:<id>       the job id of the sync running now (with a TTL)

A sync's page states are written once, at its end, in one transaction with the source's last summary: a sync that
stops halfway leaves the previous states whole (the next sync redoes its work; document writes are idempotent).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Literal

import redis
from pydantic import BaseModel, Field

from ingestion.web_extract import canonical_url
from knowledge.schema import Kind, normalize_market, normalize_tenant
from polydesk.errors import InputError, NotFoundError, OutboundError, UnsafeUrlError
from polydesk.redisdb import redis_errors
from polydesk.safehttp import OutboundPolicy, check_url
from polydesk.settings import Settings

PREFIX = "polydesk:{jobs}:"
DUE = PREFIX + "sources-due"
SOURCE_ID = re.compile(r"^[0-9a-f]{16}$")
_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d)\s*$", re.IGNORECASE)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400}
MIN_EVERY_S = 300  # a schedule more often than every 5 minutes is refused


def parse_every(text: str | None) -> int | None:
    """``"6h"`` → 21600 seconds (``m``, ``h``, ``d``); None for None or ""; ``InputError`` (``invalid_schedule``)."""
    if text is None or not text.strip():
        return None
    match = _EVERY.match(text)
    if not match:
        raise InputError(f"a schedule is a number and m, h or d, such as 6h or 1d; got {text!r}",
                         code="invalid_schedule")
    seconds = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if seconds < MIN_EVERY_S:
        raise InputError(f"a schedule must be at least {MIN_EVERY_S // 60} minutes; got {text!r}",
                         code="invalid_schedule")
    return seconds


class SyncSummary(BaseModel):
    job_id: str | None = None
    finished_at: datetime
    status: str = Field(examples=["partial"])
    totals: dict[str, int] = Field(default_factory=dict)


class WebSource(BaseModel):
    """A website the knowledge base follows."""

    id: str = Field(examples=["5c0f3e9a1b2d4c6e"])
    tenant: str
    url: str = Field(examples=["https://help.tidewell.example/"], description="the start page, or the sitemap")
    market: str = Field(default="*", description="for pages whose URL names no market (/de-de/, /th/)")
    sitemap: bool = Field(default=False, description="pages from the sitemap (robots.txt's, or the url itself) "
                                                     "instead of following links from the start page")
    include: list[str] = Field(default_factory=list, description="URL path patterns (glob) a page must match")
    exclude: list[str] = Field(default_factory=list, description="URL path patterns (glob) left out")
    hosts: list[str] = Field(default_factory=list, description="hosts besides the start URL's that may be crawled")
    kind: Kind = "doc"
    every_s: int | None = Field(default=None, description="seconds between scheduled syncs; null: on demand only")
    created_at: datetime
    last_sync: SyncSummary | None = None


class PageState(BaseModel):
    """One page as the last sync left it."""

    url: str
    document_id: str
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    status: Literal["indexed", "failed"] = "indexed"
    failures: int = 0
    links: list[str] = Field(default_factory=list, description="pages it links to (a crawl goes on from here "
                                                                "when the page answers 304)")


class SourceStore:
    """Sources and their page states in Redis (see the module docstring)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @staticmethod
    def sources_key(tenant: str) -> str:
        return f"{PREFIX}sources:{tenant}"

    @staticmethod
    def pages_key(tenant: str, source_id: str) -> str:
        return f"{PREFIX}source-pages:{tenant}:{source_id}"

    @staticmethod
    def common_key(tenant: str, source_id: str) -> str:
        return f"{PREFIX}source-common:{tenant}:{source_id}"

    @staticmethod
    def lock_key(tenant: str, source_id: str) -> str:
        return f"{PREFIX}source-lock:{tenant}:{source_id}"

    def add(self, source: WebSource) -> WebSource:
        with redis_errors("save the website source"), self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self.sources_key(source.tenant), source.id, source.model_dump_json())
            if source.every_s:
                pipe.zadd(DUE, {f"{source.tenant}/{source.id}": time.time() + source.every_s})
            pipe.execute()
        return source

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex[:16]

    def get(self, tenant: str, source_id: str) -> WebSource:
        """The source, or ``NotFoundError`` (``unknown_source``) when the tenant has none by that id."""
        raw = None
        if SOURCE_ID.match(source_id):
            with redis_errors("read the website source"):
                raw = self.client.hget(self.sources_key(tenant), source_id)
        if raw is None:
            raise NotFoundError(f"no website source {source_id!r}", code="unknown_source")
        return WebSource.model_validate_json(raw)

    def of_tenant(self, tenant: str) -> list[WebSource]:
        with redis_errors("list the website sources"):
            raw: dict[bytes, bytes] = self.client.hgetall(self.sources_key(tenant))  # type: ignore[assignment]
        sources = [WebSource.model_validate_json(v) for v in raw.values()]
        return sorted(sources, key=lambda s: (s.created_at, s.id))

    def remove(self, tenant: str, source_id: str) -> WebSource:
        """Forget the source and its page states (its documents stay; the caller deletes them)."""
        source = self.get(tenant, source_id)
        with redis_errors("remove the website source"), self.client.pipeline(transaction=True) as pipe:
            pipe.hdel(self.sources_key(tenant), source_id)
            pipe.delete(self.pages_key(tenant, source_id), self.common_key(tenant, source_id))
            pipe.zrem(DUE, f"{tenant}/{source_id}")
            pipe.execute()
        return source

    def pages(self, tenant: str, source_id: str) -> dict[str, PageState]:
        with redis_errors("read the pages of the website source"):
            raw: dict[bytes, bytes] = self.client.hgetall(self.pages_key(tenant, source_id))  # type: ignore[assignment]
        return {k.decode(): PageState.model_validate_json(v) for k, v in raw.items()}

    def common(self, tenant: str, source_id: str) -> set[str]:
        with redis_errors("read the website source"):
            members: set[bytes] = self.client.smembers(self.common_key(tenant, source_id))  # type: ignore[assignment]
        return {m.decode() for m in members}

    def save_sync(self, source: WebSource, pages: dict[str, PageState], common: set[str],
                  summary: SyncSummary) -> bool:
        """The sync's page states, common blocks and summary, all at once. False when the source was removed
        meanwhile (nothing is written then)."""
        sources, pages_key, common_key = (self.sources_key(source.tenant), self.pages_key(source.tenant, source.id),
                                          self.common_key(source.tenant, source.id))
        with redis_errors("save the website sync"), self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(sources)
                    raw = pipe.hget(sources, source.id)
                    if raw is None:
                        pipe.reset()
                        return False
                    current = WebSource.model_validate_json(raw)
                    current.last_sync = summary
                    pipe.multi()
                    pipe.hset(sources, source.id, current.model_dump_json())
                    pipe.delete(pages_key, common_key)
                    if pages:
                        pipe.hset(pages_key, mapping={u: p.model_dump_json() for u, p in pages.items()})
                    if common:
                        pipe.sadd(common_key, *sorted(common))
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    # -- one sync at a time, and the schedule ---------------------------------------------------------------

    def lock(self, tenant: str, source_id: str, job_id: str, ttl_s: int = 6 * 3600) -> str | None:
        """Take the source's sync lock for ``job_id``; the job id that holds it when another sync runs."""
        key = self.lock_key(tenant, source_id)
        with redis_errors("lock the website source"):
            if self.client.set(key, job_id, nx=True, ex=ttl_s):
                return None
            holder = self.client.get(key)
        if holder is None:
            return self.lock(tenant, source_id, job_id, ttl_s)
        held = holder.decode()  # type: ignore[union-attr]
        return None if held == job_id else held

    def unlock(self, tenant: str, source_id: str, job_id: str) -> None:
        key = self.lock_key(tenant, source_id)
        with redis_errors("unlock the website source"):
            if self.client.get(key) == job_id.encode():
                self.client.delete(key)

    def running(self, tenant: str, source_id: str) -> str | None:
        with redis_errors("read the website source"):
            holder = self.client.get(self.lock_key(tenant, source_id))
        return holder.decode() if holder is not None else None  # type: ignore[union-attr]

    def due(self, now: float, limit: int = 20) -> list[tuple[str, str]]:
        """(tenant, source id) of sources whose scheduled sync is due."""
        with redis_errors("read the website schedule"):
            members = self.client.zrangebyscore(DUE, "-inf", now, start=0, num=limit)
        pairs = [m.decode().partition("/") for m in members]  # type: ignore[union-attr]
        return [(tenant, source_id) for tenant, _, source_id in pairs]


def make_source(settings: Settings, *, tenant: str, url: str, market: str = "*", sitemap: bool = False,
                include: list[str] | None = None, exclude: list[str] | None = None, hosts: list[str] | None = None,
                kind: Kind = "doc", every: str | None = None) -> WebSource:
    """A new source, checked: ``invalid_url`` (not an http(s) URL with a host, or a host that does not resolve),
    ``unsafe_url`` (a private or loopback address, unless the operator allows them), ``invalid_schedule``."""
    try:
        tenant, market = normalize_tenant(tenant), normalize_market(market)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    globs = [g for g in [*(include or []), *(exclude or [])] if not g.strip() or len(g) > 500]
    if globs:
        raise InputError("an include or exclude pattern is empty or longer than 500 characters")
    every_s = parse_every(every)
    canonical = canonical_url(url) if len(url) <= 2000 else None
    if canonical is None:
        raise InputError(f"{url[:200]!r} is not an http(s) URL with a host", code="invalid_url")
    try:
        check_url(canonical, OutboundPolicy.from_settings(settings, allow_http=True, timeout_s=settings.web_timeout_s))
    except UnsafeUrlError:
        raise
    except OutboundError as exc:
        raise InputError(exc.message, code="invalid_url") from exc
    return WebSource(id=SourceStore.new_id(), tenant=tenant, url=canonical, market=market, sitemap=sitemap,
                     include=list(include or []), exclude=list(exclude or []),
                     hosts=sorted({h.strip().lower() for h in hosts or [] if h.strip()}), kind=kind,
                     every_s=every_s, created_at=now_utc())


def now_utc() -> datetime:
    return datetime.now(UTC)


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
