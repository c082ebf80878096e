import json

import pytest

from ingestion.tables import Table
from ingestion.transcripts import conversation_drafts, read_jsonl, read_turn_rows
from polydesk.errors import InvalidRecordError

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
