"""``polydesk events``: the handoff and release events on the stream, and their webhook delivery."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.cli.common import JsonOption, console, errors, load_settings, open_redis
from polydesk.errors import InputError

if TYPE_CHECKING:
    from agent.webhooks import WebhookDispatcher

@contextmanager
def _dispatcher(unconfigured: str) -> Iterator[WebhookDispatcher]:
    """The configured webhook dispatcher on a Redis of its own, closed after use (``unconfigured``: the error
    when no webhook is configured)."""
    from agent.webhooks import WebhookDispatcher

    settings = load_settings()
    with open_redis(settings) as client:
        dispatcher = WebhookDispatcher.from_settings(settings, client)
        if dispatcher is None:
            raise InputError(unconfigured)
        try:
            yield dispatcher
        finally:
            dispatcher.close()


events_app = typer.Typer(help="Handoff and release events for human-agent desks, and their webhook delivery.",
                         no_args_is_help=True)


@events_app.command("list")
def events_list(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant's events.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_json: JsonOption = False,
) -> None:
    """The latest handoff and release events on the events stream."""
    from agent.events import EventLog

    settings = load_settings()
    with errors(as_json), open_redis(settings) as client:
        found = EventLog(client).read(tenant=tenant, count=100_000)[-limit:]
    if as_json:
        print(json.dumps([event.model_dump(mode="json") for _, event in found], ensure_ascii=False))
        return
    table = Table("time", "type", "tenant", "conversation", "queue", "reason", "reply by")
    for _, event in found:
        table.add_row(f"{event.created_at:%Y-%m-%d %H:%M:%S}", event.type, event.tenant, event.conversation_id,
                      event.queue or "", event.reason or "", f"{event.reply_by:%Y-%m-%d %H:%M %Z}" if event.reply_by
                      else "")
    console.print(table)


@events_app.command("deliver")
def events_deliver(
    once: Annotated[bool, typer.Option("--once", help="One delivery pass, then exit.")] = False,
    as_json: JsonOption = False,
) -> None:
    """POST events to `POLYDESK_WEBHOOK_URL` (signed, retried with backoff) until stopped with Ctrl-C."""
    with errors(as_json), _dispatcher("set POLYDESK_WEBHOOK_URL to deliver events to a webhook") as dispatcher:
        if once:
            stats = dispatcher.run_once()
            print(json.dumps(dataclasses.asdict(stats)) if as_json else
                  f"delivered {stats.delivered}, failed {stats.failed} (will retry), dead {stats.dead}, "
                  f"waiting {stats.pending}")
            return
        console.print(f"delivering events to {escape(dispatcher.url)} (Ctrl-C stops)")
        thread = dispatcher.start()
        try:
            while thread.is_alive():
                thread.join(1.0)
        except KeyboardInterrupt:
            pass  # closing the dispatcher lets the pass under way finish


@events_app.command("dead")
def events_dead(
    requeue: Annotated[bool, typer.Option("--requeue", help="Put every dead letter back in the retry schedule.")
                       ] = False,
    as_json: JsonOption = False,
) -> None:
    """Events the webhook never accepted (rejected, or retried until they expired), and their last error."""
    with errors(as_json), _dispatcher("set POLYDESK_WEBHOOK_URL: dead letters belong to a webhook") as dispatcher:
        if requeue:
            count = dispatcher.requeue_dead()
            print(json.dumps({"requeued": count}) if as_json else f"requeued {count} events")
            return
        dead = dispatcher.dead_letters()
    if as_json:
        print(json.dumps([{"event": d.event.model_dump(mode="json"), "attempts": d.attempts,
                           "last_error": d.last_error, "dead_at": d.dead_at.isoformat()} for d in dead],
                         ensure_ascii=False))
        return
    table = Table("dead at", "event", "type", "conversation", "attempts", "last error")
    for letter in dead:
        table.add_row(f"{letter.dead_at:%Y-%m-%d %H:%M:%S}", letter.event.id, letter.event.type,
                      letter.event.conversation_id, str(letter.attempts), escape(letter.last_error))
    console.print(table)
