"""The HTTP transport of the channels' outbox: a secret that a platform wants in the URL never reaches a log.

The Telegram Bot API takes the bot token in the path (``/bot<token>/sendMessage``), and httpx logs every
request's URL at INFO (``HTTP Request: POST https://...``). A filter on httpx's logger is not enough: any
logging set-up done later (a ``dictConfig``, a test harness, an operator's handler on the root logger) can
drop or bypass it. So the token is never in the URL httpx sees: the adapter writes ``URL_SECRET`` where it
goes and hands the token over as a request extension (``secret_extension``); ``SecretInUrlTransport`` puts it
in only for the wire, on a copy of the request, and the request httpx logs keeps the placeholder.

Example:
    >>> client = httpx.Client(transport=SecretInUrlTransport(httpx.HTTPTransport()))      # doctest: +SKIP
    >>> client.post(f"{base}/bot{URL_SECRET}/sendMessage", json=body,
    ...             extensions=secret_extension(token))                                    # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import httpx

URL_SECRET = "URL_SECRET"  # the placeholder, kept in every URL that a log line may show
_EXTENSION = "polydesk.url_secret"


def secret_extension(secret: str) -> dict[str, Any]:
    """The request extensions that carry ``secret`` to the transport (none for an empty one)."""
    return {_EXTENSION: secret} if secret else {}


class SecretInUrlTransport(httpx.BaseTransport):
    """Sends each request through ``inner``, with ``URL_SECRET`` in its URL replaced by the request's secret."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        secret = request.extensions.get(_EXTENSION)
        if secret and URL_SECRET in request.url.raw_path.decode("ascii"):
            extensions = {k: v for k, v in request.extensions.items() if k != _EXTENSION}
            url = request.url.copy_with(raw_path=request.url.raw_path.replace(URL_SECRET.encode(), secret.encode()))
            request = httpx.Request(request.method, url, headers=request.headers, stream=request.stream,
                                    extensions=extensions)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
