import pytest

from knowledge.sparse import SparseEncoder, term_id

pytestmark = pytest.mark.unit


@pytest.fixture
def encoder() -> SparseEncoder:
    return SparseEncoder()


def test_product_codes_keep_the_compound_and_its_parts(encoder: SparseEncoder) -> None:
    tokens = encoder.tokens("Der Rucksack TW-4417 hat Version v2.1")
    assert {"tw-4417", "tw", "4417", "v2.1"} <= set(tokens)


def test_thousand_separators_stay_one_number(encoder: SparseEncoder) -> None:
    assert "1,000" in encoder.tokens("ส่งฟรีเมื่อซื้อครบ ฿1,000")
    assert "a" in encoder.tokens("a, b") and "a,b" not in encoder.tokens("a, b")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("送料無料", ["送料", "料無", "無料"]),  # Japanese
        ("免運費", ["免運", "運費"]),  # Chinese
        ("ส่งฟรี", ["ส่", "่ง", "งฟ", "ฟร", "รี"]),  # Thai: no spaces, combining marks kept
    ],
)
def test_unspaced_scripts_become_bigrams(encoder: SparseEncoder, text: str, expected: list[str]) -> None:
    assert encoder.tokens(text) == expected


def test_mixed_script_text_is_split_at_script_boundaries(encoder: SparseEncoder) -> None:
    tokens = encoder.tokens("TW-5120の保冷は24時間")
    assert "tw-5120" in tokens and "保冷" in tokens and "24" in tokens


@pytest.mark.parametrize("text", ["Versand nach Österreich", "miễn phí vận chuyển", "شحن مجاني", "envío gratis"])
def test_spaced_scripts_are_words_casefolded(encoder: SparseEncoder, text: str) -> None:
    assert encoder.tokens(text) == text.casefold().split()


def test_document_weights_saturate_with_term_frequency(encoder: SparseEncoder) -> None:
    once, thrice = encoder.encode_documents(["bag strap", "bag bag bag strap"])
    weight = dict(zip(thrice.indices, thrice.values, strict=True))[term_id("bag")]
    single = dict(zip(once.indices, once.values, strict=True))[term_id("bag")]
    assert single < weight < 3 * single


def test_query_weights_are_one_per_distinct_term(encoder: SparseEncoder) -> None:
    vector = encoder.encode_query("bag bag strap")
    assert sorted(vector.values) == [1.0, 1.0]
    assert vector.indices == sorted(vector.indices)


def test_empty_text_gives_an_empty_vector(encoder: SparseEncoder) -> None:
    assert encoder.encode_query("  !? ").indices == []


def test_identifiers_are_codes_and_long_numbers_not_prices_or_words(encoder: SparseEncoder) -> None:
    text = "Wo ist TW-ORD-2026-004512 (TW-4417, Auftrag 4417201600)? ฿1,000 ส่งฟรี v2"
    assert encoder.identifiers(text) == {"tw-ord-2026-004512", "tw-4417", "4417201600"}
