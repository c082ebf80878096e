"""ToolClient against a loopback order API: fields, auth from the environment, SSRF refusals, owner check,
not found, failures and the circuit breaker, and logs without personal data."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from agent.tools.client import CircuitBreaker, Customer, ToolClient
from polydesk.settings import Settings
from tests.agent.tools.order_api import ORDERS, OrderApi, order_tool, serve_orders

pytestmark = pytest.mark.unit

NUMBER = "TW-ORD-2026-004512"
OWNER = Customer(id="cus-th-4512")


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def client(tmp_path: Path) -> ToolClient:
    made = ToolClient(settings=settings(tmp_path), environ={"ORDERS_TOKEN": "s3cr3t-token", "ORDERS_USER": "bot"},
                      breaker=CircuitBreaker(threshold=3, cooldown_s=30.0))
    yield made  # type: ignore[misc]
    made.close()


def test_an_order_is_fetched_and_its_declared_fields_picked(client: ToolClient) -> None:
    with serve_orders() as api:
        result = client.call(order_tool(api.url), {"order_number": NUMBER}, tenant="tidewell", customer=OWNER)
    assert result.status == "ok" and result.code is None
    assert result.fields == {"shipped_at": "2026-11-28", "carrier": "Kerry Express",
                             "tracking_url": "https://track.example/KEX4512"}
    assert api.paths == [f"/orders/{NUMBER}"]
    assert result.latency_ms > 0 and result.remote_ms <= result.latency_ms


def test_a_value_is_url_encoded_and_cannot_add_a_path(client: ToolClient) -> None:
    spec = order_tool("http://x", parameters={"order_number": {"pattern": r"\S+", "description": "any"}})
    with serve_orders() as api:
        spec = spec.model_copy(update={"url": f"{api.url}/orders/{{order_number}}"})
        client.call(spec, {"order_number": "../admin?x=1"}, tenant="tidewell", customer=OWNER)
    assert api.paths == ["/orders/..%2Fadmin%3Fx%3D1"]


@pytest.mark.parametrize(("auth", "header", "expected"), [
    ({"type": "bearer", "secret_env": "ORDERS_TOKEN"}, "authorization", "Bearer s3cr3t-token"),
    ({"type": "basic", "secret_env": "ORDERS_TOKEN", "username_env": "ORDERS_USER"}, "authorization",
     "Basic " + base64.b64encode(b"bot:s3cr3t-token").decode()),
    ({"type": "header", "secret_env": "ORDERS_TOKEN", "header": "X-Api-Key"}, "x-api-key", "s3cr3t-token"),
])
def test_the_secret_comes_from_the_environment_at_call_time(client: ToolClient, auth: dict[str, str], header: str,
                                                            expected: str) -> None:
    with serve_orders() as api:
        result = client.call(order_tool(api.url, auth=auth), {"order_number": NUMBER}, tenant="tidewell",
                             customer=OWNER)
    assert result.status == "ok"
    assert api.headers[0][header] == expected


def test_a_missing_secret_fails_the_call_and_the_log_names_the_variable_only(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = ToolClient(settings=settings(tmp_path), environ={})
    caplog.set_level(logging.INFO)
    with serve_orders() as api:
        result = client.call(order_tool(api.url, auth={"type": "bearer", "secret_env": "ORDERS_TOKEN"}),
                             {"order_number": NUMBER}, tenant="tidewell", customer=OWNER)
    assert (result.status, result.code) == ("failed", "tool_misconfigured")
    assert api.paths == []
    assert "ORDERS_TOKEN" in caplog.text


def test_a_base_url_variable_that_is_not_set_is_a_misconfigured_tool(client: ToolClient) -> None:
    spec = order_tool("https://x").model_copy(update={"url": "${ORDERS_BASE_URL}/orders/{order_number}"})
    result = client.call(spec, {"order_number": NUMBER}, tenant="tidewell", customer=OWNER)
    assert (result.status, result.code) == ("failed", "tool_misconfigured")


@pytest.mark.parametrize(("scheme", "overrides"), [
    ("http", {"allow_private": False}),  # plain http allowed (internal), loopback not
    ("https", {"allow_private": False, "internal": False}),
])
def test_a_loopback_tool_without_the_operators_allowance_is_refused_before_any_request(
        client: ToolClient, scheme: str, overrides: dict[str, bool]) -> None:
    with serve_orders() as api:
        base = api.url.replace("http:", f"{scheme}:")
        result = client.call(order_tool(base, **overrides), {"order_number": NUMBER}, tenant="tidewell",
                             customer=OWNER)
        by_name = client.call(order_tool(base.replace("127.0.0.1", "localhost"), **overrides),
                              {"order_number": NUMBER}, tenant="tidewell", customer=OWNER)
    assert (result.status, result.code) == ("refused_unsafe", "unsafe_url")
    assert by_name.status == "refused_unsafe"
    assert api.paths == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/{order_number}",
                                 "http://[::ffff:169.254.169.254]/{order_number}",
                                 "http://2852039166/{order_number}"])
def test_cloud_metadata_is_refused_even_with_the_allowance(client: ToolClient, url: str) -> None:
    spec = order_tool("http://x").model_copy(update={"url": url})
    result = client.call(spec, {"order_number": NUMBER}, tenant="tidewell", customer=OWNER)
    assert (result.status, result.code) == ("refused_unsafe", "unsafe_url")
    assert not client.breaker.is_open(("tidewell", "order-status"))  # a refusal says nothing of the remote


def test_another_customers_order_is_not_yours_and_carries_no_data(client: ToolClient) -> None:
    with serve_orders() as api:
        spec = order_tool(api.url)
        other = client.call(spec, {"order_number": NUMBER}, tenant="tidewell", customer=Customer(id="cus-mx-7731"))
        unknown = client.call(spec, {"order_number": NUMBER}, tenant="tidewell", customer=Customer())
    assert (other.status, other.code, other.fields) == ("not_yours", "not_yours", {})
    assert (unknown.status, unknown.fields) == ("not_yours", {})


def test_the_owner_check_by_email_ignores_case_and_needs_a_verified_address(client: ToolClient) -> None:
    with serve_orders() as api:
        spec = order_tool(api.url, response={
            "fields": {"shipped_at": "shipment.shipped_at", "carrier": "shipment.carrier",
                       "tracking_url": "shipment.tracking_url"},
            "owner": {"field": "customer.email", "against": "customer_email"}})
        mine = client.call(spec, {"order_number": "TW-ORD-2026-007731"}, tenant="tidewell",
                           customer=Customer(id="U1", emails=("cliente.mx@EXAMPLE.com",)))
        id_only = client.call(spec, {"order_number": "TW-ORD-2026-007731"}, tenant="tidewell",
                              customer=Customer(id="Cliente.MX@example.com"))
    assert (mine.status, mine.fields["carrier"]) == ("ok", "Estafeta")
    assert id_only.status == "not_yours"  # a customer id is not a verified e-mail address


def test_an_unknown_order_is_not_found(client: ToolClient) -> None:
    with serve_orders() as api:
        result = client.call(order_tool(api.url), {"order_number": "TW-ORD-2026-999999"}, tenant="tidewell",
                             customer=OWNER)
    assert (result.status, result.code, result.fields) == ("not_found", "not_found", {})


def test_a_body_that_is_not_json_fails(client: ToolClient) -> None:
    with serve_orders(OrderApi(status=200, body=b"<html>maintenance</html>")) as api:
        result = client.call(order_tool(api.url), {"order_number": NUMBER}, tenant="tidewell", customer=OWNER)
    assert (result.status, result.code) == ("failed", "tool_bad_response")


def test_a_timeout_fails_within_the_tools_time(client: ToolClient) -> None:
    with serve_orders(OrderApi(delay_s=1.5)) as api:
        result = client.call(order_tool(api.url, timeout_s=0.3), {"order_number": NUMBER}, tenant="tidewell",
                             customer=OWNER)
    assert (result.status, result.code) == ("failed", "outbound_timeout")
    assert result.latency_ms < 1200


def test_the_breaker_opens_after_consecutive_failures_and_stops_calling(tmp_path: Path) -> None:
    now = [1000.0]
    breaker = CircuitBreaker(threshold=3, cooldown_s=30.0, clock=lambda: now[0])
    client = ToolClient(settings=settings(tmp_path), environ={}, breaker=breaker)
    with serve_orders(OrderApi(status=503)) as api:
        spec = order_tool(api.url)
        failed = [client.call(spec, {"order_number": NUMBER}, tenant="tidewell", customer=OWNER) for _ in range(3)]
        assert [r.code for r in failed] == ["tool_http_503"] * 3
        blocked = [client.call(spec, {"order_number": NUMBER}, tenant="tidewell", customer=OWNER) for _ in range(5)]
        assert {(r.status, r.code) for r in blocked} == {("unavailable", "tool_unavailable")}
        assert len(api.paths) == 3  # nothing reached the server while open
        # Another tenant's breaker is its own.
        assert client.call(spec, {"order_number": NUMBER}, tenant="other", customer=OWNER).status == "failed"
        now[0] += 31  # after the cooldown one trial call goes out; it succeeds and closes the breaker
        api.status = None
        assert client.call(spec, {"order_number": NUMBER}, tenant="tidewell", customer=OWNER).status == "ok"
        assert not breaker.is_open(("tidewell", "order-status"))
        assert len(api.paths) == 5
    client.close()


def test_a_failed_trial_opens_the_breaker_again(tmp_path: Path) -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown_s=10.0, clock=lambda: now[0])
    key = ("tidewell", "order-status")
    for _ in range(2):
        breaker.record(key, ok=False)
    assert not breaker.allow(key)
    now[0] = 11
    assert breaker.allow(key) and not breaker.allow(key)  # one trial, the next waits
    breaker.record(key, ok=False)
    assert not breaker.allow(key)


def test_404_and_4xx_do_not_count_as_the_remote_failing(tmp_path: Path) -> None:
    client = ToolClient(settings=settings(tmp_path), environ={}, breaker=CircuitBreaker(threshold=2))
    with serve_orders() as api:
        spec = order_tool(api.url)
        for _ in range(4):
            client.call(spec, {"order_number": "TW-ORD-2026-999999"}, tenant="tidewell", customer=OWNER)
    assert not client.breaker.is_open(("tidewell", "order-status")) and len(api.paths) == 4
    client.close()


def test_a_post_tool_sends_its_parameters_as_json(client: ToolClient) -> None:
    with serve_orders() as api:
        spec = order_tool(api.url, method="POST").model_copy(update={"url": f"{api.url}/orders/lookup"})
        client.call(spec, {"order_number": NUMBER}, tenant="tidewell", customer=OWNER)
    assert json.loads(api.bodies[0]) == {"order_number": NUMBER}


def test_the_log_holds_no_personal_data_or_secret(client: ToolClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="polydesk.tools")
    with serve_orders() as api:
        spec = order_tool(api.url, auth={"type": "bearer", "secret_env": "ORDERS_TOKEN"})
        client.call(spec, {"order_number": NUMBER}, tenant="tidewell", customer=OWNER)
        client.call(spec, {"order_number": NUMBER}, tenant="tidewell", customer=Customer(id="someone-else"))
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "polydesk.tools")
    assert "order-status" in logged and "127.0.0.1" in logged
    order = ORDERS[NUMBER]
    for private in ("s3cr3t-token", NUMBER, order["customer"]["email"], order["customer"]["id"], "Kerry Express",
                    "KEX4512", "someone-else"):
        assert private not in logged
