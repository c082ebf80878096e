"""What every ``polydesk`` command shares: the consoles, errors as exit codes, the settings, common options,
and the one place that opens what a command works on: ``open_runtime`` (the agent and everything it uses,
``api.runtime``), ``open_index`` (the knowledge index alone) or ``open_redis`` (Redis alone).

Errors print a stable code and a reason and exit 2 (bad input) or 1 (anything else); with ``--json`` they
print ``{"error": {"code": ..., "message": ...}}``.

Example:
    >>> settings = load_settings()                                                # doctest: +SKIP
    >>> with errors(as_json), open_runtime(settings) as runtime:                  # doctest: +SKIP
    ...     reply = runtime.agent.answer(request)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from polydesk.errors import InputError, PolydeskError
from polydesk.settings import Settings, get_settings

if TYPE_CHECKING:
    import redis

    from api.runtime import Runtime
    from knowledge.index import KnowledgeIndex

console = Console()
err_console = Console(stderr=True)

DEMO_TENANT = "tidewell"

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant (brand) the data belongs to.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@contextmanager
def errors(as_json: bool) -> Iterator[None]:
    """Map polydesk errors to a clear message and exit code 2 (bad input) or 1 (anything else)."""
    try:
        yield
    except PolydeskError as exc:
        if as_json:
            print(json.dumps({"error": exc.to_dict()}, ensure_ascii=False))
        else:
            err_console.print(f"[red]error[/red] \\[{exc.code}]: {escape(exc.message)}")
        raise typer.Exit(2 if isinstance(exc, InputError) else 1) from exc


def load_settings() -> Settings:
    """The settings from ``POLYDESK_*`` and ``.env``; invalid ones print ``invalid_config`` and exit 1."""
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        err_console.print(f"[red]error[/red] \\[invalid_config]: {escape(str(exc))}")
        raise typer.Exit(1) from exc


@contextmanager
def open_runtime(settings: Settings) -> Iterator[Runtime]:
    """The agent, the knowledge index and Redis for a command that answers or hands back, closed afterwards
    (the index's folder lock released)."""
    from api.runtime import Runtime  # the models load only for the commands that need them

    with Runtime.open(settings) as runtime:
        yield runtime


@contextmanager
def open_index(settings: Settings) -> Iterator[KnowledgeIndex]:
    """The knowledge index alone, for the commands on it (ingest, search, documents, delete), closed afterwards
    (its folder lock released): they need neither Redis nor the agent's models."""
    from knowledge.index import KnowledgeIndex

    index = KnowledgeIndex.open(settings)
    try:
        yield index
    finally:
        index.close()


@contextmanager
def open_redis(settings: Settings) -> Iterator[redis.Redis]:
    """Redis alone, closed afterwards: for the commands on events and kept messages, which need neither the
    index nor the models."""
    from polydesk.redisdb import connect_redis

    client = connect_redis(settings)
    try:
        yield client
    finally:
        client.close()
