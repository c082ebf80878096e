"""``polydesk desk``: the desk's inbox from a terminal, an operator's tool on the same store as ``/v1/desk``.

Every command reads the events published since the last look first (``DeskStore.sync``), like the API.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from api.cli.common import JsonOption, TenantOption, console, errors, load_settings, open_redis

if TYPE_CHECKING:
    from desk.store import DeskItem, DeskStore
    from polydesk.settings import Settings

desk_app = typer.Typer(help="The desk: handed-off conversations, claimed and released by people.",
                       no_args_is_help=True)

AgentOption = Annotated[str, typer.Option("--agent", "-a", help="The agent id acting at the desk, e.g. mei.")]
ConversationArgument = Annotated[str, typer.Argument(help="The handed-off conversation's id.")]


@contextmanager
def _desk(settings: Settings) -> Iterator[DeskStore]:
    """The desk on a Redis of its own (closed afterwards), synced with the events stream."""
    from agent.state import ConversationStore
    from api.runtime import event_log
    from desk.store import DeskStore

    with open_redis(settings) as client:
        events = event_log(client, settings)
        desk = DeskStore(client, events, conversations=ConversationStore.from_settings(client, settings,
                                                                                       events=events))
        desk.sync()
        yield desk


def _when(at: float | None) -> str:
    return "" if at is None else f"{dt.datetime.fromtimestamp(at, dt.UTC):%Y-%m-%d %H:%M:%S}"


def _print_item(item: DeskItem, as_json: bool) -> None:
    if as_json:
        print(item.model_dump_json())
        return
    console.print(f"{escape(item.conversation_id)}: {item.state}" + (f" ({escape(item.assignee)})"
                                                                    if item.assignee else ""))


@desk_app.command("list")
def desk_list(
    tenant: TenantOption,
    state: Annotated[str | None, typer.Option(help="waiting, assigned or closed (default: the open ones).")] = None,
    queue: Annotated[str | None, typer.Option(help="Only this queue.")] = None,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Only those this agent holds.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The inbox: urgent first, then the longest waiting."""
    from polydesk.errors import InputError

    with errors(as_json):
        if state not in (None, "waiting", "assigned", "closed"):
            raise InputError(f"--state is waiting, assigned or closed, not {state!r}")
        chosen: Literal["waiting", "assigned", "closed"] | None = state  # type: ignore[assignment]
        with _desk(load_settings()) as desk:
            items = desk.inbox(tenant, queue=queue, state=chosen, agent_id=agent)
    if as_json:
        print(json.dumps([item.model_dump(mode="json") for item in items], ensure_ascii=False))
        return
    now = time.time()
    table = Table("conversation", "state", "priority", "queue", "market", "language", "reason", "assignee", "waiting")
    for item in items:
        table.add_row(escape(item.conversation_id), item.state, item.priority, escape(item.queue), item.market,
                      item.language or "", item.reason or "", escape(item.assignee or ""),
                      f"{item.waited_s(now) / 60:.0f} min")
    console.print(table)


@desk_app.command("show")
def desk_show(
    conversation_id: ConversationArgument,
    tenant: TenantOption,
    language: Annotated[str, typer.Option("--language", "-l", help="Translate customer messages into this.")] = "en",
    as_json: JsonOption = False,
) -> None:
    """A conversation as an agent reads it: turns (customer ones beside their translation), reason, summary."""
    from agent.profiles import ProfileStore
    from agent.translation import Translator
    from desk.views import conversation_view

    settings = load_settings()
    with errors(as_json), _desk(settings) as desk:
        view = conversation_view(desk, ProfileStore(desk.redis), Translator.from_settings(settings), tenant,
                                 conversation_id, languages=(language,))
    if as_json:
        print(view.model_dump_json())
        return
    item = view.item
    console.print(f"{escape(item.conversation_id)} · {item.state} · {item.priority} · queue {escape(item.queue)} · "
                  f"reason {item.reason or ''}" + (f" · {escape(item.assignee)}" if item.assignee else ""))
    console.print(escape(view.summary_translation.text if view.summary_translation else view.summary or ""))
    for turn in view.turns:
        console.print(f"[bold]{turn.role}[/bold] {_when(turn.at)} {turn.channel}: {escape(turn.text)}")
        if turn.translation is not None and turn.translation.quality == "translated":
            console.print(f"    → {escape(turn.translation.text)}")
    for note in view.notes:
        console.print(f"[dim]note by {escape(note.agent_id)} {_when(note.at)}: {escape(note.text)}[/dim]")


@desk_app.command("claim")
def desk_claim(conversation_id: ConversationArgument, tenant: TenantOption, agent: AgentOption,
               as_json: JsonOption = False) -> None:
    """Claim a waiting conversation for an agent (a conflict when another agent was first)."""
    with errors(as_json), _desk(load_settings()) as desk:
        item = desk.claim(tenant, conversation_id, agent, at=time.time())
    _print_item(item, as_json)


@desk_app.command("release")
def desk_release(
    conversation_id: ConversationArgument,
    tenant: TenantOption,
    agent: AgentOption,
    outcome: Annotated[str, typer.Option(help="resolved, returned_to_bot or spam.")] = "resolved",
    as_json: JsonOption = False,
) -> None:
    """Hand a conversation back to the bot with an outcome, and close it on the desk."""
    from polydesk.errors import InputError

    with errors(as_json):
        if outcome not in ("resolved", "returned_to_bot", "spam"):
            raise InputError(f"--outcome is resolved, returned_to_bot or spam, not {outcome!r}")
        with _desk(load_settings()) as desk:
            item = desk.release(tenant, conversation_id, agent, outcome, at=time.time())  # type: ignore[arg-type]
    _print_item(item, as_json)
