"""Fault scenario 6 (issue 21): slow dependencies, then their recovery.

``slow_redis``: ``polydesk serve`` reaches its redis-server through a loopback TCP proxy that, once switched on,
holds every reply from Redis for 2 s (past ``redis_timeout_s`` = 1 s). Requests end within their deadline with a
503 ``Retry-After`` (the circuit breaker makes most fail at once); the delay is removed and answers are normal again.

``hanging_llm``: ``POLYDESK_LLM_MODEL=openai/x`` against a loopback server on the OpenAI chat-completions route that
accepts the request and never answers (``llm_timeout_s`` = 2 s): every reply comes from the extractive fallback
(``fallback_reason: timeout``) or is a 503 ``overloaded`` with ``Retry-After``; then the server answers again and
replies come from the LLM.

Counted: ``unexpected`` (no reply within the client's 60 s, or a status other than 200 / 503 with Retry-After),
``not_degraded`` (a 200 during the fault that is not the degraded behaviour), ``failed_after_recovery`` (once the
dependency is back and one request has been answered normally again, which a circuit breaker's probe needs:
anything but a normal reply or a 503 ``overloaded``, which is the service's normal answer to more load than it
takes, counted apart). ``over_deadline`` (a request past its deadline plus a margin)
and the slowest request are reported, not judged: the machine is shared.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.answer_latency import QUESTIONS
from bench.fake_llm import FakeLLM
from bench.fault_kit import CONNECTOR_KEY, FaultResult, RedisProcess, ServeProcess, free_port, seeded_data_dir


class DelayProxy:
    """A loopback TCP proxy to ``127.0.0.1:upstream``; while ``delay_s`` > 0 every chunk the upstream sends back is
    held that long before it is passed on (a Redis that answers late)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.delay_s = 0.0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)

    def start(self) -> DelayProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, delayed: bool) -> None:
            try:
                while chunk := await source.read(65536):
                    if delayed and self.delay_s > 0:
                        await asyncio.sleep(self.delay_s)
                    sink.write(chunk)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pump(reader, up_writer, False), pump(up_reader, writer, True))


Judge = Callable[[int, dict[str, Any] | None], str]  # (status, body) -> "normal" | "degraded" | "other"


async def _phase(base: str, clients: int, per_client: int, judge: Judge, deadline_s: float,
                 margin_s: float) -> tuple[Counter[str], float]:
    """``clients`` closed loops of ``per_client`` new conversations; the outcome of each request, judged."""
    outcomes: Counter[str] = Counter()
    slowest = 0.0

    async def client(number: int, http: httpx.AsyncClient) -> None:
        nonlocal slowest
        for i in range(per_client):
            market, channel, question, _ = QUESTIONS[(number * 3 + i) % len(QUESTIONS)]
            began = time.perf_counter()
            try:
                response = await http.post("/v1/answer", json={"market": market, "channel": channel,
                                                               "message": question})
            except httpx.HTTPError:
                outcomes["no_reply"] += 1
                continue
            elapsed = time.perf_counter() - began
            slowest = max(slowest, elapsed)
            if elapsed > deadline_s + margin_s:
                outcomes["over_deadline"] += 1
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None
            if response.status_code == 503 and "Retry-After" in response.headers:
                outcomes["refused_503"] += 1
                outcomes[f"code {(body or {}).get('code')}"] += 1  # which 503s, for the notes
                await asyncio.sleep(min(float(response.headers["Retry-After"]), 0.5))
            else:
                outcomes[judge(response.status_code, body)] += 1

    headers = {"Authorization": f"Bearer {CONNECTOR_KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        await asyncio.gather(*(client(n, http) for n in range(clients)))
    return outcomes, slowest


def _recovered(base: str, normal: Judge, timeout_s: float = 60.0) -> float:
    """Seconds until one request is answered normally again (a breaker's probe closes it), one at a time."""
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {CONNECTOR_KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        while time.monotonic() - started < timeout_s:
            response = client.post("/v1/answer", json={"market": "ID", "channel": "whatsapp",
                                                       "message": "Berapa lama waktu pengembalian barang?"})
            if normal(response.status_code, response.json()) == "normal":
                break
            time.sleep(0.2)
    return time.monotonic() - started


def _result(name: str, load: str, fault: str, during: Counter[str], after: Counter[str], slowest: float,
            deadline_s: float) -> FaultResult:
    def total(outcomes: Counter[str]) -> int:
        return sum(n for key, n in outcomes.items() if key != "over_deadline" and not key.startswith("code "))

    counts = {"during_fault": total(during), "degraded": during["degraded"],
              "refused_503": during["refused_503"], "not_degraded": during["normal"],
              "unexpected": during["other"] + during["no_reply"] + after["no_reply"],
              "over_deadline": during["over_deadline"], "after_recovery": total(after),
              "failed_after_recovery": after["other"] + after["degraded"] + after["no_reply"]
              + after["refused_503"] - after["code overloaded"],
              "overloaded_after_recovery": after["code overloaded"]}
    seen = {"during": _codes(during), "after": _codes(after)}
    return FaultResult(scenario=name, load=load, fault=fault, counts=counts,
                       notes="; ".join(f"503 codes {when}: {codes}" for when, codes in seen.items() if codes),
                       must_be_zero=("not_degraded", "unexpected", "failed_after_recovery"),
                       figures={"deadline_s": deadline_s, "slowest_request_s": round(slowest, 2)})


def _codes(outcomes: Counter[str]) -> str:
    return ", ".join(f"{key.removeprefix('code ')} {n}" for key, n in outcomes.items() if key.startswith("code "))


def slow_redis(*, full: bool = False, workdir: Path | None = None) -> FaultResult:
    """Redis behind a proxy that holds its replies 2 s (deadline 1 s), then answers at once again."""
    clients, per_client, recovered = (16, 20, 10) if full else (8, 4, 3)
    timeout_s, cooldown_s = 1.0, 1.0

    def judge_during(status: int, body: dict[str, Any] | None) -> str:
        return "degraded" if status == 200 and body and body.get("fallback_reason") == "dependency_unavailable" \
            else "normal" if status == 200 else "other"

    def judge_after(status: int, body: dict[str, Any] | None) -> str:
        return "normal" if status == 200 and body and body.get("generator") != "none" else "other"

    with tempfile.TemporaryDirectory(prefix="polydesk-fault-slow-redis-") as tmp:
        root = workdir or Path(tmp)
        data_dir = seeded_data_dir(root / "data")
        with RedisProcess(root / "redis", persistence="none") as redis_server:
            proxy = DelayProxy(redis_server.port).start()
            serve = ServeProcess(data_dir, env={"POLYDESK_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0",
                                                "POLYDESK_REDIS_TIMEOUT_S": str(timeout_s),
                                                "POLYDESK_REDIS_BREAKER_COOLDOWN_S": str(cooldown_s)})
            try:
                serve.start()
                proxy.delay_s = 2.0
                # a request makes a few Redis calls; each waits at most the deadline, the breaker fails the rest
                deadline_s = 3 * timeout_s
                during, slow_during = asyncio.run(_phase(serve.base, clients, per_client, judge_during,
                                                         deadline_s, 2.0))
                proxy.delay_s = 0.0
                recovery_s = _recovered(serve.base, judge_after)
                after, slow_after = asyncio.run(_phase(serve.base, clients, recovered, judge_after, deadline_s, 2.0))
            finally:
                serve.stop()
                proxy.stop()
    result = _result("slow Redis (replies after 2 s)", f"{clients} clients, {clients * per_client} + "
                   f"{clients * recovered} questions", f"every Redis reply held 2 s (deadline {timeout_s:g} s), "
                   "then none", during, after, max(slow_during, slow_after), deadline_s)
    result.figures["recovered_after_s"] = round(recovery_s, 2)
    return result


def hanging_llm(*, full: bool = False, workdir: Path | None = None) -> FaultResult:
    """An LLM provider that accepts and never answers (deadline 2 s), then answers again."""
    clients, per_client, recovered = (16, 10, 5) if full else (6, 3, 2)
    llm_timeout_s = 2.0

    def judge_during(status: int, body: dict[str, Any] | None) -> str:
        if status != 200 or not body:
            return "other"
        fell_back = body.get("generator") == "extractive" or body.get("fallback_reason") is not None
        return "degraded" if fell_back or body.get("escalation", {}).get("escalate") else "normal"

    def judge_after(status: int, body: dict[str, Any] | None) -> str:
        if status != 200 or not body:
            return "other"
        return "other" if body.get("fallback_reason") == "timeout" else "normal"

    fake = FakeLLM()
    fake.hang.set()
    try:
        with tempfile.TemporaryDirectory(prefix="polydesk-fault-llm-") as tmp:
            root = workdir or Path(tmp)
            data_dir = seeded_data_dir(root / "data")
            serve = ServeProcess(data_dir, env={**fake.env(), "POLYDESK_LLM_TIMEOUT_S": str(llm_timeout_s)})
            try:
                serve.start()
                # queue budget + the LLM's deadline + the rest of the pipeline
                deadline_s = llm_timeout_s + 1.0
                during, slow_during = asyncio.run(_phase(serve.base, clients, per_client, judge_during,
                                                         deadline_s, 2.0))
                calls_during = fake.calls
                fake.hang.clear()
                recovery_s = _recovered(serve.base, judge_after)
                calls_before = fake.calls
                after, slow_after = asyncio.run(_phase(serve.base, clients, recovered, judge_after, deadline_s, 2.0))
                answered_by_llm = fake.calls - calls_before
            finally:
                serve.stop()
    finally:
        fake.stop()
    result = _result("hanging LLM provider", f"{clients} clients, {clients * per_client} + {clients * recovered} "
                     "questions", f"chat completions accepted, never answered (deadline {llm_timeout_s:g} s), then "
                     "answered", during, after, max(slow_during, slow_after), deadline_s)
    result.counts["llm_calls_after_recovery"] = answered_by_llm
    result.counts["llm_calls_during_fault"] = calls_during
    result.figures["recovered_after_s"] = round(recovery_s, 2)
    return result


SCENARIOS: dict[str, Callable[..., FaultResult]] = {"slow_redis": slow_redis, "hanging_llm": hanging_llm}

if __name__ == "__main__":
    for scenario in SCENARIOS.values():
        print(scenario())
