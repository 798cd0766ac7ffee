"""The chat-model interface the agent programs against, and the replaying implementation used in tests.

A :class:`ChatModel` answers a list of messages with text (:meth:`ChatModel.complete`) or with an object of a
pydantic schema (:meth:`ChatModel.structured`). Structured answers are never trusted: the raw text is
validated against the schema, and a failure comes back as data (:class:`StructuredResult` with ``error``) for
the caller to handle, not as an exception. Every call adds to :attr:`ChatModel.usage` (calls, tokens,
latency) so the agent can report tokens per decision.

Subclasses implement one method, :meth:`ChatModel._generate`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from vibe.llm._errors import LLMError

__all__ = ["ChatModel", "Completion", "Message", "ScriptedChatModel", "StructuredResult", "Usage"]

T = TypeVar("T", bound=BaseModel)


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class Usage(BaseModel):
    """Calls, tokens and wall time spent; ``a + b`` adds two tallies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            latency_s=self.latency_s + other.latency_s,
        )


@dataclass(frozen=True)
class Completion:
    """What one generation returned, before any parsing."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None


@dataclass(frozen=True)
class StructuredResult(Generic[T]):
    """A structured answer: ``value`` if ``raw`` validated against the schema, else ``error``."""

    value: T | None
    raw: str
    usage: Usage  # this call alone
    error: ValidationError | None = None
    finish_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


MessagesLike = Sequence[Message | Mapping[str, str]]


class ChatModel(ABC):
    """A chat model: text in, text or a validated pydantic object out."""

    def __init__(self) -> None:
        self._usage = Usage()

    @property
    def usage(self) -> Usage:
        """Everything this model has spent so far."""
        return self._usage

    def complete(self, messages: MessagesLike) -> str:
        """The model's text answer to ``messages``."""
        completion, _ = self._timed(_messages(messages), schema=None)
        return completion.text

    def structured(self, messages: MessagesLike, schema: type[T]) -> StructuredResult[T]:
        """An answer constrained to ``schema`` (guided decoding where the server supports it), validated."""
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise TypeError(f"schema must be a pydantic BaseModel subclass, got {schema!r}")
        completion, usage = self._timed(_messages(messages), schema=schema)
        try:
            value = schema.model_validate_json(completion.text)
        except ValidationError as error:
            return StructuredResult(
                value=None,
                raw=completion.text,
                usage=usage,
                error=error,
                finish_reason=completion.finish_reason,
            )
        return StructuredResult(
            value=value, raw=completion.text, usage=usage, finish_reason=completion.finish_reason
        )

    @abstractmethod
    def _generate(self, messages: list[Message], *, schema: type[BaseModel] | None) -> Completion:
        """One generation; with ``schema``, ask for a JSON object of that schema."""

    def _timed(self, messages: list[Message], *, schema: type[BaseModel] | None) -> tuple[Completion, Usage]:
        started = time.perf_counter()
        completion = self._generate(messages, schema=schema)
        usage = Usage(
            calls=1,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_s=time.perf_counter() - started,
        )
        self._usage = self._usage + usage
        return completion, usage


class ScriptedChatModel(ChatModel):
    """Replays canned answers in order, and records what it was asked.

    For tests and dry runs of the agent: answers are strings or pydantic objects (sent as their JSON). Token
    counts are whitespace-separated words. Asking for more answers than were given raises :class:`LLMError`.
    """

    def __init__(self, responses: Iterable[str | BaseModel]) -> None:
        super().__init__()
        self._responses = [r.model_dump_json() if isinstance(r, BaseModel) else str(r) for r in responses]
        self._next = 0
        self.requests: list[list[Message]] = []  # every call's messages, in order

    @property
    def remaining(self) -> int:
        return len(self._responses) - self._next

    def _generate(self, messages: list[Message], *, schema: type[BaseModel] | None) -> Completion:
        self.requests.append(messages)
        if self._next >= len(self._responses):
            raise LLMError(
                f"ScriptedChatModel was asked for answer {self._next + 1} but was given only "
                f"{len(self._responses)}; add more responses to the script."
            )
        text = self._responses[self._next]
        self._next += 1
        prompt = sum(len(m.content.split()) for m in messages)
        return Completion(
            text=text, prompt_tokens=prompt, completion_tokens=len(text.split()), finish_reason="stop"
        )


def _messages(messages: MessagesLike) -> list[Message]:
    if isinstance(messages, str | bytes) or not messages:
        raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...}")
    return [m if isinstance(m, Message) else Message.model_validate(dict(m)) for m in messages]
