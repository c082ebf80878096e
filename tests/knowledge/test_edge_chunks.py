"""The chunks ``EdgeStore`` keeps from one search to the next (``EdgeStore._made_chunks``).

Searches between two writes share the chunks they make of the engine's payloads; a write, or a search that a
write overlapped, must never leave a search with a chunk of a payload the engine no longer has. Each check
rewrites a point in place (same id, new text: a document deleted and uploaded again under the same version),
the one change a point's id does not reveal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from knowledge import qdrant_edge
from knowledge.qdrant_edge import EdgeStore
from knowledge.schema import Chunk, ChunkFilter, SparseVector, StoreQuery

pytestmark = pytest.mark.integration

DIM = 8
QUERY = StoreQuery(filter=ChunkFilter(tenant="tidewell"), dense=[1.0] + [0.0] * (DIM - 1),
                   sparse=SparseVector([7], [1.0]), with_similarity=True)


def write(store: EdgeStore, text: str) -> None:
    chunk = Chunk(tenant="tidewell", document_id="returns.md", version=1, position=0, text=text, market="DE",
                  language="de", kind="policy", source="returns.md")
    store.upsert_chunks([chunk], [[1.0] + [0.0] * (DIM - 1)], [SparseVector([7], [1.0])])


def texts(store: EdgeStore) -> list[str]:
    return [hit.chunk.text for hit in store.search(QUERY)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EdgeStore]:
    with EdgeStore(path=tmp_path / "qdrant", dim=DIM) as opened:
        write(opened, "Rückgabe innerhalb von 30 Tagen.")
        yield opened


def test_searches_between_two_writes_share_their_chunks_and_a_write_shows_in_the_next_search(
        store: EdgeStore) -> None:
    first, second = store.search(QUERY), store.search(QUERY)
    assert first[0].chunk is second[0].chunk  # made once
    assert first[0].similarity == pytest.approx(1.0)

    write(store, "Rückgabe innerhalb von 60 Tagen.")
    assert texts(store) == ["Rückgabe innerhalb von 60 Tagen."]
    assert texts(store) == ["Rückgabe innerhalb von 60 Tagen."]


def test_a_search_that_a_write_overlapped_keeps_none_of_its_chunks(store: EdgeStore,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    engine_query = store._query
    overlapped = []

    def query_then_write(requests: list[Any]) -> Any:
        found = engine_query(requests)
        if not overlapped:  # the search's first read of the engine, then a write before it makes its chunks
            overlapped.append(True)
            write(store, "Rückgabe innerhalb von 60 Tagen.")
        return found

    monkeypatch.setattr(store, "_query", query_then_write)
    assert texts(store) == ["Rückgabe innerhalb von 30 Tagen."]  # it read the engine before the write
    monkeypatch.undo()
    assert texts(store) == ["Rückgabe innerhalb von 60 Tagen."]


def test_the_chunks_kept_are_begun_afresh_past_their_bound(store: EdgeStore,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qdrant_edge, "MADE_CHUNKS", 1)
    first = store.search(QUERY)
    assert store.search(QUERY)[0].chunk is not first[0].chunk
    assert texts(store) == ["Rückgabe innerhalb von 30 Tagen."]
