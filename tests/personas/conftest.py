"""Helpers for persona tests: the built-in catalogue and brand folders written from small valid documents."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from personas.catalog import PersonaCatalog

PERSONA: dict[str, Any] = {
    "id": "acme-voice",
    "display_name": "Acme voice",
    "tone": "friendly",
    "formality": "neutral",
    "emoji": "none",
    "max_reply_chars": 500,
    "greetings": {"en": "Hi, this is Acme.", "de": "Hallo, hier ist Acme."},
    "sign_offs": {"en": "Cheers, Acme", "de": "Viele Grüße, Acme"},
}

MARKET: dict[str, Any] = {
    "code": "AT",
    "name": "Österreich",
    "languages": ["de"],
    "timezone": "Europe/Vienna",
    "support_hours": {"schedule": [{"days": [1, 2, 3, 4, 5], "open": "08:00", "close": "17:00"}]},
    "human_response_time": "PT4H",
}


DocumentMaker = Callable[..., dict[str, Any]]


@pytest.fixture
def persona_doc() -> DocumentMaker:
    """A valid persona document with keyword changes applied (a value of None removes the field)."""
    return lambda **changes: _changed(PERSONA, changes)


@pytest.fixture
def market_doc() -> DocumentMaker:
    """A valid market document with keyword changes applied (a value of None removes the field)."""
    return lambda **changes: _changed(MARKET, changes)


def _changed(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return document


BrandWriter = Callable[..., Path]


@pytest.fixture
def brand(tmp_path: Path) -> BrandWriter:
    """Write files into a brand folder: ``brand({"personas/a.yaml": {...} or "raw text"})`` returns the folder."""
    root = tmp_path / "brand"
    root.mkdir()

    def write(files: dict[str, dict[str, Any] | str]) -> Path:
        for relative, content in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            text = content if isinstance(content, str) else yaml.safe_dump(content, allow_unicode=True, sort_keys=False)
            path.write_text(text, encoding="utf-8")
        return root

    return write


@pytest.fixture(scope="session")
def catalog() -> PersonaCatalog:
    return PersonaCatalog.load()
