"""A valid order-status tool, like the demo brand's, and brand folders written from tool documents."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.tools.spec import ToolSpec

ORDER_TOOL: dict[str, Any] = {
    "name": "order-status",
    "description": "Look up an order's status and shipment by its order number.",
    "tenants": ["tidewell"],
    "intents": ["order_status"],
    "markets": ["*"],
    "method": "GET",
    "url": "${TIDEWELL_ORDERS_URL}/orders/{order_number}",
    "parameters": {
        "order_number": {"type": "string", "pattern": r"TW-ORD-\d{4}-\d{6}",
                         "description": "The order number, e.g. TW-ORD-2026-004512"},
    },
    "auth": {"type": "bearer", "secret_env": "TIDEWELL_ORDERS_TOKEN"},
    "timeout_s": 3,
    "response": {
        "fields": {"status": "status", "shipped_at": "shipment.shipped_at", "carrier": "shipment.carrier",
                   "tracking_url": "shipment.tracking_url", "total": "total.amount", "currency": "total.currency"},
        "owner": {"field": "customer.email", "against": "customer_email"},
    },
    "replies": {
        "en": "Your order {order_number} left our warehouse on {shipped_at:date} with {carrier}; "
              "track it at {tracking_url}.",
        "th": "คำสั่งซื้อ {order_number} ออกจากคลังสินค้าเมื่อวันที่ {shipped_at:date} กับ {carrier} ติดตามได้ที่ {tracking_url}",
        "es": "Su pedido {order_number} salió de nuestro almacén el {shipped_at:date} con {carrier}; "
              "puede seguirlo en {tracking_url}.",
        "ja": "ご注文{order_number}は{shipped_at:date}に{carrier}で出荷されました。合計{total:amount}。",
        "de": "Ihre Bestellung {order_number} hat unser Lager am {shipped_at:date} mit {carrier} verlassen "
              "(Summe {total:amount}).",
        "ar": "غادر طلبك {order_number} مستودعنا في {shipped_at:date} مع {carrier}.",
        "pt": "Seu pedido {order_number} saiu do nosso armazém em {shipped_at:date} ({total:amount}).",
        "id": "Pesanan {order_number} dikirim pada {shipped_at:datetime} melalui {carrier}, total {total:amount:IDR}.",
    },
    "not_found": {"en": "We have no order {order_number}."},
}

DocumentMaker = Callable[..., dict[str, Any]]
BrandWriter = Callable[[dict[str, Any]], Path]


def changed(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with top-level changes (None removes the field)."""
    document = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return document


@pytest.fixture
def tool_doc() -> DocumentMaker:
    """The order-status tool document with keyword changes applied (a value of None removes the field)."""
    return lambda **changes: changed(ORDER_TOOL, **changes)


@pytest.fixture
def order_tool() -> ToolSpec:
    return ToolSpec.model_validate(ORDER_TOOL)


@pytest.fixture
def brand(tmp_path: Path) -> BrandWriter:
    """Write ``{"tools/x.yaml": document or raw text}`` into a brand folder and return the folder."""
    root = tmp_path / "brand"
    root.mkdir()

    def write(files: dict[str, Any]) -> Path:
        for relative, content in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            text = content if isinstance(content, str) else yaml.safe_dump(content, allow_unicode=True, sort_keys=False)
            path.write_text(text, encoding="utf-8")
        return root

    return write
