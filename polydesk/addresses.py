"""Postal addresses in free text: a house number with a street word, or a postcode with its city.

An address is recognised by its parts, in the forms each market writes them:

- number and street word: "221B Baker Street", "12 rue de la Paix", "123 đường Lê Lợi";
- street word and number: "Hauptstraße 12", "Kerkstraat 4", "Calle Mayor 12", "Rua das Flores, 123",
  "Via Roma 10", "Jl. Sudirman No. 5", "Jalan Ampang 12", "Packstation 123", "شارع الملك فهد 1234";
- Thai house numbers with their lane or road ("99/1 ซอยสุขุมวิท 21", "บ้านเลขที่ 12"), Japanese and
  Chinese block addresses ("渋谷区神南1-2-3", "信義路五段7號", "建国路88号"), Korean road names ("테헤란로 123");
- postcodes: a UK postcode ("SW1A 1AA"), a US state and ZIP ("Denver, CO 80202"), five digits before a
  capitalised city ("10115 Berlin", not "10000 Stück"), "1012 AB Amsterdam", a Brazilian CEP ("01310-100"),
  a Japanese 〒 code, "Singapore 123456", an Arabic P.O. box ("ص.ب 1234").

Parts separated only by a comma or spaces are one address ("Hauptstraße 12, 10115 Berlin"). A number
followed by a unit ("Via DHL 3 days", "Jalan 5 km") is no house number.

Example:
    >>> text = "Bitte an Hauptstraße 12, 10115 Berlin schicken."
    >>> [text[s:e] for s, e in address_spans(text)]
    ['Hauptstraße 12, 10115 Berlin']
"""

from __future__ import annotations

from functools import lru_cache

import regex

from polydesk.courtesy import words

__all__ = ["address_spans"]

_CW = r"\p{Lu}[\p{Ll}\p{M}'’-]+"  # a capitalised word
_PARTICLES = r"(?:de la|de l'|del|de|du|des|das|dos|da|do|di|della|d'|la|le|les|van|von|der)"
_STREET_NAME = rf"(?:{_PARTICLES}[ \t]+)?{_CW}(?:[ \t]+(?:{_PARTICLES}[ \t]+)?{_CW}){{0,3}}"
# A number is no house number when a unit or a count follows it.
_NOT_UNIT = (r"(?![ \t]*(?:%|€|\$|£|¥|x\b|kg|g\b|cm|mm|ml|l\b|km|m\b|h\b|min|hours?|days?|weeks?|tage?n?|wochen|"
             r"jours?|días?|dias?|giorni|hari|minggu|ngày|semanas?|meses|mois|months?|units?|pcs|uds|unidades|"
             r"pieces|stück|vezes|times|€))")
_UNITS_AFTER_POSTCODE = words("""
stück stk euro euros yen punkte einheiten dong rupiah baht won units pieces points mal meter kilometer dollar
dollars pesos reais ringgit riyal dirham teile exemplare artikel kunden bestellungen orders customers items
""")
_AR_WORD = r"[\u0621-\u064a][\u0621-\u064a\u064b-\u0652\u0640]{1,15}"
_US_STATES = sorted(words("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
                         "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"))


@lru_cache(maxsize=1)
def _patterns() -> tuple[regex.Pattern[str], ...]:
    before_number = ("Calle|C/|Avda\\.?|Avenida|Av\\.|Paseo|Plaza|Pza\\.|Carrera|Cra\\.|Calzada|Cerrada|Privada|Ronda|"
                     "Travesía|Rua|R\\.|Travessa|Tv\\.|Alameda|Al\\.|Praça|Estrada|Rodovia|Via|Viale|Piazza|Corso|"
                     "Vicolo|Largo|Camino|Jl\\.|Jln\\.?|Jalan|Lorong|Lrg\\.?|Gang|Gg\\.|Soi|Thanon")
    lower_too = "calle|avenida|paseo|plaza|rua|travessa|avenue|viale|piazza"
    unit = r"(?:,?[ \t]*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Fl|Piso|Apto|Andar|Wohnung|Whg)\.?[ \t]*[\w-]+)?"
    return (
        # 221B Baker Street, 10 Downing St
        regex.compile(rf"(?<![\w.,])\d{{1,5}}[A-Za-z]?(?:[ \t]+{_CW}){{1,4}}[ \t]+(?:Street|St|Road|Rd|Avenue|Ave|"
                      rf"Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Terrace|Close|Crescent|Square|Sq|"
                      rf"Highway|Hwy|Parkway|Pkwy)\b\.?{unit}"),
        # Hauptstraße 12, Berliner Straße 5a, Kerkstraat 4, Packstation 123
        regex.compile(rf"(?<!\w)(?:\p{{Lu}}[\p{{Ll}}ß-]+(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|"
                      rf"ufer|chaussee|pfad|straat|laan|plein|gracht|kade|dijk)|(?:{_CW}[ \t]+)+(?:Straße|Strasse|"
                      rf"Str\.|Weg|Allee|Platz|Gasse)|Packstation)[ \t]+\d{{1,4}}[ \t]?[a-zA-Z]?\b{_NOT_UNIT}{unit}"),
        # 12 rue de la Paix, 5, avenue des Champs-Élysées
        regex.compile(rf"(?<![\w.,])\d{{1,4}}(?:[ \t]?(?:bis|ter|[a-zA-Z]))?,?[ \t]+(?i:rue|avenue|av\.|boulevard|bd|"
                      rf"place|allée|impasse|chemin|quai|route|cours|square)[ \t]+{_STREET_NAME}"),
        # Calle Mayor 12, Rua das Flores, 123, Jl. Sudirman No. 5
        regex.compile(rf"(?<!\w)(?:{before_number}|(?i:{lower_too}))[ \t]+{_STREET_NAME},?[ \t]*"
                      rf"(?:n[º°o]\.?|No\.?|Nr\.?|#)?[ \t]*\d{{1,5}}[A-Za-z]?(?:[-/]\d{{1,4}})?\b{_NOT_UNIT}{unit}"),
        # 123 đường Lê Lợi, số 45 phố Huế, 12 Lê Lợi, Quận 1
        regex.compile(rf"(?<![\w.,])(?i:số[ \t]*)?\d{{1,5}}[A-Za-z]?(?:/\d{{1,4}})*,?[ \t]+(?:(?i:đường|phố|ngõ|hẻm|"
                      rf"ngách)[ \t]+{_CW}(?:[ \t]+{_CW}){{0,3}}|{_CW}(?:[ \t]+{_CW}){{0,3}},[ \t]*(?:Quận|Q\.|Phường|"
                      rf"P\.|Huyện)[ \t]*\w+)"),
        # บ้านเลขที่ 12, 99/1 ซอยสุขุมวิท 21 ถนนสุขุมวิท
        regex.compile(r"(?:บ้านเลขที่[ \t]*\d{1,5}(?:/\d{1,4})?|\d{1,5}/\d{1,4}(?=[ \t]*(?:ซอย|ซ\.|ถนน|ถ\.|หมู่|ม\.)))"
                      r"(?:[ \t]*(?:หมู่(?:ที่)?|ม\.)[ \t]*\d{1,3})?(?:[ \t]*(?:ซอย|ซ\.)[ \t]*[\u0E01-\u0E4E]+"
                      r"(?:[ \t]*\d{1,3})?)?(?:[ \t]*(?:ถนน|ถ\.)[ \t]*[\u0E01-\u0E4E]+)?"),
        # 東京都渋谷区神南1-2-3, 札幌市中央区北1条西2丁目
        regex.compile(r"(?:\p{Han}{2,3}[都道府県])?\p{Han}{1,5}[市区町村郡](?:\p{Han}{1,5}[区町村])?"
                      r"[\p{Han}\p{Katakana}ー\d]{0,10}?\d{1,4}(?:丁目|番地?|号|[-－−]\d{1,4})+"),
        # 北京市朝阳区建国路88号, 台北市信義區信義路五段7號
        regex.compile(r"(?:\p{Han}{2,3}[省市])?(?:\p{Han}{1,4}[市区區县縣])?\p{Han}{1,6}(?:路|街|大道)"
                      r"(?:[一二三四五六七八九十\d]{1,2}段)?(?:\d{1,4}巷)?(?:\d{1,4}弄)?\d{1,5}[号號]"
                      r"(?:\d{1,4}[楼樓室F])?"),
        # 테헤란로 123, 세종대로 110번길 5
        regex.compile(r"\p{Hangul}{1,8}(?:로|길)[ \t]?\d{1,4}(?:번길[ \t]?\d{1,4})?(?!\d*[ \t]?[일개시분월년%원])"),
        # شارع الملك فهد 1234, ص.ب 1234
        regex.compile(rf"(?:شارع|حي)[ \t]+(?:{_AR_WORD}[ \t]+){{0,3}}?{_AR_WORD}[ \t]*(?:[،,][ \t]*)?"
                      rf"(?:(?:مبنى|رقم|بناية)[ \t]*)?\d{{1,5}}|ص\.?[ \t]?ب\.?[ \t]*\d{{2,6}}"
                      rf"|شارع[ \t]+(?:رقم[ \t]*)?\d{{1,4}}"
                      rf"|حي[ \t]+{_AR_WORD}(?:[ \t]+{_AR_WORD})?(?=[ \t]*[،,]?[ \t]*شارع)"),
        # SW1A 1AA; Denver, CO 80202; 1012 AB Amsterdam; 01310-100; 〒150-0041; Singapore 123456
        regex.compile(rf"(?<![\w-])[A-Z]{{1,2}}\d[A-Z\d]?[ \t]*\d[A-Z]{{2}}(?![\w-])|{_CW}(?:[ \t]+{_CW}){{0,2}},[ \t]*"
                      rf"(?:{'|'.join(_US_STATES)})[ \t]+\d{{5}}(?:-\d{{4}})?(?!\d)|(?<![\w.,-])\d{{4}}[ \t]?[A-Z]{{2}}"
                      rf"[ \t]+{_CW}|(?<![\w.,-])\d{{5}}-\d{{3}}(?![\w-])|〒[ \t]?\d{{3}}-\d{{4}}|(?i:singapore)[ \t]+"
                      rf"\d{{6}}(?!\d)"),
    )


_POSTCODE_CITY = regex.compile(rf"(?<![\w.,€$£-])\d{{5}}[ \t]+({_CW}(?:[ \t-]{_CW}){{0,2}})")
_JOIN = regex.compile(r"[ \t]*[,،]?[ \t]*")
# Chinese words that run into an address written without spaces ("请寄到北京市…", "我住台北市…"): no part of it.
_CJK_LEAD = frozenset("请請寄送到往至在是为為的我住于於给給地址收件人")


def address_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every postal address in ``text``, sorted; touching parts are joined into one."""
    if not regex.search(r"\d", text):
        return []
    spans = [_trimmed(text, *match.span()) for pattern in _patterns() for match in pattern.finditer(text)]
    for match in _POSTCODE_CITY.finditer(text):
        if match.group(1).split()[0].casefold() not in _UNITS_AFTER_POSTCODE:
            spans.append(match.span())
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and (start <= merged[-1][1] or _JOIN.fullmatch(text, merged[-1][1], start)):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while end - start > 4 and text[start] in _CJK_LEAD:
        start += 1
    return start, end
