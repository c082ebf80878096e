"""Cross-tenant attempts through every route: tenant acme's keys against what tenant tidewell left in the app
(documents, jobs, conversations, the audit log, an idempotency key, retrieval), and every route without a key.

The routes come from ``app.routes``: a new route fails ``test_every_route_has_a_probe`` until it gets one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.cross_tenant import PROBES, PUBLIC, Outcome, routes, run_probes
from tests.security.harness import ACME_CANARY, VICTIM_FACT, Seeded

ApiHarness = Any  # tests/api/conftest.py
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_every_route_has_a_probe(attacked_api: ApiHarness) -> None:
    assert routes(attacked_api.client.app) == set(PROBES) | PUBLIC


@pytest.fixture(scope="module")
def outcomes(attacked: Seeded) -> list[Outcome]:
    return run_probes(attacked)


def test_no_cross_tenant_attempt_gets_data_or_changes_anything(outcomes: list[Outcome]) -> None:
    assert len(outcomes) >= 40
    assert [o for o in outcomes if o.leaked] == []
    assert {o.route for o in outcomes} == set(PROBES)


def test_the_victim_still_answers_from_its_own_data(attacked: Seeded, attacked_api: ApiHarness,
                                                    outcomes: list[Outcome]) -> None:
    """The probes ran against live data: tidewell's document answers tidewell, not acme."""
    assert VICTIM_FACT in attacked.victim_reply["text"], attacked.victim_reply
    again = attacked_api.ask("What is the code for the warehouse sale?", market="US")
    assert VICTIM_FACT in again["text"] and ACME_CANARY not in again["text"]


def test_every_authenticated_route_refuses_a_request_without_a_valid_key(attacked_api: ApiHarness) -> None:
    """Last in this module: failed authentication may be throttled (429) after a few of these."""
    client = attacked_api.client
    for route in sorted(PROBES):
        method, path = route.split(" ", 1)
        url = path.replace("{channel}", "telegram").replace("{tenant}", "tidewell").replace(
            "{document_id:path}", "x.md").replace("{job_id}", "x").replace(
            "{conversation_id}", "x").replace("{customer_id}", "x").replace("{persona_id}", "x").replace(
            "{market}", "US").replace("{run_id}", "x")
        for auth in ({}, {"Authorization": "Bearer pd_test_unknown_key_000"}, {"Authorization": "Basic Zm9vOmJhcg=="}):
            # The console signs in with a session, not a key: a page sends the browser to its sign-in page, a script
            # call (asking for JSON, as here) gets 401.
            sent = {**auth, "Accept": "application/json"} if path.startswith("/console") else auth
            response = client.request(method, url, headers=sent, json={"message": "hi", "market": "US", "channel": "web"})
            # A platform webhook authenticates by its signature, not a key: unsigned, or not configured (404).
            refused = (401, 404) if path.startswith("/v1/channels/") else (401, 429)
            assert response.status_code in refused, (route, auth, response.status_code, response.text)
            assert VICTIM_FACT not in response.text
