"""The demo brand's fake order service, its order-status tool, and `polydesk demo`'s order questions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent.escalation import EscalationPolicy
from agent.tools.client import ToolClient
from agent.tools.spec import ToolCatalog
from agent.tools.stage import ToolRequest, ToolStage
from api.cli import demo as demo_command
from api.cli.demo_orders import DEMO_DIR, URL_ENV, OrderService, load_orders, running_order_service
from api.cli.main import app
from api.runtime import Runtime
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings

ORDER_QUESTIONS = [(market, message) for market, _, message in demo_command.DEMO_QUESTIONS if "TW-ORD-" in message]


@pytest.mark.unit
def test_the_order_service_answers_on_loopback_and_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, "http://before.example")
    with running_order_service() as service, httpx.Client() as client:
        assert os.environ[URL_ENV] == service.url and service.url.startswith("http://127.0.0.1:")
        order = client.get(f"{service.url}/orders/TW-ORD-2026-004512")
        assert order.status_code == 200 and order.headers["content-type"].startswith("application/json")
        assert order.json()["shipment"]["carrier"] == "Kerry Express"
        assert order.json()["total"] == {"amount": 1890, "currency": "THB"}
        assert client.get(f"{service.url}/orders/TW-ORD-2026-003187").json()["market"] == "ES"  # same connection
        unknown = client.get(f"{service.url}/orders/TW-ORD-2026-999999")
        assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
        assert client.get(f"{service.url}/customers").status_code == 404
        assert client.get(f"{service.url}/health").json() == {"status": "ok", "orders": len(load_orders())}
        assert len(service.handling_ms) == 5 and all(0 < ms < 1000 for ms in service.handling_ms)
        url = service.url
    assert os.environ[URL_ENV] == "http://before.example"   # the previous value is back
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=2)


@pytest.mark.unit
def test_the_demo_tool_answers_the_demos_order_questions_in_thai_and_spanish() -> None:
    assert {market for market, _ in ORDER_QUESTIONS} == {"TH", "ES"}
    stage = ToolStage(catalog=ToolCatalog.load(DEMO_DIR),
                      client=ToolClient(settings=Settings(_env_file=None), environ=os.environ))  # type: ignore[call-arg]
    expected = {"TH": ("th", "24 พฤศจิกายน ค.ศ. 2026", "Kerry Express"),
                "ES": ("es", "20 de noviembre de 2026", "Correos")}
    with running_order_service():
        for market, message in ORDER_QUESTIONS:
            language, date, carrier = expected[market]
            outcome = stage.run(ToolRequest(tenant="tidewell", market=market, language=language, message=message))
            assert outcome is not None and outcome.call.status == "ok", message
            assert outcome.call.tool == "order-status" and outcome.call.latency_ms > 0
            assert date in outcome.body and carrier in outcome.body
    stage.client.close()


@pytest.mark.unit
def test_the_demo_order_service_takes_a_fixed_port() -> None:
    with OrderService(load_orders()) as first:
        port = int(first.url.rsplit(":", 1)[1])
    with OrderService(load_orders(), port=port) as second:   # free again once stopped
        assert second.url.endswith(f":{port}")
        assert httpx.get(f"{second.url}/health").status_code == 200


@pytest.mark.integration
@pytest.mark.slow
def test_polydesk_demo_asks_about_orders_and_prints_the_tool_calls(
        demo: tuple[IngestReport, KnowledgeIndex], escalation_policy: EscalationPolicy, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, index = demo
    seen: list[Settings] = []

    @contextmanager
    def on_the_session_index(settings: Settings) -> Iterator[Runtime]:
        seen.append(settings)
        local = settings.model_copy(update={"data_dir": tmp_path / "data"})
        with Runtime.open(local, index=index, escalation=escalation_policy) as runtime:
            yield runtime

    monkeypatch.delenv("POLYDESK_PERSONAS_DIR", raising=False)
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.setenv("COLUMNS", "240")
    monkeypatch.setattr(demo_command, "open_runtime", on_the_session_index)
    monkeypatch.setattr(demo_command, "run_ingest", lambda *args, **kwargs: None)   # the session index has it
    monkeypatch.setattr(demo_command, "print_report", lambda report: None)
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert seen[0].personas_dir == DEMO_DIR                        # the demo brand's folder holds its tools
    out = result.output
    assert "demo order service at http://127.0.0.1:" in out
    assert "tool call: order-status(order_number=TW-ORD-2026-004512) → ok" in out
    assert "tool call: order-status(order_number=TW-ORD-2026-003187) → ok" in out
    flat = " ".join(out.split())  # the console wraps at its width, which the environment may fix before COLUMNS
    assert "24 พฤศจิกายน ค.ศ. 2026" in flat and "20 de noviembre de 2026" in flat
    assert out.count("tool call:") == 2                            # the other questions use no tool
    assert URL_ENV not in os.environ                               # the service is gone with the demo
