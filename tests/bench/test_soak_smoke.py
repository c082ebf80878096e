"""The soak (``bench/soak.py``) for a few seconds against a real ``polydesk serve`` and Redis server, so its code and
its accounting cannot rot: every acknowledged message is found, every handoff and release has its event, every
upload finished, erased conversations are gone; and the accounting does count a loss when something is missing."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench.soak import run_soak
from bench.soak_traffic import Ledger


@pytest.mark.slow
def test_a_short_soak_loses_nothing_and_accounts_for_every_acknowledgement() -> None:
    result = run_soak(seconds=5, rate=15, sessions=8, sample_s=2, demo=False, seed=11)
    check = result["check"]

    assert result["lost"] == 0, check
    assert check["messages_lost"] == check["messages_duplicated"] == check["erased_but_found"] == 0, check
    # every 200 from /v1/answer is in the ledger, and the ledger is what verify looked for
    assert result["answers_acknowledged"] == check["messages_acknowledged_all"] > 0
    # the first round plays every kind of script (8 sessions, 4 kinds): each did its part
    assert check["handoffs"] >= 1 and check["releases"] >= 1, (result["scripts"], check)
    assert check["conversations_erased"] >= 1 and check["uploads"] >= 1, (result["scripts"], check)
    assert check["upload_statuses"] == {"done": check["uploads"]}
    assert len(result["samples"]) >= 2 and all(s["rss_mb"] > 0 and s["fds"] > 0 for s in result["samples"])
    assert check["serve_log_tracebacks"] == 0


def test_the_accounting_counts_what_is_missing() -> None:
    ledger = Ledger()
    ledger.sent["c-de"] = Counter({"Wie lange dauert der Versand?": 1, "Und die Rückgabe?": 1})
    ledger.sent["c-th"] = Counter({"ส่งฟรีไหมคะ": 2})
    ledger.handoffs = {"c-th"}
    ledger.releases = {"c-th"}
    ledger.erased = {"c-ja"}
    found: dict[str, dict[str, Any] | None] = {
        "c-de": {"turns": [{"role": "customer", "text": "Wie lange dauert der Versand?"},
                           {"role": "bot", "text": "Und die Rückgabe?"}], "handoffs": []},
        "c-th": {"turns": [{"role": "customer", "text": "ส่งฟรีไหมคะ"}] * 3,
                 "handoffs": [{"released_at": None}]},
        "c-ja": {"turns": [], "handoffs": []},
    }
    check = ledger._count(found, {("handoff", "c-th")}, {"/v1/knowledge/jobs/j1": "failed"})

    assert check["messages_lost"] == 1  # the German follow-up is only a bot turn
    assert check["messages_duplicated"] == 1  # the Thai message was kept three times, sent twice
    assert check["release_events_missing"] == 1 and check["releases_not_in_conversation"] == 1
    assert check["handoff_events_missing"] == 0
    assert check["erased_but_found"] == 1 and check["uploads_not_done"] == 1
    assert check["lost"] == 1 + 1 + 1 + 1 + 1
