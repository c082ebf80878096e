"""Chat channels end to end over loopback: webhook acknowledgement latency and messages answered per second.

Ingests the demo brand into a temporary folder, starts ``polydesk serve`` (one uvicorn process, the
extractive generator, embedded Redis and Qdrant, the channel workers) with a LINE account whose API base is a
fake LINE platform on loopback (``tests.api.channel_fakes``: a real HTTP server that records every call).
Each run then POSTs ``--messages`` webhooks, each signed exactly as LINE signs them (base64 HMAC-SHA256 of the
raw body with the channel secret), one customer per message, from ``--clients`` concurrent senders as fast
as the server acknowledges them, and measures

- the acknowledgement latency (request sent → 200 received): the platform's view, which must stay low
  while answers are being produced (target p95 ≤ 20 ms); the answer is produced after the acknowledgement;
- messages per second end to end: messages / (first webhook sent → last reply received at the fake
  platform), which includes the debounce window (``--debounce``, 2 s by default, as shipped) once.

A burst (all webhooks as fast as they are acknowledged: they are all in before the first debounce window
closes, so this shows the acknowledgement alone and the answering throughput) and then paced runs at
``--rate`` webhooks/s (acknowledgements while the same process is answering, as in production).

Medians over ``--runs``; the load generator shares the machine's cores with the server.

    .venv/bin/python -m bench.channels [--runs 3] [--messages 300] [--clients 4] [--debounce 2] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

import polydesk  # noqa: F401  (offline switches first)
from api.channels.line import signature
from bench.answer_latency import QUESTIONS, ingest_demo
from bench.api_load import _percentile, start_server, wait_ready
from bench.report import machine, write_result
from polydesk.settings import Settings
from tests.api.channel_fakes import FakePlatform, serve_platform

SECRET = "bench-line-channel-secret"
WEBHOOK = "/v1/channels/line/tidewell/webhook"
TEXTS = [question for _, _, question, _ in QUESTIONS]


def line_payload(text: str, user: str) -> bytes:
    """A LINE webhook with one text message event, as the Messaging API sends it."""
    event = {"type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
             "webhookEventId": uuid.uuid4().hex.upper()[:26], "deliveryContext": {"isRedelivery": False},
             "replyToken": uuid.uuid4().hex, "source": {"type": "user", "userId": user},
             "message": {"id": str(int(time.time() * 1e6)), "type": "text", "quoteToken": "q", "text": text}}
    return json.dumps({"destination": "U" + "0" * 32, "events": [event]}, ensure_ascii=False).encode()


async def one_run(base: str, platform: FakePlatform, messages: int, clients: int, timeout_s: float,
                  rate: float = 0.0) -> dict[str, float]:
    users = [f"U{uuid.uuid4().hex}" for _ in range(messages)]
    bodies = [line_payload(TEXTS[i % len(TEXTS)], user) for i, user in enumerate(users)]
    acks: list[float] = []
    errors = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    before = len(platform.delivered("/v2/bot/message/"))

    started = time.perf_counter()
    sent = 0

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal errors, sent
        while not queue.empty():
            body = queue.get_nowait()
            if rate:  # paced: message n leaves at n / rate, so answers are being produced meanwhile
                await asyncio.sleep(max(0.0, started + sent / rate - time.perf_counter()))
            sent += 1
            headers = {"Content-Type": "application/json", "X-Line-Signature": signature(body, SECRET)}
            began = time.perf_counter()
            response = await client.post(f"{base}{WEBHOOK}", content=body, headers=headers)
            acks.append((time.perf_counter() - began) * 1000)
            errors += response.status_code != 200

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(sender(client) for _ in range(clients)))
    sent_s = time.perf_counter() - started
    deadline = time.monotonic() + timeout_s
    while len(platform.delivered("/v2/bot/message/")) - before < messages - errors:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    answered = len(platform.delivered("/v2/bot/message/")) - before
    elapsed = time.perf_counter() - started
    return {"ack_p50_ms": _percentile(acks, 0.5), "ack_p95_ms": _percentile(acks, 0.95),
            "ack_p99_ms": _percentile(acks, 0.99), "acks_per_s": messages / sent_s,
            "messages_per_s": answered / elapsed, "answered": answered, "errors": errors}


def server_buckets(base: str) -> dict[float, float]:
    """The server's own webhook latency histogram (``/metrics``): upper bound in seconds -> count so far."""
    found: dict[float, float] = {}
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("polydesk_http_request_seconds_bucket{") and WEBHOOK.replace("line/tidewell",
                                                                                     "{channel}/{tenant}") in line:
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            found[float("inf") if bound == "+Inf" else float(bound)] = float(line.rsplit(" ", 1)[1])
    return found


def within(before: dict[float, float], after: dict[float, float], bound: float) -> float:
    """The share of the webhooks between two readings the server handled within ``bound`` seconds."""
    total = after[float("inf")] - before.get(float("inf"), 0.0)
    return (after[bound] - before.get(bound, 0.0)) / total if total else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=300, help="webhooks per run, one customer each")
    parser.add_argument("--clients", type=int, default=4, help="concurrent senders (the platform's connections)")
    parser.add_argument("--debounce", type=float, default=2.0, help="POLYDESK_CHANNEL_DEBOUNCE_S")
    parser.add_argument("--rate", type=float, default=20.0,
                        help="webhooks/s of the paced runs, which acknowledge while answers are produced")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()

    base = f"http://127.0.0.1:{args.port}"
    platforms = serve_platform()
    platform = next(platforms)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        ingest_demo(Settings(data_dir=data_dir, _env_file=None))  # type: ignore[call-arg]
        channels = data_dir / "channels.json"
        channels.write_text(json.dumps({"tidewell": {"line": {
            "channel_secret": SECRET, "access_token": "bench-token", "market": "TH", "api_base": platform.url}}}))
        os.environ.update({"POLYDESK_CHANNELS": str(channels), "POLYDESK_CHANNEL_DEBOUNCE_S": str(args.debounce)})
        server = start_server(data_dir, args.port, workers=1)
        try:
            wait_ready(base, server)
            asyncio.run(one_run(base, platform, 40, args.clients, timeout_s=120))  # warm-up
            runs = [asyncio.run(one_run(base, platform, args.messages, args.clients, timeout_s=600))
                    for _ in range(args.runs)]
            before = server_buckets(base)
            paced = [asyncio.run(one_run(base, platform, args.messages, args.clients, timeout_s=600,
                                         rate=args.rate)) for _ in range(args.runs)]
            after = server_buckets(base)
        finally:
            server.terminate()
            server.wait(timeout=30)
            next(platforms, None)

    median: dict[str, Any] = {metric: round(statistics.median(run[metric] for run in runs), 2) for metric in runs[0]}
    steady: dict[str, Any] = {metric: round(statistics.median(run[metric] for run in paced), 2)
                              for metric in paced[0]}
    steady["server_within_10_ms"] = round(within(before, after, 0.01), 4)
    steady["server_within_20_ms"] = round(within(before, after, 0.02), 4)
    result = {"machine": machine(), "generator": "extractive", "server": "polydesk serve, 1 uvicorn process",
              "channel": "line", "messages_per_run": args.messages, "clients": args.clients,
              "debounce_s": args.debounce, "runs": args.runs, "median": median, "paced_rate": args.rate,
              "median_paced": steady, "per_run": [{k: round(v, 2) for k, v in run.items()} for run in runs],
              "per_run_paced": [{k: round(v, 2) for k, v in run.items()} for run in paced]}
    path = write_result("channels", result)
    print(f"{os.cpu_count()} cores; medians over {args.runs} runs of {args.messages} LINE webhooks "
          f"from {args.clients} senders (debounce {args.debounce:g} s):")
    print(f"  acknowledgement p50 {median['ack_p50_ms']:.1f}  p95 {median['ack_p95_ms']:.1f}  "
          f"p99 {median['ack_p99_ms']:.1f} ms  ({median['acks_per_s']:.0f} webhooks/s accepted)")
    print(f"  end to end: {median['messages_per_s']:.1f} messages answered/s "
          f"({median['answered']:.0f} of {args.messages}, {median['errors']:.0f} refused)")
    print(f"  paced at {args.rate:g} webhooks/s (answers produced meanwhile): acknowledgement "
          f"p50 {steady['ack_p50_ms']:.1f}  p95 {steady['ack_p95_ms']:.1f}  p99 {steady['ack_p99_ms']:.1f} ms; "
          f"{steady['messages_per_s']:.1f} messages answered/s; in the server (its /metrics) "
          f"{steady['server_within_10_ms']:.1%} within 10 ms, {steady['server_within_20_ms']:.1%} within 20 ms")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
