"""Invalid files fail at load with an error that names the file, the field and the problem."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from personas.catalog import PersonaCatalog
from personas.errors import PersonaConfigError
from polydesk.errors import ConfigError

if TYPE_CHECKING:
    from tests.personas.conftest import BrandWriter, DocumentMaker

pytestmark = pytest.mark.unit


def load_error(folder: Any) -> PersonaConfigError:
    with pytest.raises(PersonaConfigError) as info:
        PersonaCatalog.load(folder)
    assert isinstance(info.value, ConfigError) and info.value.code == "invalid_config"
    return info.value


def assert_names(error: PersonaConfigError, relative: str, field: str, *fragments: str) -> None:
    assert error.path.as_posix().endswith(relative), error
    assert error.field == field, error
    message = str(error)
    assert relative in message and field in message
    for fragment in fragments:
        assert fragment in message, message


def test_bad_timezone(brand: BrandWriter, market_doc: DocumentMaker) -> None:
    error = load_error(brand({"markets/at.yaml": market_doc(timezone="Europe/Vienne")}))
    assert_names(error, "markets/at.yaml", "timezone", "'Europe/Vienne' is not an IANA time zone")


def test_a_persona_needs_no_english_only_the_languages_routed_to_it(
    brand: BrandWriter, persona_doc: DocumentMaker, market_doc: DocumentMaker
) -> None:
    german = persona_doc(greetings={"de": "Hallo, hier ist Acme."}, sign_offs={"de": "Viele Grüße, Acme"})
    routing = {"rules": [{"market": "AT", "persona": "acme-voice"}]}
    catalog = PersonaCatalog.load(brand({"personas/acme.yaml": german, "markets/at.yaml": market_doc(),
                                         "routing.yaml": routing}))
    assert catalog.persona("acme-voice").greeting("en") == ""
    routing = {"rules": [{"market": ["AT", "US"], "persona": "acme-voice"}]}
    error = load_error(brand({"routing.yaml": routing}))
    assert_names(error, "personas/acme.yaml", "greetings.en", "missing the default language", "market US")


def test_unknown_tone(brand: BrandWriter, persona_doc: DocumentMaker) -> None:
    error = load_error(brand({"personas/acme.yaml": persona_doc(tone="grumpy")}))
    assert_names(error, "personas/acme.yaml", "tone", "'professional'", "got 'grumpy'")


def test_emoji_policy_allowed_without_a_list(brand: BrandWriter, persona_doc: DocumentMaker) -> None:
    error = load_error(brand({"personas/acme.yaml": persona_doc(emoji={"mode": "allowed"})}))
    assert_names(error, "personas/acme.yaml", "emoji", "needs a non-empty 'allowed' list")


def test_greeting_that_breaks_the_emoji_policy(brand: BrandWriter, persona_doc: DocumentMaker) -> None:
    error = load_error(brand({"personas/acme.yaml": persona_doc(greetings={"en": "Hi 🎉", "de": "Hallo"})}))
    assert_names(error, "personas/acme.yaml", "greetings.en", "uses 🎉")


def test_rule_referencing_an_unknown_persona(brand: BrandWriter, persona_doc: DocumentMaker) -> None:
    rules = [{"market": "JP", "persona": "jp-keigo"}, {"tenant": "acme", "market": "DE", "persona": "acme-vioce"}]
    error = load_error(brand({"personas/acme.yaml": persona_doc(), "routing.yaml": {"rules": rules}}))
    assert_names(error, "routing.yaml", "rules[1].persona", "unknown persona 'acme-vioce'", "acme-voice")


def test_rule_referencing_an_unknown_market_or_channel(brand: BrandWriter) -> None:
    error = load_error(brand({"routing.yaml": {"rules": [{"market": ["DE", "XX"], "persona": "de-formal"}]}}))
    assert_names(error, "routing.yaml", "rules[0].market", "unknown market 'XX'")
    error = load_error(brand({"routing.yaml": {"rules": [{"channel": ["web", "sms"], "persona": "de-formal"}]}}))
    assert_names(error, "routing.yaml", "rules[0].channel[1]", "'telegram'", "got 'sms'")


def test_unknown_default_persona(brand: BrandWriter) -> None:
    error = load_error(brand({"routing.yaml": {"default": "nobody"}}))
    assert_names(error, "routing.yaml", "default", "unknown persona 'nobody'")


def test_duplicate_ids_across_files(brand: BrandWriter, persona_doc: DocumentMaker) -> None:
    error = load_error(brand({"personas/a.yaml": persona_doc(), "personas/b.yaml": persona_doc()}))
    assert_names(error, "personas/b.yaml", "id", "persona 'acme-voice' is also defined in", "personas/a.yaml")


def test_duplicate_market_codes_across_files(brand: BrandWriter, market_doc: DocumentMaker) -> None:
    error = load_error(brand({"markets/at.yaml": market_doc(), "markets/austria.yml": market_doc(code="at")}))
    assert_names(error, "markets/austria.yml", "code", "market 'AT' is also defined in")


def test_malformed_yaml_names_the_line(brand: BrandWriter) -> None:
    error = load_error(brand({"personas/acme.yaml": "id: acme\ngreetings: {en: 'Hi'\nsign_offs: {}\n"}))
    assert error.path.name == "acme.yaml"
    assert error.field.startswith("line ") and "invalid YAML" in error.problem


def test_a_key_given_twice_is_refused(brand: BrandWriter) -> None:
    error = load_error(brand({"personas/acme.yaml": "id: acme\ntone: warm\ntone: friendly\n"}))
    assert error.field == "line 3, column 1" and "'tone' is given twice" in error.problem


@pytest.mark.parametrize(("content", "problem"), [("", "the file is empty"), ("- a\n- b\n", "got a list")])
def test_a_file_must_hold_a_mapping(brand: BrandWriter, content: str, problem: str) -> None:
    error = load_error(brand({"markets/x.yaml": content}))
    assert error.field == "-" and problem in error.problem


def test_misspelled_fields_are_refused_not_ignored(brand: BrandWriter, persona_doc: DocumentMaker) -> None:
    error = load_error(brand({"personas/acme.yaml": persona_doc(greeting={"en": "Hi"})}))
    assert_names(error, "personas/acme.yaml", "greeting", "unknown field")


def test_every_problem_of_a_file_is_reported(brand: BrandWriter, persona_doc: DocumentMaker) -> None:
    error = load_error(brand({"personas/acme.yaml": persona_doc(tone="grumpy", formality="posh", max_reply_chars=5)}))
    assert [problem.field for problem in error.problems] == ["tone", "formality", "max_reply_chars"]
    assert "3 problems" in str(error)


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"human_response_time": "2 hours"}, "human_response_time", "ISO-8601 duration"),
        ({"human_response_time": 120}, "human_response_time", "ISO-8601 duration"),
        ({"human_response_time": "PT0M"}, "human_response_time", "longer than zero"),
        ({"languages": []}, "languages", "at least 1"),
        ({"languages": ["de", "DE"]}, "languages", "listed twice"),
        ({"code": "*"}, "code", "needs a country code"),
        (
            {"support_hours": {"schedule": [{"days": [1], "open": "09:00", "close": 1080}]}},
            "support_hours.schedule[0].close",
            'quoted "HH:MM"',
        ),
        (
            {"support_hours": {"schedule": [{"days": ["mon", "funday"], "open": "09:00", "close": "17:00"}]}},
            "support_hours.schedule[0].days",
            "'funday' is not a weekday",
        ),
        (
            {"support_hours": {"schedule": [{"days": [1], "open": "22:00", "close": "02:00"}]}},
            "support_hours.schedule[0]",
            "split hours past midnight",
        ),
        (
            {"support_hours": {"schedule": [{"days": [1, 2], "open": "09:00", "close": "13:00"},
                                            {"days": [2], "open": "12:00", "close": "18:00"}]}},
            "support_hours",
            "overlap on weekday 2",
        ),
        (
            {"support_hours": {"schedule": [{"days": [1], "open": "09:00", "close": "17:00"}], "holidays": ["13-01"]}},
            "support_hours.holidays[0].date",
            "not a date",
        ),
        (
            {"compliance": [{"id": "gdpr-privacy", "regulation": "GDPR", "text": {"en": "Privacy notice"}}]},
            "compliance[0].text",
            "no text in 'de'",
        ),
    ],
)
def test_invalid_market_fields(
    brand: BrandWriter, market_doc: DocumentMaker, changes: dict[str, Any], field: str, fragment: str
) -> None:
    error = load_error(brand({"markets/at.yaml": market_doc(**changes)}))
    assert_names(error, "markets/at.yaml", field, fragment)
