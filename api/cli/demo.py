"""``polydesk demo``: ingest the bundled demo brand and let the agent answer sample questions.

The demo brand folder (``demo/tidewell``) is also the demo's brand folder for personas and tools
(``POLYDESK_PERSONAS_DIR``, unless that is set): it holds no personas of its own, only ``tools/``, the
order-status tool. For the order questions the demo starts the brand's fake order service on a free loopback
port (``api.cli.demo_orders``), points ``TIDEWELL_ORDERS_URL`` at it and stops it at the end.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from api.cli.answering import print_reply
from api.cli.common import DEMO_TENANT, console, errors, load_settings, open_runtime
from api.cli.demo_orders import DEMO_DIR, running_order_service
from api.cli.knowledge import print_report, run_ingest

if TYPE_CHECKING:
    pass

# (market, channel, message): what the demo asks the agent after ingesting the demo brand (the last one hands off).
DEMO_QUESTIONS = [
    ("US", "web", "How long do I have to return an item?"),
    ("DE", "email", "Ab wann ist der Versand kostenlos?"),
    ("TH", "line", "ส่งฟรีเมื่อซื้อครบเท่าไหร่"),
    ("JP", "line", "返品はいつまでできますか"),
    ("ID", "whatsapp", "Bisa bayar pakai GoPay?"),
    ("SA", "whatsapp", "ما هي مدة الإرجاع؟"),
    # The order-status tool: the order number in the message, looked up in the demo order service.
    ("TH", "line", "คำสั่งซื้อ TW-ORD-2026-004512 ของฉันถึงไหนแล้วคะ"),
    ("ES", "web", "¿Dónde está mi pedido TW-ORD-2026-003187?"),
    ("US", "web", "Who won the football world cup in 1998?"),
    ("BR", "whatsapp", "Já pedi o reembolso duas vezes. Se não resolverem hoje, vou abrir reclamação no Procon!"),
]


def demo(
    path: Annotated[Path, typer.Option(help="The demo brand folder.")] = DEMO_DIR,
) -> None:
    """Ingest the bundled demo brand (Tidewell) and let the agent answer sample questions in several languages,
    two of them about an order (looked up in the demo's own order service on loopback)."""
    from agent.schema import AnswerRequest
    from ingestion.pipeline import Ingestor
    from ingestion.sources import SourceOptions

    settings = load_settings()
    if settings.personas_dir is None:  # the demo brand's tools (tools/order_status.yaml) live in its folder
        settings = settings.model_copy(update={"personas_dir": path})
    with errors(False), ExitStack() as stack:
        if (path / "orders.json").is_file():
            orders = stack.enter_context(running_order_service(path / "orders.json"))
            console.print(f"demo order service at {orders.url}")
        runtime = stack.enter_context(open_runtime(settings))
        ingestor = Ingestor(index=runtime.index, settings=settings)
        print_report(run_ingest(ingestor, [path / "knowledge"], SourceOptions(tenant=DEMO_TENANT), quiet=False))
        for market, channel, message in DEMO_QUESTIONS:
            console.rule(escape(f"{market} · {channel} · {message}"))
            reply = runtime.agent.answer(AnswerRequest.model_validate(
                {"tenant": DEMO_TENANT, "market": market, "channel": channel, "message": message}))
            print_reply(reply)

