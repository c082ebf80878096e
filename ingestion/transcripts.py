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

Past conversations are knowledge, not scripts: another customer must never get this one's name, order or
situation. So, before the pipeline redacts e-mails, phones and cards:

1. **Names and addresses are redacted** (``polydesk.redaction`` with ``people``): the speakers' names the
   transcript gives (optional ``customer_name`` and ``agent_name`` per conversation, ``name`` per turn or
   CSV row), and every name the conversation gives by its place ("Hi Jenna,", "¡A ti, Lucía!", "田中様",
   a signature), wherever it occurs in that conversation, become ``[NAME]``; postal addresses ``[ADDRESS]``.
   A word found as a name in a few conversations but written in many more ("Chào Tidewell,") is the brand's,
   not a person's, and is left alone. A sentence left as nothing but courtesy and a placeholder ("Hi [NAME],",
   "¡A ti, [NAME]!", a signature) is dropped; an exchange whose answer is left empty is skipped.
2. **Exchanges that are no knowledge are flagged** (``ChunkDraft.flag``, then ``Chunk.flag``: the index keeps
   flagged chunks out of answers, and the content editor sees why): ``small talk`` when the customer only said
   thanks, ok, hello or bye (the answer is a pleasantry for that customer), and ``specific: …`` when the
   answer speaks of that customer's case (``ingestion.specifics``: an order number, a date or day, the order's
   situation, an amount or contact details of theirs, a name or address left in it). General answers
   ("Returns are free within 30 days") stay usable.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Literal

import regex
from pydantic import BaseModel, Field, ValidationError, field_validator

from ingestion.chunking import ChunkDraft
from ingestion.specifics import specifics
from ingestion.tables import Table, TableDrafts
from knowledge.schema import normalize_language, normalize_market
from polydesk.courtesy import courtesy
from polydesk.errors import CorruptFileError, InvalidRecordError
from polydesk.names import find_names
from polydesk.redaction import Redactor
from polydesk.sentences import sentence_spans

_ROLES = {"customer": "customer", "user": "customer", "agent": "agent", "assistant": "agent", "bot": "agent"}
_PEOPLE = frozenset({"NAME", "ADDRESS"})
_PLACEHOLDER = regex.compile(r"\[(?:NAME|ADDRESS)\]")
_WORD = regex.compile(r"[\p{L}\p{M}'’-]+")
# A word found as a name in n conversations but written in more than this many times n (and in 3 or more) is a
# brand's or a product's, not a person's.
_COMMON_WORD_RATIO = 2
_REDACTOR = Redactor(people=True)


class Turn(BaseModel):
    role: Literal["customer", "agent"]
    text: str = Field(min_length=1)
    name: str | None = Field(default=None, max_length=200, description="the speaker's name, when the export has it")

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
    customer_name: str | None = Field(default=None, max_length=200)
    agent_name: str | None = Field(default=None, max_length=200)
    turns: list[Turn] = Field(min_length=1)

    @property
    def speaker_names(self) -> list[str]:
        names = [self.customer_name, self.agent_name, *(turn.name for turn in self.turns)]
        return list(dict.fromkeys(name.strip() for name in names if name and name.strip()))

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
        for key in ("market", "language", "channel", "customer_id", "customer_name", "agent_name"):
            if record.get(key) and key not in entry:
                entry[key] = record[key]
        turns = entry["turns"]
        assert isinstance(turns, list)
        turns.append({"role": record.get("role", ""), "text": record.get("text", ""),
                      "name": record.get("name") or None})
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
    known, not_names = _names(conversations)
    for conversation, names in zip(conversations, known, strict=True):
        turns = [turn.model_copy(update={"text": _redacted(turn.text, conversation.market, names, not_names)})
                 for turn in conversation.turns]
        asked = " ".join(turn.text for turn in turns if turn.role == "customer")
        pairs = list(_exchanges(turns))
        if not pairs:
            result.warnings.append(f"conversation {conversation.conversation_id}: skipped, no answered question")
            continue
        for turn_index, (question, answer) in enumerate(pairs):
            question, answer = without_bare_placeholders(question), without_bare_placeholders(answer)
            if not answer or not question:
                result.warnings.append(f"conversation {conversation.conversation_id}, turn {turn_index}: skipped, "
                                       "nothing left once names are redacted")
                continue
            extra = {"conversation_id": conversation.conversation_id, "turn": str(turn_index)}
            extra.update({k: v for k in ("channel", "customer_id") if (v := getattr(conversation, k))})
            flag = exchange_flag(question, answer, asked=asked, market=conversation.market,
                                 language=conversation.language)
            result.drafts.append(
                ChunkDraft(
                    text=f"{question}\n{answer}",
                    section=conversation.conversation_id,
                    market=conversation.market,
                    language=conversation.language,
                    extra={**extra, "question": question, "answer": answer},
                    flag=flag,
                )
            )
    if not result.drafts:
        raise InvalidRecordError("no usable conversation: " + "; ".join(result.warnings[:5]))
    return result


def exchange_flag(question: str, answer: str, *, asked: str = "", market: str | None = None,
                  language: str | None = None) -> str | None:
    """Why an exchange is no knowledge for other customers (see the module docstring), or None when it is;
    ``asked`` is everything the customer wrote in the conversation (default: ``question``)."""
    if courtesy(question).only:
        return "small talk"
    found = specifics(answer, question=asked or question, market=market, language=language)
    return f"specific: {', '.join(found)}" if found else None


def without_bare_placeholders(text: str) -> str:
    """``text`` without the sentences left as only courtesy and ``[NAME]`` / ``[ADDRESS]`` ("Hi [NAME],")."""
    if not _PLACEHOLDER.search(text):
        return text
    kept: list[str] = []
    for span in sentence_spans(text):
        sentence = text[span.start:span.end]
        rest = _PLACEHOLDER.sub(" ", sentence)
        if _PLACEHOLDER.search(sentence) and courtesy(rest).bare:
            continue
        kept.append(text[span.start:span.stop])
    return "".join(kept).strip()


def _redacted(text: str, market: str | None, names: list[str], not_names: frozenset[str]) -> str:
    """Names and addresses redacted; e-mails, phones and cards are left to the pipeline, which counts them."""
    return _REDACTOR.redact(text, market=market, names=names, not_names=not_names, only=_PEOPLE).text


def _names(conversations: list[Conversation]) -> tuple[list[list[str]], frozenset[str]]:
    """Per conversation, the names to redact wherever they occur; and the words that look like names by their place
    but are written across many conversations (a brand after "Chào"), which are no one's name."""
    found = [list(dict.fromkeys(name for turn in c.turns for name in find_names(turn.text))) for c in conversations]
    written: Counter[str] = Counter()
    for conversation in conversations:
        written.update({word.casefold() for turn in conversation.turns for word in _WORD.findall(turn.text)})
    as_name = Counter(name.casefold() for names in found for name in names)
    not_names = frozenset(name for names in found for name in names
                          if written[name.casefold()] >= 3
                          and written[name.casefold()] > _COMMON_WORD_RATIO * as_name[name.casefold()])
    known = [[*c.speaker_names, *(name for name in names if name not in not_names)]
             for c, names in zip(conversations, found, strict=True)]
    return known, not_names
