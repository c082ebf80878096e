"""``GET /v1/analytics/summary`` through the real app: admin keys only, the caller's tenant only, the counts of
conversations the API answered, ranges checked with stable codes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ApiHarness = Any  # tests/api/conftest.py
PATH = "/v1/analytics/summary"


def get(api: ApiHarness, query: str = "", role: str = "admin", tenant: str = "tidewell") -> Any:
    return api.client.get(f"{PATH}{query}", headers=api.headers(role, tenant))


def test_the_summary_counts_what_the_api_answered_for_the_callers_tenant(api: ApiHarness) -> None:
    before = get(api, "?market=jp").json()["totals"]
    first = api.ask("返品は何日以内にできますか？", market="JP", channel="line")
    api.ask("送料はいくらですか？", market="JP", channel="line", conversation_id=first["conversation_id"])
    api.ask("ขอคุยกับเจ้าหน้าที่หน่อยค่ะ", market="TH", channel="line")
    response = get(api, "?market=jp")
    assert response.status_code == 200, response.text
    body = response.json()
    today = dt.datetime.now(dt.UTC).date()
    assert (body["from"], body["to"], body["days"], body["market"]) == (
        str(today - dt.timedelta(days=29)), str(today), 30, "JP")
    assert set(body["markets"]) == {"JP"}
    totals = body["totals"]
    assert totals["conversations"] - before["conversations"] == 1
    assert totals["messages"] - before["messages"] == 2
    assert body["markets"]["JP"]["by_channel"]["line"]["messages"] >= 2
    assert body["markets"]["JP"]["by_day"][str(today)]["messages"] >= 2
    everything = get(api).json()
    assert everything["markets"]["TH"]["handoffs"] >= 1 and everything["totals"]["handoffs"] >= 1
    assert get(api, tenant="acme").json()["markets"] == {}  # another tenant sees none of it


def test_only_admin_keys_read_it(api: ApiHarness) -> None:
    for role in ("connector", "content"):
        response = get(api, role=role)
        assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert api.client.get(PATH).status_code == 401


@pytest.mark.parametrize("query", ["?from=2026-03-02&to=2026-03-01", "?from=2025-01-01&to=2026-01-02",
                                   "?market=D3"])
def test_a_bad_range_or_market_is_invalid_input(api: ApiHarness, query: str) -> None:
    response = get(api, query)
    assert response.status_code == 400 and response.json()["code"] == "invalid_input", response.text


def test_a_malformed_date_is_a_validation_error(api: ApiHarness) -> None:
    response = get(api, "?from=03/01/2026")
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


def test_a_range_of_366_days_is_allowed(api: ApiHarness) -> None:
    body = get(api, "?from=2025-01-01&to=2026-01-01").json()
    assert body["days"] == 366 and body["markets"] == {}
