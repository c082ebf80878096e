"""The usage examples in the personas module docstrings run and stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

pytestmark = pytest.mark.unit

MODULES = ["personas", "personas.fields", "personas.persona", "personas.hours", "personas.market",
           "personas.routing", "personas.escalation", "personas.loader", "personas.catalog", "personas.public",
           "personas.errors"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
