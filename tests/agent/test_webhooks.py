"""Webhooks: signatures, and delivery of the events stream that loses nothing while the receiver is down.

A real embedded Redis (one per module, emptied before each test) and a real HTTP receiver on 127.0.0.1.
Backoff is skipped by passing ``now``/``clock``, never by sleeping.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from agent.events import GROUP, EventLog, HandoffEvent
from agent.webhooks import SIGNATURE_HEADER, WebhookDispatcher, sign, verify_signature
from polydesk.settings import Settings

pytestmark = pytest.mark.integration

STREAM = "polydesk:events"
SECRET = "whsec-test"
T0 = 1_800_000_000.0


@dataclass
class Received:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def event_id(self) -> str:
        return self.headers["X-Polydesk-Event-Id"]


@dataclass
class Receiver:
    """A webhook endpoint: answers ``script`` in order (then ``status``), records every request."""

    port: int = 0
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/polydesk"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    status = receiver.script.pop(0) if receiver.script else receiver.status
                    receiver.received.append(Received(status, dict(self.headers.items()), body))
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def delivered(self) -> Counter[str]:
        """Successful deliveries per event id."""
        return Counter(item.event_id for item in self.received if 200 <= item.status < 300)


class ProcessDied(BaseException):
    """Not an ``Exception``: nothing in the dispatcher catches it, as nothing survives a killed process."""


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dispatcher(r: redis.Redis, clock: Clock) -> Iterator[Callable[..., WebhookDispatcher]]:
    """Makes dispatchers on the test clock with short backoff (1 s doubling, at most 10 s); closes them."""
    made: list[WebhookDispatcher] = []

    def make(url: str, **options: Any) -> WebhookDispatcher:
        defaults: dict[str, Any] = {
            "clock": clock,
            "backoff_base_s": 1.0,
            "backoff_max_s": 10.0,
            "timeout_s": 2.0,
            "client": httpx.Client(trust_env=False),
        }
        made.append(WebhookDispatcher(r, url=url, **(defaults | options)))
        return made[-1]

    yield make
    for each in made:
        each.close()
        each.client.close()


def _event(tenant: str = "tidewell", **details: Any) -> HandoffEvent:
    fields: dict[str, Any] = {"type": "handoff", "conversation_id": "c-1", "market": "DE", "channel": "web"}
    fields["created_at"] = datetime.fromtimestamp(T0, UTC)
    return HandoffEvent(tenant=tenant, **(fields | details))


# -- signatures -------------------------------------------------------------------------------------------------


def test_the_receiver_can_verify_the_signature_and_catches_tampering(
    r: redis.Redis, receiver: Receiver, dispatcher: Callable[..., WebhookDispatcher], clock: Clock
) -> None:
    event = _event()
    EventLog(r).publish(event)
    assert dispatcher(receiver.url, secret=SECRET).run_once().delivered == 1
    [request] = receiver.received
    header = request.headers[SIGNATURE_HEADER]
    assert request.headers["X-Polydesk-Event-Id"] == event.id
    assert request.headers["X-Polydesk-Event-Type"] == "handoff"
    assert request.headers["Content-Type"] == "application/json"
    assert HandoffEvent.model_validate_json(request.body) == event
    assert verify_signature(request.body, header, SECRET, now=clock.now + 299)
    assert not verify_signature(request.body.replace(b"tidewell", b"tidewe11"), header, SECRET, now=clock.now)
    assert not verify_signature(request.body, header, "another-secret", now=clock.now)
    assert not verify_signature(request.body, header, SECRET, now=clock.now + 301)  # stale
    assert not verify_signature(request.body, "v1=deadbeef", SECRET, now=clock.now)
    assert not verify_signature(request.body, None, SECRET, now=clock.now)
    assert header == sign(request.body, SECRET, int(clock.now))


def test_without_a_secret_no_signature_is_sent(
    r: redis.Redis, receiver: Receiver, dispatcher: Callable[..., WebhookDispatcher]
) -> None:
    EventLog(r).publish(_event())
    dispatcher(receiver.url).run_once()
    assert len(receiver.received) == 1 and SIGNATURE_HEADER not in receiver.received[0].headers


# -- delivery -----------------------------------------------------------------------------------------------------


def test_events_wait_while_the_receiver_is_down_and_are_delivered_once_it_is_up(
    r: redis.Redis, dispatcher: Callable[..., WebhookDispatcher], clock: Clock
) -> None:
    receiver = Receiver(port=_free_port())  # nothing listens there yet
    events = [_event(conversation_id=f"c-{i}") for i in range(3)]
    for event in events:
        EventLog(r).publish(event)
    webhooks = dispatcher(receiver.url)
    stats = webhooks.run_once()
    # One attempt found the receiver down; the other two were not each made to wait for it.
    assert (stats.delivered, stats.failed, stats.dead, stats.pending) == (0, 1, 0, 3)
    assert webhooks.backlog() == 3 and webhooks.dead_letters() == []
    receiver.start()
    try:
        assert webhooks.run_once().delivered == 0  # not before the backoff
        stats = webhooks.run_once(now=clock.advance(5))
        assert (stats.delivered, stats.pending) == (3, 0)
        assert receiver.delivered() == Counter({event.id: 1 for event in events})
        assert webhooks.backlog() == 0 and r.xpending(STREAM, GROUP)["pending"] == 0
        assert webhooks.run_once(now=clock.advance(60)).delivered == 0 and len(receiver.received) == 3
    finally:
        receiver.stop()


def test_repeated_5xx_ends_in_the_dead_letters_which_can_be_requeued(
    r: redis.Redis, receiver: Receiver, dispatcher: Callable[..., WebhookDispatcher], clock: Clock
) -> None:
    receiver.status = 503
    event = _event()
    EventLog(r).publish(event)
    webhooks = dispatcher(receiver.url, max_attempts=3)
    assert webhooks.run_once().failed == 1
    assert webhooks.run_once(now=clock.advance(1.2)).failed == 1  # backoff 1 s (+ ≤ 10 % jitter)
    assert webhooks.run_once(now=clock.advance(1.5)).failed == 0  # backoff now 2 s: not yet due
    stats = webhooks.run_once(now=clock.advance(1))
    assert (stats.dead, stats.pending) == (1, 0) and len(receiver.received) == 3
    [letter] = webhooks.dead_letters()
    assert letter.event == event and letter.attempts == 3 and letter.last_error.startswith("HTTP 503")
    assert letter.dead_at == datetime.fromtimestamp(clock.now, UTC)
    assert webhooks.backlog() == 0
    assert webhooks.run_once(now=clock.advance(600)).failed == 0 and len(receiver.received) == 3

    receiver.status = 200
    assert webhooks.requeue_dead() == 1
    assert webhooks.dead_letters() == [] and webhooks.backlog() == 1
    assert webhooks.run_once().delivered == 1
    assert receiver.delivered() == Counter({event.id: 1}) and webhooks.backlog() == 0
    assert webhooks.requeue_dead([event.id]) == 0


def test_an_event_older_than_the_retention_is_dead_lettered_unsent(
    r: redis.Redis, receiver: Receiver, dispatcher: Callable[..., WebhookDispatcher], clock: Clock
) -> None:
    old = _event(created_at=datetime.fromtimestamp(T0, UTC) - timedelta(hours=25))
    fresh = _event()
    EventLog(r).publish(old)
    EventLog(r).publish(fresh)
    webhooks = dispatcher(receiver.url, retention_s=24 * 3600)
    stats = webhooks.run_once()
    assert (stats.delivered, stats.dead) == (1, 1)
    assert receiver.delivered() == Counter({fresh.id: 1})
    [letter] = webhooks.dead_letters()
    assert letter.event.id == old.id and letter.attempts == 0 and "expired" in letter.last_error
    assert webhooks.requeue_dead([old.id]) == 1  # a requeue restarts the retention period
    assert webhooks.run_once().delivered == 1 and receiver.delivered()[old.id] == 1


def test_a_4xx_rejection_is_dead_lettered_at_once_and_not_retried(
    r: redis.Redis, receiver: Receiver, dispatcher: Callable[..., WebhookDispatcher], clock: Clock
) -> None:
    receiver.status = 400
    EventLog(r).publish(_event())
    webhooks = dispatcher(receiver.url)
    stats = webhooks.run_once()
    assert (stats.dead, stats.failed, stats.pending) == (1, 0, 0)
    assert webhooks.dead_letters()[0].last_error == "HTTP 400: ok"
    webhooks.run_once(now=clock.advance(3600))
    assert len(receiver.received) == 1 and webhooks.backlog() == 0


def test_a_429_is_not_retried_before_its_retry_after(
    r: redis.Redis, receiver: Receiver, dispatcher: Callable[..., WebhookDispatcher], clock: Clock
) -> None:
    receiver.script, receiver.headers = [429], {"Retry-After": "30"}
    EventLog(r).publish(_event())
    webhooks = dispatcher(receiver.url, backoff_max_s=600.0)
    assert webhooks.run_once().failed == 1
    assert webhooks.run_once(now=clock.advance(29.5)).delivered == 0 and len(receiver.received) == 1
    assert webhooks.run_once(now=clock.advance(1)).delivered == 1


# -- crashes and concurrency --------------------------------------------------------------------------------------


def test_an_event_read_by_a_dispatcher_that_died_is_delivered_by_another(
    r: redis.Redis, receiver: Receiver, dispatcher: Callable[..., WebhookDispatcher]
) -> None:
    event = _event()
    EventLog(r).publish(event)
    r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    assert r.xreadgroup(GROUP, "crashed", {STREAM: ">"}, count=10)  # read, then died: never acked nor scheduled
    assert dispatcher(receiver.url).run_once().delivered == 0  # not idle long enough to be presumed dead
    assert dispatcher(receiver.url).backlog() == 1
    time.sleep(0.15)
    assert dispatcher(receiver.url, claim_idle_s=0.1).run_once().delivered == 1
    assert receiver.delivered() == Counter({event.id: 1}) and r.xpending(STREAM, GROUP)["pending"] == 0


def test_a_retry_claimed_by_a_dispatcher_that_died_is_retried_when_its_lease_ends(
    r: redis.Redis, receiver: Receiver, dispatcher: Callable[..., WebhookDispatcher], clock: Clock
) -> None:
    receiver.script = [500]
    EventLog(r).publish(_event())
    assert dispatcher(receiver.url).run_once().failed == 1

    def die(request: httpx.Request) -> httpx.Response:
        raise ProcessDied  # the process ends while it holds the retry

    dying = dispatcher(receiver.url, claim_idle_s=60, client=httpx.Client(transport=httpx.MockTransport(die)))
    with pytest.raises(ProcessDied):
        dying.run_once(now=clock.advance(5))
    second = dispatcher(receiver.url, claim_idle_s=60)
    assert second.run_once().delivered == 0  # the lease still holds it
    assert second.run_once(now=clock.advance(61)).delivered == 1 and second.backlog() == 0


def test_two_dispatchers_deliver_each_event_exactly_once(
    r: redis.Redis, receiver: Receiver, dispatcher: Callable[..., WebhookDispatcher], clock: Clock
) -> None:
    events = [_event(conversation_id=f"c-{i}") for i in range(30)]
    for event in events:
        EventLog(r).publish(event)
    receiver.script = [500] * len(events)  # every event fails once, so the retries are contended too
    pair = [dispatcher(receiver.url, consumer="desk-a", batch_size=5), dispatcher(receiver.url, consumer="desk-b")]

    def both(now: float) -> None:
        threads = [threading.Thread(target=each.run_once, args=(now,)) for each in pair]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    both(clock.now)
    assert Counter(item.event_id for item in receiver.received) == Counter({e.id: 1 for e in events})
    both(clock.advance(5))
    both(clock.advance(5))
    assert receiver.delivered() == Counter({event.id: 1 for event in events})
    assert len(receiver.received) == 2 * len(events) and pair[0].backlog() == 0


def test_events_published_before_any_dispatcher_existed_are_delivered(
    r: redis.Redis, receiver: Receiver, dispatcher: Callable[..., WebhookDispatcher]
) -> None:
    early = [_event(conversation_id="c-early-1"), _event(conversation_id="c-early-2")]
    for event in early:
        EventLog(r).publish(event)
    webhooks = dispatcher(receiver.url)
    assert webhooks.backlog() == 2
    assert webhooks.run_once().delivered == 2
    later = _event(conversation_id="c-later")
    EventLog(r).publish(later)
    assert webhooks.backlog() == 1
    assert webhooks.run_once().delivered == 1
    assert [json.loads(item.body)["conversation_id"] for item in receiver.received] == [
        "c-early-1",
        "c-early-2",
        "c-later",
    ]


# -- running in the background, and settings ----------------------------------------------------------------------


def test_the_background_thread_delivers_and_stops(r: redis.Redis, receiver: Receiver) -> None:
    webhooks = WebhookDispatcher(r, url=receiver.url, client=httpx.Client(trust_env=False))
    thread = webhooks.start(poll_s=0.02)
    try:
        EventLog(r).publish(_event())
        deadline = time.monotonic() + 3
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(receiver.delivered()) == 1
    finally:
        webhooks.close()
        webhooks.client.close()
    assert not thread.is_alive()


def test_a_failing_pass_is_logged_and_the_thread_keeps_going(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = redis.Redis(port=_free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    webhooks = WebhookDispatcher(unreachable, url=receiver.url, client=httpx.Client(trust_env=False))
    with caplog.at_level(logging.ERROR, logger="agent.webhooks"):
        thread = webhooks.start(poll_s=0.01)
        deadline = time.monotonic() + 3
        while len(caplog.records) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert thread.is_alive()
        webhooks.close()
    assert not thread.is_alive()
    assert len(caplog.records) >= 2 and "webhook delivery pass failed" in caplog.records[0].getMessage()


def test_webhook_settings(tmp_path: Path, r: redis.Redis) -> None:
    def settings(**values: Any) -> Settings:
        return Settings(data_dir=tmp_path, _env_file=None, **values)  # type: ignore[call-arg]

    assert WebhookDispatcher.from_settings(settings(), r) is None
    for bad in ("ftp://desk.example.com/hook", "desk.example.com/hook", "https://", "http://a b"):
        with pytest.raises(pydantic.ValidationError):
            settings(webhook_url=bad)
    with pytest.raises(pydantic.ValidationError):
        settings(webhook_max_attempts=0)
    with pytest.raises(pydantic.ValidationError):
        settings(webhook_retention_hours=0)
    configured = WebhookDispatcher.from_settings(
        settings(
            webhook_url="https://desk.example.com/hooks/polydesk",
            webhook_secret="s3cret",
            webhook_max_attempts=4,
            webhook_retention_hours=2,
        ),
        r,
    )
    assert configured is not None
    try:
        assert (configured.url, configured.secret) == ("https://desk.example.com/hooks/polydesk", "s3cret")
        assert (configured.max_attempts, configured.retention_s, configured.timeout_s) == (4, 7200, 5.0)
    finally:
        configured.close()


@pytest.mark.unit
@pytest.mark.parametrize(("headers", "body", "expected"), [
    ({}, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
          "parameters": {"retry_after": 7}}, 7.0),                                # Telegram's Bot API
    ({"Retry-After": "3"}, {"parameters": {"retry_after": 7}}, 3.0),              # the header wins
    ({}, {"error": "slow down"}, None),
    ({}, {"parameters": {"retry_after": "soon"}}, None),
    ({}, {"parameters": {"retry_after": -1}}, None),
])
def test_a_429_waits_as_long_as_its_header_or_json_body_says(
        headers: dict[str, str], body: dict[str, Any], expected: float | None) -> None:
    from agent.webhooks import response_outcome

    response = httpx.Response(429, headers=headers, json=body)
    outcome = response_outcome(response, T0)
    assert outcome.verdict == "retry"
    assert outcome.retry_after == expected
