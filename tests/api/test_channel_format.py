"""Reply text for chat platforms: split within limits, never inside a grapheme or a URL; Markdown taken out."""

from __future__ import annotations

import pytest
import regex

from api.channels.format import plain_text, split_text, utf16_length

pytestmark = pytest.mark.unit

GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> list[str]:
    return GRAPHEME.findall(text)


def test_short_text_is_one_piece() -> None:
    assert split_text("  สวัสดีค่ะ  ", limit=100) == ["สวัสดีค่ะ"]
    assert split_text("   ", limit=100) == []


def test_pieces_respect_the_limit_and_keep_every_word() -> None:
    text = " ".join(f"word{i}." if i % 7 == 0 else f"word{i}" for i in range(400))
    pieces = split_text(text, limit=120)
    assert all(utf16_length(p) <= 120 for p in pieces)
    assert " ".join(pieces).split() == text.split()


def test_a_break_prefers_the_paragraph_then_the_sentence() -> None:
    text = "First paragraph sentence one. Sentence two.\n\nSecond paragraph here, rather long indeed."
    assert split_text(text, limit=60) == ["First paragraph sentence one. Sentence two.",
                                          "Second paragraph here, rather long indeed."]
    assert split_text("One sentence here. And another one follows", limit=30) == [
        "One sentence here.", "And another one follows"]


@pytest.mark.parametrize("cluster", ["👨‍👩‍👧‍👦", "🇹🇭", "ที่", "क्षि", "é"])
def test_a_grapheme_cluster_is_never_cut(cluster: str) -> None:
    text = cluster * 40  # no spaces at all: every cut falls between clusters
    pieces = split_text(text, limit=25)
    assert all(utf16_length(p) <= 25 for p in pieces)
    assert all(set(graphemes(p)) == {cluster} for p in pieces)
    assert "".join(pieces) == text


def test_a_url_is_never_cut() -> None:
    url = "https://tidewell.example/help/shipping/free-shipping-thresholds?market=TH&lang=th"
    text = "ดูรายละเอียดได้ที่ " + url + " ขอบคุณค่ะ " * 3
    for limit in range(len(url) + 2, len(text), 7):
        pieces = split_text(text, limit=limit)
        assert any(url in p for p in pieces), limit
        assert all(utf16_length(p) <= limit for p in pieces)


def test_a_url_longer_than_the_limit_is_cut_as_a_last_resort() -> None:
    url = "https://tidewell.example/" + "a" * 100
    pieces = split_text(url, limit=40)
    assert "".join(pieces) == url and all(len(p) <= 40 for p in pieces)


def test_the_limit_counts_utf16_units_as_telegram_does() -> None:
    text = "😀" * 10  # 20 UTF-16 units
    pieces = split_text(text, limit=7)
    assert all(utf16_length(p) <= 7 for p in pieces) and "".join(pieces) == text


def test_markdown_that_shows_as_symbols_is_taken_out() -> None:
    text = "## Shipping\n**Free** shipping over *50 SGD*, see [the page](https://t.example/s) or `code`."
    assert plain_text(text) == "Shipping\nFree shipping over 50 SGD, see the page (https://t.example/s) or code."


def test_plain_text_keeps_what_is_not_markdown() -> None:
    text = "5 * 3 = 15, snake_case_name, price: 2*3*4, https://t.example/a_b_c"
    assert plain_text(text) == text
