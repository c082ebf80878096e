"""The outcomes page shows the numbers ``GET /v1/analytics/summary`` returns, for conversations driven through the
real agent (several markets and languages, a handoff), with its charts; admin only."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import ApiHarness
from tests.console.conftest import ConsoleFactory

pytestmark = pytest.mark.integration

MESSAGES = [
    ("DE", "Wie lange dauert der Versand nach Deutschland?"),
    ("DE", "Ich möchte sofort mit einem Mitarbeiter sprechen!"),
    ("JP", "返品はできますか？"),
    ("TH", "ส่งของไปกรุงเทพใช้เวลากี่วัน"),
    ("AE", "ما هي سياسة الإرجاع؟"),
    ("BR", "Qual é o prazo de entrega para São Paulo?"),
    ("ID", "Berapa lama pengiriman ke Jakarta?"),
]


@pytest.fixture(scope="module")
def seeded(api: ApiHarness) -> dict[str, object]:
    for market, message in MESSAGES:
        api.ask(message, market=market)
    response = api.client.get("/v1/analytics/summary", headers=api.headers("admin"))
    assert response.status_code == 200, response.text
    summary: dict[str, object] = response.json()
    return summary


def _numbers(html: str, marker: str) -> dict[str, str]:
    tag = re.search(rf"<[^>]*{marker}[^>]*>", html, re.S)
    assert tag is not None, marker
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag.group(0)))


def test_the_page_shows_the_api_numbers(api: ApiHarness, seeded: dict[str, object],
                                        console_as: ConsoleFactory) -> None:
    html = console_as(api, "admin").get("/console/outcomes").text
    totals = seeded["totals"]
    assert isinstance(totals, dict)
    shown = _numbers(html, 'id="totals"')
    assert int(shown["conversations"]) == totals["conversations"] >= len(MESSAGES)
    assert int(shown["messages"]) == totals["messages"]
    assert int(shown["handoffs"]) == totals["handoffs"] >= 1
    assert float(shown["resolved-share"]) == pytest.approx(totals["resolved_share"], abs=1e-4)
    markets = seeded["markets"]
    assert isinstance(markets, dict) and {"DE", "JP", "TH", "AE", "BR", "ID"} <= set(markets)
    for code, numbers in markets.items():
        row = _numbers(html, f'data-market="{code}"')
        assert int(row["conversations"]) == numbers["conversations"], code
        assert int(row["handoffs"]) == numbers["handoffs"], code
    assert 'id="daily-chart"' in html and "<svg" in html and 'role="img"' in html


def test_one_market_and_a_bad_range(api: ApiHarness, seeded: dict[str, object], console_as: ConsoleFactory) -> None:
    admin = console_as(api, "admin")
    html = admin.get("/console/outcomes?market=DE").text
    assert 'data-market="DE"' in html and 'data-market="JP"' not in html
    bad = admin.get("/console/outcomes?from=2026-03-01&to=2026-01-01")
    assert bad.status_code == 400 and 'id="error-code">invalid_input<' in bad.text
    assert admin.get("/console/outcomes?from=yesterday").status_code == 422


def test_in_chinese(api: ApiHarness, seeded: dict[str, object], console_as: ConsoleFactory) -> None:
    html = console_as(api, "admin").get("/console/outcomes", headers={"Accept-Language": "zh-CN"}).text
    assert "服务成效" in html and "机器人独立解决率" in html


def test_only_admins(api: ApiHarness, console_as: ConsoleFactory) -> None:
    assert console_as(api, "content").get("/console/outcomes").status_code == 403
    acme = console_as(api, "admin", "acme").get("/console/outcomes").text
    assert _numbers(acme, 'id="totals"')["conversations"] == "0"
