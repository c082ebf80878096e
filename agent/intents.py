"""Intent and anger classification on the query embedding retrieval already computed.

No packaged multilingual intent classifier works offline, so polydesk trains its own:
a softmax regression over the ten intents and a logistic "angry" head, both on the
multilingual-e5 query embeddings of labelled example sets that ship with polydesk:

- ``agent/data/intents.jsonl`` (text, language, intent, angry): customer-service messages,
  for both heads;
- ``agent/data/anger.jsonl`` (text, language, angry): short messages in the register people
  post in (slang, sarcasm, emoji, no punctuation, code-switching, on any topic), for the anger
  head only. "angry" there means negative: annoyed, disappointed, sarcastic, insulting; the
  others are positive or neutral (praise, excitement, "!!!" of joy, plain questions), so the
  head hears how people write when they are fed up, not just how a complaint to a shop reads.

Classifying a message is two small matrix products on the vector the retrieval stage embeds
anyway, so it adds well under a millisecond.

Training takes a minute or two (embedding ~3,800 examples) and runs once per embedder and
example sets: the weights are cached under ``settings.model_cache_dir/intents/``, keyed by
a hash of the training version, the embedder and both files, and rebuilt when any changes.
A brand that adds examples points ``IntentClassifier.load_or_train(examples=...,
anger_examples=...)`` at its own files.

Example:
    >>> classifier = IntentClassifier.load_or_train(embedder, cache_dir)          # doctest: +SKIP
    >>> vector = embedder.embed_queries(["Ich möchte 2.000 Stück zum Großhandelspreis"])[0]
    >>> prediction = classifier.predict(vector)
    >>> prediction.intent, prediction.probability > 0.6
    ('bulk_purchase', True)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from knowledge.embedder import Embedder
from personas import Intent
from polydesk.errors import ConfigError

__all__ = ["ANGER_EXAMPLES", "EXAMPLES", "AngerExample", "IntentClassifier", "IntentPrediction", "LabelledExample",
           "read_anger_examples", "read_examples"]

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).with_name("data") / "intents.jsonl"
ANGER_EXAMPLES = Path(__file__).with_name("data") / "anger.jsonl"
_VERSION = 2  # bump when training changes, so cached weights are rebuilt
_LABELS = tuple(Intent)


@dataclass(frozen=True, slots=True)
class LabelledExample:
    text: str
    language: str
    intent: Intent
    angry: bool


@dataclass(frozen=True, slots=True)
class AngerExample:
    text: str
    language: str
    angry: bool


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    intent: Intent
    probability: float
    probabilities: dict[str, float]
    anger: float


T = TypeVar("T")


def _read_jsonl(path: Path, what: str, parse: Callable[[dict[str, Any]], T]) -> list[T]:
    """``parse`` of each row of a JSONL file; an unreadable file or a bad line is a ``ConfigError`` naming it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {what}s {path}: {exc}") from exc
    rows: list[T] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                rows.append(parse(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"{path}:{number}: not an {what} ({exc})") from exc
    return rows


def _labelled(row: dict[str, Any]) -> LabelledExample:
    return LabelledExample(text=str(row["text"]), language=str(row["language"]), intent=Intent(row["intent"]),
                           angry=bool(row.get("angry", False)))


def _anger(row: dict[str, Any]) -> AngerExample:
    if not isinstance(row["angry"], bool):
        raise TypeError("angry must be true or false")
    return AngerExample(text=str(row["text"]), language=str(row["language"]), angry=row["angry"])


def read_examples(path: Path = EXAMPLES) -> list[LabelledExample]:
    """The labelled examples of a JSONL file; a bad line is a ``ConfigError`` naming it."""
    examples = _read_jsonl(path, "intent example", _labelled)
    if {example.intent for example in examples} != set(_LABELS):
        missing = sorted(set(_LABELS) - {example.intent for example in examples})
        raise ConfigError(f"{path}: no examples for {', '.join(missing)}")
    return examples


def read_anger_examples(path: Path = ANGER_EXAMPLES) -> list[AngerExample]:
    """The anger-only examples of a JSONL file (text, language, angry); a bad line is a ``ConfigError``."""
    examples = _read_jsonl(path, "anger example", _anger)
    if len({example.angry for example in examples}) < 2:
        raise ConfigError(f"{path}: needs angry and calm examples")
    return examples


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


class IntentClassifier:
    """A linear model over centred, rescaled embeddings: ``softmax(W·x + b)`` and ``sigmoid(a·x + c)``."""

    def __init__(self, *, mean: np.ndarray, scale: float, weights: np.ndarray, bias: np.ndarray,
                 anger_weights: np.ndarray, anger_bias: float) -> None:
        self.mean = mean.astype(np.float32)
        self.scale = float(scale)
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.anger_weights = anger_weights.astype(np.float32)
        self.anger_bias = float(anger_bias)

    # -- training ---------------------------------------------------------------------------------------------

    @classmethod
    def train(cls, vectors: np.ndarray, intents: Sequence[Intent], angry: Sequence[bool], *,
              anger_vectors: np.ndarray | None = None, anger_labels: Sequence[bool] = (),
              l2: float = 1e-3, steps: int = 400, learning_rate: float = 0.05, seed: int = 0) -> IntentClassifier:
        """Fit both heads by full-batch Adam on the cross-entropy with an L2 penalty (deterministic).

        The intent head learns from ``vectors``; the anger head from ``vectors`` and ``anger_vectors``
        together (the anger-only examples), in the same centred, rescaled space.
        """
        x = np.asarray(vectors, dtype=np.float64)
        mean = x.mean(axis=0)
        centred = x - mean
        scale = 1.0 / max(float(np.sqrt((centred**2).sum(axis=1).mean())), 1e-6)
        features = centred * scale
        targets = np.zeros((len(x), len(_LABELS)))
        targets[np.arange(len(x)), [_LABELS.index(intent) for intent in intents]] = 1.0
        # Classes are balanced by weight, so a language or intent with fewer examples counts as much.
        class_weight = targets.sum(axis=0).mean() / np.maximum(targets.sum(axis=0), 1.0)
        sample_weight = (targets * class_weight).sum(axis=1)
        weights, bias = _fit(features, targets, sample_weight, l2=l2, steps=steps, lr=learning_rate, seed=seed)
        anger_features, angry_target = features, np.asarray(angry, dtype=np.float64)
        anger_sample = _balanced(angry_target)
        if anger_vectors is not None and len(anger_labels):
            # The two sets weigh half each, angry and calm half each within a set: the head learns how people
            # write when fed up without forgetting how an angry message to a shop reads, and its 0.5 means even
            # odds whatever the mix of examples.
            extra_target = np.asarray(anger_labels, dtype=np.float64)
            anger_features = np.vstack([features, (np.asarray(anger_vectors, dtype=np.float64) - mean) * scale])
            angry_target = np.concatenate([angry_target, extra_target])
            anger_sample = np.concatenate([anger_sample, _balanced(extra_target)])
        anger_weights, anger_bias = _fit(anger_features, angry_target[:, None], anger_sample, l2=l2, steps=steps,
                                         lr=learning_rate, seed=seed + 1, binary=True)
        return cls(mean=mean, scale=scale, weights=weights, bias=bias, anger_weights=anger_weights[:, 0],
                   anger_bias=float(anger_bias[0]))

    @classmethod
    def load_or_train(cls, embedder: Embedder, cache_dir: Path, *, examples: Path = EXAMPLES,
                      anger_examples: Path = ANGER_EXAMPLES) -> IntentClassifier:
        """The cached classifier for this embedder and these example sets, trained (and cached) when missing."""
        key = hashlib.sha256(f"v{_VERSION}|{embedder.name}|".encode())
        for source in (examples, anger_examples):  # each file hashed on its own, so no two sets collide
            key.update(hashlib.sha256(source.read_bytes()).digest())
        path = Path(cache_dir) / "intents" / f"intents-{key.hexdigest()[:16]}.npz"
        if path.is_file():
            try:
                return cls.load(path)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("rebuilding the intent classifier: %s is unreadable (%s)", path, exc)
        rows = read_examples(examples)
        anger_rows = read_anger_examples(anger_examples)
        log.info("training the intent classifier on %d + %d examples (cached in %s)", len(rows), len(anger_rows), path)
        vectors = embedder.embed_queries([row.text for row in rows])
        anger_vectors = embedder.embed_queries([row.text for row in anger_rows])
        classifier = cls.train(vectors, [row.intent for row in rows], [row.angry for row in rows],
                               anger_vectors=anger_vectors, anger_labels=[row.angry for row in anger_rows])
        classifier.save(path)
        return classifier

    # -- use --------------------------------------------------------------------------------------------------

    def predict(self, vector: Sequence[float] | np.ndarray) -> IntentPrediction:
        features = (np.asarray(vector, dtype=np.float32) - self.mean) * self.scale
        probabilities = _softmax(features @ self.weights + self.bias)
        best = int(probabilities.argmax())
        anger = float(_sigmoid(np.asarray(features @ self.anger_weights + self.anger_bias)))
        return IntentPrediction(
            intent=_LABELS[best], probability=float(probabilities[best]),
            probabilities={label.value: round(float(p), 4) for label, p in zip(_LABELS, probabilities, strict=True)},
            anger=anger,
        )

    # -- persistence ------------------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Written to a temporary file and renamed, so a reader never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, mean=self.mean, scale=self.scale, weights=self.weights, bias=self.bias,
                         anger_weights=self.anger_weights, anger_bias=self.anger_bias,
                         labels=np.array([label.value for label in _LABELS]))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> IntentClassifier:
        with np.load(path) as data:
            if tuple(str(label) for label in data["labels"]) != tuple(label.value for label in _LABELS):
                raise ValueError("the cached labels differ from this version's intents")
            return cls(mean=data["mean"], scale=float(data["scale"]), weights=data["weights"], bias=data["bias"],
                       anger_weights=data["anger_weights"], anger_bias=float(data["anger_bias"]))


def _balanced(target: np.ndarray) -> np.ndarray:
    """Sample weights summing to 1 in which the positive and the negative examples weigh half each."""
    positive = max(int((target > 0).sum()), 1)
    negative = max(int((target <= 0).sum()), 1)
    return np.where(target > 0, 0.5 / positive, 0.5 / negative)


def _fit(features: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray, *, l2: float, steps: int, lr: float,
         seed: int, binary: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = rng.normal(0.0, 0.01, size=(features.shape[1], targets.shape[1]))
    bias = np.zeros(targets.shape[1])
    moments = [np.zeros_like(weights), np.zeros_like(bias)]
    squares = [np.zeros_like(weights), np.zeros_like(bias)]
    total = sample_weight.sum()
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        logits = features @ weights + bias
        predicted = _sigmoid(logits) if binary else _softmax(logits)
        error = (predicted - targets) * sample_weight[:, None] / total
        gradients = [features.T @ error + l2 * weights, error.sum(axis=0)]
        for i, (param, grad) in enumerate(zip((weights, bias), gradients, strict=True)):
            moments[i] = beta1 * moments[i] + (1 - beta1) * grad
            squares[i] = beta2 * squares[i] + (1 - beta2) * grad**2
            m_hat = moments[i] / (1 - beta1**step)
            v_hat = squares[i] / (1 - beta2**step)
            param -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return weights, bias
