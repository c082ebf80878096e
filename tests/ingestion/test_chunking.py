import itertools

import pytest

from ingestion.chunking import Chunker, estimate_tokens
from ingestion.parsing import Block

pytestmark = pytest.mark.unit


def _text(text: str, *path: str) -> Block:
    return Block(kind="text", text=text, heading_path=tuple(path))


def test_a_chunk_never_crosses_a_heading_and_starts_with_it() -> None:
    shipping = "Ab 50 € Bestellwert versenden wir innerhalb Deutschlands kostenlos mit DHL."
    returns = "Sie können Artikel innerhalb von 30 Tagen nach Erhalt kostenlos zurücksenden."
    blocks = [
        Block(kind="title", text="Versand"),
        _text(shipping, "Versand"),
        Block(kind="title", text="Rückgabe", heading_path=()),
        _text(returns, "Rückgabe"),
        Block(kind="list_item", text="Etikett liegt bei", heading_path=("Rückgabe",)),
    ]
    drafts = Chunker(max_tokens=40, overlap_tokens=8).chunk(blocks)
    assert [d.text for d in drafts] == [f"Versand\n{shipping}", f"Rückgabe\n{returns}\nEtikett liegt bei"]
    assert [d.section for d in drafts] == ["Versand", "Rückgabe"]


def test_runs_of_tiny_sections_are_joined_while_they_fit() -> None:
    blocks = []
    for i in range(6):
        blocks += [Block(kind="title", text=f"Spec {i}"), _text(f"Value {i}", f"Spec {i}")]
    drafts = Chunker(max_tokens=40, overlap_tokens=8).chunk(blocks)
    assert 1 < len(drafts) < 6
    assert "\n".join(d.text for d in drafts) == "\n".join(f"Spec {i}\nValue {i}" for i in range(6))


@pytest.mark.parametrize(
    "sentence",
    [
        "ส่งฟรีเมื่อซื้อครบหนึ่งพันบาท จัดส่งภายในสองถึงสี่วันทำการ",  # Thai: spaces only between phrases
        "送料無料は八千円以上のご注文が対象です。",  # Japanese: no spaces at all
        "滿兩千元免運費，兩到四個工作天送達。",  # Chinese
        "Kostenloser Versand ab fünfzig Euro mit DHL innerhalb Deutschlands.",
    ],
)
def test_long_text_without_spaces_is_cut_within_the_budget_and_nothing_is_lost(sentence: str) -> None:
    text = sentence * 40
    chunker = Chunker(max_tokens=64, overlap_tokens=0)
    drafts = chunker.chunk([_text(text)])
    assert len(drafts) > 1
    assert all(estimate_tokens(d.text) <= 64 for d in drafts)
    assert "".join(d.text for d in drafts).replace(" ", "") == text.replace(" ", "")


def test_table_rows_are_packed_under_their_header() -> None:
    rows = [Block(kind="table_row", text=f"TW-{4400 + i} | {i} kg", table_header="Code | Gewicht",
                  heading_path=("Maße",)) for i in range(30)]
    drafts = Chunker(max_tokens=48, overlap_tokens=8).chunk(rows)
    assert len(drafts) > 1
    assert all(d.text.startswith("Maße\nCode | Gewicht\n") for d in drafts)
    packed = [line for d in drafts for line in d.text.splitlines()[2:]]
    assert packed == [r.text for r in rows]  # every row once, in order, none split


def test_small_neighbours_overlap_between_chunks_of_one_section() -> None:
    blocks = [_text(f"Paragraph {i} about shipping times to Austria.", "Shipping") for i in range(12)]
    drafts = Chunker(max_tokens=40, overlap_tokens=16).chunk(blocks)
    assert len(drafts) > 2
    for first, second in itertools.pairwise(drafts):
        assert first.text.splitlines()[-1] == second.text.splitlines()[1]


def test_page_of_a_chunk_is_the_page_of_its_first_block() -> None:
    blocks = [Block(kind="text", text="Seite eins.", page=1), Block(kind="text", text="Seite zwei.", page=2)]
    assert [d.page for d in Chunker().chunk(blocks)] == [1]


def test_token_estimate_counts_unspaced_scripts_per_character() -> None:
    assert estimate_tokens("送料無料") == 4
    assert estimate_tokens("free shipping") == pytest.approx(1 + 2)
    assert estimate_tokens("ส่งฟรี") == pytest.approx(6 * 0.4)
