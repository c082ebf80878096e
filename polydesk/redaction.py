"""PII redaction for ingested text: e-mail addresses, payment cards and phone numbers; on request
personal names and postal addresses.

Phone numbers are found and validated by ``phonenumbers`` (libphonenumber metadata), using
the market's region for national formats; international ``+CC`` numbers are caught in every
market; numbers it calls possible but not valid (fictional ranges such as UK 07700 900xxx)
count only when grouped exactly as it would format them. Cards are 13-19 digit runs with a
known issuer prefix that pass the Luhn check. Extra patterns (label -> regex) run after the
built-ins; on overlapping spans the earlier detector wins (e-mail, card, phone, extras, names, addresses).

``Redactor(people=True)`` also replaces personal names (``polydesk.names``: forms of address, greetings,
honorifics, signatures, and the ``names=`` a caller knows, such as a transcript's speakers) with
``[NAME]`` and postal addresses (``polydesk.addresses``) with ``[ADDRESS]``. Documents and replies
leave it off: a brand's own pages name people on purpose; past conversations turn it on.

Usage::

    from polydesk.redaction import Redactor

    redactor = Redactor(extra_patterns={"ORDER": r"TW-ORD-\\d{4}-\\d{6}"})
    result = redactor.redact("Call 081-234-5678 about TW-ORD-2026-004512", market="TH")
    result.text    # 'Call [PHONE] about [ORDER]'
    result.counts  # {'PHONE': 1, 'ORDER': 1}
    Redactor(people=True).redact("Danke, Frau Müller! Hauptstraße 12", names=["Lena"]).text
    # 'Danke, Frau [NAME]! [ADDRESS]'
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import Leniency, PhoneMetadata, PhoneNumberFormat, PhoneNumberMatcher

from polydesk.addresses import address_spans
from polydesk.names import name_spans

__all__ = ["DEFAULT_REGIONS", "Redaction", "Redactor", "market_region"]

# Without a market only "+CC" numbers and NANP numbers are safe to call phone numbers: any
# other national format is ambiguous (a German "030 12345678" looks like many other things).
DEFAULT_REGIONS: tuple[str, ...] = ("US",)
_MARKET_ALIASES = {"UK": "GB", "EL": "GR"}
_SUPPORTED_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)

_ATEXT = r"\-A-Za-z0-9!#$%&'*+/=?^_`{|}~\u00C0-\u024F"
_LABEL = r"[A-Za-z0-9\u00C0-\u024F](?:[A-Za-z0-9\u00C0-\u024F-]{0,61}[A-Za-z0-9\u00C0-\u024F])?"
# E-mails, codes and glued labels are found from an anchor ("@", a digit) rather than by one
# regex scanning every position: Python's re has no fast skip for a pattern that opens with a
# look-behind or a broad character class, and that scan was most of the redaction time.
_LOCAL_PART_RE = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*\Z")
_DOMAIN_RE = re.compile(rf"(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{2,59}})(?![A-Za-z0-9-])")
# Runs of digits joined by single spaces or dashes; a "+" before means an international phone.
_DIGIT_RUN_RE = re.compile(r"(?<![0-9A-Za-z+])[0-9](?:[ -]?[0-9]){12,}(?![0-9A-Za-z])")
_GROUP_SPLIT_RE = re.compile(r"[ -]")
_NON_DIGITS_RE = re.compile(r"[^0-9]+")
# Hidden from the phone matcher: identifiers whose digits hang on an uppercase code or "#"
# ("TW-ORD-2026-004512", "INV_2026...", "#2026004512") and ISO dates. NANP and several other
# regions would otherwise accept such digits as valid numbers; masking also saves their parse.
_CODE_RE = re.compile(r"(?:[A-Z][A-Z0-9]*(?:[-_][A-Z0-9]+)*[-_#]|#)[0-9][0-9A-Za-z_-]*")
_DATE_RE = re.compile(r"[12][09][0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?![0-9])")
# "WA-0812..." and "HP-0812..." (Indonesia, Malaysia) or "TEL-..." label a phone, not a code.
_PHONE_LABEL_RE = re.compile(r"(?:TEL|HP|WA|FAX|MOB|PH)[-_#]")
# The matcher rejects digits glued to a Latin letter (a sound rule against codes like "SKU1234"),
# which loses "Tel0151...", "SĐT0912..." and "HP0812...": these labels are blanked for it.
_DIGITS_RE = re.compile(r"[+(]?[0-9]+")
_GLUED_LABEL_RE = re.compile(r"(?i)(?<![^\W\d_])(?:tel|telp|tlp|phone|ph|fon|handy|mobil|mobile|mob|hp|wa|sđt|sdt)\Z")
# Digits running on into a code ("12345678-AB"): an identifier, not a phone.
_CODE_SUFFIX_RE = re.compile(r"[-_/#][A-Za-z0-9]")
_MASK = "x"
_MIN_FALLBACK_DIGITS = 8
_MAX_TRIES = 1 << 62
# Candidates shorter than this (digits plus separators) are quantities, prices and codes: no
# phone number in our markets is that short, and skipping them saves a parse each.
_MIN_CANDIDATE = 6
_DIGIT_RE = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Redaction:
    text: str
    counts: dict[str, int]
    # (start, end, label) of every redacted span, in the original text, left to right.
    spans: tuple[tuple[int, int, str], ...] = ()


def market_region(market: str | None) -> str | None:
    """The phonenumbers region for a market code ("UK" -> "GB"); None when unknown or "*"."""
    if not market or market == "*":
        return None
    code = _MARKET_ALIASES.get(market.upper(), market.upper())
    return code if code in _SUPPORTED_REGIONS else None


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _plausible_card(digits: str) -> bool:
    """Issuer prefix (IIN) and length of the major schemes: Visa, Mastercard (51-55, 2221-2720),
    Mir, Amex, Diners, JCB, Discover, UnionPay, Maestro, RuPay."""
    n = len(digits)
    if not 13 <= n <= 19:
        return False
    first, two, four = digits[0], int(digits[:2]), int(digits[:4])
    if first == "4":
        return n in (13, 16, 19)
    if first == "5":
        return n == 16 or not 51 <= two <= 55
    if first == "6":
        return True
    if first == "3":
        if two in (34, 37):
            return n == 15
        return (two in (30, 35, 36, 38, 39) and n >= 14) and (two != 35 or n >= 16)
    if first == "2":
        return (2221 <= four <= 2720 and n == 16) or (2200 <= four <= 2204 and n >= 16)
    return False


def _card_grouped(lengths: Sequence[int]) -> bool:
    """One block, or 4-4-4-4(-n) / Amex-style 4-6-4(5) grouping."""
    if len(lengths) == 1 or list(lengths[:2]) == [4, 6]:
        return True
    return all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4


def _card_spans(text: str) -> Iterator[tuple[int, int]]:
    for run in _DIGIT_RUN_RE.finditer(text):
        groups = _GROUP_SPLIT_RE.split(run.group())
        starts = [run.start()]
        for g in groups[:-1]:
            starts.append(starts[-1] + len(g) + 1)
        i = 0
        while i < len(groups):
            end = _card_window(groups, i)
            if end is None:
                i += 1
                continue
            yield starts[i], starts[end - 1] + len(groups[end - 1])
            i = end


def _card_window(groups: Sequence[str], i: int) -> int | None:
    """End (exclusive group index) of the longest card starting at group ``i``, if any.

    A card may be followed by unrelated groups (expiry, CVV), so trailing groups are dropped
    one by one. Inside a run only card-like grouping may start a card: otherwise a phone or
    order number after a quantity would be a 1-in-10 Luhn coin flip.
    """
    for end in range(len(groups), i, -1):
        lengths = [len(g) for g in groups[i:end]]
        total = sum(lengths)
        if total < 13:
            return None
        digits = "".join(groups[i:end])
        if _plausible_card(digits) and (i == 0 or _card_grouped(lengths)) and _luhn_ok(digits):
            return end
    return None


def _mask(text: str, spans: _Spans) -> str:
    parts: list[str] = []
    pos = 0
    for start, end, _ in spans:
        parts.append(text[pos:start])
        parts.append(_MASK * (end - start))
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def _digit_groups(s: str) -> list[str]:
    return [g for g in _NON_DIGITS_RE.split(s) if g]


def _looks_like_formatted_phone(number: phonenumbers.PhoneNumber, raw: str, region: str) -> bool:
    """For numbers libphonenumber calls possible but not valid (reserved fictional ranges such
    as UK 07700 900xxx, or ranges newer than its metadata): accept only when the digits are
    grouped exactly as libphonenumber itself would format the number, with the trunk prefix."""
    if len(phonenumbers.national_significant_number(number)) < _MIN_FALLBACK_DIGITS:
        return False
    groups = _digit_groups(raw)
    if len(groups) < 2:
        return False
    if raw.lstrip("(").startswith("+"):
        formatted = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    else:
        metadata = PhoneMetadata.metadata_for_region(region, None)
        prefix = metadata.national_prefix if metadata is not None else None
        if prefix and not groups[0].startswith(prefix):
            return False
        formatted = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return _digit_groups(formatted) == groups


def _email_spans(text: str) -> Iterator[tuple[int, int]]:
    at = text.find("@")
    while at != -1:
        local = _LOCAL_PART_RE.search(text, max(0, at - 64), at)
        domain = _DOMAIN_RE.match(text, at + 1) if local else None
        if local and domain:
            yield local.start(), domain.end()
            at = text.find("@", domain.end())
        else:
            at = text.find("@", at + 1)


def _phone_view(text: str) -> str:
    """The text as the phone matcher should see it (same length, so offsets carry over)."""
    chars = list(text)
    for m in _CODE_RE.finditer(text):
        before = text[m.start() - 1] if m.start() else " "
        if (before.isascii() and before.isalnum()) or _PHONE_LABEL_RE.match(text, m.start()):
            continue
        chars[m.start() : m.end()] = _MASK * (m.end() - m.start())
    for m in _DATE_RE.finditer(text):
        if not (m.start() and text[m.start() - 1].isdigit()):
            chars[m.start() : m.end()] = _MASK * (m.end() - m.start())
    for m in _DIGITS_RE.finditer(text):
        if not m.start() or not text[m.start() - 1].isalpha():
            continue
        label = _GLUED_LABEL_RE.search(text, max(0, m.start() - 7), m.start())
        if label:
            chars[label.start() : label.end()] = " " * (label.end() - label.start())
    return "".join(chars)


class _Spans:
    """Non-overlapping labelled spans kept sorted, so overlap checks stay O(log n) on big texts."""

    __slots__ = ("_items", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._items: list[tuple[int, int, str]] = []

    def add(self, start: int, end: int, label: str) -> bool:
        """Adds the span unless it overlaps one already taken (the earlier detector wins)."""
        i = bisect.bisect_right(self._starts, start)
        if end <= start or (i and self._items[i - 1][1] > start) or (i < len(self._items) and self._items[i][0] < end):
            return False
        self._starts.insert(i, start)
        self._items.insert(i, (start, end, label))
        return True

    def __iter__(self) -> Iterator[tuple[int, int, str]]:
        return iter(self._items)


class Redactor:
    """Replaces e-mails, payment cards, phone numbers and extra patterns (with ``people``, also names and postal
    addresses) with ``[LABEL]``; thread-safe."""

    def __init__(self, *, extra_patterns: Mapping[str, str] | None = None, people: bool = False) -> None:
        self._extra: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
            (label, re.compile(pattern)) for label, pattern in (extra_patterns or {}).items()
        )
        self.people = people

    def redact(self, text: str, *, market: str | None = None, names: Sequence[str] = (),
               not_names: Collection[str] = (), only: Collection[str] | None = None) -> Redaction:
        """``text`` with its PII replaced. With ``people``: ``names`` are people's names known to occur in it,
        ``not_names`` words never to take for one (a brand's name after "Hi"). ``only`` replaces just those labels;
        the others are still found, so that, say, no name is cut out of an e-mail address left for later."""
        taken = _Spans()
        for start, end in _email_spans(text):
            taken.add(start, end, "EMAIL")
        # Cards before phones, so a card number is never half-taken as a phone.
        for start, end in _card_spans(text):
            taken.add(start, end, "CARD")
        if _DIGIT_RE.search(text):
            region = market_region(market)
            self._add_phones(text, taken, (region,) if region else DEFAULT_REGIONS)
        for label, pattern in self._extra:
            for m in pattern.finditer(text):
                taken.add(m.start(), m.end(), label)
        if self.people:
            for start, end in name_spans(text, known=names):
                if text[start:end] not in not_names:
                    taken.add(start, end, "NAME")
            for start, end in address_spans(text):
                taken.add(start, end, "ADDRESS")
        return _apply(text, taken, only)

    @staticmethod
    def _add_phones(text: str, taken: _Spans, regions: Sequence[str]) -> None:
        view = _phone_view(text)
        for region in regions:
            # Masking what is already taken keeps the matcher from reading e-mail or card
            # digits, or a valid number, as (part of) another candidate.
            masked = _mask(view, taken)
            for match in PhoneNumberMatcher(masked, region, Leniency.VALID, _MAX_TRIES, _MIN_CANDIDATE):
                if not _CODE_SUFFIX_RE.match(text, match.end):
                    taken.add(match.start, match.end, "PHONE")
            # Second pass, for possible-but-invalid numbers. It accepts only "+..." numbers or ones
            # written with the trunk prefix, so only those stretches (with one character of
            # context each side, which the matcher checks) are parsed again.
            masked = _mask(view, taken)
            for hint in _fallback_hint(region).finditer(masked):
                lo, hi = max(0, hint.start() - 1), hint.end() + 1
                for match in PhoneNumberMatcher(masked[lo:hi], region, Leniency.POSSIBLE, _MAX_TRIES, _MIN_CANDIDATE):
                    start, end = lo + match.start, lo + match.end
                    if (
                        not phonenumbers.is_valid_number(match.number)
                        and _looks_like_formatted_phone(match.number, match.raw_string, region)
                        and not _CODE_SUFFIX_RE.match(text, end)
                    ):
                        taken.add(start, end, "PHONE")


@functools.lru_cache(maxsize=64)
def _fallback_hint(region: str) -> re.Pattern[str]:
    metadata = PhoneMetadata.metadata_for_region(region, None)
    prefix = re.escape(metadata.national_prefix) if metadata is not None and metadata.national_prefix else "[0-9]"
    return re.compile(rf"(?<![0-9])(?:\+|\(|{prefix})[0-9 ()./-]{{6,}}[0-9]")


def _apply(text: str, spans: _Spans, only: Collection[str] | None = None) -> Redaction:
    counts: dict[str, int] = {}
    parts: list[str] = []
    pos = 0
    kept = tuple(span for span in spans if only is None or span[2] in only)
    # One left-to-right join instead of right-to-left slicing: same result, linear time.
    for start, end, label in kept:
        parts.append(text[pos:start])
        parts.append(f"[{label}]")
        counts[label] = counts.get(label, 0) + 1
        pos = end
    parts.append(text[pos:])
    return Redaction(text="".join(parts), counts=counts, spans=kept)
