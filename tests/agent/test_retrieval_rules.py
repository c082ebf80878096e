"""Follow-up detection and the contextual query, in several languages (no index needed)."""

from __future__ import annotations

import pytest

from agent.confidence import Calibration
from agent.retrieval import contextual_query, is_follow_up
from agent.schema import Turn

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "message",
    ["and to Germany?", "what about the colours?", "Und nach Österreich?", "y para Monterrey?", "e o prazo?",
     "kalau ke Surabaya?", "còn phí ship thì sao?", "แล้วค่าส่งล่ะ", "それはいつ届きますか", "那退货呢？", "وماذا عن الإرجاع؟",
     "how heavy is it?"],
)
def test_follow_ups(message: str) -> None:
    assert is_follow_up(message)


@pytest.mark.parametrize(
    "message",
    ["How long do I have to return an item I bought last week?",
     "Wie lange habe ich Zeit, einen Artikel zurückzuschicken, den ich letzte Woche gekauft habe?",
     "Berapa lama waktu pengiriman dari gudang Jakarta ke Surabaya untuk paket reguler?",
     "ส่งฟรีเมื่อซื้อครบเท่าไหร่และใช้เวลาจัดส่งกี่วันสำหรับกรุงเทพ",
     "返品送料はお客様負担になりますか、それとも無料でしょうか"],
)
def test_standalone_questions(message: str) -> None:
    assert not is_follow_up(message)


def test_contextual_query_carries_the_previous_question() -> None:
    history = [Turn(role="customer", text="How much does shipping to Chicago cost?", language="en", at=1.0),
               Turn(role="bot", text="Standard shipping is $6.95.", language="en", at=2.0)]
    query, rewritten = contextual_query("and to Germany?", history)
    assert rewritten and query == "How much does shipping to Chicago cost?\nand to Germany?"
    assert contextual_query("and to Germany?", []) == ("and to Germany?", False)
    long_question = "Do you deliver parcels to Packstation lockers in Germany?"
    assert contextual_query(long_question + " I live in Munich and work late.", history)[1] is False


def test_confidence_maps_similarity_onto_unit_range() -> None:
    calibration = Calibration(low=0.8, high=0.9)
    assert calibration.confidence(0.75, "en", "en") == 0.0
    assert calibration.confidence(0.85, "en", "en") == pytest.approx(0.5)
    assert calibration.confidence(0.95, "en", "en") == 1.0


def test_a_cross_lingual_similarity_is_moved_onto_the_same_language_scale() -> None:
    calibration = Calibration(low=0.8, high=0.9, shifts={"th": 0.03, "en": 0.01}, default_shift=0.02)
    assert calibration.confidence(0.81, "th", "en") == pytest.approx(0.5)  # 0.81 + 0.03 + 0.01
    assert calibration.confidence(0.81, "de", "ja") == pytest.approx(0.5)  # unknown languages: 0.02 each
    assert calibration.confidence(0.85, "zh-hant", "zh") == pytest.approx(0.5)  # one language: no shift
    assert calibration.confidence(0.85, "ms", "id") == pytest.approx(0.5)


def test_the_shipped_calibration_loads_and_favours_no_language() -> None:
    calibration = Calibration.load()
    assert 0.0 <= calibration.low < calibration.high <= 1.0
    assert all(0.0 <= shift < 0.1 for shift in calibration.shifts.values())
    assert calibration.confidence(0.83, "th", "en") > calibration.confidence(0.83, "en", "en")
