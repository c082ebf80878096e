"""``polydesk inbox``: the messages kept while Redis or the store was down, and handing them to people."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

from api.cli.common import JsonOption, console, errors, load_settings, open_redis

inbox_app = typer.Typer(help="Messages kept while Redis or the store was down (POLYDESK_DEGRADED_REPLY).",
                        no_args_is_help=True)


@inbox_app.command("list")
def inbox_list(as_json: JsonOption = False) -> None:
    """Show the kept messages."""
    from agent.inbox import Inbox

    entries = Inbox(load_settings().inbox_path).pending()
    if as_json:
        print(json.dumps(entries, ensure_ascii=False))
        return
    for entry in entries:
        request: Any = entry["request"]
        console.print(f"{request['tenant']} · {request['market']} · {request['channel']} · "
                      f"{escape(str(request['message']))}")
    console.print(f"{len(entries)} kept")


@inbox_app.command("replay")
def inbox_replay(as_json: JsonOption = False) -> None:
    """Publish each kept message as a handoff event (a person answers it), then empty the inbox."""
    from agent.inbox import Inbox
    from api.runtime import event_log

    settings = load_settings()
    with errors(as_json), open_redis(settings) as client:
        count = Inbox(settings.inbox_path).replay(event_log(client, settings))
    print(json.dumps({"replayed": count}) if as_json else f"{count} messages handed to people as handoff events")
