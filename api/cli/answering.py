"""``polydesk ask`` and ``release``: answer as the agent would, and hand a conversation back to the bot."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from api.cli.common import DEMO_TENANT, JsonOption, console, err_console, errors, load_settings, open_runtime
from polydesk.errors import InputError, PolydeskError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from agent.pipeline import Agent
    from agent.schema import Reply

Model = TypeVar("Model", bound="BaseModel")


def ask(
    message: Annotated[str | None, typer.Argument(help="The customer's message, in any language.")] = None,
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant (brand).")] = DEMO_TENANT,
    market: Annotated[str, typer.Option("--market", "-m", help="The customer's market (DE, TH, JP, ...).")] = "US",
    channel: Annotated[str, typer.Option("--channel", "-c", help="web, email, whatsapp, messenger, line, telegram."
                                         )] = "web",
    conversation: Annotated[str | None, typer.Option("--conversation", help="Continue this conversation.")] = None,
    language: Annotated[str | None, typer.Option(help="Answer in this language (the customer's choice).")] = None,
    batch: Annotated[Path | None, typer.Option("--batch", help="JSONL file: one request per line; '-' for stdin.",
                                               )] = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a customer message as the agent would, with citations, persona, language and timings.

    With `--batch FILE.jsonl` each line is a request (`message`, `market`, `channel`, optional `conversation_id`,
    `tenant`, `language`, `customer_id`) and each reply object is printed as one JSON line, in order; a bad line
    prints `{"line": N, "error": {...}}` and the rest still runs. The models load once.
    """
    from agent.schema import AnswerRequest

    if (message is None) == (batch is None):
        err_console.print("[red]error[/red] \\[invalid_input]: give a message or --batch FILE, not both")
        raise typer.Exit(2)
    settings = load_settings()
    with errors(as_json or batch is not None), open_runtime(settings) as runtime:
        if batch is not None:
            failed = _ask_batch(runtime.agent, batch, tenant=tenant)
            if failed:
                raise typer.Exit(1)
            return
        request = _validated(AnswerRequest, {"tenant": tenant, "market": market, "channel": channel,
                                             "message": message, "conversation_id": conversation,
                                             "language": language})
        reply = runtime.agent.answer(request)
    if as_json:
        print(reply.model_dump_json())
    else:
        print_reply(reply)


def _validated(model: type[Model], data: dict[str, Any]) -> Model:
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in exc.errors())
        raise InputError(problems) from None


def _ask_batch(agent: Agent, path: Path, *, tenant: str) -> int:
    """Answer every line of a JSONL file; returns how many lines failed."""
    from agent.schema import AnswerRequest

    try:
        lines = sys.stdin.readlines() if str(path) == "-" else path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    failed = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise InputError("a line must be a JSON object")
            request = _validated(AnswerRequest, {"tenant": tenant, **data})
            print(agent.answer(request).model_dump_json(), flush=True)
        except json.JSONDecodeError as exc:
            failed += 1
            print(json.dumps({"line": number, "error": {"code": "invalid_input", "message": f"not JSON: {exc}"}}))
        except PolydeskError as exc:
            if not isinstance(exc, InputError) and exc.code != "not_found":
                raise
            failed += 1
            print(json.dumps({"line": number, "error": exc.to_dict()}, ensure_ascii=False), flush=True)
    return failed


def print_reply(reply: Reply) -> None:
    """The reply's text, then what decided it: persona, generator, escalation, guardrails, sources, timings."""
    console.print(escape(reply.text) or "[yellow](no reply: a person owns this conversation)[/yellow]")
    console.print()
    meta = Table(show_header=False, box=None)
    meta.add_row("conversation", reply.conversation_id)
    meta.add_row("persona / language", f"{reply.persona_id} / {reply.language}")
    meta.add_row("generator", reply.generator + (f" (fallback: {reply.fallback_reason})" if reply.fallback_reason
                                                 else ""))
    meta.add_row("confidence", f"{reply.confidence:.2f}")
    escalation = reply.escalation
    if escalation.escalate:
        promise = "open now" if escalation.open_now else "queued"
        reply_by = f", reply by {escalation.reply_by:%a %Y-%m-%d %H:%M %Z}" if escalation.reply_by else ""
        meta.add_row("escalation", escape(f"{escalation.reason} → {escalation.queue} ({escalation.priority}), intent "
                                          f"{escalation.intent}; {promise}{reply_by}"
                                          + (f", team {escalation.team}" if escalation.team else "")))
        for line in escalation.explanation:
            meta.add_row("", escape(line))
    elif escalation.intent:
        meta.add_row("intent", escalation.intent)
    for finding in reply.guardrails:
        meta.add_row("guardrail", escape(f"{finding.rule}: {finding.detail} ({finding.action})"))
    for citation in reply.citations:
        meta.add_row("source", escape(f"{citation.document_id} · {citation.title} ({citation.score:.3f})"))
    meta.add_row("timings (ms)", ", ".join(f"{k} {v:.1f}" for k, v in reply.timings_ms.items()))
    console.print(meta)
    print_tool_calls(reply)


def print_tool_calls(reply: Reply) -> None:
    """One line per brand tool the reply used: the tool, its arguments, status and latency."""
    for call in reply.tool_calls:
        arguments = ", ".join(f"{name}={value}" for name, value in call.arguments.items())
        code = f" [{call.code}]" if call.code and call.code != call.status else ""
        console.print(escape(f"tool call: {call.tool}({arguments}) → {call.status}{code}, {call.latency_ms:.1f} ms"))


def release(
    conversation: Annotated[str, typer.Argument(help="The conversation a person has finished with.")],
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant (brand).")] = DEMO_TENANT,
    actor: Annotated[str | None, typer.Option(help="Who releases it, e.g. the human agent's id.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Hand a conversation back to the bot after a human handoff (publishes a `release` event)."""
    with errors(as_json), open_runtime(load_settings()) as runtime:
        conversation_state = runtime.agent.release(tenant, conversation, actor=actor)
    print(json.dumps({"released": conversation_state.id, "owner": conversation_state.owner}) if as_json
          else f"released {conversation_state.id}: the bot answers it again")
