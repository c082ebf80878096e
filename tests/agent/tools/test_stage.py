"""ToolStage on a loopback order API: which tool applies, arguments from the message or the conversation,
the reply in the customer's language, results as data, refusals and failures worded honestly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.tools import phrases, render
from agent.tools.client import CircuitBreaker, ToolClient
from agent.tools.stage import ToolRequest, ToolStage
from personas.routing import Channel
from polydesk.settings import Settings
from tests.agent.tools.order_api import INJECTION, REPLIES, OrderApi, catalog_of, order_tool, serve_orders

pytestmark = pytest.mark.unit

NUMBER = "TW-ORD-2026-004512"
MX_NUMBER = "TW-ORD-2026-007731"


@pytest.fixture
def api() -> Iterator[OrderApi]:
    with serve_orders() as served:
        yield served


@pytest.fixture
def client(tmp_path: Path) -> Iterator[ToolClient]:
    made = ToolClient(settings=Settings(data_dir=tmp_path, _env_file=None),  # type: ignore[call-arg]
                      environ={}, breaker=CircuitBreaker(threshold=2))
    yield made
    made.close()


def stage_for(api: OrderApi, client: ToolClient, **overrides: Any) -> ToolStage:
    return ToolStage(catalog=catalog_of(order_tool(api.url, **overrides)), client=client)


def ask(stage: ToolStage, message: str, language: str, market: str, *, history: tuple[str, ...] = (),
        intent: str | None = None, customer_id: str | None = "cus-th-4512", channel: str = "line") -> Any:
    return stage.run(ToolRequest(tenant="tidewell", market=market, language=language, message=message,
                                 history=history, intent=intent, channel=channel, customer_id=customer_id))


def test_an_order_number_in_a_thai_message_is_looked_up_once_and_answered_in_thai(api: OrderApi,
                                                                                  client: ToolClient) -> None:
    outcome = ask(stage_for(api, client), f"คำสั่งซื้อ{NUMBER}ถึงไหนแล้วคะ", "th", "TH")
    assert api.paths == [f"/orders/{NUMBER}"]
    assert outcome.call.tool == "order-status" and outcome.call.status == "ok"
    assert outcome.call.arguments == {"order_number": NUMBER} and outcome.call.latency_ms > 0
    assert "28 พฤศจิกายน" in outcome.body and "2026" in outcome.body and "Kerry Express" in outcome.body
    assert outcome.body.startswith("คำสั่งซื้อ TW-ORD-2026-004512") and not outcome.handoff


def test_a_spanish_customer_gets_a_spanish_date(api: OrderApi, client: ToolClient) -> None:
    outcome = ask(stage_for(api, client), f"Hola, ¿dónde está mi pedido {MX_NUMBER}?", "es", "MX",
                  customer_id="cus-mx-7731", channel="whatsapp")
    assert outcome.call.status == "ok"
    assert "el 3 de noviembre de 2026 con Estafeta" in outcome.body


@pytest.mark.parametrize(("language", "market", "date"), [
    ("ja", "JP", "2026年11月28日"), ("zh", "CN", "2026年11月28日"), ("de", "DE", "28. November 2026"),
    ("vi", "VN", "28 tháng 11"), ("id", "ID", "28 November 2026"), ("pt", "BR", "28 de novembro de 2026"),
    ("ar", "AE", "نوفمبر"), ("en", "US", "November 28, 2026"),
])
def test_the_reply_template_and_date_follow_the_reply_language(api: OrderApi, client: ToolClient, language: str,
                                                               market: str, date: str) -> None:
    outcome = ask(stage_for(api, client), f"{NUMBER}?", language, market)
    assert outcome.call.status == "ok" and date in outcome.body
    assert outcome.body == render.reply(order_tool(api.url), language, market, {
        "order_number": NUMBER, "shipped_at": "2026-11-28", "carrier": "Kerry Express",
        "tracking_url": "https://track.example/KEX4512"})


def test_full_width_and_glued_numbers_are_found(api: OrderApi, client: ToolClient) -> None:
    outcome = ask(stage_for(api, client), "订单号ＴＷ－ＯＲＤ－２０２６－００４５１２怎么还没到", "zh", "CN")
    assert outcome.call.arguments == {"order_number": NUMBER} and outcome.call.status == "ok"


def test_the_number_given_two_messages_earlier_counts(api: OrderApi, client: ToolClient) -> None:
    history = ("Hola", f"Mi pedido es el {MX_NUMBER}", "Gracias por la paciencia")
    outcome = ask(stage_for(api, client), "¿Y cuándo llega?", "es", "MX", history=history, intent="order_status",
                  customer_id="cus-mx-7731")
    assert api.paths == [f"/orders/{MX_NUMBER}"] and outcome.call.status == "ok"


def test_the_newest_earlier_number_wins(api: OrderApi, client: ToolClient) -> None:
    history = (f"order {MX_NUMBER}", f"sorry, I meant {NUMBER}")
    outcome = ask(stage_for(api, client), "where is it?", "en", "US", history=history, intent="order_status")
    assert outcome.call.arguments == {"order_number": NUMBER}


@pytest.mark.parametrize(("language", "message"), [
    ("ja", "注文した商品はいつ届きますか？"), ("de", "Wo ist meine Bestellung?"), ("ar", "أين طلبي؟"),
    ("id", "Pesanan saya sudah dikirim belum?"), ("vi", "Đơn hàng của tôi đâu rồi?"), ("pt", "Cadê meu pedido?"),
    ("th", "ของยังไม่ถึงเลยค่ะ"),
])
def test_a_missing_number_gets_a_question_in_the_customers_language(api: OrderApi, client: ToolClient,
                                                                     language: str, message: str) -> None:
    spec = order_tool(api.url)
    outcome = ask(stage_for(api, client), message, language, "TH", intent="order_status")
    assert outcome.body == phrases.ask_for("order_number", spec.parameters["order_number"], language)
    assert (outcome.call.status, outcome.call.code) == ("missing_parameter", "missing_parameter")
    assert api.paths == [] and not outcome.handoff


def test_no_tool_applies_without_its_intent_or_its_parameter(api: OrderApi, client: ToolClient) -> None:
    stage = stage_for(api, client)
    assert ask(stage, "Wie lange habe ich Zeit für eine Rücksendung?", "de", "DE", intent="policy_question") is None
    assert ask(stage, "TW-ORD-2026-4512 (a wrong number)", "en", "US") is None
    assert api.paths == []


def test_a_weak_intent_alone_calls_no_tool(api: OrderApi, client: ToolClient) -> None:
    stage = stage_for(api, client)
    weak = stage.run(ToolRequest(tenant="tidewell", market="US", language="en", message="and which carriers?",
                                 history=(f"my order is {NUMBER}",), intent="order_status", intent_probability=0.24))
    assert weak is None and api.paths == []


def test_another_tenants_tool_is_never_used(api: OrderApi, client: ToolClient) -> None:
    stage = stage_for(api, client, tenants=["another-brand"])
    assert ask(stage, f"{NUMBER}", "en", "US", intent="order_status") is None and api.paths == []


def test_a_response_with_an_injection_is_shown_as_data(api: OrderApi, client: ToolClient) -> None:
    outcome = ask(stage_for(api, client), "TW-ORD-2026-000666 where?", "en", "US", customer_id="cus-inj-666")
    assert outcome.call.status == "ok"
    assert outcome.body == ("Your order TW-ORD-2026-000666 left our warehouse on October 1, 2026 with "
                            f"{INJECTION}. Track it: https://track.example/X")  # inserted once, never read again


def test_another_customers_order_is_refused_without_its_data(api: OrderApi, client: ToolClient) -> None:
    for customer_id in ("cus-mx-7731", None):
        outcome = ask(stage_for(api, client), f"where is {NUMBER}?", "en", "US", customer_id=customer_id)
        assert outcome.call.status == "not_yours" and outcome.body == phrases.say("not_yours", "en")
        assert not any(private in outcome.body for private in ("Kerry", "KEX4512", "2026-11-28", "November"))
        assert not outcome.handoff


def test_the_email_channels_sender_is_a_verified_address(api: OrderApi, client: ToolClient) -> None:
    stage = stage_for(api, client, response={
        "fields": {"shipped_at": "shipment.shipped_at", "carrier": "shipment.carrier",
                   "tracking_url": "shipment.tracking_url"},
        "owner": {"field": "customer.email", "against": "customer_email"}})
    by_mail = ask(stage, f"Pedido {MX_NUMBER}", "es", "MX", customer_id="cliente.mx@example.com",
                  channel=Channel.EMAIL.value)
    on_web = ask(stage, f"Pedido {MX_NUMBER}", "es", "MX", customer_id="cliente.mx@example.com", channel="web")
    assert (by_mail.call.status, on_web.call.status) == ("ok", "not_yours")


def test_an_unknown_order_gets_the_not_found_sentence_or_the_tools_own(api: OrderApi, client: ToolClient) -> None:
    outcome = ask(stage_for(api, client), "TW-ORD-2026-999999", "vi", "VN")
    assert outcome.call.status == "not_found"
    assert outcome.body == phrases.say("not_found", "vi", value="TW-ORD-2026-999999")
    own = stage_for(api, client, not_found={"en": "No order {order_number} here.", "ja": "{order_number}は見つかりません。"})
    assert ask(own, "TW-ORD-2026-999999", "ja", "JP").body == "TW-ORD-2026-999999は見つかりません。"


def test_a_timeout_is_answered_honestly_and_hands_off(client: ToolClient) -> None:
    with serve_orders(OrderApi(delay_s=1.0)) as api:
        outcome = ask(stage_for(api, client, timeout_s=0.2), f"{NUMBER} อยู่ไหน", "th", "TH")
    assert (outcome.call.status, outcome.call.code) == ("failed", "outbound_timeout")
    assert outcome.body == phrases.say("tool_failed", "th") and outcome.handoff


def test_a_failure_without_handoff_when_the_brand_says_so(client: ToolClient) -> None:
    with serve_orders(OrderApi(status=500)) as api:
        outcome = ask(stage_for(api, client, on_failure={"handoff": False}), NUMBER, "de", "DE")
    assert outcome.call.code == "tool_http_500" and not outcome.handoff


def test_an_open_breaker_answers_unavailable_without_calling(client: ToolClient) -> None:
    with serve_orders(OrderApi(status=502)) as api:
        stage = stage_for(api, client)
        for _ in range(2):
            ask(stage, NUMBER, "en", "US")
        outcome = ask(stage, NUMBER, "id", "ID")
    assert (outcome.call.status, outcome.call.code) == ("unavailable", "tool_unavailable")
    assert len(api.paths) == 2 and outcome.body == phrases.say("tool_failed", "id") and outcome.handoff


def test_a_template_the_response_cannot_fill_fails_honestly(client: ToolClient) -> None:
    api = OrderApi(status=200, body=b'{"customer": {"id": "cus-th-4512"}, "shipment": {}}')
    with serve_orders(api) as served:
        outcome = ask(stage_for(served, client), NUMBER, "en", "US")
    assert (outcome.call.status, outcome.call.code) == ("failed", "template_field_missing")


def test_personal_data_in_arguments_is_redacted_in_the_record(api: OrderApi, client: ToolClient) -> None:
    spec = order_tool(api.url, name="order-by-contact", url=f"{api.url}/orders/{{order_number}}?contact={{contact}}&c={{customer}}",
                      parameters={
                          "order_number": {"pattern": r"TW-ORD-\d{4}-\d{6}", "description": "the order number"},
                          "contact": {"pattern": r"[\w.+-]+@[\w-]+\.[\w.]+", "description": "your e-mail"},
                          "customer": {"source": "customer_id", "description": "who", "required": False},
                      }, replies={"en": "Order {order_number}: {carrier}"})
    stage = ToolStage(catalog=catalog_of(spec), client=client)
    outcome = ask(stage, f"{NUMBER} for buyer.th@example.com", "en", "TH")
    assert outcome.call.status == "ok"
    assert outcome.call.arguments == {"order_number": NUMBER, "contact": "[EMAIL]", "customer": "[CUSTOMER_ID]"}
    assert "contact=buyer.th%40example.com&c=cus-th-4512" in api.paths[0]


def test_a_tool_that_needs_the_customers_email_refuses_an_unverified_customer(api: OrderApi,
                                                                              client: ToolClient) -> None:
    spec = order_tool(api.url, url=f"{api.url}/orders/{{order_number}}?email={{email}}", parameters={
        "order_number": {"pattern": r"TW-ORD-\d{4}-\d{6}", "description": "the order number"},
        "email": {"source": "customer_email", "description": "the customer's e-mail"}})
    outcome = ask(ToolStage(catalog=catalog_of(spec), client=client), NUMBER, "en", "US", customer_id="U4af4980629")
    assert (outcome.call.status, outcome.call.code) == ("not_yours", "customer_unknown") and api.paths == []
    assert outcome.call.arguments == {"order_number": NUMBER}


def test_the_profiles_linked_email_counts_as_verified(api: OrderApi, client: ToolClient) -> None:
    class Profiles:
        def resolve(self, tenant: str, identity: Any) -> Any:
            from agent.profiles import LinkedIdentity, Profile
            assert (tenant, identity.customer_id) == ("tidewell", "U4af4980629")
            return Profile(tenant=tenant, profile_id="crm-1", created_at=0, updated_at=0, identities=[
                LinkedIdentity(channel="email", customer_id="cliente.mx@example.com", linked_at=0)])

    spec = order_tool(api.url, response={
        "fields": {"shipped_at": "shipment.shipped_at", "carrier": "shipment.carrier",
                   "tracking_url": "shipment.tracking_url"},
        "owner": {"field": "customer.email", "against": "customer_email"}})
    stage = ToolStage(catalog=catalog_of(spec), client=client, profiles=Profiles())  # type: ignore[arg-type]
    assert ask(stage, MX_NUMBER, "es", "MX", customer_id="U4af4980629").call.status == "ok"


def test_the_first_tool_whose_parameter_is_in_the_message_is_chosen(api: OrderApi, client: ToolClient) -> None:
    returns = order_tool(api.url, name="return-status", intents=["refund_dispute"],
                         parameters={"order_number": {"pattern": r"RET-\d{6}", "description": "the return number"}},
                         replies={"en": "Return {order_number}: {carrier}"})
    stage = ToolStage(catalog=catalog_of(returns, order_tool(api.url)), client=client)
    outcome = ask(stage, f"{NUMBER}", "en", "US", intent="refund_dispute")
    assert outcome.call.tool == "order-status"
    assert REPLIES["en"].split(" ")[0] in outcome.body
