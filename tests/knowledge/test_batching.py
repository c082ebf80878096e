"""Query embeddings batched across concurrent callers (``knowledge.batching.QueryBatcher``).

The unit tests drive the batcher with a slow in-memory embedder, so that callers really overlap; the last
test runs the real model from many threads at once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import numpy as np
import pytest

from knowledge import batching
from knowledge.batching import QueryBatcher, estimated_tokens
from knowledge.embedder import CountsTokens, Embedder


class SlowEmbedder:
    """One vector per text (its length and first character), a run that takes ``delay_s``; refuses ``bad``."""

    name = "slow"
    dim = 2

    def __init__(self, delay_s: float = 0.05) -> None:
        self.delay_s = delay_s
        self.runs: list[int] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.runs.append(len(texts))
        try:
            threading.Event().wait(self.delay_s)
            if "bad" in texts:
                raise ValueError("the tokenizer refused a text")
            return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)
        finally:
            with self._lock:
                self.running -= 1

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_queries(texts)


def _together(batcher: QueryBatcher, texts: list[list[str]]) -> list[np.ndarray | Exception]:
    """Each list of texts embedded by its own thread, all started at once."""
    start = threading.Barrier(len(texts))

    def one(chunk: list[str]) -> np.ndarray | Exception:
        start.wait()
        try:
            return batcher.embed_queries(chunk)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(texts)) as pool:
        return list(pool.map(one, texts))


@pytest.mark.unit
def test_a_lone_request_runs_at_once_in_one_run() -> None:
    inner = SlowEmbedder(delay_s=0)
    batcher = QueryBatcher(inner)
    rows = batcher.embed_queries(["Wo ist mein Paket?", "ok"])
    assert rows.tolist() == [[18, ord("W")], [2, ord("o")]]
    assert inner.runs == [2] and batcher.stats.runs == 1


@pytest.mark.unit
def test_concurrent_callers_share_runs_and_each_gets_its_own_rows() -> None:
    inner = SlowEmbedder()
    batcher = QueryBatcher(inner, max_batch=32)
    texts = [[f"{'x' * (i + 1)}", f"{chr(0x3042 + i)}?"] for i in range(16)]  # Japanese kana as the second text
    results = _together(batcher, texts)
    for chunk, rows in zip(texts, results, strict=True):
        assert isinstance(rows, np.ndarray)
        assert rows.tolist() == [[len(t), ord(t[0])] for t in chunk]
    assert inner.most_at_once == 1  # one model run at a time
    assert len(inner.runs) < len(texts) and max(inner.runs) > 2  # the waiting callers went in together
    assert sum(inner.runs) == 32 and batcher.stats.texts == 32


@pytest.mark.unit
def test_a_run_holds_at_most_max_batch_texts() -> None:
    inner = SlowEmbedder()
    batcher = QueryBatcher(inner, max_batch=4)
    results = _together(batcher, [[f"q{i}"] for i in range(12)])
    assert all(isinstance(r, np.ndarray) for r in results)
    assert max(inner.runs) <= 4 and sum(inner.runs) == 12


@pytest.mark.unit
def test_one_bad_message_fails_only_its_own_request() -> None:
    inner = SlowEmbedder()
    batcher = QueryBatcher(inner)
    texts = [["good one"], ["bad"], ["สวัสดี"], ["مرحبا"], ["hola"], ["olá"]]
    results = _together(batcher, texts)
    failed = [chunk for chunk, r in zip(texts, results, strict=True) if isinstance(r, Exception)]
    assert failed == [["bad"]]
    assert isinstance(results[1], ValueError)
    for chunk, rows in zip(texts, results, strict=True):
        if chunk != ["bad"]:
            assert isinstance(rows, np.ndarray) and rows.tolist() == [[len(chunk[0]), ord(chunk[0][0])]]


@pytest.mark.unit
def test_empty_input_and_passages_pass_through() -> None:
    inner = SlowEmbedder(delay_s=0)
    batcher = QueryBatcher(inner)
    assert batcher.embed_queries([]).shape == (0, 2) and inner.runs == []
    assert batcher.embed_passages(["a passage"]).shape == (1, 2) and batcher.stats.runs == 0


def test_the_real_model_gives_each_concurrent_caller_its_own_vector(embedder: Embedder) -> None:
    messages = ["Wie lange dauert der Versand?", "返品は何日以内ですか", "Berapa lama waktu pengembalian barang?",
                "ส่งฟรีเมื่อซื้อครบเท่าไหร่", "Tôi có bao nhiêu ngày để đổi trả?", "滿多少免運費？",
                "ما هي مدة الإرجاع؟", "¿Puedo pagar con Bizum?", "Posso pagar com Pix?", "How much is shipping?"]
    alone = np.vstack([embedder.embed_queries([m]) for m in messages])
    assert isinstance(embedder, CountsTokens)  # runs of like length are made by the model's own count
    assert embedder.query_tokens("How much is shipping?") < embedder.query_tokens("ส่งฟรีเมื่อซื้อครบเท่าไหร่")
    batcher = QueryBatcher(embedder, max_batch=32)
    together = _together(batcher, [[m] for m in messages] * 3)
    for i, rows in enumerate(together):
        assert isinstance(rows, np.ndarray) and rows.shape == (1, embedder.dim)
        cosines = alone @ rows[0]
        own = i % len(messages)
        # Its own message's vector, not a neighbour's: int8 runs move a vector slightly (cosine ~0.997).
        assert cosines[own] > 0.98
        assert cosines[own] > np.delete(cosines, own).max() + 0.02


# -- rows made ahead for requests waiting for their turn (``QueryBatcher.expecting``) ---------------------------


@pytest.mark.unit
def test_a_waiting_requests_message_goes_in_the_run_before_it_and_is_taken_without_a_run() -> None:
    inner = SlowEmbedder(delay_s=0)
    batcher = QueryBatcher(inner)
    with batcher.expecting("Onde está meu pedido?"), batcher.expecting("Kapan paket saya tiba?"):
        assert batcher.embed_queries(["Wo ist mein Paket?"]).tolist() == [[18, ord("W")]]
        assert inner.runs == [2]  # its own text and the longest waiting one of its length (two wait: one)
        assert batcher.embed_queries(["Onde está meu pedido?"]).tolist() == [[21, ord("O")]]
        assert inner.runs == [2]  # taken, no run
        assert batcher.embed_queries(["Kapan paket saya tiba?"]).tolist() == [[22, ord("K")]]
        assert inner.runs == [2, 1]  # nobody waits behind it any more
    assert (batcher.stats.ahead, batcher.stats.taken) == (1, 1)
    assert batcher.embed_queries(["Onde está meu pedido?"]).tolist() == [[21, ord("O")]]
    assert inner.runs == [2, 1, 1]  # a row is taken once; a later request runs its own


@pytest.mark.unit
def test_the_waiting_message_chosen_is_one_of_the_runs_length_not_the_oldest() -> None:
    """A run pads every text to its longest: a waiting message much longer would make it pay for padding, one
    much shorter would be padded itself. About 8, 23, 16 and 8 tokens (``estimated_tokens``)."""
    inner = SlowEmbedder(delay_s=0)
    batcher = QueryBatcher(inner)
    with (batcher.expecting("ส่งฟรีเมื่อซื้อครบเท่าไหร่"), batcher.expecting("How do I return a pair of shoes that do not fit?"),
          batcher.expecting("Where is my parcel?")):
        batcher.embed_queries(["Wo ist mein Paket?"])
        assert inner.runs == [2] and list(batcher._ahead) == ["Where is my parcel?"]
        batcher.embed_queries(["ส่งฟรีเมื่อซื้อครบเท่าไหร่"])
        assert inner.runs == [2, 1]  # nothing of its length waits: it runs alone
    assert batcher._ahead == {}


@pytest.mark.unit
def test_more_waiting_messages_go_in_a_run_as_the_queue_grows_up_to_prefetch() -> None:
    inner = SlowEmbedder(delay_s=0)
    batcher = QueryBatcher(inner, prefetch=3)
    for waiting in (3, 8, 16):
        texts = [f"q{waiting:02d}{i:02d}" for i in range(waiting)]  # all of the leader's length
        with ExitStack() as stack:
            for text in texts:
                stack.enter_context(batcher.expecting(text))
            batcher.embed_queries(["lead"])
            made = list(batcher._ahead)
        assert made == texts[:len(made)]  # the longest waiting first among equals
    assert inner.runs == [2, 3, 4]  # one per four waiting, at least one, at most ``prefetch``
    assert batcher._ahead == {} and batcher._expected == {}


@pytest.mark.unit
def test_an_embedder_that_cannot_count_tokens_gets_an_estimate_from_the_texts_size() -> None:
    assert not isinstance(SlowEmbedder(), CountsTokens)
    # A subword token is about four UTF-8 bytes, in Latin scripts and in CJK alike.
    assert estimated_tokens("Wo ist mein Paket?") == estimated_tokens("Where is my parcel?")
    assert estimated_tokens("返品は何日以内ですか") < estimated_tokens("How do I return a pair of shoes that do not fit?")


@pytest.mark.unit
def test_a_request_that_leaves_without_embedding_leaves_nothing_behind() -> None:
    inner = SlowEmbedder(delay_s=0)
    batcher = QueryBatcher(inner)
    with batcher.expecting("Posso pagar com Pix?"):  # refused in the queue, say
        batcher.embed_queries(["How much is shipping?"])
    assert inner.runs == [2] and batcher._ahead == {} and batcher._expected == {}
    batcher.embed_queries(["Posso pagar com Pix?"])
    assert inner.runs == [2, 1]


@pytest.mark.unit
def test_a_message_embedded_by_its_own_request_is_not_made_again_while_that_request_runs() -> None:
    inner = SlowEmbedder(delay_s=0)
    batcher = QueryBatcher(inner)
    with batcher.expecting("Tôi có bao nhiêu ngày để đổi trả?"):  # its answer waits on an LLM after embedding
        batcher.embed_queries(["Tôi có bao nhiêu ngày để đổi trả?"])
        batcher.embed_queries(["ส่งฟรีเมื่อซื้อครบเท่าไหร่"])  # another answer meanwhile
    assert inner.runs == [1, 1] and batcher.stats.ahead == 0


@pytest.mark.unit
def test_a_bad_waiting_message_fails_neither_the_run_it_joined_nor_anyone_but_itself() -> None:
    inner = SlowEmbedder(delay_s=0)
    batcher = QueryBatcher(inner)
    with batcher.expecting("bad"):
        assert batcher.embed_queries(["مرحبا"]).tolist() == [[5, ord("م")]]
        with pytest.raises(ValueError):
            batcher.embed_queries(["bad"])
    assert inner.runs == [2, 1, 1]  # the joint run failed; the leader's text alone, then the bad one's own run


@pytest.mark.unit
def test_rows_made_ahead_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "MADE_AHEAD", 2)
    inner = SlowEmbedder(delay_s=0)
    batcher = QueryBatcher(inner, prefetch=3)
    texts = [f"a{i:02d}" for i in range(12)]
    with ExitStack() as stack:
        for text in texts:
            stack.enter_context(batcher.expecting(text))
        batcher.embed_queries(["lead"])
        assert inner.runs == [4] and list(batcher._ahead) == ["a01", "a02"]  # the oldest row made went first
        assert batcher.embed_queries(["a02"]).tolist() == [[3, ord("a")]] and inner.runs == [4]
