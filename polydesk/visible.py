"""What a reader sees of a text: one definition of invisible characters for names, messages and documents.

- ``strip_invisible``: NFC, without format characters other than the zero-width (non-)joiners that
  Persian, Indic scripts and emoji spell with, and without controls other than tab and line breaks;
- ``has_visible_text``: a letter, digit, punctuation or symbol that is not a blank filler is left;
- ``visible_text``: a customer message as shown: bidi controls, BOM and controls dropped anywhere,
  invisible characters trimmed at its edges (``""`` when nothing shows);
- ``escape_invisible``: control and format characters written as ``\\uXXXX``, safe to show in an error.

>>> visible_text("\\u200b\\u2060 Hallo\\u202e \\ufeff"), visible_text("\\u200b\\u200c\\u200d\\ufeff\\u202e")
('Hallo', '')
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["BIDI_CONTROLS", "JOINERS", "escape_invisible", "has_visible_text", "strip_invisible", "visible_text"]

# Bidirectional embeddings, overrides and isolates: they only reorder what is displayed.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
JOINERS = frozenset("\u200c\u200d")
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")  # Hangul and halfwidth fillers, blank Braille
# Shown as nothing, and dropped anywhere in a message: controls other than tab and line breaks, the bidi
# controls, the BOM / zero-width no-break space.
_DROPPED = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")


def _shows(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNPS" and char not in _BLANK_LETTERS


def escape_invisible(text: str) -> str:
    """``text`` with control, format and separator characters written as ``\\uXXXX``: safe to show a person."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"} else c
                   for c in text)


def strip_invisible(text: str) -> str:
    """NFC ``text`` without format characters other than the joiners, and without controls other than
    tab and line breaks: what a reader sees. ``has_visible_text`` says whether anything is left."""
    text = unicodedata.normalize("NFC", text)
    return "".join(c for c in text if c in JOINERS or c in "\t\n\r"
                   or unicodedata.category(c) not in {"Cc", "Cf"})


def has_visible_text(text: str) -> bool:
    """True when ``text`` shows something: a letter, digit, punctuation or symbol that is not a blank filler."""
    return any(_shows(c) for c in text)


def visible_text(text: str) -> str:
    """``text`` without the characters that show nothing (see ``_DROPPED``) and without invisible ones at its edges
    (zero-width space and joiners, word joiner, marks); ``""`` when nothing shows. Joiners inside stay: they hold
    emoji sequences (👩‍💻) and Persian or Indic words together."""
    text = _DROPPED.sub("", text)
    shown = [i for i, char in enumerate(text) if _shows(char)]
    if not shown:
        return ""
    start, end = shown[0], shown[-1] + 1
    while end < len(text) and unicodedata.category(text[end]) in ("Mn", "Mc", "Me"):
        end += 1  # a vowel sign or tone mark stays with its letter
    return text[start:end]
