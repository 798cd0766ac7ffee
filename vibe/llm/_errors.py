"""Errors from the LLM endpoint. All are UserErrors: the message says what failed and what to do."""

from __future__ import annotations

from vibe.core.errors import UserError

__all__ = ["LLMError", "LLMResponseError", "LLMUnavailable"]


class LLMError(UserError):
    """Base of every error talking to the LLM endpoint."""


class LLMUnavailable(LLMError):
    """Nothing answers at the endpoint URL (refused, unresolvable, or no answer within the timeout)."""

    def __init__(self, *, url: str, reason: str) -> None:
        self.url = url
        super().__init__(
            f"no LLM answers at {url} ({reason}). Start the local one with `vibe llm serve`, "
            f"or set VIBE_LLM_URL to an OpenAI-compatible endpoint (e.g. http://host:8000/v1)."
        )


class LLMResponseError(LLMError):
    """The endpoint answered, but with an HTTP error or a body that is not an OpenAI-style response."""

    def __init__(self, *, url: str, status: int | None, body: str, reason: str = "") -> None:
        self.url, self.status, self.body = url, status, body
        what = f"HTTP {status}" if status is not None else "a malformed response"
        excerpt = body if len(body) <= 300 else body[:297] + "..."
        super().__init__(f"the LLM at {url} answered with {what}{': ' + reason if reason else ''}: {excerpt}")
