"""Fault scenarios on the serving side (issue 21): Redis restarted under load, and slow dependencies.

``redis_restart_aof`` / ``redis_restart_rdb``: ``polydesk serve`` against a redis-server on a loopback TCP port
(AOF ``appendfsync everysec``, or RDB snapshots only); 16 clients write to their own conversations (a question,
its follow-up, and in every third conversation a request for a person, in the market's language), each message
with an ``Idempotency-Key``, a ``503`` with ``Retry-After`` retried after it. Redis gets SIGKILL mid-load and is
started again on the same port and folder. Then every conversation is read back through the API and the events
stream through Redis, and counted:

- ``lost``: a message answered (200, a real reply) whose customer turn is missing from its conversation;
- ``stored_twice``: a customer turn stored more than once (a retry answered again although its first attempt
  was saved: the idempotent reply is written in the turn's own transaction, so this must not happen);
- ``handoff_event_missing``: a conversation handed off (the reply's ``escalation.escalate``) with no ``handoff``
  event;
- ``degraded_not_kept``: a degraded reply ("a colleague will get back to you") whose message is not in the inbox;
- ``unexpected``: anything but a reply, the degraded reply, or a 503 with ``Retry-After`` (a ``409
  idempotency_in_progress`` is retried after 0.5 s, as its message asks, and counted as ``retried_409``; a claim
  left stuck would make the message give up after 30 attempts: ``gave_up``).

With RDB only, what was acknowledged since the last snapshot is lost with the process: ``lost`` and
``handoff_event_missing`` are measured and reported, not required to be zero.

``slow_dependencies`` lives in ``bench.faults_slow``; the receivers flapping in ``bench.faults_receivers``.

    .venv/bin/python -m bench.faults            # every scenario, a table
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.answer_latency import QUESTIONS
from bench.fault_kit import ADMIN_KEY, CONNECTOR_KEY, FaultResult, RedisProcess, ServeProcess, seeded_data_dir
from bench.soak_traffic import HANDOFF

DEGRADED = "dependency_unavailable"  # the degraded reply's fallback_reason


@dataclass
class Ledger:
    """What the clients saw: every acknowledged message and every unexpected outcome."""

    answered: list[tuple[str, str]] = field(default_factory=list)  # (conversation, message) with a real reply
    handed_off: list[str] = field(default_factory=list)  # conversations a reply said were handed off
    degraded: list[tuple[str, str]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    gave_up: int = 0
    max_ms: float = 0.0


async def _send(client: httpx.AsyncClient, ledger: Ledger, body: dict[str, Any], key: str,
                attempts: int = 30) -> dict[str, Any] | None:
    """One message until acknowledged: retried with the same idempotency key after a 503's ``Retry-After``."""
    for _ in range(attempts):
        began = time.perf_counter()
        try:
            response = await client.post("/v1/answer", json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError as exc:
            ledger.unexpected[type(exc).__name__] += 1
            await asyncio.sleep(0.5)
            continue
        finally:
            ledger.max_ms = max(ledger.max_ms, (time.perf_counter() - began) * 1000)
        ledger.statuses[str(response.status_code)] += 1
        if response.status_code == 200:
            reply: dict[str, Any] = response.json()
            return reply
        retry_after = response.headers.get("Retry-After")
        if response.status_code == 503 and retry_after is not None:
            await asyncio.sleep(min(float(retry_after), 1.0))
            continue
        code = response.json().get("code", "")
        if response.status_code == 409 and code == "idempotency_in_progress":  # "retry shortly", by contract
            ledger.statuses["409 retried"] += 1
            await asyncio.sleep(0.5)
            continue
        ledger.unexpected[f"{response.status_code} {code}: {response.json().get('message', '')[:60]}"] += 1
        await asyncio.sleep(0.2)
    ledger.gave_up += 1
    return None


async def _client(number: int, base: str, until: Callable[[], bool], ledger: Ledger) -> int:
    """Conversations one after the other until ``until()``; each its own id, a question and its follow-up, every
    third one ending with a request for a person. Returns how many messages it sent."""
    sent = 0
    headers = {"Authorization": f"Bearer {CONNECTOR_KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        conversation = 0
        while not until():
            market, channel, question, follow_up = QUESTIONS[(number + conversation) % len(QUESTIONS)]
            conversation_id = f"fault-{number}-{conversation}"
            messages = [question, follow_up] + ([HANDOFF[market]] if conversation % 3 == 2 else [])
            for turn, message in enumerate(messages):
                body = {"market": market, "channel": channel, "message": message,
                        "conversation_id": conversation_id, "customer_id": f"customer-{number}"}
                reply = await _send(client, ledger, body, f"{conversation_id}-{turn}")
                sent += 1
                if reply is None:
                    continue
                if reply.get("fallback_reason") == DEGRADED:
                    ledger.degraded.append((conversation_id, message))
                    continue
                ledger.answered.append((conversation_id, message))
                if reply["escalation"]["escalate"]:  # handed to a person by this message: an event is due
                    ledger.handed_off.append(conversation_id)
            conversation += 1
    return sent


async def _load_with_fault(base: str, clients: int, seconds: float, fault: Callable[[], None],
                           fault_at: float) -> tuple[Ledger, int]:
    ledger = Ledger()
    started = time.monotonic()
    done = False

    def until() -> bool:
        return done or time.monotonic() - started > seconds

    tasks = [asyncio.create_task(_client(n, base, until, ledger)) for n in range(clients)]
    await asyncio.sleep(fault_at)
    await asyncio.to_thread(fault)
    sent = sum(await asyncio.gather(*tasks))
    done = True
    return ledger, sent


def _read_back(base: str, conversation_ids: set[str]) -> dict[str, list[str]]:
    """Each conversation's customer turns, read through the API (the admin's ``GET /v1/conversations/{id}``)."""
    turns: dict[str, list[str]] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60) as client:
        for conversation_id in sorted(conversation_ids):
            for _ in range(20):
                response = client.get(f"/v1/conversations/{conversation_id}")
                if response.status_code in (200, 404):
                    break
                time.sleep(0.5)
            if response.status_code == 200:
                turns[conversation_id] = [t["text"] for t in response.json()["turns"] if t["role"] == "customer"]
    return turns


def _handoff_events(redis_url: str) -> set[str]:
    """The conversations with a ``handoff`` event on the stream ``polydesk:events``."""
    from agent.events import STREAM, parse_event

    client = redis.Redis.from_url(redis_url)
    try:
        found = set()
        entries: Any = client.xrange(STREAM, "-", "+")
        for _, fields in entries:
            event = parse_event(fields)
            if event is not None and event.type == "handoff":
                found.add(event.conversation_id)
        return found
    finally:
        client.close()


def _kept(data_dir: Path) -> set[tuple[str, str]]:
    path = data_dir / "inbox" / "pending.jsonl"
    if not path.exists():
        return set()
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {(e["request"]["conversation_id"], e["request"]["message"]) for e in entries}


def redis_restart(persistence: str, *, degraded_reply: bool, full: bool = False,
                  workdir: Path | None = None) -> FaultResult:
    """Scenario 1: SIGKILL the redis-server mid-load, start it again on the same port and folder. With
    ``degraded_reply`` off (the default setting) a request Redis cannot serve gets 503 ``store_unavailable``."""
    clients, seconds, fault_at, down_s = (16, 30.0, 8.0, 2.0) if full else (16, 7.0, 2.5, 1.0)
    with tempfile.TemporaryDirectory(prefix="polydesk-fault-redis-") as tmp:
        root = workdir or Path(tmp)
        data_dir = seeded_data_dir(root / "data")
        redis_server = RedisProcess(root / "redis", persistence=persistence).start()
        serve = ServeProcess(data_dir, env={"POLYDESK_REDIS_URL": redis_server.url, "POLYDESK_DEGRADED_REPLY": str(degraded_reply).lower(),
                                            "POLYDESK_REDIS_TIMEOUT_S": "2"})
        try:
            serve.start()

            def fault() -> None:
                redis_server.kill()
                time.sleep(down_s)
                redis_server.start()

            ledger, sent = asyncio.run(_load_with_fault(serve.base, clients, seconds, fault, fault_at))
            conversations = {c for c, _ in ledger.answered} | {c for c, _ in ledger.degraded}
            turns = _read_back(serve.base, conversations)
            events = _handoff_events(redis_server.url)
            kept = _kept(data_dir)
        finally:
            serve.stop()
            redis_server.stop()
    stored = Counter((c, text) for c, texts in turns.items() for text in texts)
    lost = sum(1 for item in ledger.answered if stored[item] == 0)
    counts = {
        "sent": sent, "answered": len(ledger.answered), "degraded": len(ledger.degraded),
        "refused_503": ledger.statuses["503"], "retried_409": ledger.statuses["409 retried"],
        "handed_off": len(ledger.handed_off),
        "lost": lost, "stored_twice": sum(n - 1 for n in stored.values() if n > 1),
        "handoff_event_missing": sum(1 for c in set(ledger.handed_off) if c not in events),
        "degraded_not_kept": sum(1 for item in ledger.degraded if item not in kept),
        "degraded_also_stored": sum(1 for item in ledger.degraded if stored[item] > 0),
        "unexpected": sum(ledger.unexpected.values()), "gave_up": ledger.gave_up,
    }
    guaranteed: tuple[str, ...] = ("degraded_not_kept", "unexpected", "gave_up")
    if persistence != "rdb":
        guaranteed = ("lost", "stored_twice", "handoff_event_missing", *guaranteed)
    label = {"aof-everysec": "AOF everysec", "aof-always": "AOF always", "rdb": "RDB only"}[persistence]
    notes = f"unexpected: {dict(ledger.unexpected)}" if ledger.unexpected else ""
    if persistence == "rdb":
        notes = (notes + "; " if notes else "") + "RDB: writes since the last snapshot die with the process"
    return FaultResult(
        scenario=f"redis restart ({label}, {'degraded reply' if degraded_reply else '503'})", load=f"{clients} clients, {sent} messages in {len(conversations)} "
        "conversations", fault=f"SIGKILL redis-server at {fault_at:g} s, restarted after {down_s:g} s",
        counts=counts, must_be_zero=guaranteed, notes=notes, figures={"max_request_ms": round(ledger.max_ms)})


def redis_restart_aof(*, full: bool = False, workdir: Path | None = None) -> FaultResult:
    return redis_restart("aof-everysec", degraded_reply=False, full=full, workdir=workdir)


def redis_restart_rdb(*, full: bool = False, workdir: Path | None = None) -> FaultResult:
    return redis_restart("rdb", degraded_reply=True, full=full, workdir=workdir)


def _all() -> dict[str, Callable[..., FaultResult]]:
    from bench.faults_receivers import SCENARIOS as RECEIVERS
    from bench.faults_slow import SCENARIOS as SLOW

    return {"redis_restart_aof": redis_restart_aof, "redis_restart_rdb": redis_restart_rdb, **RECEIVERS, **SLOW}


SCENARIOS: dict[str, Callable[..., FaultResult]] = _all()

if __name__ == "__main__":
    for name, scenario in SCENARIOS.items():
        print(name, scenario())
