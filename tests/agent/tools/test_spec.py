"""Tool files load like persona files: a valid one becomes a ToolSpec, a bad one names file, field and problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.tools.spec import ToolCatalog, ToolConfigError, ToolSpec, parse_template, pick
from polydesk.errors import ConfigError
from tests.agent.tools.conftest import ORDER_TOOL, BrandWriter, DocumentMaker

pytestmark = pytest.mark.unit


def load_error(folder: Path) -> ToolConfigError:
    with pytest.raises(ToolConfigError) as info:
        ToolCatalog.load(folder)
    assert isinstance(info.value, ConfigError) and info.value.code == "invalid_config"
    return info.value


def assert_names(error: ToolConfigError, relative: str, field: str, *fragments: str) -> None:
    assert error.path.as_posix().endswith(relative), error
    assert error.field == field, error
    message = str(error)
    assert relative in message and field in message
    for fragment in fragments:
        assert fragment in message, message


def bad(brand: BrandWriter, document: dict[str, Any], file: str = "tools/orders.yaml") -> ToolConfigError:
    return load_error(brand({file: document}))


def test_the_demo_like_tool_loads(brand: BrandWriter) -> None:
    catalog = ToolCatalog.load(brand({"tools/orders.yaml": ORDER_TOOL}))
    spec = catalog.for_tenant("tidewell", "TH")[0]
    assert (spec.name, spec.method, spec.url_env, spec.url_fields) == (
        "order-status", "GET", "TIDEWELL_ORDERS_URL", ["order_number"])
    assert spec.auth is not None and spec.auth.secret_env == "TIDEWELL_ORDERS_TOKEN"
    assert spec.parameters["order_number"].compiled is spec.parameters["order_number"].compiled  # compiled once
    assert catalog.tool("order-status") is spec and len(catalog) == 1


def test_no_brand_or_no_tools_folder_is_an_empty_catalogue(brand: BrandWriter) -> None:
    assert len(ToolCatalog.load(None)) == 0
    assert len(ToolCatalog.load(brand({"personas/x.yaml": "id: x"}))) == 0


def test_a_tools_list_in_one_file_names_the_index(brand: BrandWriter, tool_doc: DocumentMaker) -> None:
    second = tool_doc(name="shipment", url="https://ship.example/{order_number}")
    catalog = ToolCatalog.load(brand({"tools/all.yml": {"tools": [ORDER_TOOL, second]}}))
    assert [entry.item.name for entry in catalog.tools] == ["order-status", "shipment"]
    error = bad(brand, {"tools": [ORDER_TOOL, tool_doc(timeout_s=30)]}, "tools/all.yml")
    assert_names(error, "tools/all.yml", "tools[1].timeout_s", "less than or equal to 10")


def test_a_tool_name_given_twice(brand: BrandWriter) -> None:
    error = load_error(brand({"tools/a.yaml": ORDER_TOOL, "tools/b.yaml": ORDER_TOOL}))
    assert_names(error, "tools/b.yaml", "name", "also defined in", "a.yaml")


def test_a_secret_in_the_yaml_is_an_unknown_field(brand: BrandWriter, tool_doc: DocumentMaker) -> None:
    auth = {"type": "bearer", "secret_env": "TIDEWELL_ORDERS_TOKEN", "token": "sk-live-123"}
    assert_names(bad(brand, tool_doc(auth=auth)), "tools/orders.yaml", "auth.token", "unknown field")
    assert_names(bad(brand, tool_doc(token="sk-live-123")), "tools/orders.yaml", "token", "unknown field")
    url = "https://orders.example/orders/{order_number}?api_key=sk-live-123"
    assert_names(bad(brand, tool_doc(url=url)), "tools/orders.yaml", "url", "'api_key' looks like a secret")
    url = "https://user:pw@orders.example/orders/{order_number}"
    assert_names(bad(brand, tool_doc(url=url)), "tools/orders.yaml", "url", "no user name or password")


def test_the_spec_holds_only_environment_variable_names(order_tool: ToolSpec) -> None:
    dumped = order_tool.model_dump_json()
    assert "TIDEWELL_ORDERS_TOKEN" in dumped and "TIDEWELL_ORDERS_URL" in dumped


@pytest.mark.parametrize(("auth", "field", "fragment"), [
    ({"type": "bearer", "secret_env": "tidewell-token"}, "auth.secret_env", "should match pattern"),
    ({"type": "basic", "secret_env": "PASSWORD"}, "auth.username_env", "basic auth needs username_env"),
    ({"type": "header", "secret_env": "KEY"}, "auth.header", "needs the header's name"),
    ({"type": "header", "secret_env": "KEY", "header": "Host"}, "auth.header", "set by polydesk"),
    ({"type": "oauth", "secret_env": "KEY"}, "auth.type", "got 'oauth'"),
])
def test_bad_auth(brand: BrandWriter, tool_doc: DocumentMaker, auth: dict[str, str], field: str, fragment: str) -> None:
    assert_names(bad(brand, tool_doc(auth=auth)), "tools/orders.yaml", field, fragment)


def test_a_bad_environment_name_in_the_url(brand: BrandWriter, tool_doc: DocumentMaker) -> None:
    error = bad(brand, tool_doc(url="${orders-url}/orders/{order_number}"))
    assert_names(error, "tools/orders.yaml", "url", "not an environment variable name")
    error = bad(brand, tool_doc(url="https://a.example/${BASE}/{order_number}"))
    assert_names(error, "tools/orders.yaml", "url", "may only start the URL")
    error = bad(brand, tool_doc(url="${BASE}.evil.example/{order_number}"))
    assert_names(error, "tools/orders.yaml", "url", "never the host")


@pytest.mark.parametrize(("url", "fragment"), [
    ("https://orders.example/orders/{order_id}", "'{order_id}' is not a declared parameter"),
    ("https://{order_number}.example/orders", "must start with https://host"),
    ("https://orders.example:{order_number}/x", "placeholders may not be part of the host"),
    ("http://orders.example/orders/{order_number}", "plain http needs internal: true"),
    ("ftp://orders.example/{order_number}", "must start with https://host"),
    ("https://orders.example/orders", "order_number is not in it"),
    ("https://orders.example/orders/{order_number!r}", "takes no format or conversion"),
    ("https://orders.example/ orders/{order_number}", "a space or an invisible control character"),
    ("https://orders.example:0/{order_number}", "the port must be a number"),
])
def test_bad_url(brand: BrandWriter, tool_doc: DocumentMaker, url: str, fragment: str) -> None:
    assert_names(bad(brand, tool_doc(url=url)), "tools/orders.yaml", "url", fragment)


def test_plain_http_for_an_internal_tool_and_post_bodies(tool_doc: DocumentMaker) -> None:
    spec = ToolSpec.model_validate(tool_doc(url="http://10.0.0.5/orders/{order_number}", internal=True))
    assert spec.internal
    post = ToolSpec.model_validate(tool_doc(method="post", url="https://orders.example/lookup"))
    assert post.method == "POST" and post.url_fields == []


def test_an_optional_get_parameter_only_in_the_query(brand: BrandWriter, tool_doc: DocumentMaker) -> None:
    parameters = {**ORDER_TOOL["parameters"],
                  "zip": {"pattern": r"\d{5}", "description": "Postcode", "required": False}}
    error = bad(brand, tool_doc(parameters=parameters, url="https://o.example/{order_number}/{zip}"))
    assert_names(error, "tools/orders.yaml", "url", "optional parameter 'zip' may only appear in the query")
    spec = ToolSpec.model_validate(tool_doc(parameters=parameters, url="https://o.example/{order_number}?zip={zip}"))
    assert spec.url_fields == ["order_number", "zip"]


@pytest.mark.parametrize(("pattern", "fragment"), [
    (r"TW-ORD-(\d{4}", "the pattern does not compile"),
    (r"\d*", "matches the empty string"),
    (r"TW|", "matches the empty string"),
])
def test_bad_pattern(brand: BrandWriter, tool_doc: DocumentMaker, pattern: str, fragment: str) -> None:
    parameters = {"order_number": {"pattern": pattern, "description": "Order number"}}
    error = bad(brand, tool_doc(parameters=parameters))
    assert_names(error, "tools/orders.yaml", "parameters.order_number.pattern", fragment)


def test_a_message_parameter_needs_a_pattern(brand: BrandWriter, tool_doc: DocumentMaker) -> None:
    parameters = {"order_number": {"description": "Order number"}}
    error = bad(brand, tool_doc(parameters=parameters))
    assert_names(error, "tools/orders.yaml", "parameters.order_number.pattern", "needs a pattern")


@pytest.mark.parametrize(("template", "fragment"), [
    ("Order {order_numbr} is on its way.", "'{order_numbr}' is neither a response field nor a parameter"),
    ("Carrier {carrier.name}", "'{carrier.name}' is not a field name"),
    ("Carrier {carrier[0]}", "'{carrier[0]}' is not a field name"),
    ("Carrier {carrier!r}", "conversions are not allowed"),
    ("Carrier {}", "is not a field name"),
    ("Shipped {shipped_at:%Y}", "the format must be date, datetime, number, amount"),
    ("Total {total:amount:EURO}", "the format must be"),
    ("Total {total:amount:XYZ}", "'XYZ' is not an ISO 4217 currency code"),
    ("Total {total", "not a valid template"),
])
def test_bad_template(brand: BrandWriter, tool_doc: DocumentMaker, template: str, fragment: str) -> None:
    error = bad(brand, tool_doc(replies={"en": template}))
    assert_names(error, "tools/orders.yaml", "replies.en", fragment)


def test_an_amount_without_a_currency(brand: BrandWriter, tool_doc: DocumentMaker) -> None:
    response = {"fields": {"total": "total.amount"}}
    error = bad(brand, tool_doc(response=response, replies={"de": "Summe {total:amount}"}))
    assert_names(error, "tools/orders.yaml", "replies.de", "needs a 'currency' response field")
    spec = ToolSpec.model_validate(tool_doc(response=response, replies={"de": "Summe {total:amount:EUR}"}))
    assert [piece.format for piece in parse_template(spec.replies["de"]) if piece.field] == ["amount:EUR"]


def test_an_undeclared_field_in_not_found(brand: BrandWriter, tool_doc: DocumentMaker) -> None:
    error = bad(brand, tool_doc(not_found={"th": "ไม่พบ {order}"}))
    assert_names(error, "tools/orders.yaml", "not_found.th", "'{order}'")


def test_a_tool_without_tenants(brand: BrandWriter, tool_doc: DocumentMaker) -> None:
    assert_names(bad(brand, tool_doc(tenants=None)), "tools/orders.yaml", "tenants", "Field required")
    assert_names(bad(brand, tool_doc(tenants=[])), "tools/orders.yaml", "tenants", "at least 1 item")
    assert_names(bad(brand, tool_doc(tenants=["*"])), "tools/orders.yaml", "tenants[0]", "tenant must be")


def test_unknown_fields_and_yaml_errors(brand: BrandWriter, tool_doc: DocumentMaker) -> None:
    assert_names(bad(brand, tool_doc(timout_s=3)), "tools/orders.yaml", "timout_s", "unknown field")
    error = load_error(brand({"tools/orders.yaml": "name: a\nname: b\n"}))
    assert_names(error, "tools/orders.yaml", "line 2, column 1", "given twice")
    error = load_error(brand({"tools/orders.yaml": "- a list\n"}))
    assert_names(error, "tools/orders.yaml", "-", "expected a mapping")


def test_a_parameter_and_a_response_field_share_a_name(brand: BrandWriter, tool_doc: DocumentMaker) -> None:
    response = {"fields": {"order_number": "id", "status": "status"}}
    error = bad(brand, tool_doc(response=response, replies={"en": "{status}"}, not_found=None))
    assert_names(error, "tools/orders.yaml", "response.fields", "also a parameter")


def test_for_tenant_never_offers_another_tenants_tool(brand: BrandWriter, tool_doc: DocumentMaker) -> None:
    other = tool_doc(name="acme-orders", tenants=["acme"], markets=["de", "AT"])
    catalog = ToolCatalog.load(brand({"tools/a.yaml": ORDER_TOOL, "tools/b.yaml": other}))
    assert [t.name for t in catalog.for_tenant("tidewell", "DE")] == ["order-status"]
    assert [t.name for t in catalog.for_tenant("acme", "de")] == ["acme-orders"]
    assert catalog.for_tenant("acme", "TH") == []
    assert catalog.for_tenant("globex", "DE") == []
    assert catalog.for_tenant("Tidewell", "TH") == []


def test_response_extract_reads_dotted_paths(order_tool: ToolSpec) -> None:
    payload = {"status": "shipped", "shipment": {"carrier": "Kerry", "shipped_at": None},
               "total": {"amount": 12.5, "currency": "THB"}, "customer": {"email": "a@example.com"}}
    assert order_tool.response.extract(payload) == {"status": "shipped", "carrier": "Kerry", "total": 12.5,
                                                     "currency": "THB"}
    assert pick({"items": [{"sku": "A"}, {"sku": "B"}]}, "items.1.sku") == "B"
    assert pick({"items": [{"sku": "A"}]}, "items.3.sku") is None
