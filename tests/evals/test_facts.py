"""Fact matching: the heart of the headline accuracy, in every script."""

from __future__ import annotations

import pytest

from evals.facts import check_facts, fact_present, normalize

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("text", "fact", "present"), [
    ("Du hast 30 Tage ab Erhalt Zeit.", "30 Tage", True),
    ("innerhalb von 30 Tagen", "30 Tage", True),            # no word boundary: inflected forms count
    ("You have 130 days.", "30 days", False),                # a number is not part of a longer number
    ("Free shipping from $750.", "$75", False),
    ("Free shipping from $75.50", "$75", False),             # nor of a decimal
    ("Free shipping from $75.", "$75", True),                # a full stop after the number is fine
    ("ส่งฟรีทั่วประเทศเมื่อสั่งซื้อครบ ฿1,000 ขึ้นไป", "฿1,000", True),   # Thai, no spaces
    ("คืนสินค้าได้ภายใน 14 วันนับจากวันที่ได้รับสินค้า", "14 วัน", True),
    ("คืนสินค้าได้ภายใน 14 วันนับจากวันที่ได้รับสินค้า", "7 วัน", False),
    ("商品到着日を含めて8日以内にご連絡ください。", "8日", True),      # Japanese, no spaces
    ("商品到着日を含めて18日以内にご連絡ください。", "8日", False),
    ("商品到着日を含めて８日以内", "8日", True),                    # full-width digit (NFKC)
    ("出荷後 1〜3営業日でお届けします", "1-3営業日", True),          # wave dash read as a hyphen
    ("DHL Paket: 2–3 Werktage", "2-3 Werktage", True),            # en dash
    ("يمكنك إرجاع المنتجات خلال 15 يومًا من تاريخ الاستلام", "15 يوم", True),   # Arabic
    ("Giao hàng trong 3–6 ngày làm việc", "3-6 ngày làm việc", True),           # Vietnamese diacritics
    ("收到商品後享有 7 天鑑賞期", "7 天|7天", True),                  # alternatives
    ("收到商品後享有7天鑑賞期", "7 天|7天", True),
    ("Kostenloser Versand ab **50 €**", "50 €", True),           # Markdown emphasis ignored
    ("PAYPAL and Klarna", "PayPal", True),                       # case folded
])
def test_fact_present(text: str, fact: str, present: bool) -> None:
    assert fact_present(text, fact) is present


def test_check_facts_reports_found_missing_and_forbidden() -> None:
    check = check_facts("Envío gratis desde $999 MXN; devoluciones en 30 días.", ["$999", "20 días"], ["30 días"])
    assert check.found == ["$999"]
    assert check.missing == ["20 días"]
    assert check.forbidden == ["30 días"]
    assert check.recall == 0.5
    assert check_facts("anything", [], []).recall is None


def test_normalize_is_script_neutral() -> None:
    assert normalize("  Ａｂ\u3000 C–D ") == "ab c-d"
