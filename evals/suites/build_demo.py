"""Build the demo brand's suites (``tidewell-<market>.jsonl``) from ``demo_spec.yaml`` and its knowledge files.

    .venv/bin/python -m evals.suites.build_demo [--check]

Each market gets factual questions (returns, shipping, payment, delivery, hours, refund, warranty, a product),
paraphrases, follow-ups (asked after an earlier message of the same conversation), cross-market traps (a
question that suggests a value of no market here; the reply must not repeat it), questions the brand's
knowledge cannot answer, and messages that must reach a person (with their queue). Sources and reference
answers come from the knowledge files themselves: a case's sources are the documents visible in its market
that state every required fact, its reference the shortest passage that does. A required fact that no source
states stops the build. ``--check`` only verifies that the files on disk are up to date.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from evals.facts import fact_present

HERE = Path(__file__).resolve().parent
KNOWLEDGE = HERE.parents[1] / "demo" / "tidewell" / "knowledge"
FACTUAL = ["returns", "returns_alt", "free_shipping", "free_shipping_alt", "shipping_fee", "carriers", "payment",
           "delivery", "hours", "refund", "warranty", "flask"]
FOLLOW_UPS = {"fu_delivery": "delivery", "fu_fee": "shipping_fee", "fu_carrier": "carriers"}
ESCALATIONS = {"human": "support", "legal": "support_senior", "privacy": "privacy", "bulk": "sales",
               "angry": "support"}
TAGS = {"returns": "returns", "free_shipping": "shipping", "shipping_fee": "shipping", "carriers": "shipping",
        "payment": "payment", "delivery": "shipping", "hours": "service-hours", "refund": "returns",
        "warranty": "warranty", "flask": "product"}
CHANNELS = {"US": "web", "UK": "email", "DE": "email", "FR": "web", "ES": "web", "MX": "whatsapp", "BR": "whatsapp",
            "ID": "whatsapp", "MY": "whatsapp", "TH": "line", "VN": "messenger", "SG": "whatsapp", "JP": "line",
            "TW": "line", "SA": "whatsapp", "AE": "web"}
CROSS_MARKET_TOPICS = ("returns", "free_shipping", "shipping_fee", "delivery")


def _units(market: str) -> list[tuple[str, str]]:
    """(document id, passage) for everything a customer of ``market`` may be answered from."""
    units: list[tuple[str, str]] = []
    for path in sorted((KNOWLEDGE / "policies" / market).iterdir()):
        if path.suffix in (".md", ".txt", ".html", ".eml"):
            text = html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))
            units += [(f"policies/{market}/{path.name}", line.strip()) for line in text.splitlines() if line.strip()]
    for name in ("catalog.md", "packing-cubes.md", "thermo-flask.html"):
        text = html.unescape(re.sub(r"<[^>]+>", " ", (KNOWLEDGE / "products" / name).read_text(encoding="utf-8")))
        units += [(f"products/{name}", line.strip()) for line in text.splitlines() if line.strip()]
    with (KNOWLEDGE / "faq" / "faq.csv").open(encoding="utf-8") as handle:
        units += [("faq/faq.csv", row["answer"]) for row in csv.DictReader(handle) if row["market"] in (market, "*")]
    return units


def _sources(units: list[tuple[str, str]], facts: list[str], language: str) -> tuple[list[str], str]:
    """Documents whose passages state every fact (together), and the shortest single passage that does."""
    by_doc: dict[str, list[str]] = {}
    for doc, passage in units:
        by_doc.setdefault(doc, []).append(passage)
    sources = [doc for doc, passages in by_doc.items() if all(any(fact_present(p, f) for p in passages) for f in facts)]
    whole = [p for doc, p in units if all(fact_present(p, f) for f in facts)]
    if whole:
        return sources, _plain(min(whole, key=lambda p: (len(_plain(p)) < 30, len(p))))
    if not sources:
        return [], ""
    # No one passage states every fact: the shortest passage per fact, from the first source.
    passages = by_doc[sources[0]]
    parts = [min((p for p in passages if fact_present(p, f)), key=len) for f in facts]
    return sources, " ".join(_plain(p) for p in dict.fromkeys(parts))


def _plain(passage: str) -> str:
    """A passage without Markdown list, heading and emphasis marks or table pipes."""
    text = re.sub(r"^[\s#>*\-・|]+", "", passage).replace("**", "").replace("|", " ")
    return re.sub(r"[ \u3000]{2,}", " ", text).strip()


def _case(case_id: str, market: str, language: str, channel: str, message: str, **fields: Any) -> dict[str, Any]:
    return {"id": case_id, "market": market, "channel": channel, "language": language, "history": [],
            "message": message, "reference": "", "must_contain": [], "must_not_contain": [], "sources": [],
            "answerable": True, "escalate": False, "queue": None, "tags": [], **fields}


def build_market(code: str, spec: dict[str, Any], questions: dict[str, dict[str, Any]],
                 same_language: dict[str, list[str]]) -> list[dict[str, Any]]:
    market = spec["markets"][code]
    units = _units(code)
    cases: list[dict[str, Any]] = []
    plans = [(market["language"], market["facts"], None)]
    for language, topics in market.get("also", {}).items():
        plans.append((language, market.get(f"facts_{language}", market["facts"]), topics))
    for language, facts, only in plans:
        phrases = questions[language]
        prefix = code.lower() if only is None else f"{code.lower()}-{language}"
        topics = [t for t in [*FACTUAL, "trap_returns", "trap_shipping", *FOLLOW_UPS, "unknown_1", "unknown_2",
                              "unknown_3", *ESCALATIONS] if (only is None or t in only) and t in phrases]
        for n, topic in enumerate(topics):
            channel = [CHANNELS[code], "web", "email"][n % 3]
            cases.append(_topic_case(f"{prefix}-{topic.replace('_', '-')}", code, language, channel, topic,
                                     phrases, facts, market, units, same_language))
    return cases


def _topic_case(case_id: str, code: str, language: str, channel: str, topic: str, phrases: dict[str, Any],
                facts: dict[str, list[str]], market: dict[str, Any], units: list[tuple[str, str]],
                same_language: dict[str, list[str]]) -> dict[str, Any]:
    if topic in ESCALATIONS:
        return _case(case_id, code, language, channel, phrases[topic], escalate=True, queue=ESCALATIONS[topic],
                     tags=["escalation", topic])
    if topic.startswith("unknown"):
        return _case(case_id, code, language, channel, phrases[topic], answerable=False, tags=["unanswerable"])
    history: list[str] = []
    tags: list[str] = []
    if topic in FOLLOW_UPS:
        history, message = phrases[topic][:-1], phrases[topic][-1]
        fact_topic, tags = FOLLOW_UPS[topic], ["follow-up"]
    elif topic.startswith("trap_"):
        fact_topic = "returns" if topic == "trap_returns" else "free_shipping"
        wrong = market["wrong"][fact_topic]
        message, tags = phrases[topic].format(other=wrong), ["cross-market", "trap"]
    else:
        fact_topic, message = topic.removesuffix("_alt"), phrases[topic]
        tags = ["paraphrase"] if topic.endswith("_alt") else []
    must = ["24"] if fact_topic == "flask" else list(facts[fact_topic])
    forbidden = [market["wrong"][fact_topic]] if topic.startswith("trap_") else []
    if fact_topic in CROSS_MARKET_TOPICS:
        forbidden += [f.split("|")[0] for f in same_language.get(f"{language}:{fact_topic}", []) if f not in must]
    forbidden = [f for f in dict.fromkeys(forbidden) if not any(fact_present(p, f) for _, p in units)]
    sources, reference = _sources(units, must, language)
    if not sources:
        raise SystemExit(f"{case_id}: no knowledge of market {code} states {must}")
    return _case(case_id, code, language, channel, message, history=history, reference=reference,
                 must_contain=must, must_not_contain=forbidden, sources=sources,
                 tags=[TAGS[fact_topic], *tags] + (["cross-market"] if forbidden and "cross-market" not in tags
                                                   else []))


def build(spec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    questions = spec["questions"]
    same_language: dict[str, list[str]] = {}
    for market in spec["markets"].values():
        for topic in CROSS_MARKET_TOPICS:
            same_language.setdefault(f"{market['language']}:{topic}", []).extend(market["facts"][topic])
            if "facts_en" in market:
                same_language.setdefault(f"en:{topic}", []).extend(market["facts_en"][topic])
    return {code: build_market(code, spec, questions, same_language) for code in spec["markets"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if the suites on disk differ from a fresh build")
    args = parser.parse_args()
    spec = yaml.safe_load((HERE / "demo_spec.yaml").read_text(encoding="utf-8"))
    stale = []
    for code, cases in build(spec).items():
        path = HERE / f"tidewell-{code.lower()}.jsonl"
        text = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
            continue
        path.write_text(text, encoding="utf-8")
        print(f"{path.name}: {len(cases)} cases")
    if stale:
        sys.exit(f"out of date: {', '.join(stale)} (run python -m evals.suites.build_demo)")


if __name__ == "__main__":
    main()
