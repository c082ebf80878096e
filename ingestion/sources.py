"""Which files an ingest takes, and with which metadata.

``polydesk ingest PATH...`` takes files and folders (recursively, in sorted
order, skipping hidden files). A document's id is its path relative to the
folder named on the command line (a file named directly: its file name), in
Unicode NFC as an upload's ids are (a folder copied from macOS spells "ü" as
"u" + U+0308), so re-ingesting the same folder addresses the same documents.

Metadata comes from the command line (``--market``, ``--kind``,
``--language``), overridden for a folder and everything below it by a
``polydesk.yaml`` in that folder (the nearest one wins, field by field)::

    market: DE          # or "*" for market-independent content
    kind: policy        # doc | faq | policy | conversation
    language: de        # optional: skip detection
    redact: true        # optional: redact PII in documents of this folder

An invalid ``polydesk.yaml`` stops the ingest before anything is written.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from knowledge.schema import Kind, normalize_language, normalize_market
from polydesk.errors import ConfigError, InputError

FOLDER_DEFAULTS_FILE = "polydesk.yaml"


@dataclass(frozen=True, slots=True)
class SourceOptions:
    tenant: str
    market: str = "*"
    kind: Kind | None = None  # None: decided by the file type (faq, conversation, doc)
    language: str | None = None  # None: detected per chunk
    redact: bool = False
    # Where the documents came from, for their records: None keeps the file's path (a CLI ingest of a folder);
    # an upload says "upload:" so records name the document, not a spool folder that is gone after the job.
    source_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path
    document_id: str
    options: SourceOptions
    title: str | None = None  # set: the document's title (a reader's metadata), whatever the text's first heading


class FolderDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    market: str | None = None
    kind: Kind | None = None
    language: str | None = None
    redact: bool | None = None

    @field_validator("market")
    @classmethod
    def _market(cls, value: str | None) -> str | None:
        return normalize_market(value) if value is not None else None

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return normalize_language(value) if value is not None else None

    def apply(self, options: SourceOptions) -> SourceOptions:
        changes = {k: v for k, v in self.model_dump().items() if v is not None}
        return replace(options, **changes)


def _load_defaults(folder: Path, cache: dict[Path, FolderDefaults | None]) -> FolderDefaults | None:
    if folder not in cache:
        file = folder / FOLDER_DEFAULTS_FILE
        if not file.is_file():
            cache[folder] = None
        else:
            try:
                data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
                cache[folder] = FolderDefaults.model_validate(data)
            except (yaml.YAMLError, ValidationError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{file}: {exc}") from exc
    return cache[folder]


def _options_for(
    path: Path, root: Path, base: SourceOptions, cache: dict[Path, FolderDefaults | None]
) -> SourceOptions:
    folders = [path.parent]
    while folders[-1] != root and root in folders[-1].parents:
        folders.append(folders[-1].parent)
    options = base
    for folder in reversed(folders):  # outermost first, so the nearest file wins
        defaults = _load_defaults(folder, cache)
        if defaults is not None:
            options = defaults.apply(options)
    return options


def discover(paths: list[Path], base: SourceOptions) -> list[SourceFile]:
    """Expand files and folders into source files with their ids and options."""
    cache: dict[Path, FolderDefaults | None] = {}
    found: dict[str, SourceFile] = {}
    for given in paths:
        given = given.resolve()
        if not given.exists():
            raise InputError(f"no such file or folder: {given}")
        if given.is_file():
            root, files = given.parent, [given]
        else:
            root = given
            files = sorted(
                p for p in given.rglob("*")
                if p.is_file() and p.name != FOLDER_DEFAULTS_FILE
                and not any(part.startswith(".") for part in p.relative_to(given).parts)
            )
        for file in files:
            document_id = unicodedata.normalize("NFC", file.relative_to(root).as_posix())
            found.setdefault(document_id, SourceFile(file, document_id, _options_for(file, root, base, cache)))
    return list(found.values())
