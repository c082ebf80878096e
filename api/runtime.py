"""The composition root: one place opens the resources a process shares, hands them out and closes them.

```
settings ─▶ Runtime.open
   ├─ Redis client (POLYDESK_REDIS_URL, else own redis-server) ───┬─▶ OutcomeRecorder (analytics counters)
   │                                                              ├─▶ EventLog (handoff stream, counted)
   │                                                              ├─▶ ConversationStore (state, locks)
   │                                                              └─▶ ProfileStore (one customer across channels)
   ├─ KnowledgeIndex (Qdrant store + embedder + lexical encoder)
   ├─ PersonaCatalog (YAML)
   ├─ EscalationPolicy (intent classifier on the index's embedder)
   ├─ Generator (create_generator: extractive, or LLM falling back to it)
   ├─ ToolCatalog (<personas_dir>/tools/*.yaml) ─▶ ToolStage (ToolClient: its HTTP connections, secrets read
   │                                                from os.environ at call time; LLM function calling when set)
   └─▶ Agent(index, catalog, conversations, escalation, generator, tools): the answer pipeline
```

``polydesk serve`` (``api.deps.Services``) and every CLI command that answers or hands back
conversations open one ``Runtime``; nothing else opens Redis or the index for them. Whoever opens a
resource closes it: a resource handed in (``index=``, ``redis_client=``; tests share one index across
apps) stays its owner's, and ``close`` closes only what ``open`` opened.

Example:
    >>> with Runtime.open(get_settings()) as runtime:                           # doctest: +SKIP
    ...     runtime.agent.answer(AnswerRequest(tenant="tidewell", channel="web", market="DE", message="Hallo"))
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from redis import Redis

from agent.escalation import EscalationPolicy
from agent.events import EventLog
from agent.generators import create_generator
from agent.intents import IntentClassifier
from agent.outcomes import OutcomeRecorder
from agent.pipeline import Agent
from agent.profiles import ProfileStore
from agent.state import ConversationStore
from agent.tools.client import ToolClient
from agent.tools.llm import ToolArgumentExtractor
from agent.tools.spec import ToolCatalog
from agent.tools.stage import ToolStage
from agent.translation import Translator
from knowledge.index import KnowledgeIndex
from personas import PersonaCatalog
from polydesk.redisdb import connect_redis, redis_errors
from polydesk.settings import Settings

log = logging.getLogger("polydesk.runtime")


@dataclass
class Runtime:
    """The shared resources of one process and the agent built on them."""

    settings: Settings
    redis: Redis
    index: KnowledgeIndex
    catalog: PersonaCatalog
    events: EventLog
    conversations: ConversationStore
    agent: Agent
    profiles: ProfileStore
    translator: Translator
    outcomes: OutcomeRecorder | None = None  # the analytics counters the agent and the event log record into
    tools: ToolCatalog = field(default_factory=ToolCatalog)  # the brand's HTTP tools (agent.tools)
    _owned: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @classmethod
    def open(cls, settings: Settings, *, index: KnowledgeIndex | None = None,
             redis_client: Redis | None = None, escalation: EscalationPolicy | None = None) -> Runtime:
        """Open what is not handed in; if a later step fails, what was opened is closed again."""
        owned: list[Callable[[], None]] = []
        try:
            if index is None:
                index = KnowledgeIndex.open(settings)
                owned.append(index.close)
            if redis_client is None:
                redis_client = connect_redis(settings)
                owned.append(_closer(redis_client))
            catalog = PersonaCatalog.load(settings.personas_dir)
            recorder = OutcomeRecorder.from_settings(redis_client, settings)
            events = EventLog(redis_client, recorder=recorder)
            conversations = ConversationStore.from_settings(redis_client, settings, events=events)
            escalation = escalation or EscalationPolicy(
                IntentClassifier.load_or_train(index.embedder, settings.model_cache_dir))
            generator = create_generator(settings, embedder=index.embedder, tokenizer=index.sparse)
            profiles = ProfileStore(redis_client)
            tools, stage = ToolCatalog.load(settings.personas_dir), None
            if len(tools):
                client = ToolClient(settings=settings, environ=os.environ)
                owned.append(client.close)
                stage = ToolStage(catalog=tools, client=client, profiles=profiles,
                                  extractor=ToolArgumentExtractor.from_settings(settings))
            agent = Agent(index=index, catalog=catalog, conversations=conversations, escalation=escalation,
                          generator=generator, settings=settings, recorder=recorder, tools=stage)
        except BaseException:
            _close_all(owned)
            raise
        return cls(settings=settings, redis=redis_client, index=index, catalog=catalog, events=events,
                   conversations=conversations, agent=agent, profiles=profiles,
                   translator=Translator.from_settings(settings), outcomes=recorder, tools=tools, _owned=owned)

    def close(self) -> None:
        """Close what ``open`` opened, newest first (safe to call twice)."""
        owned, self._owned = self._owned, []
        _close_all(owned)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def event_log(client: Redis, settings: Settings) -> EventLog:
    """The events stream as a writer outside a ``Runtime`` (a CLI command) opens it: what each event changes is
    counted in the outcome counters (``agent.outcomes``), as ``Runtime.open`` does."""
    return EventLog(client, recorder=OutcomeRecorder.from_settings(client, settings))


def _closer(client: Redis) -> Callable[[], None]:
    def close() -> None:
        with redis_errors("close the Redis connection"):
            client.close()

    return close


def _close_all(closers: list[Callable[[], None]]) -> None:
    for close in reversed(closers):
        try:
            close()
        except Exception:  # one resource failing to close must not keep the others open
            log.exception("closing a shared resource failed")
