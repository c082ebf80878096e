"""Escalation rules in YAML: built-ins, market sections, brand layering, clear errors."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from personas import PersonaCatalog, PersonaConfigError, Queue

if TYPE_CHECKING:
    from tests.personas.conftest import BrandWriter, DocumentMaker

pytestmark = pytest.mark.unit


def test_builtins_route_every_escalating_intent_and_carry_keywords_in_every_language(catalog: PersonaCatalog) -> None:
    rules = catalog.escalation("US")
    assert {key: route.queue for key, route in rules.routes.items()} == {
        "human_request": Queue.SUPPORT, "bulk_purchase": Queue.SALES, "custom_order": Queue.SALES,
        "legal_threat": Queue.SUPPORT_SENIOR, "refund_dispute": Queue.SUPPORT_SENIOR,
        "privacy_request": Queue.PRIVACY, "sentiment": Queue.SUPPORT, "low_confidence": Queue.SUPPORT,
    }
    languages = {"en", "de", "fr", "es", "pt", "id", "ms", "th", "vi", "ja", "zh", "ar"}
    for intent, by_language in rules.keywords.items():
        assert languages <= set(by_language), (intent, languages - set(by_language))


def test_a_market_adds_its_own_keywords_to_the_shared_ones(catalog: PersonaCatalog) -> None:
    brazil, germany = catalog.escalation("BR"), catalog.escalation("DE")
    assert "Procon" in brazil.keywords["legal_threat"]["pt"]
    assert "Procon" not in germany.keywords["legal_threat"].get("pt", [])
    assert catalog.escalation("BR") is brazil  # merged once per market


def test_a_brand_adds_terms_and_teams_and_a_market_overrides_thresholds(
    brand: BrandWriter, market_doc: DocumentMaker
) -> None:
    folder = brand({
        "escalation.yaml": {
            "keywords": {"legal_threat": {"de": ["Schlichtungsstelle"]}},
            "teams": [{"id": "night-desk", "name": "Night desk", "timezone": "Asia/Manila", "queues": ["support"],
                       "support_hours": {"schedule": [{"days": [1, 2, 3, 4, 5], "open": "00:00", "close": "24:00"}]}}],
        },
        "markets/at.yaml": market_doc(escalation={"thresholds": {"sentiment": 0.5},
                                                  "keywords": {"legal_threat": {"de": ["Arbeiterkammer"]}}}),
    })
    catalog = PersonaCatalog.load(folder)
    austria = catalog.escalation("AT")
    shared = PersonaCatalog.load().escalation("US").keywords["legal_threat"]["de"]
    assert {shared[0], "Schlichtungsstelle", "Arbeiterkammer"} <= set(austria.keywords["legal_threat"]["de"])
    assert austria.thresholds.sentiment == 0.5 and austria.thresholds.intent == catalog.escalation("DE").thresholds.intent
    assert [team.id for team in austria.teams] == ["night-desk"]
    assert austria.teams[0].is_open(dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC))
    assert austria.route("legal_threat") is not None  # built-in routes still apply


def test_a_brand_can_start_from_its_own_rules_only(brand: BrandWriter) -> None:
    folder = brand({"escalation.yaml": {"builtin_rules": False,
                                        "routes": {"bulk_purchase": {"queue": "sales", "priority": "urgent"}}}})
    rules = PersonaCatalog.load(folder).escalation("US")
    assert list(rules.routes) == ["bulk_purchase"]
    assert set(rules.keywords) == {"legal_threat"}  # only the US market file's own terms are left


@pytest.mark.parametrize(("document", "field", "message"), [
    ({"routes": {"shipping": {"queue": "support"}}}, "routes", "unknown route 'shipping'"),
    ({"routes": {"legal_threat": {"queue": "lawyers"}}}, "routes.legal_threat.queue", "sales"),
    ({"thresholds": {"sentiment": 1.5}}, "thresholds.sentiment", "less than or equal to 1"),
    ({"keywords": {"complaint": {"en": ["x"]}}}, "keywords", "human_request"),
    ({"teams": [{"id": "a", "name": "A", "timezone": "Mars/Olympus", "queues": ["support"],
                 "support_hours": {"schedule": [{"days": [1], "open": "08:00", "close": "17:00"}]}}]},
     "teams[0].timezone", "IANA time zone"),
])
def test_bad_escalation_files_name_the_file_field_and_problem(
    brand: BrandWriter, document: dict[str, object], field: str, message: str
) -> None:
    folder = brand({"escalation.yaml": document})
    with pytest.raises(PersonaConfigError) as raised:
        PersonaCatalog.load(folder)
    text = str(raised.value)
    assert "escalation.yaml" in text and field in text and message in text, text
