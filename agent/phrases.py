"""The few sentences the agent says in its own words, in every language it serves.

Everything else in a reply is the brand's: persona greetings and sign-offs, market
notices, and the knowledge it quotes. These are deliberately plain and free of
religious, honorific-breaking or market-specific wording, so any persona can use them.
A language not listed falls back to English.

Example:
    >>> say("dont_know", "de")
    'Dazu habe ich leider keine gesicherte Information. Gern leite ich Ihre Frage an eine Kollegin oder einen Kollegen weiter.'
    >>> say("source_language", "th", source=language_name("en", "th"))
    'ข้อมูลนี้มีเป็นภาษาอังกฤษ:'
"""

from __future__ import annotations

from typing import Literal

Phrase = Literal["dont_know", "safe_reply", "source_language"]

_PHRASES: dict[str, dict[Phrase, str]] = {
    "en": {
        "dont_know": "I'm sorry, I don't have reliable information on that. I can pass your question to a colleague.",
        "safe_reply": "Thank you for your message. A colleague will look into this and get back to you.",
        "source_language": "This information is available in {source}:",
    },
    "de": {
        "dont_know": (
            "Dazu habe ich leider keine gesicherte Information. Gern leite ich Ihre Frage an eine Kollegin "
            "oder einen Kollegen weiter."
        ),
        "safe_reply": "Vielen Dank für Ihre Nachricht. Eine Kollegin oder ein Kollege prüft das und meldet sich bei Ihnen.",
        "source_language": "Diese Information liegt auf {source} vor:",
    },
    "fr": {
        "dont_know": (
            "Je suis désolé, je n'ai pas d'information fiable à ce sujet. Je peux transmettre votre question "
            "à un collègue."
        ),
        "safe_reply": "Merci pour votre message. Un collègue va examiner votre demande et reviendra vers vous.",
        "source_language": "Cette information est disponible en {source} :",
    },
    "es": {
        "dont_know": "Lo siento, no tengo información fiable sobre eso. Puedo pasar su pregunta a un compañero.",
        "safe_reply": "Gracias por su mensaje. Un compañero lo revisará y le responderá.",
        "source_language": "Esta información está disponible en {source}:",
    },
    "pt": {
        "dont_know": "Desculpe, não tenho uma informação confiável sobre isso. Posso passar sua pergunta a um colega.",
        "safe_reply": "Obrigado pela sua mensagem. Um colega vai analisar e responder em breve.",
        "source_language": "Esta informação está disponível em {source}:",
    },
    "id": {
        "dont_know": "Maaf, saya belum punya informasi yang pasti soal itu. Saya bisa teruskan pertanyaan Anda ke rekan kami.",
        "safe_reply": "Terima kasih atas pesan Anda. Rekan kami akan memeriksanya dan segera menghubungi Anda.",
        "source_language": "Informasi ini tersedia dalam {source}:",
    },
    "ms": {
        "dont_know": "Maaf, saya tiada maklumat yang pasti tentang perkara itu. Saya boleh hantar soalan anda kepada rakan kami.",
        "safe_reply": "Terima kasih atas mesej anda. Rakan kami akan menyemaknya dan menghubungi anda.",
        "source_language": "Maklumat ini tersedia dalam {source}:",
    },
    "th": {
        "dont_know": "ขออภัย ยังไม่มีข้อมูลที่แน่ชัดเรื่องนี้ สามารถส่งต่อคำถามให้เจ้าหน้าที่ได้",
        "safe_reply": "ขอบคุณสำหรับข้อความ เจ้าหน้าที่จะตรวจสอบและติดต่อกลับโดยเร็ว",
        "source_language": "ข้อมูลนี้มีเป็น{source}:",
    },
    "vi": {
        "dont_know": "Xin lỗi, tôi chưa có thông tin chắc chắn về việc này. Tôi có thể chuyển câu hỏi của bạn cho đồng nghiệp.",
        "safe_reply": "Cảm ơn bạn đã nhắn tin. Đồng nghiệp của chúng tôi sẽ kiểm tra và phản hồi bạn.",
        "source_language": "Thông tin này có bằng {source}:",
    },
    "ja": {
        "dont_know": "申し訳ございません。その件について確かな情報がございません。担当者におつなぎすることができます。",
        "safe_reply": "お問い合わせありがとうございます。担当者が確認のうえ、改めてご連絡いたします。",
        "source_language": "こちらの情報は{source}でご用意しております。",
    },
    "zh": {
        "dont_know": "抱歉，关于这个问题我没有可靠的信息。我可以把您的问题转给同事。",
        "safe_reply": "感谢您的留言。我们的同事会核实后尽快回复您。",
        "source_language": "此信息目前只有{source}版本：",
    },
    "zh-hant": {
        "dont_know": "抱歉，關於這個問題我沒有可靠的資訊。我可以把您的問題轉給同事。",
        "safe_reply": "感謝您的留言。我們的同事會確認後盡快回覆您。",
        "source_language": "此資訊目前只有{source}版本：",
    },
    "ar": {
        "dont_know": "نعتذر، لا تتوفر لدينا معلومات موثوقة حول ذلك. يمكننا تحويل سؤالك إلى أحد الزملاء.",
        "safe_reply": "شكرًا لرسالتك. سيراجع أحد الزملاء طلبك ويعاود التواصل معك.",
        "source_language": "هذه المعلومات متوفرة باللغة {source}:",
    },
}

# Language names, as each reply language writes them (only what "source_language" needs).
_NAMES: dict[str, dict[str, str]] = {
    "en": {"en": "English", "de": "Englisch", "fr": "anglais", "es": "inglés", "pt": "inglês",
           "id": "bahasa Inggris", "ms": "bahasa Inggeris", "th": "ภาษาอังกฤษ", "vi": "tiếng Anh", "ja": "英語",
           "zh": "英文", "ar": "الإنجليزية"},
    "de": {"en": "German", "th": "ภาษาเยอรมัน", "ja": "ドイツ語", "zh": "德文", "ar": "الألمانية"},
}  # fmt: skip


def say(phrase: Phrase, language: str, **values: str) -> str:
    """``phrase`` in ``language`` (else its base language, else English), with ``{placeholders}`` filled."""
    code = language.lower()
    table = _PHRASES.get(code) or _PHRASES.get(code.split("-")[0], _PHRASES["en"])
    return table[phrase].format(**values)


def language_name(language: str, in_language: str) -> str:
    """How ``in_language`` names ``language`` ("English" in Thai is "ภาษาอังกฤษ"); the code when unknown."""
    names = _NAMES.get(language, {})
    return names.get(in_language.split("-")[0].lower()) or names.get("en") or language


