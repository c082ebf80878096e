"""Past conversations (JSONL, or CSV with one turn per row) → question/answer chunks.

JSONL, one conversation per line::

    {"conversation_id": "c-0001", "market": "TH", "language": "th", "channel": "line",
     "customer_id": "cust-81", "turns": [{"role": "customer", "text": "..."},
                                         {"role": "agent", "text": "..."}]}

``language``, ``channel`` and ``customer_id`` are optional; ``market`` falls
back to the ingest's market. Roles: ``customer`` (or ``user``) and ``agent``
(or ``assistant``, ``bot``). The CSV twin has the columns
``conversation_id, market, language, channel, customer_id, role, text``, the
turns of a conversation in order.

Each customer message (consecutive customer turns joined) is paired with the
agent's answer that follows it (consecutive agent turns joined) as one chunk.
A line or conversation that does not fit the format is skipped with a warning
naming its line or row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from ingestion.chunking import ChunkDraft
from ingestion.tables import Table, TableDrafts
from knowledge.schema import normalize_language, normalize_market
from polydesk.errors import CorruptFileError, InvalidRecordError

_ROLES = {"customer": "customer", "user": "customer", "agent": "agent", "assistant": "agent", "bot": "agent"}


class Turn(BaseModel):
    role: Literal["customer", "agent"]
    text: str = Field(min_length=1)

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, value: object) -> object:
        return _ROLES.get(str(value).strip().lower(), value)


class Conversation(BaseModel):
    conversation_id: str = Field(min_length=1, max_length=200)
    market: str | None = None
    language: str | None = None
    channel: str | None = None
    customer_id: str | None = None
    turns: list[Turn] = Field(min_length=1)

    @field_validator("market")
    @classmethod
    def _market(cls, value: str | None) -> str | None:
        return normalize_market(value) if value else None

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return normalize_language(value) if value else None


def _error_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def read_jsonl(data: bytes) -> tuple[list[Conversation], list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"JSONL is not UTF-8 text: {exc}") from exc
    conversations: list[Conversation] = []
    warnings: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            conversations.append(Conversation.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            warnings.append(f"line {number}: skipped, not JSON ({exc.msg})")
        except ValidationError as exc:
            warnings.append(f"line {number}: skipped, {_error_text(exc)}")
    return conversations, warnings


def read_turn_rows(table: Table) -> tuple[list[Conversation], list[str]]:
    """The CSV twin: group rows by conversation id, keeping the order of first appearance."""
    columns = {name.strip().casefold(): i for i, name in enumerate(table.header)}
    grouped: dict[str, dict[str, object]] = {}
    for row in table.rows:
        record = {name: row[i].strip() for name, i in columns.items() if i < len(row)}
        conversation_id = record.get("conversation_id", "")
        entry = grouped.setdefault(conversation_id, {"conversation_id": conversation_id, "turns": []})
        for key in ("market", "language", "channel", "customer_id"):
            if record.get(key) and key not in entry:
                entry[key] = record[key]
        turns = entry["turns"]
        assert isinstance(turns, list)
        turns.append({"role": record.get("role", ""), "text": record.get("text", "")})
    conversations: list[Conversation] = []
    warnings: list[str] = []
    for conversation_id, entry in grouped.items():
        try:
            conversations.append(Conversation.model_validate(entry))
        except ValidationError as exc:
            warnings.append(f"conversation {conversation_id or '(no id)'}: skipped, {_error_text(exc)}")
    return conversations, warnings


def _exchanges(turns: list[Turn]) -> Iterable[tuple[str, str]]:
    """(customer message, agent answer) pairs; a trailing unanswered question is dropped."""
    question: list[str] = []
    answer: list[str] = []
    for turn in turns:
        if turn.role == "customer":
            if answer:
                yield " ".join(question), " ".join(answer)
                question, answer = [], []
            question.append(turn.text.strip())
        elif question:
            answer.append(turn.text.strip())
    if question and answer:
        yield " ".join(question), " ".join(answer)


def conversation_drafts(conversations: list[Conversation], warnings: list[str]) -> TableDrafts:
    result = TableDrafts(drafts=[], warnings=list(warnings))
    for conversation in conversations:
        pairs = list(_exchanges(conversation.turns))
        if not pairs:
            result.warnings.append(f"conversation {conversation.conversation_id}: skipped, no answered question")
            continue
        for turn_index, (question, answer) in enumerate(pairs):
            extra = {"conversation_id": conversation.conversation_id, "turn": str(turn_index)}
            extra.update({k: v for k in ("channel", "customer_id") if (v := getattr(conversation, k))})
            result.drafts.append(
                ChunkDraft(
                    text=f"{question}\n{answer}",
                    section=conversation.conversation_id,
                    market=conversation.market,
                    language=conversation.language,
                    extra={**extra, "question": question, "answer": answer},
                )
            )
    if not result.drafts:
        raise InvalidRecordError("no usable conversation: " + "; ".join(result.warnings[:5]))
    return result
