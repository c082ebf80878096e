"""``polydesk demo``: ingest the bundled demo brand and let the agent answer sample questions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from api.cli.answering import print_reply
from api.cli.common import DEMO_TENANT, console, errors, load_settings, open_runtime
from api.cli.knowledge import print_report, run_ingest

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo" / "tidewell"
# (market, channel, message): what the demo asks the agent after ingesting the demo brand (the last one hands off).
DEMO_QUESTIONS = [
    ("US", "web", "How long do I have to return an item?"),
    ("DE", "email", "Ab wann ist der Versand kostenlos?"),
    ("TH", "line", "ส่งฟรีเมื่อซื้อครบเท่าไหร่"),
    ("JP", "line", "返品はいつまでできますか"),
    ("ID", "whatsapp", "Bisa bayar pakai GoPay?"),
    ("SA", "whatsapp", "ما هي مدة الإرجاع؟"),
    ("US", "web", "Who won the football world cup in 1998?"),
    ("BR", "whatsapp", "Já pedi o reembolso duas vezes. Se não resolverem hoje, vou abrir reclamação no Procon!"),
]


def demo(
    path: Annotated[Path, typer.Option(help="The demo brand folder.")] = DEMO_DIR,
) -> None:
    """Ingest the bundled demo brand (Tidewell) and let the agent answer sample questions in several languages."""
    from agent.schema import AnswerRequest
    from ingestion.pipeline import Ingestor
    from ingestion.sources import SourceOptions

    settings = load_settings()
    with errors(False), open_runtime(settings) as runtime:
        ingestor = Ingestor(index=runtime.index, settings=settings)
        print_report(run_ingest(ingestor, [path / "knowledge"], SourceOptions(tenant=DEMO_TENANT), quiet=False))
        for market, channel, message in DEMO_QUESTIONS:
            console.rule(escape(f"{market} · {channel} · {message}"))
            print_reply(runtime.agent.answer(AnswerRequest.model_validate(
                {"tenant": DEMO_TENANT, "market": market, "channel": channel, "message": message})))
