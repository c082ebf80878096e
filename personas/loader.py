"""Read one personas folder (built-in or a brand's) into validated models, file by file.

A folder holds ``personas/*.yaml`` (one persona per file), ``markets/*.yaml``
(one market per file) and optionally ``routing.yaml`` and ``escalation.yaml``. Every problem is a
``PersonaConfigError`` naming the file, the field and the problem; YAML syntax
errors and duplicate keys name the line. The built-in folder is parsed once
per process (``builtin_layer`` is cached).

Example:
    >>> layer = builtin_layer()
    >>> layer.markets["JP"].item.timezone, layer.personas["jp-keigo"].path.name
    ('Asia/Tokyo', 'jp-keigo.yaml')
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from personas.errors import PersonaConfigError, Problem
from personas.escalation import EscalationRules
from personas.fields import FieldProblem
from personas.market import Market
from personas.persona import Persona
from personas.routing import RoutingTable

BUILTIN_DIR = Path(__file__).parent / "builtin"
LayerName = Literal["builtin", "brand"]
M = TypeVar("M", bound=BaseModel)
_YAML_SUFFIXES = (".yaml", ".yml")
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_BaseLoader):
    """Safe YAML loading that refuses a key given twice in one mapping (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        mapping: dict[Hashable, Any] = super().construct_mapping(node, deep=deep)
        return mapping


@dataclass(frozen=True, slots=True)
class Sourced(Generic[M]):
    """A validated model and the file it came from."""

    item: M
    path: Path


@dataclass(frozen=True, slots=True)
class Layer:
    """Everything one folder defines, keyed by persona id and market code."""

    name: LayerName
    root: Path
    personas: Mapping[str, Sourced[Persona]]
    markets: Mapping[str, Sourced[Market]]
    routing: Sourced[RoutingTable] | None
    escalation: Sourced[EscalationRules] | None


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in ``path``; a PersonaConfigError for unreadable files, bad syntax or a non-mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PersonaConfigError.single(path, "-", f"cannot read the file: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "-"
        problem = getattr(exc, "problem", None) or str(exc)
        raise PersonaConfigError.single(path, where, f"invalid YAML: {problem}") from exc
    if data is None:
        raise PersonaConfigError.single(path, "-", "the file is empty")
    if not isinstance(data, dict):
        raise PersonaConfigError.single(path, "-", f"expected a mapping of fields, got a {type(data).__name__}")
    return data


def problems_from(exc: ValidationError) -> list[Problem]:
    """Pydantic's errors as (dotted field, readable problem) pairs."""
    problems = []
    for error in exc.errors(include_url=False):
        field = _format_location(error["loc"])
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, FieldProblem):
            field = f"{field}.{cause.field}" if field else cause.field
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        elif error["type"] in {"enum", "literal_error"} and isinstance(error.get("input"), str | int | float):
            message = f"{message}, got {error['input']!r}"
        problems.append(Problem(field or "-", message))
    return problems


def _format_location(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def parse_file(path: Path, model: type[M]) -> M:
    """Read and validate one file as ``model``."""
    data = read_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PersonaConfigError(path, problems_from(exc)) from None


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.suffix in _YAML_SUFFIXES and path.is_file())


def _read_all(folder: Path, model: type[M], key_field: str, kind: str) -> dict[str, Sourced[M]]:
    found: dict[str, Sourced[M]] = {}
    for path in _yaml_files(folder):
        item = parse_file(path, model)
        key = str(getattr(item, key_field))
        if key in found:
            message = f"{kind} {key!r} is also defined in {found[key].path}; each {key_field} once per folder"
            raise PersonaConfigError.single(path, key_field, message)
        found[key] = Sourced(item, path)
    return found


def read_layer(root: Path, *, name: LayerName) -> Layer:
    """Read ``root/personas``, ``root/markets``, ``root/routing.yaml`` and ``root/escalation.yaml`` (each optional)."""
    if not root.is_dir():
        raise PersonaConfigError.single(root, "-", "the personas folder does not exist or is not a folder")
    return Layer(
        name=name,
        root=root,
        personas=_read_all(root / "personas", Persona, "id", "persona"),
        markets=_read_all(root / "markets", Market, "code", "market"),
        routing=_read_optional(root, "routing", RoutingTable),
        escalation=_read_optional(root, "escalation", EscalationRules),
    )


def _read_optional(root: Path, stem: str, model: type[M]) -> Sourced[M] | None:
    """``root/<stem>.yaml`` (or ``.yml``) parsed, or None when the folder has neither."""
    files = [path for path in (root / f"{stem}.yaml", root / f"{stem}.yml") if path.is_file()]
    if len(files) > 1:
        raise PersonaConfigError.single(files[1], "-", f"give {stem}.yaml or {stem}.yml, not both")
    return Sourced(parse_file(files[0], model), files[0]) if files else None


@lru_cache(maxsize=1)
def builtin_layer() -> Layer:
    """The personas, markets and routing that ship with polydesk (parsed once per process)."""
    return read_layer(BUILTIN_DIR, name="builtin")
