"""Cases that expect a brand tool call: the case field, the ``tool_called`` score, the tool accuracy in the
summary and the report, and the demo brand's order-status suite (evals/suites/tools/tidewell-orders.jsonl)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from agent.tools import render
from agent.tools.spec import ToolCatalog
from api.cli.demo_orders import DEMO_DIR, load_orders
from evals.aggregate import summarize
from evals.metrics import CaseScorer, is_correct, observed_outcome, tool_scores
from evals.report import render as render_report
from evals.suite import SUITES_DIR, Case, load_suites

pytestmark = pytest.mark.unit

TOOLS_SUITE = SUITES_DIR / "tools" / "tidewell-orders.jsonl"
ORDER = "TW-ORD-2026-004512"
THAI_REPLY = (f"คำสั่งซื้อ {ORDER} (฿1,890.00) ออกจากคลังสินค้าของเราแล้วเมื่อวันที่ 24 พฤศจิกายน ค.ศ. 2026 "
              "จัดส่งโดย Kerry Express ติดตามพัสดุได้ที่ https://track.tidewell.example/kerry/TH4512")


def _case(tool: dict[str, Any] | None, **fields: Any) -> Case:
    base = {"id": "th-order", "market": "TH", "channel": "line", "language": "th",
            "message": f"คำสั่งซื้อ{ORDER}ถึงไหนแล้ว", "must_contain": ["Kerry Express"], "tool": tool}
    return Case.model_validate({**base, **fields})


def _reply(text: str, calls: list[dict[str, Any]], *, citations: tuple[str, ...] = (),
           escalate: bool = False) -> dict[str, Any]:
    return {"status": "answered", "text": text, "language": "th", "persona_id": "warm-quick",
            "citations": [{"document_id": d, "title": d, "score": 0.9} for d in citations],
            "escalation": {"escalate": escalate}, "tool_calls": calls, "timings_ms": {"total": 20.0}}


def _call(status: str = "ok", **arguments: str) -> dict[str, Any]:
    return {"tool": "order-status", "arguments": arguments, "status": status, "latency_ms": 1.2, "code": None}


OK = {"name": "order-status", "arguments": {"order_number": ORDER}}


def test_a_case_may_expect_a_tool_call() -> None:
    case = _case(OK)
    assert case.tool is not None and case.tool.status == "ok" and case.tool.arguments == {"order_number": ORDER}
    assert _case(None).tool is None
    with pytest.raises(ValueError, match="status"):
        _case({"name": "order-status", "status": "maybe"})
    with pytest.raises(ValueError, match="extra"):
        _case({"name": "order-status", "tool": "x"})


def test_a_csv_suite_gives_the_expectation_as_json(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(
        'id,market,language,message,tool\n'
        f'a,TH,th,คำสั่งซื้อ{ORDER},"{{""name"": ""order-status"", ""arguments"": {{""order_number"": ""{ORDER}""}}}}"\n'
        'b,TH,th,ส่งฟรีไหม,\n', encoding="utf-8")
    first, second = load_suites([tmp_path / "orders.csv"])
    assert first.tool is not None and first.tool.arguments == {"order_number": ORDER} and first.tool.status == "ok"
    assert second.tool is None


def test_tool_called_needs_the_name_the_arguments_and_the_status() -> None:
    case = _case(OK)
    assert tool_scores(case, _reply("x", [_call(order_number=ORDER)])) == {"tool_called": 1.0}
    assert tool_scores(case, _reply("x", [_call(order_number="TW-ORD-2026-000001")])) == {"tool_called": 0.0}
    assert tool_scores(case, _reply("x", [_call("failed", order_number=ORDER)])) == {"tool_called": 0.0}
    assert tool_scores(case, _reply("x", [{**_call(order_number=ORDER), "tool": "stock"}])) == {"tool_called": 0.0}
    assert tool_scores(case, _reply("x", [])) == {"tool_called": 0.0}
    assert tool_scores(case, None) == {"tool_called": 0.0}                  # the request failed
    # Arguments the case does not name may be there (a redacted customer id, say).
    assert tool_scores(case, _reply("x", [_call(order_number=ORDER, email="[EMAIL]")])) == {"tool_called": 1.0}
    asked = _case({"name": "order-status", "status": "missing_parameter"})
    assert tool_scores(asked, _reply("x", [_call("missing_parameter")])) == {"tool_called": 1.0}
    quiet = _case({"name": "order-status", "status": "not_called"})
    assert tool_scores(quiet, _reply("x", [])) == {"tool_called": 1.0}
    assert tool_scores(quiet, _reply("x", [_call(order_number=ORDER)])) == {"tool_called": 0.0}
    assert tool_scores(_case(None), _reply("x", [_call(order_number=ORDER)])) == {}   # no expectation, no score


def test_a_tool_answer_needs_no_citation_but_the_right_call() -> None:
    case = _case(OK)
    assert observed_outcome(_reply("x", [_call(order_number=ORDER)])) == "answer"
    assert observed_outcome(_reply("x", [_call("not_found", order_number=ORDER)])) == "answer"
    assert observed_outcome(_reply("x", [_call("missing_parameter")])) == "decline"
    assert is_correct(case, "answer", [], [], 1.0)
    assert not is_correct(case, "answer", [], [], 0.0)                       # the facts alone are not enough
    assert not is_correct(case, "answer", ["Kerry Express"], [], 1.0)
    assert not is_correct(case, "escalate", [], [], 1.0)
    asked = _case({"name": "order-status", "status": "missing_parameter"})
    assert is_correct(asked, "decline", [], [], 1.0)                         # the question back is the answer
    # Without a tool expectation the rules are the old ones: an answer cites a source.
    assert not is_correct(_case(None), "decline", [], [])
    assert is_correct(_case(None), "answer", [], [])


def test_the_scorer_scores_a_tool_reply() -> None:
    scorer = CaseScorer()
    right = scorer.score(_case(OK), _reply(THAI_REPLY, [_call(order_number=ORDER)]))
    assert right["correct"] and right["tool_called"] == 1.0 and right["outcome"] == "answer"
    wrong = scorer.score(_case(OK), _reply(THAI_REPLY, [_call(order_number="TW-ORD-2026-000001")]))
    assert not wrong["correct"] and wrong["tool_called"] == 0.0
    failed = scorer.score(_case(OK), None)
    assert not failed["correct"] and failed["tool_called"] == 0.0
    assert "tool_called" not in scorer.score(_case(None), _reply(THAI_REPLY, [], citations=("faq/faq.csv",)))


def _record(case: Case, reply: dict[str, Any]) -> dict[str, Any]:
    return {"case": case.model_dump(mode="json"), "reply": reply, "error": None,
            "scores": CaseScorer().score(case, reply)}


def test_tool_accuracy_only_in_runs_with_tool_cases() -> None:
    with_tool = [_record(_case(OK), _reply(THAI_REPLY, [_call(order_number=ORDER)])),
                 _record(_case(OK, id="b"), _reply(THAI_REPLY, [])),
                 _record(_case(None, id="c"), _reply(THAI_REPLY, [], citations=("faq/faq.csv",)))]
    summary = summarize(with_tool)
    assert summary["overall"]["tool_accuracy"] == 0.5                       # 1 of the 2 cases that expect a call
    assert summary["by_market"]["TH"]["tool_accuracy"] == 0.5
    page = render_report(summary, with_tool)
    assert "tool acc." in page and "tool accuracy 50.0%" in page
    assert "tool: expected order-status(order_number=TW-ORD-2026-004512) ok; got no call" in page
    without = summarize(with_tool[2:])
    assert "tool_accuracy" not in without["overall"]                        # an old run's summary is unchanged
    assert "tool acc." not in render_report(without, with_tool[2:])


def test_the_order_suite_covers_the_languages_and_kinds() -> None:
    cases = load_suites([TOOLS_SUITE])
    assert all(c.tool is not None for c in cases)
    kinds = {tag: {c.language for c in cases if tag in c.tags}
             for tag in ("in-message", "earlier-turn", "missing-number", "not-found", "no-tool")}
    required = {"en", "th", "es", "ja", "de", "pt", "id", "vi", "zh", "ar"}
    for tag in ("in-message", "earlier-turn", "missing-number", "not-found"):
        assert kinds[tag] >= required, tag
    assert kinds["no-tool"]
    assert all(c.history and "TW-ORD" not in c.message for c in cases if "earlier-turn" in c.tags)
    assert all(c.tool and c.tool.status == "missing_parameter" and c.must_contain
               for c in cases if "missing-number" in c.tags)
    # The demo run of every market suite does not pick it up: it needs the demo order service.
    assert TOOLS_SUITE not in {p for p in SUITES_DIR.iterdir()}
    assert not any(c.tool for c in load_suites([SUITES_DIR]))


def test_the_order_suites_facts_are_what_the_demo_tool_replies() -> None:
    spec = ToolCatalog.load(DEMO_DIR).for_tenant("tidewell", "TH")[0]
    orders = load_orders()
    for case in load_suites([TOOLS_SUITE]):
        if case.tool is None or case.tool.status != "ok":
            continue
        number = case.tool.arguments["order_number"]
        values = {"order_number": number, **spec.response.extract(orders[number])}
        text = render.reply(spec, case.language, case.market, values)
        assert all(fact in text for fact in case.must_contain), (case.id, text)


def test_the_demo_orders_have_a_reply_in_their_markets_language() -> None:
    data = json.loads((DEMO_DIR / "orders.json").read_text(encoding="utf-8"))
    numbers = [o["order_number"] for o in data["orders"]]
    assert len(numbers) == len(set(numbers)) >= 10
    assert {o["market"] for o in data["orders"]} >= {"TH", "ES", "MX", "JP", "DE", "BR", "ID", "VN", "SA", "US"}
    for order in data["orders"]:
        dt.date.fromisoformat(order["shipment"]["shipped_at"])
    spec = ToolCatalog.load(DEMO_DIR).for_tenant("tidewell", "DE")[0]
    assert set(spec.replies) >= {"en", "th", "es", "ja", "de", "pt", "id", "vi", "zh", "ar"}
    assert spec.internal and spec.allow_private and spec.url.startswith("${TIDEWELL_ORDERS_URL}/")
