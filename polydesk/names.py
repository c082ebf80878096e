"""Personal names in free text, in any script, found from where people put them.

No named-entity model runs offline, so a name is recognised by its place:

- **known names** (``known=``): the speakers' names a transcript gives, and names found elsewhere in the
  same conversation, wherever they occur: whole words in spaced scripts (never inside an e-mail address or
  a link), substrings in Thai, Chinese and Japanese; a Latin name under four letters only capitalised
  ("Tan" the name, not "tan" the colour); accents do not matter ("Lucia" finds "Lucía");
- **a form of address** and a capitalised name: "Frau Müller", "Mr Lee", "Sra. Martín", "Pak Budi",
  "Kak Dewi", "Puan Nurul Aisyah", and in Vietnamese text "chị Lan", "anh Minh";
- **a greeting, thanks or sign-off** and one to three capitalised words before a pause: "Hi Jenna,",
  "¡A ti, Lucía!", "Obrigado, João", "Bonjour Sophie !", "Dear Wei Ling,", "Best, Sam";
- **an honorific suffix**: "田中様", "佐藤さん", "陳小姐", "王先生", "김민수님"; Thai "คุณสมชาย"
  (not "ขอบคุณ", "คุณภาพ" or "คุณสามารถ…"); Arabic "يا أحمد", "أهلًا عبدالله،", "السيد أحمد";
- **a signature**: a message's last line of one to three capitalised words, or a short Han, Thai, Hangul
  or Arabic line, after a sign-off line or in a letter ("Thanks,\\nJenna", "Viele Grüße\\nLena Hoffmann",
  "ขอบคุณค่ะ\\nนภัสสร", "…\\n\\n田中").

Words that follow greetings without being names ("Hi there", "Hallo Team", "Liebe Grüße", "Dear
Customer") are stop words; a team's signature ("Tidewell Customer Care", "ฝ่ายบริการลูกค้า") has team
words. Precision and recall are measured on ``tests/polydesk/data/names.jsonl``.

Example:
    >>> [text[s:e] for text in ["¡A ti, Lucía! Cualquier cosa, aquí estamos."] for s, e in name_spans(text)]
    ['Lucía']
    >>> find_names("Hallo Jonas,\\n\\ndie Rücksendung ist kostenlos.\\n\\nViele Grüße\\nJonas Weber")
    ['Jonas', 'Jonas Weber']
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache

import regex

from polydesk.courtesy import COURTESY, courtesy, words

__all__ = ["find_names", "name_spans"]

_TOKEN = r"(?:\p{Lu}['’])?\p{Lu}[\p{Ll}\p{M}]+(?:\p{Lu}[\p{Ll}\p{M}]+)?(?:[-'’]\p{Lu}?[\p{Ll}\p{M}]+)*"
_NAME = rf"{_TOKEN}(?:[ \t]{_TOKEN}){{0,2}}"
_NAME_LINE = regex.compile(rf"{_NAME}")
_PAUSE = r"(?=[ \t]*(?:[,!.:;?…،，！。]|$))"
_NOT_AFTER_WORD = r"(?<![\p{L}\p{N}'’.@/])"

# Forms of address before a name. Case-sensitive ones read as common words in lower case ("miss").
_TITLES_EXACT = ("Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Fr", "Hr", "M", "Mme", "Mlle", "Sr", "Sra", "Srta",
                 "Sig", "Sig.ra", "Dott", "Dhr", "Mevr", "Sdr", "Sdri")
_TITLES = ("frau", "herr", "herrn", "monsieur", "madame", "mademoiselle", "señor", "señora", "señorita", "doña",
           "senhor", "senhora", "dona", "signor", "signora", "signorina", "meneer", "mevrouw", "kak", "kakak", "pak",
           "bapak", "bu", "ibu", "mbak", "puan", "encik", "tuan", "cik", "datuk", "haji", "hajah")
_VIETNAMESE_TITLES = ("anh", "chị", "em", "cô", "chú", "bác", "ông", "bà", "bạn")
_VIETNAMESE = regex.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", regex.IGNORECASE)

# Capitalised words after a greeting that are no name; words that sign for a team, not a person.
_STOP = words("""
there all everyone everybody guys folks again so very much sir madam customer customers friend friends mate
world you both and the team support service care ihnen sie dir euch dich du zusammen leute allerseits grüße
gruß grüßen schön sehr noch nochmal vous toi tous tout le la les équipe client clients usted ustedes todos
equipo cliente amigo amiga você vocês todos equipe gente pessoal tutti anda kamu semua tim admin min shop
bạn quý khách mọi người your ihr ihre dein deine euer votre ton su seu sua tu looking interested happy sorry
glad trying having writing asking wondering not still just
""")
_TEAM = words("""
customer care service services support team help desk helpdesk kundenservice kundendienst client clientèle
atención cliente clientes atendimento equipe equipo servicio tim layanan pelanggan khidmat pasukan chăm sóc
khách hàng bộ phận
""")
_TEAM_SCRIPTS = ("ฝ่าย", "บริการ", "ลูกค้า", "ทีม", "เจ้าหน้าที่", "บริษัท", "فريق", "خدمة", "العملاء", "شركة", "قسم",
                 "الدعم", "客服", "客服中心", "团队", "團隊", "カスタマー", "サポート", "고객센터")

# Honorific suffixes: Japanese, Chinese, Korean; what stands before them that is no name.
_JA_SUFFIX = regex.compile(r"(\p{Han}+|\p{Katakana}{2,})(?:様|さま|さん|殿)")
_JA_NOT_NAMES = ("客", "皆", "担当者", "担当", "会員", "貴社", "御社", "神", "各位", "先方", "奥")
_ZH_SUFFIX = regex.compile(r"(\p{Han}{1,4})(?:小姐|先生|女士|太太|老師|老师)")
_ZH_NOT_NAMES = ("医", "醫", "各位", "这位", "這位", "那位")
_KO_SUFFIX = regex.compile(r"(\p{Hangul}{2,4})[ \t]?(?:님|씨)")
_KO_NOT_NAMES = words("고객 회원 손님 여러분 선생 담당자 사장 기사 관리자 상담사 매니저 팀장")
# Thai: คุณ (not the end of ขอบคุณ, ขอบพระคุณ) and a name that ends at a particle, a space or a stop.
_TH_NAME = regex.compile(r"(?<!ขอบ|พระ)คุณ[ \t]?([\u0E01-\u0E2E][\u0E01-\u0E4E]{1,19}?)"
                         r"(?=ครับ|ค่ะ|คะ|ค่า|นะ|จ้า|มาก|ด้วย|เลย|หน่อย|จะ|ได้|ไม่|ก็|ที่|และ|\s|[,.!?]|$)", regex.MULTILINE)
_TH_NOT_NAMES = ("ภาพ", "สมบัติ", "ค่า", "ประโยชน์", "แม่", "พ่อ", "ลักษณะ", "ธรรม", "ความ", "สามารถ", "ได้", "จะ",
                 "ต้อง", "ควร", "เป็น", "มี", "ไม่", "ยัง", "ก็", "อยาก", "ช่วย", "ลูกค้า", "ครู", "ท่าน", "เอง", "ทำ",
                 "ใช้", "สั่ง", "ส่ง", "รับ", "คือ", "อาจ", "เคย", "กำลัง", "แค่", "และ", "หรือ", "ที่", "ว่า", "ให้",
                 "ไป", "มา", "อยู่", "ชอบ", "รู้", "เห็น", "ลอง", "ตรวจ", "กรุณา", "โปรด", "สนใจ", "เลือก", "ซื้อ",
                 "จ่าย", "ชำระ", "คง", "น่า", "ทราบ", "แจ้ง")
# Arabic: a vocative, greeting or title, then the name (one word; two after a title) before a pause.
_AR_MARKS = "\u064b-\u0652\u0640"
_AR_WORD = rf"[\u0621-\u064a][\u0621-\u064a{_AR_MARKS}]{{1,15}}"
_AR_NOT_NAMES = words("""
بك بكم وسهلا لك لكم جزيلا على جماعة جماعه شباب رب الله ليت ريت هلا حبيبي صديقي عزيزي أخي اخي أختي العميل
عميلنا العملاء الكريم الغالي فيك فيكم الجميع سيدي سيدتي أستاذ استاذ لتواصلك وسهلا ومرحبا بالجميع
""")

# Chinese thanks and a given name before a pause ("谢谢小明！"); what follows thanks that is no name.
_ZH_THANKS = regex.compile(r"(?:谢谢|謝謝|感谢|感謝|多谢|多謝)(\p{Han}{2,3})(?=[！!，,。.~～\s]|$)", regex.MULTILINE)
_ZH_NOT_THANKED = tuple(words("你们 你們 大家 老板 老闆 客服 各位 帮忙 幫忙 支持 回复 回覆 提醒 "
                              "亲 親 解答 分享 关注 關注"))
# A self-introduction and a capitalised name: "This is Karen Smith", "Je m'appelle Claire", "soy María José".
_INTRODUCTIONS = ("this is", "my name is", "my name's", "i'm", "i am", "hier ist", "mein name ist", "je m'appelle",
                  "me llamo", "mi nombre es", "soy", "meu nome é", "me chamo", "aqui é", "mi chiamo", "sono",
                  "nama saya", "tên mình là", "tên tôi là", "mình là", "tôi là")
# A relative or colleague named: "my wife Emma", "mi esposo Carlos", "minha filha Ana".
_RELATIVES = ("my", "mein", "meine", "meinem", "mon", "ma", "mi", "meu", "minha", "mio", "mia")
_RELATIONS = ("wife", "husband", "son", "daughter", "mother", "father", "mom", "mum", "dad", "partner", "friend",
              "colleague", "sister", "brother", "boss", "mann", "tochter", "sohn", "mutter", "vater", "freundin",
              "freund", "kollegin", "kollege", "mari", "femme", "fils", "fille", "mère", "père", "esposo", "esposa",
              "marido", "mujer", "hijo", "hija", "madre", "padre", "filho", "filha", "mãe", "pai", "moglie",
              "figlio", "figlia")

_SCRIPT_LINE = regex.compile(r"(?:\p{Han}{1,4}(?:様|さん|小姐|先生|女士|太太)?|[\u0E01-\u0E4E]{2,20}|\p{Hangul}{2,4}"
                             rf"|{_AR_WORD}(?:[ \t]{_AR_WORD}){{0,2}})")
_HONORIFIC_TAIL = regex.compile(r"(?:様|さん|小姐|先生|女士|太太)$")
_LINE_PUNCTUATION = " \t,.;:!-–—،。、！"


def _arabic(word: str) -> str:
    return "".join(regex.escape(char) + f"[{_AR_MARKS}]*" for char in word)


@lru_cache(maxsize=1)
def _patterns() -> tuple[regex.Pattern[str], ...]:
    greetings = sorted({term for kind in ("thanks", "hello", "bye") for language, terms in COURTESY[kind].items()
                        for term in terms if language.split("*")[0] not in ("th", "ja", "zh", "ko", "ar")},
                       key=len, reverse=True)
    exact = "|".join(regex.escape(t) for t in _TITLES_EXACT)
    loose = "|".join(regex.escape(t) for t in _TITLES)
    vietnamese = "|".join(_VIETNAMESE_TITLES)
    ar_greetings = ("يا", "أهلا", "اهلا", "مرحبا", "عزيزي", "عزيزتي", "شكرا", "العفو")
    ar_titles = ("السيد", "السيدة", "الأستاذ", "الأستاذة", "أستاذ", "أستاذة", "الأخ", "الأخت", "الدكتور", "الدكتورة")
    return (
        regex.compile(rf"{_NOT_AFTER_WORD}(?:(?:{exact})\.?|(?i:{loose}))(?:[ \t]+(?:{exact})\.?)*[ \t]+({_NAME})"),
        regex.compile(rf"{_NOT_AFTER_WORD}(?i:{'|'.join(regex.escape(t) for t in greetings)})"
                      rf"(?:[ \t]*[,，][ \t]*|[ \t]+)({_NAME}){_PAUSE}", regex.MULTILINE),
        regex.compile(rf"{_NOT_AFTER_WORD}(?i:{vietnamese})[ \t]+({_NAME})"),
        regex.compile(rf"(?<![\u0621-\u064a])(?:{'|'.join(_arabic(w) for w in ar_greetings)})[ \t]+({_AR_WORD})"
                      rf"(?=[ \t]*(?:[,،.!؟:]|$))", regex.MULTILINE),
        regex.compile(rf"(?<![\u0621-\u064a])(?:{'|'.join(_arabic(w) for w in ar_titles)})[ \t]+({_AR_WORD}"
                      rf"(?:[ \t]{_AR_WORD})?)"),
        regex.compile(rf"{_NOT_AFTER_WORD}(?i:{'|'.join(regex.escape(t) for t in _INTRODUCTIONS)})[ \t]+({_NAME})"
                      rf"|{_NOT_AFTER_WORD}(?i:{'|'.join(_RELATIVES)})[ \t]+(?i:{'|'.join(_RELATIONS)})"
                      rf"[ \t,]+({_NAME})"),
    )


def name_spans(text: str, *, known: Iterable[str] = ()) -> list[tuple[int, int]]:
    """(start, end) of every personal name in ``text``, sorted and not overlapping."""
    spans = [*_pattern_spans(text), *_known_spans(text, known)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def find_names(text: str) -> list[str]:
    """The names ``text`` gives by their place (greetings, forms of address, honorifics, signatures), in order."""
    return list(dict.fromkeys(text[start:end] for start, end in sorted(_pattern_spans(text))))


def _pattern_spans(text: str) -> Iterator[tuple[int, int]]:
    titles, greetings, vietnamese, ar_vocatives, ar_titles, introductions = _patterns()
    for pattern in (titles, greetings, introductions):
        for match in pattern.finditer(text):
            group = 1 if match.group(1) is not None else 2
            yield from _latin_name(match.group(group), match.start(group))
    if _VIETNAMESE.search(text):
        for match in vietnamese.finditer(text):
            yield from _latin_name(match.group(1), match.start(1))
    yield from _suffix_spans(text)
    for match in _ZH_THANKS.finditer(text):
        if not match.group(1).startswith(_ZH_NOT_THANKED) and not courtesy(match.group(1)).bare:
            yield match.span(1)
    for match in _TH_NAME.finditer(text):
        if not match.group(1).startswith(_TH_NOT_NAMES):
            yield match.span(1)
    for pattern in (ar_vocatives, ar_titles):
        for match in pattern.finditer(text):
            if _fold_arabic(match.group(1).split()[0]) not in _AR_FOLDED_STOP:
                yield match.span(1)
    yield from _signature(text)


def _latin_name(name: str, offset: int) -> Iterator[tuple[int, int]]:
    """The name in ``name`` without leading forms of address, cut before a stop word; none with a team word."""
    tokens = [(m.start(), m.end()) for m in regex.finditer(r"\S+", name)]
    words = [name[s:e].casefold().rstrip(".") for s, e in tokens]
    if any(part in _TEAM for word in words for part in regex.split(r"[-'’]", word)):
        return
    first = 0
    while first < len(words) and (words[first] in _TITLES or name[tokens[first][0]:tokens[first][1]].rstrip(".")
                                  in _TITLES_EXACT):
        first += 1
    last = first
    while last < len(words) and words[last] not in _STOP:
        last += 1
    if last > first:
        yield offset + tokens[first][0], offset + tokens[last - 1][1]


def _suffix_spans(text: str) -> Iterator[tuple[int, int]]:
    for match in _JA_SUFFIX.finditer(text):
        start, end = match.span(1)
        if end - start > 4:
            start = end - 2  # a long Han run holds more than a name: a family name is one to three
        if (start and text[start - 1] in "おご") or text[start:end].endswith(_JA_NOT_NAMES):
            continue
        yield start, end
    for match in _ZH_SUFFIX.finditer(text):
        start, end = match.span(1)
        if end - start > 3 or (start and regex.match(r"\p{Han}", text[start - 1])):
            start = end - 1  # after other Han characters only the family name is surely the name
        if not text[start:end].endswith(_ZH_NOT_NAMES):
            yield start, end
    for match in _KO_SUFFIX.finditer(text):
        if match.group(1) not in _KO_NOT_NAMES:
            yield match.span(1)


def _signature(text: str) -> Iterator[tuple[int, int]]:
    """A name signing the message: its last line, after a sign-off line or in a letter of three lines or more."""
    lines = [(m.start(), m.end()) for m in regex.finditer(r"[^\n]+", text) if m.group().strip()]
    if len(lines) < 2:
        return
    start, end = lines[-1]
    line = text[start:end]
    stripped = line.strip(_LINE_PUNCTUATION)
    if not stripped or courtesy(stripped).only or any(word in stripped for word in _TEAM_SCRIPTS):
        return
    start += line.index(stripped)
    closed = courtesy(text[lines[-2][0]:lines[-2][1]]).only  # "Thanks,", "Viele Grüße", "ขอบคุณค่ะ"
    letter = len(lines) >= 3 or "\n\n" in text[lines[-2][1]:lines[-1][0]].replace(" ", "")  # set apart
    if _NAME_LINE.fullmatch(stripped) and (closed or letter):
        yield from _latin_name(stripped, start)
    elif _SCRIPT_LINE.fullmatch(stripped):
        # Han and Hangul signatures stand alone at a letter's end; a short Thai or Arabic line may be a sentence.
        spaced_or_thai = bool(regex.match(r"[\u0621-\u064a\u0E01-\u0E4E]", stripped))
        if not (closed or (letter and not spaced_or_thai)):
            return
        if spaced_or_thai and _fold_arabic(stripped.split()[0]) in _AR_FOLDED_STOP:
            return
        tail = _HONORIFIC_TAIL.search(stripped)
        yield start, start + (tail.start() if tail else len(stripped))


def _known_spans(text: str, names: Iterable[str]) -> Iterator[tuple[int, int]]:
    """Every occurrence of the known names and of their parts (see the module docstring)."""
    parts: set[str] = set()
    for name in names:
        name = _HONORIFIC_TAIL.sub("", name.strip())
        for part in (name, *name.split()):
            word = part.strip(_LINE_PUNCTUATION)
            if len(word) >= 2 and word.casefold() not in _STOP and word.casefold() not in _TITLES:
                parts.add(word)
    if not parts:
        return
    lowered, folded = _fold(text, accents=False), _fold(text, accents=True)
    for part in sorted(parts, key=len, reverse=True):
        unspaced = bool(regex.search(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}]", part))
        short = not unspaced and len(part) < 4
        # Accents are ignored only for a name written with them ("Lucía" finds "Lucia"); "Minh" must not find "mình".
        accented = not part.isascii() and not unspaced
        pattern = regex.escape(part if short else _fold(part, accents=accented))
        haystack = text if short else folded if accented else lowered
        bounds = ("", "") if unspaced else (r"(?<![\p{L}\p{N}@/.'’_-])", r"(?![\p{L}\p{N}@_-]|\.[\p{L}\p{N}])")
        for match in regex.finditer(bounds[0] + pattern + bounds[1], haystack):
            yield match.span()


def _fold(text: str, *, accents: bool) -> str:
    """Case (and ``accents``) folded, one character for one, so offsets carry over to the original text."""
    if accents:
        return "".join(unicodedata.normalize("NFD", char)[0].casefold()[:1] or char for char in text)
    return "".join(char.casefold()[:1] or char for char in text)


def _fold_arabic(word: str) -> str:
    return regex.sub(f"[{_AR_MARKS}]", "", word).translate(str.maketrans("أإآ", "ااا"))


_AR_FOLDED_STOP = frozenset(_fold_arabic(word) for word in _AR_NOT_NAMES)
