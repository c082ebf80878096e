"""The ``polydesk`` command line: the Typer app, and where each command and group of commands comes from.

Every command reads its configuration from ``POLYDESK_*`` environment
variables (or ``.env``): see ``polydesk.settings``. Errors print a stable
code and a reason and exit non-zero; with ``--json`` they print
``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import typer

from api.cli import analytics, answering, demo, demo_orders, knowledge, serve
from api.cli.channels import channels_app
from api.cli.desk import desk_app
from api.cli.evals import eval_app
from api.cli.events import events_app
from api.cli.inbox import inbox_app
from api.cli.profiles import profiles_app
from api.cli.sources import sources_app

app = typer.Typer(
    name="polydesk",
    help="polydesk: a multilingual customer-service agent grounded in a brand's own knowledge.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)

for command in (knowledge.ingest, knowledge.ingest_documents, knowledge.search, knowledge.documents, knowledge.delete,
                answering.ask, answering.release, serve.serve, demo.demo, demo_orders.demo_orders, analytics.analytics):
    app.command()(command)
app.add_typer(eval_app, name="eval")
app.add_typer(events_app, name="events")
app.add_typer(inbox_app, name="inbox")
app.add_typer(profiles_app, name="profiles")
app.add_typer(channels_app, name="channels")
app.add_typer(desk_app, name="desk")
app.add_typer(sources_app, name="sources")
