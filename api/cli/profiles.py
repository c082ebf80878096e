"""``polydesk profiles``: one customer across channels: link a customer's channel identities, show, look up.

The same store as ``/v1/profiles`` (``agent.profiles``); erasure stays with the API
(``DELETE /v1/profiles/{id}``), which also erases the transcripts in the index.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from api.cli.common import JsonOption, TenantOption, console, errors, load_settings, open_redis
from polydesk.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from agent.profiles import Identity, Profile

profiles_app = typer.Typer(help="Customer profiles: one customer's identities across channels, and their history.",
                           no_args_is_help=True)

ChannelArgument = Annotated[str, typer.Argument(help="web, email, whatsapp, messenger, line or telegram.")]
CustomerArgument = Annotated[str, typer.Argument(help="The customer's id on the channel (e-mail address, number...)")]


def _identity(channel: str, customer_id: str) -> Identity:
    from agent.profiles import Identity

    try:
        return Identity(channel=channel, customer_id=customer_id)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(str(error["msg"]) for error in exc.errors())
        raise InputError(f"{channel} {customer_id!r}: {problems}") from exc


def _print(profile: Profile, as_json: bool) -> None:
    if as_json:
        print(profile.model_dump_json())
        return
    console.print(f"profile {escape(profile.profile_id)} ({profile.tenant}), created "
                  f"{dt.datetime.fromtimestamp(profile.created_at, dt.UTC):%Y-%m-%d %H:%M %Z}")
    table = Table("channel", "customer id", "linked")
    for identity in profile.identities:
        table.add_row(identity.channel.value, escape(identity.customer_id),
                      f"{dt.datetime.fromtimestamp(identity.linked_at, dt.UTC):%Y-%m-%d %H:%M %Z}")
    console.print(table)


@profiles_app.command("link")
def profiles_link(
    profile_id: Annotated[str, typer.Argument(help="The profile id, e.g. the brand's CRM id.")],
    channel: ChannelArgument,
    customer_id: CustomerArgument,
    tenant: TenantOption,
    merge: Annotated[bool, typer.Option("--merge", help="When another profile holds the identity, merge that "
                                        "profile into this one.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Link a channel identity to a profile (created when it does not exist yet)."""
    from agent.profiles import ProfileStore

    with errors(as_json), open_redis(load_settings()) as client:
        identity, store = _identity(channel, customer_id), ProfileStore(client)
        try:
            profile = store.link(tenant, profile_id, identity, merge=merge)
        except NotFoundError:
            profile = store.create(tenant, profile_id, [identity])
    _print(profile, as_json)


@profiles_app.command("show")
def profiles_show(
    profile_id: Annotated[str, typer.Argument(help="The profile id.")],
    tenant: TenantOption,
    history: Annotated[bool, typer.Option("--history", help="Also the conversations of every identity.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=50, help="With --history: the latest conversations.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """A profile's identities and, with --history, its conversations across channels, oldest first."""
    from agent.profiles import ProfileStore, profile_history
    from agent.state import ConversationStore

    settings = load_settings()
    with errors(as_json), open_redis(settings) as client:
        profile = ProfileStore(client).get(tenant, profile_id)
        conversations = profile_history(ConversationStore.from_settings(client, settings), profile,
                                        limit=limit)[0] if history else []
    if as_json:
        data = profile.model_dump(mode="json")
        if history:
            data["conversations"] = [c.model_dump(mode="json", exclude={"query_vector", "unanswered"})
                                     for c in conversations]
        print(json.dumps(data, ensure_ascii=False))
        return
    _print(profile, as_json=False)
    for conversation in conversations:
        console.print(f"\n[bold]{conversation.channel}[/bold] · {conversation.market} · {escape(conversation.id)}")
        for turn in conversation.turns:
            console.print(f"  {dt.datetime.fromtimestamp(turn.at, dt.UTC):%Y-%m-%d %H:%M} {turn.role}: "
                          f"{escape(turn.text)}")


@profiles_app.command("lookup")
def profiles_lookup(channel: ChannelArgument, customer_id: CustomerArgument, tenant: TenantOption,
                    as_json: JsonOption = False) -> None:
    """The profile a channel identity is linked to."""
    from agent.profiles import ProfileStore

    with errors(as_json), open_redis(load_settings()) as client:
        identity = _identity(channel, customer_id)
        profile = ProfileStore(client).resolve(tenant, identity)
        if profile is None:
            raise NotFoundError(f"no profile links the {identity.channel.value} identity {identity.customer_id!r}")
    _print(profile, as_json)
