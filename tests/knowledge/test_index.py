"""The versioned index on the real embedding model: hybrid search, filters, version switching."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from knowledge.embedder import Embedder
from knowledge.index import KnowledgeIndex
from knowledge.schema import Chunk, ChunkFilter, DocumentRecord, StoreQuery
from polydesk.errors import InputError
from polydesk.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(params=["embedded", "server"])
def index(request: pytest.FixtureRequest, settings: Settings, embedder: Embedder) -> Iterator[KnowledgeIndex]:
    """The same behaviour on the embedded engine and through qdrant-client (its local mode stands in for a server)."""
    if request.param == "server":
        settings = settings.model_copy(update={"qdrant_url": ":memory:"})
    opened = KnowledgeIndex.open(settings, embedder=embedder)
    yield opened
    opened.close()

ORDERS = [
    "Order TW-ORD-2026-004512 was shipped with DHL and arrives on Friday.",
    "Order TW-ORD-2026-004513 was shipped with DHL and arrives on Friday.",
    "Order TW-ORD-2026-004521 was shipped with UPS and arrives on Monday.",
    "Order TW-ORD-2026-005412 was cancelled and refunded to the card.",
    "Order TW-ORD-2025-004512 was delivered last year.",
    "Bestellung TW-ORD-2026-004152 wurde mit DHL verschickt.",
]


def _write(index: KnowledgeIndex, texts: list[str], *, tenant: str = "t", market: str = "*",
           language: str = "en", version: int = 1, prefix: str = "d") -> None:
    encoded = index.encode(texts)
    for i, text in enumerate(texts):
        document_id = f"{prefix}{i}"
        chunk = Chunk(tenant=tenant, document_id=document_id, version=version, position=0, text=text, market=market,
                      language=language, kind="doc", source=document_id)
        record = DocumentRecord(tenant=tenant, document_id=document_id, version=version, source=document_id,
                                kind="doc", market=market, language=language, source_hash=f"h{version}",
                                chunk_count=1)
        index.write_document(record, [chunk], encoded[i : i + 1])


def test_hybrid_finds_an_exact_order_number_that_dense_alone_misses(index: KnowledgeIndex) -> None:
    _write(index, ORDERS)
    query = "TW-ORD-2026-004512"
    dense = [h.chunk.text for h in index.search(query, tenant="t", top_k=3, mode="dense")]
    hybrid = [h.chunk.text for h in index.search(query, tenant="t", top_k=3, mode="hybrid")]
    assert dense[0] != ORDERS[0]  # the dense model sees near-identical strings
    assert hybrid[0] == ORDERS[0]


def test_a_bare_product_code_finds_that_product_not_its_look_alikes(index: KnowledgeIndex) -> None:
    codes = ["TW-4471", "TW-4714", "TW-4417", "TW-7441"]
    _write(index, [f"The Drift 40L backpack {code} fits a {13 + i} inch laptop." for i, code in enumerate(codes)])
    assert "TW-4417" in index.search("TW-4417", tenant="t", top_k=3)[0].chunk.text
    assert "TW-4417" in index.search("does TW-4417 fit a laptop?", tenant="t", top_k=3)[0].chunk.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Is shipping free?", 0),
        ("Which payment methods can I use?", 1),
        ("How many days do I have to send an item back?", 2),
        ("¿Los productos tienen garantía?", 3),
    ],
)
def test_cross_lingual_dense_retrieval(index: KnowledgeIndex, query: str, expected: int) -> None:
    texts = [
        "Ab 50 € versenden wir kostenlos mit DHL.",
        "ชำระเงินได้ผ่าน PromptPay บัตรเครดิต หรือ TrueMoney Wallet",
        "返品は商品到着後8日以内にご連絡ください。",
        "ضمان لمدة سنتين على جميع المنتجات.",
    ]
    _write(index, texts)
    top = index.search(query, tenant="t", top_k=1, mode="dense")[0]
    assert top.chunk.text == texts[expected]


def test_market_filter_admits_market_independent_chunks(index: KnowledgeIndex) -> None:
    _write(index, ["Rückgabe innerhalb von 30 Tagen."], market="DE", language="de", prefix="de")
    _write(index, ["Devolução em até 7 dias corridos."], market="BR", language="pt", prefix="br")
    _write(index, ["Two-year warranty on every product."], market="*", prefix="any")
    found = {h.chunk.market for h in index.search("return window", tenant="t", market="DE", top_k=10)}
    assert found == {"DE", "*"}
    found = {h.chunk.language for h in index.search("return window", tenant="t", language="pt", top_k=10)}
    assert found == {"pt"}


def test_only_the_live_version_is_returned(index: KnowledgeIndex) -> None:
    _write(index, ["Returns within 30 days."])
    # Write version 2's chunk without switching the catalogue: a reader must not see it.
    encoded = index.encode(["Returns within 60 days."])
    staged = Chunk(tenant="t", document_id="d0", version=2, position=0, text="Returns within 60 days.",
                   language="en", kind="doc", source="d0")
    index.store.upsert_chunks([staged], encoded.dense.tolist(), encoded.sparse)
    assert [h.chunk.version for h in index.search("returns days", tenant="t", top_k=5)] == [1]
    with pytest.raises(InputError, match="already live"):
        _write(index, ["Returns within 30 days."])


def test_chunks_of_a_version_being_written_do_not_crowd_out_the_live_ones(index: KnowledgeIndex) -> None:
    """A search asks for a few hits more than wanted; when chunks of another version fill those places (a large
    document being replaced), it asks again for many more, so the live hits still come back."""
    _write(index, ["Refunds reach your card within 5 days.", "Refund requests need the order number.",
                   "Refunds of gift cards are paid as store credit."])
    staged_texts = [f"How long does a refund take? Refund step {n}: refunds take {n} days." for n in range(6)]
    encoded = index.encode(staged_texts)
    staged = [Chunk(tenant="t", document_id="d0", version=2, position=n, text=text, language="en", kind="doc",
                    source="d0") for n, text in enumerate(staged_texts)]
    index.store.upsert_chunks(staged, encoded.dense.tolist(), encoded.sparse)
    query = "How long does a refund take?"
    first_page = index.store.search(StoreQuery(filter=ChunkFilter(tenant="t"), limit=3 + 4,
                                               dense=index.embed_query(query).tolist()))
    assert sum(hit.chunk.version == 2 for hit in first_page) >= 5  # the staged chunks do fill the first places
    hits = index.search(query, tenant="t", top_k=3, mode="dense")
    assert sorted(hit.chunk.document_id for hit in hits) == ["d0", "d1", "d2"]
    assert {hit.chunk.version for hit in hits} == {1}


@pytest.mark.parametrize("staged_version", [1, 2])  # a new document being written; a live one being replaced
def test_many_chunks_being_written_that_match_better_do_not_crowd_out_the_live_ones(
        index: KnowledgeIndex, staged_version: int) -> None:
    """A large upload whose text repeats the live answer (a manual quoting the FAQ) stages more chunks that
    match as well or better than the wide search asks for, and than either side of a hybrid search hands to
    the fusion: the searches after the first leave those versions out, so the live answer still comes back."""
    _write(index, ["Refunds reach your card within 5 days.", "Refund requests need the order number."])
    staged_texts = [f"Refunds reach your card within 5 days. Section {n}." for n in range(150)]
    encoded = index.encode(staged_texts)
    document_id = "d0" if staged_version == 2 else "manual"
    staged = [Chunk(tenant="t", document_id=document_id, version=staged_version, position=n, text=text,
                    language="en", kind="doc", source=document_id) for n, text in enumerate(staged_texts)]
    index.store.upsert_chunks(staged, encoded.dense.tolist(), encoded.sparse)
    left_out = ChunkFilter(tenant="t", except_versions=((document_id, staged_version),))
    assert index.store.count_chunks(ChunkFilter(tenant="t")) == 152 and index.store.count_chunks(left_out) == 2
    for mode in ("hybrid", "dense"):
        hits = index.search("How long do refunds take to reach my card?", tenant="t", top_k=15, mode=mode)
        assert sorted((hit.chunk.document_id, hit.chunk.version) for hit in hits) == [("d0", 1), ("d1", 1)], mode


def test_an_empty_query_is_refused(index: KnowledgeIndex) -> None:
    with pytest.raises(InputError):
        index.search("   ", tenant="t")
