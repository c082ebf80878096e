"""Query embeddings of concurrent requests computed in one model run (group commit).

A server answering many customers at once embeds one short message per answer. One model run per message
pays the run's fixed cost each time; ``QueryBatcher`` lets the messages that arrive while the model is busy
wait for that run to end and then go in together, in one run:

- a lone request runs at once: no timer, no added latency;
- while a run is in progress, callers queue; when it ends, the first waiting caller becomes the leader and
  runs everything queued so far (up to ``max_batch`` texts); the others wait for their rows. The deadline a
  waiting text meets is the run before it, a few milliseconds;
- each caller gets its own rows back, in its own order;
- if a batched run fails (a text the tokenizer rejects, say), each caller's texts are run again on their own,
  so one bad message fails only its own request.

Requests waiting for their turn are batched too. A server that answers one message at a time per process
(``polydesk serve``'s admission) never has two callers here at once, so a request that will embed its message
soon says so while it waits (``expecting``), and the run of the answer before it embeds that message too; the
waiting request then finds its row made (``embed_queries`` takes it). A run pads every text to its longest, so
the waiting texts chosen are those of the run's length (a few tokens shorter at most, one longer), not the
oldest: on two cores runs of four like-length queries cost 3.5 ms a query against 4.4 in runs of two texts of
any length and 5.4 alone (AMD EPYC; the model's weights are read once for all, and little padding is
computed). How many go in grows with the queue: one while few requests wait, up to ``prefetch`` once many do,
so a light load's runs stay short and a queue's wait shrinks. A request that leaves without embedding
(refused, replayed) forgets its text, and the rows made ahead are bounded (``MADE_AHEAD``), so nothing is kept
for long.

Passages (ingestion) are not batched across callers: they come in large batches already.

int8 activations are quantized with one scale per run (``knowledge.onnx_embedder``), so a query's vector moves
slightly (cosine ~0.997) with the other texts of its run; retrieval tolerates that, tests assert with margins.

Example:
    >>> batcher = QueryBatcher(create_embedder(Settings()))        # doctest: +SKIP
    >>> batcher.embed_queries(["Wo ist mein Paket?"]).shape           # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from knowledge.embedder import CountsTokens, Embedder

MADE_AHEAD = 64  # rows made for waiting requests and not yet taken: the oldest is dropped past this
WAITING_PER_TEXT_AHEAD = 4  # one waiting text more in a run for each this many requests waiting


def estimated_tokens(text: str) -> int:
    """A query's length in model tokens, estimated from its UTF-8 size where the embedder cannot count: a
    multilingual subword token is about four bytes in Latin scripts and in CJK alike."""
    return 4 + len(text.encode("utf-8")) // 4


@dataclass
class _Expected:
    """The requests waiting to embed one text: their tickets, oldest first, and the text's length in tokens."""

    tokens: int
    tickets: list[object] = field(default_factory=list)


@dataclass(eq=False)
class _Waiter:
    texts: Sequence[str]
    done: threading.Event = field(default_factory=threading.Event)
    rows: np.ndarray | None = None
    error: BaseException | None = None
    lead: bool = False  # woken to run the next batch rather than with its rows


@dataclass
class BatchStats:
    """What the batcher did since it was made: runs, texts and the largest run (for the benchmarks' report)."""

    runs: int = 0
    texts: int = 0
    largest: int = 0
    ahead: int = 0  # texts of waiting requests embedded in an earlier run
    taken: int = 0  # of those, taken by their request


class QueryBatcher:
    """An ``Embedder`` whose ``embed_queries`` groups concurrent callers' texts into one run of ``inner``."""

    def __init__(self, inner: Embedder, *, max_batch: int = 32, prefetch: int = 3) -> None:
        self.inner = inner
        self._tokens: Callable[[str], int] = inner.query_tokens if isinstance(inner, CountsTokens) else estimated_tokens
        self.name = inner.name
        self.dim = inner.dim
        self.max_batch = max(1, max_batch)
        self.prefetch = max(0, prefetch)
        self.stats = BatchStats()
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._running = False
        self._expected: dict[str, _Expected] = {}  # texts of waiting requests, oldest first
        self._ahead: dict[str, np.ndarray] = {}  # their rows, made in an earlier run, oldest first

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

    @contextmanager
    def expecting(self, text: str) -> Iterator[None]:
        """While inside, a request will embed ``text`` (its message): a run before it may embed it too. The
        request's first ``embed_queries`` of ``text`` ends the expectation, as leaving does. ``text`` is counted
        in tokens here, before the lock, once per request."""
        ticket = object()
        tokens = self._tokens(text)
        with self._lock:
            self._expected.setdefault(text, _Expected(tokens)).tickets.append(ticket)
        try:
            yield
        finally:
            with self._lock:
                self._forget(text, ticket)

    def _forget(self, text: str, ticket: object | None = None) -> None:
        """One request's expectation of ``text`` ended (``ticket``'s, or the oldest); with the last, its row made
        ahead goes. Called with the lock held."""
        expected = self._expected.get(text)
        if expected is None:
            return
        tickets = expected.tickets
        if ticket is None:
            tickets.pop(0)
        elif ticket in tickets:
            tickets.remove(ticket)
        if not tickets:
            del self._expected[text]
            self._ahead.pop(text, None)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            made = self._ahead.pop(texts[0], None) if len(texts) == 1 else None
            for text in texts:
                self._forget(text)
            if made is not None:
                self.stats.taken += 1
                return made[None, :]
            me = _Waiter(texts)
            self._queue.append(me)
            lead = not self._running
            self._running = True
        while not lead:
            me.done.wait()
            if not me.lead:
                break
            me.done.clear()
            me.lead, lead = False, True
        if lead:
            self._lead()
        if me.error is not None:
            raise me.error
        assert me.rows is not None
        return me.rows

    def _lead(self) -> None:
        """Run what is queued now (the leader's own texts among it), hand out the rows, pass the lead on."""
        with self._lock:
            batch: list[_Waiter] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0].texts) <= self.max_batch):
                waiter = self._queue.pop(0)
                batch.append(waiter)
                size += len(waiter.texts)
        ahead: list[str] = []
        if self.prefetch and self._expected:
            # Counted outside the lock, which the event loop takes when a request starts to wait.
            width = max(self._tokens(text) for waiter in batch for text in waiter.texts)
            with self._lock:
                ahead = self._next_expected(batch, width)
        try:
            self._run(batch, size, ahead)
        finally:
            for waiter in batch:
                if waiter.rows is None and waiter.error is None:  # the run was interrupted (KeyboardInterrupt)
                    waiter.error = RuntimeError("the embedding run was interrupted")
                waiter.done.set()
            with self._lock:
                if self._queue:
                    following = self._queue[0]
                    following.lead = True
                    following.done.set()
                else:
                    self._running = False

    def _next_expected(self, batch: list[_Waiter], width: int) -> list[str]:
        """Texts of waiting requests to embed in ``batch``'s run (its longest text ``width`` tokens): those of its
        length, the closest first (the oldest among equals), one for each ``WAITING_PER_TEXT_AHEAD`` requests
        waiting, at least one and at most ``prefetch``; none whose row is made or that the run embeds already.
        Called with the lock held."""
        running = {text for waiter in batch for text in waiter.texts}
        slack = max(3, width // 4)  # tokens a text may be shorter than the run's longest: its padding
        fitting = [(width - expected.tokens, text) for text, expected in self._expected.items()
                   if -1 <= width - expected.tokens <= slack and text not in self._ahead and text not in running]
        fitting.sort(key=lambda item: (abs(item[0]), item[0] < 0))  # stable: the oldest first among equals
        wanted = min(self.prefetch, max(1, len(self._expected) // WAITING_PER_TEXT_AHEAD))
        return [text for _, text in fitting[:wanted]]

    def _run(self, batch: list[_Waiter], size: int, ahead: list[str]) -> None:
        texts = [text for waiter in batch for text in waiter.texts]
        try:
            rows = self.inner.embed_queries(texts + ahead)
        except Exception as exc:  # handed to the waiting callers, raised in their own threads
            if len(batch) == 1 and not ahead:
                batch[0].error = exc
                return
            for waiter in batch:
                _alone(waiter, self.inner)
            return
        start = 0
        for waiter in batch:
            waiter.rows = rows[start:start + len(waiter.texts)]
            start += len(waiter.texts)
        with self._lock:
            for text, row in zip(ahead, rows[start:], strict=True):
                if text in self._expected:  # its request still waits
                    self._ahead[text] = row
                    self.stats.ahead += 1
            while len(self._ahead) > MADE_AHEAD:
                del self._ahead[next(iter(self._ahead))]
        self.stats.runs += 1
        self.stats.texts += size
        self.stats.largest = max(self.stats.largest, size)


def _alone(waiter: _Waiter, embedder: Embedder) -> None:
    """``waiter``'s texts embedded on their own: its rows, or the error they raise (kept for its caller)."""
    try:
        waiter.rows = embedder.embed_queries(waiter.texts)
    except Exception as exc:  # handed to the waiting caller, raised in its own thread
        waiter.error = exc
