"""Every error leaves the service as JSON ``{"code", "message"}`` with the status that fits.

Domain errors (``polydesk.errors``) keep their stable ``code``; FastAPI's validation errors
become ``422 validation_error`` with the offending fields; anything unexpected becomes
``500 internal_error`` and is logged here, never shown to the client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from polydesk import errors

log = logging.getLogger("polydesk.api")
STORE_RETRY_AFTER_S = 2  # Retry-After of a 503 store_unavailable: about a Redis restart or a breaker's cool-down

# Most specific class first.
_STATUS: list[tuple[type[errors.PolydeskError], int]] = [
    (errors.FileTooLargeError, 413),
    (errors.TooManyFilesError, 413),
    (errors.UnsupportedTypeError, 415),
    (errors.UnsupportedEncodingError, 415),
    (errors.BodyTooLargeError, 413),
    (errors.InputError, 400),
    (errors.AuthenticationError, 401),
    (errors.PermissionDeniedError, 403),
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.RateLimitedError, 429),
    (errors.StorageFullError, 507),  # Insufficient Storage: not transient, so no Retry-After; someone must free space
    (errors.StoreError, 503),
    (errors.OverloadedError, 503),
    (errors.OutboundTimeoutError, 504),
    (errors.OutboundError, 502),
]
_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "too_large",
               415: "unsupported_type", 422: "validation_error", 429: "rate_limited", 502: "bad_gateway",
               503: "unavailable", 504: "gateway_timeout", 507: "insufficient_storage"}


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str = Field(description="stable, machine-readable; never changes once published",
                      examples=["validation_error"])
    message: str = Field(description="for humans", examples=["body.message: String should have at least 1 character"])
    details: list[dict[str, Any]] | None = Field(default=None, description="validation errors: field and problem")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's error statuses (``responses=error_responses(401, 403)``)."""
    return {status: {"model": ErrorBody, "description": _HTTP_CODES.get(status, "error")} for status in statuses}


def status_of(error: errors.PolydeskError) -> int:
    if error.code == "validation_error":
        return 422
    return next((status for kind, status in _STATUS if isinstance(error, kind)), 500)


def error_response(status: int, code: str, message: str, *, details: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(code=code, message=message, details=details).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def polydesk_response(exc: errors.PolydeskError, *, close: bool = False) -> JSONResponse:
    """The response for a domain error (``Retry-After`` on 429 and every 503, ``WWW-Authenticate`` on
    401, ``Server-Timing: queue;dur=<ms>`` on a refusal for overload, with ``admission;dur=<ms>``, its part in the
    admission's queue, once it got there). ``close``: also ``Connection: close``, for
    an answer given before the request body was read (the server drops the rest)."""
    status = status_of(exc)
    if status >= 500 and not isinstance(exc, errors.OverloadedError):  # a surge is counted, not logged per request
        log.error("%s: %s", exc.code, exc.message)
    retry_after = exc.retry_after_s if isinstance(exc, errors.RateLimitedError | errors.OverloadedError) else None
    if status == 503 and retry_after is None:  # a dependency down (Redis, the store): a connector retries shortly
        retry_after = STORE_RETRY_AFTER_S
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if isinstance(exc, errors.OverloadedError) and exc.queued_ms is not None:  # the wait the server saw
        timing = f"queue;dur={exc.queued_ms:.1f}"
        if exc.admission_ms is not None:
            timing += f", admission;dur={exc.admission_ms:.1f}"
        headers["Server-Timing"] = timing
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    if close:
        headers["Connection"] = "close"
    return error_response(status, exc.code, exc.message, headers=headers or None)


async def _polydesk_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.PolydeskError)
    return polydesk_response(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's request validation, or a pydantic model a route builds from validated parts."""
    assert isinstance(exc, RequestValidationError | ValidationError)
    details = [{"field": ".".join(str(part) for part in error.get("loc", ())), "problem": error.get("msg", "")}
               for error in exc.errors()]
    message = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:3]) or "invalid request"
    return error_response(422, "validation_error", message, details=details)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.PolydeskError, _polydesk_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
