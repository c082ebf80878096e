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

Phrase = Literal["dont_know", "safe_reply", "source_language", "handoff_now", "handoff_later"]

_PHRASES: dict[str, dict[Phrase, str]] = {
    "en": {
        "dont_know": "I'm sorry, I don't have reliable information on that. I can pass your question to a colleague.",
        "safe_reply": "Thank you for your message. A colleague will look into this and get back to you.",
        "source_language": "This information is available in {source}:",
        "handoff_now": "I'm passing your conversation to a colleague. A person will reply within {wait}.",
        "handoff_later": (
            "Our team is not available at the moment. I've passed on your conversation, and a person will reply "
            "by {when}."
        ),
    },
    "de": {
        "dont_know": (
            "Dazu habe ich leider keine gesicherte Information. Gern leite ich Ihre Frage an eine Kollegin "
            "oder einen Kollegen weiter."
        ),
        "safe_reply": "Vielen Dank für Ihre Nachricht. Eine Kollegin oder ein Kollege prüft das und meldet sich bei Ihnen.",
        "source_language": "Diese Information liegt auf {source} vor:",
        "handoff_now": (
            "Ich leite Ihr Gespräch an eine Kollegin oder einen Kollegen weiter. Sie erhalten innerhalb von {wait} "
            "eine persönliche Antwort."
        ),
        "handoff_later": (
            "Unser Team ist gerade nicht erreichbar. Ich habe Ihr Gespräch weitergeleitet; Sie erhalten bis {when} "
            "eine persönliche Antwort."
        ),
    },
    "fr": {
        "dont_know": (
            "Je suis désolé, je n'ai pas d'information fiable à ce sujet. Je peux transmettre votre question "
            "à un collègue."
        ),
        "safe_reply": "Merci pour votre message. Un collègue va examiner votre demande et reviendra vers vous.",
        "source_language": "Cette information est disponible en {source} :",
        "handoff_now": (
            "Je transmets votre conversation à un collègue. Une personne vous répondra dans un délai de {wait}."
        ),
        "handoff_later": (
            "Notre équipe n'est pas disponible pour le moment. J'ai transmis votre conversation, et une personne "
            "vous répondra d'ici {when}."
        ),
    },
    "es": {
        "dont_know": "Lo siento, no tengo información fiable sobre eso. Puedo pasar su pregunta a un compañero.",
        "safe_reply": "Gracias por su mensaje. Un compañero lo revisará y le responderá.",
        "source_language": "Esta información está disponible en {source}:",
        "handoff_now": "Paso su conversación a un compañero. Una persona le responderá en un plazo de {wait}.",
        "handoff_later": (
            "Nuestro equipo no está disponible en este momento. He transmitido su conversación y una persona "
            "le responderá como muy tarde el {when}."
        ),
    },
    "pt": {
        "dont_know": "Desculpe, não tenho uma informação confiável sobre isso. Posso passar sua pergunta a um colega.",
        "safe_reply": "Obrigado pela sua mensagem. Um colega vai analisar e responder em breve.",
        "source_language": "Esta informação está disponível em {source}:",
        "handoff_now": "Estou passando sua conversa para um colega. Uma pessoa vai responder em até {wait}.",
        "handoff_later": (
            "Nossa equipe não está disponível no momento. Já encaminhei sua conversa, e uma pessoa vai responder "
            "até {when}."
        ),
    },
    "id": {
        "dont_know": "Maaf, saya belum punya informasi yang pasti soal itu. Saya bisa teruskan pertanyaan Anda ke rekan kami.",
        "safe_reply": "Terima kasih atas pesan Anda. Rekan kami akan memeriksanya dan segera menghubungi Anda.",
        "source_language": "Informasi ini tersedia dalam {source}:",
        "handoff_now": (
            "Percakapan Anda saya teruskan ke rekan kami. Petugas kami akan membalas dalam waktu {wait}."
        ),
        "handoff_later": (
            "Tim kami sedang tidak tersedia saat ini. Percakapan Anda sudah saya teruskan, dan petugas kami akan "
            "membalas paling lambat {when}."
        ),
    },
    "ms": {
        "dont_know": "Maaf, saya tiada maklumat yang pasti tentang perkara itu. Saya boleh hantar soalan anda kepada rakan kami.",
        "safe_reply": "Terima kasih atas mesej anda. Rakan kami akan menyemaknya dan menghubungi anda.",
        "source_language": "Maklumat ini tersedia dalam {source}:",
        "handoff_now": (
            "Saya sedang memanjangkan perbualan anda kepada rakan kami. Seorang petugas akan membalas dalam "
            "tempoh {wait}."
        ),
        "handoff_later": (
            "Pasukan kami tidak tersedia buat masa ini. Saya telah memanjangkan perbualan anda, dan seorang "
            "petugas akan membalas selewat-lewatnya {when}."
        ),
    },
    "th": {
        "dont_know": "ขออภัย ยังไม่มีข้อมูลที่แน่ชัดเรื่องนี้ สามารถส่งต่อคำถามให้เจ้าหน้าที่ได้",
        "safe_reply": "ขอบคุณสำหรับข้อความ เจ้าหน้าที่จะตรวจสอบและติดต่อกลับโดยเร็ว",
        "source_language": "ข้อมูลนี้มีเป็น{source}:",
        "handoff_now": "กำลังส่งต่อการสนทนาให้เจ้าหน้าที่ เจ้าหน้าที่จะตอบกลับภายใน {wait}",
        "handoff_later": (
            "ขณะนี้ทีมงานยังไม่พร้อมให้บริการ ได้ส่งต่อการสนทนาให้เจ้าหน้าที่แล้ว เจ้าหน้าที่จะตอบกลับภายใน {when}"
        ),
    },
    "vi": {
        "dont_know": "Xin lỗi, tôi chưa có thông tin chắc chắn về việc này. Tôi có thể chuyển câu hỏi của bạn cho đồng nghiệp.",
        "safe_reply": "Cảm ơn bạn đã nhắn tin. Đồng nghiệp của chúng tôi sẽ kiểm tra và phản hồi bạn.",
        "source_language": "Thông tin này có bằng {source}:",
        "handoff_now": (
            "Tôi đang chuyển cuộc trò chuyện của bạn cho đồng nghiệp. Nhân viên của chúng tôi sẽ phản hồi "
            "trong vòng {wait}."
        ),
        "handoff_later": (
            "Hiện đội ngũ của chúng tôi chưa thể hỗ trợ. Tôi đã chuyển cuộc trò chuyện của bạn, và nhân viên "
            "sẽ phản hồi chậm nhất vào {when}."
        ),
    },
    "ja": {
        "dont_know": "申し訳ございません。その件について確かな情報がございません。担当者におつなぎすることができます。",
        "safe_reply": "お問い合わせありがとうございます。担当者が確認のうえ、改めてご連絡いたします。",
        "source_language": "こちらの情報は{source}でご用意しております。",
        "handoff_now": "お客様のお問い合わせを担当者に引き継ぎいたします。{wait}以内に担当者よりご返信いたします。",
        "handoff_later": (
            "ただいま担当者が対応できない時間帯です。お問い合わせは担当者に引き継ぎましたので、"
            "{when}までに担当者よりご返信いたします。"
        ),
    },
    "zh": {
        "dont_know": "抱歉，关于这个问题我没有可靠的信息。我可以把您的问题转给同事。",
        "safe_reply": "感谢您的留言。我们的同事会核实后尽快回复您。",
        "source_language": "此信息目前只有{source}版本：",
        "handoff_now": "我正在将您的对话转给同事，{wait}内会有专人回复您。",
        "handoff_later": "我们的团队目前不在线。我已转交您的对话，{when}前会有专人回复您。",
    },
    "zh-hant": {
        "dont_know": "抱歉，關於這個問題我沒有可靠的資訊。我可以把您的問題轉給同事。",
        "safe_reply": "感謝您的留言。我們的同事會確認後盡快回覆您。",
        "source_language": "此資訊目前只有{source}版本：",
        "handoff_now": "我正在將您的對話轉給同事，{wait}內會有專人回覆您。",
        "handoff_later": "我們的團隊目前不在線上。我已轉交您的對話，{when}前會有專人回覆您。",
    },
    "ar": {
        "dont_know": "نعتذر، لا تتوفر لدينا معلومات موثوقة حول ذلك. يمكننا تحويل سؤالك إلى أحد الزملاء.",
        "safe_reply": "شكرًا لرسالتك. سيراجع أحد الزملاء طلبك ويعاود التواصل معك.",
        "source_language": "هذه المعلومات متوفرة باللغة {source}:",
        "handoff_now": "نحوّل محادثتك الآن إلى أحد الزملاء، وسيردّ عليك أحد أعضاء الفريق خلال {wait}.",
        "handoff_later": (
            "فريقنا غير متاح حاليًا. حوّلنا محادثتك، وسيردّ عليك أحد أعضاء الفريق بحلول {when}."
        ),
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


