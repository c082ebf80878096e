"""Courtesy in the languages polydesk serves: thanks, greetings, goodbyes and acknowledgements.

Small talk is made of it ("thanks!", "ok 👍", "ขอบคุณครับ", "谢谢", "makasih ya kak"). ``courtesy`` finds
the courtesy words of a text (``polydesk.terms``: whole words where words are spaced, substrings
where not) together with the fillers, particles and forms of address that go with them ("so much",
"ya kak", "ครับ", "ạ", "ございます"), and says whether the text is *only* courtesy: no letter or digit
left outside them. A text without any letter or digit ("👍👍👍", "🙏", "!!") is only courtesy too.

Its kind is the strongest found: thanks, then bye, then hello, then ok; emoji alone say thanks
(🙏 ❤️ 😘), hello (👋) or ok (anything else).

The same words serve the name finder (``polydesk.names``: "Thanks Priya", "¡A ti, Lucía!") and the
transcript reader, which drops sentences left as nothing but courtesy and a placeholder ("Hi [NAME],").

Example:
    >>> courtesy("Thank you so much!! 🙏").kind, courtesy("thanks, and when will my order ship?").only
    ('thanks', False)
    >>> courtesy("โอเคค่ะ ขอบคุณค่ะ").kind, courtesy("👍👍👍").only, courtesy("👍👍👍").kind
    ('thanks', True, 'ok')
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from polydesk.terms import TermSet

__all__ = ["COURTESY", "Courtesy", "Kind", "courtesy", "courtesy_terms", "words"]

Kind = Literal["thanks", "bye", "hello", "ok"]
_ORDER: tuple[Kind, ...] = ("thanks", "bye", "hello", "ok")

# Per kind, per language (the language is for readers and tests: matching runs over all of them).
COURTESY: dict[str, dict[str, tuple[str, ...]]] = {
    "thanks": {
        "en": ("thanks", "thank you", "thank u", "thx", "thnx", "ty", "tysm", "cheers", "much appreciated",
               "appreciate it", "appreciated", "you're welcome", "you are welcome", "thanks a lot", "thank you so much",
               "thank you very much", "many thanks", "thanks so much"),
        "de": ("danke", "dankeschön", "danke schön", "vielen dank", "besten dank", "herzlichen dank", "merci",
               "gern geschehen", "gerne", "gern"),
        "fr": ("merci", "merci beaucoup", "avec plaisir", "de rien", "je vous en prie"),
        "es": ("gracias", "muchas gracias", "mil gracias", "de nada", "con gusto", "a ti", "a usted", "a ustedes",
               "igualmente"),
        "pt": ("obrigado", "obrigada", "muito obrigado", "muito obrigada", "obg", "brigado", "brigada", "valeu",
               "agradeço", "de nada", "imagina", "por nada"),
        "it": ("grazie", "grazie mille", "prego"),
        "nl": ("bedankt", "dank je", "dank u", "dankjewel"),
        "id": ("terima kasih", "terima kasih banyak", "makasih", "makasi", "trims", "tks", "tq", "sama-sama",
               "sama sama"),
        "ms": ("terima kasih", "tq", "sama-sama"),
        "th": ("ขอบคุณ", "ขอบใจ", "ขอบพระคุณ", "ยินดี"),
        "vi": ("cảm ơn", "cám ơn", "camon", "không có gì"),
        "ja": ("ありがとう", "ありがとうございます", "ありがとうございました", "感謝", "サンキュー", "助かりました",
               "助かります", "どういたしまして"),
        "zh": ("谢谢", "謝謝", "多谢", "多謝", "感谢", "感謝", "谢啦", "謝啦", "不客气", "不客氣"),
        "ko": ("감사합니다", "감사해요", "고맙습니다", "고마워요", "고마워", "감사"),
        "ar": ("شكرا", "مشكور", "مشكورة", "مشكورين", "يعطيك العافية", "جزاك الله خير", "تسلم", "تسلمي", "ألف شكر",
               "العفو", "عفوا"),
    },
    "bye": {
        "en": ("bye", "goodbye", "bye bye", "see you", "see ya", "take care", "have a nice day", "have a good day",
               "have a great day", "good night", "cya", "that's all", "that's it", "happy travels"),
        "de": ("tschüss", "tschüs", "ciao", "auf wiedersehen", "bis dann", "bis bald", "schönen tag",
               "schönen tag noch", "das wär's", "das war's"),
        "fr": ("au revoir", "bonne journée", "bonne soirée", "à bientôt", "à plus", "c'est tout"),
        "es": ("adiós", "adios", "chao", "hasta luego", "hasta pronto", "nos vemos", "eso es todo", "buen viaje"),
        "pt": ("tchau", "até logo", "até mais", "até breve", "é só isso", "era só isso", "boa viagem"),
        "it": ("arrivederci", "a presto", "buona giornata"),
        "id": ("dadah", "sampai jumpa", "daah", "udah itu aja"),
        "ms": ("jumpa lagi", "selamat tinggal"),
        "th": ("ลาก่อน", "บาย"),
        "vi": ("tạm biệt",),
        "ja": ("さようなら", "失礼します", "失礼いたします", "またね", "よろしくお願いします",
               "よろしくお願いいたします"),
        "zh": ("再见", "再見", "拜拜", "回头见"),
        "ko": ("안녕히 계세요", "안녕히 가세요"),
        "ar": ("مع السلامة", "الى اللقاء", "في أمان الله", "مع التحية", "مع خالص التحيات", "تحياتي", "مع تحياتي"),
        # Sign-offs of a letter.
        "en*": ("best", "regards", "best regards", "kind regards", "warm regards", "sincerely", "yours"),
        "de*": ("viele grüße", "beste grüße", "liebe grüße", "freundliche grüße", "mit freundlichen grüßen",
                "grüße", "gruß", "mfg", "lg", "vg"),
        "fr*": ("cordialement", "bien cordialement", "bien à vous", "salutations", "amicalement"),
        "es*": ("saludos", "un saludo", "saludos cordiales", "atentamente", "un abrazo"),
        "pt*": ("abraços", "abraço", "atenciosamente", "att", "saudações"),
        "it*": ("cordiali saluti", "distinti saluti", "saluti"),
        "id*": ("hormat saya", "salam hormat", "wassalam"),
        "ms*": ("sekian", "yang benar"),
        "vi*": ("trân trọng", "thân ái", "thân mến"),
        "th*": ("ขอแสดงความนับถือ", "ด้วยความเคารพ"),
        "ja*": ("敬具",),
        "zh*": ("此致", "敬上", "敬礼"),
    },
    "hello": {
        "en": ("hi", "hello", "hey", "hiya", "howdy", "good morning", "good afternoon", "good evening", "morning",
               "evening", "dear"),
        "de": ("hallo", "moin", "servus", "grüß gott", "guten tag", "guten morgen", "guten abend", "grüezi", "liebe",
               "lieber", "sehr geehrte", "sehr geehrter"),
        "fr": ("bonjour", "bonsoir", "salut", "coucou", "cher", "chère"),
        "es": ("hola", "buenas", "buenos días", "buenas tardes", "buenas noches", "buen día", "querido", "querida",
               "estimado", "estimada"),
        "pt": ("oi", "olá", "ola", "bom dia", "boa tarde", "boa noite", "prezado", "prezada", "querido", "querida"),
        "it": ("ciao", "buongiorno", "buonasera", "salve", "caro", "cara", "gentile"),
        "nl": ("hoi", "goedemorgen", "beste"),
        "id": ("halo", "hai", "selamat pagi", "selamat siang", "selamat sore", "selamat malam", "permisi"),
        "ms": ("helo", "salam", "assalamualaikum", "waalaikumussalam"),
        "th": ("สวัสดี", "หวัดดี", "เรียน"),
        "vi": ("chào", "xin chào", "alo"),
        "ja": ("こんにちは", "こんばんは", "おはよう", "おはようございます", "はじめまして"),
        "zh": ("你好", "您好", "嗨", "哈喽", "哈囉", "早上好", "早安", "晚上好"),
        "ko": ("안녕하세요", "안녕"),
        "ar": ("مرحبا", "أهلا", "السلام عليكم", "وعليكم السلام", "سلام", "هلا", "صباح الخير", "مساء الخير",
               "عزيزي", "عزيزتي"),
    },
    "ok": {
        "en": ("ok", "okay", "okey", "k", "kk", "alright", "all right", "got it", "great", "perfect", "cool", "noted",
               "sure", "fine", "good", "nice", "awesome", "excellent", "understood", "i see", "sounds good",
               "will do", "gotcha", "brilliant", "lovely", "no problem", "np"),
        "de": ("alles klar", "passt", "super", "prima", "gut", "verstanden", "top", "klasse", "toll", "perfekt",
               "in ordnung", "mache ich", "geht klar", "kein problem"),
        "fr": ("d'accord", "parfait", "super", "ça marche", "entendu", "génial", "très bien", "compris", "nickel"),
        "es": ("vale", "perfecto", "genial", "entendido", "de acuerdo", "listo", "va", "sale", "bueno", "excelente",
               "ya veo", "entiendo", "bien", "estupendo", "claro"),
        "pt": ("beleza", "blz", "perfeito", "certo", "entendi", "show", "tá bom", "ta bom", "ótimo", "otimo",
               "combinado", "maravilha", "tranquilo", "entendido"),
        "it": ("va bene", "perfetto", "capito", "d'accordo", "benissimo"),
        "id": ("oke", "siap", "baik", "sip", "mantap", "baiklah", "paham", "mengerti", "saya paham", "saya mengerti"),
        "ms": ("faham", "baiklah", "saya faham"),
        "th": ("โอเค", "ได้", "รับทราบ", "เข้าใจแล้ว", "ตกลง"),
        "vi": ("oke", "vâng", "dạ", "được", "hiểu rồi", "tuyệt", "ổn"),
        "ja": ("了解", "了解です", "了解しました", "わかりました", "分かりました", "承知しました", "承知いたしました",
               "はい", "オッケー", "大丈夫です"),
        "zh": ("好的", "好", "收到", "知道了", "明白", "明白了", "行", "嗯", "嗯嗯", "好吧", "没问题", "沒問題",
               "了解"),
        "ko": ("네", "알겠습니다", "좋아요", "확인했습니다", "오케이"),
        "ar": ("تمام", "طيب", "حسنا", "أوكي", "اوكي", "ممتاز", "ماشي", "زين"),
    },
    # Around courtesy, never courtesy on their own: intensifiers, particles, forms of address, laughter.
    "filler": {
        "*": ("mr", "mrs", "ms", "miss", "dr", "frau", "herr", "monsieur", "madame", "señor", "señora", "sr", "sra",
              "senhor", "senhora", "signor", "signora", "pak", "bapak", "bu", "ibu", "mbak", "様", "さま", "さん",
              "小姐", "先生", "女士", "太太", "님", "씨", "คุณ", "السيد", "السيدة", "الأستاذ"),
        "en": ("so", "much", "very", "a lot", "lots", "again", "you", "u", "all", "guys", "everyone", "team",
               "for", "the", "your", "help", "info", "that", "it", "really", "too", "indeed", "ah", "oh", "well",
               "just", "then", "and", "sir", "madam", "ma'am", "lol", "haha", "hehe", ":)", ":-)", ":D", "xD",
               "btw", "both", "to"),
        "de": ("vielen", "vielmals", "sehr", "schön", "für", "die", "den", "das", "info", "infos", "hilfe",
               "auskunft", "ihnen", "dir", "euch", "nochmal", "noch", "mal", "auch", "dann", "ach", "na", "so", "und",
               "ja"),
        "fr": ("beaucoup", "bien", "pour", "la", "le", "l'", "votre", "ton", "encore", "mille", "tout", "à", "vous",
               "toi", "et", "ah", "oh"),
        "es": ("muchas", "muchísimas", "mil", "mucho", "por", "la", "el", "info", "información", "ayuda", "todo",
               "de verdad", "pues", "y", "ah", "jaja", "jajaja", "ti"),
        "pt": ("muito", "muita", "demais", "pela", "pelo", "ajuda", "informação", "info", "tudo", "gente", "viu",
               "então", "e", "ah", "kkk", "kkkk", "kkkkk", "rs"),
        "it": ("mille", "tante", "molto", "per", "l'", "aiuto", "tutto", "e"),
        "id": ("ya", "yaa", "kak", "ka", "min", "gan", "sis", "banyak", "deh", "dong", "sekali", "nya", "atas",
               "infonya", "informasinya", "bantuannya", "wkwk", "wkwkwk", "dan"),
        "ms": ("banyak", "tuan", "puan", "cik", "encik", "maklumat", "bantuan"),
        "th": ("ครับ", "ค่ะ", "คะ", "ค่า", "คับ", "ครับผม", "นะ", "จ้า", "จ้ะ", "จ๊ะ", "มาก", "ๆ", "เลย", "แอดมิน",
               "แอด", "ทุกคน", "สำหรับ", "ข้อมูล", "555"),
        "vi": ("ạ", "nha", "nhé", "nhiều", "bạn", "shop", "ad", "em", "anh", "chị", "rất", "lắm", "ha", "và"),
        "ja": ("ございます", "ございました", "です", "ます", "どうも", "本当に", "ほんとに", "ね", "よ", "笑", "草"),
        "zh": ("非常", "多", "啦", "了", "哦", "呀", "啊", "你", "您", "们", "們", "大家", "帮助", "幫助", "的"),
        "ko": ("정말", "너무", "진짜", "많이", "요"),
        "ar": ("جزيلا", "كثير", "كثيرا", "لك", "لكم", "يا", "على", "المساعدة", "المعلومات", "التوضيح", "حبيبي",
               "أخي", "اخوي", "و"),
    },
}

# Emoji alone: their kind (others say "ok").
_EMOJI_KINDS: dict[str, Kind] = {"🙏": "thanks", "❤": "thanks", "😘": "thanks", "🥰": "thanks", "💕": "thanks",
                                 "👋": "hello"}


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``: word lists written as prose."""
    return frozenset(text.split())


@dataclass(frozen=True, slots=True)
class Courtesy:
    """What courtesy a text holds: its strongest ``kind`` (None when none), whether it is ``only`` courtesy, and
    whether it is ``bare``: no letter or digit outside courtesy words and fillers ("Frau", "様"), courtesy or not."""

    kind: Kind | None
    only: bool
    bare: bool
    spans: tuple[tuple[int, int], ...] = ()  # where courtesy words (not fillers) were found


@lru_cache(maxsize=1)
def courtesy_terms() -> TermSet:
    """Every courtesy word and filler, labelled with its kind."""
    return TermSet.compile((term, kind) for kind, by_language in COURTESY.items()
                           for terms in by_language.values() for term in terms)


def courtesy(text: str) -> Courtesy:
    """The courtesy in ``text`` (see the module docstring)."""
    covered = bytearray(len(text))
    kinds: set[str] = set()
    spans: list[tuple[int, int]] = []
    for label, (start, end) in courtesy_terms().find(text):
        covered[start:end] = b"\x01" * (end - start)
        if label != "filler":
            kinds.add(label)
            spans.append((start, end))
    left = any(char.isalnum() and not covered[i] for i, char in enumerate(text))
    if not any(char.isalnum() for char in text):
        emoji = next((_EMOJI_KINDS[char] for char in text if char in _EMOJI_KINDS), None)
        return Courtesy(kind=emoji or ("ok" if text.strip() else None), only=bool(text.strip()), bare=True)
    kind = next((k for k in _ORDER if k in kinds), None)
    return Courtesy(kind=kind, only=kind is not None and not left, bare=not left, spans=tuple(sorted(spans)))
