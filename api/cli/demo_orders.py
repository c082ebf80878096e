"""The demo brand's fake order service: a small HTTP JSON API on loopback for the demo's order-status tool
(``demo/tidewell/tools/order_status.yaml``), with the orders of ``demo/tidewell/orders.json``.

- ``GET /orders/{order_number}``: 200 and the order as JSON, or 404 ``{"error": "not_found", ...}``.
- ``GET /health``: 200 ``{"status": "ok", "orders": N}``.

``polydesk demo`` starts it on a free port for its own run (``running_order_service``: the base URL goes into
``TIDEWELL_ORDERS_URL``, which the tool's URL names, and the previous value comes back afterwards);
``polydesk demo-orders`` serves it in the foreground for an eval run or a ``polydesk serve`` on the demo brand.
It binds to loopback only. Each response records its own handling time (from the request line to the last byte
written), so a benchmark can take the remote API's time out of a tool call's.

Example:
    >>> with running_order_service() as service:                                # doctest: +SKIP
    ...     httpx.get(f"{service.url}/orders/TW-ORD-2026-004512").json()["shipment"]["carrier"]
    'Kerry Express'
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

import typer

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo" / "tidewell"
ORDERS_FILE = DEMO_DIR / "orders.json"
URL_ENV = "TIDEWELL_ORDERS_URL"
LOOPBACK = "127.0.0.1"


def load_orders(path: Path = ORDERS_FILE) -> dict[str, dict[str, Any]]:
    """The orders of a demo orders file (``{"orders": [...]}``) by order number."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {order["order_number"]: order for order in data["orders"]}


class OrderService:
    """The order API on ``host:port`` (port 0: a free one), served by a background thread until ``stop``."""

    def __init__(self, orders: Mapping[str, Mapping[str, Any]], *, host: str = LOOPBACK, port: int = 0) -> None:
        # Bodies are serialised once: the service answers as fast as a loopback HTTP server can.
        bodies = {number: _json(order) for number, order in orders.items()}
        self.handling_ms: deque[float] = deque(maxlen=1_000_000)
        self._server = ThreadingHTTPServer((host, port), _handler(bodies, self.handling_ms))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> OrderService:
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-orders", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> OrderService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def running_order_service(path: Path = ORDERS_FILE, *, port: int = 0) -> Iterator[OrderService]:
    """The demo order service, running, with ``TIDEWELL_ORDERS_URL`` set to it (and put back afterwards)."""
    previous = os.environ.get(URL_ENV)
    with OrderService(load_orders(path), port=port) as service:
        os.environ[URL_ENV] = service.url
        try:
            yield service
        finally:
            if previous is None:
                os.environ.pop(URL_ENV, None)
            else:
                os.environ[URL_ENV] = previous


def demo_orders(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Loopback port to listen on.")] = 8765,
    path: Annotated[Path, typer.Option(help="The orders file.")] = ORDERS_FILE,
) -> None:
    """Serve the demo brand's fake order service on loopback until Ctrl-C (for `polydesk eval run` or `serve`)."""
    from api.cli.common import console

    orders = load_orders(path)
    with OrderService(orders, port=port) as service:
        console.print(f"demo order service at {service.url} ({len(orders)} orders); in another shell:\n"
                      f"  export {URL_ENV}={service.url} POLYDESK_PERSONAS_DIR={DEMO_DIR}", soft_wrap=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("stopped")


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _handler(bodies: Mapping[str, bytes], timings: deque[float]) -> type[BaseHTTPRequestHandler]:
    health = _json({"status": "ok", "orders": len(bodies)})

    class OrderHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a client that reuses its connection pays for one connect
        wbufsize = -1  # head and body leave in one write (two small writes can wait on a delayed ACK)
        disable_nagle_algorithm = True
        server_version = "tidewell-orders/1"
        began = 0.0

        def parse_request(self) -> bool:
            self.began = time.perf_counter()  # the request line has just been read
            return super().parse_request()

        def do_GET(self) -> None:  # the name http.server calls
            path = urlsplit(self.path).path
            if path == "/health":
                self._send(200, health)
                return
            number = unquote(path[len("/orders/"):]) if path.startswith("/orders/") else None
            body = bodies.get(number) if number else None
            if body is None:
                what = f"no order {number}" if number else f"no such path: {path}"
                self._send(404, _json({"error": "not_found", "message": what}))
            else:
                self._send(200, body)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            timings.append((time.perf_counter() - self.began) * 1000)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the demo prints its own lines

    return OrderHandler
