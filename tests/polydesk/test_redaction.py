"""PII redaction: phones per market (phonenumbers), cards (Luhn), e-mails, extra patterns; names and addresses."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from polydesk.redaction import Redaction, Redactor, market_region

pytestmark = pytest.mark.unit

REDACTOR = Redactor()


def _redact(text: str, market: str | None = None) -> Redaction:
    return REDACTOR.redact(text, market=market)


@pytest.mark.parametrize(
    ("market", "number"),
    [
        ("DE", "0151 23456789"),
        ("DE", "+49 30 12345678"),
        ("DE", "030 12345678"),
        ("TH", "081-234-5678"),
        ("TH", "+66 81 234 5678"),
        ("TH", "02-123-4567"),
        ("JP", "090-1234-5678"),
        ("BR", "(11) 98765-4321"),
        ("ID", "0812-3456-7890"),
        ("US", "(415) 555-0132"),
        ("UK", "07700 900123"),  # Ofcom's fictional range: possible, not valid, yet formatted as a phone
        ("MY", "012-345 6789"),
        ("VN", "0912 345 678"),
        ("SG", "9123 4567"),
        ("AE", "050 123 4567"),
        ("MX", "55 1234 5678"),
    ],
)
def test_national_and_international_numbers_are_redacted(market: str, number: str) -> None:
    result = _redact(f"Please call {number} after 5pm.", market)
    assert result.text == "Please call [PHONE] after 5pm."
    assert result.counts == {"PHONE": 1}


def test_thai_numbers_in_running_text() -> None:
    result = _redact("โทร 02-123-4567 หรือมือถือ +66 81 234 5678 ค่ะ", "TH")
    assert result.text == "โทร [PHONE] หรือมือถือ [PHONE] ค่ะ"
    assert result.counts == {"PHONE": 2}


@pytest.mark.parametrize(
    ("market", "text", "expected"),
    [
        ("TH", "โทร081-234-5678ค่ะ", "โทร[PHONE]ค่ะ"),
        ("JP", "電話090-1234-5678まで", "電話[PHONE]まで"),
        ("ID", "HP081234567890", "HP[PHONE]"),
        ("DE", "Tel0151 23456789", "Tel[PHONE]"),
        ("VN", "SĐT0912345678", "SĐT[PHONE]"),
    ],
)
def test_numbers_glued_to_words_are_redacted(market: str, text: str, expected: str) -> None:
    assert _redact(text, market).text == expected


@pytest.mark.parametrize("market", ["DE", "JP", "BR", "ID", None, "*"])
def test_international_format_is_caught_in_any_market(market: str | None) -> None:
    result = _redact("Thai office +66 81 234 5678, Berlin +49 30 12345678.", market)
    assert result.text == "Thai office [PHONE], Berlin [PHONE]."


@pytest.mark.parametrize(
    "text",
    [
        "Order TW-ORD-2026-004512 shipped",
        "ราคา ฿1,000 ค่ะ",
        "harga Rp 500.000",
        "preço R$ 299",
        "R$ 1.299,90 em 3x",
        "delivered on 2026-03-14",
        "am 14.03.2026 geliefert",
        "product TW-4417",
        "PLZ 10115 Berlin",
        "CEP 01310-100",
        "〒100-0001 東京都",
        "10110 Bangkok",
        "2,000 units",
        "2.000 Stück",
        "invoice INV-20260314-0042",
        "Order #2026004512",
        "IBAN DE89 3704 0044 0532 0130 00",
        "order 20260314004512",
        "v2.14.3 at 12:30-14:45",
    ],
)
@pytest.mark.parametrize("market", ["TH", "DE", "JP", "BR", "ID", "VN", "MY", "SG", "SA", "AE", "MX", "US", "UK", None])
def test_numbers_that_are_not_pii_are_untouched(text: str, market: str | None) -> None:
    result = _redact(text, market)
    assert result.text == text
    assert result.counts == {}


@pytest.mark.parametrize("card", ["4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005", "4111111111111111"])
def test_payment_cards_are_redacted(card: str) -> None:
    result = _redact(f"Karte {card}, Ablauf 12/27", "DE")
    assert result.text == "Karte [CARD], Ablauf 12/27"
    assert result.counts == {"CARD": 1}


def test_luhn_failures_are_left_alone() -> None:
    for text in ("Bestellnummer 4111 1111 1111 1112", "ref 1234567890123456"):
        assert _redact(text, "DE").text == text


def test_card_is_taken_whole_before_phones() -> None:
    # Digits that could be read as phone numbers inside a card never leak out half-redacted.
    result = _redact("card 4111 1111 1111 1111 call +49 30 12345678", "US")
    assert result.text == "card [CARD] call [PHONE]"
    assert result.counts == {"CARD": 1, "PHONE": 1}


def test_cards_in_one_run_and_trailing_groups() -> None:
    assert _redact("5555-5555-5555-4444 378282246310005", "US").text == "[CARD] [CARD]"
    assert _redact("qty 12 4111 1111 1111 1111 cvv 123", "US").text == "qty 12 [CARD] cvv 123"


@pytest.mark.parametrize(
    "email",
    [
        "anna.schmidt+orders@beispiel.de",
        "somchai@mail.example.co.th",
        "x_y-z@sub.domain.example",
        "jürgen.müller@beispiel.de",
    ],
)
def test_emails_are_redacted(email: str) -> None:
    result = _redact(f"Mail an {email}.", "DE")
    assert result.text == "Mail an [EMAIL]."
    assert result.counts == {"EMAIL": 1}


def test_email_glued_to_thai_text_keeps_the_thai() -> None:
    assert _redact("อีเมล somchai@example.co.thค่ะ", "TH").text == "อีเมล [EMAIL]ค่ะ"


@pytest.mark.parametrize("text", ["foo@bar", "user@localhost", "a@b.c", "@handle", "price 5 @ 10 EUR"])
def test_non_emails_are_untouched(text: str) -> None:
    assert _redact(text, "DE").text == text


def test_digits_inside_an_email_are_not_a_phone() -> None:
    result = _redact("reply to kunde0151234567@beispiel.de", "DE")
    assert result.text == "reply to [EMAIL]"
    assert result.counts == {"EMAIL": 1}


def test_extra_patterns_run_after_builtins() -> None:
    redactor = Redactor(extra_patterns={"ORDER": r"TW-ORD-\d{4}-\d{6}", "TICKET": r"TCK\d{5}"})
    result = redactor.redact("Order TW-ORD-2026-004512 (TCK12345), call 0151 23456789", market="DE")
    assert result.text == "Order [ORDER] ([TICKET]), call [PHONE]"
    assert result.counts == {"ORDER": 1, "TICKET": 1, "PHONE": 1}


def test_extra_pattern_overlapping_a_builtin_does_not_double_replace() -> None:
    redactor = Redactor(extra_patterns={"CONTACT": r"call \S+ \S+"})
    result = redactor.redact("please call 0151 23456789 today", market="DE")
    assert result.text == "please call [PHONE] today"
    assert result.counts == {"PHONE": 1}


def test_counts_and_surrounding_text_in_a_mixed_message() -> None:
    text = (
        "Hallo, ich bin Anna (anna.schmidt+orders@beispiel.de). Bestellung TW-ORD-2026-004512 vom 2026-03-14 "
        "über 2,000 units kam nicht an. Rückruf bitte unter 0151 23456789 oder +49 30 12345678. "
        "Bezahlt mit 5555-5555-5555-4444."
    )
    result = _redact(text, "DE")
    assert result.text == (
        "Hallo, ich bin Anna ([EMAIL]). Bestellung TW-ORD-2026-004512 vom 2026-03-14 "
        "über 2,000 units kam nicht an. Rückruf bitte unter [PHONE] oder [PHONE]. "
        "Bezahlt mit [CARD]."
    )
    assert result.counts == {"EMAIL": 1, "PHONE": 2, "CARD": 1}


def test_text_without_pii_is_returned_unchanged() -> None:
    for text in ("", "Danke für die schnelle Lieferung!", "สวัสดีค่ะ", "👍"):
        result = _redact(text, "TH")
        assert result == Redaction(text=text, counts={})


def test_market_codes_map_to_phonenumbers_regions() -> None:
    assert market_region("UK") == "GB"
    assert market_region("th") == "TH"
    assert market_region(None) is None
    assert market_region("*") is None
    assert market_region("XX") is None


def test_unknown_market_falls_back_to_defaults() -> None:
    assert _redact("call +66 81 234 5678", "XX").text == "call [PHONE]"


def test_large_pii_dense_text_is_redacted_completely() -> None:
    block = (
        "Hallo, meine Bestellung TW-ORD-2026-004512 vom 2026-03-14 ist nicht da. Bitte unter 0151 23456789 "
        "anrufen oder an anna.schmidt+orders@beispiel.de schreiben. Karte 4111 1111 1111 1111, 2,000 units. "
        "The quick brown fox jumps over the lazy dog while we wait for the parcel to arrive. "
    )
    text = block * (200_000 // len(block))
    result = _redact(text, "DE")
    assert result.counts["PHONE"] == text.count("0151 23456789")
    assert result.counts["CARD"] == text.count("4111 1111 1111 1111")
    assert "TW-ORD-2026-004512" in result.text and "0151" not in result.text


# -- personal names and postal addresses (``Redactor(people=True)``) -------------------------------------------

PEOPLE = Redactor(people=True)
PEOPLE_SET = Path(__file__).with_name("data") / "people.jsonl"
_MARKUP = re.compile(r"\[\[(.+?)\]\]|\{\{(.+?)\}\}")


def _people(text: str, market: str | None = None, names: Sequence[str] = ()) -> str:
    return PEOPLE.redact(text, market=market, names=names, only={"NAME", "ADDRESS"}).text


@pytest.mark.parametrize(("market", "text", "expected"), [
    ("US", "You're welcome, Jenna! Your label is on its way.", "You're welcome, [NAME]! Your label is on its way."),
    ("ES", "¡A ti, Lucía! Cualquier cosa, aquí estamos.", "¡A ti, [NAME]! Cualquier cosa, aquí estamos."),
    ("BR", "Obrigado, João, já enviamos o código.", "Obrigado, [NAME], já enviamos o código."),
    ("DE", "Danke, Frau Müller! Die Rücksendung ist kostenlos.", "Danke, Frau [NAME]! Die Rücksendung ist kostenlos."),
    ("FR", "Bonjour Sophie ! Le retour est gratuit.", "Bonjour [NAME] ! Le retour est gratuit."),
    ("JP", "田中様\nご連絡ありがとうございます。", "[NAME]様\nご連絡ありがとうございます。"),
    ("TH", "สวัสดีค่ะคุณสมชาย พัสดุส่งออกแล้วค่ะ", "สวัสดีค่ะคุณ[NAME] พัสดุส่งออกแล้วค่ะ"),
    ("VN", "Chị Lan ơi, đơn hàng đã được gửi rồi ạ.", "Chị [NAME] ơi, đơn hàng đã được gửi rồi ạ."),
    ("ID", "Selamat siang Pak Budi, pesanan sudah kami buat.", "Selamat siang Pak [NAME], pesanan sudah kami buat."),
    ("SA", "يا أحمد، طلبك في الطريق.", "يا [NAME]، طلبك في الطريق."),
    ("TW", "陳小姐您好：感謝您的來信。", "[NAME]小姐您好：感謝您的來信。"),
    ("KR", "김민수님, 주문하신 상품이 발송되었습니다.", "[NAME]님, 주문하신 상품이 발송되었습니다."),
    ("MY", "Waalaikumussalam Puan Nurul Aisyah,", "Waalaikumussalam Puan [NAME],"),
    ("DE", "Ich möchte zurückschicken.\n\nViele Grüße\nLena Hoffmann", "Ich möchte zurückschicken.\n\nViele Grüße\n[NAME]"),
])
def test_names_in_greetings_forms_of_address_and_signatures_are_redacted(market: str, text: str, expected: str) -> None:
    assert _people(text, market) == expected


@pytest.mark.parametrize(("market", "text", "expected"), [
    ("DE", "Bitte an Hauptstraße 12, 10115 Berlin schicken.", "Bitte an [ADDRESS] schicken."),
    ("US", "Send it to 221B Baker Street please.", "Send it to [ADDRESS] please."),
    ("FR", "Livraison au 12 rue de la Paix, 75002 Paris.", "Livraison au [ADDRESS]."),
    ("ES", "Mi dirección es Calle Mayor 12, 28013 Madrid.", "Mi dirección es [ADDRESS]."),
    ("BR", "Entregar na Rua das Flores, 123.", "Entregar na [ADDRESS]."),
    ("ID", "Kirim ke Jl. Sudirman No. 5 ya kak.", "Kirim ke [ADDRESS] ya kak."),
    ("VN", "Giao đến 123 đường Lê Lợi nhé.", "Giao đến [ADDRESS] nhé."),
    ("TH", "ส่งที่ 99/1 ซอยสุขุมวิท 21 ค่ะ", "ส่งที่ [ADDRESS] ค่ะ"),
    ("JP", "お届け先：東京都渋谷区神南1-2-3", "お届け先：[ADDRESS]"),
    ("CN", "请寄到北京市朝阳区建国路88号。", "请寄到[ADDRESS]。"),
    ("SA", "العنوان: شارع الملك فهد 1234، الرياض", "العنوان: [ADDRESS]، الرياض"),
])
def test_street_addresses_and_postcodes_with_their_city_are_redacted(market: str, text: str, expected: str) -> None:
    assert _people(text, market) == expected


@pytest.mark.parametrize("text", [
    "Hi there! Orders under $75 ship for a flat $6.95.", "Dear customer, returns are free within 30 days.",
    "Best,\nTidewell Customer Care", "Liebe Grüße und einen schönen Tag!", "Hallo Team, ich habe 10000 Stück bestellt.",
    "คุณภาพดีมากค่ะ ขอบคุณค่ะ", "คุณสามารถคืนสินค้าได้ภายใน 14 วันค่ะ", "お客様のご都合による返品のため、返送料はお客様のご負担となります。",
    "고객님, 문의해 주셔서 감사합니다.", "أهلًا بك! الشحن مجاني للطلبات فوق 200 ريال.", "Via email rispondiamo entro 2 giorni.",
    "Versand in 2–3 Werktagen, ab 50 € kostenlos.", "The Drift 40L (TW-4417) has a lifetime warranty.",
])
def test_text_without_names_or_addresses_is_left_alone(text: str) -> None:
    assert _people(text) == text


def test_known_names_are_found_anywhere_but_never_inside_an_e_mail_address() -> None:
    text = "ok thanks jenna here, mail me at jenna.moreau84@example.com or ask Moreau's desk"
    assert _people(text, "US", names=["Jenna Moreau"]) == (
        "ok thanks [NAME] here, mail me at jenna.moreau84@example.com or ask [NAME]'s desk")
    # The full redaction takes the address as an e-mail, not a name cut out of it.
    assert PEOPLE.redact(text, market="US", names=["Jenna Moreau"]).counts == {"EMAIL": 1, "NAME": 2}
    # Accents are forgiven for a name written with them; a plain name does not swallow a Vietnamese word.
    assert _people("Soy Lucia, la del pedido.", names=["Lucía Martín"]) == "Soy [NAME], la del pedido."
    assert _people("Ảnh mình đính kèm nhé, Minh gửi.", "VN", names=["Minh"]) == "Ảnh mình đính kèm nhé, [NAME] gửi."
    # Short Latin names only as capitalised words: "Tan" the name, not "tan" the colour.
    assert _people("The bag in tan leather is for Tan.", names=["Tan Wei Ling"]) == "The bag in tan leather is for [NAME]."


def test_people_redaction_is_opt_in_and_not_names_are_kept() -> None:
    assert REDACTOR.redact("Danke, Frau Müller!").text == "Danke, Frau Müller!"  # documents and replies: off
    assert _people("Chào Tidewell, mình cần hỗ trợ.") == "Chào [NAME], mình cần hỗ trợ."
    kept = PEOPLE.redact("Chào Tidewell, mình cần hỗ trợ.", not_names={"Tidewell"}, only={"NAME"})
    assert kept.text == "Chào Tidewell, mình cần hỗ trợ." and kept.counts == {}


def _labelled() -> list[tuple[str, str, list[str], list[tuple[int, int, str]]]]:
    """(text, market, known names, gold spans) of the labelled set: ``[[name]]`` and ``{{address}}`` marked inline."""
    rows = []
    for line in PEOPLE_SET.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        marked, text, gold, pos = row["text"], "", [], 0
        for match in _MARKUP.finditer(marked):
            text += marked[pos:match.start()]
            inner, label = (match.group(1), "NAME") if match.group(1) is not None else (match.group(2), "ADDRESS")
            gold.append((len(text), len(text) + len(inner), label))
            text, pos = text + inner, match.end()
        rows.append((text + marked[pos:], row["market"], row.get("known", []), gold))
    return rows


def test_the_labelled_set_covers_enough_lines_and_languages() -> None:
    languages = {json.loads(line)["language"] for line in PEOPLE_SET.read_text(encoding="utf-8").splitlines()}
    assert len(_labelled()) >= 60 and len(languages) >= 8


@pytest.mark.parametrize("label", ["NAME", "ADDRESS"])
def test_precision_and_recall_on_the_labelled_set(label: str) -> None:
    """A found span counts when it overlaps a labelled one; both must stay at 0.9 or more."""
    found = missed = wrong = 0
    for text, market, known, gold in _labelled():
        spans = [s for s in PEOPLE.redact(text, market=market, names=known).spans if s[2] == label]
        mine = [g for g in gold if g[2] == label]
        found += sum(any(s[0] < g[1] and g[0] < s[1] for s in spans) for g in mine)
        missed += sum(not any(s[0] < g[1] and g[0] < s[1] for s in spans) for g in mine)
        wrong += sum(not any(s[0] < g[1] and g[0] < s[1] for g in mine) for s in spans)
    precision, recall = found / max(1, found + wrong), found / max(1, found + missed)
    assert precision >= 0.9 and recall >= 0.9, (label, precision, recall, found, wrong, missed)
