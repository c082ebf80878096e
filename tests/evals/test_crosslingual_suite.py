"""The cross-lingual suite (evals/crosslingual): every case loads and points at a real document, every language
has its minimum, the demo run does not pick it up, and a slice runs in-process and reports the three metrics per
language. Target numbers are not asserted here (yet): ``python -m bench.crosslingual`` measures them."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from api.runtime import Runtime
from evals.aggregate import summarize
from evals.crosslingual.build import LANGUAGES, MINIMUMS, KnowledgeSet, build, knowledge_sets, render
from evals.runner import InProcessTarget, run_cases
from evals.suite import SUITES_DIR, Case, load_suites, suite_paths
from ingestion.pipeline import Ingestor
from ingestion.sources import SourceOptions
from knowledge.embedder import Embedder
from knowledge.index import KnowledgeIndex
from polydesk.language import LanguageDetector
from polydesk.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]

# The markets a customer writing in each language is put in (the language is spoken or written there).
MARKETS = {"en": {"US", "GB", "SG", "AE"}, "de": {"DE"}, "fr": {"FR"}, "es": {"MX", "ES"}, "pt": {"BR"},
           "id": {"ID"}, "ms": {"MY"}, "th": {"TH"}, "vi": {"VN"}, "ja": {"JP"}, "zh": {"SG", "TW"},
           "ar": {"SA", "AE"}}


@pytest.fixture(scope="module")
def suites() -> dict[str, list[Case]]:
    return {kset.language: load_suites([kset.suite_folder]) for kset in knowledge_sets()}


def test_every_case_loads_points_at_a_real_document_and_every_language_has_its_minimum(
        suites: dict[str, list[Case]]) -> None:
    all_ids = [c.id for cases in suites.values() for c in cases]
    assert len(all_ids) == len(set(all_ids))                              # one run may mix the sets
    for kset in knowledge_sets():
        cases, documents = suites[kset.language], set(kset.documents())
        assert {c.language for c in cases} == set(LANGUAGES), kset.language
        for case in cases:
            assert case.market in MARKETS[case.language], case.id
            assert not case.escalate, case.id
            if case.answerable:
                assert len(case.sources) == 1 and case.sources[0] in documents, case.id
            else:
                assert not case.sources and not case.must_contain, case.id
        answerable = Counter(c.language for c in cases if c.answerable)
        unanswerable = Counter(c.language for c in cases if not c.answerable)
        want_answerable, want_unanswerable = MINIMUMS[kset.language]
        assert min(answerable[lang] for lang in LANGUAGES) >= want_answerable, kset.language
        assert min(unanswerable[lang] for lang in LANGUAGES) >= want_unanswerable, kset.language
    assert sum(len(cases) for cases in suites.values()) >= 12 * 34 + 2 * 12 * 14


def test_each_knowledge_set_is_in_one_language_only() -> None:
    detector = LanguageDetector()
    for kset in knowledge_sets():
        defaults = (kset.folder / "polydesk.yaml").read_text(encoding="utf-8")
        assert f"language: {kset.language}" in defaults and 'market: "*"' in defaults
        for document in kset.documents():
            text = re.sub(r"<[^>]+>", " ", (kset.folder / document).read_text(encoding="utf-8"))
            assert detector.detect(text, default="und") == kset.language, document
    assert len(KnowledgeSet("en").documents()) >= 40
    assert min(len(KnowledgeSet(lang).documents()) for lang in ("ja", "de")) >= 15


def test_suites_are_up_to_date_with_the_questions_and_topics() -> None:
    for language, per_question_language in build().items():
        for question_language, cases in per_question_language.items():
            path = KnowledgeSet(language).suite_path(question_language)
            assert path.read_text(encoding="utf-8") == render(cases), path.name


def test_the_demo_run_does_not_pick_up_the_crosslingual_suites() -> None:
    demo = suite_paths([SUITES_DIR])
    assert demo and all(p.parent == SUITES_DIR for p in demo)
    assert not any(c.tags and "crosslingual" in c.tags for c in load_suites([SUITES_DIR]))


def _slice(cases: list[Case], *, answerable: int = 3, unanswerable: int = 1) -> list[Case]:
    picked: list[Case] = []
    for language in LANGUAGES:
        mine = [c for c in cases if c.language == language]
        picked += [c for c in mine if c.answerable][:answerable] + [c for c in mine if not c.answerable][:unanswerable]
    return picked


@pytest.fixture(scope="module")
def english_only_runtime(embedder: Embedder, open_runtime: Callable[[KnowledgeIndex, Settings], Runtime],
                         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    kset = KnowledgeSet("en")
    settings = Settings(data_dir=tmp_path_factory.mktemp("crosslingual"), _env_file=None)  # type: ignore[call-arg]
    index = KnowledgeIndex.open(settings, embedder=embedder)
    report = Ingestor(index=index, settings=settings).ingest([kset.folder], SourceOptions(tenant=kset.tenant))
    assert report.totals()["skipped"] == 0
    runtime = open_runtime(index, settings)
    yield runtime
    runtime.close()
    index.close()


def test_a_slice_runs_in_process_and_reports_the_three_metrics_per_language(
        english_only_runtime: Runtime, suites: dict[str, list[Case]], tmp_path: Path) -> None:
    cases = _slice(suites["en"])
    assert len(cases) == 4 * len(LANGUAGES)
    records = run_cases(cases, InProcessTarget(english_only_runtime.agent, tenant="cairnline-en"), run_id="t-xl")
    assert not [r["error"] for r in records if r["error"]]
    summary = summarize(records)
    assert set(summary["by_language"]) == set(LANGUAGES)
    for language, metrics in summary["by_language"].items():
        for name in ("cited_hit_at_1", "answer_rate", "false_answer_rate"):
            assert metrics[name] is not None and 0.0 <= metrics[name] <= 1.0, (language, name)
    # A reply that cites, cites a document of this knowledge set (never another tenant's).
    documents = set(KnowledgeSet("en").documents())
    assert all(c["document_id"] in documents for r in records for c in r["reply"]["citations"])
    json.dumps(summary)                                                      # summary.json can hold it
