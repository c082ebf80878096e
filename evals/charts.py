"""The report's charts, drawn with matplotlib and returned as inline SVG text.

Figures are made with ``matplotlib.figure.Figure`` rather than pyplot, so drawing a report never changes the
backend or the open figures of the process that asks for it (a notebook, say).
"""

from __future__ import annotations

import io
from typing import Any


def _svg(figure: Any) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "polydesk"}):  # stable ids: the same run gives the same page
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _subplots(ncols: int = 1, *, figsize: tuple[float, float]) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    return figure, figure.subplots(1, ncols)


def accuracy_chart(by_market: dict[str, dict[str, Any]]) -> str:
    """Accuracy per market with its bootstrap 95% interval."""
    markets = list(by_market)
    values = [by_market[m]["accuracy"] or 0.0 for m in markets]
    low = [v - (by_market[m]["accuracy_ci"] or [v, v])[0] for m, v in zip(markets, values, strict=True)]
    high = [(by_market[m]["accuracy_ci"] or [v, v])[1] - v for m, v in zip(markets, values, strict=True)]
    figure, axes = _subplots(figsize=(max(4.0, 0.55 * len(markets) + 1), 3.2))
    axes.bar(markets, values, color="#3b7dd8", yerr=[low, high], capsize=3, ecolor="#333333")
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("accuracy (95% CI)")
    axes.set_title("Answer accuracy per market")
    axes.grid(axis="y", alpha=0.3)
    return _svg(figure)


def confusion_chart(confusion: dict[str, dict[str, int]]) -> str:
    """Expected escalation queue (rows) against the queue the reply handed off to (columns)."""
    rows = sorted(confusion)
    columns = sorted({c for row in confusion.values() for c in row} | {"none"})
    counts = [[confusion[r].get(c, 0) for c in columns] for r in rows]
    figure, axes = _subplots(figsize=(1.1 * len(columns) + 2, 0.6 * len(rows) + 1.6))
    axes.imshow(counts, cmap="Blues")
    axes.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    axes.set_yticks(range(len(rows)), rows)
    axes.set_xlabel("handed off to")
    axes.set_ylabel("expected")
    axes.set_title("Escalation queues")
    peak = max((max(row) for row in counts), default=0)
    for i, row in enumerate(counts):
        for j, value in enumerate(row):
            axes.text(j, i, str(value), ha="center", va="center", color="white" if value > peak / 2 else "black")
    return _svg(figure)


def latency_chart(totals: list[float], stages: dict[str, list[float]]) -> str:
    """Distribution of the total time per reply, and p50/p95 per stage."""
    figure, (left, right) = _subplots(2, figsize=(9, 3.2))
    left.hist(totals or [0.0], bins=30, color="#3b7dd8")
    left.set_xlabel("ms per reply (total)")
    left.set_ylabel("replies")
    left.set_title("Latency distribution")
    import numpy as np

    names = [s for s in stages if s != "total" and stages[s]]
    p50 = [float(np.percentile(stages[s], 50)) for s in names]
    p95 = [float(np.percentile(stages[s], 95)) for s in names]
    positions = np.arange(len(names))
    right.barh(positions - 0.2, p50, height=0.4, label="p50", color="#3b7dd8")
    right.barh(positions + 0.2, p95, height=0.4, label="p95", color="#f0a030")
    right.set_yticks(positions, names)
    right.set_xlabel("ms")
    right.set_title("Per stage")
    right.legend()
    return _svg(figure)
