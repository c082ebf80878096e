"""Language detection for customer messages and documents (py3langid, offline).

Scripts that identify a language with certainty (Thai, kana, Hangul, Arabic, Han) decide
before the statistical model; everything else goes to a py3langid model restricted to the
detector's languages. Indonesian vs Malay is settled by the market when the model says either.
Chinese is returned as "zh": Simplified and Traditional are not distinguished yet.

Usage::

    from polydesk.language import LanguageDetector

    detector = LanguageDetector()
    detector.detect("Pesanan saya belum sampai, tolong dicek", market="ID")   # 'id'
    detector.detect_with_score("Wo ist meine Bestellung?")                   # ('de', 0.99...)
    detector.detect("👍")                                                     # 'en' (the default)
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Sequence

from py3langid.langid import MODEL_FILE, LanguageIdentifier

__all__ = ["SUPPORTED_LANGUAGES", "LanguageDetector", "language_family"]

SUPPORTED_LANGUAGES: tuple[str, ...] = (
    "en", "de", "fr", "es", "pt", "id", "ms", "th", "vi", "ja",
    "zh", "ar", "it", "nl", "ko", "tr", "pl", "ru", "hi", "tl",
)  # fmt: skip

# The market settles id vs ms: the two are close enough that short messages are a coin flip.
_MALAY_MARKETS = frozenset({"MY", "BN", "SG"})
_INDONESIAN_MARKETS = frozenset({"ID"})
# Another Arabic-script language in the set means Arabic script alone no longer decides.
_OTHER_ARABIC_SCRIPT = frozenset({"fa", "ur", "ps", "ku", "ug", "sd", "ary", "arz", "sdh"})
_OTHER_HAN = frozenset({"yue", "wuu"})

_LETTER_RE = re.compile(r"[^\W\d_]")
_THAI_RE = re.compile(r"[\u0E00-\u0E7F]")
_KANA_RE = re.compile(r"[\u3040-\u30FF\u31F0-\u31FF\uFF66-\uFF9F]")
_HANGUL_RE = re.compile(r"[\u1100-\u11FF\u3130-\u318F\uAC00-\uD7AF]")
_ARABIC_RE = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_HAN_RE = re.compile(r"[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF\U00020000-\U0002FA1F]")
# URLs, e-mails, handles and numbers carry no language but add n-grams to the model's input.
_NOISE_RE = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+|[@#]\w+|\d+")
# A CJK character carries about a word; weighting keeps brand names in Latin letters
# ("iPhone 15 Proの在庫") from outvoting the script.
_CJK_WEIGHT = 3
# Fewer letters than this ("ok", "hi") carry no language: the caller's default is returned.
_MIN_LETTERS = 3
# Language is decided from the head of long documents: enough signal, bounded cost.
_MAX_CHARS = 10_000

# Languages the agent treats as one (replying, switching, quoting): Malay and Indonesian are mutually intelligible.
_SAME_FAMILY = {"ms": "id"}


def language_family(code: str) -> str:
    """The base language a code belongs to for the agent: 'zh-hant' -> 'zh', 'ms' -> 'id', 'de' -> 'de'."""
    base = code.split("-")[0].lower()
    return _SAME_FAMILY.get(base, base)


_base_lock = threading.Lock()
_base: LanguageIdentifier | None = None


def _base_identifier() -> LanguageIdentifier:
    """The full model, loaded once per process (~1 s); detectors take shallow copies of it."""
    global _base
    with _base_lock:
        if _base is None:
            _base = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _base


class LanguageDetector:
    """Detects the language of a text among ``languages`` (ISO 639-1 codes py3langid knows).

    Thread-safe once built. Each detector owns its restricted model, so detectors with
    different language sets do not interfere (py3langid's module-level one is never touched).
    """

    def __init__(self, *, languages: Sequence[str] = SUPPORTED_LANGUAGES) -> None:
        if not languages:
            raise ValueError("languages must not be empty")
        self.languages: tuple[str, ...] = tuple(dict.fromkeys(languages))
        # set_languages rebinds the copy's arrays (it never writes into the shared ones).
        self._model: LanguageIdentifier = copy.copy(_base_identifier())
        self._model.set_languages(list(self.languages))
        lang_set = set(self.languages)
        self._script_langs: dict[str, bool] = {
            "th": "th" in lang_set,
            "ja": "ja" in lang_set,
            "ko": "ko" in lang_set,
            "ar": "ar" in lang_set and not lang_set & _OTHER_ARABIC_SCRIPT,
            "zh": "zh" in lang_set and not lang_set & _OTHER_HAN,
        }

    def detect(self, text: str, *, market: str | None = None, default: str = "en") -> str:
        return self.detect_with_score(text, market=market, default=default)[0]

    def detect_with_score(self, text: str, *, market: str | None = None, default: str = "en") -> tuple[str, float]:
        """The language and a probability in [0, 1].

        1.0 when the script decided; the model's normalised probability otherwise (low for
        very short texts: callers may prefer their default below a threshold); 0.0 with
        ``default`` when the text has too few letters to tell.
        """
        text = text[:_MAX_CHARS]
        scripted = self._by_script(text)
        if scripted is not None:
            return scripted, 1.0
        clean = _NOISE_RE.sub(" ", text)
        if len(_LETTER_RE.findall(clean)) < _MIN_LETTERS:
            return default, 0.0
        ranked = self._model.rank(clean)
        lang, score = ranked[0]
        if lang in ("id", "ms"):
            probs = dict(ranked)
            # The model's id/ms split is unreliable, so the score is the pair's joint mass.
            score = probs.get("id", 0.0) + probs.get("ms", 0.0)
            lang = self._malay_or_indonesian(lang, market, probs)
        return lang, min(1.0, float(score))

    def _malay_or_indonesian(self, lang: str, market: str | None, probs: dict[str, float]) -> str:
        code = (market or "").upper()
        if code in _MALAY_MARKETS and "ms" in probs:
            return "ms"
        if code in _INDONESIAN_MARKETS and "id" in probs:
            return "id"
        return lang

    def _by_script(self, text: str) -> str | None:
        """A language the script makes certain, if that script dominates the letters."""
        letters = len(_LETTER_RE.findall(text))
        if not letters:
            return None
        thai = len(_THAI_RE.findall(text))
        kana = len(_KANA_RE.findall(text))
        hangul = len(_HANGUL_RE.findall(text))
        arabic = len(_ARABIC_RE.findall(text))
        han = len(_HAN_RE.findall(text))
        other = max(0, letters - thai - kana - hangul - arabic - han)
        candidates = {
            "th": thai,
            "ar": arabic,
            "ja": (kana + han) * _CJK_WEIGHT if kana else 0,
            "ko": (hangul + han) * _CJK_WEIGHT if hangul else 0,
            "zh": han * _CJK_WEIGHT if not kana and not hangul else 0,
        }
        lang, weight = max(candidates.items(), key=lambda item: item[1])
        # The script must make up at least a third of the (weighted) letters.
        if weight == 0 or weight * 2 < other or not self._script_langs[lang]:
            return None
        return lang
