"""Many chat-completion requests in flight at once against an OpenAI-compatible server.

:class:`ChatPool` sends requests from a thread pool of ``max_concurrency`` workers over one pooled
``httpx.Client`` (as many connections as workers), with the retries of :mod:`vibe.llm._client`: connection
errors, timeouts, 408/429/5xx are retried with doubling back-off. A server that cannot be reached at all
raises :class:`vibe.llm.LLMUnavailable` (the run stops and can be resumed); a request the server refuses
comes back as a :class:`Generation` with ``error`` set (that one unit is recorded as dropped).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import httpx

from vibe.llm import LLMConfig, LLMResponseError, request_json

__all__ = ["ChatPool", "Generation"]

log = logging.getLogger(__name__)


@dataclass
class Generation:
    """The answer to one request: one text per choice (``n``), token usage, and an error if it failed."""

    texts: list[str] = field(default_factory=list)
    finish_reasons: list[str | None] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None


class ChatPool:
    """``max_concurrency`` requests in flight at once to ``llm.url``."""

    def __init__(self, llm: LLMConfig, *, max_concurrency: int) -> None:
        self.config = llm
        self.max_concurrency = max_concurrency
        self._http = httpx.Client(
            timeout=llm.timeout_s,
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
        )
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="synth-llm")
        self._model = llm.model
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()

    def __enter__(self) -> ChatPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def model(self) -> str:
        """The configured model, else the first one the server lists."""
        if self._model is None:
            body = self._request("GET", "/models", None)
            try:
                self._model = str(body["data"][0]["id"])
            except (KeyError, IndexError, TypeError):
                raise LLMResponseError(
                    url=f"{self.config.url}/models", status=200, body=str(body), reason="it serves no model"
                ) from None
        return self._model

    def generate(self, payloads: Sequence[dict[str, Any]]) -> Iterator[tuple[int, Generation]]:
        """(index, generation) for each payload (``messages`` plus sampling fields), as they complete."""
        model = self.model
        pending: set[Future[Generation]] = set()
        index: dict[Future[Generation], int] = {}
        for i, payload in enumerate(payloads):
            future = self._pool.submit(self._one, {"model": model, **payload})
            index[future] = i
            pending.add(future)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield index[future], future.result()
        finally:
            for future in pending:
                future.cancel()

    def _one(self, payload: dict[str, Any]) -> Generation:
        started = time.perf_counter()
        try:
            body = self._request("POST", "/chat/completions", payload)
        except LLMResponseError as error:
            return Generation(error=str(error), seconds=time.perf_counter() - started)
        try:
            choices = sorted(body["choices"], key=lambda c: int(c.get("index", 0)))
            texts = [c["message"]["content"] for c in choices]
            if not all(isinstance(t, str) for t in texts):
                raise TypeError("a choice has no text content")
            usage = body.get("usage") or {}
            return Generation(
                texts=texts,
                finish_reasons=[c.get("finish_reason") for c in choices],
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                seconds=time.perf_counter() - started,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            return Generation(
                error=f"answer without choices[].message.content ({error!r})",
                seconds=time.perf_counter() - started,
            )

    def _request(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        return request_json(self._http, self.config, method, path, json=payload)
