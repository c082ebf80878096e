"""The sentences of ``agent.tools.phrases``, per language (data only; the rules are in that module's docstring).

``PHRASES[language]``: ``ask_parameter`` (``{what}`` is a noun phrase from ``NOUNS``, which carries any article,
possessive or particle the language needs), ``tool_failed``, ``tool_failed_handoff``, ``not_yours`` and
``not_found`` (``{value}``). ``ASK_DESCRIBED[language]`` asks for any text (a brand's description or label),
built so that it fits whatever the text is.
"""

# ruff: noqa: E501  (whole sentences read better unwrapped, as in agent/phrases.py)
from __future__ import annotations

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "ask_parameter": "Could you send me your {what}?",
        "tool_failed": "I'm sorry, I can't look that up right now. Please try again a little later.",
        "tool_failed_handoff": "I'm sorry, I can't look that up right now. A colleague will take over and get back to you.",
        "not_yours": "I can only share the details of orders placed with the e-mail address or customer account you contacted us with. If this order is yours, please write to us from that address or account.",
        "not_found": "I couldn't find an order with the number {value}. Could you check it and send it again?",
    },
    "de": {
        "ask_parameter": "Könnten Sie mir bitte Ihre {what} senden?",
        "tool_failed": "Das kann ich im Moment leider nicht nachsehen. Bitte versuchen Sie es etwas später noch einmal.",
        "tool_failed_handoff": "Das kann ich im Moment leider nicht nachsehen. Eine Kollegin oder ein Kollege übernimmt und meldet sich bei Ihnen.",
        "not_yours": "Ich kann nur Details zu Bestellungen nennen, die mit der E-Mail-Adresse oder dem Kundenkonto aufgegeben wurden, über die Sie uns kontaktiert haben. Wenn es Ihre Bestellung ist, schreiben Sie uns bitte von dieser Adresse oder diesem Konto aus.",
        "not_found": "Ich konnte keine Bestellung mit der Nummer {value} finden. Könnten Sie die Nummer prüfen und erneut senden?",
    },
    "fr": {
        "ask_parameter": "Pourriez-vous m'envoyer votre {what} ?",
        "tool_failed": "Malheureusement, je ne peux pas consulter cette information pour le moment. Veuillez réessayer un peu plus tard.",
        "tool_failed_handoff": "Malheureusement, je ne peux pas consulter cette information pour le moment. Un membre de notre équipe va prendre le relais et reviendra vers vous.",
        "not_yours": "Je ne peux communiquer que les détails des commandes passées avec l'adresse e-mail ou le compte client depuis lequel vous nous avez écrit. Si cette commande est la vôtre, écrivez-nous depuis cette adresse ou ce compte.",
        "not_found": "Je n'ai trouvé aucune commande portant le numéro {value}. Pourriez-vous vérifier ce numéro et nous le renvoyer ?",
    },
    "es": {
        "ask_parameter": "¿Podría enviarme su {what}?",
        "tool_failed": "Lo siento, en este momento no puedo consultarlo. Por favor, inténtelo de nuevo un poco más tarde.",
        "tool_failed_handoff": "Lo siento, en este momento no puedo consultarlo. Una persona de nuestro equipo se encargará y le responderá.",
        "not_yours": "Solo puedo compartir los detalles de pedidos realizados con el correo electrónico o la cuenta de cliente desde los que nos ha escrito. Si este pedido es suyo, escríbanos desde ese correo o esa cuenta.",
        "not_found": "No encontramos ningún pedido con el número {value}. ¿Podría verificarlo y enviarlo de nuevo?",
    },
    "pt": {
        "ask_parameter": "Poderia enviar o {what}, por favor?",
        "tool_failed": "Desculpe, não consigo consultar essa informação agora. Tente novamente um pouco mais tarde.",
        "tool_failed_handoff": "Desculpe, não consigo consultar essa informação agora. Uma pessoa da nossa equipe vai dar continuidade ao atendimento e responder em breve.",
        "not_yours": "Só posso compartilhar os detalhes de pedidos feitos com o e-mail ou a conta de cliente usados neste contato. Se o pedido for seu, escreva para nós a partir desse e-mail ou dessa conta.",
        "not_found": "Não encontrei nenhum pedido com o número {value}. Poderia verificar o número e enviá-lo novamente?",
    },
    "id": {
        "ask_parameter": "Bisakah Anda mengirimkan {what} Anda?",
        "tool_failed": "Maaf, saat ini saya belum bisa memeriksanya. Silakan coba lagi beberapa saat lagi.",
        "tool_failed_handoff": "Maaf, saat ini saya belum bisa memeriksanya. Rekan kami akan melanjutkan dan segera menghubungi Anda.",
        "not_yours": "Saya hanya dapat memberikan detail pesanan yang dibuat dengan alamat email atau akun pelanggan yang Anda gunakan untuk menghubungi kami. Jika pesanan ini milik Anda, silakan hubungi kami dari alamat email atau akun tersebut.",
        "not_found": "Saya tidak menemukan pesanan dengan nomor {value}. Bisakah Anda memeriksa nomornya dan mengirimkannya lagi?",
    },
    "ms": {
        "ask_parameter": "Bolehkah anda hantar {what} anda?",
        "tool_failed": "Maaf, saya tidak dapat menyemaknya buat masa ini. Sila cuba lagi sebentar nanti.",
        "tool_failed_handoff": "Maaf, saya tidak dapat menyemaknya buat masa ini. Rakan kami akan mengambil alih dan menghubungi anda.",
        "not_yours": "Saya hanya boleh berkongsi butiran pesanan yang dibuat dengan alamat e-mel atau akaun pelanggan yang anda gunakan untuk menghubungi kami. Jika pesanan ini milik anda, sila hubungi kami dari alamat e-mel atau akaun tersebut.",
        "not_found": "Saya tidak menemui pesanan dengan nombor {value}. Bolehkah anda semak nombor itu dan hantar semula?",
    },
    "th": {
        "ask_parameter": "กรุณาแจ้ง{what}ของท่าน",
        "tool_failed": "ขออภัย ขณะนี้ยังไม่สามารถตรวจสอบข้อมูลนี้ได้ กรุณาลองใหม่อีกครั้งในภายหลัง",
        "tool_failed_handoff": "ขออภัย ขณะนี้ยังไม่สามารถตรวจสอบข้อมูลนี้ได้ เจ้าหน้าที่จะรับเรื่องต่อและติดต่อกลับโดยเร็ว",
        "not_yours": "ขออภัย สามารถแจ้งรายละเอียดได้เฉพาะคำสั่งซื้อที่สั่งด้วยอีเมลหรือบัญชีลูกค้าที่ท่านใช้ติดต่อเราเท่านั้น หากเป็นคำสั่งซื้อของท่าน กรุณาติดต่อเราจากอีเมลหรือบัญชีนั้น",
        "not_found": "ไม่พบคำสั่งซื้อหมายเลข {value} กรุณาตรวจสอบหมายเลขแล้วส่งมาอีกครั้ง",
    },
    "vi": {
        "ask_parameter": "Quý khách vui lòng gửi giúp {what} được không ạ?",
        "tool_failed": "Xin lỗi, hiện tôi chưa thể tra cứu thông tin này. Quý khách vui lòng thử lại sau ít phút.",
        "tool_failed_handoff": "Xin lỗi, hiện tôi chưa thể tra cứu thông tin này. Đồng nghiệp của tôi sẽ tiếp nhận và phản hồi Quý khách.",
        "not_yours": "Tôi chỉ có thể cung cấp thông tin về các đơn hàng được đặt bằng địa chỉ email hoặc tài khoản khách hàng mà Quý khách đang dùng để liên hệ. Nếu đây là đơn hàng của Quý khách, vui lòng liên hệ với chúng tôi từ địa chỉ email hoặc tài khoản đó.",
        "not_found": "Tôi không tìm thấy đơn hàng nào có mã {value}. Quý khách vui lòng kiểm tra và gửi lại giúp được không ạ?",
    },
    "ja": {
        "ask_parameter": "{what}をお知らせいただけますでしょうか。",
        "tool_failed": "申し訳ございません。ただいまこちらの情報をお調べすることができません。しばらくしてから、もう一度お試しください。",
        "tool_failed_handoff": "申し訳ございません。ただいまこちらの情報をお調べすることができません。担当者が引き継ぎ、改めてご連絡いたします。",
        "not_yours": "ご注文の詳細は、お問い合わせいただいたメールアドレスまたはお客様アカウントでのご注文に限りお伝えしております。ご自身のご注文の場合は、そのメールアドレスまたはアカウントからお問い合わせください。",
        "not_found": "番号{value}のご注文が見つかりませんでした。番号をご確認のうえ、もう一度お送りいただけますでしょうか。",
    },
    "zh": {
        "ask_parameter": "请问您的{what}是多少？",
        "tool_failed": "抱歉，目前无法查询该信息，请稍后再试。",
        "tool_failed_handoff": "抱歉，目前无法查询该信息。同事会接手处理，并尽快回复您。",
        "not_yours": "我只能提供使用您联系我们时所用的邮箱或客户账户下单的订单详情。如果这是您的订单，请通过该邮箱或账户联系我们。",
        "not_found": "未找到编号为{value}的订单。请核对号码后再发送一次。",
    },
    "zh-hant": {
        "ask_parameter": "請問您的{what}是多少？",
        "tool_failed": "抱歉，目前無法查詢這項資訊，請稍後再試。",
        "tool_failed_handoff": "抱歉，目前無法查詢這項資訊。同事會接手處理，並盡快回覆您。",
        "not_yours": "我只能提供以您聯繫我們時所用的電子郵件或客戶帳戶下單的訂單詳情。如果這是您的訂單，請透過該電子郵件或帳戶與我們聯繫。",
        "not_found": "找不到編號為{value}的訂單。請核對號碼後再傳送一次。",
    },
    "ar": {
        "ask_parameter": "هل يمكنك إرسال {what}؟",
        "tool_failed": "نعتذر، لا يمكننا التحقق من ذلك الآن. يُرجى المحاولة مرة أخرى بعد قليل.",
        "tool_failed_handoff": "نعتذر، لا يمكننا التحقق من ذلك الآن. سيتولى أحد الزملاء متابعة طلبك ويعاود التواصل معك.",
        "not_yours": "لا يمكننا مشاركة تفاصيل الطلبات إلا إذا كانت مسجّلة بعنوان البريد الإلكتروني أو حساب العميل الذي تواصلت معنا من خلاله. إذا كان هذا الطلب يخصك، يُرجى مراسلتنا من ذلك العنوان أو الحساب.",
        "not_found": "لم نعثر على طلب بالرقم {value}. هل يمكنك التحقق من الرقم وإرساله مرة أخرى؟",
    },
    "ko": {
        "ask_parameter": "{what} 알려 주시겠어요?",
        "tool_failed": "죄송합니다. 지금은 해당 정보를 조회할 수 없습니다. 잠시 후 다시 시도해 주세요.",
        "tool_failed_handoff": "죄송합니다. 지금은 해당 정보를 조회할 수 없습니다. 담당자가 이어서 확인한 후 연락드리겠습니다.",
        "not_yours": "문의하신 이메일 주소나 고객 계정으로 주문한 건에 대해서만 상세 정보를 안내해 드릴 수 있습니다. 본인의 주문이라면 해당 이메일 주소나 계정으로 문의해 주세요.",
        "not_found": "번호 {value}에 해당하는 주문을 찾을 수 없습니다. 번호를 확인하신 후 다시 보내 주시겠어요?",
    },
}

# The noun phrase for ``{what}`` in ``ask_parameter``, with whatever the language's sentence needs around it.
NOUNS: dict[str, dict[str, str]] = {
    "en": {"order_number": "order number", "tracking_number": "tracking number"},
    "de": {"order_number": "Bestellnummer", "tracking_number": "Sendungsnummer"},
    "fr": {"order_number": "numéro de commande", "tracking_number": "numéro de suivi"},
    "es": {"order_number": "número de pedido", "tracking_number": "número de seguimiento"},
    "pt": {"order_number": "número do pedido", "tracking_number": "código de rastreio"},
    "id": {"order_number": "nomor pesanan", "tracking_number": "nomor resi"},
    "ms": {"order_number": "nombor pesanan", "tracking_number": "nombor penjejakan"},
    "th": {"order_number": "หมายเลขคำสั่งซื้อ", "tracking_number": "หมายเลขติดตามพัสดุ"},
    "vi": {"order_number": "mã đơn hàng", "tracking_number": "mã vận đơn"},
    "ja": {"order_number": "ご注文番号", "tracking_number": "お荷物の追跡番号"},
    "zh": {"order_number": "订单号", "tracking_number": "物流单号"},
    "zh-hant": {"order_number": "訂單編號", "tracking_number": "物流追蹤編號"},
    "ar": {"order_number": "رقم طلبك", "tracking_number": "رقم تتبّع شحنتك"},
    "ko": {"order_number": "주문 번호를", "tracking_number": "운송장 번호를"},
}

# Asking for any text (a brand's description or label): the text stands on its own after a colon.
ASK_DESCRIBED: dict[str, str] = {
    "en": "To look this up, I need the following: {what}. Could you send it to me?",
    "de": "Dafür benötige ich noch folgende Angabe: {what}. Könnten Sie mir diese bitte senden?",
    "fr": "Pour effectuer cette recherche, j'ai besoin de l'information suivante : {what}. Pourriez-vous me la transmettre ?",
    "es": "Para consultarlo necesito el siguiente dato: {what}. ¿Podría enviármelo?",
    "pt": "Para fazer essa consulta, preciso da seguinte informação: {what}. Poderia enviá-la, por favor?",
    "id": "Untuk memeriksanya, saya memerlukan informasi berikut: {what}. Bisakah Anda mengirimkannya?",
    "ms": "Untuk menyemaknya, saya memerlukan maklumat berikut: {what}. Bolehkah anda menghantarnya?",
    "th": "เพื่อตรวจสอบข้อมูล กรุณาแจ้งข้อมูลต่อไปนี้: {what}",
    "vi": "Để tra cứu, tôi cần thông tin sau: {what}. Quý khách vui lòng gửi giúp được không ạ?",
    "ja": "お調べするために、次の情報が必要です：{what}。お知らせいただけますでしょうか。",
    "zh": "为了查询，我需要以下信息：{what}。请您提供一下好吗？",
    "zh-hant": "為了查詢，我需要以下資訊：{what}。請您提供好嗎？",
    "ar": "للتحقق من ذلك، نحتاج إلى المعلومة التالية: {what}. هل يمكنك إرسالها؟",
    "ko": "조회를 위해 다음 정보가 필요합니다: {what}. 알려 주시겠어요?",
}
