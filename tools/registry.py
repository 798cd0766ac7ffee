"""The tool registry: every tool the agent may call, with typed argument and result schemas.

A tool is a name, a description (shown to the LLM), an argument model, a result model and a function.
The agent validates arguments before the gate sees them and results before the ledger records them, so
nothing untyped crosses the boundary. Implementations import their heavy dependencies (torch, Megatron,
Ray) inside the function: importing the registry stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from policies import Gate
from vibe.ledger import Ledger

__all__ = ["Tool", "ToolArgs", "ToolContext", "ToolError", "register", "registered"]

A = TypeVar("A", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


class ToolArgs(BaseModel):
    """The base of every tool's argument model: an unknown key is an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ToolError(RuntimeError):
    """A tool failed. ``retryable`` tells the agent whether running it again may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, kw_only=True)
class ToolContext:
    """What every tool call gets besides its arguments: where to work, whether to show progress, and the
    gate that judged the call (None: no policy is in force), for the checks a tool makes while it runs, and
    the ledger the agent records into (None: nothing is recorded), which tools that decide as they run
    (a generator's batches) record into; ``progress`` takes the lines a long tool tells as it goes (a
    search's finished trials; None: not told)."""

    workdir: Path
    thread_id: str = "cli"
    show_progress: bool = True
    gate: Gate | None = None
    ledger: Ledger | None = None
    progress: Callable[[str], None] | None = None


@dataclass(frozen=True, kw_only=True)
class Tool(Generic[A, R]):
    name: str
    description: str
    args: type[A]
    result: type[R]
    fn: Callable[[A, ToolContext], R]

    def __call__(self, args: A | dict[str, Any], context: ToolContext) -> R:
        parsed = args if isinstance(args, self.args) else self.args.model_validate(args)
        return self.result.model_validate(self.fn(parsed, context))

    def schema(self) -> dict[str, Any]:
        """What the LLM sees of this tool."""
        return {
            "name": self.name,
            "description": self.description,
            "arguments": self.args.model_json_schema(),
        }


_TOOLS: dict[str, Tool[Any, Any]] = {}


def register(tool: Tool[A, R]) -> Tool[A, R]:
    if tool.name in _TOOLS:
        raise ValueError(f"tool {tool.name!r} is registered twice")
    _TOOLS[tool.name] = tool
    return tool


def registered() -> dict[str, Tool[Any, Any]]:
    """Every registered tool by name (importing ``tools`` registers the built-in ones)."""
    return dict(_TOOLS)
