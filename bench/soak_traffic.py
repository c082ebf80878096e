"""The soak's customers (``Session``: one script of requests, sent in order) and its ledger of what the server
acknowledged (``Ledger``), which ``verify`` checks against the conversations, the events stream and the jobs."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis

from agent.events import EventLog

# "I want to speak to a person" in each market's language.
HANDOFF = {
    "US": "I want to speak to a person, please.", "UK": "Can I talk to a human agent?",
    "SG": "I want to speak to a real person.", "DE": "Ich möchte bitte mit einem Menschen sprechen.",
    "FR": "Je veux parler à une personne, s'il vous plaît.", "ES": "Quiero hablar con una persona, por favor.",
    "MX": "Quiero hablar con un agente humano.", "BR": "Quero falar com um atendente humano.",
    "ID": "Saya mau bicara dengan orang sungguhan.", "TH": "ขอคุยกับพนักงานหน่อยค่ะ",
    "VN": "Tôi muốn nói chuyện với nhân viên.", "MY": "Saya mahu bercakap dengan manusia.",
    "JP": "人間の担当者と話したいです。", "TW": "我想和真人客服談談。", "SA": "أريد التحدث مع موظف خدمة العملاء.",
    "AE": "أريد التحدث مع شخص حقيقي من فضلك.",
}
WHILE_HELD = {"DE": "Hallo, ist jemand da?", "JP": "まだですか？", "TH": "ยังอยู่ไหมคะ", "ID": "Halo, masih ada?",
              "VN": "Có ai không?", "ES": "¿Hay alguien?", "MX": "¿Hay alguien?", "BR": "Tem alguém aí?",
              "TW": "有人在嗎？", "SA": "هل يوجد أحد؟", "AE": "هل من أحد هنا؟", "FR": "Il y a quelqu'un ?",
              "MY": "Ada sesiapa di sana?"}
FAQ_ROWS = [("de", "Wie pflege ich die Flasche Modell {n}?", "Modell {n}: mit warmem Wasser ausspülen, Deckel nicht "
             "in die Spülmaschine."),
            ("ja", "モデル{n}のボトルは食洗機で洗えますか？", "モデル{n}の本体は食洗機で洗えますが、ふたは手洗いしてください。"),
            ("th", "ขวดรุ่น {n} เก็บความร้อนได้กี่ชั่วโมง", "ขวดรุ่น {n} เก็บความร้อนได้ 12 ชั่วโมง"),
            ("id", "Berapa lama botol model {n} menjaga minuman tetap dingin?", "Botol model {n} menjaga minuman "
             "tetap dingin selama 24 jam."),
            ("en", "Is the lid of model {n} leak-proof?", "Yes: the lid of model {n} is leak-proof when closed.")]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


@dataclass
class Ledger:
    """What the server acknowledged, and every request's (time, kind, ms, status; 0 for a transport error)."""

    requests: list[tuple[float, str, float, int]] = field(default_factory=list)
    sent: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    unacknowledged: Counter[str] = field(default_factory=Counter)
    handoffs: set[str] = field(default_factory=set)
    releases: set[str] = field(default_factory=set)
    erased: set[str] = field(default_factory=set)
    jobs: list[str] = field(default_factory=list)
    scripts: Counter[str] = field(default_factory=Counter)

    async def verify(self, base: str, keys: dict[str, str], client: redis.Redis, tenant: str) -> dict[str, Any]:
        """Look for every acknowledged thing; ``lost`` sums what is missing."""
        events: set[tuple[str, str]] = {(event.type, event.conversation_id)
                  for _, event in EventLog(client).read(tenant=tenant, count=10_000_000)}
        found: dict[str, dict[str, Any] | None] = {}
        jobs: dict[str, str] = {}
        limits = httpx.Limits(max_connections=8)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as http:
            admin = {"Authorization": f"Bearer {keys['admin']}"}
            content = {"Authorization": f"Bearer {keys['content']}"}
            gate = asyncio.Semaphore(8)

            async def conversation(conversation_id: str) -> None:
                async with gate:
                    response = await http.get(f"/v1/conversations/{conversation_id}", headers=admin)
                found[conversation_id] = response.json() if response.status_code == 200 else None
                if response.status_code not in (200, 404):
                    raise RuntimeError(f"reading {conversation_id}: {response.status_code} {response.text}")

            async def job(link: str) -> None:
                async with gate:
                    response = await http.get(link, headers=content)
                jobs[link] = response.json()["status"] if response.status_code == 200 else str(response.status_code)

            await asyncio.gather(*(conversation(c) for c in self.sent.keys() | self.erased),
                                 *(job(link) for link in self.jobs))
        return self._count(found, events, jobs)

    def _count(self, found: dict[str, dict[str, Any] | None], events: set[tuple[str, str]],
               jobs: dict[str, str]) -> dict[str, Any]:
        lost_messages = duplicated = erased_left = 0
        for conversation_id, sent in self.sent.items():
            if conversation_id in self.erased:
                continue
            stored = found.get(conversation_id)
            turns = Counter(t["text"] for t in (stored or {}).get("turns", []) if t["role"] == "customer")
            for text, count in sent.items():
                lost_messages += max(0, count - turns[text])
                duplicated += max(0, turns[text] - count - self.unacknowledged[conversation_id])
        for conversation_id in self.erased:
            erased_left += found.get(conversation_id) is not None
            erased_left += sum(1 for kind in ("handoff", "release") if (kind, conversation_id) in events)
        live_handoffs = self.handoffs - self.erased
        handoff_events_missing = sum(1 for c in live_handoffs if ("handoff", c) not in events)
        handoffs_not_in_state = sum(1 for c in live_handoffs if not (found.get(c) or {}).get("handoffs"))
        live_releases = self.releases - self.erased
        release_events_missing = sum(1 for c in live_releases if ("release", c) not in events)
        releases_not_in_state = sum(
            1 for c in live_releases
            if not any(h.get("released_at") for h in (found.get(c) or {}).get("handoffs", [])))
        unfinished = sum(1 for status in jobs.values() if status != "done")
        acknowledged = sum(sum(s.values()) for c, s in self.sent.items() if c not in self.erased)
        return {"messages_acknowledged": acknowledged,
                "messages_acknowledged_all": sum(sum(s.values()) for s in self.sent.values()), "messages_lost": lost_messages,
                "messages_duplicated": duplicated, "conversations": len(self.sent),
                "conversations_erased": len(self.erased), "erased_but_found": erased_left,
                "handoffs": len(live_handoffs), "handoff_events_missing": handoff_events_missing,
                "handoffs_not_in_conversation": handoffs_not_in_state, "releases": len(live_releases),
                "release_events_missing": release_events_missing, "releases_not_in_conversation": releases_not_in_state,
                "uploads": len(jobs), "uploads_not_done": unfinished, "upload_statuses": dict(Counter(jobs.values())),
                "lost": lost_messages + handoff_events_missing + handoffs_not_in_state + release_events_missing
                + releases_not_in_state + unfinished + erased_left}


class Session:
    """One customer's script. Requests go out in order, each after the pacer gives it a slot."""

    def __init__(self, client: httpx.AsyncClient, pace: Callable[[], Awaitable[None]], ledger: Ledger,
                 keys: dict[str, str], tenant: str, session_id: str, question: tuple[str, str, str, str],
                 rng: random.Random, deadline: float) -> None:
        self.client, self.pace, self.ledger, self.keys = client, pace, ledger, keys
        self.tenant, self.id, self.rng, self.deadline = tenant, session_id, rng, deadline
        self.market, self.channel, self.question, self.follow_up = question
        self.conversation_id = f"{session_id}-c"

    async def play(self, kind: str) -> None:
        await {"answer": self.answer, "handoff": self.handoff, "erase": self.erase, "upload": self.upload}[kind]()

    async def request(self, kind: str, method: str, url: str, key: str, **kwargs: Any) -> httpx.Response | None:
        await self.pace()
        began = time.monotonic()
        try:
            response = await self.client.request(method, url, headers={"Authorization": f"Bearer {self.keys[key]}"},
                                                 **kwargs)
        except httpx.HTTPError:
            self.ledger.requests.append((began, kind, (time.monotonic() - began) * 1000, 0))
            return None
        self.ledger.requests.append((began, kind, (time.monotonic() - began) * 1000, response.status_code))
        return response

    async def say(self, text: str) -> dict[str, Any] | None:
        """Send one message; an acknowledged one (200) goes in the ledger."""
        body = {"market": self.market, "channel": self.channel, "message": text,
                "conversation_id": self.conversation_id, "customer_id": self.id}
        response = await self.request("answer", "POST", "/v1/answer", "connector", json=body)
        if response is None or response.status_code >= 500 or response.status_code == 409:
            self.ledger.unacknowledged[self.conversation_id] += 1  # may or may not have been kept
            return None
        if response.status_code != 200:
            return None
        self.ledger.sent[self.conversation_id][text] += 1
        reply: dict[str, Any] = response.json()
        return reply

    async def answer(self) -> None:
        await self.say(self.question)
        await self.say(self.follow_up)
        if self.rng.random() < 0.5:
            await self.say(self.question)
        self.ledger.scripts["answer"] += 1

    async def handoff(self) -> None:
        await self.say(self.question)
        reply = await self.say(HANDOFF.get(self.market, HANDOFF["US"]))
        if reply is None:
            self.ledger.scripts["handoff_unacknowledged"] += 1
            return
        if reply["status"] != "handed_off" and not reply["escalation"]["escalate"]:
            self.ledger.scripts["handoff_not_escalated"] += 1
            return
        self.ledger.handoffs.add(self.conversation_id)
        held = await self.say(WHILE_HELD.get(self.market, "Hello, is anyone there?"))
        if held is not None and held["status"] != "handed_off":
            self.ledger.scripts["answered_while_held"] += 1
        if await self.release():
            self.ledger.releases.add(self.conversation_id)
            after = await self.say(self.follow_up)
            if after is not None and after["status"] != "answered":
                self.ledger.scripts["silent_after_release"] += 1
        self.ledger.scripts["handoff"] += 1

    async def release(self) -> bool:
        """Back to the bot: through the desk (claim, then release) or the admin route, alternately."""
        path = f"/v1/desk/conversations/{self.conversation_id}"
        if self.rng.random() < 0.5:
            claimed = await self.request("claim", "POST", f"{path}/claim", "agent")
            if claimed is None or claimed.status_code != 200:
                self.ledger.scripts[f"claim_{claimed.status_code if claimed else 0}"] += 1
                return False
            released = await self.request("release", "POST", f"{path}/release", "agent",
                                          json={"outcome": "returned_to_bot"})
        else:
            released = await self.request("release", "POST", f"/v1/conversations/{self.conversation_id}/release",
                                          "admin", json={"actor": "soak"})
        if released is None or released.status_code != 200:
            self.ledger.scripts[f"release_{released.status_code if released else 0}"] += 1
            return False
        return True

    async def erase(self) -> None:
        await self.say(self.question)
        await self.say(self.follow_up)
        for _attempt in range(5):
            response = await self.request("erase", "DELETE", f"/v1/customers/{self.id}", "admin")
            if response is not None and response.status_code == 200:
                erased = set(response.json()["conversation_ids"])
                self.ledger.erased |= erased
                if self.conversation_id in self.ledger.sent and self.conversation_id not in erased:
                    self.ledger.scripts["erasure_missed_conversation"] += 1
                self.ledger.scripts["erase"] += 1
                return
            await asyncio.sleep(1.0)
        self.ledger.scripts["erase_failed"] += 1

    async def upload(self) -> None:
        number = self.rng.randrange(10_000)
        language, question, answer = FAQ_ROWS[number % len(FAQ_ROWS)]
        batch = {"name": f"soak/{self.id}", "market": "*", "language": language,
                 "faq": [{"question": question.format(n=number), "answer": answer.format(n=number)}]}
        response = await self.request("upload", "POST", "/v1/knowledge", "content", json=batch)
        if response is None or response.status_code != 202:
            self.ledger.scripts[f"upload_{response.status_code if response else 0}"] += 1
            return
        link = response.json()["links"]["self"]
        self.ledger.jobs.append(link)
        while time.monotonic() < self.deadline + 60:
            await asyncio.sleep(1.0)
            state = await self.request("job", "GET", link, "content")
            if state is not None and state.status_code == 200 and state.json()["status"] not in ("queued", "running"):
                break
        self.ledger.scripts["upload"] += 1
