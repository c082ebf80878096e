"""Guardrails: forbidden terms, PII, persona phrases, emoji, length and language, in ten languages."""

from __future__ import annotations

import pytest

from agent.guardrails import GuardrailContext, Guardrails
from agent.phrases import language_name, say
from agent.schema import Evidence
from knowledge.schema import Chunk, Kind
from personas import CultureRules, Market, PersonaCatalog

pytestmark = pytest.mark.unit

CATALOG = PersonaCatalog.load()


@pytest.fixture(scope="module")
def guardrails() -> Guardrails:
    return Guardrails()


def _ctx(
    market: str | Market,
    persona: str,
    language: str,
    *,
    max_body_chars: int = 600,
    customer_texts: tuple[str, ...] = (),
    evidence: tuple[Evidence, ...] = (),
    content_language: str | None = None,
) -> GuardrailContext:
    return GuardrailContext(
        persona=CATALOG.persona(persona),
        market=CATALOG.market(market) if isinstance(market, str) else market,
        language=language,
        max_body_chars=max_body_chars,
        customer_texts=customer_texts,
        evidence=evidence,
        content_language=content_language,
    )


def _evidence(text: str, *, kind: Kind, number: int = 1) -> Evidence:
    chunk = Chunk(
        tenant="tidewell",
        document_id=f"{kind}/de/{number}.md",
        version=1,
        position=0,
        text=text,
        market="DE",
        language="de",
        kind=kind,
        source=f"{kind}/de/{number}.md",
        title="Kontakt",
    )
    return Evidence(number=number, chunk=chunk, score=0.5, similarity=0.8)


# -- forbidden terms -------------------------------------------------------------------------------------------------


def test_gulf_reply_loses_the_sentences_with_forbidden_terms_in_any_language(guardrails: Guardrails) -> None:
    body = (
        "يحافظ الترمس على حرارة القهوة لمدة 12 ساعة. سنشحن طلبك غداً إن شاء الله. "
        "لا يناسب الترمس المشروبات بالخمر. The flask is not meant for wine. الإرجاع مجاني خلال 30 يوماً."
    )
    result = guardrails.check(body, _ctx("SA", "gulf-respectful", "ar"))

    assert result.body == "يحافظ الترمس على حرارة القهوة لمدة 12 ساعة. الإرجاع مجاني خلال 30 يوماً."
    assert [f.rule for f in result.findings] == ["forbidden_term"] * 3
    assert {f.action for f in result.findings} == {"repaired"}
    details = " ".join(f.detail for f in result.findings)
    assert "إن شاء الله" in details and "خمر" in details and "'wine' (en)" in details


@pytest.mark.parametrize(
    "sentence",
    [
        "لا يناسب الترمس المشروبات بالخمر.",  # preposition and article attached
        "لا نشحن والبيرة معاً.",  # conjunction and article attached
        "سنرسله غداً ان شاء الله.",  # written without the hamza
        "سنرسله غداً إنْ شاءَ اللهُ.",  # with diacritics
        "Not suitable for Bacon, eggs or cheese.",  # capitalised, comma after
        "We do not sell WINES.",  # plural
        "We ship, God   willing, tomorrow.",  # several spaces inside a term
    ],
)
def test_forbidden_terms_hit_attached_inflected_and_variant_forms(guardrails: Guardrails, sentence: str) -> None:
    result = guardrails.check(f"{sentence} Returns are free within 30 days.", _ctx("SA", "gulf-respectful", "en"))

    assert result.body == "Returns are free within 30 days."
    assert [f.rule for f in result.findings] == ["forbidden_term"]


@pytest.mark.parametrize(
    ("body", "language"),
    [
        ("زجاجة كبيرة تكفي لتراً من الماء، وخبيرة المنتج تنصح بها للرحلات.", "ar"),  # كبيرة / خبيرة contain بيرة
        ("The flask has a twine strap and keeps drinks cold for 24 hours.", "en"),  # twine contains wine
        ("Our porkchop-free lunch box is made of steel.", "en"),  # "pork" glued into a longer word
    ],
)
def test_words_that_merely_contain_a_forbidden_term_stay(guardrails: Guardrails, body: str, language: str) -> None:
    result = guardrails.check(body, _ctx("SA", "gulf-respectful", language))

    assert result.body == body
    assert result.findings == []


def test_a_body_that_is_only_a_forbidden_sentence_becomes_the_safe_reply(guardrails: Guardrails) -> None:
    result = guardrails.check("سنرسل طلبك غداً إن شاء الله.", _ctx("SA", "gulf-respectful", "ar"))

    assert result.body == say("safe_reply", "ar")
    assert result.replaced
    assert [(f.rule, f.action) for f in result.findings] == [("forbidden_term", "replaced")]


@pytest.mark.parametrize(
    ("market", "persona", "language"),
    [("SA", "gulf-respectful", "ar"), ("TH", "warm-quick", "th"), ("DE", "de-formal", "de"), ("JP", "jp-keigo", "ja"),
     ("TW", "warm-quick", "zh-hant"), ("MX", "latam-friendly", "es")],
)
def test_a_lead_in_left_alone_by_a_removal_becomes_the_safe_reply(
    guardrails: Guardrails, market: str, persona: str, language: str
) -> None:
    # The extractive generator's lead-in before an English quote; the quote's only sentence names wine.
    strict = CATALOG.market(market).model_copy(update={"culture": CultureRules(avoid_terms={"en": ["wine"]})})
    lead_in = say("source_language", language, source=language_name("en", language))
    body = f"{lead_in}\n\nThe flask keeps wine cold for 24 hours."
    result = guardrails.check(body, _ctx(strict, persona, language, content_language="en"))

    assert result.body == say("safe_reply", language)
    assert [(f.rule, f.action) for f in result.findings] == [("forbidden_term", "replaced")]


def test_the_saudi_lead_in_with_its_quote_removed_is_not_sent_alone(guardrails: Guardrails) -> None:
    body = "هذه المعلومات متوفرة باللغة الإنجليزية:\n\nThe flask is perfect for wine and beer."
    result = guardrails.check(body, _ctx("SA", "gulf-respectful", "ar", content_language="en"))

    assert result.body == say("safe_reply", "ar")
    assert result.replaced


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ("Our flask is great for:\n- Keeps wine cold.", None),
        ("Die Flasche eignet sich für：\n- Wein kalt halten.", None),
        ("Our flask is great for:\n- Keeps wine cold.\n- Keeps tea hot.", "Our flask is great for:\n- Keeps tea hot."),
        ("Returns are free: no label needed. Wine stays cold.", "Returns are free: no label needed."),
    ],
)
def test_a_line_ending_in_a_colon_is_no_reply_on_its_own(guardrails: Guardrails, body: str, kept: str | None) -> None:
    strict = CATALOG.market("GB").model_copy(update={"culture": CultureRules(avoid_terms={"en": ["wine"], "de": ["Wein"]})})
    language = "de" if "Flasche" in body else "en"
    result = guardrails.check(body, _ctx(strict, "precise-professional", language))

    assert result.body == (kept if kept is not None else say("safe_reply", language))
    assert result.replaced is (kept is None)


def test_a_forbidden_term_in_a_bullet_removes_the_whole_bullet(guardrails: Guardrails) -> None:
    body = "The flask is great for:\n- Keeps wine cold. Dishwasher safe.\n- Keeps tea hot.\n\nThe strap is adjustable."
    result = guardrails.check(body, _ctx("SA", "gulf-respectful", "en"))

    assert result.body == "The flask is great for:\n- Keeps tea hot.\n\nThe strap is adjustable."


def test_thai_sentences_are_runs_between_double_spaces(guardrails: Guardrails) -> None:
    thailand = CATALOG.market("TH")
    strict = thailand.model_copy(update={"culture": CultureRules(avoid_terms={"th": ["เหล้า"]})})
    body = "ส่งฟรีทั่วประเทศค่ะ  ขวดนี้ใส่เหล้าได้ค่ะ  คืนสินค้าได้ภายใน 30 วันค่ะ"

    assert guardrails.check(body, _ctx(thailand, "warm-quick", "th")).findings == []
    # Same market code, other terms (a brand's override): the compiled terms follow the market.
    result = guardrails.check(body, _ctx(strict, "warm-quick", "th"))
    assert result.body == "ส่งฟรีทั่วประเทศค่ะ  คืนสินค้าได้ภายใน 30 วันค่ะ"
    assert result.findings[0].detail.startswith("'เหล้า' (th)")


# -- PII -------------------------------------------------------------------------------------------------------------


def test_pii_is_masked_unless_it_is_the_customers_own_or_the_brands_published_contact(guardrails: Guardrails) -> None:
    # A policy document that names an address does not make it the brand's: documents can be injected.
    assert CATALOG.market("DE").published_contacts.emails == ("support@tidewell.example", "b2b@tidewell.example")
    ctx = _ctx(
        "DE",
        "de-formal",
        "de",
        customer_texts=("Meine Nummer ist 0151 23456789, meine Karte 4111 1111 1111 1111.",),
        evidence=(_evidence("Fragen? Schreiben Sie an service@tidewell.de.", kind="policy"),),
    )
    body = (
        "Wir rufen Sie unter 0151 23456789 an. Die Karte 4111 1111 1111 1111 wurde belastet. "
        "Fragen beantwortet Support@Tidewell.example oder service@tidewell.de. Eine Kopie ging an anna.schmidt@example.org."
    )
    result = guardrails.check(body, ctx)

    assert result.body == (
        "Wir rufen Sie unter 0151 23456789 an. Die Karte [CARD] wurde belastet. "
        "Fragen beantwortet Support@Tidewell.example oder [EMAIL]. Eine Kopie ging an [EMAIL]."
    )
    assert [f.detail.split()[:2] for f in result.findings] == [["CARD", "×1"], ["EMAIL", "×2"]]
    assert all(f.rule == "pii" and f.action == "repaired" for f in result.findings)
    details = " ".join(f.detail for f in result.findings)
    assert "4111" not in details and "@" not in details


def test_an_email_found_only_in_a_past_conversation_is_masked(guardrails: Guardrails) -> None:
    ctx = _ctx(
        "DE",
        "de-formal",
        "de",
        evidence=(_evidence("Kunde: Bitte antworten Sie an kunde.mueller@example.com.", kind="conversation"),),
    )
    result = guardrails.check("Wir haben die Rechnung an kunde.mueller@example.com gesendet.", ctx)

    assert result.body == "Wir haben die Rechnung an [EMAIL] gesendet."


def test_the_customers_number_written_another_way_is_still_theirs(guardrails: Guardrails) -> None:
    ctx = _ctx("DE", "de-formal", "de", customer_texts=("Rufen Sie mich an: +49 151 23456789",))
    body = "Wir rufen Sie morgen unter 0151 23456789 an, nicht unter 0170 9876543."
    result = guardrails.check(body, ctx)

    assert result.body == "Wir rufen Sie morgen unter 0151 23456789 an, nicht unter [PHONE]."


# -- persona phrases and emoji ---------------------------------------------------------------------------------------


def test_a_keigo_reply_loses_the_sentence_with_sumimasen(guardrails: Guardrails) -> None:
    body = "ご注文ありがとうございます。すみません、ただいま在庫がございません。入荷次第ご連絡いたします。"
    result = guardrails.check(body, _ctx("JP", "jp-keigo", "ja"))

    assert result.body == "ご注文ありがとうございます。入荷次第ご連絡いたします。"
    assert [(f.rule, f.detail) for f in result.findings] == [("avoid_phrase", "'すみません': 1 sentence removed")]


def test_persona_phrases_match_whole_words_and_abbreviations_do_not_end_sentences(guardrails: Guardrails) -> None:
    # de-formal avoids "Sorry", "Hi" and "LG": "nicht", "hier" and "folgt" contain them but are other words.
    body = "Die Lieferung folgt z. B. am 3. Oktober per DHL, sorry. Eine Rücksendung ist hier nicht nötig."
    result = guardrails.check(body, _ctx("DE", "de-formal", "de"))

    assert result.body == "Eine Rücksendung ist hier nicht nötig."
    assert [f.detail for f in result.findings] == ["'Sorry': 1 sentence removed"]


def test_emoji_are_removed_for_a_persona_without_emoji(guardrails: Guardrails) -> None:
    result = guardrails.check(
        "Your order has shipped 🎉. Returns are free 😊! Great 👍🏽 news.", _ctx("SA", "gulf-respectful", "en")
    )

    assert result.body == "Your order has shipped. Returns are free! Great news."
    assert [f.rule for f in result.findings] == ["emoji"]


def test_warm_quick_keeps_its_allowed_emoji_and_drops_the_others(guardrails: Guardrails) -> None:
    assert CATALOG.persona("warm-quick").emoji.allowed == ("🙏", "😊")
    body = "Pesanan Kakak sudah dikirim ya 😊 Estimasi tiba 2-3 hari kerja 🚚"
    result = guardrails.check(body, _ctx("ID", "warm-quick", "id"))

    assert result.body == "Pesanan Kakak sudah dikirim ya 😊 Estimasi tiba 2-3 hari kerja"
    assert [(f.rule, f.detail) for f in result.findings] == [("emoji", "removed 🚚 (emoji policy: allowed)")]


# -- length ----------------------------------------------------------------------------------------------------------

GERMAN = (
    "Die Rücksendung ist innerhalb von 30 Tagen kostenlos. "
    "Bitte legen Sie den Lieferschein bei. "
    "Die Erstattung erfolgt innerhalb von fünf Werktagen nach Eingang der Ware in unserem Lager."
)
JAPANESE = (
    "返品は商品到着後30日以内であれば無料でございます。"
    "納品書を同封のうえご返送ください。"
    "返金は倉庫に商品が到着してから五営業日以内に行います。"
)


@pytest.mark.parametrize(
    ("market", "persona", "language", "body", "kept"),
    [
        (
            "DE",
            "de-formal",
            "de",
            GERMAN,
            "Die Rücksendung ist innerhalb von 30 Tagen kostenlos. Bitte legen Sie den Lieferschein bei.",
        ),
        (
            "JP",
            "jp-keigo",
            "ja",
            JAPANESE,
            "返品は商品到着後30日以内であれば無料でございます。納品書を同封のうえご返送ください。",
        ),
    ],
)
def test_a_long_body_is_cut_at_the_last_sentence_end_that_fits(
    guardrails: Guardrails, market: str, persona: str, language: str, body: str, kept: str
) -> None:
    limit = len(kept) + 10
    result = guardrails.check(body, _ctx(market, persona, language, max_body_chars=limit))

    assert result.body == kept + "…"
    assert len(result.body) <= limit
    assert [f.rule for f in result.findings] == ["length"]


def test_a_long_first_sentence_is_cut_between_words_not_inside_one(guardrails: Guardrails) -> None:
    body = "Die Erstattung erfolgt innerhalb von fünf Werktagen nach Eingang der Ware in unserem Lager in Hamburg."
    result = guardrails.check(body, _ctx("DE", "de-formal", "de", max_body_chars=40))

    assert result.body == "Die Erstattung erfolgt innerhalb von…"


def test_japanese_without_a_sentence_end_in_reach_is_cut_between_characters(guardrails: Guardrails) -> None:
    result = guardrails.check(JAPANESE, _ctx("JP", "jp-keigo", "ja", max_body_chars=16))

    assert result.body == JAPANESE[:15] + "…"


# -- language --------------------------------------------------------------------------------------------------------

ENGLISH = "Returns are free within 30 days. Please keep the receipt and the original packaging."


def test_an_english_body_for_a_thai_reply_is_replaced(guardrails: Guardrails) -> None:
    result = guardrails.check(ENGLISH, _ctx("TH", "warm-quick", "th"))

    assert result.body == say("safe_reply", "th")
    assert result.replaced
    assert result.findings[0].rule == "language"
    assert result.findings[0].detail.startswith("reply in 'en', expected 'th'")


def test_quoted_english_knowledge_after_a_thai_lead_in_passes_when_declared(guardrails: Guardrails) -> None:
    body = f"ข้อมูลนี้มีเป็นภาษาอังกฤษ:\n\n{ENGLISH}"

    declared = guardrails.check(body, _ctx("TH", "warm-quick", "th", content_language="en"))
    assert declared.body == body
    assert declared.findings == []
    assert guardrails.check(body, _ctx("TH", "warm-quick", "th")).replaced


@pytest.mark.parametrize(
    "body",
    [
        "OK",
        "30",
        "TW-4417",
        "https://tidewell.com/th/returns",
        "Tidewell Flask 750",
        "4,95 € / 1.290 ฿",
        "Free shipping.",
    ],
)
def test_bodies_too_short_to_tell_pass_the_language_rule(guardrails: Guardrails, body: str) -> None:
    result = guardrails.check(body, _ctx("TH", "warm-quick", "th"))

    assert result.body == body
    assert result.findings == []


def test_codes_urls_and_numbers_do_not_decide_the_language(guardrails: Guardrails) -> None:
    body = "รุ่น TW-4417 ราคา 1,290 บาทค่ะ ดูรายละเอียดที่ https://tidewell.com/th/flask-750-steel-classic-edition ค่ะ"

    assert guardrails.check(body, _ctx("TH", "warm-quick", "th")).findings == []


def test_indonesian_and_malay_count_as_one_language(guardrails: Guardrails) -> None:
    body = "Pesanan anda akan dihantar esok. Bayaran balik akan dibuat dalam masa tujuh hari bekerja."

    assert guardrails.check(body, _ctx("ID", "warm-quick", "ms")).findings == []
    assert guardrails.check(body, _ctx("MY", "warm-quick", "id")).findings == []


def test_kana_decides_japanese_and_a_short_han_only_heading_is_fine(guardrails: Guardrails) -> None:
    ja = "送料無料\n\nご注文の商品は本日発送いたしました。到着まで二、三日お待ちください。"
    zh = "您的订单已经发货，预计三到五个工作日送达。如有问题请随时联系我们的客服团队。"

    assert guardrails.check(ja, _ctx("JP", "jp-keigo", "ja")).findings == []
    result = guardrails.check(zh, _ctx("JP", "jp-keigo", "ja"))
    assert result.body == say("safe_reply", "ja")
    assert result.findings[0].detail.startswith("reply in 'zh', expected 'ja'")


# -- clean bodies ----------------------------------------------------------------------------------------------------

CLEAN: list[tuple[str, str, str, str]] = [
    ("US", "us-friendly", "en", "Your order TW-ORD-2026-004512 shipped today 🙂 It should arrive in 3 to 5 business days.\n\nTrack it at https://tidewell.com/track. They will text you before delivery."),
    ("DE", "de-formal", "de", "Ihre Bestellung wurde heute versandt. Sie erhalten sie voraussichtlich in zwei bis drei Werktagen, nicht früher.\n\nDie Sendungsverfolgung finden Sie hier: https://tidewell.de/track (Versand: 4,95 €)."),
    ("JP", "jp-keigo", "ja", "ご注文の商品は本日発送いたしました。お届けまで二、三日お待ちくださいませ。\n\n配送状況は https://tidewell.jp/track にてご確認いただけます。"),
    ("TH", "warm-quick", "th", "สินค้าจัดส่งแล้วนะคะ คาดว่าจะได้รับภายใน 2-3 วันค่ะ 😊\n\nติดตามพัสดุได้ที่ https://tidewell.co.th/track ค่ะ"),
    ("SA", "gulf-respectful", "ar", "تم شحن طلبك اليوم، ومن المتوقع أن يصل خلال ثلاثة إلى خمسة أيام عمل.\n\nيمكنك تتبع الشحنة عبر الرابط https://tidewell.sa/track."),
    ("ID", "warm-quick", "id", "Pesanan Kakak sudah kami kirim hari ini ya, estimasi tiba 2-3 hari kerja 🙏\n\nNomor resi bisa dicek di https://tidewell.co.id/track."),
    ("VN", "warm-quick", "vi", "Đơn hàng của anh/chị đã được gửi đi hôm nay và dự kiến sẽ đến trong 2-3 ngày làm việc.\n\nAnh/chị có thể theo dõi đơn hàng tại https://tidewell.vn/track."),
    ("TW", "warm-quick", "zh-hant", "您的訂單已於今天寄出，預計兩到三個工作天內送達。\n\n您可以在 https://tidewell.tw/track 查詢配送進度。"),
    ("MX", "latam-friendly", "es", "Su pedido salió hoy 😊 Le llegará en un plazo de tres a cinco días hábiles.\n\nPuede rastrearlo en https://tidewell.mx/rastreo."),
    ("BR", "latam-friendly", "pt", "Seu pedido foi enviado hoje 😊 Ele deve chegar em três a cinco dias úteis.\n\nVocê pode acompanhar a entrega em https://tidewell.com.br/rastreio."),
]  # fmt: skip


@pytest.mark.parametrize(("market", "persona", "language", "body"), CLEAN, ids=[row[2] for row in CLEAN])
def test_a_clean_body_passes_unchanged_in_every_language(
    guardrails: Guardrails, market: str, persona: str, language: str, body: str
) -> None:
    result = guardrails.check(body, _ctx(market, persona, language))

    assert result.body == body
    assert result.findings == []
    assert not result.replaced


@pytest.mark.parametrize("market", [market.code for market in CATALOG.markets()])
@pytest.mark.parametrize("channel", ["web", "whatsapp"])
def test_the_safe_reply_passes_every_rule(guardrails: Guardrails, market: str, channel: str) -> None:
    resolved = CATALOG.resolve(tenant="tidewell", channel=channel, market=market)
    language = resolved.market.default_language
    safe = say("safe_reply", language)
    ctx = _ctx(resolved.market, resolved.persona.id, language, max_body_chars=len(safe))

    assert guardrails.check(safe, ctx).findings == []


def test_a_body_needs_room(guardrails: Guardrails) -> None:
    with pytest.raises(ValueError, match="max_body_chars"):
        _ctx("DE", "de-formal", "de", max_body_chars=0)
