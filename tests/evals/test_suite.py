"""Suites: the case format in JSONL and CSV, and the demo brand's suites."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from evals.suite import SUITES_DIR, load_suites
from evals.suites import build_demo
from polydesk.errors import InputError

pytestmark = pytest.mark.unit

FACTS = Path(__file__).resolve().parents[2] / "demo" / "tidewell" / "facts.yaml"


def test_jsonl_and_csv(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps({
        "id": "th-1", "market": "th", "language": "th", "channel": "LINE", "message": "ส่งฟรีไหม",
        "must_contain": ["฿1,000"], "history": ["สวัสดีค่ะ"], "tags": ["shipping"]}, ensure_ascii=False) + "\n",
        encoding="utf-8")
    (tmp_path / "b.csv").write_text(
        "id,market,language,message,must_contain,must_not_contain,escalate,queue,answerable,tags,history\n"
        '007,JP,ja,返品は？,"8日;8 日",30日,false,,true,"[""returns""]",\n'
        "x-2,DE,de,Ich will einen Menschen,,,true,support,,escalation,\n", encoding="utf-8")
    cases = load_suites([tmp_path])
    assert [c.id for c in cases] == ["th-1", "007", "x-2"]                  # ids stay strings
    th, jp, de = cases
    assert (th.market, th.channel, th.history, th.expect) == ("TH", "line", ["สวัสดีค่ะ"], "answer")
    assert jp.must_contain == ["8日", "8 日"] and jp.must_not_contain == ["30日"] and jp.tags == ["returns"]
    assert (de.expect, de.queue, de.must_contain) == ("escalate", "support", [])
    assert [c.id for c in load_suites([tmp_path / "*.csv"], markets=["de"])] == ["x-2"]


def test_bad_suites(tmp_path: Path) -> None:
    (tmp_path / "dup.jsonl").write_text('{"id":"a","market":"DE","language":"de","message":"x"}\n' * 2)
    with pytest.raises(InputError, match="twice"):
        load_suites([tmp_path / "dup.jsonl"])
    (tmp_path / "bad.jsonl").write_text('{"id":"a","market":"DE","language":"de","message":"x","oops":1}\n')
    with pytest.raises(InputError, match="row 1: oops"):
        load_suites([tmp_path / "bad.jsonl"])
    with pytest.raises(InputError, match="no suite file"):
        load_suites([tmp_path / "missing-*.jsonl"])


def test_demo_suites_cover_every_market_and_kind_of_case() -> None:
    markets = set(yaml.safe_load(FACTS.read_text(encoding="utf-8"))["markets"])
    cases = load_suites([SUITES_DIR])
    per_market = Counter(c.market for c in cases)
    assert set(per_market) == markets
    assert min(per_market.values()) >= 25
    for market in markets:
        mine = [c for c in cases if c.market == market]
        assert any(c.history for c in mine), market
        assert any(c.expect == "decline" for c in mine), market
        assert any("cross-market" in c.tags and c.must_not_contain for c in mine), market
        assert {c.queue for c in mine if c.escalate} >= {"support", "support_senior", "privacy", "sales"}, market
        assert all(c.sources and c.reference for c in mine if c.expect == "answer"), market
    languages = {c.language.split("-")[0] for c in cases}
    assert {"en", "de", "ja", "id", "th", "vi", "zh", "ar", "es", "pt"} <= languages


def test_demo_suites_are_up_to_date_with_the_knowledge() -> None:
    spec = yaml.safe_load((SUITES_DIR / "demo_spec.yaml").read_text(encoding="utf-8"))
    for code, cases in build_demo.build(spec).items():
        on_disk = (SUITES_DIR / f"tidewell-{code.lower()}.jsonl").read_text(encoding="utf-8")
        assert on_disk == "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), code
