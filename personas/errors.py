"""Errors raised by the personas package, all subclasses of the polydesk hierarchy.

PersonaConfigError (ConfigError, code ``invalid_config``)
    a persona, market or routing file is invalid: names the file, the field and the problem
UnknownPersonaError (NotFoundError, code ``not_found``)
    ``catalog.persona(id)`` for an id the catalogue does not hold
UnknownMarketError (NotFoundError, code ``not_found``)
    ``catalog.market(code)`` or ``resolve(market=...)`` for a market the catalogue does not hold
UnknownChannelError (InputError, code ``invalid_input``)
    ``resolve(channel=...)`` for a channel polydesk has no connector for

The codes are the ones of the parent classes, so the published list of codes
in ``polydesk.errors`` stays complete.

Example:
    >>> error = PersonaConfigError.single(Path("personas/x.yaml"), "tone", "unknown tone 'grumpy'")
    >>> str(error)
    "personas/x.yaml: tone: unknown tone 'grumpy'"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from polydesk.errors import ConfigError, InputError, NotFoundError


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a file: where (a dotted field path, ``-`` for the whole file) and what."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class PersonaConfigError(ConfigError):
    """A persona, market or routing file is invalid.

    ``path`` is the file, ``problems`` every problem found in it (at least one);
    ``field`` and ``problem`` repeat the first for callers that show only one.
    """

    def __init__(self, path: Path, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("PersonaConfigError needs at least one problem")
        self.path = path
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = f"{path}: {self.problems[0]}"
        else:
            listed = "\n".join(f"  - {item}" for item in self.problems)
            message = f"{path}: {len(self.problems)} problems\n{listed}"
        super().__init__(message)

    @classmethod
    def single(cls, path: Path, field: str, problem: str) -> PersonaConfigError:
        return cls(path, [Problem(field, problem)])

    @property
    def field(self) -> str:
        return self.problems[0].field

    @property
    def problem(self) -> str:
        return self.problems[0].problem


class UnknownPersonaError(NotFoundError):
    def __init__(self, persona_id: str, known: Sequence[str]) -> None:
        self.persona_id = persona_id
        super().__init__(f"no persona {persona_id!r} in the catalogue; known personas: {', '.join(sorted(known))}")


class UnknownMarketError(NotFoundError):
    def __init__(self, market: str, known: Sequence[str]) -> None:
        self.market = market
        super().__init__(
            f"no market {market!r} in the catalogue (known: {', '.join(sorted(known))}); "
            f"add <personas_dir>/markets/{market.lower() or 'xx'}.yaml to serve it"
        )


class UnknownChannelError(InputError):
    def __init__(self, channel: str, known: Sequence[str]) -> None:
        self.channel = channel
        super().__init__(f"unknown channel {channel!r}; channels are: {', '.join(known)}")
