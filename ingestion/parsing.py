"""Documents → blocks: titles, paragraphs, list items and table rows, with the headings above them.

PDF (``strategy="fast"``), DOCX, HTML, Markdown, plain text and e-mail go through unstructured;
its elements become :class:`Block` objects for the chunker. Running headers/footers, page numbers, page
breaks, images, HTML comments and hidden HTML elements are dropped; table rows keep their header row.

    >>> path = Path("faq/versand.md")
    >>> doc = parse_document(path, detect_type(path, max_bytes=50_000_000))  # doctest: +SKIP
    >>> doc.title, doc.blocks[1]  # doctest: +SKIP
    ('Versand', Block(kind='text', text='Ab 50 € versenden wir kostenlos.', heading_path=('Versand',), ...))

Offline and speed: unstructured 0.27 downloads a spaCy English model on the first partition;
:func:`_prepare_unstructured` swaps in ``spacy.blank("en")`` + sentencizer once, before that. Its
"narrative text?" check only tells NarrativeText from Text (both ``text`` here), so it is switched
off for HTML/Markdown/DOCX; plain text runs unstructured's classifier only on lines that could be
headings. These switches are global to unstructured in this process.
"""

from __future__ import annotations

import email.parser
import email.policy
import gc
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polydesk  # noqa: F401  (sets the offline environment before any third-party import)
from ingestion.filetypes import FileType, is_ole_container, read_text
from polydesk.errors import CorruptFileError, EmptyFileError, EncryptedFileError, PolydeskError, UnsupportedTypeError

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from spacy.language import Language
    from unstructured.documents.elements import Element

__all__ = ["Block", "BlockKind", "ParsedDocument", "parse_document"]

BlockKind = Literal["title", "text", "list_item", "table_row"]


@dataclass(frozen=True, slots=True)
class Block:
    kind: BlockKind
    text: str
    heading_path: tuple[str, ...] = ()  # titles above this block, outermost first
    page: int | None = None
    table_header: str = ""  # for table_row: the header row, cells joined with " | "


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    title: str  # first title, e-mail subject, or file stem
    blocks: list[Block]
    metadata: dict[str, str] = field(default_factory=dict)  # e.g. e-mail from/to/date/subject (PII stays here)


TitlePolicy = Literal["markup", "heuristic"]
_DROPPED = {"Header", "Footer", "PageBreak", "PageNumber", "Image"}
# A heading does not end like a sentence ("?" stays allowed: FAQ questions are headings).
_SENTENCE_END = (".", "。", "．", "!", "！", ",", "，", "、", ";", "；", "…")
_MAX_HEADING_WIDTH = 80  # display columns: a CJK character counts two
_PAGE_LABEL = re.compile(
    r"^\W*(?:page|seite|página|pagina|halaman|trang|หน้า|ページ|頁|页)?\W*\d+\W*"
    r"(?:(?:of|von|de|dari|sur|จาก|/)\W*\d+\W*)?$",
    re.IGNORECASE,
)
_GLYPH_BULLET = re.compile(r"\s+[•●▪◦‣⁃∙○■□➢➤►]\s+")  # glyphs that are bullets, never dashes or dots
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(?:.*\r?\n){0,100}?---[ \t]*\r?\n")  # YAML metadata block
_EMAIL_FIELDS = ("from", "to", "cc", "date", "subject")
# No language detection (done per chunk later) and random element ids instead of content hashes (unused here):
# together a third of partition_html's time.
_FAST: dict[str, Any] = {"languages": [""], "unique_element_ids": True}


def parse_document(path: Path, file_type: FileType) -> ParsedDocument:
    """Parse a PDF, DOCX, HTML, Markdown, plain-text or e-mail file into blocks."""
    parser = _PARSERS.get(file_type)
    if parser is None:
        raise UnsupportedTypeError(f"{path.name}: {file_type} files hold records, not documents; not parsed here")
    _prepare_unstructured()
    metadata: dict[str, str] = {}
    try:
        with _collector_paused():
            elements, policy = parser(path, metadata)
    except PolydeskError:
        raise
    except Exception as exc:  # any parser failure means the file is damaged as far as the user is concerned
        raise CorruptFileError(f"{path.name}: could not be read as {file_type}: {type(exc).__name__}: {exc}") from exc
    blocks = _to_blocks(elements, policy)
    if not blocks:
        if file_type is FileType.PDF:
            _explain_textless_pdf(path)
        raise EmptyFileError(f"{path.name}: no extractable text")
    title = next((b.text for b in blocks if b.kind == "title"), "") or metadata.get("subject", "") or path.stem
    return ParsedDocument(title=title, blocks=blocks, metadata=metadata)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while unstructured builds its hundreds of thousands of small objects:
    full collections cost up to a third of the parse time (Markdown 180 → 275 pages/s measured). Reference
    counting still frees everything; cycles are collected when the collector resumes."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# -- one-time set-up of unstructured --------------------------------------------------------------------------------

@cache
def _prepare_unstructured() -> None:
    """Point unstructured at a blank spaCy pipeline (no model download) and skip checks whose answer we ignore."""
    from unstructured.nlp import tokenize
    from unstructured.partition import docx as docx_partition
    from unstructured.partition.html import parser as html_parser

    tokenize._load_spacy_model = _blank_english
    tokenize._get_nlp.cache_clear()
    # NarrativeText vs Text is all this check decides for HTML and DOCX; both become "text" blocks.
    html_parser.is_possible_narrative_text = _is_narrative
    docx_partition.is_possible_narrative_text = _is_narrative


def _blank_english() -> Language:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def _is_narrative(text: str, *args: Any, **kwargs: Any) -> bool:
    return bool(text)


# -- parsers: file → unstructured elements ---------------------------------------------------------------------------

Parser = Callable[[Path, dict[str, str]], tuple[list["Element"], TitlePolicy]]


def _parse_html(path: Path, metadata: dict[str, str], *, markdown: bool = False) -> tuple[list[Element], TitlePolicy]:
    from unstructured.partition.html import partition_html

    text = read_text(path)
    return partition_html(text=_without_hidden(_markdown_html(text) if markdown else text, metadata), **_FAST), "markup"


_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)"
                           r"|(?:font-size|opacity)\s*:\s*0(?:\.0+)?[a-z%]*\s*(?:;|!|$)", re.IGNORECASE)


def _without_hidden(html: str, metadata: dict[str, str]) -> str:
    """The page without elements no reader sees (``hidden``, a hiding inline style; a hiding class is not seen):
    carriers of instructions to an assistant, not knowledge. Their count goes to ``metadata["hidden_elements"]``."""
    if "hidden" not in html.lower() and not _HIDDEN_STYLE.search(html):
        return html  # the common case: no second parse
    from lxml import html as lxml_html

    root = lxml_html.document_fromstring(html)
    hidden = [element for element in root.iter() if isinstance(element.tag, str)
              and (element.get("hidden") is not None or _HIDDEN_STYLE.search(element.get("style") or ""))]
    if not hidden:
        return html
    for element in (e for e in hidden if e.getparent() is not None):
        element.drop_tree()  # keeps its tail: the visible text that follows it
    metadata["hidden_elements"] = str(len(hidden))
    return str(lxml_html.tostring(root, encoding="unicode"))


def _parse_docx(path: Path, metadata: dict[str, str]) -> tuple[list[Element], TitlePolicy]:
    with path.open("rb") as handle:
        if is_ole_container(handle.read(8)):
            raise EncryptedFileError(f"{path.name}: the Word document is password-protected")
    from unstructured.partition.docx import partition_docx

    return partition_docx(filename=str(path), **_FAST), "markup"


def _parse_text(path: Path, metadata: dict[str, str]) -> tuple[list[Element], TitlePolicy]:
    """partition_text's segmentation and classifier, minus its per-element deep copies, with the NLP checks
    run only on lines that could be headings: anything longer or sentence-like is text whatever they say."""
    from unstructured.cleaners.core import auto_paragraph_grouper, clean_bullets
    from unstructured.documents.elements import ListItem, NarrativeText
    from unstructured.nlp.patterns import PARAGRAPH_PATTERN
    from unstructured.partition.text import element_from_text
    from unstructured.partition.text_type import is_bulleted_text, is_possible_numbered_list

    elements: list[Element] = []
    for paragraph in re.split(PARAGRAPH_PATTERN, auto_paragraph_grouper(read_text(path)).strip()):
        paragraph = paragraph.strip()
        if is_bulleted_text(paragraph):
            elements.append(ListItem(text=clean_bullets(paragraph)))
        elif is_possible_numbered_list(paragraph):
            elements.append(ListItem(text=paragraph))
        elif paragraph and not _heading_shaped(paragraph):
            elements.append(NarrativeText(text=paragraph))
        elif paragraph:
            elements.append(element_from_text(paragraph))
    return elements, "heuristic"


def _parse_email(path: Path, metadata: dict[str, str]) -> tuple[list[Element], TitlePolicy]:
    from unstructured.documents.elements import ElementMetadata, NarrativeText, Title
    from unstructured.partition.email import partition_email

    metadata.update(_email_headers(path))
    body = partition_email(filename=str(path), content_source="text/plain", process_attachments=False,
                           **_FAST)
    # Short body lines (greetings, a signature name) read as titles; in a message they are just text.
    elements: list[Element] = [
        NarrativeText(text=e.text, metadata=e.metadata) if e.category == "Title" else e for e in body
    ]
    if metadata.get("subject"):
        elements.insert(0, Title(text=metadata["subject"], metadata=ElementMetadata(category_depth=0)))
    return elements, "markup"


def _parse_pdf(path: Path, metadata: dict[str, str]) -> tuple[list[Element], TitlePolicy]:
    metadata["pages"] = str(_check_pdf(path))
    from unstructured.partition.pdf import partition_pdf

    # languages only labels the output in the fast strategy; passing one avoids a warning per call.
    elements = partition_pdf(filename=str(path), strategy="fast", include_page_breaks=False,
                             **{**_FAST, "languages": ["eng"]})
    return _pdf_content(elements), "heuristic"


_PARSERS: dict[FileType, Parser] = {
    FileType.PDF: _parse_pdf,
    FileType.DOCX: _parse_docx,
    FileType.HTML: _parse_html,
    FileType.MARKDOWN: partial(_parse_html, markdown=True),
    FileType.TEXT: _parse_text,
    FileType.EMAIL: _parse_email,
}


def _markdown_html(text: str) -> str:
    """CommonMark → HTML, rather than partition_md's Python-Markdown: that one reads a list right after a
    paragraph (no blank line between) as part of the paragraph, and is twice as slow."""
    from markdown_it.token import Token

    text = _FRONT_MATTER.sub("", text, count=1)
    renderer = _markdown_renderer()
    tokens = renderer.parse(text)
    depth = 0
    for token in tokens:
        depth += {"list_item_open": 1, "list_item_close": -1}.get(token.type, 0)
        if not depth:
            continue
        # Render lists tight: unstructured turns a <li> that holds <p>s into plain text, not a list item.
        if token.type in ("paragraph_open", "paragraph_close"):
            token.hidden = True
        elif token.type == "inline" and token.children is not None:
            token.children.append(Token("softbreak", "br", 0))  # keeps two paragraphs of one item apart
    return str(renderer.renderer.render(tokens, renderer.options, {}))


@cache
def _markdown_renderer() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _email_headers(path: Path) -> dict[str, str]:
    with path.open("rb") as handle:
        message = email.parser.BytesParser(policy=email.policy.default).parse(handle, headersonly=True)
    headers = {name: _clean(str(message[name])) for name in _EMAIL_FIELDS if message[name] is not None}
    return {name: value for name, value in headers.items() if value}


# -- PDF specifics -----------------------------------------------------------------------------------------------------


def _check_pdf(path: Path) -> int:
    """Page count; refuses password-protected PDFs up front (unstructured would log the error and return nothing)."""
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise EncryptedFileError(f"{path.name}: the PDF is password-protected")
        return len(reader.pages)
    except PolydeskError:
        raise
    except Exception as exc:
        raise CorruptFileError(f"{path.name}: not a readable PDF: {type(exc).__name__}: {exc}") from exc


def _explain_textless_pdf(path: Path) -> None:
    """unstructured swallows pdfminer errors: re-read to tell a damaged or locked PDF from one without text."""
    from pdfminer.high_level import extract_pages
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    try:
        for _ in extract_pages(str(path)):
            pass
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise EncryptedFileError(f"{path.name}: the PDF is password-protected") from exc
    except Exception as exc:
        raise CorruptFileError(f"{path.name}: the PDF is damaged: {type(exc).__name__}: {exc}") from exc
    raise EmptyFileError(f"{path.name}: no extractable text (a scanned or image-only PDF needs OCR first)")


def _pdf_content(elements: Sequence[Element]) -> list[Element]:
    """Drop running headers/footers and page numbers, keep other Header/Footer text, split glued list items.

    unstructured calls anything in the top or bottom 7% of a page a Header/Footer, which on PDFs with
    narrow margins is the title and the first paragraph: only text repeated on several pages is dropped.
    """
    from unstructured.documents.elements import ListItem
    from unstructured.partition.text import element_from_text

    pages: defaultdict[str, set[int | None]] = defaultdict(set)
    for element in elements:
        if element.category in ("Header", "Footer"):
            pages[_furniture_key(element.text)].add(element.metadata.page_number)
    kept: list[Element] = []
    for element in elements:
        text = _clean(element.text)
        if _PAGE_LABEL.match(text):
            continue
        if element.category in ("Header", "Footer"):
            if len(pages[_furniture_key(text)]) > 1:
                continue
            metadata, element = element.metadata, element_from_text(text)
            element.metadata = metadata
        # pdfminer sets a tight list in one text box, which unstructured makes one element.
        first, *items = _GLYPH_BULLET.split(text) if element.category != "Title" else [text]
        if element.category == "ListItem":
            items.insert(0, first)
        else:
            element.text = first
            kept.append(element)
        kept.extend(ListItem(text=item, metadata=element.metadata) for item in items if item)
    return kept


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+", "#", _clean(text).casefold())


# -- elements → blocks -----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Item:
    kind: BlockKind
    text: str
    page: int | None
    depth: int = 0  # titles only
    table_header: str = ""


def _to_blocks(elements: Iterable[Element], policy: TitlePolicy) -> list[Block]:
    items = _items(elements, policy)
    _demote_headings_without_body(items, trailing_only=policy == "markup")
    blocks: list[Block] = []
    headings: list[tuple[int, str]] = []  # (depth, title), outermost first
    for item in items:
        if item.kind == "title":
            while headings and headings[-1][0] >= item.depth:
                headings.pop()
        path = tuple(title for _, title in headings)
        blocks.append(Block(item.kind, item.text, path, item.page, item.table_header))
        if item.kind == "title":
            headings.append((item.depth, item.text))
    return blocks


def _items(elements: Iterable[Element], policy: TitlePolicy) -> list[_Item]:
    items: list[_Item] = []
    for element in elements:
        category = element.category
        text = _clean(element.text)
        if category in _DROPPED or not text:
            continue
        page = element.metadata.page_number
        if category == "Title" and (policy == "markup" or _heading_shaped(text)):
            depth = element.metadata.category_depth
            if policy != "markup" or depth is None:
                # No levels from heuristics: a title that opens the document is its title, the rest are sections.
                depth = 0 if not items else 1
            items.append(_Item("title", text, page, int(depth)))
        elif category == "ListItem":
            items.append(_Item("list_item", text, page))
        elif category == "Table":
            items.extend(_table_items(element, text, page))
        else:
            items.append(_Item("text", text, page))
    return items


def _demote_headings_without_body(items: list[_Item], *, trailing_only: bool) -> None:
    """A title with no content before the next title is text: the chunker indexes no bodiless title.
    With markup, headings followed by sub-headings are real; only trailing ones are demoted."""
    body_follows = False
    for item in reversed(items):
        if item.kind == "title" and not body_follows:
            item.kind = "text"
        body_follows = item.kind != "title" or (trailing_only and body_follows)


def _table_items(element: Element, text: str, page: int | None) -> list[_Item]:
    rows = _table_rows(element.metadata.text_as_html or "")
    if not rows:
        return [_Item("text", text, page)]
    if len(rows) == 1:
        return [_Item("table_row", " | ".join(rows[0]), page)]
    header = " | ".join(rows[0])
    return [_Item("table_row", " | ".join(row), page, table_header=header) for row in rows[1:]]


def _table_rows(html: str) -> list[list[str]]:
    if not html.strip():
        return []
    from lxml import html as lxml_html

    root = lxml_html.fragment_fromstring(html, create_parent="div")
    rows = []
    for row in root.iter("tr"):
        cells = [_clean(cell.text_content()) for cell in row if cell.tag in ("td", "th")]
        if any(cells):
            rows.append(cells)
    return rows


def _heading_shaped(text: str) -> bool:
    """Short and not ending like a sentence: the only lines a heuristic title is believed for."""
    if len(text) > _MAX_HEADING_WIDTH or text.endswith(_SENTENCE_END):
        return False
    width = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
    return width <= _MAX_HEADING_WIDTH


def _clean(text: str | None) -> str:
    """Whitespace collapsed, NFC (decomposed Vietnamese from some editors and PDFs matches typed queries)."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())
