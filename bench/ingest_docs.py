"""The documents and API calls the ingestion fault scenarios share (``bench/faults_ingest.py``, ``bench/faults_disk.py``).

Documents in ten languages, made of care notes about a kettle; every sentence of a version carries a token naming
the document and the version (``K7V1X``: document 7, version 1), so a chunk read back (a document's chunks, an
answer's text) says which version it came from, as do the ids of the chunks an answer cites
(``Chunk.make_point_id``). ``kill_serve`` SIGKILLs ``polydesk serve`` alone, as the OOM killer or ``kill -9`` would.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import httpx

from bench.fault_kit import CONNECTOR_KEY, CONTENT_KEY, ServeProcess, wait_until
from knowledge.schema import Chunk

TENANT = "tidewell"
# One care note per sentence: {n} numbers it, {m} names the version, {d} varies. Descaling is no intent that hands off.
TEMPLATES = {
    "en": "Care note {n} for the Aurora kettle ({m}): descale it with citric acid every {d} weeks.",
    "de": "Pflegehinweis {n} für den Aurora-Wasserkocher ({m}): alle {d} Wochen mit Zitronensäure entkalken.",
    "ja": "オーロラケトルのお手入れメモ{n}（{m}）：{d}週間ごとにクエン酸で湯あかを落としてください。",
    "th": "หมายเหตุการดูแลข้อ {n} สำหรับกาต้มน้ำออโรร่า ({m}): ขจัดคราบตะกรันด้วยกรดซิตริกทุก {d} สัปดาห์",
    "id": "Catatan perawatan {n} untuk ketel Aurora ({m}): bersihkan kerak dengan asam sitrat setiap {d} minggu.",
    "vi": "Ghi chú bảo quản {n} cho ấm đun Aurora ({m}): tẩy cặn bằng axit citric mỗi {d} tuần.",
    "zh": "极光水壶保养说明第{n}条（{m}）：每{d}周用柠檬酸除垢一次。",
    "ar": "ملاحظة العناية {n} لغلاية أورورا ({m}): أزل الترسبات بحمض الستريك كل {d} أسابيع.",
    "es": "Nota de cuidado {n} del hervidor Aurora ({m}): descalcifícalo con ácido cítrico cada {d} semanas.",
    "pt": "Nota de cuidado {n} da chaleira Aurora ({m}): descalcifique com ácido cítrico a cada {d} semanas.",
}
QUESTIONS = {
    "en": "How often should I descale the Aurora kettle with citric acid?",
    "de": "Wie oft soll ich den Aurora-Wasserkocher mit Zitronensäure entkalken?",
    "ja": "オーロラケトルはどのくらいの頻度でクエン酸で湯あかを落とせばいいですか？",
    "th": "ควรขจัดคราบตะกรันกาต้มน้ำออโรร่าด้วยกรดซิตริกบ่อยแค่ไหน",
    "id": "Seberapa sering ketel Aurora harus dibersihkan dari kerak dengan asam sitrat?",
    "vi": "Bao lâu thì nên tẩy cặn ấm đun Aurora bằng axit citric?",
    "zh": "极光水壶多久需要用柠檬酸除垢一次？",
    "ar": "كم مرة يجب إزالة الترسبات من غلاية أورورا بحمض الستريك؟",
    "es": "¿Cada cuánto debo descalcificar el hervidor Aurora con ácido cítrico?",
    "pt": "Com que frequência devo descalcificar a chaleira Aurora com ácido cítrico?",
}
LANGUAGES = tuple(TEMPLATES)
MARKETS = {"en": "US", "de": "DE", "ja": "JP", "th": "TH", "id": "ID", "vi": "VN", "zh": "TW", "ar": "SA", "es": "ES",
           "pt": "BR"}
# Small chunks: many of them per document, so a job runs for seconds and a replace has several chunks to switch.
SERVE_ENV = {"POLYDESK_CHUNK_TOKENS": "64", "POLYDESK_CHUNK_OVERLAP_TOKENS": "8", "POLYDESK_JOB_LEASE_S": "2"}


def marker(version: int, doc: int) -> str:
    """A token naming the document's number and version, in every sentence of that version."""
    return f"K{doc}V{version}X"


def document_text(language: str, doc: int, version: int, sentences: int) -> str:
    """A document of ``sentences`` care notes, each naming the version; paragraphs of three notes."""
    template = TEMPLATES[language]
    notes = [template.format(n=doc * 1000 + i, m=marker(version, doc), d=2 + (i * 7 + version) % 11)
             for i in range(sentences)]
    paragraphs = [" ".join(notes[i:i + 3]) for i in range(0, len(notes), 3)]
    return f"# Aurora {doc} {marker(version, doc)}\n\n" + "\n\n".join(paragraphs) + "\n"


@dataclass(frozen=True)
class Doc:
    language: str
    number: int

    @property
    def id(self) -> str:
        return f"aurora-{self.language}-{self.number}.md"


def versions_in(text: str, doc: int) -> set[int]:
    return {version for version in range(1, 6) if marker(version, doc) in text}


# -- the API, as a content editor and a connector use it ------------------------------------------------------------


class Api:
    def __init__(self, base: str, timeout_s: float = 30.0) -> None:
        self.client = httpx.Client(base_url=base, timeout=timeout_s)
        self.ids: dict[str, tuple[str, int]] = {}  # chunk point id -> (document id, version)

    def close(self) -> None:
        self.client.close()

    def learn(self, docs: list[Doc], versions: tuple[int, ...] = (1, 2), positions: int = 400) -> None:
        for doc in docs:
            for version in versions:
                for position in range(positions):
                    self.ids[Chunk.make_point_id(TENANT, doc.id, version, position)] = (doc.id, version)

    def seed(self, docs: list[Doc], sentences: int) -> None:
        """Learn ``docs``, upload them at version 1 and wait for that job to be done."""
        self.learn(docs)
        seed = self.upload({d.id: document_text(d.language, d.number, 1, sentences) for d in docs})
        seed.raise_for_status()
        if self.wait_job(seed.json()["id"], 120)["status"] != "done":
            raise RuntimeError("seeding version 1 failed")

    def upload(self, files: dict[str, str]) -> httpx.Response:
        parts = [("files", (name, text.encode(), "text/markdown")) for name, text in files.items()]
        return self.client.post("/v1/knowledge", files=parts, headers={"Authorization": f"Bearer {CONTENT_KEY}"})

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/knowledge/jobs/{job_id}", headers={"Authorization": f"Bearer {CONTENT_KEY}"})
        response.raise_for_status()
        return dict(response.json())

    def job_exists(self, job_id: str) -> bool:
        response = self.client.get(f"/v1/knowledge/jobs/{job_id}", headers={"Authorization": f"Bearer {CONTENT_KEY}"})
        return response.status_code != 404

    def wait_job(self, job_id: str, timeout_s: float, until: Callable[[dict[str, Any]], bool] | None = None
                 ) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def check() -> bool:
            nonlocal found
            with suppress(httpx.HTTPError):
                found = self.job(job_id)
            return bool(found) and (until(found) if until else found["status"] in ("done", "partial", "failed"))

        wait_until(check, timeout_s, f"ingestion job {job_id}", interval_s=0.05)
        return found

    def document(self, doc_id: str) -> httpx.Response:
        return self.client.get(f"/v1/knowledge/documents/{doc_id}", params={"chunks": 50},
                               headers={"Authorization": f"Bearer {CONTENT_KEY}"})

    def answer(self, language: str) -> httpx.Response:
        return self.client.post("/v1/answer", headers={"Authorization": f"Bearer {CONNECTOR_KEY}"},
                                json={"market": MARKETS[language], "channel": "web", "message": QUESTIONS[language],
                                      "conversation_id": f"faults-{uuid.uuid4().hex}"})


def check_document(response: httpx.Response, doc: Doc) -> str:
    """``whole`` (every chunk of the live version, all of its text), ``absent``, ``half`` or ``mixed``."""
    if response.status_code == 404:
        return "absent"
    response.raise_for_status()
    body = response.json()
    chunks = body["chunks"]
    versions = set().union(*(versions_in(chunk["text"], doc.number) for chunk in chunks)) if chunks else set()
    if versions - {body["version"]}:
        return "mixed"
    if len(chunks) != min(body["chunk_count"], 50) or not chunks:
        return "half"
    return "whole"


def cited_versions(api: Api, reply: dict[str, Any], doc: Doc) -> set[int]:
    """The versions of ``doc`` an answer drew on: its citations' chunks, and the version tokens in its text."""
    cited = {api.ids[c["chunk_id"]][1] for c in reply.get("citations", [])
             if c["document_id"] == doc.id and c["chunk_id"] in api.ids}
    return cited | versions_in(reply.get("text", ""), doc.number)


# -- processes ----------------------------------------------------------------------------------------------------


def kill_serve(serve: ServeProcess, *, with_children: bool = False) -> None:
    """SIGKILL the serve process alone, as the kernel's OOM killer or ``kill -9`` would: its embedded redis-server
    is left to die by PDEATHSIG (SIGTERM: it saves its data first), which is waited for. ``with_children``: its
    processes (the embedded redis-server) get SIGKILL first, as when a whole container is killed: nothing saved."""
    assert serve.process is not None
    import psutil

    children = psutil.Process(serve.process.pid).children(recursive=True)
    for child in children if with_children else []:
        with suppress(psutil.Error):
            child.kill()
    serve.process.send_signal(signal.SIGKILL)
    serve.process.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=20)
    for process in alive:
        with suppress(psutil.Error):
            process.kill()
