"""Fault scenario 4 (issue 21): the webhook receiver and a chat platform flapping (up, down, up ...) under load.

``polydesk serve`` with ``POLYDESK_WEBHOOK_URL`` and a Telegram account whose Bot API is a loopback fake; one
loopback server plays both and is stopped (connections refused) and started again on the same port every
``period`` seconds. Customers write on Telegram (a question, then a request for a person, in Indonesian); each
reply goes out through the channel outbox, each handoff as a signed webhook event. After the load the receiver
stays up until everything is delivered (or a bound is reached). Counted:

- ``lost_events``: a ``handoff`` event on the stream never received by the webhook;
- ``lost_replies``: a bot turn of a Telegram conversation never delivered to the platform;
- ``out_of_order``: a conversation whose replies arrived in another order than its bot turns;
- ``duplicate_events`` / ``duplicate_replies``: received more than once (allowed: at least once; reported).
"""

from __future__ import annotations

import contextlib
import json
import random
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench.fault_kit import ADMIN_KEY, FaultResult, ServeProcess, free_port, seeded_data_dir, wait_until

BOT_TOKEN = "123456789:AAFakeTokenForFaults_abcdefghijklmn"
SECRET_TOKEN = "tidewell-faults_secret-42"
QUESTIONS = ["Berapa lama waktu pengembalian barang?", "Apakah ada gratis ongkir?", "Bisa bayar pakai OVO?"]
HANDOFF = "Saya mau bicara dengan petugas manusia"


class FlappingReceiver:
    """A loopback HTTP server (webhook receiver and Bot API at once) that can be taken down and up again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.events: list[dict[str, Any]] = []  # webhook bodies, in arrival order
        self.sends: list[dict[str, Any]] = []  # sendMessage bodies, in arrival order
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.loads(raw or b"{}")
                with outer.lock:
                    if "/sendMessage" in self.path:
                        outer.sends.append(body)
                        reply = {"ok": True, "result": {"message_id": len(outer.sends), "text": body.get("text")}}
                    else:
                        outer.events.append(body)
                        reply = {"ok": True}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def flap(self, period_s: float, stop: threading.Event) -> threading.Thread:
        def run() -> None:
            while not stop.wait(period_s):
                self.down()
                if stop.wait(period_s):
                    break
                self.up()
            if self._server is None:
                self.up()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


def _update(text: str, chat_id: int) -> dict[str, Any]:
    return {"update_id": random.randrange(10**8, 10**9), "message": {
        "message_id": random.randrange(1, 10**6), "date": int(time.time()), "text": text,
        "from": {"id": chat_id, "is_bot": False, "first_name": "Sari", "language_code": "id"},
        "chat": {"id": chat_id, "first_name": "Sari", "type": "private"}}}


def _matches(turn: str, sent: str) -> bool:
    head = " ".join(turn.split())[:24]
    return bool(head) and head in " ".join(sent.split())


def receivers_flapping(*, full: bool = False, workdir: Path | None = None) -> FaultResult:
    chats, period_s, settle_s = (40, 5.0, 120.0) if full else (12, 2.0, 40.0)
    receiver = FlappingReceiver()
    receiver.up()
    with tempfile.TemporaryDirectory(prefix="polydesk-fault-receivers-") as tmp:
        root = workdir or Path(tmp)
        data_dir = seeded_data_dir(root / "data")
        channels = root / "channels.json"
        channels.write_text(json.dumps({"tidewell": {"telegram": {
            "bot_token": BOT_TOKEN, "secret_token": SECRET_TOKEN, "market": "ID", "api_base": receiver.url}}}))
        serve = ServeProcess(data_dir, env={
            "POLYDESK_CHANNELS": str(channels), "POLYDESK_CHANNEL_DEBOUNCE_S": "0.3",
            "POLYDESK_CHANNEL_BACKOFF_BASE_S": "0.2", "POLYDESK_CHANNEL_MAX_ATTEMPTS": "100",
            "POLYDESK_CHANNEL_TIMEOUT_S": "1", "POLYDESK_WEBHOOK_URL": f"{receiver.url}/hook",
            "POLYDESK_WEBHOOK_TIMEOUT_S": "1", "POLYDESK_WEBHOOK_BACKOFF_BASE_S": "0.2",
            "POLYDESK_WEBHOOK_BACKOFF_MAX_S": "1", "POLYDESK_WEBHOOK_MAX_ATTEMPTS": "100",
            "POLYDESK_ALLOW_PRIVATE_URLS": "true"})
        stop = threading.Event()
        try:
            serve.start()
            flapper = receiver.flap(period_s, stop)
            chat_ids = [random.randrange(10**8, 10**10) for _ in range(chats)]
            hook = f"{serve.base}/v1/channels/telegram/tidewell/webhook"
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET_TOKEN}
            with httpx.Client(timeout=30) as client:
                for step, text_of in enumerate((lambda i: QUESTIONS[i % len(QUESTIONS)], lambda i: HANDOFF)):
                    for i, chat_id in enumerate(chat_ids):
                        response = client.post(hook, json=_update(text_of(i), chat_id), headers=headers)
                        assert response.status_code == 200, response.text
                        time.sleep(0.05)
                    time.sleep(1.0 if step == 0 else 0)  # past the debounce: two messages, two answers
            stop.set()
            flapper.join(period_s * 2 + 5)
            conversations = _read_back(serve.base, chat_ids)
            expected_events = {f"telegram-{c}" for c, turns in conversations.items() if turns["handed_off"]}

            def delivered() -> bool:
                with receiver.lock:
                    got = {e.get("conversation_id") for e in receiver.events if e.get("type") == "handoff"}
                    sent = list(receiver.sends)
                return expected_events <= got and all(
                    any(_matches(turn, s.get("text", "")) for s in sent if s.get("chat_id") == str(chat))
                    for chat, turns in conversations.items() for turn in turns["bot"])

            with contextlib.suppress(TimeoutError):  # what is missing then is counted below
                wait_until(delivered, settle_s, "every event and reply delivered", interval_s=0.5)
        finally:
            stop.set()
            serve.stop()
            receiver.down()
    return _count(receiver, conversations, expected_events, chats, period_s)


def _read_back(base: str, chat_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each Telegram conversation's bot turns, once its handoff (the second message) is recorded."""
    out: dict[int, dict[str, Any]] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30) as client:
        for chat_id in chat_ids:
            data: dict[str, Any] = {"turns": [], "handoffs": []}
            for _ in range(120):
                response = client.get(f"/v1/conversations/telegram-{chat_id}")
                if response.status_code == 200:
                    data = response.json()
                    if data["handoffs"]:
                        break
                time.sleep(0.25)
            out[chat_id] = {"bot": [t["text"] for t in data["turns"] if t["role"] == "bot" and t["text"]],
                            "handed_off": bool(data["handoffs"])}
    return out


def _count(receiver: FlappingReceiver, conversations: dict[int, dict[str, Any]], expected_events: set[str],
           chats: int, period_s: float) -> FaultResult:
    handoff_events = [e for e in receiver.events if e.get("type") == "handoff"]
    event_ids = [e.get("id") for e in handoff_events]
    got_events = {e.get("conversation_id") for e in handoff_events}
    lost_replies = out_of_order = duplicate_replies = 0
    for chat_id, turns in conversations.items():
        sent = [s.get("text", "") for s in receiver.sends if s.get("chat_id") == str(chat_id)]
        firsts = []
        for turn in turns["bot"]:
            hits = [i for i, text in enumerate(sent) if _matches(turn, text)]
            if not hits:
                lost_replies += 1
            else:
                firsts.append(hits[0])
                duplicate_replies += len(hits) - 1
        out_of_order += int(firsts != sorted(firsts))
    counts = {"conversations": chats, "handoffs": len(expected_events),
              "replies": sum(len(t["bot"]) for t in conversations.values()),
              "lost_events": len(expected_events - got_events),
              "lost_replies": lost_replies, "out_of_order": out_of_order,
              "duplicate_events": len(event_ids) - len(set(event_ids)), "duplicate_replies": duplicate_replies}
    return FaultResult(
        scenario="webhook receiver and Telegram API flapping", load=f"{chats} Telegram chats, 2 messages each",
        fault=f"receiver down {period_s:g} s, up {period_s:g} s (connections refused while down)", counts=counts,
        must_be_zero=("lost_events", "lost_replies", "out_of_order"),
        notes="duplicates allowed where the receiver could not acknowledge")


SCENARIOS: dict[str, Callable[..., FaultResult]] = {"receivers_flapping": receivers_flapping}

if __name__ == "__main__":
    print(receivers_flapping())
