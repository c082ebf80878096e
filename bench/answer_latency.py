"""Answer latency of the agent on the demo brand, in-process, one caller, warm; and its memory.

Ingests the demo brand into a temporary folder (or uses ``--data-dir``), opens an
agent (embedded Redis, built-in personas) and answers a fixed list of questions in
ten languages and all demo markets, each as a new conversation and again as a
follow-up. Reports p50/p95 of the whole answer and of every stage, per run, and the
median over runs; and the resident memory of the warm process.

With ``--llm``, the agent generates through litellm and the report gives polydesk's own
overhead around the LLM: the answer's time minus the LLM call's. ``--llm mock`` answers
every call with litellm's ``mock_response`` (a fixed sentence in the question's language
citing [1], as a real model would write it, so the guardrails pass it): the whole litellm
call path runs, the model's time is zero, so the overhead is measured without the noise
of a model sharing the CPU. ``--llm local`` uses the local SmolLM2 model
(``polydesk-local/smollm2``) on the English questions (it reads other scripts at a few
characters per token, too slow on a CPU).

    .venv/bin/python -m bench.answer_latency [--runs 3] [--rounds 3] [--llm mock|local] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import cast

import polydesk  # noqa: F401  (offline switches first)
from agent.generators import ExtractiveGenerator, FallbackGenerator
from agent.generators.llm import LLMGenerator
from agent.phrases import say
from agent.pipeline import Agent
from agent.schema import AnswerRequest
from api.runtime import Runtime
from bench.report import machine, write_result
from personas.routing import Channel
from polydesk.settings import Settings

DEMO = Path(__file__).resolve().parents[1] / "demo" / "tidewell" / "knowledge"

# (market, channel, question, follow-up)
QUESTIONS = [
    ("US", "web", "How much does shipping cost?", "and which carriers do you use?"),
    ("UK", "email", "How long do I have to return an item?", "is the return free?"),
    ("DE", "web", "Ab welchem Bestellwert ist der Versand kostenlos?", "Und wie lange dauert die Lieferung?"),
    ("FR", "web", "Quels transporteurs livrent ma commande ?", "et le délai de retour ?"),
    ("ES", "web", "¿Puedo pagar con Bizum?", "¿y con PayPal?"),
    ("MX", "whatsapp", "¿Cuántos días tengo para devolver un producto?", "¿y quién paga el envío?"),
    ("BR", "whatsapp", "Posso pagar com Pix?", "e no boleto?"),
    ("ID", "whatsapp", "Berapa lama waktu pengembalian barang?", "kalau ongkirnya?"),
    ("TH", "line", "ส่งฟรีเมื่อซื้อครบเท่าไหร่", "แล้วใช้เวลาส่งกี่วัน"),
    ("VN", "messenger", "Tôi có bao nhiêu ngày để đổi trả?", "còn phí ship thì sao?"),
    ("MY", "whatsapp", "Boleh bayar guna FPX?", "berapa lama penghantaran?"),
    ("SG", "whatsapp", "Does the Thermo Flask keep drinks cold?", "is it dishwasher safe?"),
    ("JP", "line", "返品は何日以内ですか", "送料はいくらですか"),
    ("TW", "line", "滿多少免運費？", "那退貨呢？"),
    ("SA", "whatsapp", "ما هي مدة الإرجاع؟", "وكم تكلفة الشحن؟"),
    ("AE", "web", "What is the capacity of the Drift backpack TW-4417?", "and the warranty?"),
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rss_mb() -> float:
    """Resident memory now (VmRSS), in MiB; the peak where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest_demo(settings: Settings) -> None:
    from ingestion.pipeline import Ingestor
    from ingestion.sources import SourceOptions

    ingestor = Ingestor.from_settings(settings)
    try:
        ingestor.ingest([DEMO], SourceOptions(tenant="tidewell"))
    finally:
        ingestor.index.close()


def one_run(agent: Agent, rounds: int, run: int, *, english_only: bool = False) -> dict[str, list[float]]:
    stages: dict[str, list[float]] = defaultdict(list)
    questions = [q for q in QUESTIONS if q[2].isascii()] if english_only else QUESTIONS
    for round_ in range(rounds):
        for market, channel, question, follow_up in questions:
            conversation = f"bench-{run}-{round_}-{market}"
            llm = agent.generator.primary if isinstance(agent.generator, FallbackGenerator) else None
            if isinstance(llm, LLMGenerator) and "mock_response" in llm.completion_kwargs:
                language = agent.language.run(question, market=agent.catalog.market(market)).language
                llm.completion_kwargs["mock_response"] = f"{say('safe_reply', language)} [1]"
            for message in (question, follow_up):
                reply = agent.answer(AnswerRequest(tenant="tidewell", market=market, channel=cast(Channel, channel),
                                                   message=message, conversation_id=conversation))
                for stage, ms in reply.timings_ms.items():
                    stages[stage].append(ms)
                if "llm" in reply.timings_ms:
                    stages["overhead"].append(reply.timings_ms["total"] - reply.timings_ms["llm"])
    return stages


def _llm_generator(agent: Agent, kind: str, max_tokens: int) -> FallbackGenerator:
    if kind == "local":
        llm = LLMGenerator("polydesk-local/smollm2", max_tokens=max_tokens, temperature=0.0, timeout_s=120)
    else:
        llm = LLMGenerator("openai/bench-mock", max_tokens=max_tokens,
                           completion_kwargs={"mock_response": f"{say('safe_reply', 'en')} [1]"})
    return FallbackGenerator(llm, ExtractiveGenerator(embedder=agent.index.embedder, tokenizer=agent.index.sparse))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the question list per run")
    parser.add_argument("--llm", choices=["mock", "local"], help="generate through litellm (see above)")
    parser.add_argument("--llm-max-tokens", type=int, default=32)
    parser.add_argument("--data-dir", type=Path, help="an existing data folder with the demo ingested")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp)
        settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
        if args.data_dir is None:
            # In a child process, so the memory measured below is the agent's alone.
            started = time.perf_counter()
            child = multiprocessing.get_context("spawn").Process(target=ingest_demo, args=(settings,))
            child.start()
            child.join()
            if child.exitcode != 0:
                raise SystemExit(f"ingesting the demo failed (exit code {child.exitcode})")
            print(f"demo ingested in {time.perf_counter() - started:.1f} s")
        before = _rss_mb()
        with Runtime.open(settings) as runtime:
            agent = runtime.agent
            if args.llm:
                agent.generator = _llm_generator(agent, args.llm, args.llm_max_tokens)
            english_only = args.llm == "local"
            one_run(agent, 1, -1, english_only=english_only)  # warm-up: models, caches, Redis connection
            warm_rss = _rss_mb()
            runs = [one_run(agent, args.rounds, run, english_only=english_only) for run in range(args.runs)]

    per_run = [{stage: {"p50": round(_percentile(v, 0.5), 2), "p95": round(_percentile(v, 0.95), 2)}
                for stage, v in stages.items()} for stages in runs]
    median = {stage: {q: round(statistics.median(r[stage][q] for r in per_run), 2) for q in ("p50", "p95")}
              for stage in per_run[0]}
    answers = len(runs[0]["total"])
    result = {
        "machine": machine(),
        "generator": f"llm ({args.llm})" if args.llm else "extractive",
        "answers_per_run": answers,
        "runs": args.runs,
        "median_ms": median,
        "per_run_ms": per_run,
        "rss_mb": {"before_agent": round(before, 1), "warm_agent": round(warm_rss, 1)},
    }
    path = write_result(f"answer_latency_llm_{args.llm}" if args.llm else "answer_latency", result)
    print(f"{answers} answers per run, {args.runs} runs; medians over runs (ms):")
    for stage, values in median.items():
        print(f"  {stage:<11} p50 {values['p50']:7.2f}   p95 {values['p95']:7.2f}")
    print(f"resident memory: {before:.0f} MiB before the agent, {warm_rss:.0f} MiB warm")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
