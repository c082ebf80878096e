"""Outcome summaries over a month of traffic: how long ``GET /v1/analytics/summary`` takes to compute.

Seeds 100,000 recorded conversations (16 markets, 5 channels, handoffs with reasons and queues, desk replies,
feedback, unanswered questions from a pool of real embeddings) over 30 UTC days into a fresh embedded Redis,
through the recording code itself (``bench.outcome_seed``), then times ``OutcomesReader.summary`` for the 30 days,
all markets and one market, and prints the median and p95 in milliseconds.

    .venv/bin/python -m bench.outcomes [--conversations 100000] [--runs 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import redis

import polydesk  # noqa: F401  (offline switches first)
from agent.feedback import FeedbackStore
from agent.outcomes import OutcomeRecorder, OutcomesReader
from bench.outcome_seed import SeedReport, seed_traffic
from knowledge.embedder import Embedder, create_embedder
from polydesk.redisdb import connect_redis
from polydesk.settings import Settings

QUESTIONS = [
    ("Do you accept Bitcoin?", "en"), ("Akzeptiert ihr Zahlungen mit Bitcoin?", "de"),
    ("Can I bring my dog into your store?", "en"), ("Sind eure Rucksäcke vegan?", "de"),
    ("ギフトカードは買えますか？", "ja"), ("ポイントがたまる会員プログラムはありますか？", "ja"),
    ("มีบัตรของขวัญขายไหม", "th"), ("هل لديكم متجر في الرياض؟", "ar"), ("你们有实体店吗？", "zh"),
    ("¿Hacen envíos a Canarias?", "es"), ("Vocês aceitam Pix parcelado?", "pt"),
    ("Apakah bisa bayar dengan GoPay?", "id"), ("Có giao hàng đến Đà Lạt không?", "vi"),
    ("Do you sell bicycles?", "en"), ("Habt ihr ein Ladengeschäft in Berlin?", "de"),
    ("Can I engrave my name on the flask?", "en"),
]


def seed(client: redis.Redis, settings: Settings, tenant: str, *, conversations: int, today: dt.date,
         embedder: Embedder | None = None) -> SeedReport:
    """``conversations`` recorded over the 30 days up to ``today``; unanswered questions from ``QUESTIONS``."""
    embedder = embedder or create_embedder(settings)
    vectors = np.asarray(embedder.embed_queries([text for text, _ in QUESTIONS]), dtype=np.float32)
    pool = [(text, language, vector) for (text, language), vector in zip(QUESTIONS, vectors, strict=True)]
    return seed_traffic(OutcomeRecorder.from_settings(client, settings), FeedbackStore.from_settings(client, settings),
                        tenant, conversations=conversations, days=30, end=today, questions=pool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), _env_file=None)  # type: ignore[call-arg]
        client = connect_redis(settings)
        try:
            today = dt.datetime.now(dt.UTC).date()
            began = time.perf_counter()
            report = seed(client, settings, "bench", conversations=args.conversations, today=today)
            print(f"seeded {report} in {time.perf_counter() - began:.1f} s; "
                  f"redis used {client.info('memory')['used_memory_human']}")
            reader = OutcomesReader(client)
            start = today - dt.timedelta(days=29)
            for label, market in (("all markets", None), ("one market (DE)", "DE")):
                timings = []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    summary = reader.summary("bench", start, today, market)
                    timings.append((time.perf_counter() - t) * 1000)
                timings.sort()
                p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
                print(f"{label}: {len(summary.markets)} markets, {summary.totals.conversations} conversations, "
                      f"{summary.totals.messages} messages: median {statistics.median(timings):.1f} ms, "
                      f"p95 {p95:.1f} ms over {args.runs} runs")
        finally:
            client.close()


if __name__ == "__main__":
    main()
