"""The people at each tenant's desk: their ids, names, languages, queues and working hours.

Accounts come from the optional file ``POLYDESK_DESK_AGENTS`` (YAML or JSON, tenant -> agents) and from the
agent keys (``api.auth``: a key names its agent and the languages it reads). ``AgentDirectory.agents`` merges
both: an agent a key names but the file does not gets an account of its id and the key's languages; an agent
in both keeps the file's account, with the key's languages when the file gives none.

    tidewell:
      agents:
        - id: mei
          display_name: "Desk CN 1"
          languages: [zh, en]
          queues: [support, sales]
          working_hours:
            timezone: Asia/Shanghai
            days: {mon: ["09:00-18:00"], tue: ["09:00-18:00"], sat: ["10:00-14:00"]}

Example:
    >>> directory = AgentDirectory.from_file(settings.desk_agents)                      # doctest: +SKIP
    >>> [a.id for a in directory.agents("tidewell", [("mei", ("zh", "en"))])]
    ['mei']
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, Field, StringConstraints, TypeAdapter, ValidationError, field_validator

from knowledge.schema import LanguageTag, normalize_tenant
from polydesk.errors import ConfigError

AGENT_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"  # as api.auth's: no ':' (it separates the parts of a key)
AgentId = Annotated[str, StringConstraints(pattern=AGENT_ID_PATTERN)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class WorkingHours(BaseModel):
    """When an agent works, per weekday, as spans ``"HH:MM-HH:MM"`` in ``timezone``."""

    timezone: str = "UTC"
    days: dict[Weekday, list[str]] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Asia/Bangkok')") from None
        return value

    @field_validator("days")
    @classmethod
    def _spans(cls, value: dict[Weekday, list[str]]) -> dict[Weekday, list[str]]:
        for spans in value.values():
            for span in spans:
                match = _SPAN.match(span)
                if match is None or match.group(1, 2) >= match.group(3, 4):
                    raise ValueError(f"a working-hours span is 'HH:MM-HH:MM', start before end; got {span!r}")
        return value

    def on_duty(self, at: datetime) -> bool:
        """Whether ``at`` (an aware time) falls in one of the spans of its weekday, in the agent's time zone."""
        local = at.astimezone(ZoneInfo(self.timezone))
        clock = local.time()
        for span in self.days.get(WEEKDAYS[local.weekday()], []):
            start, end = span.split("-")
            if time.fromisoformat(start) <= clock and (end == "24:00" or clock < time.fromisoformat(end)):
                return True
        return False


class AgentAccount(BaseModel):
    """One person at a tenant's desk."""

    id: AgentId
    display_name: str = Field(default="", max_length=100)
    languages: list[LanguageTag] = Field(default_factory=list, description="read and written; the first is the one "
                                         "customer messages are translated into")
    queues: list[str] = Field(default_factory=list, description="the queues they take; empty: every queue")
    working_hours: WorkingHours | None = None

    def takes(self, queue: str) -> bool:
        return not self.queues or queue in self.queues


class TenantAgents(BaseModel):
    agents: list[AgentAccount] = Field(default_factory=list)


class AgentDirectory:
    """The configured accounts per tenant, merged with the agent keys' on each read."""

    def __init__(self, accounts: dict[str, list[AgentAccount]] | None = None) -> None:
        self._accounts = {normalize_tenant(tenant): list(found) for tenant, found in (accounts or {}).items()}

    @classmethod
    def from_file(cls, path: Path | None) -> AgentDirectory:
        """The accounts in ``path`` (YAML or JSON); none without a path. ``ConfigError`` names a bad entry."""
        if path is None:
            return cls()
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
            parsed = TypeAdapter(dict[str, TenantAgents]).validate_python(data or {})
        except OSError as exc:
            raise ConfigError(f"POLYDESK_DESK_AGENTS: cannot read {path}: {exc}") from None
        except (ValueError, yaml.YAMLError) as exc:
            if isinstance(exc, ValidationError):
                problem = exc.errors()[0]
                where = ".".join(str(part) for part in problem["loc"])
                raise ConfigError(f"POLYDESK_DESK_AGENTS ({path}): {where}: {problem['msg']}") from None
            raise ConfigError(f"POLYDESK_DESK_AGENTS ({path}) is not valid YAML or JSON: {exc}") from None
        for tenant, entry in parsed.items():
            ids = [agent.id for agent in entry.agents]
            if len(ids) != len(set(ids)):
                raise ConfigError(f"POLYDESK_DESK_AGENTS ({path}): tenant {tenant!r} lists an agent id twice")
        return cls({tenant: entry.agents for tenant, entry in parsed.items()})

    def agents(self, tenant: str, keyed: Iterable[tuple[str, Iterable[str]]] = ()) -> list[AgentAccount]:
        """The tenant's agents by id: the file's, and those the keys name (``(agent id, languages)``)."""
        found = {agent.id: agent for agent in self._accounts.get(tenant, [])}
        for agent_id, languages in keyed:
            known = found.get(agent_id)
            if known is None:
                found[agent_id] = AgentAccount(id=agent_id, languages=list(languages))
            elif not known.languages:
                found[agent_id] = known.model_copy(update={"languages": list(languages)})
        return [found[agent_id] for agent_id in sorted(found)]

    def find(self, tenant: str, agent_id: str, keyed: Iterable[tuple[str, Iterable[str]]] = ()) -> AgentAccount | None:
        return next((agent for agent in self.agents(tenant, keyed) if agent.id == agent_id), None)
