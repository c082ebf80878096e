"""What every request passes before a route sees it (plain ASGI middleware, nothing read that need not be).

``RequestGuard``:

- **authenticate before the body**: a request to a route under ``/v1/`` without a valid
  ``Authorization: Bearer`` key is answered ``401 unauthenticated`` (or, for an unknown key,
  ``429 auth_throttled``, ``api.ratelimit.AuthThrottle``) from its headers alone, with
  ``Connection: close``: its body is never read, so a malformed body without a key gets 401 and
  a 200 MB one costs nothing. The route's own dependency still checks the key's role and rate
  limit (``api.deps``).
- **signed webhooks** (``/v1/channels/``) are the exception: the platform's signature, checked by the route
  on the raw body, stands in for the key; they keep the small unauthenticated body limit, except a forwarded
  raw mail (``/v1/channels/email/``, ``message/rfc822``): attachments make a mail far larger than any chat
  webhook, so it may send up to ``channel_email_max_bytes`` (what mail providers accept, 25 MiB by default),
  still counted as it arrives and refused 413 beyond; only the signed body of a configured tenant is parsed.
- **the web chat widget** (``/v1/widget/``): its key is public (it sits in a brand's page), so it counts as a key
  on the widget's routes only: elsewhere under ``/v1/`` it is refused ``403 forbidden`` before the body, and its
  bodies keep the unauthenticated limit. A CORS preflight (``OPTIONS``, which carries no key) is answered here:
  ``204`` with the requesting origin allowed when some widget key lists it, else ``403 origin_not_allowed``; every
  widget response says ``Vary: Origin`` and echoes such an origin in ``Access-Control-Allow-Origin`` (no
  credentials mode). Whether the origin belongs to the key used is the route's check (``api.deps.WidgetCaller``).
- **the web console** (``/console/``): a browser there sends no key but a session cookie (``api.console``); a live
  session counts as a key for the body limit (an upload of knowledge files), and the console's pages check the
  session, its role and its CSRF token themselves.
- **a small body for the unauthenticated**: elsewhere (``/healthz``, a path that is no route), a
  request without a valid key may send at most ``unauthenticated_max_body_bytes`` (``413
  body_too_large``; by ``Content-Length`` before reading, else counted as it arrives).
- **JSON is UTF-8** (RFC 8259): a JSON request (``application/json``, ``*+json``, or no content type,
  which FastAPI reads as JSON) that names another charset is refused at once; a body with a NUL byte
  (UTF-16/32, with or without a byte-order mark) or bytes that are not UTF-8 is refused as it is read:
  ``415 unsupported_media_type``, whatever the route was doing with it.

``TrailingSlash``: ``/v1/answer/`` is served as ``/v1/answer`` (when only the form without the slash
is a route), in place of Starlette's redirect, whose ``Location`` was built from the ``Host`` header.
"""

from __future__ import annotations

import codecs
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.admission import mark_arrival
from api.auth import WIDGET, origin_refused
from api.console.sessions import COOKIE as CONSOLE_COOKIE
from api.errors import polydesk_response
from polydesk.errors import (
    AuthenticationError,
    AuthThrottledError,
    BodyTooLargeError,
    PermissionDeniedError,
    PolydeskError,
    UnsupportedEncodingError,
)

if TYPE_CHECKING:
    from api.deps import Services

AUTHENTICATED_PREFIX = "/v1/"
# Chat platforms' webhooks: authenticated by the platform's signature on the body (api.channels), not by a key;
# they keep the unauthenticated body limit.
SIGNED_WEBHOOK_PREFIX = "/v1/channels/"
MAIL_WEBHOOK_PREFIX = "/v1/channels/email/"  # raw mail: up to channel_email_max_bytes
WIDGET_PREFIX = "/v1/widget/"  # the public widget key's routes (api.routes.widget)
CONSOLE_PREFIX = "/console/"  # the web console: a session cookie, not a key (api.console)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UTF8 = frozenset({"utf-8", "utf8"})


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: Services | None = getattr(scope["app"].state, "services", None) if "app" in scope else None
        if scope["type"] != "http" or services is None:
            await self.app(scope, receive, send)
            return
        mark_arrival()  # an answer's queue budget counts from here
        headers = Headers(scope=scope)
        path: str = scope["path"]
        if path.startswith(WIDGET_PREFIX):
            origin = headers.get("origin")
            send = _widget_cors(origin if origin and services.keys.widget_origin(origin) else None, send)
            if scope["method"] == "OPTIONS":
                await _preflight(origin, services)(scope, receive, send)
                return
        raw_key = _bearer(headers.get("authorization", ""))
        caller = services.keys.authenticate(raw_key) if raw_key is not None else None
        limit: int | None = None
        if caller is None or caller.role == WIDGET:
            guarded = (path.startswith(AUTHENTICATED_PREFIX) and not path.startswith(SIGNED_WEBHOOK_PREFIX)
                       and not (caller is not None and path.startswith(WIDGET_PREFIX))
                       and _matches(scope["app"].router.routes, scope))
            if guarded:
                error = (self._unauthenticated(services, scope, raw_key) if caller is None else
                         PermissionDeniedError("a widget key may only call the widget's routes (/v1/widget/)"))
                await _refuse(error, scope, receive, send)
                return
            limit = services.settings.unauthenticated_max_body_bytes
            if caller is None and scope["method"] in _BODY_METHODS and path.startswith(CONSOLE_PREFIX) \
                    and _console_session(services, headers):
                limit = None
            elif path.startswith(MAIL_WEBHOOK_PREFIX):
                limit = max(limit, services.settings.channel_email_max_bytes)
            length = _content_length(headers)
            if limit is not None and length is not None and length > limit:
                await _refuse(BodyTooLargeError(f"a request without an API key may send at most {limit} bytes"),
                              scope, receive, send)
                return
        check_utf8 = False
        if scope["method"] in _BODY_METHODS and _is_json(headers.get("content-type")):
            charset = _charset(headers.get("content-type", ""))
            if charset is not None and charset not in _UTF8:
                await _refuse(UnsupportedEncodingError(f"JSON bodies must be UTF-8, not charset={charset}"),
                              scope, receive, send)
                return
            check_utf8 = True
        if limit is None and not check_utf8:
            await self.app(scope, receive, send)
            return
        await _Checked(self.app, limit=limit, check_utf8=check_utf8)(scope, receive, send)

    @staticmethod
    def _unauthenticated(services: Services, scope: Scope, raw_key: str | None) -> PolydeskError:
        """401; or 429 when a key was presented and this client (or this key's prefix) failed too often. A
        request without a key guesses nothing: it is always answered 401 and not counted."""
        if raw_key is None:
            return AuthenticationError("this endpoint needs an API key: send 'Authorization: Bearer <key>'")
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        retry_after = services.throttle.failed(address, raw_key, path=scope["path"])
        if retry_after is not None:
            return AuthThrottledError(f"too many failed authentications from this client; retry in {retry_after} s",
                                      retry_after_s=retry_after)
        return AuthenticationError("unknown API key")


class _Checked:
    """Runs the app on a body that is checked as it is read; a refused body answers its error, never the
    app's (which saw the read fail), and closes the connection."""

    def __init__(self, app: ASGIApp, *, limit: int | None, check_utf8: bool) -> None:
        self.app = app
        self.limit = limit
        self.decoder = codecs.getincrementaldecoder("utf-8")() if check_utf8 else None
        self.received = 0
        self.refused: PolydeskError | None = None
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def checked_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and self.refused is None:
                self.refused = self._check(message.get("body", b""), more=message.get("more_body", False))
            if self.refused is not None:
                raise self.refused
            return message

        async def guarded_send(message: Message) -> None:
            if self.refused is not None and not self.started:
                self.started = True
                await polydesk_response(self.refused, close=True)(scope, receive, send)
            if self.refused is not None:
                return  # the app's own answer to the failed read
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        try:
            await self.app(scope, checked_receive, guarded_send)
        except Exception:
            if self.refused is None or self.started:
                raise
            self.started = True
            await polydesk_response(self.refused, close=True)(scope, receive, send)

    def _check(self, chunk: bytes, *, more: bool) -> PolydeskError | None:
        first = self.received == 0
        self.received += len(chunk)
        if self.limit is not None and self.received > self.limit:
            return BodyTooLargeError(f"a request without an API key may send at most {self.limit} bytes")
        if self.decoder is None:
            return None
        if b"\x00" in chunk or (first and chunk[:2] in (b"\xff\xfe", b"\xfe\xff")):
            return UnsupportedEncodingError("JSON bodies must be UTF-8; this one looks like UTF-16 or UTF-32")
        try:
            self.decoder.decode(chunk, final=not more)
        except UnicodeDecodeError as exc:
            return UnsupportedEncodingError(f"JSON bodies must be UTF-8; byte {self.received - len(chunk) + exc.start}"
                                            " is not")
        return None


def _console_session(services: Services, headers: Headers) -> bool:
    """Whether the request carries the cookie of a live console session (only asked of a console request that
    sends a body)."""
    cookies = SimpleCookie()
    try:
        cookies.load(headers.get("cookie", ""))
    except CookieError:
        return False
    morsel = cookies.get(CONSOLE_COOKIE)
    try:
        return morsel is not None and services.console_sessions.get(morsel.value) is not None
    except PolydeskError:  # Redis down: the small limit holds, the page says why
        return False


def _widget_cors(allowed_origin: str | None, send: Send) -> Send:
    """``send`` adding ``Vary: Origin`` and, for an origin some widget key lists, ``Access-Control-Allow-Origin``."""

    async def cors_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            headers.add_vary_header("Origin")
            if allowed_origin is not None:
                headers["Access-Control-Allow-Origin"] = allowed_origin
                headers["Access-Control-Expose-Headers"] = "Retry-After"
        await send(message)

    return cors_send


def _preflight(origin: str | None, services: Services) -> Response:
    if origin is None or not services.keys.widget_origin(origin):
        return polydesk_response(origin_refused(origin))
    return Response(status_code=204, headers={"Access-Control-Allow-Methods": "GET, POST",
                                              "Access-Control-Allow-Headers": "Authorization, Content-Type",
                                              "Access-Control-Max-Age": "600"})


async def _refuse(error: PolydeskError, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer from the headers alone; the body stays unread and the connection is closed after the answer."""
    await polydesk_response(error, close=True)(scope, receive, send)


def _bearer(header: str) -> str | None:
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


def _is_json(content_type: str | None) -> bool:
    """JSON by its media type, or no media type at all (FastAPI reads such a body as JSON)."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


class TrailingSlash:
    """Serves ``/path/`` as ``/path`` when only the latter is a route (no redirect, so no ``Location``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/") and "app" in scope:
            routes = scope["app"].router.routes
            if not _matches(routes, scope):
                stripped = {**scope, "path": path.rstrip("/") or "/"}
                if _matches(routes, stripped):
                    scope = stripped
        await self.app(scope, receive, send)


def _matches(routes: list[object], scope: Scope) -> bool:
    return any(route.matches(scope)[0] is not Match.NONE for route in routes)  # type: ignore[attr-defined]
