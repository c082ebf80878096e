"""Customer profiles in a real (embedded) Redis: identities of several channels, conflicts and merges, tenants
kept apart, the history across channels, and erasure that a retry finishes.

The customer writes on LINE in Thai and by e-mail in English; a lead from Indonesia has a WhatsApp number.
"""

from __future__ import annotations

import pytest
import redis

from agent.privacy import AuditLog, CustomerEraser
from agent.profiles import Identity, ProfileStore, normalize_customer_id, profile_history
from agent.schema import Turn
from agent.state import LOCK_PREFIX, Conversation, ConversationStore
from knowledge.index import KnowledgeIndex
from polydesk.errors import ConflictError, InputError, NotFoundError

LINE_ID = "U4af4980629c6f1a2b3c4d5e6f7a8b9c0"
EMAIL = "buyer.th@example.co.th"
WHATSAPP = "6281234567890"


def line() -> Identity:
    return Identity(channel="line", customer_id=LINE_ID)  # type: ignore[arg-type]


def email(address: str = EMAIL) -> Identity:
    return Identity(channel="email", customer_id=address)  # type: ignore[arg-type]


def whatsapp(number: str = WHATSAPP) -> Identity:
    return Identity(channel="whatsapp", customer_id=number)  # type: ignore[arg-type]


@pytest.fixture
def profiles(redis_client: redis.Redis) -> ProfileStore:
    return ProfileStore(redis_client)


@pytest.fixture
def conversations(redis_client: redis.Redis) -> ConversationStore:
    return ConversationStore(redis_client, ttl_s=3600, max_turns=20, lock_s=0.3)


def _conversation(store: ConversationStore, conversation_id: str, *, channel: str, customer_id: str, market: str,
                  texts: list[tuple[str, str]], at: float, tenant: str = "tidewell") -> Conversation:
    conversation = Conversation.start(tenant=tenant, conversation_id=conversation_id, market=market,
                                      channel=channel, customer_id=customer_id)
    conversation.created_at = at
    for offset, (role, text) in enumerate(texts):
        conversation.add(Turn(role=role, text=text, language="th" if market == "TH" else "en",  # type: ignore[arg-type]
                              at=at + offset), max_turns=store.max_turns)
    store.save(conversation)
    return conversation


# -- identities ----------------------------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(("channel", "given", "expected"), [
    ("email", "  Buyer.TH@Example.CO.TH ", EMAIL),
    ("email", "ลูกค้า@ตัวอย่าง.ไทย", "ลูกค้า@ตัวอย่าง.ไทย"),
    ("whatsapp", "+62 812-3456-7890", WHATSAPP),
    ("whatsapp", "(62) 812.3456.7890", WHATSAPP),
    ("line", f" {LINE_ID} ", LINE_ID),
    ("telegram", "412345678", "412345678"),
    ("web", "kunde-4711", "kunde-4711"),
])
def test_identities_are_normalised_as_their_channels_send_them(channel: str, given: str, expected: str) -> None:
    assert normalize_customer_id(channel, given) == expected


@pytest.mark.unit
@pytest.mark.parametrize(("channel", "given"), [
    ("email", "buyer.example.co.th"), ("email", "buyer.th@localhost"), ("email", "a b@example.com"),
    ("whatsapp", "+62 812 CALL ME"), ("whatsapp", "12345"), ("line", "   "), ("line", "\u200b\u2060"),
    ("line", "U4af\u202e9629"), ("telegram", "4123\x00"), ("web", "x" * 129),
])
def test_ids_that_are_empty_disguised_or_malformed_are_refused(channel: str, given: str) -> None:
    with pytest.raises(ValueError):
        normalize_customer_id(channel, given)


# -- the store -----------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_profile_links_a_line_user_and_an_email_address(profiles: ProfileStore) -> None:
    created = profiles.create("tidewell", "crm-4711", [line(), email("Buyer.TH@Example.co.th")])

    assert [(i.channel.value, i.customer_id) for i in created.identities] == [("email", EMAIL), ("line", LINE_ID)]
    for identity in (line(), email(), email(" BUYER.TH@EXAMPLE.CO.TH")):
        found = profiles.resolve("tidewell", identity)
        assert found is not None and found.profile_id == "crm-4711"
    assert profiles.resolve("tidewell", whatsapp()) is None
    generated = profiles.create("tidewell")
    assert generated.profile_id.startswith("p-") and generated.identities == []


@pytest.mark.integration
def test_a_taken_id_or_an_identity_linked_elsewhere_is_a_conflict_and_writes_nothing(profiles: ProfileStore) -> None:
    profiles.create("tidewell", "crm-4711", [line()])

    with pytest.raises(ConflictError):
        profiles.create("tidewell", "crm-4711", [whatsapp()])
    with pytest.raises(ConflictError, match="crm-4711"):
        profiles.create("tidewell", "crm-9000", [whatsapp(), line()])
    assert profiles.find("tidewell", "crm-9000") is None and profiles.resolve("tidewell", whatsapp()) is None
    profiles.create("tidewell", "p-2")
    with pytest.raises(ConflictError, match="merge"):
        profiles.link("tidewell", "p-2", line())
    assert profiles.get("tidewell", "p-2").identities == []
    with pytest.raises(InputError):
        profiles.create("tidewell", "crm:4711")


@pytest.mark.integration
def test_linking_with_merge_moves_the_other_profiles_identities_and_deletes_it(profiles: ProfileStore) -> None:
    older = profiles.create("tidewell", "wa-lead", [whatsapp(), email("lead@example.co.id")])
    profiles.create("tidewell", "crm-4711", [line()])

    merged = profiles.link("tidewell", "crm-4711", whatsapp(), merge=True)

    assert {i.customer_id for i in merged.identities} == {LINE_ID, WHATSAPP, "lead@example.co.id"}
    assert merged.created_at == older.created_at  # the merged profile is as old as its older part
    assert profiles.find("tidewell", "wa-lead") is None
    for identity in (whatsapp(), email("lead@example.co.id"), line()):
        assert profiles.resolve("tidewell", identity).profile_id == "crm-4711"  # type: ignore[union-attr]
    again = profiles.link("tidewell", "crm-4711", whatsapp("+62 812 3456 7890"))
    assert again == merged  # linked already: nothing changes


@pytest.mark.integration
def test_unlinking_removes_only_this_profiles_identity(profiles: ProfileStore) -> None:
    profiles.create("tidewell", "crm-4711", [line(), email()])
    profiles.create("tidewell", "crm-9000", [whatsapp()])

    kept = profiles.unlink("tidewell", "crm-4711", line())

    assert [i.channel.value for i in kept.identities] == ["email"] and profiles.resolve("tidewell", line()) is None
    with pytest.raises(NotFoundError):
        profiles.unlink("tidewell", "crm-4711", line())
    with pytest.raises(NotFoundError):
        profiles.unlink("tidewell", "crm-4711", whatsapp())  # crm-9000's
    assert profiles.resolve("tidewell", whatsapp()).profile_id == "crm-9000"  # type: ignore[union-attr]
    profiles.unlink("tidewell", "crm-4711", email())
    assert profiles.get("tidewell", "crm-4711").identities == []  # an emptied profile stays until deleted


@pytest.mark.integration
def test_each_tenant_sees_only_its_own_profiles(profiles: ProfileStore) -> None:
    profiles.create("tidewell", "crm-4711", [line(), email()])

    assert profiles.find("acme", "crm-4711") is None and profiles.resolve("acme", line()) is None
    for attempt in (lambda: profiles.get("acme", "crm-4711"), lambda: profiles.unlink("acme", "crm-4711", line()),
                    lambda: profiles.link("acme", "crm-4711", whatsapp())):
        with pytest.raises(NotFoundError):
            attempt()
    assert not profiles.delete("acme", "crm-4711")
    theirs = profiles.create("acme", "crm-4711", [line()])  # the same ids, another tenant's customer
    assert theirs.tenant == "acme" and profiles.resolve("acme", line()).profile_id == "crm-4711"  # type: ignore[union-attr]
    assert len(profiles.get("tidewell", "crm-4711").identities) == 2


@pytest.mark.integration
def test_deleting_a_profile_frees_its_identities(profiles: ProfileStore) -> None:
    profiles.create("tidewell", "crm-4711", [line(), email()])

    assert profiles.delete("tidewell", "crm-4711") and not profiles.delete("tidewell", "crm-4711")
    assert profiles.resolve("tidewell", line()) is None and profiles.resolve("tidewell", email()) is None
    assert profiles.create("tidewell", "crm-9000", [line()]).identities[0].customer_id == LINE_ID


@pytest.mark.integration
def test_the_history_spans_the_customers_channels_in_time_order(profiles: ProfileStore,
                                                                 conversations: ConversationStore) -> None:
    profile = profiles.create("tidewell", "crm-4711", [line(), email()])
    by_mail = _conversation(conversations, "mail-1", channel="email", customer_id=EMAIL, market="TH", at=2000.0,
                            texts=[("customer", "My umbrella arrived with a broken handle."),
                                   ("bot", "Sorry to hear that! Please send us a photo of the handle.")])
    on_line = _conversation(conversations, "line-1", channel="line", customer_id=LINE_ID, market="TH", at=1000.0,
                            texts=[("customer", "ร่มของฉันด้ามจับหัก เปลี่ยนได้ไหมคะ"),
                                   ("bot", "ได้เลยค่ะ รบกวนส่งรูปมาทางไลน์นะคะ")])
    _conversation(conversations, "web-1", channel="web", customer_id=LINE_ID, market="TH", at=1500.0,
                  texts=[("customer", "another connector's customer with the same id")])
    _conversation(conversations, "line-2", channel="line", customer_id="U-someone-else", market="TH", at=1200.0,
                  texts=[("customer", "ส่งฟรีไหมคะ")])
    _conversation(conversations, "line-1", channel="line", customer_id=LINE_ID, market="TH", at=900.0,
                  texts=[("customer", "another tenant's conversation")], tenant="acme")

    history, truncated = profile_history(conversations, profile, limit=10)

    assert [c.id for c in history] == [on_line.id, by_mail.id] and not truncated
    assert [t.text for t in history[0].turns] == [t.text for t in on_line.turns]
    latest, truncated = profile_history(conversations, profile, limit=1)
    assert [c.id for c in latest] == [by_mail.id] and truncated


# -- erasure -------------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_erasing_a_profile_erases_every_identity_and_a_retry_finishes_a_failed_one(
        profiles: ProfileStore, conversations: ConversationStore, redis_client: redis.Redis,
        index: KnowledgeIndex) -> None:
    profiles.create("tidewell", "crm-4711", [line(), email()])
    _conversation(conversations, "mail-1", channel="email", customer_id=EMAIL, market="TH", at=2000.0,
                  texts=[("customer", "Where is my umbrella?")])
    _conversation(conversations, "line-1", channel="line", customer_id=LINE_ID, market="TH", at=1000.0,
                  texts=[("customer", "ร่มของฉันอยู่ไหนคะ")])
    kept = _conversation(conversations, "line-2", channel="line", customer_id="U-someone-else", market="TH",
                         at=1200.0, texts=[("customer", "ส่งฟรีไหมคะ")])
    eraser = CustomerEraser(conversations=conversations, index=index, profiles=profiles, wait_s=1.0)

    busy = redis_client.lock(f"{LOCK_PREFIX}:tidewell:line-1", timeout=60)  # an answer in flight, for long
    assert busy.acquire(blocking=False)
    with pytest.raises(ConflictError):
        eraser.erase_profile("tidewell", "crm-4711", actor="k-admin")
    busy.release()
    # The e-mail identity went first (identities go by channel): its data and link are gone, the rest is kept.
    assert conversations.get("tidewell", "mail-1") is None and conversations.get("tidewell", "line-1") is not None
    assert [i.channel.value for i in profiles.get("tidewell", "crm-4711").identities] == ["line"]

    report = eraser.erase_profile("tidewell", "crm-4711", actor="k-admin")

    assert [r.customer_id for r in report.customers] == [LINE_ID]
    assert report.counts()["conversations"] == 1 and report.counts()["profile_links"] == 1
    assert conversations.get("tidewell", "line-1") is None and conversations.get("tidewell", kept.id) is not None
    assert profiles.find("tidewell", "crm-4711") is None and profiles.resolve("tidewell", line()) is None
    with pytest.raises(NotFoundError):
        eraser.erase_profile("tidewell", "crm-4711", actor="k-admin")
    audit = AuditLog(redis_client)
    entries = audit.read("tidewell", 10)
    assert [(e.action, e.outcome) for e in entries] == [
        ("erase_profile", "completed"), ("erase_customer", "completed"), ("erase_profile", "failed"),
        ("erase_customer", "failed"), ("erase_customer", "completed")]
    assert [e.action for e in audit.read("tidewell", 10, customer_id="crm-4711")] == ["erase_profile"] * 2
    assert all(LINE_ID not in e.model_dump_json() and EMAIL not in e.model_dump_json() for e in entries)


@pytest.mark.integration
def test_erasing_a_customer_unlinks_their_identity_and_drops_a_profile_left_empty(
        profiles: ProfileStore, conversations: ConversationStore, index: KnowledgeIndex) -> None:
    profiles.create("tidewell", "crm-4711", [line(), email()])
    profiles.create("tidewell", "wa-lead", [whatsapp()])
    eraser = CustomerEraser(conversations=conversations, index=index, profiles=profiles)

    assert eraser.erase("tidewell", LINE_ID, actor="k-admin").profile_links == 1
    assert eraser.erase("tidewell", WHATSAPP, actor="k-admin").profile_links == 1

    assert [i.channel.value for i in profiles.get("tidewell", "crm-4711").identities] == ["email"]
    assert profiles.find("tidewell", "wa-lead") is None  # its only identity was erased: nothing left to link
    assert eraser.erase("tidewell", "BUYER.TH@example.co.th", actor="k-admin").profile_links == 0  # not this id
