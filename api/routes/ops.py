"""For operators: ``/healthz`` (the process is up), ``/readyz`` (it can answer), ``/metrics`` (Prometheus).

All three run on the event loop and take no dependency that needs a worker thread, so they answer
while every thread is busy with requests stuck on a dependency. ``/healthz`` touches nothing but the
process; ``/metrics`` reads in-process counters. ``/readyz`` runs each probe (Redis, store, model, the
inbox count) in a small thread pool of its own with a time limit (``readiness_timeout_s``; Redis also
has its own deadline): a probe without an answer in time reports its dependency down, and is not
started again while it still runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import get_services
from polydesk.errors import PolydeskError

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(description="'ready' or 'not_ready'", examples=["ready"])
    checks: dict[str, str] = Field(description="per dependency: 'ok' or what is wrong",
                                   examples=[{"redis": "ok", "store": "ok", "model": "ok"}])
    inbox: int = Field(description="messages kept while a dependency was down, waiting for `polydesk inbox replay` "
                                   "(-1 when they could not be counted in time)")


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request) -> Readiness | JSONResponse:
    services = get_services(request)
    probes = _probes(request)
    limit = services.settings.readiness_timeout_s
    names = ("redis", "store", "model", "inbox")
    results = await asyncio.gather(
        probes.run("redis", services.conversations.ping, min(limit, 2 * services.settings.redis_timeout_s)),
        probes.run("store", services.index.ping, limit),
        probes.run("model", lambda: services.index.embed_query("ok"), limit),
        probes.run("inbox", services.inbox.count, limit),
    )
    outcome = dict(zip(names, results, strict=True))
    inbox = outcome.pop("inbox")
    checks = {name: "ok" if isinstance(value, _Ok) else str(value) for name, value in outcome.items()}
    if services.warm is not None:
        checks["warm_up"] = "ok" if services.warm.is_set() else "running"
    ready = all(state == "ok" for state in checks.values())
    body = Readiness(status="ready" if ready else "not_ready", checks=checks,
                     inbox=inbox.value if isinstance(inbox, _Ok) and isinstance(inbox.value, int) else -1)
    return body if ready else JSONResponse(body.model_dump(), status_code=503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request) -> Response:
    return Response(get_services(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


class _Ok:
    def __init__(self, value: object) -> None:
        self.value = value


class _Probes:
    """The readiness probes of one app: each in a daemon thread of its own (one that hangs keeps neither a
    request nor the interpreter's exit waiting), at most one run of each at a time."""

    def __init__(self) -> None:
        self.running: dict[str, Future[object]] = {}
        self.lock = threading.Lock()

    async def run(self, name: str, probe: Callable[[], object], limit_s: float) -> _Ok | str:
        with self.lock:
            future = self.running.get(name)
            if future is None or future.done():
                future = self.running[name] = Future()
                threading.Thread(target=_settle, args=(future, probe), name=f"polydesk-readyz-{name}",
                                 daemon=True).start()
        waited = asyncio.wrap_future(future)
        waited.add_done_callback(_retrieve)  # a probe that fails after its limit is not logged as never retrieved
        try:
            return _Ok(await asyncio.wait_for(asyncio.shield(waited), timeout=limit_s))
        except TimeoutError:
            return f"timeout: no answer within {limit_s:g} s"
        except PolydeskError as exc:
            return f"{exc.code}: {exc.message}"
        except Exception as exc:  # a dependency can fail in any way; readiness reports it, never raises
            return f"{type(exc).__name__}: {exc}"


def _retrieve(waited: asyncio.Future[object]) -> None:
    if not waited.cancelled():
        waited.exception()


def _settle(future: Future[object], probe: Callable[[], object]) -> None:
    try:
        future.set_result(probe())
    except BaseException as exc:  # handed to the request that waits
        future.set_exception(exc)


_probes_lock = threading.Lock()


def _probes(request: Request) -> _Probes:
    state = request.app.state
    with _probes_lock:
        probes: _Probes | None = getattr(state, "readiness_probes", None)
        if probes is None:
            probes = state.readiness_probes = _Probes()
    return probes

