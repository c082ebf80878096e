from pathlib import Path

import pytest

from ingestion.filetypes import FileType
from ingestion.tables import faq_drafts, looks_like_transcript, read_table
from polydesk.errors import EmptyFileError, InvalidRecordError

pytestmark = pytest.mark.unit


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "faq.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_faq_columns_are_detected_in_the_editors_language(tmp_path: Path) -> None:
    path = _csv(tmp_path, "Frage;Antwort;Markt\nWie lange dauert der Versand?;2–3 Werktage mit DHL.;DE\n")
    drafts = faq_drafts(read_table(path, FileType.CSV))
    [row] = drafts.drafts
    assert row.extra["question"] == "Wie lange dauert der Versand?"
    assert row.extra["answer"] == "2–3 Werktage mit DHL."
    assert row.market == "DE"
    assert row.text == "Wie lange dauert der Versand?\n2–3 Werktage mit DHL."


def test_named_columns_win_and_a_wrong_name_is_a_clear_error(tmp_path: Path) -> None:
    path = _csv(tmp_path, "ask,reply\nคืนสินค้าได้กี่วัน,ภายใน 14 วัน\n")
    table = read_table(path, FileType.CSV)
    with pytest.raises(InvalidRecordError, match="question-column"):
        faq_drafts(table)
    assert faq_drafts(table, question_column="ask", answer_column="reply").drafts[0].extra["answer"] == "ภายใน 14 วัน"
    with pytest.raises(InvalidRecordError, match="no question column named 'frage'"):
        faq_drafts(table, question_column="frage", answer_column="reply")


def test_bad_rows_are_skipped_with_their_row_number(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "question,answer,market,language\n"
        "返品はできますか,商品到着後8日以内,JP,ja\n"
        "no answer here,,US,en\n"
        "Bad market?,Yes,Germany!,de\n",
    )
    drafts = faq_drafts(read_table(path, FileType.CSV))
    assert [d.extra["question"] for d in drafts.drafts] == ["返品はできますか"]
    assert drafts.drafts[0].language == "ja"
    assert drafts.warnings[0].startswith("row 3:") and drafts.warnings[1].startswith("row 4:")


def test_a_table_without_usable_rows_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRecordError):
        faq_drafts(read_table(_csv(tmp_path, "question,answer\n,\nonly question,\n"), FileType.CSV))
    with pytest.raises(EmptyFileError):
        read_table(_csv(tmp_path, "\n\n"), FileType.CSV)


def test_xlsx_faq_rows(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Pertanyaan", "Jawaban", "Market"])
    sheet.append(["Apakah bisa COD?", "Bisa, COD tersedia untuk seluruh Indonesia.", "ID"])
    sheet.append([None, None, None])
    path = tmp_path / "faq.xlsx"
    workbook.save(path)
    [row] = faq_drafts(read_table(path, FileType.XLSX)).drafts
    assert row.extra["question"] == "Apakah bisa COD?" and row.market == "ID"


def test_transcript_csv_is_recognised_by_its_columns(tmp_path: Path) -> None:
    table = read_table(_csv(tmp_path, "conversation_id,market,role,text\nc1,TH,customer,สวัสดี\n"), FileType.CSV)
    assert looks_like_transcript(table)
