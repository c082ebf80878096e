"""``polydesk analytics``: the outcomes of ``GET /v1/analytics/summary`` from a terminal (Redis only).

``--json`` prints exactly the JSON the API serves; without it, one table per market and the top unanswered
questions.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.cli.common import DEMO_TENANT, JsonOption, TenantOption, console, errors, load_settings, open_redis

if TYPE_CHECKING:
    from agent.outcomes import Latency, Outcome

def analytics(
    tenant: TenantOption = DEMO_TENANT,
    start: Annotated[dt.datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], show_default=False,
                                                      help="First UTC day, inclusive (default: 29 days before "
                                                      "--to).")] = None,
    end: Annotated[dt.datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], show_default=False,
                                                    help="Last UTC day, inclusive (default: today).")] = None,
    market: Annotated[str | None, typer.Option("--market", "-m", help="Only this market, e.g. DE.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Outcomes per market: conversations, the share the bot resolved, handoffs, reply times, feedback and the top
    unanswered questions."""
    from agent.outcomes import summarize

    with errors(as_json), open_redis(load_settings()) as client:
        summary = summarize(client, tenant, start=start.date() if start else None, end=end.date() if end else None,
                            market=market)
    if as_json:
        print(summary.model_dump_json(by_alias=True))
        return
    console.print(f"[bold]{escape(tenant)}[/bold] {summary.from_} – {summary.to} ({summary.days} days)"
                  + (f", market {summary.market}" if summary.market else ""))
    if not summary.markets:
        console.print("no recorded outcomes in this range")
        return
    for code, found in summary.markets.items():
        table = Table("", "conversations", "messages", "resolved", "handoffs", "bot reply ms (median/p95)",
                      "first response s (median/p95)", "👍/👎", "unanswered", title=f"market {code}")
        for channel, row in found.by_channel.items():
            table.add_row(escape(channel), *_cells(row))
        table.add_row("[bold]all[/bold]", *_cells(found))
        console.print(table)
        if found.handoffs_by_reason:
            console.print("handoffs by reason: " + ", ".join(f"{k} {v}" for k, v in found.handoffs_by_reason.items())
                          + "; by queue: " + ", ".join(f"{k} {v}" for k, v in found.handoffs_by_queue.items()))
        for question in found.unanswered:
            console.print(f"  {question.count:>5}  [{question.language}] {escape(question.text)}")
    if len(summary.markets) > 1:
        table = Table("", "conversations", "messages", "resolved", "handoffs", "bot reply ms (median/p95)",
                      "first response s (median/p95)", "👍/👎", "unanswered", title="all markets")
        table.add_row("all", *_cells(summary.totals))
        console.print(table)


def _cells(row: Outcome) -> list[str]:
    share = "" if row.resolved_share is None else f"{row.resolved_share:.1%}"
    return [str(row.conversations), str(row.messages), share, str(row.handoffs), _latency(row.bot_reply_ms),
            _latency(row.human_first_response_s), f"{row.feedback.up}/{row.feedback.down}",
            str(row.unanswered_messages)]


def _latency(latency: Latency) -> str:
    return "" if latency.median is None else f"{latency.median:g} / {latency.p95:g}"
