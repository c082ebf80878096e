"""The outbound PII check: only the brand's published contacts and the customer's own leave, in any language."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.outbound import check_outbound
from personas import PersonaCatalog
from personas.market import PublishedContacts

pytestmark = pytest.mark.unit

CATALOG = PersonaCatalog.load()
INJECTED_EMAIL = "jane.roe@example.net"
BRAND = PublishedContacts(emails=("Support@Tidewell.example",), phones=("+49 30 12345678", "+66 2 123 4567"))

# market, a reply quoting an injected address and phone number (as a poisoned document would), the phone as written
INJECTED = [
    ("US", "Please write to jane.roe@example.net or call (415) 867-5309 today.", "(415) 867-5309"),
    ("DE", "Bitte schreiben Sie an jane.roe@example.net oder rufen Sie 030 98765432 an.", "030 98765432"),
    ("JP", "お問い合わせはjane.roe@example.netまたは電話03-1234-5678までお願いいたします。", "03-1234-5678"),
    ("TH", "ติดต่อ jane.roe@example.net หรือโทร 02 987 6543 ได้เลยค่ะ", "02 987 6543"),
    ("SA", "يرجى مراسلة jane.roe@example.net أو الاتصال على 0501234567 الآن.", "0501234567"),
    ("TW", "請寄信至jane.roe@example.net或撥打02 2345 6789與我們聯繫。", "02 2345 6789"),
    ("VN", "Vui lòng gửi email tới jane.roe@example.net hoặc gọi 0912 345 678 nhé.", "0912 345 678"),
    ("ID", "Silakan kirim email ke jane.roe@example.net atau hubungi 0812-3456-7890 ya.", "0812-3456-7890"),
    ("ES", "Escriba a jane.roe@example.net o llame al 612 345 678.", "612 345 678"),
    ("BR", "Escreva para jane.roe@example.net ou ligue (11) 91234-5678.", "(11) 91234-5678"),
]


@pytest.mark.parametrize(("market", "text", "phone"), INJECTED, ids=[row[0] for row in INJECTED])
def test_an_injected_address_and_phone_are_masked_in_every_language(market: str, text: str, phone: str) -> None:
    masked, findings = check_outbound(text, CATALOG.market(market).published_contacts, market=market)

    assert masked == text.replace(INJECTED_EMAIL, "[EMAIL]").replace(phone, "[PHONE]")
    assert sorted(f.detail.split()[0] for f in findings) == ["EMAIL", "PHONE"]
    assert {(f.rule, f.action) for f in findings} == {("pii", "repaired")}
    details = " ".join(f.detail for f in findings)
    assert "@" not in details and not any(char.isdigit() for char in details.replace("×1", ""))


@pytest.mark.parametrize(("market", "text", "phone"), INJECTED, ids=[row[0] for row in INJECTED])
def test_the_customers_own_address_and_phone_stay(market: str, text: str, phone: str) -> None:
    customer = [f"My e-mail is JANE.ROE@example.net and my number {phone}"]
    kept, findings = check_outbound(text, CATALOG.market(market).published_contacts, customer, market=market)

    assert kept == text
    assert findings == []


@pytest.mark.parametrize(
    ("text", "market"),
    [
        ("Contact us at support@tidewell.example or b2b@tidewell.example.", "SA"),
        ("ご不明な点はsupport@tidewell.exampleまでご連絡ください。", "JP"),
        ("如有問題，請寄信至b2b@tidewell.example。", "TW"),
        ("Bei Fragen: SUPPORT@tidewell.example (Mo–Fr 8–18 Uhr).", "DE"),
    ],
)
def test_the_brands_published_addresses_stay_in_every_builtin_market(text: str, market: str) -> None:
    assert check_outbound(text, CATALOG.market(market).published_contacts, market=market) == (text, [])


def test_the_allowlist_is_the_markets_own() -> None:
    text = "Call 030 12345678 or write to support@tidewell.example."

    assert check_outbound(text, BRAND, market="DE") == (text, [])  # the same number, written nationally
    other, findings = check_outbound(text, PublishedContacts(emails=("help@acme.example",)), market="DE")
    assert other == "Call [PHONE] or write to [EMAIL]."
    assert len(findings) == 2
    # A Thai number on the list is not a German one that shares its digits.
    assert check_outbound("โทร 02 123 4567 ค่ะ", BRAND, market="TH") == ("โทร 02 123 4567 ค่ะ", [])
    assert check_outbound("Call +66 2 123 4567.", BRAND, market="US") == ("Call +66 2 123 4567.", [])


def test_cards_are_always_masked_even_the_customers_own() -> None:
    customer = ["Meine Karte ist 4111 1111 1111 1111."]
    masked, findings = check_outbound("Ihre Karte 4111 1111 1111 1111 wurde belastet.", BRAND, customer, market="DE")

    assert masked == "Ihre Karte [CARD] wurde belastet."
    assert [f.detail for f in findings] == ["CARD ×1 masked: card numbers are never repeated"]


def test_an_address_inside_a_longer_one_is_not_the_customers() -> None:
    customer = ["write to anna@example.org please"]
    masked, _ = check_outbound("We wrote to hanna@example.org.", PublishedContacts(), customer, market="GB")

    assert masked == "We wrote to [EMAIL]."


def test_text_without_contacts_is_untouched() -> None:
    text = "Bestellung TW-ORD-2026-004512 vom 2026-03-31: 2 × 4,95 €, Lieferung in 3-5 Werktagen."

    assert check_outbound(text, BRAND, market="DE") == (text, [])


@pytest.mark.parametrize(
    ("field", "value"),
    [("emails", "support at tidewell"), ("emails", "a@b"), ("phones", "030 12345678"), ("phones", "+49 1"),
     ("phones", "call us")],
)
def test_published_contacts_are_validated(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        PublishedContacts.model_validate({field: [value]})


def test_published_contacts_are_normalised() -> None:
    contacts = PublishedContacts(emails=(" Support@Tidewell.Example ",), phones=("+49 (30) 1234-5678",))

    assert contacts == PublishedContacts(emails=("support@tidewell.example",), phones=("+493012345678",))
