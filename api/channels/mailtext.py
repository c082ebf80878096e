"""The customer's own words in an e-mail: body text decoded, HTML made text, quoted history and signatures cut.

* ``decode_text(payload, charset)``: the bytes of a text part in its declared charset, read by the superset
  that mail programs actually write under that label (GB2312 → GB18030, Big5 → Big5-HKSCS, Shift_JIS →
  cp932, TIS-620 → cp874, ISO-8859-1 → cp1252, ...); an unknown label is read as UTF-8; a stray byte never
  fails a message (it becomes U+FFFD).
* ``html_to_text(html)``: what a reader sees, one line per block; the quoted history of the mail programs that
  mark it (Gmail's ``gmail_quote``, Apple Mail's and Thunderbird's ``<blockquote type="cite">``, Outlook's
  ``divRplyFwdMsg`` / ``appendonsend``, Yahoo's ``yahoo_quoted``) and Gmail's signature left out.
* ``strip_reply(text)``: the text without quoted history and signature. History starts at an attribution line
  ("On … wrote:" and its forms in en, de, fr, es, pt, it, nl, ja, zh, ko, id, vi, th, ar; a line the mail
  program wrapped in two or three is read joined), at an Outlook separator ("-----Original Message-----" in
  any language) or an Outlook header block ("From: …" followed by "Sent:", "Date:", "To:" or "Subject:"
  lines, in any of those languages); lines starting with ">" are quotes. An attribution followed by ">" lines
  drops only them (a reply written below a quote keeps its text); any other start of history cuts the rest.
  The signature starts at the "-- " delimiter; "Sent from my iPhone" and its forms in other languages (a short
  line naming both a sending and a device or mail app) are dropped. Closings ("Best regards", "Mit
  freundlichen Grüßen") are the customer's words and stay.

Example:
    >>> strip_reply("Wo ist mein Paket?\\n\\nAm 01.12.2026 um 10:00 schrieb Tidewell <a@tidewell.example>:\\n> Hallo")
    'Wo ist mein Paket?'
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "euc-cn": "gb18030", "big5": "big5hkscs",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "windows-31j": "cp932",
    "tis-620": "cp874", "iso-8859-11": "cp874", "windows-874": "cp874", "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949", "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "utf-8", "ascii": "utf-8",
}  # fmt: skip


def decode_text(payload: bytes, charset: str | None) -> str:
    """``payload`` in ``charset`` (its common superset; UTF-8 when unknown or missing), never raising."""
    label = (charset or "utf-8").strip().strip('"').lower()
    try:
        return payload.decode(_SUPERSETS.get(label, label), errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


# -- HTML -------------------------------------------------------------------------------------------------------

_BLOCKS = frozenset({"p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
                     "blockquote", "hr", "pre", "section", "article", "header", "footer", "dd", "dt"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"})
_HIDDEN = frozenset({"script", "style", "head", "title", "template"})
_QUOTE_CLASSES = frozenset({"gmail_quote", "yahoo_quoted", "moz-cite-prefix", "gmail_signature"})
_HISTORY_IDS = frozenset({"divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: tuple[str, int] | None = None  # the tag whose subtree is left out, and its nesting
        self.ended = False  # the rest is quoted history

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.ended:
            return
        if self.skipping is not None:
            if tag == self.skipping[0] and tag not in _VOID:
                self.skipping = (tag, self.skipping[1] + 1)
            return
        found = {name: (value or "").lower() for name, value in attrs}
        if found.get("id", "") in _HISTORY_IDS:
            self.ended = True
            return
        cite = tag == "blockquote" and found.get("type") == "cite"
        if (cite or tag in _HIDDEN or _QUOTE_CLASSES & set(found.get("class", "").split())) and tag not in _VOID:
            self.skipping = (tag, 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping is not None:
            if tag == self.skipping[0]:
                depth = self.skipping[1] - 1
                self.skipping = (tag, depth) if depth else None
            return
        if tag in _BLOCKS and not self.ended:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skipping is None and not self.ended:
            self.parts.append(re.sub(r"[ \t\r\n\f]+", " ", data))


def html_to_text(html: str) -> str:
    """The text of an HTML mail body (see the module), one line per block."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (line.strip(" \u00a0") for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# -- quoted history and signatures ------------------------------------------------------------------------------

_WROTE = re.compile(
    r"(?:\bwrote|\bschrieb|\ba écrit|\bescribió|\bescreveu|\bha scritto|\bschreef|\bmenulis|\bđã viết"
    r"|เขียน(?:ว่า)?|كتب|写道|寫道|書きました|のメール|님이 작성|^(?:am|op)\s.*\b(?:schrieb|schreef)\b.*)\s*[:：]\s*$",
    re.IGNORECASE,
)
_GMAIL_JA = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日.*[>＞]\s*[:：]\s*$")  # "2026年12月1日(月) 10:00 名前 <a@b>:"
_SEPARATOR = re.compile(
    r"^-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|mensagem original"
    r"|messaggio originale|oorspronkelijk bericht|pesan asli|thư gốc|ข้อความต้นฉบับ|الرسالة الأصلية|元のメッセージ"
    r"|原始邮件|原始郵件|원본 메시지|forwarded message|weitergeleitete nachricht|message transféré"
    r"|mensaje reenviado|mensagem encaminhada)\s*-{2,}\s*$|^(?:begin forwarded message|anfang der weitergeleiteten"
    r" nachricht|début du message réexpédié)\s*:",
    re.IGNORECASE,
)
_FROM = (r"from|von|de|da|van|dari|từ|จาก|من|差出人|送信者|发件人|寄件者|보낸 사람")
_HEADER = (r"sent|date|to|subject|cc|gesendet|an|betreff|datum|envoyé|à|objet|enviado|enviada em|para|asunto"
           r"|fecha|assunto|data|inviato|oggetto|verzonden|aan|onderwerp|dikirim|kepada|subjek|perihal|tanggal"
           r"|đã gửi|ngày|đến|chủ đề|ส่ง|วันที่|ถึง|เรื่อง|التاريخ|تاريخ الإرسال|إلى|الموضوع|送信日時|日付|宛先|件名"
           r"|发送时间|日期|收件人|主题|寄件日期|收件者|主旨|보낸 날짜|받는 사람|제목")
_FROM_LINE = re.compile(rf"^[*_]*(?:{_FROM})\s*[:：][*_]*\s*\S", re.IGNORECASE)
_HEADER_LINE = re.compile(rf"^[*_]*(?:{_HEADER})\s*[:：]", re.IGNORECASE)
_SENT = re.compile(  # how a mail app's line begins (or, in ja/zh/ko, ends): "Sent from", "iPhoneから送信"
    r"^(?:sent (?:from|with|via|using)|get outlook for|von meine[mr]|gesendet (?:von|mit|über|vom)"
    r"|envoyé (?:de|depuis|avec)|enviad[oa] (?:desde|con|de|do|da|pelo|pela|via)|inviato da|verzonden (?:met|vanaf)"
    r"|dikirim (?:dari|dengan|melalui)|được gửi từ|gửi từ|ส่งจาก|أرسلت? من|مرسل من|تم الإرسال من"
    r"|发自|發自|寄自|来自|從我的|从我的)|(?:から送信|より送信|发送|發送|傳送|에서 보냄)$",
    re.IGNORECASE,
)
_DEVICE = re.compile(r"iphone|ipad|android|samsung|galaxy|huawei|xiaomi|blackberry|outlook|mail|yahoo|mobile"
                     r"|handy|smartphone|móvil|celular|telefone|ponsel|điện thoại|โทรศัพท์|جوال|هاتف|携帯|手机|手機",
                     re.IGNORECASE)
_MAX_DEVICE_LINE = 80


def strip_reply(text: str) -> str:
    """``text`` without quoted history and signature (see the module); ``""`` when nothing else is left."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if lines[index].rstrip() == "--":  # the signature delimiter ("-- "; some programs drop the space)
            break
        if _SEPARATOR.search(line) or _outlook_header(lines, index):
            break
        if attribution := _attribution(lines, index):
            following = next((other.strip() for other in lines[index + attribution:] if other.strip()), "")
            if not following.startswith(">"):
                break  # the history follows unmarked (a mail program that does not quote with ">")
            index += attribution
            continue
        if not line.startswith(">") and not _device_line(line):
            kept.append(lines[index].rstrip())
        index += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _attribution(lines: list[str], index: int) -> int:
    """How many lines (1-3) form the attribution line starting at ``index``; 0 when none does."""
    for count in range(1, min(3, len(lines) - index) + 1):
        if not lines[index + count - 1].strip():
            return 0
        joined = " ".join(line.strip() for line in lines[index:index + count])
        if len(joined) > 300:
            return 0
        if (_WROTE.search(joined) or _GMAIL_JA.search(joined)) and re.search(r"\d|@", joined):
            return count
    return 0


def _outlook_header(lines: list[str], index: int) -> bool:
    """A "From: …" line followed, within four lines, by another header line (Outlook's quoted mail)."""
    if not _FROM_LINE.search(lines[index].strip()):
        return False
    return any(_HEADER_LINE.search(line.strip()) for line in lines[index + 1:index + 5])


def _device_line(line: str) -> bool:
    """"Sent from my iPhone", "iPhoneから送信", "Enviado desde mi móvil": a short line of a sending and a device."""
    return 0 < len(line) <= _MAX_DEVICE_LINE and bool(_SENT.search(line)) and bool(_DEVICE.search(line))
