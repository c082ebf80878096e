"""Driving the real app for the red-team suite: plant the indirect injections, ask, and a model that obeys.

``seed`` uploads every indirect attack of the corpus for tenant ``tidewell`` through ``POST /v1/knowledge``
(one multipart upload of files, one JSON batch of FAQ rows, one of conversations), a document for tenant
``acme``, and tidewell's own traces (a conversation, an idempotent reply, an erasure in the audit log)
for the cross-tenant probes. ``ObeyingLLM`` is the LLM generator on litellm's ``mock_response``: a model
that answers what the injection asked for, so that only the output guardrails protect the customer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from agent.generators import ExtractiveGenerator, FallbackGenerator
from agent.generators.llm import LLMGenerator
from agent.pipeline import Agent
from personas import PersonaCatalog
from tests.api.conftest import raw_key
from tests.security.corpus import SYSTEM_PROMPT, Attack

L = TypeVar("L", bound=LLMGenerator)
VICTIM, ATTACKER = "tidewell", "acme"
BATCH_DOCUMENT = "redteam-faq.csv"
TRANSCRIPT_DOCUMENT = "redteam-transcripts.jsonl"
ACME_DOCUMENT = "acme-secret.md"
ACME_CANARY = "ACME-SECRET-7731"
VICTIM_CONVERSATION = "rt-victim-conversation"
VICTIM_CUSTOMER = "cust-rt-victim"
IDEMPOTENCY_KEY = "rt-idempotency-0001"
MAX_FILES = 10  # per upload (the app takes 20)
VICTIM_DOCUMENT = "warehouse-sale.md"
VICTIM_FACT = "TIDEWELL-SALE-5521"
VICTIM_QUESTION = "What is the code for the warehouse sale?"


def headers(role: str, tenant: str = VICTIM, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw_key(tenant, role)}", **extra}


def ask(client: TestClient, attack: Attack, *, tenant: str = VICTIM, channel: str = "web") -> dict[str, Any]:
    """The attack's message as a customer sends it; the reply (asserts 200)."""
    response = client.post("/v1/answer", headers=headers("connector", tenant),
                           json={"message": attack.message, "market": attack.market, "channel": channel})
    assert response.status_code == 200, f"{attack.id}: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


# -- documents -----------------------------------------------------------------------------------------------------


def white_text_pdf(visible: str, hidden: str) -> bytes:
    """A one-page PDF: ``visible`` in black, then ``hidden`` in white on white (what a reader does not see)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 8, visible, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(255, 255, 255)
    pdf.multi_cell(0, 8, hidden)
    return bytes(pdf.output())


_MEDIA = {".md": "text/markdown", ".txt": "text/plain", ".csv": "text/csv", ".html": "text/html",
          ".pdf": "application/pdf"}


def document_of(attack: Attack) -> str:
    """The document id an indirect attack lands in."""
    if attack.carrier == "json_batch_item":
        return BATCH_DOCUMENT
    if attack.carrier == "transcript":
        return TRANSCRIPT_DOCUMENT
    return str(attack.file)


def _file(attack: Attack) -> tuple[str, tuple[str, bytes, str]]:
    name = str(attack.file)
    data = white_text_pdf(attack.extra["visible"], attack.text) if attack.carrier == "pdf_white_text" \
        else attack.text.encode("utf-8")
    return "files", (name, data, _MEDIA[name[name.rfind("."):]])


def wait_for(client: TestClient, job: dict[str, Any], *, tenant: str = VICTIM, timeout_s: float = 300) -> dict[str, Any]:
    """The job once the worker has finished it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(job["links"]["self"], headers=headers("content", tenant)).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"the upload job did not finish: {job}")


def upload_files(client: TestClient, files: list[tuple[str, tuple[str, bytes, str]]], *,
                 tenant: str = VICTIM) -> dict[str, Any]:
    response = client.post("/v1/knowledge", headers=headers("content", tenant), data={"market": "*"}, files=files)
    assert response.status_code == 202, response.text
    return wait_for(client, response.json(), tenant=tenant)


def upload_batch(client: TestClient, batch: dict[str, Any], *, tenant: str = VICTIM) -> dict[str, Any]:
    response = client.post("/v1/knowledge", headers=headers("content", tenant), json=batch)
    assert response.status_code == 202, response.text
    return wait_for(client, response.json(), tenant=tenant)


@dataclass
class Seeded:
    """The app with the indirect injections planted, and what each tenant left in it."""

    client: TestClient
    jobs: list[dict[str, Any]]
    acme_job: dict[str, Any]
    documents: list[str]
    victim_reply: dict[str, Any]
    victim_audit_id: str | None
    attacks: list[Attack] = field(default_factory=list)


def seed(client: TestClient, attacks: list[Attack]) -> Seeded:
    files = [_file(a) for a in attacks if a.carrier not in ("json_batch_item", "transcript")]
    files.append(("files", (VICTIM_DOCUMENT, (
        f"# Warehouse sale\n\nThe code for the warehouse sale is {VICTIM_FACT}: it takes 30% off everything.\n"
    ).encode(), "text/markdown")))
    jobs = [upload_files(client, files[start:start + MAX_FILES]) for start in range(0, len(files), MAX_FILES)]
    rows = [{"question": a.extra["faq_question"], "answer": a.text} for a in attacks if a.carrier == "json_batch_item"]
    if rows:
        jobs.append(upload_batch(client, {"name": BATCH_DOCUMENT, "market": "*", "faq": rows}))
    conversations = [a.extra["conversation"] for a in attacks if a.carrier == "transcript"]
    if conversations:
        jobs.append(upload_batch(client, {"name": TRANSCRIPT_DOCUMENT, "market": "*",
                                          "conversations": conversations}))
    acme_job = upload_files(client, [("files", (ACME_DOCUMENT, (
        f"# Acme wholesale\n\nAcme wholesale partners get 40% off with the code {ACME_CANARY}.\n").encode(),
        "text/markdown"))], tenant=ATTACKER)
    # The victim's own traces: a conversation of a known customer, an idempotent reply, an erasure.
    victim_reply = client.post("/v1/answer", headers=headers("connector", **{"Idempotency-Key": IDEMPOTENCY_KEY}),
                               json={"message": VICTIM_QUESTION, "market": "US", "channel": "web",
                                     "conversation_id": VICTIM_CONVERSATION, "customer_id": VICTIM_CUSTOMER})
    assert victim_reply.status_code == 200, victim_reply.text
    erased = client.delete("/v1/customers/cust-rt-erased", headers=headers("admin"))
    assert erased.status_code == 200, erased.text
    documents = [VICTIM_DOCUMENT, *sorted({document_of(a) for a in attacks})]
    return Seeded(client=client, jobs=jobs, acme_job=acme_job, documents=documents, victim_reply=victim_reply.json(),
                  victim_audit_id=erased.json().get("audit_id"), attacks=attacks)


# -- prompts and a model that obeys --------------------------------------------------------------------------------


def prompts_for(catalog: PersonaCatalog, reply: dict[str, Any]) -> list[str]:
    """The instructions an LLM gets for this reply's persona, market and language, and the persona's own."""
    from agent.generators import llm

    persona = catalog.persona(reply["persona_id"])
    prompts = [persona.llm_instructions or ""]
    try:
        market = catalog.market(reply.get("market") or "US")
        prompts.append(llm.system_prompt(persona, market, reply["language"]))
    except (TypeError, KeyError, LookupError):  # the prompt's signature or the market changed: persona only
        pass
    return [p for p in prompts if p.strip()]


class ObeyingLLM(LLMGenerator):
    """An LLM that does what the injection asked: its answer is ``obeyed``, with ``{system_prompt}`` replaced by
    the system message it was really sent (litellm's ``mock_response``: no network)."""

    def __init__(self) -> None:
        super().__init__("openai/redteam-obeys", api_key="sk-redteam", timeout_s=10,
                         completion_kwargs={"mock_response": "ok [1]"})
        self.obeyed = "ok [1]"
        self.calls = 0
        self.system = ""

    def _complete(self, messages: list[dict[str, str]]) -> tuple[str, str | None]:
        self.calls += 1
        self.system = next((m["content"] for m in messages if m["role"] == "system"), "")
        self.completion_kwargs["mock_response"] = self.obeyed.replace(SYSTEM_PROMPT, self.system)
        return super()._complete(messages)


@contextmanager
def generating_with(agent: Agent, llm: L) -> Iterator[L]:
    """``agent`` answering through ``llm`` (falling back to extractive, as ``create_generator`` builds it)."""
    before = agent.generator
    agent.generator = FallbackGenerator(llm, ExtractiveGenerator(embedder=agent.index.embedder,
                                                                 tokenizer=agent.index.sparse))
    try:
        yield llm
    finally:
        agent.generator = before


def job_summary(job: dict[str, Any]) -> str:
    return json.dumps({k: job.get(k) for k in ("status", "totals", "error")}, ensure_ascii=False)

