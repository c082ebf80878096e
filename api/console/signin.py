"""Sign-in with an API key, sign-out, and the language switch.

Sign-in takes a content, agent or admin key (a connector or widget key is refused: they are for machines and for
a brand's page) and starts a session (``api.console.sessions``): an HttpOnly, ``SameSite=Strict`` cookie scoped
to ``/console``, Secure over HTTPS. The sign-in form is protected from cross-site posts by a double-submit token
(a cookie and the same value in the form), failed keys are throttled like the API's (``429 auth_throttled``), and
the key is never logged or kept.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Role
from api.console import i18n
from api.console.sessions import COOKIE
from api.console.web import (
    CSRF_FAILED,
    PREFIX,
    SECURITY_HEADERS,
    check_csrf,
    current_user,
    language_of,
    own_origin,
    render,
    secure_cookies,
)
from api.deps import ServicesDep
from polydesk.errors import AuthThrottledError, PermissionDeniedError

router = APIRouter(prefix=PREFIX, include_in_schema=False)

LOGIN_COOKIE = "polydesk_console_login"  # the sign-in form's double-submit token
SIGNS_IN: frozenset[Role] = frozenset({"content", "agent", "admin"})


HOMES: dict[Role, str] = {"content": "knowledge", "agent": "desk", "admin": "outcomes"}


def home_of(role: Role) -> str:
    """The page a role starts on."""
    return f"{PREFIX}/{HOMES.get(role, 'login')}"


def _safe_next(target: str | None) -> str | None:
    """Only a path of the console itself (never another site, never ``//host``)."""
    if not target or len(target) > 500:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX + "/") or "\\" in target:
        return None
    return target


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


@router.get("", response_class=Response)
def console_home(request: Request, services: ServicesDep) -> Response:
    user = current_user(request, services)
    return _redirect(home_of(user.caller.role) if user else f"{PREFIX}/login")


@router.get("/login", response_class=Response)
def login_page(request: Request, services: ServicesDep,
               next_page: Annotated[str | None, Query(alias="next")] = None) -> Response:
    user = current_user(request, services)
    if user is not None:
        return _redirect(_safe_next(next_page) or home_of(user.caller.role))
    return _login_form(request, services, next_page=_safe_next(next_page))


def _login_form(request: Request, services: ServicesDep, *, next_page: str | None, error: str | None = None,
                status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"login_token": token, "next_page": next_page or "", "error": error,
                                           "session_hours": f"{services.settings.console_session_hours:g}"},
                      status_code=status_code)
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path=f"{PREFIX}/login", httponly=True, samesite="strict",
                        secure=secure_cookies(request, services))
    return response


@router.post("/login", response_class=Response)
def login(request: Request, services: ServicesDep, key: Annotated[str, Form(max_length=512)],
          login_token: Annotated[str, Form(max_length=100)] = "",
          next_page: Annotated[str, Form(alias="next", max_length=500)] = "") -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    origin = request.headers.get("origin")
    if (origin is not None and origin != own_origin(request)) or not expected or not login_token \
            or not hmac.compare_digest(expected.encode(), login_token.encode()):
        raise PermissionDeniedError("the sign-in form is stale or came from another site: reload it and try again",
                                    code=CSRF_FAILED)
    t = i18n.translator(language_of(request))
    caller = services.keys.authenticate(key.strip())
    if caller is None:
        client = request.client.host if request.client else "unknown"
        retry_after = services.throttle.failed(client, key.strip() or "-", path=request.url.path)
        if retry_after is not None:
            raise AuthThrottledError(f"too many failed sign-ins from this client; retry in {retry_after} s",
                                     retry_after_s=retry_after)
        return _login_form(request, services, next_page=_safe_next(next_page), error=t("login.unknown_key"),
                           status_code=401)
    if caller.role not in SIGNS_IN:
        return _login_form(request, services, next_page=_safe_next(next_page),
                           error=t("login.role_refused", role=caller.role), status_code=403)
    raw_id, _ = services.console_sessions.create(key_id=caller.key_id)
    response = _redirect(_safe_next(next_page) or home_of(caller.role))
    response.set_cookie(COOKIE, raw_id, max_age=int(services.settings.console_session_hours * 3600), path=PREFIX,
                        httponly=True, samesite="strict", secure=secure_cookies(request, services))
    response.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login")
    return response


@router.post("/logout", response_class=Response)
async def logout(request: Request, services: ServicesDep) -> Response:
    user = current_user(request, services)
    if user is not None:
        await check_csrf(request, user.session.csrf)
        services.console_sessions.delete(request.cookies.get(COOKIE))
    response = _redirect(f"{PREFIX}/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@router.get("/lang/{code}", response_class=Response)
def switch_language(code: str, next_page: Annotated[str | None, Query(alias="next")] = None) -> Response:
    """Keep the chosen console language in a cookie (a preference, not a change of any data) and go back."""
    response = _redirect(_safe_next(next_page) or f"{PREFIX}/login")
    if code in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, code, max_age=365 * 86400, path=PREFIX, samesite="lax")
    return response

