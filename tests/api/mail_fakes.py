"""Test support for the e-mail channel: a minimal IMAP4rev1 server and a minimal SMTP server on loopback ports.

Both are real servers (``socketserver`` in a thread) speaking the wire protocol to the standard library's
clients, and record what they get.

``FakeImap`` holds one folder (``INBOX``) of messages with UIDs and flags, and answers what ``imaplib``
sends: ``CAPABILITY``, ``LOGIN`` (one user and password; a wrong one is ``NO``), ``SELECT``, ``UID SEARCH
UNSEEN``, ``UID FETCH <uid> (BODY.PEEK[])`` (the raw message as a literal, flags untouched), ``UID STORE
<uid> +FLAGS (\\Seen)``, ``NOOP`` and ``LOGOUT``; anything else is ``BAD``.

``FakeSmtp`` answers ``EHLO``/``HELO``, ``AUTH PLAIN`` and ``AUTH LOGIN``, ``MAIL``, ``RCPT``, ``DATA``,
``RSET``, ``NOOP`` and ``QUIT``, and keeps each accepted mail (envelope and bytes). ``fail_next(n, 421)``
refuses the next ``n`` sessions at the greeting (a server down), ``fail_next(n, 451)`` refuses their mail
after ``DATA`` (try again later); ``refuse(address)`` answers ``550`` to that recipient.
"""

from __future__ import annotations

import base64
import re
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import TypeVar

_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\([^)]*\))|(\S+)')


Fake = TypeVar("Fake", "FakeImap", "FakeSmtp")


def _tokens(line: bytes) -> list[str]:
    return [(quoted.replace(b'\\"', b'"').replace(b"\\\\", b"\\") if quoted is not None else (group or atom)).decode()
            for quoted, group, atom in (m.groups() for m in _TOKEN.finditer(line))]


def wait_for(predicate: Callable[[], bool], timeout_s: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        time.sleep(0.05)


# -- IMAP -----------------------------------------------------------------------------------------------------

@dataclass
class StoredMail:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


@dataclass
class FakeImap:
    username: str
    password: str
    port: int = 0
    mails: list[StoredMail] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (user, accepted)
    commands: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver(self, raw: bytes) -> int:
        """Put a message in INBOX, unseen; its UID."""
        with self.lock:
            uid = (self.mails[-1].uid if self.mails else 0) + 1
            self.mails.append(StoredMail(uid, raw))
            return uid

    def seen(self, uid: int) -> bool:
        with self.lock:
            return any(m.uid == uid and "\\Seen" in m.flags for m in self.mails)

    def answer(self, tag: str, command: str, args: list[str], state: dict[str, bool]) -> list[bytes]:
        """The lines (untagged, then tagged) for one command; literals as ``{n}`` + bytes in one item."""
        with self.lock:
            self.commands.append(" ".join([command, *args[:2]]))
            if command == "CAPABILITY":
                return [b"* CAPABILITY IMAP4rev1 AUTH=PLAIN", f"{tag} OK CAPABILITY completed".encode()]
            if command == "NOOP":
                return [f"{tag} OK NOOP completed".encode()]
            if command == "LOGOUT":
                return [b"* BYE logging out", f"{tag} OK LOGOUT completed".encode()]
            if command == "LOGIN":
                accepted = args[:2] == [self.username, self.password]
                self.logins.append((args[0] if args else "", accepted))
                state["auth"] = accepted
                return [f"{tag} {'OK' if accepted else 'NO [AUTHENTICATIONFAILED]'} LOGIN".encode()]
            if not state.get("auth"):
                return [f"{tag} BAD log in first".encode()]
            if command == "SELECT":
                if args[:1] != ["INBOX"]:
                    return [f"{tag} NO [NONEXISTENT] no such mailbox".encode()]
                unseen = [m.uid for m in self.mails if "\\Seen" not in m.flags]
                return [f"* {len(self.mails)} EXISTS".encode(), b"* 0 RECENT", b"* FLAGS (\\Seen \\Answered)",
                        b"* OK [UIDVALIDITY 1] UIDs valid", f"* OK [UIDNEXT {len(self.mails) + 1}]".encode(),
                        *([f"* OK [UNSEEN {unseen[0]}]".encode()] if unseen else []),
                        f"{tag} OK [READ-WRITE] SELECT completed".encode()]
            if command == "UID":
                return self._uid(tag, args)
            return [f"{tag} BAD unknown command".encode()]

    def _uid(self, tag: str, args: list[str]) -> list[bytes]:
        sub = args[0].upper() if args else ""
        if sub == "SEARCH" and [a.upper() for a in args[1:]] == ["UNSEEN"]:
            uids = " ".join(str(m.uid) for m in self.mails if "\\Seen" not in m.flags)
            return [f"* SEARCH {uids}".rstrip().encode(), f"{tag} OK SEARCH completed".encode()]
        found = [(n, m) for n, m in enumerate(self.mails, start=1) if len(args) > 1 and str(m.uid) == args[1]]
        if sub == "FETCH" and len(args) == 3 and args[2].upper() == "(BODY.PEEK[])":
            lines = [f"* {n} FETCH (UID {m.uid} BODY[] {{{len(m.raw)}}}".encode() + b"\r\n" + m.raw + b")"
                     for n, m in found]
            return [*lines, f"{tag} OK FETCH completed".encode()]
        if sub == "STORE" and len(args) == 4 and args[2].upper() == "+FLAGS":
            for _, m in found:
                m.flags.update(args[3].strip("()").split())
            lines = [f"* {n} FETCH (UID {m.uid} FLAGS ({' '.join(sorted(m.flags))}))".encode() for n, m in found]
            return [*lines, f"{tag} OK STORE completed".encode()]
        return [f"{tag} BAD unsupported UID command".encode()]


def serve_imap(username: str, password: str) -> Iterator[FakeImap]:
    imap = FakeImap(username, password)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            state: dict[str, bool] = {}
            self.wfile.write(b"* OK [CAPABILITY IMAP4rev1] fake IMAP ready\r\n")
            while line := self.rfile.readline():
                tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
                words = _tokens(rest)
                if not words:
                    self.wfile.write(tag + b" BAD empty command\r\n")
                    continue
                for reply in imap.answer(tag.decode(), words[0].upper(), words[1:], state):
                    self.wfile.write(reply + b"\r\n")
                if words[0].upper() == "LOGOUT":
                    return

    yield from _serve(Handler, imap, "fake-imap")


# -- SMTP -----------------------------------------------------------------------------------------------------

@dataclass
class SentMail:
    mail_from: str
    rcpt_to: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, _class=EmailMessage, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        assert isinstance(body, EmailMessage)
        return str(body.get_content())


@dataclass
class FakeSmtp:
    username: str | None = None
    password: str | None = None
    port: int = 0
    sent: list[SentMail] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)  # how each session ended: "sent", "421", "451", "550", ...
    failures: list[int] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, count: int, code: int) -> None:
        with self.lock:
            self.failures.extend([code] * count)

    def refuse(self, address: str) -> None:
        with self.lock:
            self.refused.add(address.lower())

    def to(self, address: str) -> list[SentMail]:
        with self.lock:
            return [mail for mail in self.sent if address.lower() in (r.lower() for r in mail.rcpt_to)]

    def next_failure(self) -> int | None:
        with self.lock:
            return self.failures.pop(0) if self.failures else None

    def record(self, outcome: str, mail: SentMail | None = None) -> None:
        with self.lock:
            self.sessions.append(outcome)
            if mail is not None:
                self.sent.append(mail)


def serve_smtp(username: str | None = None, password: str | None = None) -> Iterator[FakeSmtp]:
    smtp = FakeSmtp(username, password)

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, text: str) -> None:
            self.wfile.write(text.encode() + b"\r\n")

        def handle(self) -> None:
            failure = smtp.next_failure()
            if failure == 421:
                self.reply("421 4.3.2 Service not available, try again later")
                smtp.record("421")
                return
            self.reply("220 fake.example ESMTP ready")
            mail_from, authenticated = "", smtp.username is None
            rcpt_to: list[str] = []
            while line := self.rfile.readline():
                verb, _, rest = line.decode().rstrip("\r\n").partition(" ")
                verb = verb.upper()
                if verb == "EHLO":
                    self.wfile.write(b"250-fake.example\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n")
                elif verb == "HELO":
                    self.reply("250 fake.example")
                elif verb == "AUTH":
                    authenticated = self.authenticate(rest)
                    self.reply("235 2.7.0 accepted" if authenticated else "535 5.7.8 credentials invalid")
                elif verb == "MAIL":
                    if not authenticated:
                        self.reply("530 5.7.0 authentication required")
                        continue
                    mail_from, rcpt_to = _address(rest), []
                    self.reply("250 2.1.0 OK")
                elif verb == "RCPT":
                    address = _address(rest).lower()
                    if address in smtp.refused:
                        smtp.record("550")
                        self.reply("550 5.1.1 no such user here")
                        continue
                    rcpt_to.append(address)
                    self.reply("250 2.1.5 OK")
                elif verb == "DATA":
                    self.reply("354 end data with <CR><LF>.<CR><LF>")
                    data = self.read_data()
                    if failure == 451:
                        smtp.record("451")
                        self.reply("451 4.3.0 temporary failure, try again later")
                        continue
                    smtp.record("sent", SentMail(mail_from, rcpt_to, data))
                    self.reply("250 2.0.0 queued")
                elif verb in ("RSET", "NOOP"):
                    self.reply("250 2.0.0 OK")
                elif verb == "QUIT":
                    self.reply("221 2.0.0 bye")
                    return
                else:
                    self.reply("502 5.5.2 command not recognized")

        def authenticate(self, rest: str) -> bool:
            mechanism, _, initial = rest.partition(" ")
            if mechanism.upper() == "PLAIN":
                _, user, password = base64.b64decode(initial).decode().split("\0")
            elif mechanism.upper() == "LOGIN":
                self.reply("334 VXNlcm5hbWU6")
                user = base64.b64decode(self.rfile.readline().strip()).decode()
                self.reply("334 UGFzc3dvcmQ6")
                password = base64.b64decode(self.rfile.readline().strip()).decode()
            else:
                return False
            return (user, password) == (smtp.username, smtp.password)

        def read_data(self) -> bytes:
            lines = []
            while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                lines.append(line[1:] if line.startswith(b"..") else line)
            return b"".join(lines)

    yield from _serve(Handler, smtp, "fake-smtp")


def _address(rest: str) -> str:
    """The address of ``FROM:<a@b> SIZE=123`` or ``TO:<a@b>``."""
    found = re.search(r"<([^>]*)>", rest)
    return found[1] if found else rest.partition(":")[2].strip()


def _serve(handler: type[socketserver.StreamRequestHandler], fake: Fake, name: str) -> Iterator[Fake]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    fake.port = server.server_address[1]
    yield fake
    server.shutdown()
    server.server_close()
