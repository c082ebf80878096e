"""Tool declarations: a brand's own HTTP lookups (order status, shipment, stock), read from YAML and validated.

A brand folder holds ``tools/*.yaml``: one tool per file, or a ``tools:`` list. Every problem is a
``ToolConfigError`` (a ``ConfigError``, code ``invalid_config``) naming the file, the field path and the problem,
exactly like a bad persona file (the YAML reading and error formatting are the personas loader's).

Rules checked at load time:

- A tool belongs to named tenants (``tenants``, required): ``ToolCatalog.for_tenant`` never offers it to another.
- Secrets are never in YAML: ``auth.secret_env`` (and ``username_env``) name environment variables, read at call
  time only; a literal ``token:`` is an unknown field, and a literal ``api_key=...`` in the URL's query is refused.
- ``url`` is ``https://host/path/{param}`` or ``${ENV_NAME}/path/{param}`` (the base URL from the environment at
  call time, see ``agent.tools.params.render_url``). Placeholders only in the path and query, never in the
  scheme or host; only declared parameters. ``http://`` needs ``internal: true`` (an operator's decision).
- GET sends the parameters in the URL: every parameter must appear in it, an optional one only after ``?``
  (sent empty when absent). POST may use placeholders in the URL and sends every parameter that has a value
  as a JSON object (``agent.tools.params.request_body``).
- A parameter ``pattern`` compiles, cannot match the empty string and is compiled once per spec.
- Reply templates use ``{field}`` or ``{field:format}`` with a response field or a parameter; formats are
  ``date``, ``datetime``, ``number``, ``amount`` (needs a ``currency`` field) and ``amount:EUR`` (ISO 4217).
  ``{x.y}``, ``{x[0]}``, ``{x!r}`` and positional ``{}`` are refused: values are data, never evaluated.

Example:
    >>> catalog = ToolCatalog.load(Path("demo/tidewell"))                      # doctest: +SKIP
    >>> [tool.name for tool in catalog.for_tenant("tidewell", "TH")]          # doctest: +SKIP
    ['order-status']
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import regex
from babel.numbers import is_currency
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from knowledge.schema import normalize_market, normalize_tenant
from personas.errors import PersonaConfigError, Problem
from personas.fields import FieldProblem, LanguageMap, LanguageTermsMap, NonEmptyText, Slug
from personas.loader import Sourced, problems_from, read_yaml

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=128)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
DottedPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", max_length=256)]
TenantName = Annotated[str, AfterValidator(normalize_tenant)]
MarketCode = Annotated[str, AfterValidator(normalize_market)]

_ENV_PREFIX = regex.compile(r"^\$\{([^}]*)\}")
_TEMPLATE_FORMAT = regex.compile(r"^(date|datetime|number|amount(?::([A-Z]{3}))?)?$")
_SECRET_QUERY_KEY = regex.compile(r"(?i)^(access[_-]?token|token|secret|password|passwd|api[_-]?key|apikey|key|sig|"
                                  r"signature|auth|authorization|client[_-]?secret)$")
_FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "content-type"})
PATTERN_TIMEOUT_S = 0.05  # a pattern is an operator's regex run on customer text: bound each search


class ToolConfigError(PersonaConfigError):
    """A tool file is invalid: names the file, the field path and the problem (formatted like a persona error)."""


@dataclass(frozen=True, slots=True)
class TemplatePiece:
    """One stretch of a template: literal text, then optionally a field and its format (``date``, ``amount:EUR``)."""

    literal: str
    field: str | None
    format: str


def parse_template(template: str) -> tuple[TemplatePiece, ...]:
    """A reply template split into pieces; ``ValueError`` saying what to change for anything but plain fields."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"not a valid template ({exc}); write a literal brace as '{{{{' or '}}}}'") from None
    pieces = []
    for literal, field, format_spec, conversion in parsed:
        if field is None:
            pieces.append(TemplatePiece(literal, None, ""))
            continue
        if conversion is not None:
            raise ValueError(f"'{{{field}!{conversion}}}': conversions are not allowed; write '{{{field}}}'")
        if not regex.fullmatch(r"[a-z][a-z0-9_]{0,63}", field):
            raise ValueError(f"'{{{field}}}' is not a field name: use '{{name}}' with a declared field, "
                             "without '.', '[' or positions")
        match = _TEMPLATE_FORMAT.fullmatch(format_spec or "")
        if match is None:
            raise ValueError(f"'{{{field}:{format_spec}}}': the format must be date, datetime, number, amount "
                             "or amount:XXX (an ISO 4217 currency code)")
        if match.group(2) and not is_currency(match.group(2)):
            raise ValueError(f"'{{{field}:{format_spec}}}': {match.group(2)!r} is not an ISO 4217 currency code")
        pieces.append(TemplatePiece(literal, field, format_spec or ""))
    return tuple(pieces)


class ParamSpec(BaseModel):
    """One parameter of a tool: where its value comes from and what a valid one looks like."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["string", "integer"] = "string"
    pattern: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None
    description: NonEmptyText
    required: bool = True
    source: Literal["message", "customer_id", "customer_email"] = "message"
    label: LanguageMap | None = None  # how to ask for it, per language (else a built-in noun, else description)
    _compiled: regex.Pattern[str] | None = PrivateAttr(default=None)

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            compiled = regex.compile(value)
        except regex.error as exc:
            raise ValueError(f"the pattern does not compile: {exc}") from None
        if compiled.search("") is not None:
            raise ValueError("the pattern matches the empty string; it must match the value itself")
        return value

    @model_validator(mode="after")
    def _message_needs_pattern(self) -> ParamSpec:
        if self.source == "message" and self.pattern is None:
            raise FieldProblem("pattern", "a parameter taken from the message needs a pattern")
        return self

    def model_post_init(self, context: Any) -> None:
        self._compiled = regex.compile(self.pattern) if self.pattern is not None else None

    @property
    def compiled(self) -> regex.Pattern[str] | None:
        """The pattern, compiled once."""
        return self._compiled


class AuthSpec(BaseModel):
    """How to authenticate: only the names of environment variables, never a secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["bearer", "basic", "header"]
    secret_env: EnvName
    username_env: EnvName | None = None
    header: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")] | None = None

    @model_validator(mode="after")
    def _fields_for_type(self) -> AuthSpec:
        if (self.type == "basic") != (self.username_env is not None):
            raise FieldProblem("username_env", "basic auth needs username_env; the other types take none")
        if (self.type == "header") != (self.header is not None):
            raise FieldProblem("header", "header auth needs the header's name; the other types take none")
        if self.header is not None and self.header.lower() in _FORBIDDEN_HEADERS:
            raise FieldProblem("header", f"{self.header!r} is set by polydesk; name the API key header")
        return self


class OwnerCheck(BaseModel):
    """The order's owner in the response must be the conversation's verified customer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: DottedPath
    against: Literal["customer_email", "customer_id"]


def pick(payload: object, path: str) -> object | None:
    """The value at a dotted ``path`` in a JSON document (a number indexes a list), None when absent."""
    current = payload
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


class ResponseSpec(BaseModel):
    """Which fields of the JSON response a reply may use, and whose order it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fields: dict[Name, DottedPath] = Field(default_factory=dict)
    owner: OwnerCheck | None = None

    def extract(self, payload: object) -> dict[str, object]:
        """The declared fields found in ``payload`` (absent or null ones left out)."""
        found = {name: pick(payload, path) for name, path in self.fields.items()}
        return {name: value for name, value in found.items() if value is not None}


class OnFailure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    handoff: bool = True


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class ToolSpec(BaseModel):
    """One HTTP tool of a brand. Holds only the names of secrets' environment variables."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Slug
    description: NonEmptyText
    tenants: Annotated[list[TenantName], Field(min_length=1)]
    intents: Annotated[list[Name], Field(min_length=1)]
    markets: Annotated[list[MarketCode], Field(min_length=1)] = Field(default_factory=lambda: ["*"])
    method: Annotated[Literal["GET", "POST"], BeforeValidator(_upper)] = "GET"
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    parameters: dict[Name, ParamSpec] = Field(default_factory=dict)
    auth: AuthSpec | None = None
    timeout_s: Annotated[float, Field(gt=0, le=10)] = 5.0
    internal: bool = False
    allow_private: bool = False
    response: ResponseSpec
    replies: Annotated[LanguageMap, Field(min_length=1)]
    not_found: LanguageMap | None = None
    on_failure: OnFailure = Field(default_factory=OnFailure)
    asks: LanguageTermsMap | None = Field(default=None, description=(
        "per language, phrases by which a customer asks about one of their own (e.g. 'my order', 'mein Paket', "
        "'我的订单'): with one in the message, a missing parameter is asked for at once; without, only when the "
        "knowledge cannot answer the message (a question about delivery times in general is not about an order)"))

    @property
    def url_env(self) -> str | None:
        """The environment variable holding the base URL (``${NAME}`` at the start of ``url``), if any."""
        match = _ENV_PREFIX.match(self.url)
        return match.group(1) if match else None

    @property
    def url_path(self) -> str:
        """``url`` without its ``${NAME}`` prefix: the template filled by ``render_url``."""
        match = _ENV_PREFIX.match(self.url)
        return self.url[match.end():] if match else self.url

    @property
    def url_fields(self) -> list[str]:
        """The parameters the URL template names, in order."""
        return [field for _, field, _, _ in string.Formatter().parse(self.url_path) if field]

    @property
    def message_parameters(self) -> dict[str, ParamSpec]:
        return {name: param for name, param in self.parameters.items() if param.source == "message"}

    @model_validator(mode="after")
    def _consistent(self) -> ToolSpec:
        if len(set(self.tenants)) != len(self.tenants):
            raise FieldProblem("tenants", "a tenant is listed twice")
        shared = sorted(set(self.parameters) & set(self.response.fields))
        if shared:
            raise FieldProblem("response.fields", f"{', '.join(shared)} is also a parameter; rename one")
        _check_url(self)
        known = set(self.parameters) | set(self.response.fields)
        for key, templates in (("replies", self.replies), ("not_found", self.not_found or {})):
            for language, template in templates.items():
                _check_template(f"{key}.{language}", template, known)
        return self


def _check_url(spec: ToolSpec) -> None:
    url = spec.url
    if "${" in url and not url.startswith("${"):
        raise FieldProblem("url", "'${NAME}' may only start the URL (the base URL from the environment)")
    env = spec.url_env
    if env is not None and not regex.fullmatch(r"[A-Z_][A-Z0-9_]*", env):
        raise FieldProblem("url", f"'${{{env}}}' is not an environment variable name (A-Z, 0-9, _)")
    rest = spec.url_path
    if "${" in rest:
        raise FieldProblem("url", "only one '${NAME}', at the start of the URL")
    if regex.search(r"[\s\p{Cc}\p{Cf}]", url):
        raise FieldProblem("url", "the URL contains a space or an invisible control character")
    try:
        pieces = list(string.Formatter().parse(rest))
    except ValueError as exc:
        raise FieldProblem("url", f"not a valid URL template: {exc}") from None
    query_at = rest.find("?")
    offset = 0
    for literal, field, format_spec, conversion in pieces:
        offset += len(literal)
        if field is None:
            continue
        if field not in spec.parameters:
            raise FieldProblem("url", f"'{{{field}}}' is not a declared parameter ({_listed(spec.parameters)})")
        if format_spec or conversion:
            raise FieldProblem("url", f"'{{{field}}}' takes no format or conversion")
        if spec.method == "GET" and not spec.parameters[field].required and not 0 <= query_at < offset:
            raise FieldProblem("url", f"the optional parameter {field!r} may only appear in the query (after '?')")
        offset += len(field) + 2
    skeleton = "".join(literal + ("x" if field else "") for literal, field, _, _ in pieces)
    if env is None:
        _check_literal_base(spec, rest)
    elif rest and rest[0] not in "/?":
        raise FieldProblem("url", f"after '${{{env}}}' the URL continues with '/' or '?', never the host")
    _check_query(skeleton)
    if spec.method == "GET":
        absent = [name for name in spec.parameters if name not in spec.url_fields]
        if absent:
            raise FieldProblem("url", f"a GET tool sends its parameters in the URL; {', '.join(absent)} is not in it")


def _check_literal_base(spec: ToolSpec, rest: str) -> None:
    head = rest.split("{", 1)[0]
    parts = urlsplit(head)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise FieldProblem("url", "the URL must start with https://host (or ${NAME} for a base URL)")
    if "@" in parts.netloc:
        raise FieldProblem("url", "no user name or password in the URL; use auth with secret_env")
    if len(head) == len(parts.scheme) + 3 + len(parts.netloc) and "{" in rest:
        raise FieldProblem("url", "placeholders may not be part of the host; put them in the path or query")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise FieldProblem("url", "the port must be a number from 1 to 65535")
    if parts.scheme == "http" and not spec.internal:
        raise FieldProblem("url", "plain http needs internal: true (an operator's decision); use https")


def _check_query(skeleton: str) -> None:
    for pair in filter(None, urlsplit(skeleton).query.split("&")):
        key = pair.partition("=")[0]
        if _SECRET_QUERY_KEY.match(key):
            raise FieldProblem("url", f"the query parameter {key!r} looks like a secret; put it in auth "
                                      "(secret_env) instead of the URL")


def _check_template(where: str, template: str, known: set[str]) -> None:
    try:
        pieces = parse_template(template)
    except ValueError as exc:
        raise FieldProblem(where, str(exc)) from None
    for piece in pieces:
        if piece.field is None:
            continue
        if piece.field not in known:
            raise FieldProblem(where, f"'{{{piece.field}}}' is neither a response field nor a parameter "
                                      f"(known: {', '.join(sorted(known)) or 'none'})")
        if piece.format == "amount" and "currency" not in known:
            raise FieldProblem(where, f"'{{{piece.field}:amount}}' needs a 'currency' response field, "
                                      "or name the currency: '{field:amount:EUR}'")


def _listed(names: Mapping[str, object]) -> str:
    return "declared: " + ", ".join(names) if names else "none declared"


class _ToolList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tools: Annotated[list[ToolSpec], Field(min_length=1)]


@dataclass(frozen=True, slots=True)
class ToolCatalog:
    """A brand's tools, each with the file it came from."""

    tools: tuple[Sourced[ToolSpec], ...] = ()

    @classmethod
    def load(cls, brand_dir: Path | None) -> ToolCatalog:
        """Every ``<brand_dir>/tools/*.yaml`` (or ``.yml``); an empty catalogue without a brand or a tools folder."""
        if brand_dir is None:
            return cls()
        folder = Path(brand_dir) / "tools"
        if not folder.is_dir():
            return cls()
        found: dict[str, Sourced[ToolSpec]] = {}
        for path in sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()):
            for spec in _read_tools(path):
                if spec.name in found:
                    message = f"tool {spec.name!r} is also defined in {found[spec.name].path}; each name once"
                    raise ToolConfigError.single(path, "name", message)
                found[spec.name] = Sourced(spec, path)
        return cls(tuple(found.values()))

    def for_tenant(self, tenant: str, market: str) -> list[ToolSpec]:
        """The tools ``tenant`` may use in ``market``: never a tool of another tenant."""
        try:
            code = normalize_market(market)
        except ValueError:
            code = market
        return [entry.item for entry in self.tools
                if tenant in entry.item.tenants and ("*" in entry.item.markets or code in entry.item.markets)]

    def tool(self, name: str) -> ToolSpec | None:
        return next((entry.item for entry in self.tools if entry.item.name == name), None)

    def __len__(self) -> int:
        return len(self.tools)


def _read_tools(path: Path) -> list[ToolSpec]:
    try:
        data = read_yaml(path)
    except PersonaConfigError as exc:
        raise ToolConfigError(exc.path, exc.problems) from None
    try:
        if set(data) == {"tools"}:
            return list(_ToolList.model_validate(data).tools)
        return [ToolSpec.model_validate(data)]
    except ValidationError as exc:
        raise ToolConfigError(path, [Problem(p.field, p.problem) for p in problems_from(exc)]) from None
