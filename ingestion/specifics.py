"""What makes a past answer one customer's, so it is not reused for another.

An agent's answer in a transcript is general knowledge ("Returns are free within 30 days") unless it
speaks of that customer's case. ``specifics(answer, question=...)`` lists what ties it to the case:

- ``order number``: an order or tracking code (a code with six digits or more: "TW-ORD-2026-004512",
  "1Z999AA10123456784", "#2026004512"); product codes ("TW-4417") are not;
- ``date``: a calendar date ("15.04.2026", "3 March", "15 de marzo", "3月15日", "15 มีนาคม");
- ``day``: today, tomorrow, yesterday in any language ("heute", "mañana", "hôm nay", "本日", "اليوم"), or a
  single weekday ("shipped on Monday", "booked for Thursday"); a range or list of weekdays is opening hours
  ("Monday to Friday", "lunes a viernes", "الأحد إلى الخميس") and general;
- ``order situation``: what happened to this order ("out for delivery", "on its way", "has shipped",
  "I've found your order", "ist unterwegs", "已发货", "ส่งออกจากคลังแล้ว", "تم شحن");
- ``amount``: a sum of money the customer gave and the answer repeats ("your cart of $4,500 qualifies");
- ``contact details``: the customer's own e-mail address or phone number repeated in the answer (a brand's
  own address, which customers do not write, stays general);
- ``name`` and ``address``: a ``[NAME]`` or ``[ADDRESS]`` placeholder left in the redacted answer.

Example:
    >>> specifics("It's already out for delivery in your area today, so you're all set.")
    ['day', 'order situation']
    >>> specifics("Returns are free within 30 days. We're open Monday to Friday, 9 am-6 pm.")
    []
"""

from __future__ import annotations

from functools import lru_cache

import regex

from polydesk.courtesy import words
from polydesk.redaction import Redactor
from polydesk.terms import TermSet

__all__ = ["specifics"]

_CODE = regex.compile(r"(?<![\w-])(?:#\d{6,}|(?=[\w-]*\d)(?=[\w-]*[A-Za-z#-])[A-Z0-9][A-Z0-9-]{5,}(?![\w-]))")
_NUMERIC_DATE = regex.compile(r"(?<![\d.,/])(?:\d{1,2}[./]\d{1,2}[./](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2})(?![\d.,/])")
_CJK_DATE = regex.compile(r"\d{1,2}\s?月\s?\d{1,2}\s?日|\d{1,2}월\s?\d{1,2}일"
                          r"|ngày\s+\d{1,2}(?:/\d{1,2}|\s+tháng\s+\d{1,2})")
_MONEY = regex.compile(r"(?:R\$|S\$|NT\$|RM|Rp|AED|SAR|MXN|USD|EUR|[$€£¥₫฿])\s?(\d[\d.,]*)"
                       r"|(\d[\d.,]*)\s?(?:€|₫|円|元|บาท|ريال|درهم|euros?|dollars?|reais|pesos)")

_MONTHS = sorted(words(
    "january february march april may june july august september october november december "
    "januar februar märz mai juni juli oktober dezember janvier février mars avril juin juillet août septembre "
    "octobre novembre décembre enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
    "diciembre janeiro fevereiro março maio junho julho setembro outubro novembro dezembro gennaio febbraio "
    "aprile maggio giugno luglio settembre ottobre dicembre januari februari maret mei agustus desember "
    "mac jun julai ogos disember"
))
_THAI_MONTHS = sorted(words("มกราคม กุมภาพันธ์ มีนาคม เมษายน พฤษภาคม มิถุนายน กรกฎาคม สิงหาคม กันยายน ตุลาคม "
                            "พฤศจิกายน ธันวาคม"))
_AR_MONTHS = sorted(words("يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر"))
_WEEKDAYS = {
    "en": "monday tuesday wednesday thursday friday saturday sunday",
    "de": "montag dienstag mittwoch donnerstag freitag samstag sonntag",
    "fr": "lundi mardi mercredi jeudi vendredi samedi dimanche",
    "es": "lunes martes miércoles jueves viernes sábado domingo",
    "pt": "segunda-feira terça-feira quarta-feira quinta-feira sexta-feira sábado domingo",
    "it": "lunedì martedì mercoledì giovedì venerdì sabato domenica",
    "id": "senin selasa rabu kamis jumat sabtu minggu",
    "ms": "isnin selasa rabu khamis jumaat sabtu ahad",
    "vi": "thứ hai;thứ ba;thứ tư;thứ năm;thứ sáu;thứ bảy;chủ nhật",
    "th": "วันจันทร์ วันอังคาร วันพุธ วันพฤหัสบดี วันศุกร์ วันเสาร์ วันอาทิตย์",
    "ja": "月曜日 火曜日 水曜日 木曜日 金曜日 土曜日 日曜日 月曜 火曜 水曜 木曜 金曜 土曜 日曜",
    "zh": "星期一 星期二 星期三 星期四 星期五 星期六 星期日 週一 週二 週三 週四 週五 週六 週日 "
          "周一 周二 周三 周四 周五 周六 周日",
    "ko": "월요일 화요일 수요일 목요일 금요일 토요일 일요일",
    "ar": "الاثنين الثلاثاء الأربعاء الخميس الجمعة السبت الأحد",
}
# Short forms: they only make a weekday next to them part of a range ("Mo–Fr", "วันจันทร์–เสาร์").
_SHORT_WEEKDAYS = words("mon tue wed thu fri sat sun mo di mi do fr sa so lun mar mié jue vie sáb dom seg ter qua qui "
                        "sex sen sel rab kam jum sab min จันทร์ อังคาร พุธ พฤหัส พฤหัสบดี ศุกร์ เสาร์ อาทิตย์")
# Per language: "hier" is yesterday in French and here in German, so a text is read in its own language's words.
_RELATIVE_DAYS = {
    "en": ("today", "tomorrow", "yesterday", "tonight", "this morning", "this afternoon", "last night"),
    "de": ("heute", "morgen", "gestern", "übermorgen", "vorgestern"),
    "fr": ("aujourd'hui", "demain", "hier", "ce matin", "ce soir", "avant-hier"),
    "es": ("hoy", "mañana", "ayer", "anoche", "esta tarde", "esta noche", "anteayer"),
    "pt": ("hoje", "amanhã", "ontem", "anteontem"),
    "it": ("oggi", "domani", "ieri", "stamattina", "stasera"),
    "nl": ("vandaag", "morgen", "gisteren"),
    "id": ("hari ini", "besok", "kemarin", "lusa"),
    "ms": ("hari ini", "esok", "semalam", "kelmarin"),
    "vi": ("hôm nay", "ngày mai", "hôm qua", "sáng nay", "chiều nay"),
    "th": ("วันนี้", "พรุ่งนี้", "เมื่อวาน", "เมื่อเช้า"),
    "ja": ("今日", "本日", "明日", "昨日", "今朝", "今夜"),
    "zh": ("今天", "明天", "昨天", "今早", "今晚", "今日", "明日"),
    "ko": ("오늘", "내일", "어제"),
    "ar": ("اليوم", "غدا", "أمس", "البارحة", "الليلة"),
}
# Phrases where a day word is no day: "tomorrow" in Spanish is also "morning"; "the same day", "the next day".
_NOT_DAYS = regex.compile(r"(?i)(?:de|por|en)\s+la\s+mañana|\bmorgens\b|نفس\s+اليوم|اليوم\s+التالي|\bGuten Morgen\b")
_SITUATIONS = {
    "en": ("out for delivery", "on its way", "on the way", "has shipped", "has been shipped", "was shipped",
           "shipped on", "was dispatched", "has been dispatched", "has arrived", "arrived this", "we've received",
           "we have received", "we received your", "i've found your", "i found your", "i've started", "i have started",
           "is booked", "has been booked", "i've checked", "i checked", "according to the tracking",
           "got them", "is ready to collect", "your refund has", "we've refunded", "we have refunded",
           "goodwill gesture", "as a one-off"),
    "de": ("ist unterwegs", "wurde versandt", "wurde verschickt", "ist angekommen", "haben erhalten", "ist eingegangen",
           "in zustellung", "laut sendungsverfolgung", "ist bei uns eingegangen", "habe ich storniert", "aus kulanz"),
    "fr": ("a été remis", "est arrivé", "en cours de livraison", "d'après le suivi", "a été expédié", "a bien été reçu",
           "geste commercial"),
    "es": ("ya salió", "está en camino", "fue enviado", "se envió", "en reparto", "ya está en", "se canceló",
           "ya pasó"),
    "pt": ("foi despachado", "está a caminho", "saiu para entrega", "verifiquei", "já geramos", "foi enviado",
           "está no centro"),
    "id": ("sudah dikirim", "sedang dikirim", "sudah kami buat", "dalam perjalanan", "sudah diterima",
           "sistem membatalkannya", "dibuat dua hari lalu"),
    "ms": ("telah dihantar", "kini berada", "sedang dihantar"),
    "th": ("ส่งออกจากคลัง", "ตรวจสอบแล้ว", "ได้รับกระเป๋าคืน", "อยู่ระหว่างจัดส่ง", "ส่งเลขพัสดุไป"),
    "vi": ("đã được giao", "đang được giao", "đã gửi", "đã nhận được", "đang trên đường", "kiểm tra thấy"),
    "ja": ("発送いたしました", "出荷いたしました", "到着しました", "確認いたしました", "配達中", "ご手配いたします",
           "手配いたしました"),
    "zh": ("已发货", "已發貨", "已出貨", "已收到", "配送中", "已寄出", "已送达", "已送達"),
    "ko": ("발송되었습니다", "배송 중", "도착했습니다"),
    "ar": ("تم شحن", "تم إرسال", "في الطريق", "استلمنا", "أرسلنا رقم"),
}
_CONTACT_LABELS = frozenset({"EMAIL", "PHONE"})
_REDACTOR = Redactor()


@lru_cache(maxsize=1)
def _terms() -> tuple[TermSet, TermSet]:
    weekdays = TermSet.compile([*((day, "weekday") for days in _WEEKDAYS.values()
                                  for day in (days.split(";") if ";" in days else days.split())),
                                *((day, "short") for day in _SHORT_WEEKDAYS)])
    situations = TermSet.compile((term, "order situation") for terms in _SITUATIONS.values() for term in terms)
    return weekdays, situations


@lru_cache(maxsize=32)
def _relative_days(language: str | None) -> TermSet:
    """The day words of ``language``'s family (zh-Hant: zh), else of every language."""
    base = (language or "").split("-")[0].lower()
    chosen = [_RELATIVE_DAYS[base]] if base in _RELATIVE_DAYS else list(_RELATIVE_DAYS.values())
    return TermSet.compile((day, "day") for days in chosen for day in days)


@lru_cache(maxsize=1)
def _dates() -> regex.Pattern[str]:
    months = "|".join(regex.escape(m) for m in sorted(_MONTHS + _AR_MONTHS, key=len, reverse=True))
    thai = "|".join(_THAI_MONTHS)
    return regex.compile(rf"(?i)(?<![\w])(?:\d{{1,2}}(?:st|nd|rd|th|er|\.)?\s+(?:de\s+|of\s+)?(?:{months})\b"
                         rf"|(?:{months})\s+\d{{1,2}}(?:st|nd|rd|th)?\b)|\d{{1,2}}\s*(?:{thai})")


def specifics(answer: str, *, question: str = "", market: str | None = None, language: str | None = None) -> list[str]:
    """What in ``answer`` belongs to one customer's case (see the module docstring), in a stable order; ``question``
    is what the customer wrote (for the amounts and contact details the answer repeats), ``market`` reads phones,
    ``language`` (the answer's, when known) picks the words for today and tomorrow."""
    found: list[str] = []
    if any(_digits(code) >= 6 for code in _CODE.findall(answer)):
        found.append("order number")
    if _NUMERIC_DATE.search(answer) or _CJK_DATE.search(answer) or _dates().search(answer):
        found.append("date")
    if _mentions_a_day(answer, language):
        found.append("day")
    if _terms()[1].find(answer):
        found.append("order situation")
    asked = {_normal_amount(m) for m in _MONEY.finditer(question)}
    if asked and asked & {_normal_amount(m) for m in _MONEY.finditer(answer)}:
        found.append("amount")
    if question and _echoes_contact(answer, question, market):
        found.append("contact details")
    if "[NAME]" in answer:
        found.append("name")
    if "[ADDRESS]" in answer:
        found.append("address")
    return found


def _digits(text: str) -> int:
    return sum(char.isdigit() for char in text)


def _mentions_a_day(text: str, language: str | None) -> bool:
    masked = _NOT_DAYS.sub(lambda m: " " * len(m.group()), text)
    if _relative_days(language).find(masked):
        return True
    found = _terms()[0].find(text)
    days = [span for label, span in found if label == "weekday"]
    every = [span for _, span in found]
    # A weekday within 20 characters of another is a range or list: opening hours, not a day of this case.
    return any(all(abs(other[0] - day[0]) > 20 or _overlap(other, day) for other in every) for day in days)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _normal_amount(match: regex.Match[str]) -> str:
    return regex.sub(r"[.,]\d{2}$|[.,\s]", "", match.group(1) or match.group(2) or "")


def _echoes_contact(answer: str, question: str, market: str | None) -> bool:
    """Whether ``answer`` repeats an e-mail address or phone number the customer wrote."""
    def contacts(text: str) -> set[str]:
        return {regex.sub(r"\D", "", text[s:e]) if label == "PHONE" else text[s:e].casefold()
                for s, e, label in _REDACTOR.redact(text, market=market).spans if label in _CONTACT_LABELS}
    return bool(contacts(answer) & contacts(question))
