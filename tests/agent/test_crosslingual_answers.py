"""Questions in other languages against a help center written once, in English: answered, cited, with a note.

The Cairnline help center of the cross-lingual eval suites (``evals/crosslingual/``) is ingested as it
ships; the questions are cases of those suites whose right article leads by a wide margin, so the test
holds on any CPU's int8 numerics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.phrases import language_name, say
from agent.pipeline import Agent
from agent.schema import AnswerRequest
from api.runtime import Runtime
from ingestion.pipeline import Ingestor
from ingestion.sources import SourceOptions
from knowledge.embedder import Embedder
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ENGLISH_HELP_CENTER = Path(__file__).resolve().parents[2] / "evals" / "crosslingual" / "cairnline" / "knowledge-en"


@pytest.fixture(scope="module")
def agent(embedder: Embedder, open_runtime: Callable[[KnowledgeIndex, Settings], Runtime],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("crosslingual"), _env_file=None)  # type: ignore[call-arg]
    index = KnowledgeIndex.open(settings, embedder=embedder)
    Ingestor(index=index, settings=settings).ingest([ENGLISH_HELP_CENTER], SourceOptions(tenant="cairnline"))
    runtime = open_runtime(index, settings)
    yield runtime.agent
    runtime.close()
    index.close()


@pytest.mark.parametrize(("language", "market", "message", "article"), [
    ("th", "TH", "เครื่องกรองน้ำTrailFlowกรองไวรัสได้ไหมครับ", "products/trailflow-water-filter.md"),
    ("vi", "VN", "Lều Ridge 3 nặng bao nhiêu ký?", "products/ridge-tents.md"),
    ("de", "DE", "Was bekomme ich für meine alte Cairnline-Jacke, wenn ich sie bei Second Ascent abgebe?",
     "warranty/second-ascent-trade-in.md"),
    ("ar", "SA", "فلتر الماء TrailFlow يشيل الفيروسات؟", "products/trailflow-water-filter.md"),
    ("ja", "JP", "Ridge 2の収納サイズを教えてください。", "products/ridge-tents.md"),
])
def test_a_question_on_english_only_knowledge_is_answered_with_a_note(agent: Agent, language: str, market: str,
                                                                     message: str, article: str) -> None:
    reply = agent.answer(AnswerRequest(tenant="cairnline", market=market, channel="web", message=message))
    assert reply.status == "answered" and reply.escalation.escalate is False
    assert reply.citations and reply.citations[0].document_id == article, reply.model_dump_json(indent=2)
    assert reply.language == language and reply.confidence >= 0.5
    note = say("source_language", language, source=language_name("en", language))
    assert note in reply.text
