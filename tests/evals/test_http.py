"""HTTP mode: the same cases give the same results over ``POST /v1/answer`` as in-process."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from agent.pipeline import Agent
from agent.schema import AnswerRequest
from api.runtime import Runtime
from evals.runner import HttpTarget, InProcessTarget, TargetError, run_cases

from .conftest import sample_cases

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "pd_eval_test_connector_key"
COMPARED = ("outcome", "correct", "facts_found", "facts_missing", "forbidden_found", "hit_at_1", "mrr",
            "language_match", "persona_compliant")


def _same_results(over_http: list[dict[str, Any]], in_process: list[dict[str, Any]]) -> None:
    assert len(over_http) == len(in_process)
    for h, p in zip(over_http, in_process, strict=True):
        assert h["error"] is None, h["error"]
        assert {k: h["scores"].get(k) for k in COMPARED} == {k: p["scores"].get(k) for k in COMPARED}, h["case"]["id"]
        assert [c["document_id"] for c in h["reply"]["citations"]] == \
            [c["document_id"] for c in p["reply"]["citations"]]
        assert h["reply"]["escalation"]["queue"] == p["reply"]["escalation"]["queue"]
        assert h["reply"]["language"] == p["reply"]["language"]


def fake_service(agent: Agent, requests: list[dict[str, Any]]) -> httpx.MockTransport:
    """/v1/answer as the API contract describes it, in front of the agent (no web framework)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return httpx.Response(401, json={"code": "unauthorized", "message": "unknown API key"})
        body = json.loads(request.content)
        requests.append(body)
        reply = agent.answer(AnswerRequest(tenant="tidewell", **body))
        return httpx.Response(200, json=reply.model_dump(mode="json"))

    return httpx.MockTransport(handle)


def test_http_mode_equals_in_process_through_a_fake_service(eval_agent: Agent) -> None:
    cases = sample_cases(4)[:12]
    sent: list[dict[str, Any]] = []
    target = HttpTarget("http://polydesk.test/", api_key=KEY,
                        client=httpx.Client(transport=fake_service(eval_agent, sent)))
    over_http = run_cases(cases, target, run_id="t-http")
    in_process = run_cases(cases, InProcessTarget(eval_agent, tenant="tidewell"), run_id="t-local")
    _same_results(over_http, in_process)
    first = sent[0]
    assert set(first) == {"channel", "market", "message", "conversation_id", "metadata"}   # no tenant: the key's
    assert len(sent) == sum(1 + len(c.history) for c in cases)


def test_http_errors_are_recorded_not_raised(eval_agent: Agent) -> None:
    target = HttpTarget("http://polydesk.test", api_key="pd_wrong_key_xxxxxxxx",
                        client=httpx.Client(transport=fake_service(eval_agent, [])))
    with pytest.raises(TargetError, match="unauthorized"):
        target.answer({"channel": "web", "market": "US", "message": "hi"})
    records = run_cases(sample_cases(1)[:2], target, run_id="t-err")
    assert all(r["error"]["code"] == "unauthorized" and r["scores"]["correct"] is False for r in records)
    down = HttpTarget("http://127.0.0.1:9", api_key=KEY, client=httpx.Client(timeout=1.0))
    assert run_cases(sample_cases(1)[:1], down, run_id="t-down")[0]["error"]["code"] == "unreachable"


def test_http_mode_equals_in_process_against_the_app(eval_runtime: Runtime, tmp_path: Any) -> None:
    app_module = pytest.importorskip("api.app")
    from fastapi.testclient import TestClient

    from api.auth import ApiKey
    from polydesk.settings import Settings

    settings = Settings(data_dir=tmp_path / "api", _env_file=None)  # type: ignore[call-arg]
    app = app_module.create_app(settings, runtime=eval_runtime, keys=[ApiKey(key=KEY, tenant="tidewell",
                                                                             role="connector")], background=False)
    cases = sample_cases(4)[:12]
    with TestClient(app) as client:
        over_http = run_cases(cases, HttpTarget("http://testserver", api_key=KEY, client=client), run_id="t-app")
    in_process = run_cases(cases, InProcessTarget(eval_runtime.agent, tenant="tidewell"), run_id="t-app-local")
    _same_results(over_http, in_process)


@pytest.mark.unit
def test_http_target_waits_out_a_rate_limit() -> None:
    calls: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"code": "rate_limited", "message": "slow"})
        return httpx.Response(200, json={"status": "answered"})

    target = HttpTarget("http://x", api_key=KEY, client=httpx.Client(transport=httpx.MockTransport(handle)))
    assert target.answer({"message": "hi"}) == {"status": "answered"} and len(calls) == 3

    always = HttpTarget("http://x", api_key=KEY, client=httpx.Client(transport=httpx.MockTransport(
        lambda r: httpx.Response(429, headers={"Retry-After": "0"}, json={"code": "rate_limited", "message": "no"}))))
    with pytest.raises(TargetError, match="rate_limited"):
        always.answer({"message": "hi"})
