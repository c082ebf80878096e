"""FAQ tables (CSV, XLSX): one row is one chunk.

The question and answer columns are the ones the editor names, or detected
from the header in any of the product's languages (``question``/``Frage``/
``pregunta``/``คำถาม``/``質問``/``问题``/``سؤال`` ...). Optional columns
``market``, ``language`` and ``category`` (or ``title``) set the row's own
metadata. A row without a question or an answer, or with a bad market, is
skipped with a warning that names its row number; a table with no usable row
is an error.

Example:
    >>> table = read_table(Path("faq.csv"))                      # doctest: +SKIP
    >>> rows = faq_drafts(table, question_column=None, answer_column=None)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.chunking import ChunkDraft
from ingestion.filetypes import FileType
from knowledge.schema import normalize_language, normalize_market
from polydesk.errors import CorruptFileError, EmptyFileError, InvalidRecordError

QUESTION_NAMES = {
    "question", "q", "frage", "question fréquente", "pregunta", "pergunta", "pertanyaan", "soalan", "คำถาม",
    "câu hỏi", "質問", "问题", "問題", "سؤال", "السؤال", "faq",
}
ANSWER_NAMES = {
    "answer", "a", "antwort", "réponse", "reponse", "respuesta", "resposta", "jawaban", "jawapan", "คำตอบ",
    "câu trả lời", "回答", "答案", "答覆", "جواب", "الإجابة", "الجواب",
}
MARKET_NAMES = {"market", "markt", "marché", "mercado", "pasar", "ตลาด", "thị trường", "市場", "市场", "السوق"}
LANGUAGE_NAMES = {
    "language", "lang", "sprache", "langue", "idioma", "bahasa", "ภาษา", "ngôn ngữ", "言語", "语言", "語言", "اللغة",
}
TITLE_NAMES = {"category", "title", "topic", "kategorie", "catégorie", "categoría", "categoria", "kategori", "หมวดหมู่"}


@dataclass(slots=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    first_row_number: int = 2  # the row number (1-based, as a spreadsheet shows it) of rows[0]


@dataclass(slots=True)
class TableDrafts:
    drafts: list[ChunkDraft]
    warnings: list[str] = field(default_factory=list)


def read_table(path: Path, file_type: FileType) -> Table:
    if file_type == FileType.XLSX:
        return _read_xlsx(path)
    return _read_csv(path.read_bytes())


def _read_csv(data: bytes) -> Table:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"CSV is not UTF-8 text: {exc}") from exc
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), dialect)]
    rows = [row for row in rows if any(row)]
    if not rows:
        raise EmptyFileError("the table has no rows")
    return Table(header=rows[0], rows=rows[1:])


def _read_xlsx(path: Path) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise CorruptFileError(f"cannot open the workbook: {type(exc).__name__}: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        rows = [["" if cell is None else str(cell).strip() for cell in row]
                for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    rows = [row for row in rows if any(row)]
    if not rows:
        raise EmptyFileError("the first sheet has no rows")
    return Table(header=rows[0], rows=rows[1:])


def _find_column(header: list[str], wanted: str | None, names: set[str], what: str) -> int | None:
    normalized = [h.strip().casefold() for h in header]
    if wanted is not None:
        if wanted.casefold() not in normalized:
            raise InvalidRecordError(f"no {what} column named {wanted!r}; the columns are {header}")
        return normalized.index(wanted.casefold())
    for index, name in enumerate(normalized):
        if name in names:
            return index
    return None


def faq_drafts(table: Table, *, question_column: str | None = None, answer_column: str | None = None) -> TableDrafts:
    header = table.header
    q = _find_column(header, question_column, QUESTION_NAMES, "question")
    a = _find_column(header, answer_column, ANSWER_NAMES, "answer")
    if q is None or a is None:
        raise InvalidRecordError(
            f"cannot tell which columns hold the question and the answer in {header}; "
            "name them with --question-column and --answer-column"
        )
    market_col = _find_column(header, None, MARKET_NAMES, "market")
    language_col = _find_column(header, None, LANGUAGE_NAMES, "language")
    title_col = _find_column(header, None, TITLE_NAMES, "category")
    result = TableDrafts(drafts=[])
    for offset, row in enumerate(table.rows):
        number = table.first_row_number + offset

        def cell(index: int | None, row: list[str] = row) -> str:
            return row[index].strip() if index is not None and index < len(row) else ""

        question, answer = cell(q), cell(a)
        if not question or not answer:
            result.warnings.append(f"row {number}: skipped, it needs both a question and an answer")
            continue
        try:
            market = normalize_market(cell(market_col)) if cell(market_col) else None
            language = normalize_language(cell(language_col)) if cell(language_col) else None
        except ValueError as exc:
            result.warnings.append(f"row {number}: skipped, {exc}")
            continue
        result.drafts.append(
            ChunkDraft(
                text=f"{question}\n{answer}",
                section=cell(title_col),
                market=market,
                language=language,
                extra={"question": question, "answer": answer, "row": str(number)},
            )
        )
    if not result.drafts:
        raise InvalidRecordError("no usable FAQ row: " + "; ".join(result.warnings[:5]))
    return result


def looks_like_transcript(table: Table) -> bool:
    """A CSV with ``role`` and ``text`` columns holds conversation turns, not FAQ rows."""
    names = {h.strip().casefold() for h in table.header}
    return {"conversation_id", "role", "text"} <= names
