"""``polydesk analytics``: on Redis seeded through the recording code, ``--json`` prints the very JSON of
``GET /v1/analytics/summary``, and the tables show each market; bad input exits 2 with its code."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.feedback import FeedbackStore
from agent.outcomes import OutcomeRecorder
from api.cli.main import app
from bench.outcome_seed import seed_traffic
from polydesk.settings import get_settings
from tests.api.conftest import api  # noqa: F401  (the app harness, on its own data dir)

pytestmark = pytest.mark.integration

ApiHarness = Any
runner = CliRunner()


@pytest.fixture(scope="module")
def seeded(api: ApiHarness) -> Iterator[ApiHarness]:  # noqa: F811
    """Tenant ``acme`` of the harness's Redis with 300 recorded conversations (the CLI opens the same data dir)."""
    settings = api.settings
    rng = np.random.default_rng(3)
    questions = [(f"Frage {i} an [EMAIL]", "de", (v := rng.normal(size=384).astype(np.float32)) / np.linalg.norm(v))
                 for i in range(3)]
    seed_traffic(OutcomeRecorder.from_settings(api.services.redis, settings),
                 FeedbackStore.from_settings(api.services.redis, settings), "acme", conversations=300, days=10,
                 markets=("DE", "JP", "TH"), questions=questions, unanswered_share=0.3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POLYDESK_DATA_DIR", str(settings.data_dir))
        get_settings.cache_clear()
        yield api
    get_settings.cache_clear()


def test_json_is_the_apis_json(seeded: ApiHarness) -> None:
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=9)
    for query, args in (("", []), (f"?from={start}&market=th", ["--from", str(start), "--market", "th"])):
        served = seeded.client.get(f"/v1/analytics/summary{query}", headers=seeded.headers("admin", "acme"))
        assert served.status_code == 200, served.text
        result = runner.invoke(app, ["analytics", "--tenant", "acme", "--json", *args])
        assert result.exit_code == 0, result.output
        printed = json.loads(result.output)
        assert printed == served.json()
        assert printed["totals"]["conversations"] > 0


def test_tables_show_each_market_and_its_unanswered_questions(seeded: ApiHarness) -> None:
    result = runner.invoke(app, ["analytics", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    for market in ("DE", "JP", "TH"):
        assert f"market {market}" in result.output
    assert "Frage" in result.output and "all markets" in result.output


def test_bad_input_exits_2_with_its_code(seeded: ApiHarness) -> None:
    result = runner.invoke(app, ["analytics", "--tenant", "acme", "--json", "--from", "2026-03-02", "--to",
                                 "2026-03-01"])
    assert result.exit_code == 2 and json.loads(result.output)["error"]["code"] == "invalid_input"
