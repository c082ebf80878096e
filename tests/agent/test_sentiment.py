"""Frustration signals that are not the model: what shouting means depends on whether the message sounds negative."""

from __future__ import annotations

import pytest

from agent.sentiment import FrustrationScorer
from personas import EscalationRules

pytestmark = pytest.mark.unit

RULES = EscalationRules.model_validate({"frustration_terms": {"en": ["ridiculous"]}})


def test_shouting_for_joy_weighs_less_than_shouting_in_anger() -> None:
    scorer = FrustrationScorer()
    joy = scorer.score("WE WON THE FINAL!!!", anger=0.05, rules=RULES, history=[])
    anger = scorer.score("WHERE IS MY PARCEL!!!", anger=0.8, rules=RULES, history=[])
    worded = scorer.score("THIS IS RIDICULOUS!!!", anger=0.05, rules=RULES, history=[])
    assert {"all_caps", "exclamations"} <= joy.signals.keys()  # heard, but as intensity only
    assert joy.signals["exclamations"] < anger.signals["exclamations"] == worded.signals["exclamations"]
    assert joy.score < 0.3 < 0.7 < anger.score


def test_an_angry_emoji_is_a_signal_and_makes_the_shouting_count() -> None:
    scorer = FrustrationScorer()
    calm = scorer.score("ok thanks!!!", anger=0.05, rules=RULES, history=[])
    rolled = scorer.score("ok thanks 🙄!!!", anger=0.05, rules=RULES, history=[])
    assert "angry_emoji" not in calm.signals and "angry_emoji" in rolled.signals
    assert rolled.signals["exclamations"] > calm.signals["exclamations"]
    assert "angry_emoji" not in scorer.score("finally weekend 🙌😂", anger=0.05, rules=RULES, history=[]).signals
