"""What routes depend on: the process's services and the caller behind the API key.

Routes read like sentences:
``def answer(body: AnswerBody, caller: ConnectorCaller, services: ServicesDep)``.
The tenant of every request is the caller's: no route takes a tenant from the client.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

import redis
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.events import EventLog
from agent.inbox import Inbox
from agent.pipeline import Agent
from agent.profiles import ProfileStore
from agent.state import ConversationStore
from agent.webhooks import WebhookDispatcher
from api.admission import Admission
from api.auth import ApiKey, Caller, KeyRing, Role, origin_refused
from api.channels.service import ChannelService, agent_answer
from api.console.sessions import SessionStore
from api.idempotency import IdempotencyStore
from api.metrics import Metrics
from api.ratelimit import AuthThrottle, RateLimiter
from api.runtime import Runtime
from desk.agents import AgentDirectory
from desk.store import DeskStore
from ingestion.jobs import JobQueue
from knowledge.index import KnowledgeIndex
from personas import PersonaCatalog
from polydesk.errors import AuthenticationError, PermissionDeniedError
from polydesk.settings import Settings

log = logging.getLogger("polydesk.api")


@dataclass
class Services:
    """Everything one process shares between requests; opened at start-up, closed at shutdown.

    The shared resources (Redis, the index, personas, conversations, events, the agent) are the runtime's;
    routes read them as ``services.index``, ``services.conversations``, ... and never through the agent.
    """

    settings: Settings
    runtime: Runtime
    keys: KeyRing
    limiter: RateLimiter
    throttle: AuthThrottle
    metrics: Metrics
    idempotency: IdempotencyStore
    inbox: Inbox
    admission: Admission
    jobs: JobQueue | None = None
    webhooks: WebhookDispatcher | None = None
    channels: ChannelService | None = None  # LINE, Telegram, ... (POLYDESK_CHANNELS); None when not configured
    warm: threading.Event | None = None  # set when the warm-up is done; None when none was started
    owns_runtime: bool = True

    @property
    def agent(self) -> Agent:
        return self.runtime.agent

    @property
    def index(self) -> KnowledgeIndex:
        return self.runtime.index

    @property
    def catalog(self) -> PersonaCatalog:
        return self.runtime.catalog

    @property
    def conversations(self) -> ConversationStore:
        return self.runtime.conversations

    @property
    def profiles(self) -> ProfileStore:
        return self.runtime.profiles

    @property
    def events(self) -> EventLog:
        return self.runtime.events

    @property
    def redis(self) -> redis.Redis:
        return self.runtime.redis

    @cached_property
    def desk(self) -> DeskStore:
        """The desk's items, on the runtime's Redis, events and conversations."""
        return DeskStore(self.redis, self.events, conversations=self.conversations)

    @cached_property
    def desk_agents(self) -> AgentDirectory:
        """The desk's agent accounts from ``POLYDESK_DESK_AGENTS`` (merge in ``keys.agents`` when reading)."""
        return AgentDirectory.from_file(self.settings.desk_agents)

    @cached_property
    def console_sessions(self) -> SessionStore:
        """The web console's sign-ins, on the runtime's Redis."""
        return SessionStore(self.redis, ttl_s=int(self.settings.console_session_hours * 3600))

    @classmethod
    def open(cls, settings: Settings, *, keys: Sequence[ApiKey], runtime: Runtime | None = None,
             background: bool = True) -> Services:
        """On ``runtime``, else on one opened here (and closed by ``close``). ``background``: this process also
        runs the ingestion jobs and the webhook delivery."""
        owns_runtime = runtime is None
        runtime = runtime or Runtime.open(settings)
        client = runtime.redis
        jobs = (JobQueue(client, index=runtime.index, settings=settings, lease_s=settings.job_lease_s)
                if background else None)
        webhooks = WebhookDispatcher.from_settings(settings, client) if background else None
        metrics, inbox = Metrics(), Inbox(settings.inbox_path)
        answer = agent_answer(runtime.agent, inbox, degraded_reply=settings.degraded_reply,
                              observe=lambda reply, market: metrics.observe_reply(reply, market=market))
        try:
            channels = ChannelService.from_settings(settings, client, answer=answer,  # ConfigError: do not start
                                                   conversations=runtime.conversations, catalog=runtime.catalog)
        except Exception:
            if owns_runtime:
                runtime.close()
            raise
        return cls(settings=settings, runtime=runtime, keys=KeyRing(keys), owns_runtime=owns_runtime,
                   limiter=RateLimiter(client, per_minute=settings.rate_limit_per_minute,
                                       burst=settings.rate_limit_burst),
                   throttle=AuthThrottle(per_minute=settings.auth_failures_per_minute,
                                         burst=settings.auth_failure_burst),
                   metrics=metrics, jobs=jobs, webhooks=webhooks, channels=channels,
                   idempotency=IdempotencyStore(client, conversations=runtime.conversations,
                                                ttl_s=int(settings.idempotency_ttl_hours * 3600)),
                   inbox=inbox, admission=Admission(slots=settings.answer_concurrency,
                                                    queue_budget_s=settings.answer_queue_ms / 1000))

    def start(self, *, warm_up: bool, freeze: bool = False) -> None:
        """Start the background workers; with ``warm_up``, also the agent's warm-up (``/readyz`` waits for it),
        after which, with ``freeze`` (a process that is this service), what start-up built is frozen (below)."""
        if warm_up:
            self.warm = threading.Event()
            threading.Thread(target=self._warm_up, args=(freeze,), name="polydesk-warm-up", daemon=True).start()
        if self.jobs is not None and self.settings.run_ingestion_jobs:
            self.jobs.start()
        if self.webhooks is not None:
            self.webhooks.start()
        if self.channels is not None and self.jobs is not None:  # background work runs where the jobs run
            self.channels.start()

    def _warm_up(self, freeze: bool) -> None:
        try:
            log.info("warmed up in %d dry runs", self.agent.warm_up())
        except Exception:  # a dry run that fails shows up again, and is reported, with a real request
            log.exception("the warm-up failed")
        finally:
            if freeze:
                # What start-up built (the models' Python side, the catalog, every market's compiled rules) lives
                # as long as the process. Frozen, it is out of the collector's sight: a full collection under load
                # then walks only what answers made since, and stops every thread of the process for about 20 ms
                # instead of 250-330 ms (docs/performance.md).
                gc.collect()
                gc.freeze()
            if self.warm is not None:
                self.warm.set()

    def close(self) -> None:
        if self.jobs is not None:
            self.jobs.stop()
        if self.webhooks is not None:
            self.webhooks.close()
        if self.channels is not None:
            self.channels.close()
        if self.owns_runtime:
            self.runtime.close()


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _services(request: Request) -> Services:  # async: a plain read needs no worker thread
    return get_services(request)


ServicesDep = Annotated[Services, Depends(_services)]

_bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer <key>`")


def require_role(role: Role) -> Callable[..., Caller]:
    """A dependency: the caller of a valid key whose role may do ``role``'s work, within its rate limit."""

    def dependency(services: ServicesDep,
                   credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
        if credentials is None or not credentials.credentials:
            raise AuthenticationError("this endpoint needs an API key: send 'Authorization: Bearer <key>'")
        caller = services.keys.authenticate(credentials.credentials)
        if caller is None:
            raise AuthenticationError("unknown API key")
        if not caller.allows(role):
            needed = {"admin": "an admin key", "widget": "a widget key", "agent": "an agent or admin key"
                      }.get(role, f"a {role} or admin key")
            raise PermissionDeniedError(f"a {caller.role} key may not do this; it needs {needed}")
        services.limiter.check(caller.key_id)
        return caller

    return dependency


ConnectorCaller = Annotated[Caller, Depends(require_role("connector"))]
ContentCaller = Annotated[Caller, Depends(require_role("content"))]
AdminCaller = Annotated[Caller, Depends(require_role("admin"))]
# A person at the desk: an agent key, or an admin key acting as agent ``admin-<key id>`` (``caller.agent_id``,
# ``caller.languages``, ``caller.tenant``).
DeskCaller = Annotated[Caller, Depends(require_role("agent"))]


def require_widget(request: Request, caller: Annotated[Caller, Depends(require_role("widget"))]) -> Caller:
    """A dependency: the caller of a widget key, called from a page of one of the key's allowed origins."""
    origin = request.headers.get("origin")
    if origin is None or origin not in caller.allowed_origins:
        raise origin_refused(origin)
    return caller


WidgetCaller = Annotated[Caller, Depends(require_widget)]
