"""Load test of ``POST /v1/answer`` over loopback: throughput and latency at 1, 16 and 64 concurrent clients.

Ingests the demo brand into a temporary folder, starts ``polydesk serve`` (uvicorn, the
extractive generator, embedded Redis and Qdrant) as a separate process, and drives it with
asyncio httpx clients on the same machine. Every request is a new conversation with a
question from sixteen markets in eleven languages; polydesk keeps no answer cache, so no
request is served from one. Each level runs for ``--seconds`` (or ``--max-requests``),
after a warm-up; the median over ``--runs`` is reported with answers/s per core. The
load generator shares the machine's cores with the server: its share is reported too.

    .venv/bin/python -m bench.api_load [--runs 3] [--seconds 20] [--levels 1 16 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import polydesk  # noqa: F401  (offline switches first)
from bench.answer_latency import QUESTIONS, ingest_demo
from bench.report import machine, write_result
from polydesk.settings import Settings

KEY = "pd_bench_connector_key_0000000000"
MESSAGES = [(market, channel, message) for market, channel, question, follow_up in QUESTIONS
            for message in (question, follow_up)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def start_server(data_dir: Path, port: int, workers: int, *, keys: list[dict[str, str]] | None = None,
                 extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``polydesk serve`` on ``data_dir`` with the bench's connector key (or ``keys``), limits out of the way."""
    keys = keys or [{"key": KEY, "tenant": "tidewell", "role": "connector"}]
    env = {**os.environ, "POLYDESK_DATA_DIR": str(data_dir), "POLYDESK_API_KEYS": json.dumps(keys),
           "POLYDESK_RATE_LIMIT_PER_MINUTE": "1000000", "POLYDESK_RATE_LIMIT_BURST": "100000", **(extra or {})}
    command = [str(Path(sys.executable).parent / "polydesk"), "serve", "--port", str(port), "--workers", str(workers),
               "--log-level", "warning"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(base: str, server: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited: {(server.stderr.read() if server.stderr else b'').decode()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become ready")


async def level(base: str, clients: int, seconds: float, max_requests: int) -> dict[str, float]:
    """``clients`` concurrent loops, each sending one request after the other until time or count is up."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    sent = 0
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {KEY}"}

    async def client_loop(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal sent
        while time.perf_counter() < deadline and sent < max_requests:
            market, channel, message = MESSAGES[(offset + sent) % len(MESSAGES)]
            sent += 1
            began = time.perf_counter()
            try:
                response = await client.post("/v1/answer", headers=headers,
                                             json={"market": market, "channel": channel, "message": message})
            except httpx.HTTPError as exc:  # counted, not fatal: a load test reports what fails
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                continue
            if response.status_code == 200:
                latencies.append((time.perf_counter() - began) * 1000)
            else:
                failures[str(response.status_code)] = failures.get(str(response.status_code), 0) + 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        await asyncio.gather(*(client_loop(client, i * 7) for i in range(clients)))
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if failures:
        print(f"  {clients} clients: failures {failures}")
    return {"answers": len(latencies), "errors": sum(failures.values()), "answers_per_s": len(latencies) / elapsed,
            "p50_ms": _percentile(latencies, 0.5), "p95_ms": _percentile(latencies, 0.95),
            "p99_ms": _percentile(latencies, 0.99), "load_generator_cores": client_cpu / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="per concurrency level and run")
    parser.add_argument("--max-requests", type=int, default=20_000, help="per concurrency level and run")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        ingest_demo(Settings(data_dir=data_dir, _env_file=None))  # type: ignore[call-arg]
        server = start_server(data_dir, args.port, workers=1)
        try:
            wait_ready(base, server)
            asyncio.run(level(base, 8, 5.0, 200))  # warm-up
            runs = [{str(c): asyncio.run(level(base, c, args.seconds, args.max_requests)) for c in args.levels}
                    for _ in range(args.runs)]
        finally:
            server.terminate()
            server.wait(timeout=30)

    cores = os.cpu_count() or 1
    median = {str(c): {metric: round(statistics.median(run[str(c)][metric] for run in runs), 2)
                       for metric in runs[0][str(c)]} for c in args.levels}
    for values in median.values():
        values["answers_per_s_per_core"] = round(values["answers_per_s"] / cores, 2)
    result = {"machine": machine(), "generator": "extractive", "server": "polydesk serve, 1 uvicorn process",
              "seconds_per_level": args.seconds, "runs": args.runs, "median": median,
              "per_run": [{c: {k: round(v, 2) for k, v in r.items()} for c, r in run.items()} for run in runs]}
    path = write_result("api_load", result)
    print(f"{cores} cores; medians over {args.runs} runs of {args.seconds:.0f} s per level:")
    for clients, values in median.items():
        print(f"  {clients:>3} clients: {values['answers_per_s']:7.1f} answers/s "
              f"({values['answers_per_s_per_core']:.1f}/core)  p50 {values['p50_ms']:7.1f}  "
              f"p95 {values['p95_ms']:7.1f}  p99 {values['p99_ms']:7.1f} ms  errors {values['errors']:.0f}  "
              f"load generator {values['load_generator_cores']:.2f} cores")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
