"""The console on the app: its routes, its static files and its error pages (``install(app)``)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.console import desk, evals, knowledge, outcomes, personas, signin
from api.console.web import PREFIX, SECURITY_HEADERS, SignInRequired, error_page, is_console
from polydesk.errors import InputError, NotFoundError, PolydeskError

STATIC = f"{PREFIX}/static"


def install(app: FastAPI) -> None:
    """Serve the console under ``/console`` on ``app`` (after ``api.errors.install``: it wraps those handlers)."""
    for module in (signin, knowledge, personas, desk, outcomes, evals):
        app.include_router(module.router)
    folder = Path(str(resources.files("api").joinpath("console", "static")))
    app.mount(STATIC, StaticFiles(directory=folder), name="console-static")

    json_error = app.exception_handlers[PolydeskError]
    json_validation = app.exception_handlers[RequestValidationError]
    json_http = app.exception_handlers[StarletteHTTPException]

    async def sign_in(request: Request, _: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PREFIX}/login?next={quote(target, safe='')}", status_code=303,
                                headers=SECURITY_HEADERS)

    async def domain_error(request: Request, exc: Exception) -> Response:
        if is_console(request) and isinstance(exc, PolydeskError):
            return error_page(request, exc)
        return await _delegate(json_error, request, exc)

    async def validation_error(request: Request, exc: Exception) -> Response:
        if is_console(request) and isinstance(exc, RequestValidationError):
            problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                                 for e in exc.errors()[:3])
            return error_page(request, InputError(problems or "invalid form", code="validation_error"))
        return await _delegate(json_validation, request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        if is_console(request) and isinstance(exc, StarletteHTTPException) and exc.status_code == 404:
            return error_page(request, NotFoundError("no such console page"))
        return await _delegate(json_http, request, exc)

    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(PolydeskError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


async def _delegate(handler: Callable[[Request, Exception], Response | Awaitable[Response]], request: Request,
                    exc: Exception) -> Response:
    """The API's own handler for a request that is not the console's."""
    result = handler(request, exc)
    return await result if inspect.isawaitable(result) else result
