"""Replies and the copilot at the desk level: an agent's Chinese reply becomes the Thai the customer gets, checked
after translation; no suggestion when the knowledge does not answer.

No translation engine runs here: ``Phrasebook`` is a translator with a fixed table (the engine's contract:
``Translation`` with a quality), handed to ``Replies`` as any translator is. The HTTP path, the channels and the
copilot run end to end in tests/api/test_desk_replies_api.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from agent.schema import AnswerRequest
from agent.translation import Translation, Translator
from api.runtime import Runtime
from desk.copilot import suggest
from desk.replies import Replies
from desk.store import DeskStore
from ingestion.pipeline import IngestReport
from knowledge.index import KnowledgeIndex
from personas.routing import Channel
from polydesk.errors import ConflictError
from polydesk.settings import Settings
from tests.conftest import RuntimeFactory

pytestmark = pytest.mark.integration

TENANT, AGENT = "tidewell", "agent-zh"
CHINESE, THAI = "您的包裹明天会到。", "พัสดุของคุณจะถึงพรุ่งนี้ค่ะ"
LEAKY_CHINESE, LEAKY_THAI = "请联系另一位顾客。", "กรุณาติดต่อ somchai.k@example.com ค่ะ"
PHRASES = {("zh", "th", CHINESE): THAI, ("th", "zh", THAI): CHINESE, ("zh", "th", LEAKY_CHINESE): LEAKY_THAI}


class Phrasebook(Translator):
    """Translates the phrases of its table, both ways; anything else is ``unavailable``. Records each request."""

    def __init__(self) -> None:
        super().__init__(None)
        self.asked: list[tuple[str, str, str]] = []

    def translate(self, text: str, source: str, target: str) -> Translation:
        self.asked.append((source, target, text))
        if source == target:
            return Translation(text, source, target, "none", "same_language")
        found = PHRASES.get((source, target, text))
        if found is None:
            return Translation(text, source, target, "phrasebook", "unavailable", "not in the phrasebook")
        return Translation(found, source, target, "phrasebook", "translated")


@pytest.fixture(scope="module")
def runtime(demo: tuple[IngestReport, KnowledgeIndex], open_runtime: RuntimeFactory,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    opened = open_runtime(demo[1], Settings(data_dir=tmp_path_factory.mktemp("desk-replies"), _env_file=None))  # type: ignore[call-arg]
    yield opened
    opened.close()


@pytest.fixture
def translator() -> Phrasebook:
    return Phrasebook()


@pytest.fixture
def replies(runtime: Runtime, translator: Phrasebook) -> Replies:
    desk = DeskStore(runtime.redis, runtime.events, conversations=runtime.conversations)
    return Replies(redis_client=runtime.redis, agent=runtime.agent, translator=translator, desk=desk, channels=None)


def claimed_thai_conversation(replies: Replies) -> str:
    """A Thai LINE customer who asked for a person, claimed by the Chinese-writing agent."""
    conversation_id = f"line-U{uuid.uuid4().hex}"
    reply = replies.agent.answer(AnswerRequest(tenant=TENANT, channel=Channel.LINE, market="TH", conversation_id=conversation_id,
                                               customer_id=conversation_id[5:], message="ขอคุยกับเจ้าหน้าที่หน่อยค่ะ"))
    assert reply.escalation.escalate
    replies.desk.sync()
    replies.desk.claim(TENANT, conversation_id, AGENT, at=time.time())
    return conversation_id


def test_a_chinese_reply_is_previewed_and_sent_in_thai(replies: Replies, runtime: Runtime) -> None:
    conversation_id = claimed_thai_conversation(replies)
    preview = replies.preview(TENANT, conversation_id, AGENT, CHINESE, languages=["zh"])
    assert (preview.original_language, preview.language, preview.text) == ("zh", "th", THAI)
    assert preview.translation.quality == "translated" and preview.sendable
    assert preview.back_translation is not None and preview.back_translation.text == CHINESE

    delivery = replies.send(TENANT, conversation_id, AGENT, preview.preview_id)
    assert (delivery.via, delivery.text, delivery.language) == ("event", THAI, "th")
    conversation = runtime.conversations.get(TENANT, conversation_id)
    assert conversation is not None
    assert (conversation.turns[-1].role, conversation.turns[-1].text) == ("human", THAI)
    [event] = [e for _, e in runtime.events.read(tenant=TENANT, count=1000) if e.id == delivery.event_id]
    assert (event.type, event.text, event.agent_id) == ("reply", THAI, AGENT)
    item = replies.desk.get(TENANT, conversation_id)
    assert item is not None and item.first_response_at is not None


def test_the_checks_run_on_the_translation_the_customer_would_get(replies: Replies) -> None:
    conversation_id = claimed_thai_conversation(replies)
    preview = replies.preview(TENANT, conversation_id, AGENT, LEAKY_CHINESE, languages=["zh"])
    assert not preview.sendable and [f.rule for f in preview.findings] == ["pii"]
    assert "somchai" not in preview.text
    with pytest.raises(ConflictError) as refused:
        replies.send(TENANT, conversation_id, AGENT, preview.preview_id)
    assert refused.value.code == "reply_not_sendable"


def test_an_agent_writing_in_the_customers_language_needs_no_translation(replies: Replies,
                                                                         translator: Phrasebook) -> None:
    conversation_id = claimed_thai_conversation(replies)
    preview = replies.preview(TENANT, conversation_id, AGENT, THAI, languages=["zh"])
    assert preview.original_language == "th" and preview.text == THAI and preview.sendable
    assert preview.back_translation is None
    assert [(source, target) for source, target, _ in translator.asked] == [("th", "th")]


def test_no_suggestion_when_nothing_in_the_knowledge_answers(replies: Replies, runtime: Runtime,
                                                              translator: Phrasebook) -> None:
    conversation_id = claimed_thai_conversation(replies)
    poem = "ช่วยแต่งกลอนเกี่ยวกับดวงจันทร์ให้หน่อยค่ะ"  # a poem about the moon: nothing a shop's help pages answer
    runtime.agent.answer(AnswerRequest(tenant=TENANT, channel=Channel.LINE, market="TH", message=poem,
                                       conversation_id=conversation_id))
    conversation = runtime.conversations.get(TENANT, conversation_id)
    assert conversation is not None
    found = suggest(runtime.agent, translator, conversation, agent_language="zh")
    assert found.message == poem and found.suggestions == []
    assert found.note.startswith("nothing in the knowledge")
    assert translator.asked == []
