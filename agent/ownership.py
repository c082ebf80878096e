"""Who answers a conversation, the bot or a person, changed from outside the answering path.

The answering path hands a conversation to a person when a message calls for it (``Agent._escalate``). These
are the other two changes of ownership, each under the conversation's lock and saved with its event in one
transaction (``ConversationStore.save``), so a desk never sees one without the other:

- ``hand_over``: a person takes a conversation although no message asked for it, e.g. a reply the channel
  may no longer send (WhatsApp's 24-hour window): the reason and a summary go with the ``handoff`` event;
- ``release``: a person hands it back to the bot (``release`` event).

Example:
    >>> hand_over(store, "tidewell", "whatsapp-4915112345678", summary="The reply could not be sent: ...",
    ...           reason="policy")                                                      # doctest: +SKIP
"""

from __future__ import annotations

import time

from agent.events import HandoffEvent, ReleaseOutcome
from agent.schema import Escalation, EscalationReason
from agent.state import Conversation, ConversationStore, Handoff
from polydesk.errors import ConflictError, NotFoundError


def hand_over(store: ConversationStore, tenant: str, conversation_id: str, *, summary: str,
              reason: EscalationReason = "policy", queue: str = "support",
              priority: str = "high") -> Conversation | None:
    """Give the conversation to a person (``handoff`` event with ``summary``); None when there is no such
    conversation. A conversation a person already owns keeps its handoff; the event still tells the desk."""
    with store.lock(tenant, conversation_id):
        conversation = store.get(tenant, conversation_id)
        if conversation is None:
            return None
        escalation = Escalation.model_validate({"escalate": True, "reason": reason, "queue": queue,
                                                "priority": priority, "summary": summary})
        if conversation.owner != "human":
            conversation.owner = "human"
            conversation.unanswered = []
            conversation.handoffs.append(Handoff(escalation=escalation, at=time.time()))
        event = HandoffEvent(type="handoff", tenant=tenant, conversation_id=conversation_id,
                             customer_id=conversation.customer_id, market=conversation.market,
                             channel=conversation.channel, language=conversation.language, queue=queue,
                             priority=priority, reason=reason, summary=summary)
        store.save(conversation, events=[event])
    return conversation


def release(store: ConversationStore, tenant: str, conversation_id: str, *, actor: str | None = None,
            agent_id: str | None = None, outcome: ReleaseOutcome | None = None) -> Conversation:
    """Hand a conversation back to the bot; a ``conflict`` error when no human owns it. A desk passes the agent
    and the ``outcome`` (resolved, returned to the bot, spam), which the ``release`` event carries."""
    with store.lock(tenant, conversation_id):
        conversation = store.get(tenant, conversation_id)
        if conversation is None:
            raise NotFoundError(f"no conversation {conversation_id!r} for tenant {tenant!r}")
        if conversation.owner != "human":
            raise ConflictError(f"conversation {conversation_id!r} is not handed off to a human")
        conversation.owner = "bot"
        conversation.unanswered = []
        handoff = conversation.handoffs[-1] if conversation.handoffs else None
        if handoff is not None:
            handoff.released_at, handoff.released_by = time.time(), actor
        event = HandoffEvent(type="release", tenant=tenant, conversation_id=conversation_id,
                             customer_id=conversation.customer_id, market=conversation.market,
                             channel=conversation.channel, language=conversation.language, actor=actor,
                             queue=handoff.escalation.queue if handoff else None, agent_id=agent_id,
                             outcome=outcome)
        store.save(conversation, events=[event])
    return conversation
