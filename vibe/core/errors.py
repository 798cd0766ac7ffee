"""The one exception type for errors a user can fix. Its message names the file or field and what to do."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = ["UserError"]


class UserError(Exception):
    """An error the user can fix; the message says what is wrong and how to fix it."""


class ConfigProblem(BaseModel):
    """One thing wrong with a config: where, what was given, what is allowed."""

    field: str
    given: Any = None
    allowed: str
    line: int | None = None

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        given = "" if self.given is NOT_GIVEN else f" got {short_repr(self.given)!s};"
        return f"{where}: {self.field}:{given} {self.allowed}"


class ConfigError(ValueError):
    """A config that does not validate. ``str()`` lists every problem, one per line."""

    def __init__(self, *, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(p.render(source) for p in problems))


NOT_GIVEN = object()


def short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
