import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from ingestion.chunking import ChunkDraft
from ingestion.filetypes import FileType
from ingestion.tables import Table, read_table
from ingestion.transcripts import conversation_drafts, exchange_flag, read_jsonl, read_turn_rows
from polydesk.errors import InvalidRecordError
from polydesk.redaction import Redactor

pytestmark = pytest.mark.unit


def _line(**fields: object) -> str:
    return json.dumps(fields, ensure_ascii=False)


def test_each_customer_message_is_paired_with_the_following_answer() -> None:
    data = _line(
        conversation_id="c-1", market="vn", language="vi", channel="messenger", customer_id="cust-9",
        turns=[
            {"role": "customer", "text": "Chào shop"},
            {"role": "user", "text": "Đơn hàng bao lâu thì tới?"},
            {"role": "agent", "text": "Dạ, 3–6 ngày làm việc ạ."},
            {"role": "customer", "text": "Có COD không?"},
            {"role": "assistant", "text": "Có, shop hỗ trợ COD."},
            {"role": "customer", "text": "Cảm ơn"},
        ],
    )
    conversations, warnings = read_jsonl(data.encode())
    drafts = conversation_drafts(conversations, warnings).drafts
    assert [d.extra["question"] for d in drafts] == ["Chào shop Đơn hàng bao lâu thì tới?", "Có COD không?"]
    assert drafts[0].extra["answer"] == "Dạ, 3–6 ngày làm việc ạ."
    assert drafts[1].market == "VN" and drafts[1].language == "vi"
    assert drafts[1].extra["customer_id"] == "cust-9" and drafts[1].extra["channel"] == "messenger"


def test_bad_lines_are_skipped_with_their_line_number() -> None:
    good = _line(conversation_id="c-2", market="JP", turns=[{"role": "customer", "text": "返品したい"},
                                                             {"role": "agent", "text": "8日以内に承ります"}])
    bad_role = _line(conversation_id="c-3", turns=[{"role": "robot", "text": "x"}])
    conversations, warnings = read_jsonl(f"{good}\n{{not json\n\n{bad_role}\n".encode())
    assert [c.conversation_id for c in conversations] == ["c-2"]
    assert warnings[0].startswith("line 2: skipped, not JSON")
    assert warnings[1].startswith("line 4: skipped, turns.0.role")


def test_a_file_without_any_answered_question_is_refused() -> None:
    conversations, warnings = read_jsonl(_line(conversation_id="c", turns=[{"role": "customer", "text": "hi"}]).encode())
    with pytest.raises(InvalidRecordError, match="no usable conversation"):
        conversation_drafts(conversations, warnings)


def test_csv_turn_rows_are_grouped_in_order() -> None:
    table = Table(
        header=["conversation_id", "market", "language", "channel", "customer_id", "role", "text"],
        rows=[
            ["c-101", "BR", "pt", "whatsapp", "cust-1", "customer", "Qual o prazo de devolução?"],
            ["c-102", "SA", "ar", "web", "cust-2", "customer", "هل يتوفر الدفع عند الاستلام؟"],
            ["c-101", "", "", "", "", "agent", "Você tem 7 dias corridos."],
            ["c-102", "", "", "", "", "agent", "نعم، الدفع عند الاستلام متاح."],
        ],
    )
    conversations, warnings = read_turn_rows(table)
    assert not warnings
    assert [c.conversation_id for c in conversations] == ["c-101", "c-102"]
    assert conversations[0].market == "BR" and len(conversations[0].turns) == 2


# -- past conversations are knowledge, not scripts ---------------------------------------------------------------

DEMO = Path(__file__).resolve().parents[2] / "demo" / "tidewell" / "knowledge" / "conversations"
REDACTOR = Redactor()


def _drafts(*conversations: Mapping[str, object]) -> list[ChunkDraft]:
    data = "\n".join(_line(**c) for c in conversations).encode()
    return conversation_drafts(*read_jsonl(data)).drafts


def _turns(*texts: str) -> list[dict[str, str]]:
    return [{"role": "customer" if i % 2 == 0 else "agent", "text": text} for i, text in enumerate(texts)]


def test_the_speakers_names_are_redacted_wherever_they_occur_in_any_script() -> None:
    drafts = _drafts(
        {"conversation_id": "c-1", "market": "US", "customer_name": "Jenna Moreau", "agent_name": "Sam",
         "turns": _turns("Can I return a used flask? jenna here", "Sorry Jenna, only unused items; Sam from support.")},
        {"conversation_id": "c-2", "market": "TH", "language": "th",
         "turns": [{"role": "customer", "name": "สมศรี", "text": "สมศรีค่ะ ขอคืนสินค้าได้ไหมคะ"},
                   {"role": "agent", "name": "ปิยะ", "text": "ได้ค่ะ คืนได้ภายใน 14 วัน ปิยะยินดีให้บริการค่ะ"}]},
        {"conversation_id": "c-3", "market": "JP", "language": "ja", "customer_name": "高橋 美咲",
         "turns": _turns("高橋です。返品はできますか？", "高橋様、未開封であれば8日以内に返品を承ります。")},
    )
    texts = " ".join(d.text for d in drafts)
    for name in ("Jenna", "jenna", "Moreau", "Sam", "สมศรี", "ปิยะ", "高橋"):
        assert name not in texts, name
    assert "[NAME]" in drafts[0].extra["question"] and "14 วัน" in drafts[1].extra["answer"]
    assert "8日以内" in drafts[2].extra["answer"]


def test_the_csv_twin_reads_the_speakers_names() -> None:
    table = Table(header=["conversation_id", "market", "customer_name", "role", "name", "text"], rows=[
        ["c-9", "DE", "Lena Hoffmann", "customer", "", "Kann ich auf Rechnung zahlen? Lena"],
        ["c-9", "", "", "agent", "Jonas", "Ja, über Klarna. Viele Grüße von Jonas"],
    ])
    drafts = conversation_drafts(*read_turn_rows(table)).drafts
    assert "Lena" not in drafts[0].text and "Jonas" not in drafts[0].text and "Klarna" in drafts[0].text


def test_a_name_found_by_its_place_is_redacted_across_the_conversation_and_bare_greetings_go() -> None:
    drafts = _drafts({"conversation_id": "c-4", "market": "ES", "language": "es", "turns": _turns(
        "Hola:\n\n¿Tengo que pagar la devolución?\n\nGracias,\nLucía",
        "Hola, Lucía:\n\nNo, la devolución es gratuita durante 30 días.",
        "¡Perfecto, muchas gracias!",
        "¡A ti, Lucía!",
        "¿Y lucía bien el color gris en la foto? Lucía lo pregunta",
        "Sí, el gris es el de la foto.",
    )})
    # "¡A ti, [NAME]!" was all the answer to the thanks: nothing left, no chunk.
    assert [d.extra["answer"] for d in drafts] == ["No, la devolución es gratuita durante 30 días.",
                                                  "Sí, el gris es el de la foto."]
    assert "Lucía" not in " ".join(d.text for d in drafts)
    assert drafts[0].extra["question"] == "Hola:\n\n¿Tengo que pagar la devolución?\n\nGracias,"


def test_a_brand_after_a_greeting_in_many_conversations_is_no_name() -> None:
    conversations = [{"conversation_id": f"c-{i}", "market": "VN", "language": "vi", "turns": _turns(
        "Chào Tidewell, balo Drift có bảo hành không?" if i == 0 else f"Tidewell giao hàng mất mấy ngày? ({i})",
        "Tidewell bảo hành 2 năm ạ.")} for i in range(4)]
    drafts = _drafts(*conversations)
    assert drafts[0].extra["question"].startswith("Chào Tidewell,")
    assert all("Tidewell" in d.extra["answer"] for d in drafts)


def test_postal_addresses_in_transcripts_are_redacted() -> None:
    drafts = _drafts({"conversation_id": "c-5", "market": "DE", "language": "de", "turns": _turns(
        "Bitte liefern an Hauptstraße 12, 10115 Berlin.", "Die Lieferung an Hauptstraße 12 ist unterwegs.")})
    assert "Hauptstraße" not in drafts[0].text and "[ADDRESS]" in drafts[0].extra["question"]
    assert drafts[0].flag is not None and "address" in drafts[0].flag


@pytest.mark.parametrize(("question", "answer", "language", "reasons"), [
    ("Thanks, fingers crossed!", "It's already out for delivery in your area today, so you're all set.", "en",
     ["day", "order situation"]),
    ("Where is my order?", "Your order TW-ORD-2026-006415 shipped on Monday with UPS.", "en",
     ["order number", "day", "order situation"]),
    ("Kommt es rechtzeitig?", "Dein Paket ist unterwegs und kommt morgen.", "de", ["day", "order situation"]),
    ("¿Cuándo llega?", "Se envió el 15 de marzo.", "es", ["date", "order situation"]),
    ("Meu carrinho é de R$ 450, parcelo?", "Seu carrinho de R$ 450 pode ser parcelado em 6x.", "pt", ["amount"]),
    ("Paketnya di mana?", "Paket Anda sudah dikirim kemarin, Kak.", "id", ["day", "order situation"]),
    ("พัสดุถึงไหนแล้วคะ", "ส่งออกจากคลังเมื่อวานนี้ค่ะ", "th", ["day", "order situation"]),
    ("Đơn của mình sao rồi?", "Đơn hàng đã được giao hôm qua ạ.", "vi", ["day", "order situation"]),
    ("いつ届きますか？", "本日発送いたしました。", "ja", ["day", "order situation"]),
    ("我的包裹呢？", "您的包裹已发货，明天送达。", "zh", ["day", "order situation"]),
    ("متى يوصل طلبي؟", "تم شحن طلبك أمس عبر سمسا.", "ar", ["day", "order situation"]),
    ("Call me at 0151 23456789?", "We'll call you at 0151 23456789 after 5pm.", "en", ["contact details"]),
])
def test_an_answer_about_one_customers_case_is_flagged(question: str, answer: str, language: str,
                                                      reasons: list[str]) -> None:
    assert exchange_flag(question, answer, market="DE", language=language) == f"specific: {', '.join(reasons)}"


@pytest.mark.parametrize(("question", "answer", "language"), [
    ("Can I return it?", "Returns are free within 30 days of delivery.", "en"),
    ("Are you open on weekends?", "We're open Monday to Friday, 9 am–6 pm.", "en"),
    ("Wann seid ihr erreichbar?", "Wir sind Mo–Fr von 8 bis 18 Uhr erreichbar, hier im Chat oder per E-Mail.", "de"),
    ("¿Horario?", "Estamos de lunes a viernes de 9:00 a 18:00.", "es"),
    ("Frete?", "Para compras abaixo de R$ 299 o frete fixo é R$ 24,90.", "pt"),
    ("Ongkirnya berapa?", "Di bawah Rp 500.000 ongkirnya flat Rp 25.000.", "id"),
    ("ติดต่อได้วันไหน", "ติดต่อได้วันจันทร์–เสาร์ 09:00–18:00 น. ค่ะ", "th"),
    ("配送は何日ですか？", "出荷後1〜3営業日でお届けいたします。", "ja"),
    ("B2B?", "Orders of 50 units or more go to b2b@tidewell.example.", "en"),
    ("متى أوقات العمل؟", "من الأحد إلى الخميس، 9:00 صباحًا – 5:00 مساءً.", "ar"),
])
def test_a_general_answer_stays_knowledge(question: str, answer: str, language: str) -> None:
    assert exchange_flag(question, answer, market="DE", language=language) is None


@pytest.mark.parametrize("question", ["gracias", "obrigada!", "thanks!", "👍👍👍", "ありがとうございます", "ขอบคุณครับ",
                                      "terima kasih", "cảm ơn", "谢谢", "شكرا", "danke", "Ok noted, thanks!"])
def test_an_exchange_that_opens_with_small_talk_is_flagged(question: str) -> None:
    assert exchange_flag(question, "Have a great trip!") == "small talk"


def test_the_demo_transcripts_keep_general_answers_and_flag_the_rest() -> None:
    drafts = [*conversation_drafts(*read_jsonl((DEMO / "conversations.jsonl").read_bytes())).drafts,
              *conversation_drafts(*read_turn_rows(read_table(DEMO / "more.csv", FileType.CSV))).drafts]
    by_turn = {(d.extra["conversation_id"], d.extra["turn"]): d for d in drafts}
    flagged = [d for d in drafts if d.flag]
    # The three replies the issue found quoted to other customers are out of answers...
    assert by_turn["c-0101", "1"].flag == "specific: day, order situation"  # "already out for delivery … today"
    assert by_turn["c-0002", "1"].flag is not None  # "Your return label is on its way to …"
    assert by_turn["c-0021", "1"].flag == "small talk"  # "¡A ti, Lucía!" to "¡Perfecto, muchas gracias!"
    # ...while general answers stay, and most of the transcripts remain knowledge.
    assert by_turn["c-0007", "0"].flag is None and by_turn["c-0029", "0"].flag is None
    assert by_turn["c-0064", "1"].flag is None  # "من الأحد إلى الخميس": opening hours, no day of a case
    assert 0.15 <= len(flagged) / len(drafts) <= 0.45, (len(flagged), len(drafts))
    # No customer's name is left, once the pipeline has masked e-mails, phones and cards too.
    texts = " ".join(REDACTOR.redact(d.text, market=d.market).text for d in drafts)
    for name in ("Jenna", "Priya", "Lena", "Jonas", "Camille", "Thomas", "Lucía", "Andrés", "Mariana", "Dewi", "Budi",
                 "นภัสสร", "Nurul", "Wei Ling", "田中", "佐藤", "陳小姐", "عبدالله", "Omar", "Sophie", "Fernanda"):
        assert name not in texts, name
