"""The persona schema: who speaks to the customer, and how.

A persona is one YAML file under ``<folder>/personas/``. Greetings and
sign-offs are given per language; the catalogue checks that they cover the
default language of every market that routing sends to the persona. A reply
in a language the persona has no text for gets polydesk's built-in greeting
and sign-off in that language (``agent.phrases``), never the persona's text
in another language.

Example:
    >>> persona = Persona.model_validate({
    ...     "id": "warm-quick", "display_name": "Warm & quick", "tone": "warm", "formality": "neutral",
    ...     "emoji": {"mode": "allowed", "allowed": ["🙏", "😊"]}, "max_reply_chars": 400,
    ...     "greetings": {"en": "Hi! Thanks for reaching out 😊", "id": "Halo Kak! 😊"},
    ...     "sign_offs": {"en": "Happy to help 🙏", "id": "Semoga membantu ya, Kak 🙏"},
    ... })
    >>> persona.greeting("id-ID"), persona.greeting("ms"), persona.emoji.permits("🎉")
    ('Halo Kak! 😊', '', False)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import regex
from pydantic import BaseModel, ConfigDict, Field, model_validator

from personas.fields import FieldProblem, LanguageMap, NonEmptyText, Slug, pick_language


class Tone(StrEnum):
    PROFESSIONAL = "professional"
    WARM = "warm"
    CONCISE = "concise"
    FRIENDLY = "friendly"
    RESPECTFUL = "respectful"
    EMPATHETIC = "empathetic"


class Formality(StrEnum):
    FORMAL = "formal"
    NEUTRAL = "neutral"
    CASUAL = "casual"


# An emoji is a flag (two regional indicators), a character shown as an emoji by default
# (skin-tone modifiers belong to the emoji before them), or a pictograph followed by the
# emoji variation selector (❤️, ✔️). Symbols such as ©, ™, ★ and ✓ are text, not emoji.
_EMOJI = regex.compile(
    r"[\U0001F1E6-\U0001F1FF]{2}|(?!\p{Emoji_Modifier})\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F"
)


def find_emoji(text: str) -> list[str]:
    """The emoji in ``text``, in order (a skin-toned or joined emoji counts as its base pictographs)."""
    found: list[str] = _EMOJI.findall(text)
    return found


class EmojiPolicy(BaseModel):
    """Which emoji a persona may use: ``none``, an ``allowed`` list, or ``free``.

    YAML accepts the short forms ``emoji: none``, ``emoji: free`` and
    ``emoji: {allowed: [🙏, 😊]}`` besides ``{mode: allowed, allowed: [...]}``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["none", "allowed", "free"]
    allowed: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, value: object) -> object:
        if isinstance(value, str):
            return {"mode": value}
        if isinstance(value, dict) and "mode" not in value and "allowed" in value:
            return {"mode": "allowed", **value}
        return value

    @model_validator(mode="after")
    def _list_matches_mode(self) -> EmojiPolicy:
        if self.mode == "allowed" and not self.allowed:
            raise ValueError("mode 'allowed' needs a non-empty 'allowed' list of emoji, e.g. allowed: [🙏, 😊]")
        if self.mode != "allowed" and self.allowed:
            raise ValueError(f"an 'allowed' list only makes sense with mode 'allowed', not {self.mode!r}")
        for item in self.allowed:
            if len(find_emoji(item)) != 1:
                raise ValueError(f"{item!r} in 'allowed' is not a single emoji")
        return self

    def permits(self, emoji: str) -> bool:
        if self.mode == "free":
            return True
        if self.mode == "none":
            return False
        return all(base in self._allowed_bases for base in find_emoji(emoji))

    @property
    def _allowed_bases(self) -> set[str]:
        return {base for item in self.allowed for base in find_emoji(item)}

    def violations(self, text: str) -> list[str]:
        """The emoji in ``text`` this policy does not permit (empty when the text complies)."""
        return [emoji for emoji in find_emoji(text) if not self.permits(emoji)]


class Persona(BaseModel):
    """How replies sound: tone, formality, emoji, length, greetings and sign-offs, phrases to avoid."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Slug
    display_name: NonEmptyText
    description: str = ""
    tone: Tone
    formality: Formality
    emoji: EmojiPolicy = Field(default_factory=lambda: EmojiPolicy(mode="none"))
    max_reply_chars: int = Field(ge=80, le=20_000, description="longest reply, in characters, sign-off included")
    greetings: LanguageMap
    sign_offs: LanguageMap
    avoid_phrases: tuple[NonEmptyText, ...] = ()
    llm_instructions: str | None = Field(default=None, description="extra system-prompt text for an LLM generator")

    @model_validator(mode="after")
    def _texts_follow_emoji_policy(self) -> Persona:
        for name, texts in (("greetings", self.greetings), ("sign_offs", self.sign_offs)):
            for language, text in texts.items():
                bad = self.emoji.violations(text)
                if bad:
                    raise FieldProblem(
                        f"{name}.{language}", f"uses {''.join(bad)}, which the emoji policy ({self.emoji.mode}) forbids"
                    )
        return self

    @property
    def languages(self) -> list[str]:
        """Languages with both a greeting and a sign-off."""
        return sorted(set(self.greetings) & set(self.sign_offs))

    def greeting(self, language: str) -> str:
        """The greeting in ``language`` (its closest variant: ``pick_language``); "" when the persona has none in it."""
        return pick_language(self.greetings, language) or ""

    def sign_off(self, language: str) -> str:
        """The sign-off in ``language`` (its closest variant: ``pick_language``); "" when the persona has none in it."""
        return pick_language(self.sign_offs, language) or ""
