"""A brand's own HTTP tools (order status, shipment, stock): declarations, parameters, replies, phrases.

``spec`` reads and validates ``<brand>/tools/*.yaml``; ``params`` finds parameter values in what the customer
wrote, checks a model's arguments and builds the request URL; ``render`` fills the brand's reply templates with
babel's dates and amounts; ``phrases`` holds the agent's own sentences around a tool (ask, failed, not yours,
not found) in every language it serves. ``client`` calls one tool safely (auth from the environment, SSRF
checks, owner check, circuit breaker); ``llm`` fills a tool's arguments by function calling; ``stage`` is the
pipeline's tool step (which tool, which arguments, which reply).
"""

from agent.tools.client import CircuitBreaker, Customer, ToolClient, ToolResult
from agent.tools.llm import ToolArgumentExtractor, tool_schema
from agent.tools.params import find, find_all, missing, normalize_text, render_url, request_body, validate
from agent.tools.phrases import ask_for, say
from agent.tools.render import babel_locale, not_found_reply, reply
from agent.tools.spec import (
    AuthSpec,
    OnFailure,
    OwnerCheck,
    ParamSpec,
    ResponseSpec,
    ToolCatalog,
    ToolConfigError,
    ToolSpec,
    parse_template,
)
from agent.tools.stage import ToolOutcome, ToolRequest, ToolStage

__all__ = [
    "AuthSpec",
    "CircuitBreaker",
    "Customer",
    "OnFailure",
    "OwnerCheck",
    "ParamSpec",
    "ResponseSpec",
    "ToolArgumentExtractor",
    "ToolCatalog",
    "ToolClient",
    "ToolConfigError",
    "ToolOutcome",
    "ToolRequest",
    "ToolResult",
    "ToolSpec",
    "ToolStage",
    "ask_for",
    "babel_locale",
    "find",
    "find_all",
    "missing",
    "normalize_text",
    "not_found_reply",
    "parse_template",
    "render_url",
    "reply",
    "request_body",
    "say",
    "tool_schema",
    "validate",
]
