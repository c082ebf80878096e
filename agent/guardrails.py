"""The guardrails stage: every reply body passes it, whichever generator wrote it.

Eight rules run in order; each records a ``GuardrailFinding`` when it changes (or flags) the body:

0. ``prompt_echo``: a body that repeats a long span of the generator's prompt (``Draft.prompt``) or of the
   persona's ``llm_instructions`` (8 words, or 24 characters of an unspaced script: ``agent.outbound``)
   becomes the safe reply; the persona's greetings and sign-offs do not count.
1. ``forbidden_term``: the market's ``culture.avoid_terms`` (every language listed, since LLMs
   mix languages) remove the sentence, line or bullet holding them.
2. ``pii``: e-mails, card numbers and phone numbers become ``[EMAIL]``, ``[CARD]``, ``[PHONE]``
   unless the customer wrote them or they are the market's ``published_contacts``
   (``agent.outbound.check_outbound``; a document quoting an address does not make it the brand's).
   Card numbers are masked always.
3. ``avoid_phrase``: the persona's ``avoid_phrases`` remove their sentence, like rule 1.
4. ``emoji``: emoji the persona's policy does not permit are removed.
5. ``length``: a body over ``max_body_chars`` is cut at the last sentence end that fits, plus "…".
6. ``language``: a paragraph in another language than the reply's (or the declared
   ``content_language`` of quoted knowledge) replaces the body with the safe reply.
7. ``register``: informal address ("du", "tu") in a formal persona's body is flagged, not changed
   (``agent.register``; the extractive generator already prefers a formal source).

When a removal leaves nothing substantive (fewer than three letters, or only a lead-in line such as
"هذه المعلومات متوفرة باللغة الإنجليزية:" that ends with ":"), or the language is wrong, the body becomes
``say("safe_reply", language)`` (action ``"replaced"``) and the later rules are skipped: the
safe reply is plain, vetted text. Findings name the term, phrase or PII label, never the
e-mail address or number itself.

Matching. Terms and phrases are case-insensitive. In scripts written with spaces they match
whole words ("bacon" hits "Bacon," not "bacons"; a forbidden term also hits its plural in
-s/-es, so "wine" hits "wines"; a persona phrase such as "Hi" never hits "nicht"). Thai,
Lao, Khmer, Burmese, Chinese, Japanese and Korean terms match anywhere (no word spaces).
Arabic terms match at a word start, also behind the clitics و ف ب ل and the article
(بالخمر, والبيرة, للخمر), ignore diacritics and tatweel, treat أ إ آ ٱ as ا, ى as ي and ة as ه,
and may carry any suffix; a bare substring match would read كبيرة ("big") as بيرة ("beer").
Sentences are those of ``polydesk.sentences`` (not ended by "z. B.", "e.g." or the ordinal "3.";
ended by 。！？؟ without a space, by line breaks and, in Thai, by two or more spaces); a hit in a
bullet removes the bullet. Bodies are NFC-normalised first (the same text, one encoding).

Language: per paragraph, ignoring URLs, e-mails, numbers and codes such as TW-4417, and
paragraphs the detector is unsure of (below 0.9, or under 12 letters of Latin-script text).
Indonesian and Malay count as one; kana decides Japanese, and a short Han-only paragraph
(a heading such as 送料無料) is accepted in a Japanese reply.

Usage::

    from agent.guardrails import GuardrailContext, Guardrails
    from personas import PersonaCatalog

    catalog = PersonaCatalog.load()
    guardrails = Guardrails()            # build once: it loads the language model
    ctx = GuardrailContext(persona=catalog.persona("gulf-respectful"), market=catalog.market("SA"),
                           language="en", max_body_chars=500)
    result = guardrails.check("The flask keeps coffee hot for 12 hours. It is also great for wine.", ctx)
    result.body          # 'The flask keeps coffee hot for 12 hours.'
    result.findings[0]   # GuardrailFinding(rule='forbidden_term', detail="'wine' (en): 1 sentence removed", ...)
"""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import regex

from agent.outbound import check_outbound, prompt_echo
from agent.phrases import say
from agent.register import register_breaches
from agent.schema import Evidence, GuardrailFinding
from personas import EmojiPolicy, Market, Persona
from polydesk.language import LanguageDetector, language_family
from polydesk.redaction import Redactor
from polydesk.sentences import sentence_spans
from polydesk.terms import UNSPACED, TermSet

__all__ = ["GuardrailContext", "GuardrailResult", "Guardrails"]

# A paragraph is judged only when the detector is this sure (1.0 when the script decided), and,
# for Latin-script text, only with this many letters: "Free shipping." (0.74) or a product name
# as a heading ("Tidewell Flask") says nothing reliable about the reply's language.
MIN_LANGUAGE_CONFIDENCE = 0.9
MIN_LANGUAGE_LETTERS = 12
# A Han-only paragraph this short is a heading or a term in a Japanese reply, not Chinese.
MAX_HAN_ONLY_IN_JAPANESE = 20
# Fewer letters than this after a removal is not a reply.
_MIN_SUBSTANCE = 3
_CACHE_SIZE = 64

_LETTER = re.compile(r"[^\W\d_]")
_MASKS = re.compile(r"\[(?:EMAIL|CARD|PHONE)\]")
_BULLET = re.compile(r"[ \t]*(?:[-*•・●▪–]|\d{1,2}[.)])\s")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# What carries no language: URLs, e-mails, the pii rule's masks, numbers and product codes.
_LANGUAGE_NOISE = re.compile(
    r"(?:https?://|www\.)[!-~]+"
    r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
    r"|\[(?:EMAIL|CARD|PHONE)\]"
    r"|[A-Za-z0-9_/-]*[0-9][A-Za-z0-9_./:,-]*"
    r"|\b[A-Z]{2,}(?:-[A-Z0-9]+)+\b"
)
# An emoji with what belongs to it: skin tone, variation selector, keycap, tags, ZWJ sequences.
# Which of them to remove is the persona's EmojiPolicy's decision; this only finds their extent.
_EMOJI_TAIL = "[\U0001f3fb-\U0001f3ff\ufe0f\u20e3\U000e0020-\U000e007f]*"
_EMOJI_CLUSTER = regex.compile(
    rf"(?:[\U0001F1E6-\U0001F1FF]{{1,2}}|\p{{Extended_Pictographic}}|\p{{Emoji_Presentation}}){_EMOJI_TAIL}"
    rf"(?:\u200d(?:\p{{Extended_Pictographic}}|\p{{Emoji_Presentation}}){_EMOJI_TAIL})*"
)
# Every character with default emoji presentation lies in these ranges; others need U+FE0F.
_EMOJI_HINT = re.compile("[\u231a-\u2bff\ufe0f\U0001f000-\U0001faff]")
_TRAILING = " \t\n,;:、，-–—"  # stripped before the ellipsis of a cut inside a sentence
_LEAD_IN_END = (":", "：")

Action = Literal["repaired", "replaced"]
S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class GuardrailContext:
    """What a body is checked against: who speaks, where, in which language, from which sources."""

    persona: Persona
    market: Market
    language: str  # the reply language
    max_body_chars: int  # persona.max_reply_chars minus greeting and sign-off (the pipeline computes it)
    customer_texts: Sequence[str] = ()  # the customer's own messages (their own PII may be echoed back)
    evidence: Sequence[Evidence] = ()  # the sources given to the generator (they vouch for no e-mail or phone)
    content_language: str | None = None  # extractive replies quoting knowledge in another language
    prompt: str | None = None  # the generator's system prompt (``Draft.prompt``): a reply must not repeat it

    def __post_init__(self) -> None:
        if self.max_body_chars < 1:
            raise ValueError(
                f"max_body_chars must be at least 1, got {self.max_body_chars} (persona {self.persona.id!r}: "
                "its greeting and sign-off leave no room for a body)"
            )


@dataclass(frozen=True, slots=True)
class GuardrailResult:
    body: str
    findings: list[GuardrailFinding]

    @property
    def replaced(self) -> bool:
        """Whether the body was replaced by the safe reply."""
        return any(finding.action == "replaced" for finding in self.findings)


@dataclass(frozen=True, slots=True)
class _Segment:
    start: int
    end: int  # after the sentence's terminator (a cut point for the length rule)
    stop: int  # after the whitespace that follows it
    line: int


class Guardrails:
    """Checks and repairs reply bodies; build once and share (thread-safe)."""

    def __init__(self, *, detector: LanguageDetector | None = None, redactor: Redactor | None = None) -> None:
        self._detector = detector or LanguageDetector()
        self._redactor = redactor or Redactor()
        self._detectable = frozenset(self._detector.languages)
        # Personas and markets are frozen: compiled once per id/code, and again when a brand's differs.
        self._market_terms: dict[str, tuple[object, TermSet]] = {}
        self._persona_phrases: dict[str, tuple[object, TermSet]] = {}
        self._cache_lock = threading.Lock()

    def check(self, body: str, ctx: GuardrailContext) -> GuardrailResult:
        """``body`` repaired (or replaced by the safe reply), and what was found."""
        findings: list[GuardrailFinding] = []
        # Canonically equivalent text looks the same; NFC lets terms match however it was encoded.
        text = body if unicodedata.is_normalized("NFC", body) else unicodedata.normalize("NFC", body)
        rules: tuple[Callable[[str, GuardrailContext, list[GuardrailFinding]], str], ...] = (
            self._prompt_echo,
            self._forbidden_terms,
            self._pii,
            self._avoid_phrases,
            self._emoji,
            self._length,
            self._language,
            self._register,
        )
        for rule in rules:
            text = rule(text, ctx, findings)
            if findings and findings[-1].action == "replaced":
                break
        return GuardrailResult(body=text, findings=findings)

    # -- the rules, in order ---------------------------------------------------------------------------------------

    def _prompt_echo(self, text: str, ctx: GuardrailContext, findings: list[GuardrailFinding]) -> str:
        persona = ctx.persona
        protected = [source for source in (ctx.prompt, persona.llm_instructions) if source]
        words = prompt_echo(text, protected, allowed=[*persona.greetings.values(), *persona.sign_offs.values()])
        if not words:
            return text
        detail = f"{words} words of the system prompt or persona instructions repeated"  # never the text itself
        findings.append(GuardrailFinding(rule="prompt_echo", detail=detail, action="replaced"))
        return say("safe_reply", ctx.language)

    def _forbidden_terms(self, text: str, ctx: GuardrailContext, findings: list[GuardrailFinding]) -> str:
        terms = self._cached(self._market_terms, ctx.market.code, ctx.market.culture.avoid_terms, _market_terms)
        return _remove_sentences(text, terms, "forbidden_term", ctx.language, findings)

    def _pii(self, text: str, ctx: GuardrailContext, findings: list[GuardrailFinding]) -> str:
        text, found = check_outbound(text, ctx.market.published_contacts, ctx.customer_texts, market=ctx.market.code,
                                     redactor=self._redactor)
        findings += found
        return text

    def _avoid_phrases(self, text: str, ctx: GuardrailContext, findings: list[GuardrailFinding]) -> str:
        phrases = self._cached(self._persona_phrases, ctx.persona.id, ctx.persona.avoid_phrases, _persona_phrases)
        return _remove_sentences(text, phrases, "avoid_phrase", ctx.language, findings)

    def _emoji(self, text: str, ctx: GuardrailContext, findings: list[GuardrailFinding]) -> str:
        policy = ctx.persona.emoji
        if policy.mode == "free" or not _EMOJI_HINT.search(text):
            return text
        bad = policy.violations(text)
        if not bad:
            return text
        findings.append(
            GuardrailFinding(
                rule="emoji",
                detail=f"removed {' '.join(dict.fromkeys(bad))} (emoji policy: {policy.mode})",
                action="repaired",
            )
        )
        return _remove_emoji(text, policy)

    def _length(self, text: str, ctx: GuardrailContext, findings: list[GuardrailFinding]) -> str:
        limit = ctx.max_body_chars
        if len(text) <= limit:
            return text
        kept, where = _cut(text, limit - 1)  # one character for the ellipsis
        detail = f"{len(text)} characters, limit {limit}: cut at {where}"
        findings.append(GuardrailFinding(rule="length", detail=detail, action="repaired"))
        return kept + "…"

    def _language(self, text: str, ctx: GuardrailContext, findings: list[GuardrailFinding]) -> str:
        expected = [ctx.language] + ([ctx.content_language] if ctx.content_language else [])
        accepted = {language_family(code) for code in expected}
        if any(code.split("-")[0] not in self._detectable for code in expected):
            return text  # the detector cannot tell this language: nothing to compare against
        for number, paragraph in enumerate(_PARAGRAPH_BREAK.split(text), start=1):
            clean = _LANGUAGE_NOISE.sub(" ", paragraph)
            found, score = self._detector.detect_with_score(clean, market=ctx.market.code, default=ctx.language)
            if score < MIN_LANGUAGE_CONFIDENCE or language_family(found) in accepted:
                continue
            letters = len(_LETTER.findall(clean))
            if (score < 1.0 and letters < MIN_LANGUAGE_LETTERS) or (
                found == "zh" and "ja" in accepted and letters <= MAX_HAN_ONLY_IN_JAPANESE
            ):
                continue
            wanted = " or ".join(repr(code) for code in dict.fromkeys(expected))
            detail = f"reply in {found!r}, expected {wanted} (paragraph {number}, confidence {score:.2f})"
            findings.append(GuardrailFinding(rule="language", detail=detail, action="replaced"))
            return say("safe_reply", ctx.language)
        return text

    def _register(self, text: str, ctx: GuardrailContext, findings: list[GuardrailFinding]) -> str:
        forms = register_breaches(text, persona=ctx.persona, market=ctx.market, language=ctx.language,
                                  content_language=ctx.content_language)
        if forms:
            detail = f"informal address in a formal persona's reply: {', '.join(forms)}"
            findings.append(GuardrailFinding(rule="register", detail=detail, action="flagged"))
        return text

    def _cached(
        self, cache: dict[str, tuple[object, TermSet]], key: str, source: S, build: Callable[[S], TermSet]
    ) -> TermSet:
        entry = cache.get(key)
        if entry is not None and (entry[0] is source or entry[0] == source):
            return entry[1]
        terms = build(source)
        with self._cache_lock:
            if len(cache) >= _CACHE_SIZE:
                cache.pop(next(iter(cache)))
            cache[key] = (source, terms)
        return terms


# -- terms and phrases -----------------------------------------------------------------------------------------------


def _market_terms(avoid_terms: dict[str, list[str]]) -> TermSet:
    labelled = {term.casefold(): (term, f"{term!r} ({language})") for language, terms in avoid_terms.items()
                for term in terms}  # fmt: skip
    return TermSet.compile(labelled.values(), plural=True)


def _persona_phrases(avoid_phrases: tuple[str, ...]) -> TermSet:
    return TermSet.compile((phrase, repr(phrase)) for phrase in avoid_phrases)


def _remove_sentences(
    text: str,
    terms: TermSet,
    rule: Literal["forbidden_term", "avoid_phrase"],
    language: str,
    findings: list[GuardrailFinding],
) -> str:
    """``text`` without the sentences (or bullets) in which ``terms`` occur; the safe reply if none is left."""
    found = terms.find(text)
    if not found:
        return text
    segments = _segments(text)
    removed: dict[str, set[int]] = {}
    for label, (start, end) in sorted(found, key=lambda item: item[1]):
        removed.setdefault(label, set()).update(_units_at(text, segments, start, end))
    kept = _join_without(text, segments, set().union(*removed.values()))
    action: Action = "repaired" if _substantive(kept, language) else "replaced"
    for label, units in removed.items():
        what = "nothing else left" if action == "replaced" else f"{len(units)} sentence{'s' * (len(units) > 1)} removed"
        findings.append(GuardrailFinding(rule=rule, detail=f"{label}: {what}", action=action))
    return say("safe_reply", language) if action == "replaced" else kept


# -- sentences -------------------------------------------------------------------------------------------------------


def _segments(text: str) -> list[_Segment]:
    """The sentences of ``text``, each with the whitespace after it and the number of its line."""
    segments: list[_Segment] = []
    line = 0
    for sentence in sentence_spans(text):
        segments.append(_Segment(sentence.start, sentence.end, sentence.stop, line))
        line += "\n" in text[sentence.end : sentence.stop]
    return segments


def _units_at(text: str, segments: Sequence[_Segment], start: int, end: int) -> set[int]:
    """Indexes of the segments a match touches, widened to the whole line for a bullet."""
    first = max(0, bisect.bisect_right([s.start for s in segments], start) - 1)
    hit = {i for i in range(first, len(segments)) if segments[i].start < end}
    lines = {segments[i].line for i in hit}
    for line in lines:
        members = [i for i, s in enumerate(segments) if s.line == line]
        if _BULLET.match(text, segments[members[0]].start):
            hit.update(members)
    return hit


def _join_without(text: str, segments: Sequence[_Segment], drop: set[int]) -> str:
    parts: list[list[str]] = []
    for i, segment in enumerate(segments):
        separator = text[segment.end : segment.stop]
        if i not in drop:
            parts.append([text[segment.start : segment.end], separator])
        elif parts and separator.count("\n") > parts[-1][1].count("\n"):
            parts[-1][1] = separator  # keep the line or paragraph break the removed sentence ended with
    if not parts:
        return ""
    parts[-1][1] = text[len(text.rstrip()) :]
    return text[: segments[0].start] + "".join(content + separator for content, separator in parts)


def _substantive(text: str, language: str) -> bool:
    """Whether ``text`` says something: three letters or more outside masks and lead-in lines (a line that ends
    with a colon, or the lead-in that announces a quote in another language), which introduce what was removed."""
    head, _, tail = say("source_language", language, source="\x00").partition("\x00")
    lines = [line.strip() for line in _MASKS.sub("", text).splitlines()]
    said = [line for line in lines if not line.endswith(_LEAD_IN_END)
            and not (line.startswith(head.strip()) and line.endswith(tail.strip()))]
    return len(_LETTER.findall(" ".join(said))) >= _MIN_SUBSTANCE


def _cut(text: str, room: int) -> tuple[str, str]:
    """The longest head of ``text`` within ``room`` characters, and where it was cut."""
    ends = [segment.end for segment in _segments(text) if segment.end <= room]
    if ends:
        return text[: ends[-1]].rstrip(), "a sentence end"
    space = room if text[room].isspace() else max(text.rfind(" ", 0, room), text.rfind("\n", 0, room))
    unspaced = bool(UNSPACED.match(text, max(0, room - 1)))  # a cut may fall between any two characters
    # Unspaced scripts: a nearby space (Thai separates phrases with them), else between two characters.
    if space > 0 and (not unspaced or room - space <= 24):
        return text[:space].rstrip(_TRAILING), "a word boundary"
    while room > 0 and (unicodedata.combining(text[room]) or unicodedata.category(text[room]) in ("Mn", "Mc", "Me")):
        room -= 1  # a vowel or tone mark stays with its consonant
    return text[:room], "a character boundary"


def _remove_emoji(text: str, policy: EmojiPolicy) -> str:
    parts: list[str] = []
    pos = 0
    for match in _EMOJI_CLUSTER.finditer(text):
        if not policy.violations(match.group()):
            continue
        start, end = match.start(), match.end()
        after = text[end : end + 1]
        if start > pos and text[start - 1] == " " and (not after or after.isspace() or after in ".,!?。、"):
            start -= 1  # "Thanks 🎉!" -> "Thanks!"
        elif (start == 0 or text[start - 1] == "\n") and after == " ":
            end += 1  # "🎉 Done" -> "Done"
        parts.append(text[pos:start])
        pos = end
    return "".join([*parts, text[pos:]])
