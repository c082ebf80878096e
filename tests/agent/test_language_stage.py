"""The reply language: short messages never flip a conversation, clear ones do, the customer's choice wins."""

from __future__ import annotations

import pytest

from agent.language import LanguageStage
from personas import PersonaCatalog

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def stage() -> LanguageStage:
    return LanguageStage()


@pytest.fixture(scope="module")
def catalog() -> PersonaCatalog:
    return PersonaCatalog.load()


@pytest.mark.parametrize(
    ("message", "market", "expected"),
    [
        ("Wie lange habe ich Zeit für eine Rücksendung?", "DE", "de"),
        ("ส่งฟรีเมื่อซื้อครบเท่าไหร่คะ", "TH", "th"),
        ("返品は何日以内にできますか？", "JP", "ja"),
        ("Pesanan saya belum sampai, tolong dicek ya", "ID", "id"),
        ("Đơn hàng của tôi khi nào được giao?", "VN", "vi"),
        ("我的订单什么时候发货？", "TW", "zh"),
        ("ما هي مدة الإرجاع؟", "SA", "ar"),
        ("¿Cuánto cuesta el envío a Monterrey?", "MX", "es"),
        ("Qual o prazo para devolução do produto?", "BR", "pt"),
        ("How long does delivery take to Chicago?", "US", "en"),
    ],
)
def test_first_message_sets_the_language(stage: LanguageStage, catalog: PersonaCatalog, message: str, market: str,
                                         expected: str) -> None:
    decision = stage.run(message, market=catalog.market(market))
    assert (decision.language, decision.source) == (expected, "detected")


@pytest.mark.parametrize(
    ("message", "current"),
    [("ok", "de"), ("谢谢", "th"), ("👍", "ja"), ("Danke!", "en"), ("thanks", "id"), ("OK 了解", "ja"),
     ("承知しました", "ja"), ("了解", "ja"), ("merci", "es"), ("ok!!", "th")],
)
def test_short_messages_keep_the_conversation_language(stage: LanguageStage, catalog: PersonaCatalog, message: str,
                                                       current: str) -> None:
    decision = stage.run(message, market=catalog.market("SG"), conversation_language=current)
    assert decision.language == current


def test_a_clear_message_in_another_language_switches(stage: LanguageStage, catalog: PersonaCatalog) -> None:
    decision = stage.run("Können Sie mir bitte sagen, wann meine Bestellung ankommt?", market=catalog.market("US"),
                         conversation_language="en")
    assert (decision.language, decision.source) == ("de", "detected")
    decision = stage.run("我想知道我的订单什么时候到", market=catalog.market("SG"), conversation_language="en")
    assert decision.language == "zh"


def test_kanji_only_does_not_turn_japanese_into_chinese(stage: LanguageStage, catalog: PersonaCatalog) -> None:
    decision = stage.run("配送料金確認", market=catalog.market("JP"), conversation_language="ja")
    assert decision.language == "ja"


def test_malay_and_indonesian_are_one_conversation(stage: LanguageStage, catalog: PersonaCatalog) -> None:
    decision = stage.run("Boleh saya tahu bila pesanan saya akan sampai ke rumah?", market=catalog.market("MY"),
                         conversation_language="id")
    assert decision.language == "id"


def test_the_customers_choice_wins(stage: LanguageStage, catalog: PersonaCatalog) -> None:
    decision = stage.run("Wie lange dauert der Versand?", market=catalog.market("DE"), override="en")
    assert (decision.language, decision.source, decision.detected) == ("en", "override", "de")


def test_unclear_first_message_uses_locale_then_market(stage: LanguageStage, catalog: PersonaCatalog) -> None:
    assert stage.run("ok", market=catalog.market("TH"), locale="en-GB").language == "en"
    decision = stage.run("ok", market=catalog.market("TH"))
    assert (decision.language, decision.source) == ("th", "market")
    assert stage.run("👍", market=catalog.market("JP"), locale="??").language == "ja"
