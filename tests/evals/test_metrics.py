"""Each metric on hand-made cases whose right value is worked out by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from evals.metrics import (
    CaseScorer,
    MultilingualTokenizer,
    is_correct,
    observed_outcome,
    retrieval_scores,
    similarity_scores,
    split_reply,
)
from evals.suite import Case
from personas import PersonaCatalog

pytestmark = pytest.mark.unit


def test_retrieval_scores_by_hand() -> None:
    # Reference {a, c}; cited b, a, d (a repeated): first hit at rank 2.
    scores = retrieval_scores(["b", "a", "a", "d"], ["a", "c"])
    assert scores["hit_at_1"] == 0.0
    assert scores["hit_at_3"] == 1.0
    assert scores["mrr"] == 0.5
    assert scores["context_recall"] == 0.5           # 1 of the 2 reference documents cited
    assert scores["context_precision"] == pytest.approx(1 / 3, abs=1e-4)   # 1 of the 3 cited is a reference
    none = retrieval_scores([], ["a"])
    assert none == {"hit_at_1": 0.0, "hit_at_3": 0.0, "mrr": 0.0, "context_recall": 0.0, "context_precision": 0.0}
    assert retrieval_scores(["a"], ["a"])["context_precision"] == 1.0


def test_tokenizer_splits_unspaced_scripts_into_characters() -> None:
    assert MultilingualTokenizer().tokenize("ส่งฟรี") == ["ส่", "ง", "ฟ", "รี"]
    assert MultilingualTokenizer().tokenize("返品は8日以内") == ["返", "品", "は", "8", "日", "以", "内"]
    assert MultilingualTokenizer().tokenize("Free  shipping, 50 €") == ["free", "shipping", "50"]


def test_similarity_thai_by_hand() -> None:
    # Reference tokens ส่ ง ฟ รี (4); response ส่ ง ฟ รี ค่ ะ (6); LCS 4: P 4/6, R 1, F1 0.8.
    scores = similarity_scores("ส่งฟรีค่ะ", "ส่งฟรี")
    assert scores["rouge_l"] == pytest.approx(0.8, abs=1e-4)
    # Levenshtein: 3 insertions over the longer string's 9 code points.
    assert scores["string_similarity"] == pytest.approx(1 - 3 / 9, abs=1e-4)
    assert 0.3 < scores["chrf"] < 1.0


def test_similarity_japanese_by_hand() -> None:
    # Reference 8 日 以 内 (4 tokens); response 返 品 は 8 日 以 内 で す (9); LCS 4: P 4/9, R 1, F1 8/13.
    scores = similarity_scores("返品は8日以内です", "8日以内")
    assert scores["rouge_l"] == pytest.approx(8 / 13, abs=1e-4)
    assert scores["string_similarity"] == pytest.approx(1 - 5 / 9, abs=1e-4)


def test_similarity_bounds_and_why_not_ragas_rouge() -> None:
    same = similarity_scores("คืนสินค้าได้ภายใน 14 วัน", "คืนสินค้าได้ภายใน 14 วัน")
    assert same == {"chrf": 1.0, "string_similarity": 1.0, "rouge_l": 1.0}
    different = similarity_scores("ส่งฟรี 14", "คืนเงิน 14")
    assert different["rouge_l"] < 0.5
    assert different["chrf"] < 0.5
    # ragas' RougeScore keeps only ASCII tokens: two different Thai sentences with one number score 1.0 there.
    import asyncio

    from ragas.dataset_schema import SingleTurnSample
    from ragas.metrics import RougeScore

    ragas_rouge = asyncio.run(RougeScore().single_turn_ascore(SingleTurnSample(response="ส่งฟรี 14",
                                                                                 reference="คืนเงิน 14")))
    assert ragas_rouge == 1.0


def test_similarity_english_words() -> None:
    # Reference: you have 30 days (4); response: you have 30 days to return it (7); LCS 4: P 4/7 R 1 F1 8/11.
    assert similarity_scores("You have 30 days to return it.", "You have 30 days.")["rouge_l"] == \
        pytest.approx(8 / 11, abs=1e-4)


def _reply(text: str, *, status: str = "answered", language: str = "de", persona: str = "de-formal",
           citations: list[str] | None = None, escalate: bool = False, queue: str | None = None) -> dict[str, Any]:
    return {"status": status, "conversation_id": "c", "text": text, "language": language, "persona_id": persona,
            "generator": "extractive", "confidence": 0.9, "timings_ms": {"total": 10.0},
            "citations": [{"document_id": d, "chunk_id": "x", "title": "", "score": 1.0, "source": d,
                           "kind": "policy", "market": "DE", "language": "de"} for d in citations or []],
            "escalation": {"escalate": escalate, "queue": queue}}


def _case(**fields: Any) -> Case:
    base: dict[str, Any] = {"id": "de-1", "market": "DE", "channel": "email", "language": "de",
                            "message": "Wie lange habe ich Zeit?", "must_contain": ["30 Tage"],
                            "sources": ["policies/DE/versand-rueckgabe-zahlung.md"]}
    return Case.model_validate({**base, **fields})


def test_outcome_and_correctness_rules() -> None:
    assert observed_outcome(_reply("x", citations=["a"])) == "answer"
    assert observed_outcome(_reply("x")) == "decline"
    assert observed_outcome(_reply("", status="handed_off")) == "escalate"
    assert observed_outcome(_reply("x", escalate=True)) == "escalate"
    answer, decline, escalate = _case(), _case(answerable=False), _case(escalate=True, queue="sales")
    assert is_correct(answer, "answer", [], [])
    assert not is_correct(answer, "answer", ["30 Tage"], [])
    assert not is_correct(answer, "answer", [], ["14 Tage"])
    assert not is_correct(answer, "decline", [], [])
    assert is_correct(decline, "decline", [], []) and is_correct(decline, "escalate", [], [])
    assert not is_correct(decline, "answer", [], [])
    assert is_correct(escalate, "escalate", [], []) and not is_correct(escalate, "answer", [], [])


GREETING = "Guten Tag, vielen Dank für Ihre Anfrage."
SIGN_OFF = "Mit freundlichen Grüßen, Ihr Kundenservice"


def test_split_reply() -> None:
    text = f"{GREETING}\n\nSie haben 30 Tage Zeit.\n\n{SIGN_OFF}\n\nDatenschutzhinweis: ..."
    body, parts = split_reply(text, GREETING, SIGN_OFF)
    assert body == "Sie haben 30 Tage Zeit."
    assert parts["greeting"] and parts["sign_off"]
    assert parts["chars"] == text.index(SIGN_OFF) + len(SIGN_OFF)   # notices after the sign-off do not count


@pytest.fixture(scope="module")
def scorer() -> CaseScorer:
    return CaseScorer()


def test_score_a_right_german_answer(scorer: CaseScorer) -> None:
    reply = _reply(f"{GREETING}\n\nSie haben 30 Tage Zeit für die Rücksendung.\n\n{SIGN_OFF}",
                   citations=["policies/DE/versand-rueckgabe-zahlung.md"])
    scores = scorer.score(_case(reference="Sie haben 30 Tage Zeit."), reply)
    assert scores["correct"] and scores["fact_recall"] == 1.0
    assert scores["hit_at_1"] == 1.0 and scores["mrr"] == 1.0
    assert scores["language_match"] is True
    assert scores["persona_compliant"] is True, scores["persona_failed"]
    assert 0 < scores["rouge_l"] <= 1


def test_score_flags_persona_problems(scorer: CaseScorer) -> None:
    # No greeting on a first reply, no formal address, too long for the persona.
    reply = _reply("Du hast 30 Tage Zeit. " * 80, citations=["policies/DE/versand-rueckgabe-zahlung.md"])
    scores = scorer.score(_case(), reply)
    assert scores["correct"]                              # the facts are right ...
    assert not scores["persona_compliant"]                # ... the persona is not
    assert {"greeting", "sign_off", "length", "honorifics"} <= set(scores["persona_failed"])


def test_score_flags_a_term_the_persona_avoids(scorer: CaseScorer) -> None:
    greeting, sign_off = "お問い合わせいただき、誠にありがとうございます。", "今後ともよろしくお願い申し上げます。"
    case = Case(id="jp-1", market="JP", channel="line", language="ja", message="返品は？", must_contain=["8日"])
    good = _reply(f"{greeting}\n\n商品到着日を含めて8日以内にご連絡ください。\n\n{sign_off}", language="ja",
                  persona="jp-keigo", citations=["policies/JP/shipping-returns-ja.txt"])
    bad = _reply(f"{greeting}\n\n了解しました。8日以内です。\n\n{sign_off}", language="ja", persona="jp-keigo",
                 citations=["policies/JP/shipping-returns-ja.txt"])
    assert scorer.score(case, good)["persona_compliant"] is True
    scores = scorer.score(case, bad)
    assert scores["banned_found"] == ["了解しました"]
    assert "banned_terms" in scores["persona_failed"]


ID_BODY = "Gratis ongkir untuk pembelian minimal Rp 500.000."   # the brand's knowledge, without a form of address


def _id_case(**fields: Any) -> Case:
    return Case.model_validate({"id": "id-1", "market": "ID", "channel": "email", "language": "id",
                                "message": "Minimal belanja untuk gratis ongkir?", "must_contain": ["Rp 500.000"],
                                **fields})


def _id_reply(text: str) -> dict[str, Any]:
    return _reply(text, language="id", persona="apac-courteous", citations=["faq/faq.csv"])


def test_honorifics_are_checked_on_the_personas_greeting_and_sign_off(scorer: CaseScorer) -> None:
    persona = scorer.catalog.persona("apac-courteous")
    greeting, sign_off = persona.greeting("id"), persona.sign_off("id")
    # Quoted knowledge that never says "Bapak/Ibu" or "Anda": the persona's own words address the customer.
    first = scorer.score(_id_case(), _id_reply(f"{greeting}\n\n{ID_BODY}\n\n{sign_off}"))
    assert first["persona_compliant"] is True, first["persona_failed"]
    follow_up = scorer.score(_id_case(history=["Halo"]), _id_reply(f"{ID_BODY}\n\n{sign_off}"))
    assert follow_up["persona_compliant"] is True, follow_up["persona_failed"]
    # A form in the body alone does not stand in for the persona's missing greeting and sign-off.
    bare = scorer.score(_id_case(), _id_reply(f"Anda dapat gratis ongkir. {ID_BODY}"))
    assert {"greeting", "sign_off", "honorifics"} <= set(bare["persona_failed"])


def test_a_greeting_and_sign_off_without_the_markets_forms_fail_the_honorifics(tmp_path: Path) -> None:
    # A brand's copy of apac-courteous whose Indonesian and Thai texts address no one (as the built-in ones did).
    builtin = Path(__file__).resolve().parents[2] / "personas" / "builtin" / "personas" / "apac-courteous.yaml"
    document = yaml.safe_load(builtin.read_text(encoding="utf-8"))
    document["greetings"].update(id="Halo, terima kasih telah menghubungi kami.", th="สวัสดี ขอขอบคุณที่ติดต่อเรา")
    document["sign_offs"].update(id="Salam hangat, Tim Layanan Pelanggan", th="ขอบคุณ ทีมบริการลูกค้า")
    (tmp_path / "personas").mkdir()
    (tmp_path / "personas" / "apac-courteous.yaml").write_text(yaml.safe_dump(document, allow_unicode=True),
                                                               encoding="utf-8")
    scorer = CaseScorer(catalog=PersonaCatalog.load(tmp_path))
    greeting, sign_off = document["greetings"]["id"], document["sign_offs"]["id"]
    # Even with "Anda" in the quoted body, the persona's own words must carry the form.
    scores = scorer.score(_id_case(), _id_reply(f"{greeting}\n\nAnda dapat gratis ongkir. {ID_BODY}\n\n{sign_off}"))
    assert scores["persona_failed"] == ["honorifics"]
    # Thai: "ขอบคุณ" (thank you) holds "คุณ" but is no polite address; the sign-off needs ค่ะ/คะ/ครับ or คุณลูกค้า.
    thai = Case(id="th-1", market="TH", channel="email", language="th", message="ส่งฟรีไหม", history=["สวัสดี"],
                must_contain=["฿1,000"])
    reply = _reply(f"ส่งฟรีเมื่อซื้อครบ ฿1,000\n\n{document['sign_offs']['th']}", language="th",
                   persona="apac-courteous", citations=["faq/faq.csv"])
    assert scorer.score(thai, reply)["persona_failed"] == ["honorifics"]


def test_score_language_mismatch_and_errors(scorer: CaseScorer) -> None:
    english = _reply(f"{GREETING}\n\nYou have 30 Tage to send it back, that is a month.\n\n{SIGN_OFF}",
                     language="en", citations=["policies/DE/versand-rueckgabe-zahlung.md"])
    assert scorer.score(_case(), english)["language_match"] is False
    errored = scorer.score(_case(), None)
    assert errored["correct"] is False and errored["outcome"] == "error" and errored["fact_recall"] == 0.0


def test_unanswerable_and_escalation_cases(scorer: CaseScorer) -> None:
    decline = _case(answerable=False, must_contain=[], sources=[])
    assert scorer.score(decline, _reply(f"{GREETING}\n\nDas weiß ich leider nicht.\n\n{SIGN_OFF}"))["correct"]
    assert not scorer.score(decline, _reply(f"{GREETING}\n\nFrankreich.\n\n{SIGN_OFF}", citations=["faq/faq.csv"]
                                            ))["correct"]
    escalate = _case(escalate=True, queue="sales", must_contain=[], sources=[])
    assert scorer.score(escalate, _reply("Ein Kollege meldet sich.", escalate=True, queue="support"))["correct"]
