"""E-mail parsing without services: the customer's own words out of real mail programs' bodies, charsets,
robots, threads, and the reply mail's headers."""

from __future__ import annotations

import base64
import quopri
import smtplib
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage

import pytest

from api.channels.config import ChannelAccounts
from api.channels.email import EmailAdapter, reply_subject, smtp_outcome
from api.channels.mailtext import decode_text, html_to_text, strip_reply

pytestmark = pytest.mark.unit

ADDRESS = "support@tidewell.example"


def adapter(market: str = "DE") -> EmailAdapter:
    accounts = ChannelAccounts.parse({"tidewell": {"email": {
        "market": market, "address": ADDRESS, "webhook_secret": "s3cret",
        "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none"}}}}, environ={})
    account = accounts.find("email", "tidewell")
    assert account is not None
    return EmailAdapter(account)  # type: ignore[arg-type]


def mail(body: bytes, *, charset: str = "utf-8", cte: str = "8bit", subject: str = "Frage",
         sender: str = "Kundin <kundin@example.de>", extra: str = "", content_type: str = "text/plain") -> bytes:
    head = (f"From: {sender}\r\nTo: {ADDRESS}\r\nSubject: {subject}\r\nMessage-ID: <m1@example.de>\r\n{extra}"
            f"MIME-Version: 1.0\r\nContent-Type: {content_type}; charset={charset}\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n\r\n")
    return head.encode() + body


# -- quoted history and signatures, as mail programs write them -------------------------------------------------

GMAIL_EN = """Hi, does the Drift 40L fit as cabin luggage?

Thanks,
Jane

On Mon, Dec 1, 2026 at 10:02 AM Tidewell Support <support@tidewell.example>
wrote:

> Hello Jane, thanks for your order.
> Kind regards
"""
OUTLOOK_DE = """Guten Tag,

wie lange dauert der Versand nach Österreich?

Mit freundlichen Grüßen
Max Muster

-----Ursprüngliche Nachricht-----
Von: Tidewell Kundenservice <support@tidewell.example>
Gesendet: Montag, 1. Dezember 2026 10:00
An: Max Muster <max@example.de>
Betreff: Ihre Bestellung

Vielen Dank für Ihre Bestellung.
"""
OUTLOOK_FR_NO_SEPARATOR = """Bonjour,
Puis-je retourner un article soldé ?

De : Tidewell <support@tidewell.example>
Envoyé : lundi 1 décembre 2026 10:00
À : Claire <claire@example.fr>
Objet : Votre commande
"""
APPLE_ES = """¿Cuánto tarda el envío a Monterrey?

Enviado desde mi iPhone

El 1 dic 2026, a las 10:00, Tidewell <support@tidewell.example> escribió:

> Gracias por tu pedido.
"""
THUNDERBIRD_PT = "Olá, qual é o prazo de troca?\n\n-- \nJoão Silva\nLoja Exemplo Ltda.\n"  # "-- ": the delimiter
GMAIL_JA = """日本への送料はいくらですか？

2026年12月1日(月) 10:00 Tidewell サポート <support@tidewell.example>:

> ご注文ありがとうございます。
"""
APPLE_JA = """返品の送料は誰が負担しますか？

iPhoneから送信

2026/12/01 10:00、Tidewell <support@tidewell.example>のメール:

> ありがとうございます。
"""
GMAIL_ZH = """请问可以寄到台湾吗？

从我的iPhone发送

Tidewell <support@tidewell.example> 于2026年12月1日周一 10:00写道：

> 感谢您的订单。
"""
GMAIL_ID = """Apakah ada gratis ongkir ke Surabaya?

Pada tanggal Sen, 1 Des 2026 pukul 10.00 Tidewell <support@tidewell.example>
menulis:

> Terima kasih atas pesanan Anda.
"""
GMAIL_VI = """Phí vận chuyển đến Hà Nội là bao nhiêu?

Vào Th 2, 1 thg 12, 2026 vào lúc 10:00 Tidewell <support@tidewell.example> đã viết:

> Cảm ơn bạn đã đặt hàng.
"""
GMAIL_TH = """ส่งฟรีเมื่อซื้อครบเท่าไหร่คะ

เมื่อ จ. 1 ธ.ค. 2026 เวลา 10:00 Tidewell <support@tidewell.example> เขียนว่า:

> ขอบคุณสำหรับคำสั่งซื้อค่ะ
"""
GMAIL_AR = """كم تستغرق مدة الشحن إلى الرياض؟

أرسلت من الـ iPhone الخاص بي

في الاثنين، 1 ديسمبر 2026 في 10:00 ص، Tidewell <support@tidewell.example> كتب:

> شكرا لطلبك.
"""
BOTTOM_POSTED = """On 01/12/2026 10:00, Tidewell wrote:
> Which size do you need?

Size M, please. And is there free shipping?
"""


@pytest.mark.parametrize(("body", "kept", "dropped"), [
    (GMAIL_EN, "does the Drift 40L fit as cabin luggage?\n\nThanks,\nJane", "thanks for your order"),
    (OUTLOOK_DE, "wie lange dauert der Versand nach Österreich?\n\nMit freundlichen Grüßen\nMax Muster",
     "Vielen Dank"),
    (OUTLOOK_FR_NO_SEPARATOR, "Puis-je retourner un article soldé ?", "Objet"),
    (APPLE_ES, "¿Cuánto tarda el envío a Monterrey?", "iPhone"),
    (THUNDERBIRD_PT, "Olá, qual é o prazo de troca?", "Loja Exemplo"),
    (GMAIL_JA, "日本への送料はいくらですか？", "ご注文"),
    (APPLE_JA, "返品の送料は誰が負担しますか？", "iPhoneから送信"),
    (GMAIL_ZH, "请问可以寄到台湾吗？", "感谢"),
    (GMAIL_ID, "Apakah ada gratis ongkir ke Surabaya?", "Terima kasih"),
    (GMAIL_VI, "Phí vận chuyển đến Hà Nội là bao nhiêu?", "Cảm ơn"),
    (GMAIL_TH, "ส่งฟรีเมื่อซื้อครบเท่าไหร่คะ", "ขอบคุณ"),
    (GMAIL_AR, "كم تستغرق مدة الشحن إلى الرياض؟", "iPhone"),
    (BOTTOM_POSTED, "Size M, please. And is there free shipping?", "Which size"),
], ids=["gmail-en", "outlook-de", "outlook-fr", "apple-es", "thunderbird-pt", "gmail-ja", "apple-ja", "gmail-zh",
        "gmail-id", "gmail-vi", "gmail-th", "gmail-ar", "bottom-posted"])
def test_quoted_history_and_signatures_are_cut(body: str, kept: str, dropped: str) -> None:
    text = strip_reply(body)
    assert kept in text
    assert dropped not in text
    assert "support@tidewell.example" not in text


@pytest.mark.parametrize("line", ["I sent it by mail yesterday, has it arrived?", "Von meinem Konto fehlt Geld.",
                                  "Sent items are not shown in my account"])
def test_a_customers_own_lines_about_sending_are_kept(line: str) -> None:
    assert strip_reply(f"Hello,\n{line}\nThanks") == f"Hello,\n{line}\nThanks"


def test_html_bodies_lose_gmail_quotes_signatures_and_outlooks_history() -> None:
    gmail = ('<div dir="ltr">Wo ist mein Paket?<br><div class="gmail_signature">Max | Muster GmbH</div></div>'
             '<br><div class="gmail_quote"><div class="gmail_attr">Am Mo., 1. Dez. 2026 schrieb Tidewell:</div>'
             '<blockquote class="gmail_quote">Danke für Ihre Bestellung</blockquote></div>')
    assert html_to_text(gmail) == "Wo ist mein Paket?"
    outlook = ('<html><head><style>p{margin:0}</style></head><body><p>Bonjour,</p><p>où est mon colis&nbsp;?</p>'
               '<div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>De :</b> Tidewell</div>'
               '<div>Merci pour votre commande</div></body></html>')
    assert html_to_text(outlook) == "Bonjour,\n\noù est mon colis\u00a0?"
    apple = '<div>返品できますか？</div><div><br><blockquote type="cite"><div>ご注文ありがとうございます</div></blockquote></div>'
    assert html_to_text(apple) == "返品できますか？"


@pytest.mark.parametrize(("text", "charset"), [
    ("送料はいくらですか？", "iso-2022-jp"), ("送料はいくらですか？①", "shift_jis"), ("运费是多少？", "gb2312"),
    ("運費是多少？", "big5"), ("كم رسوم الشحن؟", "windows-1256"), ("ค่าส่งเท่าไหร่คะ", "tis-620"),
    ("ค่าส่งเท่าไหร่คะ", "windows-874"), ("Grüße aus Köln", "iso-8859-1"), ("Phí vận chuyển", "utf-8"),
])
def test_text_is_decoded_in_its_charset(text: str, charset: str) -> None:
    encodable = text.replace("①", "") if charset == "shift_jis" else text
    codec = {"shift_jis": "cp932", "tis-620": "cp874", "windows-874": "cp874"}.get(charset, charset)
    assert decode_text(text.encode(codec) if charset == "shift_jis" else encodable.encode(codec), charset) == text


def test_an_unknown_charset_is_read_as_utf8_and_stray_bytes_never_fail() -> None:
    assert decode_text("Grüße".encode(), "x-unknown-charset") == "Grüße"
    assert decode_text(b"ok \xff", "utf-8") == "ok \ufffd"


# -- parsing whole mails ---------------------------------------------------------------------------------------

def test_a_quoted_printable_latin1_mail_is_the_question_with_its_subject() -> None:
    body = quopri.encodestring("Wie lange dauert der Versand nach Österreich?\n\n-- \nMax\n".encode("latin-1"))
    [inbound] = adapter().parse(mail(body, charset="iso-8859-1", cte="quoted-printable", subject="Lieferzeit"),
                                received_at=0.0)
    assert inbound.message.message == "Lieferzeit\n\nWie lange dauert der Versand nach Österreich?"
    assert inbound.message.customer_id == "kundin@example.de"
    assert inbound.event_id == "<m1@example.de>"
    assert inbound.context == {"to": "kundin@example.de", "to_name": "Kundin", "subject": "Re: Lieferzeit",
                               "in_reply_to": "<m1@example.de>", "references": "<m1@example.de>"}


def test_an_iso2022jp_mail_with_encoded_headers() -> None:
    subject = Header("Re: 送料について", "iso-2022-jp").encode()
    sender = f"{Header('山田 花子', 'iso-2022-jp').encode()} <Hanako@Example.JP>"
    extra = "References: <root@example.jp> <polydesk.1.0@tidewell.example>\r\nIn-Reply-To: <polydesk.1.0@tidewell.example>\r\n"
    raw = mail("送料はいくらですか？\n".encode("iso2022_jp"), charset="ISO-2022-JP", cte="7bit", subject=subject,
               sender=sender, extra=extra)
    [inbound] = adapter("JP").parse(raw, received_at=0.0)
    assert inbound.message.message == "送料はいくらですか？"  # a reply's subject is not part of the question
    assert inbound.context["subject"] == "Re: 送料について"
    assert inbound.context["to_name"] == "山田 花子"
    assert inbound.context["references"] == "<root@example.jp> <polydesk.1.0@tidewell.example> <m1@example.de>"


def test_mails_of_one_thread_share_a_conversation_and_other_senders_do_not() -> None:
    first = adapter().parse(mail(b"Frage eins"), received_at=0.0)[0]
    later = mail(b"Frage zwei", extra="References: <m1@example.de> <polydesk.x.0@tidewell.example>\r\n")
    second = adapter().parse(later.replace(b"<m1@example.de>\r\nMIME", b"<m2@example.de>\r\nMIME"), received_at=0.0)[0]
    assert second.message.conversation_id == first.message.conversation_id
    stranger = adapter().parse(later.replace(b"kundin@example.de", b"jemand@example.de"), received_at=0.0)[0]
    assert stranger.message.conversation_id != first.message.conversation_id
    assert str(first.message.conversation_id).startswith("email-") and len(str(first.message.conversation_id)) == 30


def test_a_multipart_mail_uses_the_text_part_and_lists_attachments() -> None:
    boundary = "b0undary"
    pdf = base64.encodebytes(b"%PDF-1.4 fake").decode()
    body = (f"--{boundary}\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n"
            "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nRechnung anbei, bitte erstatten.\r\n"
            "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML version</p>\r\n--alt--\r\n"
            f"--{boundary}\r\nContent-Type: application/pdf; name=\"Rechnung.pdf\"\r\n"
            "Content-Disposition: attachment; filename=\"Rechnung.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{pdf}\r\n--{boundary}--\r\n").encode()
    raw = mail(body, content_type=f'multipart/mixed; boundary="{boundary}"', charset="utf-8")
    [inbound] = adapter().parse(raw, received_at=0.0)
    assert inbound.message.message == "Frage\n\nRechnung anbei, bitte erstatten."
    assert inbound.message.metadata["email_attachments"] == "Rechnung.pdf (application/pdf)"


@pytest.mark.parametrize("extra", [
    "Auto-Submitted: auto-replied\r\n", "Precedence: bulk\r\n", "X-Autoreply: yes\r\n", "Return-Path: <>\r\n",
])
def test_robots_are_not_answered(extra: str) -> None:
    assert adapter().parse(mail(b"Ich bin bis Montag nicht im Haus.", extra=extra), received_at=0.0) == []


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.de", "no-reply@shop.example", ADDRESS])
def test_daemons_and_the_brand_itself_are_not_answered(sender: str) -> None:
    assert adapter().parse(mail(b"Delivery failed", sender=sender), received_at=0.0) == []


def test_a_reply_with_nothing_of_its_own_is_skipped_and_no_from_is_no_mail() -> None:
    quoted = mail(b"> only the quote\r\n", extra="In-Reply-To: <polydesk.1.0@tidewell.example>\r\n")
    assert adapter().parse(quoted, received_at=0.0) == []
    with pytest.raises(ValueError, match="From"):
        adapter().parse(b"not a mail at all", received_at=0.0)


def test_reply_subjects_get_one_re_in_any_language() -> None:
    assert [reply_subject(s) for s in ("Versand", "AW: Re: Versand", "回复：运费", "RE[2]: x", "")] == \
        ["Re: Versand", "Re: Versand", "Re: 运费", "Re: x", "Re:"]


def test_the_reply_mail_threads_and_encodes_any_language() -> None:
    context = {"to": "kundin@example.sa", "to_name": "عميلة", "subject": "Re: رسوم الشحن إلى الرياض",
               "in_reply_to": "<m1@example.sa>", "references": "<root@example.sa> <m1@example.sa>"}
    composed = adapter().compose("**الشحن** مجاني للطلبات بقيمة 200 ريال فأكثر.", context=context, key="abc.0")
    parsed = message_from_bytes(composed.as_bytes(), _class=EmailMessage, policy=policy.default)
    assert parsed["Subject"] == "Re: رسوم الشحن إلى الرياض"
    assert parsed["Message-ID"] == "<polydesk.abc.0@tidewell.example>"
    assert parsed["In-Reply-To"] == "<m1@example.sa>"
    assert parsed["References"] == "<root@example.sa> <m1@example.sa>"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert composed.as_bytes().isascii()  # headers encoded, bodies quoted-printable or base64
    html = parsed.get_body(preferencelist=("html",))
    assert html is not None and 'dir="auto"' in html.get_content()


@pytest.mark.parametrize(("error", "verdict", "unreachable"), [
    (smtplib.SMTPRecipientsRefused({"a@b.example": (550, b"5.1.1 no such user")}), "rejected", False),
    (smtplib.SMTPRecipientsRefused({"a@b.example": (451, b"greylisted")}), "retry", False),
    (smtplib.SMTPDataError(554, b"5.7.1 spam"), "rejected", False),
    (smtplib.SMTPDataError(451, b"try later"), "retry", False),
    (smtplib.SMTPConnectError(421, b"busy"), "retry", True),
    (smtplib.SMTPAuthenticationError(535, b"bad credentials"), "retry", True),
    (smtplib.SMTPServerDisconnected("gone"), "retry", True),
    (ConnectionRefusedError(111, "refused"), "retry", True),
    (TimeoutError("timed out"), "retry", True),
])
def test_smtp_errors_map_to_retry_or_dead(error: Exception, verdict: str, unreachable: bool) -> None:
    outcome = smtp_outcome(error)
    assert (outcome.verdict, outcome.unreachable) == (verdict, unreachable)
