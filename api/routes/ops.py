"""For operators: ``/healthz`` (the process is up), ``/readyz`` (it can answer), ``/metrics`` (Prometheus)."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import ServicesDep
from polydesk.errors import PolydeskError

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(description="'ready' or 'not_ready'", examples=["ready"])
    checks: dict[str, str] = Field(description="per dependency: 'ok' or what is wrong",
                                   examples=[{"redis": "ok", "store": "ok", "model": "ok"}])
    inbox: int = Field(description="messages kept while a dependency was down, waiting for `polydesk inbox replay`")


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(services: ServicesDep) -> Readiness | JSONResponse:
    checks = {
        "redis": _check(services.conversations.ping),
        "store": _check(services.index.ping),
        "model": _check(lambda: services.index.embed_query("ok")),
    }
    if services.warm is not None:
        checks["warm_up"] = "ok" if services.warm.is_set() else "running"
    ready = all(state == "ok" for state in checks.values())
    body = Readiness(status="ready" if ready else "not_ready", checks=checks, inbox=len(services.inbox.pending()))
    return body if ready else JSONResponse(body.model_dump(), status_code=503)


def _check(probe: Callable[[], object]) -> str:
    began = time.perf_counter()
    try:
        probe()
    except PolydeskError as exc:
        return f"{exc.code}: {exc.message}"
    except Exception as exc:  # a dependency can fail in any way; readiness reports it, never raises
        return f"{type(exc).__name__}: {exc}"
    return "ok" if time.perf_counter() - began < 5 else "slow"


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(services: ServicesDep) -> Response:
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
