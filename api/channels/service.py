"""The chat-platform channels of one process: accept verified webhooks, answer in the background, send replies.

``ChannelService.receive`` is what the webhook route calls: it finds the tenant's account (None: 404), checks
the platform's signature on the raw body (False: 401, nothing done), parses the payload and queues each new
message (``api.channels.queue``), all before the route answers 200. Two ``polydesk.worker.Worker`` threads do
the rest: one answers each conversation's messages once its debounce window has closed (joined with
newlines, through ``answer``: the agent, with the degraded reply when the store is down and configured), and
queues the reply on the outbox; the other sends the outbox (``api.channels.outbox``). A reply the platform's
customer-service window forbids (``base.Windowed``: WhatsApp, Messenger after 24 h) is not queued but
dead-lettered at once with the reason, where ``Outbox.dead_letters`` shows it, and the conversation is handed
to a person (a ``handoff`` event with the reason and the unsent reply) who can follow up. A person's reply from
the desk (``send_reply``) goes out through the same outbox, to where the conversation's last message came from
(kept per conversation, also while a person owns it), or is refused with the window's reason. E-mail accounts with
``imap`` get a third worker (``api.channels.mailbox``) that polls their mailboxes into ``receive_mail``.

Example:
    >>> channels = ChannelService.from_settings(settings, redis_client, answer=agent.answer)  # doctest: +SKIP
    >>> channels.start()                                          # two daemon threads; channels.close() at exit
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import redis

from agent.inbox import Inbox, answer_or_keep
from agent.ownership import hand_over
from agent.phrases import say
from agent.pipeline import Agent
from agent.schema import MAX_MESSAGE_CHARS, AnswerRequest, Reply
from agent.state import ConversationStore
from agent.webhooks import backoff_delay
from api.channels.base import MEDIA_ONLY, ChannelAdapter, Windowed
from api.channels.config import Account, ChannelAccounts, EmailAccount, LineAccount, MessengerAccount, WhatsAppAccount
from api.channels.dead_letters import DeadLetters
from api.channels.email import EmailAdapter
from api.channels.line import LineAdapter
from api.channels.mailbox import Mailboxes
from api.channels.messenger import MessengerAdapter
from api.channels.outbox import DEAD, DUE, Outbox, item_key
from api.channels.queue import Claimed, InboundQueue
from api.channels.telegram import TelegramAdapter
from api.channels.transport import SecretInUrlTransport
from api.channels.whatsapp import WhatsAppAdapter
from personas import PersonaCatalog
from polydesk import __version__
from polydesk.errors import ConflictError, NotFoundError
from polydesk.settings import Settings
from polydesk.worker import Worker

logger = logging.getLogger(__name__)

CONTEXT_PREFIX = "polydesk:channels:context"  # per conversation: the channel and context of its last message
WINDOW_CLOSED = "channel_window_closed"  # the error code of a person's reply the platform's window forbids


def agent_answer(agent: Agent, inbox: Inbox, *, degraded_reply: bool,
                 observe: Callable[[Reply, str], None]) -> Callable[[AnswerRequest], Reply]:
    """How the channels answer: the agent; when the store is down, the safe reply (message kept in the inbox)
    if ``degraded_reply``, else the error: the messages stay queued and are tried again with a backoff, up to
    ``channel_max_attempts`` times, then kept among the unanswered dead letters for a person."""

    def answer(request: AnswerRequest) -> Reply:
        reply, _ = answer_or_keep(agent, inbox, request, degraded_reply=degraded_reply)
        observe(reply, request.market)
        return reply

    return answer


def adapter_for(channel: str, account: Account, *, timeout_s: float = 10.0) -> ChannelAdapter:
    if isinstance(account, EmailAccount):
        return EmailAdapter(account, timeout_s=timeout_s)
    if isinstance(account, LineAccount):
        return LineAdapter(account)
    if isinstance(account, WhatsAppAccount):
        return WhatsAppAdapter(account)
    if isinstance(account, MessengerAccount):
        return MessengerAdapter(account, name=channel)
    return TelegramAdapter(account)


@dataclass(frozen=True)
class Received:
    """What a webhook delivered: messages queued now, and those skipped as already seen."""

    queued: int
    duplicates: int


class ChannelService:
    def __init__(self, redis_client: redis.Redis, accounts: ChannelAccounts, *, settings: Settings,
                 answer: Callable[[AnswerRequest], Reply], conversations: ConversationStore | None = None,
                 catalog: PersonaCatalog | None = None, clock: Callable[[], float] = time.time) -> None:
        self.accounts, self.answer, self.clock, self.settings = accounts, answer, clock, settings
        self.conversations = conversations  # where a reply the channel refuses is handed to a person
        self.catalog = catalog  # the markets' languages, for the few words polydesk says itself
        self.redis = redis_client
        lease_s = max(60.0, 3 * settings.llm_timeout_s)
        self.queue = InboundQueue(redis_client, debounce_s=settings.channel_debounce_s, lease_s=lease_s,
                                  dedupe_ttl_s=int(settings.channel_dedupe_hours * 3600))
        self.client = httpx.Client(timeout=settings.channel_timeout_s,
                                   headers={"User-Agent": f"polydesk/{__version__}"},
                                   transport=SecretInUrlTransport(httpx.HTTPTransport()))
        self.outbox = Outbox(redis_client, adapter_for=self.adapter, client=self.client,
                             max_attempts=settings.channel_max_attempts,
                             backoff_base_s=settings.channel_backoff_base_s,
                             retention_s=settings.channel_retention_hours * 3600,
                             lease_s=max(60.0, 4 * settings.channel_timeout_s))
        self.dead_letters = DeadLetters(redis_client)
        poll_s = min(0.2, max(0.02, settings.channel_debounce_s / 4))
        self._workers: tuple[Worker, ...] = (
            Worker("polydesk-channel-answers", self._answer_next, poll_s=poll_s, max_backoff_s=30.0,
                   label="channel answers", log=logger),
            Worker("polydesk-channel-outbox", self._send_due, poll_s=poll_s, max_backoff_s=30.0,
                   label="channel outbox", log=logger),
        )
        mailboxes = Mailboxes.of(accounts, receive=self.receive_mail, timeout_s=settings.channel_timeout_s)
        if mailboxes is not None:  # e-mail accounts with imap: a third worker polls them
            self._workers += (mailboxes.worker(log=logger),)

    @classmethod
    def from_settings(cls, settings: Settings, redis_client: redis.Redis, *,
                      answer: Callable[[AnswerRequest], Reply], conversations: ConversationStore | None = None,
                      catalog: PersonaCatalog | None = None,
                      environ: Mapping[str, str] | None = None) -> ChannelService | None:
        """The service of ``POLYDESK_CHANNELS`` (``ConfigError`` when it is invalid); None when it is not set.
        ``*_env`` secrets are read from ``environ`` (default: the process environment, by the operator's
        choice of the variable's name in the file)."""
        if settings.channels is None:
            return None
        accounts = ChannelAccounts.load(settings.channels, environ=os.environ if environ is None else environ)
        return cls(redis_client, accounts, settings=settings, answer=answer, conversations=conversations,
                   catalog=catalog)

    def adapter(self, channel: str, tenant: str) -> ChannelAdapter | None:
        account = self.accounts.find(channel, tenant)
        return adapter_for(channel, account, timeout_s=self.settings.channel_timeout_s) if account is not None else None

    # -- the webhook ----------------------------------------------------------------------------------------

    def receive(self, adapter: ChannelAdapter, tenant: str, body: bytes) -> Received:
        """Queue the messages of a verified ``body`` (the caller checked ``adapter.verify`` first)."""
        now = self.clock()
        queued = duplicates = 0
        for inbound in adapter.parse(body, received_at=now):
            if self.queue.accept(tenant, adapter.name, inbound, now=now):
                queued += 1
            else:
                duplicates += 1
        return Received(queued, duplicates)

    def receive_mail(self, tenant: str, raw: bytes) -> Received:
        """Queue a mail fetched from the tenant's mailbox (IMAP: no signature to check, the login vouches)."""
        adapter = self.adapter("email", tenant)
        return self.receive(adapter, tenant, raw) if adapter is not None else Received(0, 0)

    # -- the background -------------------------------------------------------------------------------------

    def _answer_next(self) -> bool:
        self.queue.move()
        claimed = self.queue.claim(self.clock())
        if claimed is None:
            return False
        try:
            self._answer(claimed)
        except Exception as exc:  # a batch that fails is retried, then kept for a person
            self._failed(claimed, f"{type(exc).__name__}: {exc}")
        return True

    def _failed(self, claimed: Claimed, error: str) -> None:
        """Retry a batch that could not be answered after a backoff; after the last attempt, keep its messages
        among the unanswered dead letters (``polydesk channels dead-letters``), never retried forever."""
        now = self.clock()
        if claimed.attempts < self.settings.channel_max_attempts:
            delay = backoff_delay(claimed.attempts, base_s=self.settings.channel_backoff_base_s, max_s=300.0)
            self.queue.retry(claimed, at=now + delay)
            logger.warning("channel messages of %s: attempt %d failed (%s); retried in %.0f s",
                           claimed.buffer, claimed.attempts, error, delay)
            return
        dead_id = self.queue.bury(claimed, error=error, now=now)
        logger.error("channel messages of %s not answered after %d attempts (%s): kept as %s",
                     claimed.buffer, claimed.attempts, error, dead_id)

    def _answer(self, claimed: Claimed) -> None:
        if not claimed.items:
            self.queue.finish(claimed, now=self.clock(), outbox=None)
            return
        last = claimed.items[-1]
        self._remember(last)
        texts = [item["message"]["message"] for item in claimed.items
                 if MEDIA_ONLY not in (item["message"].get("metadata") or {})]
        if texts:
            request = AnswerRequest(tenant=last["tenant"], **{**last["message"],
                                                              "message": "\n".join(texts)[:MAX_MESSAGE_CHARS]})
            reply = self.answer(request)
        else:
            reply = self._text_only(last["tenant"], last["message"])
        adapter = self.adapter(last["channel"], last["tenant"])
        outbox = None
        if adapter is not None and reply.text.strip():
            reply_id = uuid.uuid4().hex
            body = {"tenant": last["tenant"], "channel": last["channel"], "batches": adapter.batches(reply.text),
                    "context": last["context"], "conversation_id": reply.conversation_id}
            outbox = (reply_id, item_key(reply_id), json.dumps(body, ensure_ascii=False))
            now = self.clock()
            if isinstance(adapter, Windowed) and (reason := adapter.refusal(last["context"], now=now)):
                self._dead_letter(reply_id, outbox[2], reason, now)
                if self.conversations is not None:  # a person follows up (e.g. with an approved template)
                    hand_over(self.conversations, last["tenant"], reply.conversation_id,
                              summary=f"The reply could not be sent ({reason}). It was: {reply.text}")
                outbox = None
        self.queue.finish(claimed, now=self.clock(), outbox=outbox)

    # -- replies written by a person at the desk --------------------------------------------------------------

    def _remember(self, item: dict[str, Any]) -> None:
        """Keep where a reply to the conversation of ``item`` goes (also while a person owns it), as long as the
        conversation is kept; linked to the customer, so erasing them erases it."""
        message = item["message"]
        conversation_id = message.get("conversation_id")
        if not conversation_id:
            return
        key = f"{CONTEXT_PREFIX}:{item['tenant']}:{conversation_id}"
        value = json.dumps({"channel": item["channel"], "context": item["context"]}, ensure_ascii=False)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(key, value, ex=int(self.settings.conversation_ttl_hours * 3600))
        if self.conversations is not None and message.get("customer_id"):
            self.conversations.link_customer(pipe, item["tenant"], message["customer_id"], key)
        pipe.execute()

    def reply_context(self, tenant: str, conversation_id: str) -> tuple[str, dict[str, str]] | None:
        """The channel and context of the conversation's last message; None when none came through a channel."""
        raw = self.redis.get(f"{CONTEXT_PREFIX}:{tenant}:{conversation_id}")
        if raw is None:
            return None
        known = json.loads(raw)
        return str(known["channel"]), dict(known["context"])

    def send_reply(self, tenant: str, conversation_id: str, text: str) -> str:
        """Queue a person's reply on the outbox, as the bot's replies are sent; its reply id. ``NotFoundError``
        when no message of the conversation came through a channel configured now; ``ConflictError`` (code
        ``channel_window_closed``, the platform's reason as its message) when the customer-service window is shut."""
        known = self.reply_context(tenant, conversation_id)
        adapter = self.adapter(known[0], tenant) if known is not None else None
        if known is None or adapter is None:
            raise NotFoundError(f"conversation {conversation_id} has no chat channel to reply through")
        channel, context = known
        now = self.clock()
        if isinstance(adapter, Windowed) and (reason := adapter.refusal(context, now=now)):
            raise ConflictError(reason, code=WINDOW_CLOSED)
        context.pop("reply_token", None)  # one-shot, and spent by the bot's reply: a person's reply is pushed
        reply_id = uuid.uuid4().hex
        body = {"tenant": tenant, "channel": channel, "batches": adapter.batches(text), "context": context,
                "conversation_id": conversation_id}
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(item_key(reply_id), mapping={"item": json.dumps(body, ensure_ascii=False), "attempts": 0,
                                               "sent": 0, "since": now})
        pipe.zadd(DUE, {reply_id: now})
        pipe.execute()
        return reply_id

    def _text_only(self, tenant: str, message: dict[str, Any]) -> Reply:
        """The reply to attachments without text: polydesk reads text only, so it asks for a few words, in the
        customer's language (their app's locale, else the conversation's, else the market's)."""
        conversation_id = message.get("conversation_id") or ""
        conversation = self.conversations.get(tenant, conversation_id) if self.conversations else None
        language = message.get("locale") or (conversation.language if conversation else None)
        if not language and self.catalog is not None:
            language = self.catalog.market(message["market"]).languages[0]
        language = language or "en"
        return Reply(status="answered", conversation_id=conversation_id, text=say("attachment_unread", language),
                     language=language, market=message["market"], persona_id="", generator="text_only", confidence=0.0)

    def _dead_letter(self, reply_id: str, item: str, reason: str, now: float) -> None:
        """Record a reply that may not be sent among the outbox's dead letters (never attempted)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(f"{DEAD}:{reply_id}", mapping={"item": item, "attempts": 0, "sent": 0, "since": now,
                                                 "last_error": reason, "dead_at": now, "refused": 1})
        pipe.zadd(DEAD, {reply_id: now})
        pipe.execute()
        logger.warning("channel reply %s refused, not sent: %s", reply_id, reason)

    def _send_due(self) -> bool:
        self.outbox.run_once(self.clock())
        return False

    def start(self) -> None:
        for worker in self._workers:
            worker.start()

    def close(self) -> None:
        for worker in self._workers:
            worker.stop(timeout_s=self.settings.channel_timeout_s * 2 + 5)
        self.client.close()
