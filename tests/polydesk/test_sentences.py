"""One sentence splitter for every script served: Latin abbreviations and numbers, CJK, Arabic, Thai; its callers."""

from __future__ import annotations

import pytest

from agent.generators.extractive import sentences as extractive_units
from api.answering import pieces
from ingestion.chunking import Chunker
from ingestion.parsing import Block
from polydesk.sentences import Sentence, sentence_spans, split_sentences, trim_to_last_sentence

pytestmark = pytest.mark.unit

SPLITS: list[tuple[str, str, list[str]]] = [
    ("en", "Hi Mr. Lee, returns are free, e.g. for shoes. We refund within 5 days! Questions? Ask us.",
     ["Hi Mr. Lee, returns are free, e.g. for shoes.", "We refund within 5 days!", "Questions?", "Ask us."]),
    ("en-etc", "We sell cups, flasks, etc. and bags. We ship cups, flasks etc. Returns are free.",
     ["We sell cups, flasks, etc. and bags.", "We ship cups, flasks etc.", "Returns are free."]),
    ("de", "Kleine Artikel wie z. B. Becher kosten 1.234,56 €. Artikel Nr. 5 kommt am 3. Oktober. Danke!",
     ["Kleine Artikel wie z. B. Becher kosten 1.234,56 €.", "Artikel Nr. 5 kommt am 3. Oktober.", "Danke!"]),
    ("de-quotes", "Er schrieb: „Das passt.“ Dann kam z.B. die Str. 4 dran.",
     ["Er schrieb: „Das passt.“", "Dann kam z.B. die Str. 4 dran."]),
    ("ja", "ご注文ありがとうございます。「在庫がございます。」明日発送いたします！よろしいですか？はい",
     ["ご注文ありがとうございます。", "「在庫がございます。」", "明日発送いたします！", "よろしいですか？", "はい"]),
    ("zh", "您的订单已经发货。预计三到五天送达！有问题吗?请联系我们。",
     ["您的订单已经发货。", "预计三到五天送达！", "有问题吗?", "请联系我们。"]),
    ("th", "ส่งฟรีทั่วประเทศ เมื่อซื้อครบ ฿1,000 ค่ะ  คืนสินค้าได้ภายใน 14 วันค่ะ",
     ["ส่งฟรีทั่วประเทศ เมื่อซื้อครบ ฿1,000 ค่ะ", "คืนสินค้าได้ภายใน 14 วันค่ะ"]),
    ("ar", "هل المنتج متوفر؟نعم، هو متوفر. سنشحن طلبك غداً! شكراً لك۔ مع السلامة",
     ["هل المنتج متوفر؟", "نعم، هو متوفر.", "سنشحن طلبك غداً!", "شكراً لك۔", "مع السلامة"]),
    ("id", "Kirim ke Jl. Sudirman No. 5 ya. Estimasi tiba 2-3 hari kerja. Terima kasih!",
     ["Kirim ke Jl. Sudirman No. 5 ya.", "Estimasi tiba 2-3 hari kerja.", "Terima kasih!"]),
    ("vi", "Đơn hàng giao tới TP. Hồ Chí Minh trong 2 ngày. Phí vận chuyển là 30.000 ₫. Cảm ơn anh/chị!",
     ["Đơn hàng giao tới TP. Hồ Chí Minh trong 2 ngày.", "Phí vận chuyển là 30.000 ₫.", "Cảm ơn anh/chị!"]),
    ("es", "¿Tiene envío gratis? ¡Sí! La Dra. Ruiz y el Sr. Gómez lo confirman: desde 50 €. Lavar a máx. 30 °C.",
     ["¿Tiene envío gratis?", "¡Sí!", "La Dra. Ruiz y el Sr. Gómez lo confirman: desde 50 €.", "Lavar a máx. 30 °C."]),
    ("pt", "A Sra. Lima mora na Av. Paulista. O frete custa R$ 19,90. Obrigado…",
     ["A Sra. Lima mora na Av. Paulista.", "O frete custa R$ 19,90.", "Obrigado…"]),
    ("fr", "« Merci. » Nous livrons en 3 jours. Vraiment ? Oui.",
     ["« Merci. »", "Nous livrons en 3 jours.", "Vraiment ?", "Oui."]),
    ("web", "See https://tidewell.com/de/returns?id=4.5 or mail service@tidewell.de. The flask holds 0.75 l... Nice.",
     ["See https://tidewell.com/de/returns?id=4.5 or mail service@tidewell.de.", "The flask holds 0.75 l...",
      "Nice."]),
    ("lines", "Versand:\n- DHL (2-3 Tage)\n\n- DPD (1-2 Tage)", ["Versand:", "- DHL (2-3 Tage)", "- DPD (1-2 Tage)"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), [row[1:] for row in SPLITS], ids=[row[0] for row in SPLITS])
def test_sentences_in_every_script(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_a_single_space_separates_thai_phrases_only_when_asked() -> None:
    text = "ส่งฟรีทั่วประเทศ เมื่อสั่งซื้อครบ ฿1,000 ขึ้นไป จัดส่งภายใน 2-4 วัน"

    assert split_sentences(text) == [text]
    assert split_sentences(text, thai_phrases=True) == [
        "ส่งฟรีทั่วประเทศ", "เมื่อสั่งซื้อครบ ฿1,000 ขึ้นไป", "จัดส่งภายใน 2-4 วัน",
    ]  # fmt: skip


def test_spans_give_offsets_and_the_whitespace_after_each_sentence() -> None:
    text = "  Free shipping.  Returns: 30 days\n\n送料無料です。"

    assert sentence_spans(text) == [
        Sentence(start=2, end=16, stop=18, closed=True),
        Sentence(start=18, end=34, stop=36, closed=False),
        Sentence(start=36, end=43, stop=43, closed=True),
    ]
    assert sentence_spans("   ") == []


@pytest.mark.parametrize(
    ("text", "trimmed"),
    [
        ("You have 30 days [1]. Refunds are sent to the", "You have 30 days [1]."),
        ("返品は30日以内です。送料は無", "返品は30日以内です。"),  # no space after 。
        ('He said "Fine." Then the order was', 'He said "Fine."'),  # the closing quote stays
        ("Die Lieferung kommt z. B. am 3. Oktober. Sie kommt z.", "Die Lieferung kommt z. B. am 3. Oktober."),
        ("Returns are free.\nRefunds take", "Returns are free."),  # a line break does not close a sentence
        ("ส่งฟรีค่ะ  คืนสินค้าได้ภาย", "ส่งฟรีค่ะ"),
        ("Nothing closed here", "Nothing closed here"),
        ("Complete.", "Complete."),
    ],
)
def test_trim_drops_an_unfinished_last_sentence(text: str, trimmed: str) -> None:
    assert trim_to_last_sentence(text) == trimmed


# -- what the callers gain from sharing it ---------------------------------------------------------------------------


def test_extractive_units_keep_abbreviations_and_closing_quotes_and_split_thai() -> None:
    chunk = (
        "Kleine Artikel wie z. B. Becher sind frei. Frau Dr. Weber antwortet.\n「在庫がございます。」明日発送します。\n"
        "ส่งฟรีทั่วประเทศค่ะ  คืนสินค้าได้ภายใน 14 วันค่ะ\n2. Wähle die Artikel aus."
    )

    assert extractive_units(chunk) == [
        "Kleine Artikel wie z. B. Becher sind frei.", "Frau Dr. Weber antwortet.",
        "「在庫がございます。」", "明日発送します。", "ส่งฟรีทั่วประเทศค่ะ", "คืนสินค้าได้ภายใน 14 วันค่ะ",
        "Wähle die Artikel aus.",  # a step's number is no part of the quote
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Die Lieferung folgt z. B. am 3. Oktober. Danke!\n\nIhr Team",
         ["Die Lieferung folgt z. B. am 3. Oktober. ", "Danke!\n\n", "Ihr Team"]),
        ("ส่งฟรีค่ะ  คืนสินค้าได้ภายใน 14 วันค่ะ", ["ส่งฟรีค่ะ  ", "คืนสินค้าได้ภายใน 14 วันค่ะ"]),
        ("「ありがとうございます。」またのご利用を。", ["「ありがとうございます。」", "またのご利用を。"]),
        ("  Wait… what? ", ["  Wait… ", "what? "]),
    ],
)  # fmt: skip
def test_stream_pieces_are_whole_sentences_that_join_back_exactly(reply: str, expected: list[str]) -> None:
    assert pieces(reply) == expected
    assert "".join(pieces(reply)) == reply


def test_the_chunker_never_cuts_after_an_abbreviation_and_keeps_the_blocks_line_breaks() -> None:
    sentence = "Kleine Artikel wie z. B. Becher oder Flaschen versenden wir kostenlos mit DHL."
    text = "\n".join([sentence] * 12)
    drafts = Chunker(max_tokens=40, overlap_tokens=0).chunk([Block(kind="text", text=text)])

    lines = [line for draft in drafts for line in draft.text.splitlines()]
    assert len(drafts) > 1
    assert lines == [sentence] * 12
