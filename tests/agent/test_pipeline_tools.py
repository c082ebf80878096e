"""Brand tools in the answer pipeline (the real Agent on the demo index, a loopback order API): the reply names
the call, answers in the customer's language, asks for what is missing, refuses what is not the customer's or
not safe, and hands off honestly when the tool fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.pipeline import Agent
from agent.schema import AnswerRequest, Reply, ToolCall
from agent.tools import phrases
from agent.tools.client import CircuitBreaker, ToolClient
from agent.tools.spec import ToolSpec
from agent.tools.stage import ToolStage
from api.runtime import Runtime
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings
from tests.agent.tools.order_api import INJECTION, OrderApi, catalog_of, order_tool, serve_orders

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NUMBER = "TW-ORD-2026-004512"
MX_NUMBER = "TW-ORD-2026-007731"


@pytest.fixture(scope="module")
def runtime(demo: tuple[IngestReport, KnowledgeIndex], open_runtime: Callable[[KnowledgeIndex, Settings], Runtime],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    _, index = demo
    opened = open_runtime(index, Settings(data_dir=tmp_path_factory.mktemp("tools"), _env_file=None))  # type: ignore[call-arg]
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def served() -> Iterator[OrderApi]:
    with serve_orders() as api:
        yield api


@pytest.fixture
def api(served: OrderApi) -> OrderApi:
    served.paths.clear()
    served.delay_s, served.status, served.body = 0.0, None, None
    return served


def agent_with(runtime: Runtime, spec: ToolSpec) -> Agent:
    client = ToolClient(settings=runtime.settings, environ={}, breaker=CircuitBreaker(threshold=50))
    return Agent(index=runtime.index, catalog=runtime.catalog, conversations=runtime.conversations,
                 escalation=runtime.agent.escalation_policy, settings=runtime.settings, tools=ToolStage(
                     catalog=catalog_of(spec), client=client))


@pytest.fixture(scope="module")
def agent(runtime: Runtime, served: OrderApi) -> Agent:
    return agent_with(runtime, order_tool(served.url, timeout_s=0.5))


def ask(agent: Agent, message: str, market: str, *, channel: str = "web", customer_id: str | None = "cus-th-4512",
        conversation_id: str | None = None) -> Reply:
    return agent.answer(AnswerRequest(tenant="tidewell", channel=channel, market=market, message=message,
                                      customer_id=customer_id, conversation_id=conversation_id))


def test_a_thai_customer_gets_the_order_status_in_thai_and_the_reply_names_the_call(agent: Agent,
                                                                                   api: OrderApi) -> None:
    reply = ask(agent, f"คำสั่งซื้อ{NUMBER} ถึงไหนแล้วคะ", "TH", channel="line")
    assert api.paths == [f"/orders/{NUMBER}"]
    assert reply.language == "th" and reply.generator == "tool:order-status"
    assert "28 พฤศจิกายน" in reply.text and "Kerry Express" in reply.text
    [call] = reply.tool_calls
    assert (call.tool, call.arguments, call.status, call.code) == ("order-status", {"order_number": NUMBER}, "ok", None)
    assert call.latency_ms > 0 and "tools" in reply.timings_ms
    assert reply.model_dump(mode="json")["tool_calls"][0]["arguments"] == {"order_number": NUMBER}
    assert not reply.escalation.escalate


def test_a_mexican_customer_gets_it_in_spanish_with_a_spanish_date(agent: Agent, api: OrderApi) -> None:
    reply = ask(agent, f"Hola, ¿dónde está mi pedido {MX_NUMBER}?", "MX", channel="whatsapp",
                customer_id="cus-mx-7731")
    assert reply.language == "es" and "3 de noviembre de 2026" in reply.text and "Estafeta" in reply.text
    assert reply.tool_calls[0].status == "ok" and len(api.paths) == 1


def test_the_number_said_two_messages_earlier_is_used(agent: Agent, api: OrderApi) -> None:
    first = ask(agent, f"Hallo! Meine Bestellnummer ist {NUMBER}.", "DE", conversation_id="tools-de-earlier")
    ask(agent, "Danke!", "DE", conversation_id="tools-de-earlier")
    third = ask(agent, "Wo ist meine Bestellung?", "DE", conversation_id="tools-de-earlier")
    assert first.tool_calls[0].status == "ok"
    assert third.tool_calls == [ToolCall(tool="order-status", arguments={"order_number": NUMBER}, status="ok",
                                         latency_ms=third.tool_calls[0].latency_ms)]
    assert third.language == "de" and "28. November 2026" in third.text
    assert api.paths == [f"/orders/{NUMBER}"] * 2


@pytest.mark.parametrize(("message", "market", "language"), [
    ("Where is my order? It has been a week.", "US", "en"),
    ("Pesanan saya sudah dikirim belum?", "ID", "id"),
    ("Ist meine Bestellung schon verschickt worden?", "DE", "de"),
    ("ออเดอร์ของฉันอยู่ไหนคะ", "TH", "th"),
])
def test_a_missing_number_gets_a_question_back_in_the_customers_language(agent: Agent, api: OrderApi, message: str,
                                                                           market: str, language: str) -> None:
    reply = ask(agent, message, market)
    spec = order_tool(api.url)
    assert reply.language == language
    assert phrases.ask_for("order_number", spec.parameters["order_number"], language) in reply.text
    assert reply.tool_calls[0].status == "missing_parameter" and api.paths == []


def test_a_timeout_gets_the_honest_reply_and_a_tool_failed_handoff(agent: Agent, api: OrderApi,
                                                                   runtime: Runtime) -> None:
    api.delay_s = 1.2
    reply = ask(agent, f"ออเดอร์ {NUMBER} ค่ะ", "TH", channel="line", conversation_id="tools-th-timeout")
    assert (reply.tool_calls[0].status, reply.tool_calls[0].code) == ("failed", "outbound_timeout")
    assert phrases.say("tool_failed", "th") in reply.text and "Kerry" not in reply.text
    assert reply.escalation.escalate and reply.escalation.reason == "tool_failed"
    assert reply.escalation.queue == "support" and reply.generator == "handoff"
    events = [e for _, e in runtime.events.read(tenant="tidewell") if e.conversation_id == "tools-th-timeout"]
    assert [(e.type, e.reason, e.queue) for e in events] == [("handoff", "tool_failed", "support")]
    api.delay_s = 0.0
    after = ask(agent, "ยังอยู่ไหมคะ", "TH", channel="line", conversation_id="tools-th-timeout")
    assert after.status == "handed_off" and after.text == ""


def test_a_response_with_an_injection_is_shown_as_data(agent: Agent, api: OrderApi) -> None:
    reply = ask(agent, "Where is TW-ORD-2026-000666?", "US", customer_id="cus-inj-666")
    assert reply.tool_calls[0].status == "ok"
    assert f"with {INJECTION}." in reply.text and not reply.escalation.escalate


def test_another_customers_order_is_refused_and_none_of_its_data_shown(agent: Agent, api: OrderApi) -> None:
    reply = ask(agent, f"Pedido {NUMBER}, ¿dónde está?", "ES", customer_id="cus-mx-7731")
    assert reply.tool_calls[0].status == "not_yours" and phrases.say("not_yours", "es") in reply.text
    for private in ("Kerry", "KEX4512", "noviembre"):
        assert private not in reply.text
    assert not reply.escalation.escalate


def test_a_loopback_tool_without_the_operators_allowance_never_reaches_the_server(runtime: Runtime,
                                                                                  api: OrderApi) -> None:
    unsafe = agent_with(runtime, order_tool(api.url, allow_private=False))
    reply = ask(unsafe, f"Cadê meu pedido {NUMBER}?", "BR", channel="whatsapp")
    assert (reply.tool_calls[0].status, reply.tool_calls[0].code) == ("refused_unsafe", "unsafe_url")
    assert api.paths == [] and reply.escalation.reason == "tool_failed"
    assert phrases.say("tool_failed", "pt") in reply.text


def test_a_question_no_tool_serves_is_answered_from_knowledge(agent: Agent, api: OrderApi) -> None:
    reply = ask(agent, "Wie lange habe ich Zeit für eine Rücksendung?", "DE")
    assert reply.tool_calls == [] and "30 Tage" in reply.text and api.paths == []


def test_a_vague_follow_up_stays_with_the_knowledge(agent: Agent, api: OrderApi) -> None:
    first = ask(agent, "How much does shipping cost?", "US")
    follow = ask(agent, "and which carriers?", "US", conversation_id=first.conversation_id)
    assert (first.tool_calls, follow.tool_calls) == ([], []) and "UPS" in follow.text and api.paths == []


def test_the_runtime_loads_the_brands_tools(demo: tuple[IngestReport, KnowledgeIndex],
                                            open_runtime: Callable[[KnowledgeIndex, Settings], Runtime],
                                            tmp_path: Path) -> None:
    brand = tmp_path / "brand"
    (brand / "tools").mkdir(parents=True)
    (brand / "tools" / "orders.yaml").write_text(
        "name: order-status\ndescription: where an order is\ntenants: [tidewell]\nintents: [order_status]\n"
        "url: https://orders.example/orders/{order_number}\n"
        "parameters:\n  order_number:\n    pattern: 'TW-ORD-\\d{4}-\\d{6}'\n    description: the order number\n"
        "response:\n  fields:\n    carrier: shipment.carrier\nreplies:\n  en: '{order_number}: {carrier}'\n",
        encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", personas_dir=brand, _env_file=None)  # type: ignore[call-arg]
    opened = open_runtime(demo[1], settings)
    try:
        assert len(opened.tools) == 1 and opened.agent.tools is not None
    finally:
        opened.close()
    bare = open_runtime(demo[1], Settings(data_dir=tmp_path / "bare", _env_file=None))  # type: ignore[call-arg]
    try:
        assert bare.agent.tools is None
    finally:
        bare.close()


@pytest.mark.parametrize(("message", "market"), [
    ("How long does delivery take to Germany?", "DE"),
    ("Wie lange dauert der Versand nach Deutschland?", "DE"),
    ("配送にはどのくらいかかりますか？", "JP"),
])
def test_a_general_delivery_question_is_answered_from_the_knowledge(agent: Agent, api: OrderApi, message: str,
                                                                    market: str) -> None:
    """The classifier reads these as order_status too; without "my order" (the tool's ``asks``) and with knowledge
    that answers them, nobody is asked for an order number."""
    reply = ask(agent, message, market)
    assert reply.tool_calls == [] and reply.citations and api.paths == []
