"""E-mail end to end: mail fetched from a fake IMAP server or POSTed raw and signed, replies at a fake SMTP server."""

from __future__ import annotations

import base64
import contextlib
import logging
import quopri
import time
import uuid
from collections.abc import Iterator
from email.header import Header
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.channels.config import ChannelAccounts
from api.channels.email import signature
from api.channels.mailbox import Mailboxes
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from polydesk.errors import ConfigError
from polydesk.language import LanguageDetector
from tests.api.channel_fakes import QUIET_S, channel_app
from tests.api.mail_fakes import FakeImap, FakeSmtp, SentMail, serve_imap, serve_smtp, wait_for
from tests.conftest import RuntimeFactory

pytestmark = pytest.mark.integration

ADDRESS = "support@tidewell.example"
HOOK_SECRET = "tidewell-mail-hook-7f3a"
IMAP_PASSWORD = 'imap "pass" \\ word'
SMTP_PASSWORD = "smtp-pass-word"
WEBHOOK = "/v1/channels/email/tidewell/webhook"
MAX_MAIL_BYTES = 300_000


def account(market: str, smtp: FakeSmtp, imap: FakeImap | None = None, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "market": market, "address": ADDRESS, "display_name": "Tidewell", "poll_s": 0.3,
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "tls": "none", "username": ADDRESS,
                 "password": SMTP_PASSWORD},
    }
    if imap is not None:
        found["imap"] = {"host": "127.0.0.1", "port": imap.port, "tls": "none", "username": ADDRESS,
                         "password": IMAP_PASSWORD}
    return found | extra


@pytest.fixture(scope="module")
def smtp() -> Iterator[FakeSmtp]:
    yield from serve_smtp(ADDRESS, SMTP_PASSWORD)


@pytest.fixture(scope="module")
def imap() -> Iterator[FakeImap]:
    yield from serve_imap(ADDRESS, IMAP_PASSWORD)


@pytest.fixture(scope="module")
def client(demo: tuple[IngestReport, KnowledgeIndex], open_runtime: RuntimeFactory, smtp: FakeSmtp, imap: FakeImap,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    channels = {"tidewell": {"email": account("DE", smtp, imap, webhook_secret=HOOK_SECRET)},
                "acme": {"email": account("US", smtp) | {"address": "help@acme.example"}}}
    yield from channel_app(demo[1], open_runtime, tmp_path_factory.mktemp("email"), channels,
                           channel_email_max_bytes=MAX_MAIL_BYTES)


def raw_mail(body: bytes, *, sender: str, subject: str, charset: str = "utf-8", cte: str = "8bit",
             message_id: str | None = None, references: str = "", extra: str = "",
             content_type: str = "text/plain") -> bytes:
    """A mail as a mail program sends it (CRLF lines; headers already encoded where they need to be)."""
    message_id = message_id or f"<{uuid.uuid4().hex}@mail.example>"
    thread = f"References: {references}\r\nIn-Reply-To: {references.split()[-1]}\r\n" if references else ""
    head = (f"From: {sender}\r\nTo: Tidewell <{ADDRESS}>\r\nSubject: {subject}\r\nDate: Tue, 2 Dec 2026 09:00:00 +0100"
            f"\r\nMessage-ID: {message_id}\r\n{thread}{extra}MIME-Version: 1.0\r\n"
            f"Content-Type: {content_type}; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n")
    return head.encode() + body


def customer(domain: str = "example.de") -> str:
    return f"kunde-{uuid.uuid4().hex[:10]}@{domain}"


def post(client: TestClient, raw: bytes, *, secret: str | None = HOOK_SECRET, url: str = WEBHOOK) -> Any:
    headers = {"Content-Type": "message/rfc822"}
    if secret is not None:
        headers["X-Polydesk-Signature"] = signature(raw, secret)
    return client.post(url, content=raw, headers=headers)


def answered(smtp: FakeSmtp, address: str, *, quiet_s: float = QUIET_S) -> SentMail:
    """The one reply to ``address``, after the background had time to send any second one."""
    wait_for(lambda: bool(smtp.to(address)), what=f"a reply to {address}; sessions: {smtp.sessions}")
    _quiet(quiet_s)
    [reply] = smtp.to(address)
    return reply


def _quiet(seconds: float) -> None:
    """Let the background run a while (for checking that nothing more arrives)."""
    time.sleep(seconds)


def question(client: TestClient, sender: str) -> str:
    """What the agent was asked: the customer's turn of the sender's conversation."""
    store = client.app.state.services.conversations  # type: ignore[attr-defined]
    [conversation] = store.customer_conversations("tidewell", sender)
    return "\n".join(turn.text for turn in conversation.turns if turn.role == "customer")


# -- three languages by IMAP, each its own market ---------------------------------------------------------------

JA_BODY = ("日本への送料はいくらですか？\n\n山田花子\n\n"
           "2026/12/01 10:00、Tidewell <support@tidewell.example>のメール:\n\n> ご注文ありがとうございます。\n")
DE_BODY = ("Guten Tag,\n\nwie hoch sind die Versandkosten innerhalb Deutschlands?\n\nMit freundlichen Grüßen\n"
           "Max Muster\n\n-----Ursprüngliche Nachricht-----\nVon: Tidewell <support@tidewell.example>\n"
           "Gesendet: Montag, 1. Dezember 2026 10:00\nAn: Max Muster\nBetreff: Ihre Bestellung\n\n"
           "Vielen Dank für Ihre Bestellung bei uns.\n")
AR_BODY = ("مرحبا،\nكم رسوم الشحن داخل المملكة؟\n\nأرسلت من الـ iPhone الخاص بي\n\n"
           "في الاثنين، 1 ديسمبر 2026 في 10:00 ص، Tidewell <support@tidewell.example> كتب:\n\n> شكرا لطلبك.\n")
LANGUAGES = {  # market, language, body bytes and headers, what must not reach the agent
    "ja": ("JP", "ja", lambda: JA_BODY.encode("iso2022_jp"), "ISO-2022-JP", "7bit",
           Header("Re: 送料について", "iso-2022-jp").encode(), "ご注文ありがとう"),
    "de": ("DE", "de", lambda: quopri.encodestring(DE_BODY.encode("cp1252")), "windows-1252", "quoted-printable",
           "=?windows-1252?Q?Versandkosten_f=FCr_Deutschland?=", "Vielen Dank"),
    "ar": ("SA", "ar", lambda: base64.encodebytes(AR_BODY.encode("cp1256")), "windows-1256", "base64",
           Header("رسوم الشحن", "utf-8").encode(), "شكرا لطلبك"),
}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_mail_by_imap_is_answered_once_in_its_thread_and_language(
        language: str, demo: tuple[IngestReport, KnowledgeIndex], open_runtime: RuntimeFactory, smtp: FakeSmtp,
        tmp_path: Path) -> None:
    market, expected, body, charset, cte, subject, quoted = LANGUAGES[language]
    sender, own_id = customer(), f"<{language}-{uuid.uuid4().hex}@mail.example>"
    references = "<root-1@mail.example> <polydesk.0a1b.0@tidewell.example>" if language == "ja" else ""
    with contextlib.ExitStack() as stack:
        mailbox = stack.enter_context(contextlib.contextmanager(serve_imap)(ADDRESS, IMAP_PASSWORD))
        channels = {"tidewell": {"email": account(market, smtp, mailbox)}}
        app = stack.enter_context(contextlib.contextmanager(channel_app)(demo[1], open_runtime, tmp_path, channels))
        uid = mailbox.deliver(raw_mail(body(), sender=f"Kunde <{sender}>", subject=subject, charset=charset, cte=cte,
                                       message_id=own_id, references=references))
        reply = answered(smtp, sender)
        assert mailbox.seen(uid)
        asked = question(app, sender)
    message = reply.message
    assert reply.mail_from == ADDRESS and reply.rcpt_to == [sender]
    assert message["In-Reply-To"] == own_id
    assert message["References"] == f"{references} {own_id}".strip()
    assert message["Subject"] == {"ja": "Re: 送料について", "de": "Re: Versandkosten für Deutschland",
                                  "ar": "Re: رسوم الشحن"}[language]
    assert message["Message-ID"].endswith("@tidewell.example>") and message["Auto-Submitted"] == "auto-replied"
    assert LanguageDetector().detect(reply.text(), market=market) == expected
    assert quoted not in asked and "iPhone" not in asked and "support@tidewell.example" not in asked


# -- the signed raw-MIME POST -----------------------------------------------------------------------------------

def test_a_signed_raw_mail_is_queued_and_answered(client: TestClient, smtp: FakeSmtp) -> None:
    sender = customer()
    raw = raw_mail(b"Wie hoch sind die Versandkosten?", sender=sender, subject="Versand")
    response = post(client, raw)
    assert response.status_code == 200 and response.json() == {"queued": 1, "duplicates": 0}
    reply = answered(smtp, sender)
    assert reply.message["Subject"] == "Re: Versand"
    assert "**" not in reply.text() and reply.text().strip()


@pytest.mark.parametrize("fault", ["tampered", "wrong_secret", "missing_header"])
def test_a_raw_mail_without_the_right_signature_is_refused_with_no_side_effect(
        client: TestClient, smtp: FakeSmtp, fault: str) -> None:
    sender = customer()
    raw = raw_mail(b"Wie hoch sind die Versandkosten?", sender=sender, subject="Versand")
    headers = {"Content-Type": "message/rfc822", "X-Polydesk-Signature": signature(raw, HOOK_SECRET)}
    if fault == "tampered":
        response = client.post(WEBHOOK, content=raw.replace(b"Versandkosten", b"Versandkosten!"), headers=headers)
    else:
        response = post(client, raw, secret="not-the-secret" if fault == "wrong_secret" else None)
    assert response.status_code == 401
    _quiet(QUIET_S)  # longer than the debounce window: a queued mail would be answered
    assert smtp.to(sender) == []
    assert post(client, raw).json() == {"queued": 1, "duplicates": 0}  # nothing of the refused one was kept


def test_a_tenant_without_a_webhook_secret_has_no_mail_webhook(client: TestClient) -> None:
    raw = raw_mail(b"Hello?", sender=customer("example.com"), subject="Hi")
    assert post(client, raw, url="/v1/channels/email/acme/webhook").status_code == 404
    assert post(client, raw, url="/v1/channels/email/acme/webhook", secret="").status_code == 404


def test_the_same_mail_by_post_twice_and_by_imap_is_answered_once(client: TestClient, smtp: FakeSmtp,
                                                                  imap: FakeImap) -> None:
    sender = customer()
    raw = raw_mail(b"Kann ich mit PayPal bezahlen?", sender=sender, subject="Zahlung")
    assert post(client, raw).json() == {"queued": 1, "duplicates": 0}
    assert post(client, raw).json() == {"queued": 0, "duplicates": 1}
    uid = imap.deliver(raw)
    wait_for(lambda: imap.seen(uid), what="the mail fetched and marked seen")
    answered(smtp, sender)


def test_mails_of_one_thread_within_the_window_are_answered_together(client: TestClient, smtp: FakeSmtp) -> None:
    sender, first_id, second_id = customer(), f"<t1-{uuid.uuid4().hex}@m.example>", f"<t2-{uuid.uuid4().hex}@m.example>"
    assert post(client, raw_mail(b"Hallo, eine Frage zur Lieferung.", sender=sender, subject="Lieferung",
                                 message_id=first_id)).json()["queued"] == 1
    assert post(client, raw_mail(b"Wie lange dauert der Versand mit DHL?", sender=sender, subject="Re: Lieferung",
                                 message_id=second_id, references=first_id)).json()["queued"] == 1
    reply = answered(smtp, sender)
    assert reply.message["In-Reply-To"] == second_id
    assert reply.message["References"] == f"{first_id} {second_id}"


def test_a_large_mail_with_an_attachment_is_taken_and_a_larger_one_is_413(client: TestClient,
                                                                          smtp: FakeSmtp) -> None:
    sender = customer()
    attachment = base64.encodebytes(bytes(range(256)) * 600).decode()  # ~200 KB encoded: above the chat limit
    body = ("--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei das Foto vom beschädigten Rucksack.\r\n"
            "--mix\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=\"rucksack.jpg\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{attachment}\r\n--mix--\r\n").encode()
    raw = raw_mail(body, sender=sender, subject="Reklamation", content_type='multipart/mixed; boundary="mix"')
    assert 64 * 1024 < len(raw) < MAX_MAIL_BYTES
    assert post(client, raw).json() == {"queued": 1, "duplicates": 0}
    answered(smtp, sender)
    too_large = raw_mail(b"x" * MAX_MAIL_BYTES, sender=customer(), subject="Zu gross")
    assert post(client, too_large).status_code == 413


# -- delivery: retries, exactly once, dead letters ------------------------------------------------------------

@pytest.mark.parametrize("code", [421, 451])
def test_an_smtp_server_that_fails_then_recovers_delivers_the_reply_exactly_once(
        client: TestClient, smtp: FakeSmtp, code: int) -> None:
    sender, before = customer(), len(smtp.sessions)
    smtp.fail_next(2, code)
    assert post(client, raw_mail(b"Wo ist meine Bestellung?", sender=sender, subject="Bestellung")).status_code == 200
    answered(smtp, sender)
    assert smtp.sessions[before:] == [str(code), str(code), "sent"]


def test_a_recipient_refused_for_good_is_a_dead_letter(client: TestClient, smtp: FakeSmtp) -> None:
    sender = customer("gone.example")
    smtp.refuse(sender)
    assert post(client, raw_mail(b"Gibt es Rabatt?", sender=sender, subject="Rabatt")).status_code == 200
    outbox = client.app.state.services.channels.outbox  # type: ignore[attr-defined]

    def dead() -> list[dict[str, str]]:
        return [letter for letter in outbox.dead_letters(1000) if f'"to": "{sender}"' in letter.get("item", "")]

    wait_for(lambda: bool(dead()), what="the dead letter")
    _quiet(1.0)
    [letter] = dead()
    assert letter["last_error"].startswith("SMTP 550") and letter["attempts"] == "1"
    assert smtp.to(sender) == [] and smtp.sessions.count("550") >= 1


# -- robots ---------------------------------------------------------------------------------------------------

ROBOTS = {
    "out_of_office": "Auto-Submitted: auto-replied\r\n",
    "bulk": "Precedence: bulk\r\n",
    "autoreply_header": "X-Autoreply: yes\r\n",
}


@pytest.mark.parametrize("robot", [*ROBOTS, "bounce", "own_address"])
def test_robots_and_the_brand_itself_are_never_answered(client: TestClient, smtp: FakeSmtp, imap: FakeImap,
                                                        robot: str) -> None:
    sender = ADDRESS if robot == "own_address" else customer()
    if robot == "bounce":
        sender = f"MAILER-DAEMON@{customer().split('@')[1]}"
        raw = raw_mail(b"--r\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--r--\r\n", sender=sender,
                       subject="Undelivered Mail Returned to Sender",
                       content_type='multipart/report; report-type=delivery-status; boundary="r"')
    else:
        raw = raw_mail(b"Ich bin bis Montag nicht im Haus.", sender=sender, subject="Abwesend",
                       extra=ROBOTS.get(robot, ""))
    assert post(client, raw).json() == {"queued": 0, "duplicates": 0}
    uid = imap.deliver(raw.replace(b"Message-ID: <", b"Message-ID: <imap-"))
    wait_for(lambda: imap.seen(uid), what="the robot's mail fetched")
    _quiet(QUIET_S)
    assert smtp.to(sender) == []


# -- the poller and the configuration -------------------------------------------------------------------------

def test_a_mailbox_that_refuses_the_login_is_logged_without_the_password_and_backs_off(
        caplog: pytest.LogCaptureFixture) -> None:
    with contextlib.contextmanager(serve_imap)(ADDRESS, IMAP_PASSWORD) as imap:
        _poll_with_a_wrong_password(imap, caplog)


def _poll_with_a_wrong_password(imap: FakeImap, caplog: pytest.LogCaptureFixture) -> None:
    imap.deliver(raw_mail(b"Hello?", sender=customer("example.com"), subject="Hi"))
    accounts = ChannelAccounts.parse({"acme": {"email": {
        "market": "US", "address": "help@acme.example", "poll_s": 30,
        "smtp": {"host": "127.0.0.1", "port": 1, "tls": "none"},
        "imap": {"host": "127.0.0.1", "port": imap.port, "tls": "none", "username": ADDRESS,
                 "password": "wrong-imap-password"}}}}, environ={})
    received: list[bytes] = []
    mailboxes = Mailboxes.of(accounts, receive=lambda tenant, raw: received.append(raw), timeout_s=5.0)
    assert mailboxes is not None
    caplog.set_level(logging.WARNING, logger="api.channels.mailbox")
    assert mailboxes.step() is False and mailboxes.step() is False  # the second is within the backoff
    assert imap.logins == [(ADDRESS, False)]
    assert not imap.seen(1)
    [record] = [r for r in caplog.records if "mailbox of acme" in r.getMessage()]
    assert "help@acme.example" in record.getMessage() and "AUTHENTICATIONFAILED" in record.getMessage()
    assert "wrong-imap-password" not in caplog.text and received == []


@pytest.mark.parametrize(("change", "problem"), [
    ({"smtp": None}, "smtp"),
    ({"webhook_secret": ""}, "webhook_secret"),
    ({"webhook_secret": " "}, "webhook_secret"),
    ({"imap": {"host": "imap.example", "username": ADDRESS, "password_env": "UNSET_MAIL_PASSWORD"}}, "password_env"),
    ({"smtp": {"host": "smtp.example", "username": ADDRESS}}, "password"),
    ({"smtp": {"host": "smtp.example", "tls": "maybe"}}, "tls"),
    ({"address": "not an address"}, "address"),
    ({"colour": "blue"}, "colour"),
])
def test_an_incomplete_email_account_is_a_config_error(change: dict[str, Any], problem: str) -> None:
    email = {"market": "DE", "address": ADDRESS, "smtp": {"host": "smtp.example"}} | change
    with pytest.raises(ConfigError, match=problem):
        ChannelAccounts.parse({"tidewell": {"email": {k: v for k, v in email.items() if v is not None}}}, environ={})
