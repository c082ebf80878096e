"""The index contract: what a chunk is, what a document record is, how to ask.

Every stored chunk carries ``tenant``, ``market`` (or ``*``), ``language``,
``kind``, ``source``, ``document_id``, ``title``, ``version``, ``content_hash``,
its text and its position in the source. Every search filters by tenant.

Example:
    >>> chunk = Chunk(tenant="tidewell", document_id="policies/de/returns.md", version=1,
    ...               position=0, text="Rückgabe innerhalb von 30 Tagen.", market="DE",
    ...               language="de", kind="policy", source="policies/de/returns.md",
    ...               title="Rückgabe")
    >>> chunk.point_id == Chunk.make_point_id("tidewell", "policies/de/returns.md", 1, 0)
    True
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from polydesk.visible import BIDI_CONTROLS, JOINERS, escape_invisible, has_visible_text

Kind = Literal["doc", "faq", "policy", "conversation"]
KINDS: tuple[Kind, ...] = ("doc", "faq", "policy", "conversation")
ANY_MARKET = "*"

_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

# Fixed namespace so point ids are the same on every machine and every run.
_POINT_NAMESPACE = uuid.UUID("6f1c2a52-8a2e-4c1e-9a51-5d2b7f0e9c11")


def text_hash(text: str) -> str:
    """A short, stable fingerprint of a text (sha256, 16 hex digits)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def normalize_tenant(value: str) -> str:
    if not _TENANT.fullmatch(value):
        raise ValueError(
            f"tenant must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit; got {value!r}"
        )
    return value


# Codes connectors send besides ISO 3166-1 alpha-2, mapped to it: the United Kingdom's own "UK" and the EU's "EL".
MARKET_ALIASES = {"UK": "GB", "EL": "GR"}


def normalize_market(value: str) -> str:
    """``value`` as the canonical market code: upper case, ISO 3166-1 alpha-2 for an alias ("uk" -> "GB"), or "*"."""
    value = value.strip().upper()
    if value == ANY_MARKET:
        return value
    if not (2 <= len(value) <= 3 and value.isalpha() and value.isascii()):
        raise ValueError(f"market must be a 2-3 letter country code or '*', got {value!r}")
    return MARKET_ALIASES.get(value, value)


def normalize_language(value: str) -> str:
    value = value.strip().lower().replace("_", "-")
    primary = value.split("-")[0]
    if not (2 <= len(primary) <= 3 and primary.isalpha() and primary.isascii()):
        raise ValueError(f"language must be an ISO 639 code such as 'de' or 'pt-br', got {value!r}")
    return value


# Fields of any model that takes a market or a language: validated and normalised the same way everywhere.
MarketCode = Annotated[str, AfterValidator(normalize_market)]
LanguageTag = Annotated[str, AfterValidator(normalize_language)]


# -- names: documents, folders and document ids ------------------------------------------------------------------
#
# A name is normalised to NFC; invisible format characters (zero-width space, word joiner, BOM, soft hyphen,
# direction marks) are removed, except the zero-width (non-)joiners that Persian, Indic scripts and emoji spell
# with. Refused: control characters, bidirectional embeddings/overrides/isolates (U+202A-U+202E,
# U+2066-U+2069: they make "exe.md" of "\u202edm.exe" and so disguise a name, so they are an error rather
# than silently dropped), a name that is empty once normalised, only dots ("." and ".."), hidden (a leading
# "."), or longer than MAX_NAME_BYTES.

MAX_NAME_BYTES = 255  # one file or folder name, in UTF-8 bytes: what file systems allow
MAX_DOCUMENT_ID_CHARS = 512  # a whole document id (Chunk.document_id)
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})  # controls, lone surrogates, line/paragraph separators


def normalize_name(value: str, *, what: str = "name") -> str:
    """One file or folder name, normalised (see above), or a ``ValueError`` that says what to change."""
    shown = escape_invisible(value if len(value) <= 80 else value[:80] + "…")
    name = unicodedata.normalize("NFC", value)
    bidi = next((c for c in name if c in BIDI_CONTROLS), None)
    if bidi is not None:
        raise ValueError(f"the {what} '{shown}' contains the bidirectional control U+{ord(bidi):04X}, which can "
                         "disguise a name (it reverses the text shown after it); remove it")
    control = next((c for c in name if unicodedata.category(c) in _REFUSED_CATEGORIES), None)
    if control is not None:
        raise ValueError(f"the {what} '{shown}' contains the control character U+{ord(control):04X}; remove it")
    if "/" in name or "\\" in name:
        raise ValueError(f"the {what} '{shown}' contains a path separator")
    name = "".join(c for c in name if c in JOINERS or unicodedata.category(c) != "Cf")
    name = name.strip().strip("".join(JOINERS)).strip()
    if not has_visible_text(name):
        raise ValueError(f"the {what} '{shown}' is empty once invisible characters are removed; name it")
    if set(name) == {"."}:
        raise ValueError(f"the {what} '{shown}' is only dots; '.' and '..' cannot name a document")
    if name.startswith("."):
        raise ValueError(f"the {what} '{shown}' is hidden (it starts with '.'); hidden files are not ingested")
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise ValueError(f"the {what} '{shown}' is {size} bytes in UTF-8, more than the {MAX_NAME_BYTES} allowed; "
                         "shorten it")
    return name


def normalize_document_id(value: str, *, folder: bool = False) -> str:
    """A document id (``policies/TH/คืนสินค้า.md``): every folder and the file name normalised by
    ``normalize_name``; empty segments (``a//b``, a leading ``/``) are dropped. ``ValueError`` when refused.
    ``folder=True`` checks a folder path (each segment named a folder in errors).

    Every way in (an upload's file names and folder, a JSON batch's name, a ``document_id`` in a URL) goes
    through here, so a document is addressed by the same id whichever way it came.

        >>> normalize_document_id("policies/JP/返品ポリシー.md")
        'policies/JP/返品ポリシー.md'
    """
    segments = [s for s in value.split("/") if s != ""]
    if not segments:
        raise ValueError(f"the document id '{escape_invisible(value[:80])}' is empty; name the document")
    document_id = "/".join(normalize_name(s, what="folder name" if folder or i < len(segments) - 1 else "document name")
                           for i, s in enumerate(segments))
    if len(document_id) > MAX_DOCUMENT_ID_CHARS:
        raise ValueError(f"the document id is {len(document_id)} characters, more than the "
                         f"{MAX_DOCUMENT_ID_CHARS} allowed")
    return document_id


DocumentId = Annotated[str, AfterValidator(normalize_document_id)]


class Chunk(BaseModel):
    """One searchable piece of a document, with everything a filter or a citation needs."""

    model_config = ConfigDict(frozen=True)

    tenant: str = Field(min_length=1, max_length=64)
    document_id: str = Field(min_length=1, max_length=512)
    version: int = Field(ge=1)
    position: int = Field(ge=0, description="order of the chunk within its document")
    text: str = Field(min_length=1)
    market: str = ANY_MARKET
    language: str
    kind: Kind
    source: str
    title: str = ""
    section: str = Field(default="", description="heading path inside the source, e.g. 'Returns > Germany'")
    page: int | None = None
    content_hash: str = ""
    extra: dict[str, str] = Field(default_factory=dict, description="kind-specific fields, e.g. conversation_id")
    flag: str | None = Field(default=None, max_length=300, description=(
        "set: the chunk is kept out of generation, for this reason (shown to the content editor), e.g. "
        "'instruction: ignore previous instructions'; searches skip it unless asked to include it"))

    @field_validator("tenant")
    @classmethod
    def _check_tenant(cls, value: str) -> str:
        return normalize_tenant(value)

    @field_validator("market")
    @classmethod
    def _check_market(cls, value: str) -> str:
        return normalize_market(value)

    @field_validator("language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        return normalize_language(value)

    def model_post_init(self, _context: object) -> None:
        if not self.content_hash:
            object.__setattr__(self, "content_hash", text_hash(self.text))

    @staticmethod
    @functools.lru_cache(maxsize=65536)  # every citation and ranking asks for it; uuid5 hashes each time
    def make_point_id(tenant: str, document_id: str, version: int, position: int) -> str:
        return str(uuid.uuid5(_POINT_NAMESPACE, f"{tenant}\x1f{document_id}\x1f{version}\x1f{position}"))

    @property
    def point_id(self) -> str:
        return self.make_point_id(self.tenant, self.document_id, self.version, self.position)

    def payload(self) -> dict[str, object]:
        return self.model_dump()


class DocumentRecord(BaseModel):
    """The catalogue entry of one document: which version is live and what it holds.

    The record is the switch that makes a new version visible: chunks of any
    other version of the document are never returned by a search.
    """

    tenant: str
    document_id: str
    version: int = Field(ge=1)
    title: str = ""
    source: str
    kind: Kind
    market: str = ANY_MARKET
    language: str
    source_hash: str = Field(description="fingerprint of the source bytes and the ingestion options")
    chunk_count: int = Field(ge=0)
    flagged_chunks: int = Field(default=0, ge=0, description="chunks with a flag: indexed, kept out of answers")
    ingested_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @staticmethod
    def make_point_id(tenant: str, document_id: str) -> str:
        return str(uuid.uuid5(_POINT_NAMESPACE, f"document\x1f{tenant}\x1f{document_id}"))

    @property
    def point_id(self) -> str:
        return self.make_point_id(self.tenant, self.document_id)

    def payload(self) -> dict[str, object]:
        return self.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class SparseVector:
    """A sparse lexical vector: term ids (uint32) and weights."""

    indices: list[int]
    values: list[float]

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.values):
            raise ValueError("sparse vector needs as many values as indices")


@dataclass(frozen=True, slots=True)
class ChunkFilter:
    """What a search may return. ``tenant`` is mandatory; the rest narrow it."""

    tenant: str
    markets: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    document_ids: tuple[str, ...] | None = None
    unflagged_only: bool = False  # only chunks whose ``flag`` is unset (fit for generation)
    # (document id, version) pairs left out: versions a search found that are not live (being written, replaced)
    except_versions: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if not self.tenant:
            raise ValueError("every search filters by tenant")
        normalize_tenant(self.tenant)


@dataclass(frozen=True, slots=True)
class StoreQuery:
    """A query to a store backend: dense, sparse or both (fused with RRF)."""

    filter: ChunkFilter
    limit: int = 10
    dense: list[float] | None = None
    sparse: SparseVector | None = None
    rrf_k: int = 10
    with_similarity: bool = False  # also the cosine of each hit's dense vector and ``dense`` (hybrid hits too)
    candidates: int | None = None  # each side of a hybrid search hands this many to the fusion (default: limit-based)

    def __post_init__(self) -> None:
        if self.dense is None and self.sparse is None:
            raise ValueError("a query needs a dense vector, a sparse vector or both")
        if self.limit < 1:
            raise ValueError("limit must be at least 1")
        if self.candidates is not None and self.candidates < 1:
            raise ValueError("candidates must be at least 1")
        if self.with_similarity and self.dense is None:
            raise ValueError("similarity needs a dense vector")


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    chunk: Chunk
    score: float
    similarity: float | None = None  # cosine with the query's dense vector, when asked for

    def __reduce__(self) -> tuple[type[ScoredChunk], tuple[Chunk, float, float | None]]:
        # Hits cross processes (``knowledge.store_host``) dozens per answer: positionally, not by a frozen
        # dataclass's field-by-field state.
        return ScoredChunk, (self.chunk, self.score, self.similarity)


@dataclass(slots=True)
class DocumentPage:
    records: list[DocumentRecord] = field(default_factory=list)
    next_offset: str | None = None
