"""Build the cross-lingual suites from the questions and the knowledge sets of the Cairnline brand.

    .venv/bin/python -m evals.crosslingual.build [--check]

The brand's help center exists three times, each in one language only: ``knowledge-en`` (48 articles),
``knowledge-ja`` and ``knowledge-de`` (16 articles each, a subset of the topics written natively).
``cairnline/questions/<lang>.yaml`` holds what customers ask, in their language, as they would write it;
``cairnline/topics.yaml`` names the one document of each knowledge set that answers a topic. Each knowledge
set gets one suite per question language (``evals/suites/crosslingual/<set>/cairnline-<set>-<lang>.jsonl``,
outside the demo folder, which ``polydesk eval run evals/suites/`` reads without recursing): the answerable
questions whose topic that set covers, and every unanswerable question. A question's facts must occur in its
source document of every set it is built for, and every language must reach its minimum count, or the build
stops. ``--check`` only verifies that the files on disk are up to date.

Run a suite against its own tenant (ingest first; ``bench/crosslingual.py`` does both in a throw-away dir):

    polydesk ingest evals/crosslingual/cairnline/knowledge-en --tenant cairnline-en --market '*'
    polydesk eval run evals/suites/crosslingual/knowledge-en --tenant cairnline-en
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evals.facts import fact_present

HERE = Path(__file__).resolve().parent
BRAND = HERE / "cairnline"
SUITES = HERE.parent / "suites" / "crosslingual"
LANGUAGES = ("en", "de", "fr", "es", "pt", "id", "ms", "th", "vi", "ja", "zh", "ar")
KNOWLEDGE_SETS = ("en", "ja", "de")
# (answerable, unanswerable) questions each question language needs against each knowledge set.
MINIMUMS = {"en": (24, 10), "ja": (10, 4), "de": (10, 4)}


class SpecError(ValueError):
    """The questions or topics contradict the knowledge (a missing document, a fact it does not state...)."""


@dataclass(frozen=True)
class KnowledgeSet:
    """One language-only copy of the brand's help center, ingested as its own tenant."""

    language: str

    @property
    def folder(self) -> Path:
        return BRAND / f"knowledge-{self.language}"

    @property
    def tenant(self) -> str:
        return f"cairnline-{self.language}"

    @property
    def suite_folder(self) -> Path:
        return SUITES / f"knowledge-{self.language}"

    def suite_path(self, question_language: str) -> Path:
        return self.suite_folder / f"cairnline-{self.language}-{question_language}.jsonl"

    def documents(self) -> list[str]:
        """Document ids as an ingest of ``folder`` names them (its files but the folder defaults)."""
        return sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*")
                      if p.is_file() and p.name != "polydesk.yaml")


def knowledge_sets() -> list[KnowledgeSet]:
    return [KnowledgeSet(language) for language in KNOWLEDGE_SETS]


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _plain_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return text


def build() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Knowledge-set language -> question language -> its cases, as the JSONL files hold them."""
    topics = _load(BRAND / "topics.yaml")
    answerable: Mapping[str, Mapping[str, str]] = topics["answerable"]
    unanswerable: Mapping[str, str] = topics["unanswerable"]
    suites: dict[str, dict[str, list[dict[str, Any]]]] = {s.language: {} for s in knowledge_sets()}
    texts: dict[tuple[str, str], str] = {}
    for kset in knowledge_sets():
        present = set(kset.documents())
        for topic, sources in answerable.items():
            if kset.language in sources:
                if sources[kset.language] not in present:
                    raise SpecError(f"topic {topic}: {sources[kset.language]} is not in {kset.folder.name}")
                texts[kset.language, topic] = _plain_text(kset.folder / sources[kset.language])
    for language in LANGUAGES:
        spec = _load(BRAND / "questions" / f"{language}.yaml")
        if spec["language"] != language:
            raise SpecError(f"questions/{language}.yaml says language {spec['language']!r}")
        messages = [q["message"] for q in spec["answerable"] + spec["unanswerable"]]
        if len(set(messages)) != len(messages):
            raise SpecError(f"questions/{language}.yaml asks a question twice")
        for kset in knowledge_sets():
            cases = []
            for number, question in enumerate(spec["answerable"], start=1):
                topic = question["topic"]
                if topic not in answerable:
                    raise SpecError(f"{language} answerable #{number}: unknown topic {topic!r}")
                if kset.language not in answerable[topic]:
                    continue
                facts = [str(f) for f in question.get("facts") or []]
                missing = [f for f in facts if not fact_present(texts[kset.language, topic], f)]
                if missing:
                    raise SpecError(f"{language} answerable #{number} ({topic}): {answerable[topic][kset.language]} "
                                    f"does not state {missing}")
                group = answerable[topic]["en"].split("/")[0]
                cases.append(_case(spec, question, kset, f"a{number:02d}", answerable=True, facts=facts,
                                   sources=[answerable[topic][kset.language]], tags=[group, topic]))
            for number, question in enumerate(spec["unanswerable"], start=1):
                if question["topic"] not in unanswerable:
                    raise SpecError(f"{language} unanswerable #{number}: unknown topic {question['topic']!r}")
                cases.append(_case(spec, question, kset, f"u{number:02d}", answerable=False, facts=[], sources=[],
                                   tags=["unanswerable", question["topic"]]))
            _check_minimum(cases, kset, language)
            suites[kset.language][language] = cases
    return suites


def _case(spec: Mapping[str, Any], question: Mapping[str, Any], kset: KnowledgeSet, number: str, *,
          answerable: bool, facts: list[str], sources: list[str], tags: list[str]) -> dict[str, Any]:
    language = spec["language"]
    return {"id": f"xl-{kset.language}-{language}-{number}", "market": question.get("market", spec["market"]),
            "channel": question.get("channel", spec["channel"]), "language": language, "history": [],
            "message": question["message"], "must_contain": facts, "must_not_contain": [], "sources": sources,
            "answerable": answerable, "escalate": False, "queue": None,
            "tags": ["crosslingual", f"knowledge-{kset.language}", *tags]}


def _check_minimum(cases: list[dict[str, Any]], kset: KnowledgeSet, language: str) -> None:
    want_answerable, want_unanswerable = MINIMUMS[kset.language]
    got_answerable = sum(c["answerable"] for c in cases)
    got_unanswerable = len(cases) - got_answerable
    if got_answerable < want_answerable or got_unanswerable < want_unanswerable:
        raise SpecError(f"{language} against knowledge-{kset.language}: {got_answerable} answerable and "
                        f"{got_unanswerable} unanswerable questions, need {want_answerable} and {want_unanswerable}")


def render(cases: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the suites on disk are up to date")
    args = parser.parse_args()
    try:
        suites = build()
    except SpecError as exc:
        sys.exit(f"cannot build the cross-lingual suites: {exc}")
    stale = []
    for kset in knowledge_sets():
        for language, cases in suites[kset.language].items():
            path = kset.suite_path(language)
            text = render(cases)
            if path.exists() and path.read_text(encoding="utf-8") == text:
                continue
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    if args.check and stale:
        sys.exit("out of date: " + ", ".join(str(p) for p in stale) + " (run python -m evals.crosslingual.build)")
    counts = {k: sum(len(c) for c in v.values()) for k, v in suites.items()}
    print(("up to date: " if args.check else f"wrote {len(stale)} file(s); ") +
          ", ".join(f"knowledge-{k} {n} cases" for k, n in counts.items()))


if __name__ == "__main__":
    main()
