"""The intent classifier's training data and cache: both example sets teach the anger head and key the cache."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from agent.escalation import EscalationPolicy
from agent.intents import IntentClassifier, read_anger_examples
from knowledge.embedder import Embedder
from personas import Intent, PersonaCatalog
from polydesk.errors import ConfigError

pytestmark = pytest.mark.unit

_SHOUTED = "grr"  # the fake embedder's one meaningful direction: texts with this word point along axis 0


class _CountingEmbedder:
    """Deterministic vectors from a hash of the text, plus one axis for ``_SHOUTED``; counts what it embeds."""

    name = "fake-embedder"
    dim = 16

    def __init__(self) -> None:
        self.embedded = 0

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
            row = np.random.default_rng(seed).normal(0.0, 0.3, self.dim)
            row[0] = 3.0 if _SHOUTED in text else -3.0
            rows.append(row / np.linalg.norm(row))
        return np.asarray(rows, dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_queries(texts)


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def example_files(tmp_path: Path) -> tuple[Path, Path]:
    # Every intent example is calm: whatever the head knows of anger comes from the anger-only set.
    intents = _write_jsonl(tmp_path / "intents.jsonl", [
        {"text": f"{intent.value} question {n}", "language": "en", "intent": intent.value, "angry": False}
        for intent in Intent for n in range(3)])
    anger = _write_jsonl(tmp_path / "anger.jsonl", [
        *({"text": f"{_SHOUTED} post {n}", "language": "en", "angry": True} for n in range(12)),
        *({"text": f"lovely post {n}", "language": "en", "angry": False} for n in range(12))])
    return intents, anger


def test_the_anger_head_learns_from_the_anger_only_examples(example_files: tuple[Path, Path], tmp_path: Path) -> None:
    intents, anger = example_files
    embedder = _CountingEmbedder()
    classifier = IntentClassifier.load_or_train(embedder, tmp_path / "cache", examples=intents, anger_examples=anger)
    shouted, calm = embedder.embed_queries([f"{_SHOUTED} something new", "something else new"])
    assert classifier.predict(shouted).anger > 0.8 > 0.2 > classifier.predict(calm).anger


def test_changing_either_example_set_retrains_and_an_unchanged_one_reuses_the_cache(
        example_files: tuple[Path, Path], tmp_path: Path) -> None:
    intents, anger = example_files
    embedder = _CountingEmbedder()
    cache = tmp_path / "cache"
    IntentClassifier.load_or_train(embedder, cache, examples=intents, anger_examples=anger)
    trained = embedder.embedded
    IntentClassifier.load_or_train(embedder, cache, examples=intents, anger_examples=anger)
    assert embedder.embedded == trained  # loaded from the cache, nothing embedded

    with anger.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"text": f"{_SHOUTED} one more", "language": "en", "angry": True}) + "\n")
    IntentClassifier.load_or_train(embedder, cache, examples=intents, anger_examples=anger)
    assert embedder.embedded > trained
    assert len(list((cache / "intents").glob("intents-*.npz"))) == 2


def test_a_bad_anger_example_names_its_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "anger.jsonl"
    path.write_text('{"text": "fine", "language": "en", "angry": false}\n{"text": "grr", "language": "en"}\n')
    with pytest.raises(ConfigError, match=r"anger\.jsonl:2:"):
        read_anger_examples(path)
    path.write_text('{"text": "fine", "language": "en", "angry": "yes"}\n')
    with pytest.raises(ConfigError, match=r"anger\.jsonl:1:"):
        read_anger_examples(path)


def test_the_shipped_anger_examples_cover_every_language_with_both_labels() -> None:
    rows = read_anger_examples()
    for language in ("en", "de", "fr", "es", "pt", "id", "ms", "th", "vi", "ja", "zh", "ar"):
        labels = [row.angry for row in rows if row.language == language]
        assert sum(labels) >= 40 and len(labels) - sum(labels) >= 40, (language, sum(labels), len(labels))


# Fresh ordinary questions (in no training set or eval suite) on the topics that used to be handed to a person:
# account access, order changes, failed payments, currencies, shops, repairs.
_ORDINARY = [
    ("US", "I forgot which email I signed up with and now I can't get into my account, help?"),
    ("DE", "Kann ich meine Bestellung noch auf eine andere Farbe umstellen, bevor sie rausgeht?"),
    ("FR", "Le paiement par carte a échoué deux fois, est-ce que je peux payer autrement ?"),
    ("MX", "¿Puedo pagar en dólares si vivo en Texas?"),
    ("MY", "Kedai korang ada cawangan kat Penang tak?"),
    ("JP", "ログイン用のメールアドレスを忘れてしまいました。どうすればいいですか？"),
    ("SG", "我想把订单里的背包换成大一号的，还来得及吗？"),
    ("SA", "البطاقة ما انقبلت في الموقع، فيه طريقة دفع ثانية؟"),
    ("BR", "A alça da minha bolsa soltou, vocês fazem conserto?"),
    ("VN", "Mình có thể thanh toán bằng đô la Mỹ không?"),
]
_MARGIN = 0.1  # the escalating intents together stay this far under the threshold


@pytest.mark.parametrize(("market", "message"), _ORDINARY)
def test_ordinary_questions_in_many_languages_are_not_escalated_with_margin(
        embedder: Embedder, escalation_policy: EscalationPolicy, market: str, message: str) -> None:
    rules = PersonaCatalog.load().escalation(market)
    vector = embedder.embed_queries([message])[0]
    decision = escalation_policy.decide(escalation_policy.signals(message, vector, rules=rules, history=[]),
                                        rules=rules)
    assert not decision.escalate, (message, decision.intent, decision.scores)
    assert decision.scores["escalating_intents"] <= rules.thresholds.intent - _MARGIN, (message, decision.scores)
