"""``polydesk channels``: what the chat channels could not do (replies not sent, messages not answered)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.cli.common import JsonOption, console, errors, load_settings, open_redis

if TYPE_CHECKING:
    from api.channels.dead_letters import DeadLetter, DeadLetters

channels_app = typer.Typer(help="The chat channels' dead letters: replies not sent, messages not answered.",
                           no_args_is_help=True)
TenantOption = Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant's.")]
LetterId = Annotated[str, typer.Argument(help="The dead letter's id (from `polydesk channels dead-letters`).")]


def _with_letters(as_json: bool, act: Callable[[DeadLetters], DeadLetter]) -> DeadLetter:
    from api.channels.dead_letters import DeadLetters

    settings = load_settings()
    with errors(as_json), open_redis(settings) as client:
        return act(DeadLetters(client))


@channels_app.command("dead-letters")
def dead_letters(tenant: TenantOption = None, limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
                 as_json: JsonOption = False) -> None:
    """List the replies that could not be sent and the messages that could not be answered, oldest first."""
    from api.channels.dead_letters import DeadLetters

    settings = load_settings()
    with errors(as_json), open_redis(settings) as client:
        letters = DeadLetters(client).list(tenant, limit=limit)
    if as_json:
        print(json.dumps([letter.public() for letter in letters], ensure_ascii=False))
        return
    table = Table("id", "kind", "tenant", "channel", "conversation", "attempts", "since", "error", "text")
    for letter in letters:
        table.add_row(letter.id, letter.kind + (" (refused)" if letter.refused else ""), letter.tenant,
                      letter.channel, letter.conversation_id or "", str(letter.attempts),
                      f"{datetime.fromtimestamp(letter.dead_at, UTC):%Y-%m-%d %H:%M}", escape(letter.last_error[:80]),
                      escape(" / ".join(letter.texts)[:80]))
    console.print(table)


@channels_app.command("requeue")
def requeue(letter_id: LetterId, tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """Send a dead reply again (from the message that failed), or answer dead messages again."""
    letter = _with_letters(as_json, lambda letters: letters.requeue(tenant, letter_id, now=time.time()))
    print(json.dumps({"requeued": letter.id, "kind": letter.kind}) if as_json else f"requeued {letter.kind} "
          f"{letter.id}")


@channels_app.command("discard")
def discard(letter_id: LetterId, tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """Drop a dead letter a person has settled."""
    letter = _with_letters(as_json, lambda letters: letters.discard(tenant, letter_id))
    print(json.dumps({"discarded": letter.id, "kind": letter.kind}) if as_json else f"discarded {letter.kind} "
          f"{letter.id}")
