"""The few sentences the agent says in its own words, in every language it serves.

Everything else in a reply is the brand's: persona greetings and sign-offs, market
notices, and the knowledge it quotes. These are deliberately plain and free of
religious, honorific-breaking or market-specific wording, so any persona can use them.
A language not listed falls back to English, except for the parts around a body
(``greeting_for``, ``sign_off_for``, ``notice_text``): a reply has one language, so those are
the persona's or the market's text in the reply language, else the built-in one in that
language, else nothing (a notice: the market's own text, since it must be shown).

Example:
    >>> say("dont_know", "de")
    'Dazu habe ich leider keine gesicherte Information. Gern leite ich Ihre Frage an eine Kollegin oder einen Kollegen weiter.'
    >>> say("source_language", "th", source=language_name("ja", "th"))
    'ข้อมูลนี้มีเป็นภาษาญี่ปุ่น:'
    >>> small_talk_reply("thanks", "es-MX")
    '¡De nada! ¿Puedo ayudarle en algo más?'
    >>> greeting_for(catalog.persona("us-friendly"), "de")                   # doctest: +SKIP
    'Guten Tag, vielen Dank für Ihre Nachricht.'
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from babel import Locale, UnknownLocaleError

from personas import ComplianceNotice, Market, Persona
from personas.fields import closest_language

Phrase = Literal["dont_know", "safe_reply", "source_language", "handoff_now", "handoff_later", "greeting", "sign_off",
                 "privacy_notice", "attachment_unread"]

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
        "greeting": "Hello, and thank you for your message.",
        "sign_off": "Kind regards, Customer Service",
        "privacy_notice": (
            "Privacy notice: we use the details you share with us only to handle your request, in line with the "
            "applicable data protection law. Our privacy policy explains your rights, including access to and "
            "erasure of your data."
        ),
        "attachment_unread": (
            "Thank you. I can only read text messages here, not photos or files. Could you describe in a message what you need?"
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
        "greeting": "Guten Tag, vielen Dank für Ihre Nachricht.",
        "sign_off": "Mit freundlichen Grüßen, Ihr Kundenservice",
        "privacy_notice": (
            "Datenschutzhinweis: Wir verwenden Ihre Angaben ausschließlich zur Bearbeitung Ihrer Anfrage und im "
            "Einklang mit dem geltenden Datenschutzrecht. In unserer Datenschutzerklärung finden Sie Informationen "
            "zu Ihren Rechten, auch auf Auskunft und Löschung."
        ),
        "attachment_unread": (
            "Vielen Dank. Ich kann hier nur Textnachrichten lesen, keine Fotos oder Dateien. Könnten Sie Ihr Anliegen kurz in einer Nachricht beschreiben?"
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
        "greeting": "Bonjour, et merci pour votre message.",
        "sign_off": "Cordialement, le service client",
        "privacy_notice": (
            "Protection des données : nous utilisons vos informations uniquement pour traiter votre demande, "
            "conformément à la réglementation applicable en matière de protection des données. Notre politique de "
            "confidentialité précise vos droits, notamment vos droits d'accès et d'effacement."
        ),
        "attachment_unread": (
            "Merci. Je ne peux lire ici que des messages texte, pas les photos ni les fichiers. Pourriez-vous décrire votre demande dans un message ?"
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
        "greeting": "Hola, muchas gracias por su mensaje.",
        "sign_off": "Atentamente, el equipo de atención al cliente",
        "privacy_notice": (
            "Protección de datos: utilizamos sus datos únicamente para gestionar su consulta, de conformidad con la "
            "normativa de protección de datos aplicable. En nuestra política de privacidad encontrará información "
            "sobre sus derechos, incluidos los de acceso y supresión."
        ),
        "attachment_unread": (
            "Gracias. Aquí solo puedo leer mensajes de texto, no fotos ni archivos. ¿Podría describir en un mensaje lo que necesita?"
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
        "greeting": "Olá, agradecemos a sua mensagem.",
        "sign_off": "Atenciosamente, Atendimento ao Cliente",
        "privacy_notice": (
            "Aviso de privacidade: utilizamos os seus dados apenas para atender à sua solicitação, em conformidade "
            "com a legislação de proteção de dados aplicável. A nossa política de privacidade descreve os seus "
            "direitos, incluindo o acesso aos seus dados e a sua eliminação."
        ),
        "attachment_unread": (
            "Obrigado. Aqui só consigo ler mensagens de texto, não fotos nem arquivos. Poderia descrever em uma mensagem o que precisa?"
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
        "greeting": "Halo, terima kasih atas pesan Anda.",
        "sign_off": "Salam hormat, Layanan Pelanggan",
        "privacy_notice": (
            "Pemberitahuan privasi: kami menggunakan data yang Anda berikan hanya untuk menangani permintaan Anda, "
            "sesuai dengan peraturan perlindungan data yang berlaku. Kebijakan privasi kami menjelaskan hak-hak Anda, "
            "termasuk hak untuk mengakses dan menghapus data Anda."
        ),
        "attachment_unread": (
            "Terima kasih. Di sini saya hanya dapat membaca pesan teks, bukan foto atau berkas. Bisakah Anda menjelaskan kebutuhan Anda dalam pesan?"
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
        "greeting": "Helo, terima kasih atas mesej anda.",
        "sign_off": "Sekian, terima kasih. Khidmat Pelanggan",
        "privacy_notice": (
            "Notis privasi: kami menggunakan maklumat yang anda berikan hanya untuk mengendalikan permintaan anda, "
            "selaras dengan undang-undang perlindungan data yang terpakai. Dasar privasi kami menerangkan hak anda, "
            "termasuk hak untuk mengakses dan memadam data anda."
        ),
        "attachment_unread": (
            "Terima kasih. Di sini saya hanya boleh membaca mesej teks, bukan foto atau fail. Bolehkah anda terangkan keperluan anda dalam mesej?"
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
        "greeting": "สวัสดี ขอขอบคุณที่ติดต่อเรา",
        "sign_off": "ขอแสดงความนับถือ ฝ่ายบริการลูกค้า",
        "privacy_notice": (
            "ประกาศความเป็นส่วนตัว: เราใช้ข้อมูลที่ท่านให้ไว้เพื่อดำเนินการตามคำขอของท่านเท่านั้น "
            "โดยเป็นไปตามกฎหมายคุ้มครองข้อมูลส่วนบุคคลที่ใช้บังคับ นโยบายความเป็นส่วนตัวของเราอธิบายสิทธิของท่าน "
            "รวมถึงสิทธิในการเข้าถึงและลบข้อมูลของท่าน"
        ),
        "attachment_unread": (
            "ขอบคุณสำหรับข้อความ ที่นี่อ่านได้เฉพาะข้อความตัวอักษร ไม่สามารถดูรูปภาพหรือไฟล์ได้ กรุณาพิมพ์อธิบายสิ่งที่ต้องการ"
        ),
    },
    "vi": {
        "dont_know": "Xin lỗi, tôi chưa có thông tin chắc chắn về việc này. Tôi có thể chuyển câu hỏi của Quý khách cho đồng nghiệp.",
        "safe_reply": "Cảm ơn Quý khách đã nhắn tin. Đồng nghiệp của chúng tôi sẽ kiểm tra và phản hồi Quý khách.",
        "source_language": "Thông tin này có bằng {source}:",
        "handoff_now": (
            "Tôi đang chuyển cuộc trò chuyện của Quý khách cho đồng nghiệp. Nhân viên của chúng tôi sẽ phản hồi "
            "trong vòng {wait}."
        ),
        "handoff_later": (
            "Hiện đội ngũ của chúng tôi chưa thể hỗ trợ. Tôi đã chuyển cuộc trò chuyện của Quý khách, và nhân viên "
            "sẽ phản hồi chậm nhất vào {when}."
        ),
        "greeting": "Xin chào, cảm ơn Quý khách đã liên hệ với chúng tôi.",
        "sign_off": "Trân trọng, Bộ phận Chăm sóc Khách hàng",
        "privacy_notice": (
            "Thông báo về quyền riêng tư: chúng tôi chỉ sử dụng thông tin Quý khách cung cấp để xử lý yêu cầu của "
            "Quý khách, theo quy định pháp luật hiện hành về bảo vệ dữ liệu cá nhân. Chính sách quyền riêng tư của "
            "chúng tôi nêu rõ các quyền của Quý khách, bao gồm quyền truy cập và xóa dữ liệu."
        ),
        "attachment_unread": (
            "Cảm ơn bạn. Ở đây tôi chỉ đọc được tin nhắn văn bản, không xem được ảnh hoặc tệp. Bạn có thể mô tả điều bạn cần bằng tin nhắn không?"
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
        "greeting": "お問い合わせいただき、ありがとうございます。",
        "sign_off": "今後ともよろしくお願いいたします。",
        "privacy_notice": (
            "個人情報の取り扱いについて：お客様からご提供いただいた情報は、適用される個人情報保護法令に従い、"
            "お問い合わせへの対応のためにのみ利用いたします。開示および削除を求める権利を含むお客様の権利については、"
            "当社のプライバシーポリシーをご覧ください。"
        ),
        "attachment_unread": "ありがとうございます。こちらではテキストメッセージのみ読むことができ、写真やファイルは確認できません。ご用件をメッセージでお知らせいただけますか。",
    },
    "zh": {
        "dont_know": "抱歉，关于这个问题我没有可靠的信息。我可以把您的问题转给同事。",
        "safe_reply": "感谢您的留言。我们的同事会核实后尽快回复您。",
        "source_language": "此信息目前只有{source}版本：",
        "handoff_now": "我正在将您的对话转给同事，{wait}内会有专人回复您。",
        "handoff_later": "我们的团队目前不在线。我已转交您的对话，{when}前会有专人回复您。",
        "greeting": "您好，感谢您联系我们。",
        "sign_off": "客户服务团队 敬上",
        "privacy_notice": (
            "隐私声明：您提供的信息仅用于处理您的咨询，并遵守适用的数据保护法律。我们的隐私政策说明了您的权利，"
            "包括查阅和删除您的数据的权利。"
        ),
        "attachment_unread": "谢谢。这里只能阅读文字消息，无法查看图片或文件。能否用文字描述一下您需要什么帮助？",
    },
    "zh-hant": {
        "dont_know": "抱歉，關於這個問題我沒有可靠的資訊。我可以把您的問題轉給同事。",
        "safe_reply": "感謝您的留言。我們的同事會確認後盡快回覆您。",
        "source_language": "此資訊目前只有{source}版本：",
        "handoff_now": "我正在將您的對話轉給同事，{wait}內會有專人回覆您。",
        "handoff_later": "我們的團隊目前不在線上。我已轉交您的對話，{when}前會有專人回覆您。",
        "greeting": "您好，感謝您與我們聯繫。",
        "sign_off": "客戶服務團隊 敬上",
        "privacy_notice": (
            "隱私權聲明：您提供的資料僅用於處理您的詢問，並遵循適用的個人資料保護法規。我們的隱私權政策說明您的權利，"
            "包括查閱及刪除您個人資料的權利。"
        ),
        "attachment_unread": "謝謝。這裡只能閱讀文字訊息，無法查看圖片或檔案。能否用文字描述一下您需要什麼協助？",
    },
    "ar": {
        "dont_know": "نعتذر، لا تتوفر لدينا معلومات موثوقة حول ذلك. يمكننا تحويل سؤالك إلى أحد الزملاء.",
        "safe_reply": "شكرًا لرسالتك. سيراجع أحد الزملاء طلبك ويعاود التواصل معك.",
        "source_language": "هذه المعلومات متوفرة باللغة {source}:",
        "handoff_now": "نحوّل محادثتك الآن إلى أحد الزملاء، وسيردّ عليك أحد أعضاء الفريق خلال {wait}.",
        "handoff_later": (
            "فريقنا غير متاح حاليًا. حوّلنا محادثتك، وسيردّ عليك أحد أعضاء الفريق بحلول {when}."
        ),
        "greeting": "مرحباً، وشكراً لتواصلك معنا.",
        "sign_off": "مع خالص التحيات، فريق خدمة العملاء",
        "privacy_notice": (
            "إشعار الخصوصية: نستخدم البيانات التي تقدّمها إلينا للرد على طلبك فقط، وفقاً لقوانين حماية البيانات "
            "المعمول بها. وتوضّح سياسة الخصوصية لدينا حقوقك، بما في ذلك حق الاطلاع على بياناتك وحذفها."
        ),
        "attachment_unread": (
            "شكرًا لك. يمكنني هنا قراءة الرسائل النصية فقط، وليس الصور أو الملفات. هل يمكنك وصف ما تحتاجه في رسالة؟"
        ),
    },
}

# The short reply to small talk (``agent.smalltalk``), per kind of courtesy: thanks, hello, bye, and "ok" for the rest
# (acknowledgements, emoji). Written for more languages than the phrases above: a thanks must never go unanswered.
SmallTalkKind = Literal["thanks", "hello", "bye", "ok"]
_SMALL_TALK: dict[str, dict[SmallTalkKind, str]] = {
    "en": {"thanks": "You're welcome! Is there anything else I can help you with?",
           "hello": "Hello! How can I help you today?",
           "bye": "Thank you for getting in touch. Have a great day!",
           "ok": "Is there anything else I can help you with?"},
    "de": {"thanks": "Gern geschehen! Kann ich Ihnen sonst noch helfen?",
           "hello": "Guten Tag! Wie kann ich Ihnen helfen?",
           "bye": "Vielen Dank für Ihre Nachricht. Einen schönen Tag noch!",
           "ok": "Kann ich Ihnen sonst noch helfen?"},
    "fr": {"thanks": "Avec plaisir ! Puis-je vous aider pour autre chose ?",
           "hello": "Bonjour ! Comment puis-je vous aider ?",
           "bye": "Merci de nous avoir contactés. Bonne journée !",
           "ok": "Puis-je vous aider pour autre chose ?"},
    "es": {"thanks": "¡De nada! ¿Puedo ayudarle en algo más?",
           "hello": "¡Hola! ¿En qué puedo ayudarle?",
           "bye": "Gracias por escribirnos. ¡Que tenga un buen día!",
           "ok": "¿Puedo ayudarle en algo más?"},
    "pt": {"thanks": "De nada! Posso ajudar em mais alguma coisa?",
           "hello": "Olá! Como posso ajudar?",
           "bye": "Obrigado pelo contato. Tenha um ótimo dia!",
           "ok": "Posso ajudar em mais alguma coisa?"},
    "it": {"thanks": "Prego! Posso aiutarla in qualcos'altro?",
           "hello": "Buongiorno! Come posso aiutarla?",
           "bye": "Grazie per averci contattato. Buona giornata!",
           "ok": "Posso aiutarla in qualcos'altro?"},
    "id": {"thanks": "Sama-sama! Ada lagi yang bisa kami bantu?",
           "hello": "Halo! Ada yang bisa kami bantu?",
           "bye": "Terima kasih sudah menghubungi kami. Semoga hari Anda menyenangkan!",
           "ok": "Baik. Ada lagi yang bisa kami bantu?"},
    "ms": {"thanks": "Sama-sama! Ada apa-apa lagi yang boleh kami bantu?",
           "hello": "Helo! Apa yang boleh kami bantu?",
           "bye": "Terima kasih kerana menghubungi kami. Semoga hari anda menyenangkan!",
           "ok": "Baik. Ada apa-apa lagi yang boleh kami bantu?"},
    "th": {"thanks": "ยินดีให้บริการ หากมีคำถามเพิ่มเติม สอบถามได้เลย",
           "hello": "สวัสดี ยินดีให้บริการ ต้องการสอบถามเรื่องใด แจ้งได้เลย",
           "bye": "ขอบคุณที่ติดต่อเรา ขอให้เป็นวันที่ดี",
           "ok": "หากมีคำถามเพิ่มเติม สอบถามได้เลย"},
    "vi": {"thanks": "Rất vui được hỗ trợ Quý khách! Quý khách có cần hỗ trợ thêm gì không ạ?",
           "hello": "Xin chào Quý khách! Chúng tôi có thể hỗ trợ gì cho Quý khách?",
           "bye": "Cảm ơn Quý khách đã liên hệ. Chúc Quý khách một ngày tốt lành!",
           "ok": "Quý khách có cần hỗ trợ thêm gì không ạ?"},
    "ja": {"thanks": "恐れ入ります。ほかにご不明な点がございましたら、お気軽にお問い合わせください。",
           "hello": "お問い合わせありがとうございます。どのようなご用件でしょうか。",
           "bye": "お問い合わせいただき、ありがとうございました。またのご利用をお待ちしております。",
           "ok": "ほかにご不明な点がございましたら、お気軽にお問い合わせください。"},
    "zh": {"thanks": "不客气！请问还有什么可以帮您？",
           "hello": "您好！请问有什么可以帮您？",
           "bye": "感谢您的联系，祝您生活愉快！",
           "ok": "请问还有什么可以帮您？"},
    "zh-hant": {"thanks": "不客氣！請問還有什麼可以為您服務的嗎？",
                "hello": "您好！請問有什麼可以為您服務的嗎？",
                "bye": "感謝您的來訊，祝您有美好的一天！",
                "ok": "請問還有什麼可以為您服務的嗎？"},
    "ko": {"thanks": "천만에요! 더 도와드릴 일이 있으신가요?",
           "hello": "안녕하세요! 무엇을 도와드릴까요?",
           "bye": "문의해 주셔서 감사합니다. 좋은 하루 보내세요!",
           "ok": "더 도와드릴 일이 있으신가요?"},
    "ar": {"thanks": "العفو! هل هناك شيء آخر يمكنني مساعدتك فيه؟",
           "hello": "مرحبًا! كيف يمكنني مساعدتك؟",
           "bye": "شكرًا لتواصلك معنا، نتمنى لك يومًا سعيدًا!",
           "ok": "هل هناك شيء آخر يمكنني مساعدتك فيه؟"},
}

# Words some languages put before a language's name in a sentence ("ภาษาอังกฤษ", "bahasa Inggris").
_NAME_PREFIX = {"th": "ภาษา", "id": "bahasa ", "ms": "bahasa "}


def say(phrase: Phrase, language: str, **values: str) -> str:
    """``phrase`` in ``language`` (else its closest variant, else English), with ``{placeholders}`` filled."""
    return _PHRASES[closest_language(_PHRASES, language) or "en"][phrase].format(**values)


def say_in(phrase: Phrase, language: str, **values: str) -> str | None:
    """``phrase`` in ``language`` or its closest variant only; None when polydesk does not speak it."""
    key = closest_language(_PHRASES, language)
    return None if key is None else _PHRASES[key][phrase].format(**values)


def small_talk_reply(kind: SmallTalkKind, language: str) -> str:
    """The short reply to small talk of ``kind`` in ``language`` (its closest variant, else English). Personas have
    no text of their own for it yet: a ``small_talk`` field in the persona YAML would be read here first."""
    return _SMALL_TALK[closest_language(_SMALL_TALK, language) or "en"][kind]


def greeting_for(persona: Persona, language: str) -> str:
    """The persona's greeting in ``language``, else the built-in one in that language, else ""."""
    return persona.greeting(language) or say_in("greeting", language) or ""


def sign_off_for(persona: Persona, language: str) -> str:
    """The persona's sign-off in ``language``, else the built-in one in that language, else ""."""
    return persona.sign_off(language) or say_in("sign_off", language) or ""


def notice_text(notice: ComplianceNotice, language: str, market: Market) -> str:
    """The notice in ``language``; for a privacy notice without that text, the generic privacy notice in it;
    else the market's own text in its default language (a notice must be shown, even in another language)."""
    own = notice.text_for(language)
    if own is not None:
        return own
    generic = say_in("privacy_notice", language) if notice.topic == "privacy" else None
    return generic or notice.text_for(market.default_language) or next(iter(notice.text.values()))


@lru_cache(maxsize=512)
def language_name(language: str, in_language: str) -> str:
    """How ``in_language`` names ``language`` in a sentence ("English" in Thai is "ภาษาอังกฤษ"), from CLDR;
    the English name, else the code, when CLDR has none."""
    base = language.split("-")[0].lower()
    name = _cldr_name(base, in_language)
    if name is None:
        return _cldr_name(base, "en") or language
    reader = in_language.split("-")[0].lower()
    if reader == "vi":
        name = name[:1].lower() + name[1:]  # "Tiếng Anh" heads a list; inside a sentence it is "tiếng Anh"
    return _NAME_PREFIX.get(reader, "") + name


def _cldr_name(language: str, in_language: str) -> str | None:
    try:
        locale = Locale.parse(in_language.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    name: str | None = locale.languages.get(language)
    return name
