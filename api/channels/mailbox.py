"""Customers' mail fetched by IMAP: each e-mail account with ``imap`` polled, at most every ``poll_s``.

A poll logs in (``ssl``, ``starttls`` or ``none``, with ``channel_timeout_s``), selects the folder, asks for
the ``UNSEEN`` messages by UID, and for each (at most ``batch_size`` a poll, oldest first) fetches the raw
message with ``BODY.PEEK[]`` (which leaves it unseen), hands it to ``receive`` (the webhook's own path:
``api.channels.email`` parses it, the queue dedupes it by Message-ID and queues it), and only then marks it
``\\Seen``. A poll cut short (the connection lost after queueing, before marking) fetches the message again
next time, and the dedupe answers it once. A message that cannot be read as mail is marked seen and logged
(it would fail every time); one that could not be queued (Redis down) stays unseen for the next poll.

An IMAP failure (no connection, a refused login, a folder that does not exist) is logged naming the tenant,
the address, the server and the error (never the password), and that account is tried again after a backoff
of its own (``agent.webhooks.backoff_delay`` from ``poll_s``, doubling, at most five minutes): one tenant's
broken mailbox never delays another's. Anything else (Redis down) fails the worker's step, which backs off.

Example:
    >>> mailboxes = Mailboxes.of(accounts, receive=service.receive_mail, timeout_s=10.0)   # doctest: +SKIP
    >>> worker = mailboxes.worker(log=logger)            # None above when no account has imap
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

from agent.webhooks import backoff_delay
from api.channels.config import ChannelAccounts, EmailAccount, ImapServer
from polydesk.worker import Worker

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 300.0
_UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, IndexError)  # what the route answers 400 for


class Mailboxes:
    def __init__(self, accounts: dict[str, EmailAccount], *, receive: Callable[[str, bytes], object],
                 timeout_s: float, clock: Callable[[], float] = time.monotonic, batch_size: int = 50) -> None:
        self.accounts, self.receive, self.timeout_s = accounts, receive, timeout_s
        self.clock, self.batch_size = clock, batch_size
        self._due: dict[str, float] = {}
        self._failures: dict[str, int] = {}

    @classmethod
    def of(cls, accounts: ChannelAccounts, *, receive: Callable[[str, bytes], object],
           timeout_s: float) -> Mailboxes | None:
        """The mailboxes of every e-mail account that has ``imap`` (tenant -> account); None when none has."""
        polled = {tenant: channels.email for tenant, channels in accounts.tenants.items()
                  if channels.email is not None and channels.email.imap is not None}
        return cls(polled, receive=receive, timeout_s=timeout_s) if polled else None

    def worker(self, *, log: logging.Logger) -> Worker:
        """The background loop: a step at most every (shortest) ``poll_s``."""
        poll_s = min(account.poll_s for account in self.accounts.values())
        return Worker("polydesk-channel-mailboxes", self.step, poll_s=poll_s, max_backoff_s=max(MAX_BACKOFF_S, poll_s),
                      label="channel mailboxes", log=log)

    def step(self) -> bool:
        """Poll each account whose time has come (a failed one after its backoff); always False: wait a poll."""
        for tenant, account in self.accounts.items():
            now = self.clock()
            if self._due.get(tenant, 0.0) > now:
                continue
            server = account.imap
            assert server is not None  # only accounts with imap are polled
            try:
                self.poll(tenant, server)
            except (OSError, imaplib.IMAP4.error) as exc:  # incl. timeouts, TLS, refused logins (IMAP4.abort)
                failures = self._failures[tenant] = self._failures.get(tenant, 0) + 1
                wait_s = backoff_delay(failures, base_s=account.poll_s, max_s=max(MAX_BACKOFF_S, account.poll_s))
                self._due[tenant] = now + wait_s
                logger.warning("mailbox of %s (%s at %s:%d) failed %d time(s) in a row, next try in %.0f s: %s: %s",
                               tenant, account.address, server.host, server.effective_port, failures, wait_s,
                               type(exc).__name__, exc)
                continue
            self._failures.pop(tenant, None)
            self._due[tenant] = now + account.poll_s
        return False

    def poll(self, tenant: str, server: ImapServer) -> int:
        """Queue the unseen messages of ``server``'s folder, marking each seen once queued; how many were read."""
        imap = _connect(server, self.timeout_s)
        try:
            imap.login(server.username, server.password.get_secret_value())
            _ok(imap.select(server.folder), f"SELECT {server.folder}")
            found = _ok(imap.uid("SEARCH", "UNSEEN"), "UID SEARCH UNSEEN")
            uids = [uid.decode() for uid in (found[0] or b"").split()] if found and isinstance(found[0], bytes) else []
            for uid in uids[:self.batch_size]:
                raw = _message(_ok(imap.uid("FETCH", uid, "(BODY.PEEK[])"), f"UID FETCH {uid}"))
                if raw is not None:
                    try:
                        self.receive(tenant, raw)
                    except _UNREADABLE as exc:  # it would fail every time: seen, and logged for a person
                        logger.warning("mail %s in %s of %s is not readable mail (%s: %s); marked seen",
                                       uid, server.folder, server.host, type(exc).__name__, exc)
                _ok(imap.uid("STORE", uid, "+FLAGS", "(\\Seen)"), f"UID STORE {uid}")
            return len(uids[:self.batch_size])
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                imap.logout()


def _connect(server: ImapServer, timeout_s: float) -> imaplib.IMAP4:
    if server.tls == "ssl":
        return imaplib.IMAP4_SSL(server.host, server.effective_port, ssl_context=ssl.create_default_context(),
                                 timeout=timeout_s)
    imap = imaplib.IMAP4(server.host, server.effective_port, timeout=timeout_s)
    if server.tls == "starttls":
        imap.starttls(ssl.create_default_context())
    return imap


def _ok(response: tuple[str, list[Any]], command: str) -> list[Any]:
    status, data = response
    if status != "OK":
        raise imaplib.IMAP4.error(f"{command}: {status} {data!r:.200}")
    return data


def _message(data: list[Any]) -> bytes | None:
    """The literal of a ``UID FETCH (BODY.PEEK[])`` answer: ``[(b'1 (UID 7 BODY[] {n}', b'<raw>'), b')']``."""
    return next((part[1] for part in data if isinstance(part, tuple) and isinstance(part[1], bytes)), None)
