"""E-mail: customers' mail in (IMAP polling, or a signed raw-MIME POST), replies out by SMTP in the same thread.

* In: ``api.channels.mailbox`` polls the account's IMAP folder; a provider or relay that forwards raw mail
  POSTs it to ``/v1/channels/email/{tenant}/webhook`` (``Content-Type: message/rfc822``, the RFC 822 bytes as
  the body) with ``X-Polydesk-Signature: sha256=<hex HMAC-SHA256(webhook_secret, raw body)>``, compared in
  constant time before anything is parsed. Without a ``webhook_secret`` the route is 404 for the tenant.
  Both go through ``parse``, and the dedupe by Message-ID answers a mail once however often it arrives.
* Parse (stdlib ``email``, ``policy.default``): the sender (customer ``<lowercased address>``), the subject,
  the text (``text/plain`` preferred, else the HTML as text; any charset, quoted-printable or base64,
  ``api.channels.mailtext``) without quoted history and signature; attachments as metadata (names and types).
  A first mail's subject is part of the question; a reply's is not. Never answered: auto-replies and bounces
  (``Auto-Submitted`` other than ``no``, ``Precedence: bulk|junk|list``, ``X-Autoreply``/``X-Autorespond``,
  ``multipart/report``, an empty ``Return-Path``, mailer-daemon, postmaster and no-reply senders), mail from
  the brand's own address (no loops), and a mail with nothing of the customer's own left.
* Threads: the conversation is ``email-<sha256(brand address, customer address, thread root)[:24]>``, the root
  being the first ``References`` id, else ``In-Reply-To``, else the mail's own ``Message-ID`` (a reply of
  someone else in a forwarded thread is their own conversation). The event id is the ``Message-ID`` (else a
  hash of the bytes). A reply goes to the sender with ``Subject: Re: <subject>`` (reply prefixes in any
  language replaced by one ``Re:``), ``In-Reply-To: <their Message-ID>``, ``References: <theirs + it>``.
* Out: one mail per reply, plain text (Markdown removed) with a simple HTML alternative (``dir="auto"`` for
  right-to-left scripts), UTF-8 headers encoded per RFC 2047, ``Auto-Submitted: auto-replied``, and a
  ``Message-ID`` on the brand's domain made of the outbox's reply id, the same on every retry. Sent by SMTP
  (``ssl``, ``starttls`` or ``none``; a login when a username is set; ``channel_timeout_s``). ``smtp_outcome``:
  a refused recipient or message (5xx) is dead (``rejected``); 4xx is retried; a server that cannot be reached
  or refuses the sender or the login is retried as unreachable (the server's fault, not this reply's).

Example:
    >>> adapter = EmailAdapter(accounts.find("email", "tidewell"), timeout_s=10.0)    # doctest: +SKIP
    >>> [inbound] = adapter.parse(raw_mail, received_at=time.time())                 # doctest: +SKIP
    >>> inbound.context["subject"], inbound.message.conversation_id                  # doctest: +SKIP
    ('Re: Lieferzeit', 'email-5b0e3c4f9d8a7b6c5d4e3f2a')
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import smtplib
import ssl
from collections.abc import Mapping
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from pydantic import ValidationError

from agent.schema import MAX_MESSAGE_CHARS, CustomerMessage
from agent.webhooks import Outcome
from api.channels.base import Inbound, SendCall
from api.channels.config import EmailAccount
from api.channels.format import plain_text
from api.channels.mailtext import decode_text, html_to_text, strip_reply
from api.channels.whatsapp import meta_signature
from personas.routing import Channel

SIGNATURE_HEADER = "x-polydesk-signature"
MAX_REFERENCES = 20  # the root and the latest ids: a References header must not grow with every round
_ID = re.compile(r"<[^<>\s]+>")
_REPLY_PREFIX = re.compile(  # "Re:", and what mail programs write for it in other languages
    r"^\s*(?:(?:re|aw|antw|sv|vs|r|rif|rép|réf|res|ynt|odp|balas|trả lời|ตอบกลับ|ตอบ|رد|回复|回覆|答复|答覆|返信)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+", re.IGNORECASE)
_ROBOT_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|no-?reply|do-?not-?reply)(?:[+-].*)?@", re.IGNORECASE)
_LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")
_OUTGOING = policy.SMTP.clone(cte_type="7bit")  # bodies as quoted-printable or base64: any server takes them


def signature(body: bytes, secret: str) -> str:
    """The ``X-Polydesk-Signature`` of a raw-MIME POST (the same form as Meta's ``X-Hub-Signature-256``)."""
    return meta_signature(body, secret)


def reply_subject(subject: str) -> str:
    """``Re: <subject>``, the reply prefixes it had in any language ("AW:", "回复：", "Re[2]:") replaced by one."""
    rest = _REPLY_PREFIX.sub("", " ".join(subject.split()))
    return f"Re: {rest}" if rest else "Re:"


def is_automatic(message: EmailMessage, sender: str) -> bool:
    """Mail a robot wrote (an auto-reply, a bounce, a receipt, a list): never answered."""
    auto = str(message.get("Auto-Submitted", "")).split(";")[0].strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (auto not in ("", "no") or precedence in ("bulk", "junk", "list", "auto_reply")
            or any(message.get(name) is not None for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"))
            or message.get_content_type() == "multipart/report"
            or str(message.get("Return-Path", "")).strip() == "<>" or bool(_ROBOT_SENDER.match(sender)))


def message_ids(value: object) -> list[str]:
    """The ``<id>``s of a ``Message-ID``, ``In-Reply-To`` or ``References`` header, in order."""
    return _ID.findall(str(value or ""))


class EmailAdapter:
    name = "email"

    def __init__(self, account: EmailAccount, *, timeout_s: float = 10.0) -> None:
        self.account, self.timeout_s = account, timeout_s
        self.domain = account.address.rpartition("@")[2]

    @property
    def receives_webhooks(self) -> bool:
        return self.account.webhook_secret is not None

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        secret, given = self.account.webhook_secret, headers.get(SIGNATURE_HEADER, "")
        if secret is None or not given:
            return False
        return hmac.compare_digest(given.encode(), signature(body, secret.get_secret_value()).encode())

    # -- in -------------------------------------------------------------------------------------------------

    def parse(self, body: bytes, *, received_at: float) -> list[Inbound]:
        message = message_from_bytes(body, _class=EmailMessage, policy=policy.default)
        if message.get("From") is None:
            raise ValueError("not an e-mail: no From header")
        name, sender = parseaddr(str(message["From"]))
        sender = sender.strip().lower()
        if "@" not in sender:
            raise ValueError("not an e-mail: the From header has no address")
        if sender == self.account.address or is_automatic(message, sender):
            return []
        own = (message_ids(message.get("Message-ID")) or [""])[0]
        references, in_reply_to = message_ids(message.get("References")), message_ids(message.get("In-Reply-To"))
        root = next(iter(references or in_reply_to), own) or f"<{hashlib.sha256(body).hexdigest()}@unidentified>"
        subject = " ".join(str(message.get("Subject", "")).split())
        text = self._question(message, subject, first=not (references or in_reply_to))
        if not text:
            return []
        conversation = "email-" + _digest(f"{self.account.address}\n{sender}\n{root}")[:24]
        parents = references or in_reply_to[:1]  # RFC 5322: the parent's References (or In-Reply-To), then its id
        thread = [*parents, own] if own else parents
        context = {"to": sender, "to_name": " ".join(name.split())[:200], "subject": reply_subject(subject),
                   "in_reply_to": own, "references": " ".join(_capped(thread))}
        try:
            customer = CustomerMessage(
                channel=Channel.EMAIL, market=self.account.market, message=text[:MAX_MESSAGE_CHARS],
                conversation_id=conversation, customer_id=sender if len(sender) <= 128 else f"email-{_digest(sender)}",
                locale=_locale(message), metadata=_metadata(message, own, subject),
            )
        except ValidationError:  # nothing a reader would see
            return []
        event_id = own if own and len(own) <= 256 else f"sha256:{hashlib.sha256(body).hexdigest()}"
        return [Inbound(event_id=event_id, message=customer, context=context)]

    def _question(self, message: EmailMessage, subject: str, *, first: bool) -> str:
        """The customer's own words: the body without history and signature, after a first mail's subject."""
        part = message.get_body(preferencelist=("plain", "html"))
        text = ""
        if isinstance(part, EmailMessage):
            payload = part.get_payload(decode=True)
            text = decode_text(payload if isinstance(payload, bytes) else b"", part.get_content_charset())
            if part.get_content_type() == "text/html":
                text = html_to_text(text)
            text = strip_reply(text)
        topic = _REPLY_PREFIX.sub("", subject).strip()
        if first and topic and topic not in text:
            return f"{topic}\n\n{text}".strip()
        return text

    # -- out ------------------------------------------------------------------------------------------------

    def batches(self, text: str) -> list[list[str]]:
        body = plain_text(text).strip()
        return [[body]] if body else []  # one mail per reply, never split

    def send_call(self, batch: list[str], *, index: int, context: Mapping[str, str], attempts: int,
                  key: str, now: float) -> SendCall:
        raise TypeError("e-mail replies are sent by SMTP (deliver), not by an HTTP call")

    def compose(self, text: str, *, context: Mapping[str, str], key: str) -> EmailMessage:
        """The reply mail to the message of ``context``; its Message-ID is made of ``key``."""
        mail = EmailMessage(policy=_OUTGOING)
        mail["From"] = Address(self.account.display_name or "", addr_spec=self.account.address)
        mail["To"] = Address(context.get("to_name", ""), addr_spec=context["to"])
        mail["Subject"] = context.get("subject") or "Re:"
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<polydesk.{re.sub(r'[^A-Za-z0-9.-]', '-', key)}@{self.domain}>"
        if context.get("in_reply_to"):
            mail["In-Reply-To"] = context["in_reply_to"]
        if context.get("references"):
            mail["References"] = context["references"]
        mail["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots do not answer it
        mail["X-Auto-Response-Suppress"] = "All"  # nor do Exchange's out-of-office rules
        mail.set_content(text)
        paragraphs = (html.escape(p.strip()).replace("\n", "<br>\n") for p in re.split(r"\n\s*\n", text) if p.strip())
        mail.add_alternative('<!DOCTYPE html><html><body><div dir="auto">'
                             + "".join(f"<p>{p}</p>" for p in paragraphs) + "</div></body></html>", subtype="html")
        return mail

    def deliver(self, batch: list[str], *, index: int, context: Mapping[str, str], key: str) -> Outcome:
        try:
            mail = self.compose("\n\n".join(batch), context=context, key=f"{key}.{index}")
        except (ValueError, TypeError, KeyError) as exc:  # no mail can be written to this context: never will be
            return Outcome("rejected", f"cannot write the reply mail: {type(exc).__name__}: {exc}"[:300])
        try:
            self._send(mail, context["to"])
        except (smtplib.SMTPException, OSError) as exc:
            return smtp_outcome(exc)
        return Outcome("delivered")

    def _send(self, mail: EmailMessage, recipient: str) -> None:
        server, tls = self.account.smtp, ssl.create_default_context()
        port, hostname = server.effective_port, self.domain  # EHLO as the brand's domain (no slow getfqdn)
        client = (smtplib.SMTP_SSL(server.host, port, hostname, timeout=self.timeout_s, context=tls)
                  if server.tls == "ssl" else smtplib.SMTP(server.host, port, hostname, timeout=self.timeout_s))
        try:
            if server.tls == "starttls":
                client.starttls(context=tls)
            if server.username is not None and server.password is not None:
                client.login(server.username, server.password.get_secret_value())
            client.send_message(mail, from_addr=self.account.address, to_addrs=[recipient])
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


def smtp_outcome(exc: Exception) -> Outcome:
    """What a failed SMTP attempt comes to: the recipient or the message refused for good (5xx) is dead; a
    temporary refusal (4xx) is retried; anything before the recipient (connection, timeout, TLS, greeting,
    login, sender) is retried as unreachable: it is the server's state or set-up, not this reply."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
        return _by_code(int(code), text)
    if isinstance(exc, smtplib.SMTPDataError):
        return _by_code(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPResponseException):
        return Outcome("retry", f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}", unreachable=True)
    return Outcome("retry", f"{type(exc).__name__}: {exc}", unreachable=True)


def _by_code(code: int, text: bytes | str) -> Outcome:
    error = f"SMTP {code}: {_text(text)}"
    return Outcome("rejected", error) if 500 <= code < 600 else Outcome("retry", error)


def _text(value: bytes | str) -> str:
    return (value.decode(errors="replace") if isinstance(value, bytes) else str(value))[:200]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _capped(ids: list[str]) -> list[str]:
    unique = list(dict.fromkeys(ids))
    return unique if len(unique) <= MAX_REFERENCES else [unique[0], *unique[-(MAX_REFERENCES - 1):]]


def _locale(message: EmailMessage) -> str | None:
    tag = str(message.get("Content-Language", "")).split(",")[0].strip()
    return tag if _LOCALE.match(tag) else None


def _metadata(message: EmailMessage, message_id: str, subject: str) -> dict[str, str]:
    attachments = [f"{part.get_filename()} ({part.get_content_type()})" for part in message.walk()
                   if part.get_filename() and not part.is_multipart()]
    found = {"email_message_id": message_id, "email_subject": subject, "email_attachments": "; ".join(attachments)}
    return {key: value[:512] for key, value in found.items() if value}
