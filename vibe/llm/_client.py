"""The HTTP client for any OpenAI-compatible endpoint (the local vLLM server by default).

The agent talks to its model only through this: ``POST {url}/chat/completions``, with structured answers asked
for as ``response_format: {"type": "json_schema", ...}`` (guided decoding in vLLM). Native tool calling is not
used: small models' chat templates often have no tools, and a JSON object that matches a schema of the possible
actions works with any model on any such server.

Configuration comes from :class:`LLMConfig`; its defaults read ``VIBE_LLM_URL`` (default
``http://127.0.0.1:8000/v1``) and ``VIBE_LLM_MODEL`` (default: the first model ``GET {url}/models`` lists).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, Field, field_validator

from vibe.core.config import VibeConfig
from vibe.llm._chat import ChatModel, Completion, Message, Usage
from vibe.llm._errors import LLMResponseError, LLMUnavailable

__all__ = ["DEFAULT_URL", "LLMConfig", "OpenAIChatModel", "ToolTurn", "list_models", "request_json"]

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8000/v1"
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class LLMConfig(VibeConfig):
    """Where the model is and how to call it."""

    url: str = Field(
        default_factory=lambda: os.environ.get("VIBE_LLM_URL") or DEFAULT_URL, validate_default=True
    )
    model: str | None = Field(default_factory=lambda: os.environ.get("VIBE_LLM_MODEL") or None)
    timeout_s: float = Field(default=120.0, gt=0, description="per request, connect and read")
    max_retries: int = Field(default=2, ge=0, le=10, description="extra tries on connection errors, 429, 5xx")
    retry_backoff_s: float = Field(
        default=0.5, ge=0, description="first wait between tries; doubles each time"
    )
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=1)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                "must be an http(s) URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1"
            )
        return value.rstrip("/")


@dataclass(frozen=True)
class ToolTurn:
    """One answer of a tool-calling model: its message (``content`` and/or ``tool_calls``), as sent."""

    message: dict[str, Any]
    finish_reason: str | None
    usage: Usage

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return list(self.message.get("tool_calls") or [])


class OpenAIChatModel(ChatModel):
    """A :class:`ChatModel` served over the OpenAI chat-completions API."""

    def __init__(self, config: LLMConfig | None = None) -> None:
        super().__init__()
        self.config = config or LLMConfig()
        self._http = httpx.Client(timeout=self.config.timeout_s)
        self._model = self.config.model

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def model(self) -> str:
        """The served model name: the configured one, else the first the server lists."""
        if self._model is None:
            models = self.list_models()
            if not models:
                raise LLMResponseError(
                    url=f"{self.url}/models", status=200, body="", reason="it serves no model"
                )
            self._model = models[0]
        return self._model

    def list_models(self) -> list[str]:
        body = self._request("GET", "/models")
        try:
            return [str(m["id"]) for m in body["data"]]
        except (KeyError, TypeError) as error:
            raise LLMResponseError(
                url=f"{self.url}/models", status=200, body=str(body), reason=f"no data[].id ({error!r})"
            ) from None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenAIChatModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _generate(self, messages: list[Message], *, schema: type[BaseModel] | None) -> Completion:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [m.model_dump() for m in messages],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        if schema is not None:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema.__name__,
                    "schema": schema.model_json_schema(),
                    "strict": True,
                },
            }
        body = self._request("POST", "/chat/completions", json=payload)
        try:
            choice = body["choices"][0]
            text = choice["message"]["content"]
            if not isinstance(text, str):
                raise TypeError(f"content is {type(text).__name__}")
            usage = body.get("usage") or {}
            return Completion(
                text=text,
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                finish_reason=choice.get("finish_reason"),
            )
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise LLMResponseError(
                url=f"{self.url}/chat/completions",
                status=200,
                body=str(body),
                reason=f"no choices[0].message.content ({error!r})",
            ) from None

    def chat_tools(
        self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]], max_tokens: int | None = None
    ) -> ToolTurn:
        """One turn of OpenAI tool calling: ``tools`` as ``{"type": "function", "function": {...}}``; the
        answer's message may hold ``tool_calls``. For capable models: small models' templates have no tools."""
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "tools": tools,
            "tool_choice": "auto",
            "temperature": self.config.temperature,
            "max_tokens": max_tokens or self.config.max_tokens,
        }
        started = time.perf_counter()
        body = self._request("POST", "/chat/completions", json=payload)
        try:
            choice = body["choices"][0]
            message = dict(choice["message"])
        except (KeyError, IndexError, TypeError) as error:
            raise LLMResponseError(
                url=f"{self.url}/chat/completions",
                status=200,
                body=str(body),
                reason=f"no choices[0].message ({error!r})",
            ) from None
        raw = body.get("usage") or {}
        usage = Usage(
            calls=1,
            prompt_tokens=int(raw.get("prompt_tokens", 0)),
            completion_tokens=int(raw.get("completion_tokens", 0)),
            latency_s=time.perf_counter() - started,
        )
        self._usage = self._usage + usage
        return ToolTurn(message=message, finish_reason=choice.get("finish_reason"), usage=usage)

    def _request(self, method: str, path: str, *, json: dict[str, Any] | None = None) -> Any:
        return request_json(self._http, self.config, method, path, json=json)


def request_json(
    http: httpx.Client, config: LLMConfig, method: str, path: str, *, json: dict[str, Any] | None = None
) -> Any:
    """One API call to ``config.url + path`` with retries on connection errors, timeouts and 408/429/5xx
    (doubling back-off); returns the JSON body. Raises :class:`LLMUnavailable` when no try got an answer,
    :class:`LLMResponseError` when the server refused (or answered something that is not JSON)."""
    url = f"{config.url}{path}"
    attempts = config.max_retries + 1
    for attempt in range(attempts):
        last = attempt == attempts - 1
        try:
            response = http.request(method, url, json=json)
        except httpx.TimeoutException:
            reason = f"no answer within {config.timeout_s:g} s"
            if last:
                raise LLMUnavailable(url=config.url, reason=f"{reason}, {attempts} tries") from None
        except httpx.TransportError as error:
            reason = f"{type(error).__name__}: {error}"
            if last:
                raise LLMUnavailable(url=config.url, reason=f"{reason}, {attempts} tries") from None
        else:
            if response.status_code < 400:
                try:
                    return response.json()
                except ValueError:
                    raise LLMResponseError(
                        url=url, status=response.status_code, body=response.text, reason="body is not JSON"
                    ) from None
            if response.status_code not in _RETRY_STATUS or last:
                raise LLMResponseError(url=url, status=response.status_code, body=response.text)
            reason = f"HTTP {response.status_code}"
        wait = min(config.retry_backoff_s * 2**attempt, 8.0)
        log.warning(
            "LLM call to %s failed (%s); try %d of %d in %.1f s", url, reason, attempt + 2, attempts, wait
        )
        time.sleep(wait)
    raise AssertionError("unreachable")


def list_models(url: str, *, timeout_s: float = 5.0) -> list[str] | None:
    """The model names served at ``url``, or None if nothing answers there (one quick try, no retries)."""
    try:
        response = httpx.get(f"{url.rstrip('/')}/models", timeout=timeout_s)
        response.raise_for_status()
        return [str(m["id"]) for m in response.json()["data"]]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
