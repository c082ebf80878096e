"""Eval suites: cases as JSONL or CSV files, loaded with Hugging Face ``datasets`` (offline).

A case is one customer message to answer (after an optional conversation so far), with what a right reply
contains (``must_contain``), what it must not contain (``must_not_contain``, e.g. another market's return
window), the documents that hold the answer (``sources``), and whether a person must take over
(``escalate``, ``queue``) or the bot cannot know (``answerable: false``), and, for a brand tool, the call the reply
must show (``tool``: its name, arguments and status). docs/evals.md documents the format.

Example:
    >>> cases = load_suites([Path("evals/suites/tidewell-de.jsonl")])          # doctest: +SKIP
    >>> cases[0].market, cases[0].expect
    ('DE', 'answer')
"""

from __future__ import annotations

import csv
import glob
import json
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from knowledge.schema import LanguageTag, MarketCode, normalize_market
from polydesk.errors import InputError

SUITES_DIR = Path(__file__).resolve().parent / "suites"
Expectation = Literal["answer", "decline", "escalate"]
_LIST_FIELDS = ("history", "must_contain", "must_not_contain", "sources", "tags")
# A tool call's status as the reply shows it (agent.schema.ToolCall), or ``not_called``: no call of that tool.
ToolStatus = Literal["ok", "not_found", "not_yours", "failed", "unavailable", "refused_unsafe", "missing_parameter",
                     "invalid_arguments", "not_called"]


class ToolExpectation(BaseModel):
    """The brand tool call a right reply shows: ``name``, the ``arguments`` it was called with (those given must
    match; others may be there too) and its ``status`` (``ok`` unless said; ``missing_parameter``: the reply asked
    for a parameter and nothing was sent; ``not_called``: no call of that tool at all)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1)
    arguments: dict[str, str] = Field(default_factory=dict)
    status: ToolStatus = "ok"


class Case(BaseModel):
    """One eval case. ``expect`` follows from ``escalate`` and ``answerable``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
    market: MarketCode
    channel: str = "web"
    language: LanguageTag = Field(description="the language the reply must be in (the customer's)")
    history: list[str] = Field(default_factory=list, description="earlier customer messages of the conversation")
    message: str = Field(min_length=1)
    reference: str = Field(default="", description="a good answer, for the similarity metrics")
    must_contain: list[str] = Field(default_factory=list, description="facts; 'a|b' means either spelling counts")
    must_not_contain: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, description="document ids that hold the answer")
    answerable: bool = True
    escalate: bool = False
    queue: str | None = None
    tags: list[str] = Field(default_factory=list)
    tool: ToolExpectation | None = Field(default=None, description="the brand tool call the reply must show")

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("queue")
    @classmethod
    def _queue(cls, value: str | None) -> str | None:
        return value or None

    @property
    def expect(self) -> Expectation:
        if self.escalate:
            return "escalate"
        return "answer" if self.answerable else "decline"


def suite_paths(patterns: Iterable[str | Path]) -> list[Path]:
    """Files named by paths, folders (their *.jsonl and *.csv) or glob patterns, in a stable order."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in (".jsonl", ".json", ".csv"))
        elif path.exists():
            found.append(path)
        else:
            matches = sorted(Path(p) for p in glob.glob(str(pattern)))
            if not matches:
                raise InputError(f"no suite file matches {str(pattern)!r}")
            found += matches
    return list(dict.fromkeys(found))


def load_suites(paths: Sequence[str | Path], *, markets: Sequence[str] | None = None) -> list[Case]:
    """Every case of the files (see ``suite_paths``), optionally only some markets; ids must be unique."""
    wanted = {normalize_market(m) for m in markets} if markets else None
    cases: list[Case] = []
    for path in suite_paths(paths):
        cases += [c for c in load_suite(path) if wanted is None or c.market in wanted]
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise InputError(f"case id {case.id!r} occurs twice")
        seen.add(case.id)
    return cases


def load_suite(path: Path) -> list[Case]:
    """The cases of one JSONL or CSV file, read through ``datasets`` (local files only, cache in a temp dir)."""
    rows = _read_rows(path)
    cases = []
    for number, row in enumerate(rows, start=1):
        try:
            cases.append(Case.model_validate(_clean(row)))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InputError(f"{path.name} row {number}: {where}: {first['msg']}") from exc
    return cases


def _read_rows(path: Path) -> list[dict[str, Any]]:
    import datasets

    datasets.disable_progress_bars()
    if path.suffix == ".csv":
        # Every column as text ("007" stays an id, "true" is read by the case model), blanks as empty strings.
        with path.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
        features = datasets.Features({name: datasets.Value("string") for name in header})
        builder, options = "csv", {"features": features, "keep_default_na": False}
    elif path.suffix in (".jsonl", ".json"):
        builder, options = "json", {}
    else:
        raise InputError(f"{path.name}: a suite is a .jsonl or .csv file")
    with tempfile.TemporaryDirectory(prefix="polydesk-suite-") as cache:
        try:
            dataset = datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=cache, **options)
        except Exception as exc:  # datasets raises many types (arrow, json, pandas) for one cause: a bad file
            raise InputError(f"{path.name}: not a readable {builder.upper()} suite ({exc})") from exc
        return list(dataset.to_list())


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """CSV cells to the case's types: lists as JSON arrays or ';'-separated, booleans as true/false, no blanks."""
    cleaned: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or value == "":
            continue
        if key in _LIST_FIELDS and isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(";") if p.strip()]
        elif key in ("answerable", "escalate") and isinstance(value, str):
            value = value.strip().lower() in ("1", "true", "yes", "y")
        elif key == "tool":
            # A CSV cell holds the expectation as a JSON object; ``datasets`` reads the JSONL objects of a file as
            # one struct type, so a key one row lacks comes back as None in it.
            value = _without_none(json.loads(value) if isinstance(value, str) else value)
        cleaned[key] = value
    return cleaned


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value
