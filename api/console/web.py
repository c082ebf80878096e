"""What every console page shares: the signed-in user, CSRF, the templates and the error pages.

A page route reads like an API route: ``def page(request: Request, user: ContentUser, services: ServicesDep)``.
``user.caller`` is the very ``Caller`` the API builds for the session's key (same tenant, role, agent id), so a
page calls the API's own functions and domain code with it and allows exactly what the API allows that key.

- No session (or an ended one, or its key no longer configured): a page redirects to ``/console/login?next=…``;
  a script call (``Accept: application/json``) gets ``401 unauthenticated`` as JSON.
- A role that may not see the page: ``403`` with a page that says which key it needs.
- Every ``POST`` needs the session's CSRF token, as the ``csrf`` form field or the ``X-CSRF-Token`` header, and,
  when the browser sends ``Origin``, the console's own origin; else ``403 csrf_failed`` and nothing happens.
- Every answer carries a strict Content-Security-Policy (scripts and styles from ``/console/static`` only),
  ``X-Frame-Options: DENY`` and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from api.auth import Caller, Role
from api.console import i18n
from api.console.sessions import COOKIE, ConsoleSession
from api.deps import Services, ServicesDep
from api.errors import status_of
from polydesk.errors import AuthenticationError, PermissionDeniedError, PolydeskError

PREFIX = "/console"
CSRF_FAILED = "csrf_failed"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# The pages, in the order of the navigation: path, the role a key needs, the label's key.
PAGES: tuple[tuple[str, Role, str], ...] = (
    ("knowledge", "content", "nav.knowledge"),
    ("personas", "content", "nav.personas"),
    ("desk", "agent", "nav.desk"),
    ("outcomes", "admin", "nav.outcomes"),
    ("evals", "admin", "nav.evals"),
)


class SignInRequired(Exception):
    """No live session: a page sends the browser to the sign-in page."""


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in key's caller and its session (whose ``csrf`` the forms carry)."""

    caller: Caller
    session: ConsoleSession

    def may(self, role: Role) -> bool:
        return self.caller.allows(role)


def current_user(request: Request, services: Services) -> ConsoleUser | None:
    """The user of the request's session cookie, or None (no cookie, an ended session, a key removed since)."""
    session = services.console_sessions.get(request.cookies.get(COOKIE))
    if session is None:
        return None
    caller = services.keys.by_id(session.key_id)
    return None if caller is None else ConsoleUser(caller=caller, session=session)


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "") or request.url.path.endswith(".json")


def require_user(role: Role) -> Any:
    """A dependency: the signed-in user whose key may do ``role``'s work; a POST must carry the CSRF token."""

    async def dependency(request: Request, services: ServicesDep) -> ConsoleUser:
        user = current_user(request, services)
        if user is None:
            if wants_json(request):
                raise AuthenticationError("sign in to the console first")
            raise SignInRequired
        if not user.may(role):
            raise PermissionDeniedError(f"a {user.caller.role} key may not open this page; it needs "
                                        f"{'an admin key' if role == 'admin' else f'a {role} or admin key'}")
        services.limiter.check(user.caller.key_id)
        if request.method == "POST":
            await check_csrf(request, user.session.csrf)
        return user

    return Depends(dependency)


ContentUser = Annotated[ConsoleUser, require_user("content")]
DeskUser = Annotated[ConsoleUser, require_user("agent")]
AdminUser = Annotated[ConsoleUser, require_user("admin")]


async def check_csrf(request: Request, expected: str) -> FormData | None:
    """Refuse (``403 csrf_failed``) a POST without the token, or from another origin. The form, when read."""
    origin = request.headers.get("origin")
    if origin is not None and origin != own_origin(request):
        raise PermissionDeniedError("this form was sent from another site", code=CSRF_FAILED)
    sent = request.headers.get("x-csrf-token")
    form: FormData | None = None
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise PermissionDeniedError("the form's security token is missing or stale: reload the page and try again",
                                    code=CSRF_FAILED)
    return form


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def secure_cookies(request: Request, services: Services) -> bool:
    setting = services.settings.console_secure_cookie
    return request.url.scheme == "https" if setting is None else setting


# -- rendering ---------------------------------------------------------------------------------------------------


@cache
def templates() -> Jinja2Templates:
    folder = Path(str(resources.files("api").joinpath("console", "templates")))
    environment = Jinja2Templates(directory=folder)
    environment.env.autoescape = True
    return environment


def language_of(request: Request) -> str:
    return i18n.negotiate(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           user: ConsoleUser | None = None, status_code: int = 200) -> HTMLResponse:
    """A page in the user's console language, with the navigation the user's role allows."""
    language = language_of(request)
    values: dict[str, Any] = {
        "t": i18n.translator(language), "lang": language, "html_lang": i18n.HTML_LANG[language],
        "languages": i18n.LANGUAGES, "user": user, "csrf": user.session.csrf if user else "",
        "nav": [(name, label) for name, role, label in PAGES if user is not None and user.may(role)],
        "here": request.url.path, "here_quoted": quote(str(request.url.path) + (
            f"?{request.url.query}" if request.url.query else ""), safe=""),
    }
    values.update(context or {})
    return templates().TemplateResponse(request, template, values, status_code=status_code,
                                        headers=SECURITY_HEADERS)


def json_response(data: Any, *, status_code: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status_code, headers=SECURITY_HEADERS)


def error_page(request: Request, exc: PolydeskError) -> Response:
    """A console page's error: its code and message on a page (JSON for a script call)."""
    status = status_of(exc)
    if wants_json(request):
        return json_response({"code": exc.code, "message": exc.message}, status_code=status)
    user = None
    services: Services | None = getattr(request.app.state, "services", None)
    if services is not None and not isinstance(exc, AuthenticationError):
        try:
            user = current_user(request, services)
        except PolydeskError:
            user = None
    return render(request, "error.html", {"status": status, "code": exc.code, "message": exc.message},
                  user=user, status_code=status)


def is_console(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")
