"""Run cases against polydesk, in-process (an ``Agent``) or over HTTP (``POST /v1/answer``), and score them.

A target answers one message given as the JSON body of ``/v1/answer`` and returns the Reply JSON, so the two
modes are scored by the same code. Each case is one conversation (id ``eval-<run>-<case>``): its earlier
messages are sent first, then the message whose reply is scored. Cases run concurrently (``concurrency``
threads); scoring runs after all replies are in.

Example:
    >>> with Runtime.open(settings) as runtime:                                   # doctest: +SKIP
    ...     records = run_cases(cases, InProcessTarget(runtime.agent, tenant="tidewell"), run_id="r1")
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import httpx

from evals.metrics import CaseScorer
from evals.suite import Case
from polydesk.errors import PolydeskError

Record = dict[str, Any]
Progress = Callable[[int, int], None]


class TargetError(Exception):
    """A message the target refused or failed to answer: a stable ``code`` and a human ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code, self.message = code, message


class Target(Protocol):
    mode: str

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """The Reply JSON for one ``/v1/answer`` request body."""
        ...


class InProcessTarget:
    """An ``agent.pipeline.Agent`` in this process; ``tenant`` is what an API key would name."""

    mode = "in-process"

    def __init__(self, agent: Any, *, tenant: str) -> None:
        self.agent, self.tenant = agent, tenant

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        from agent.schema import AnswerRequest

        try:
            reply = self.agent.answer(AnswerRequest(tenant=self.tenant, **body))
        except PolydeskError as exc:
            raise TargetError(exc.code, exc.message) from exc
        return dict(reply.model_dump(mode="json"))


class HttpTarget:
    """A running polydesk service. ``client`` is injectable (a Starlette ``TestClient`` in tests)."""

    mode = "http"
    RATE_LIMIT_RETRIES = 3

    def __init__(self, base_url: str, *, api_key: str, client: httpx.Client | None = None,
                 timeout: httpx.Timeout | None = None) -> None:
        self.url = base_url.rstrip("/") + "/v1/answer"
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.client = client or httpx.Client(timeout=timeout or httpx.Timeout(60.0, connect=5.0))

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self.RATE_LIMIT_RETRIES + 1):
            try:
                response = self.client.post(self.url, json=body, headers=self.headers)
            except httpx.HTTPError as exc:
                raise TargetError("unreachable", f"POST {self.url}: {exc}") from exc
            if response.status_code != 429 or attempt == self.RATE_LIMIT_RETRIES:
                break
            # A rate-limited eval waits as told (bounded) rather than recording the case as failed.
            time.sleep(min(_seconds(response.headers.get("Retry-After")), 10.0))
        if response.status_code >= 400:
            try:
                error = response.json()
                code, message = str(error.get("code", response.status_code)), str(error.get("message", ""))
            except ValueError:
                code, message = str(response.status_code), response.text[:200]
            raise TargetError(code, f"HTTP {response.status_code}: {message}")
        return dict(response.json())

    def close(self) -> None:
        self.client.close()


def _seconds(retry_after: str | None) -> float:
    try:
        return max(0.0, float(retry_after or 1))
    except ValueError:
        return 1.0


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def ask(target: Target, case: Case, *, run_id: str) -> tuple[dict[str, Any] | None, dict[str, str] | None, float]:
    """Send a case's conversation; the last reply (or the error), and the seconds it took."""
    conversation_id = f"eval-{run_id}-{case.id}"[:128]
    began = time.perf_counter()
    reply: dict[str, Any] | None = None
    try:
        for message in [*case.history, case.message]:
            reply = target.answer({"channel": case.channel, "market": case.market, "message": message,
                                   "conversation_id": conversation_id, "metadata": {"eval_case": case.id}})
    except TargetError as exc:
        return None, {"code": exc.code, "message": exc.message}, time.perf_counter() - began
    return reply, None, time.perf_counter() - began


def run_cases(cases: Sequence[Case], target: Target, *, run_id: str, scorer: CaseScorer | None = None,
              concurrency: int = 1, progress: Progress | None = None) -> list[Record]:
    """One scored record per case, in the cases' order."""
    done = 0
    lock = threading.Lock()

    def one(case: Case) -> tuple[dict[str, Any] | None, dict[str, str] | None, float]:
        nonlocal done
        result = ask(target, case, run_id=run_id)
        with lock:
            done += 1
            if progress:
                progress(done, len(cases))
        return result

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        answers = list(pool.map(one, cases))
    scorer = scorer or CaseScorer()
    return [{"case": case.model_dump(mode="json"), "reply": reply, "error": error,
             "scores": scorer.score(case, reply), "seconds": round(seconds, 4)}
            for case, (reply, error, seconds) in zip(cases, answers, strict=True)]
