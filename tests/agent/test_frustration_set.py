"""Frustration on short social-media messages the anger head never saw: the held-out set and its AUC per language."""

from __future__ import annotations

import collections
import re
import unicodedata

import pytest

from agent.escalation import EscalationPolicy
from agent.intents import read_anger_examples, read_examples
from agent.sentiment import trigrams
from bench.frustration import HELD_OUT_SET, read_posts, report, score_posts
from knowledge.embedder import Embedder
from personas import PersonaCatalog

# Messages per label (negative and positive each) that the issue asks for.
MINIMUM = {"en": 50, "fr": 50, "pt": 50, "es": 50, "de": 50, "ar": 50, "id": 30, "th": 30, "ja": 30, "zh": 30, "vi": 30}
# Measured on an Intel Xeon (int8 embeddings): head / full score per language, e.g. ar 0.89 / 0.89, fr 0.93 / 0.92,
# id 0.92 / 0.90, vi 0.92 / 0.91, the others 0.95-0.99. The floors sit about 0.08 below, because int8
# numerics differ between CPUs; before the social-media examples the head measured 0.62-0.87.
FLOOR = {"ar": 0.80, "de": 0.87, "en": 0.88, "es": 0.87, "fr": 0.83, "id": 0.81, "ja": 0.88, "pt": 0.86, "th": 0.88,
         "vi": 0.82, "zh": 0.88}
# Character-trigram similarity from which a held-out message counts as a near-copy of a training example.
NEAR_COPY = 0.6


def _normalised(text: str) -> str:
    return re.sub(r"\W+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()


@pytest.mark.unit
def test_the_held_out_set_has_enough_negative_and_positive_messages_per_language() -> None:
    posts = read_posts()
    counts = collections.Counter((post.language, post.negative) for post in posts)
    short = {f"{language} {'negative' if negative else 'positive'}": counts[(language, negative)]
             for language, minimum in MINIMUM.items() for negative in (True, False)
             if counts[(language, negative)] < minimum}
    assert not short, short
    texts = [_normalised(post.text) for post in posts]
    assert len(texts) == len(set(texts)), [text for text, n in collections.Counter(texts).items() if n > 1]


@pytest.mark.unit
def test_no_held_out_message_is_in_the_training_data_or_a_near_copy_of_it() -> None:
    training = [row.text for row in read_examples()] + [row.text for row in read_anger_examples()]
    exact = {_normalised(text) for text in training}
    posts = read_posts()
    assert not [post.text for post in posts if _normalised(post.text) in exact]
    training_grams = [trigrams(text) for text in training]
    index_of: dict[str, list[int]] = collections.defaultdict(list)  # trigram -> training examples that have it
    for i, grams in enumerate(training_grams):
        for gram in grams:
            index_of[gram].append(i)
    near = [(post.text, training[index], round(jaccard, 2)) for post in posts
            for index, jaccard in _most_similar(trigrams(post.text), training_grams, index_of) if jaccard >= NEAR_COPY]
    assert not near, f"{HELD_OUT_SET.name} has near-copies of training examples: {near[:5]}"


def _most_similar(grams: set[str], training_grams: list[set[str]],
                  index_of: dict[str, list[int]]) -> list[tuple[int, float]]:
    """Training examples sharing a trigram with ``grams``, with their Jaccard similarity (as ``agent.sentiment``)."""
    shared = collections.Counter(i for gram in grams for i in index_of.get(gram, ()))
    return [(i, n / (len(grams) + len(training_grams[i]) - n)) for i, n in shared.items()]


@pytest.mark.integration
def test_negative_messages_score_above_positive_ones_in_every_language(escalation_policy: EscalationPolicy,
                                                                       embedder: Embedder) -> None:
    posts = read_posts()
    vectors = embedder.embed_queries([post.text for post in posts])
    table = report(score_posts(posts, vectors, escalation_policy.classifier, PersonaCatalog.load()))
    print("\n".join(f"{language}: head {row['auc_head']:.3f} score {row['auc_score']:.3f}"
                    for language, row in table.items()))
    low = {language: (table[language]["auc_head"], table[language]["auc_score"]) for language in FLOOR
           if min(table[language]["auc_head"], table[language]["auc_score"]) < FLOOR[language]}
    assert not low, low
    # Joy is not frustration: hardly any positive message reaches the sentiment threshold on its own.
    assert table["all"]["over_threshold_positive"] <= 0.05, table["all"]
