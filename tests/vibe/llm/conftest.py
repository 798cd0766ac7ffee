"""Fixtures: a small OpenAI-compatible HTTP server in a thread (default tier), the real vLLM server (llm tier)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Reply:
    """One scripted answer of the stub: a chat reply with ``content``, or any ``status`` and raw ``body``."""

    content: str = "ok"
    status: int = 200
    body: str | None = None
    delay_s: float = 0.0
    prompt_tokens: int = 11
    completion_tokens: int = 3
    tool_calls: list[dict[str, Any]] | None = None  # an OpenAI tool-calling answer (content None)


class StubLLM:
    """A real HTTP server on a free loopback port that speaks the two endpoints the client uses.

    ``GET /v1/models`` lists ``models``; ``POST /v1/chat/completions`` answers with the next queued
    :class:`Reply` (or ``"ok"``) and records the request body in ``requests``.
    """

    def __init__(self, *, models: list[str]) -> None:
        self.models = models
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reply(self, *, times: int = 1, **fields: Any) -> None:
        """Queue ``times`` answers with these :class:`Reply` fields."""
        self.replies.extend(Reply(**fields) for _ in range(times))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                if self.path != "/v1/models":
                    return self._send(404, json.dumps({"error": "not found"}))
                self._send(200, json.dumps({"object": "list", "data": [{"id": m} for m in stub.models]}))

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/v1/chat/completions":
                    return self._send(404, json.dumps({"error": "not found"}))
                stub.requests.append(body)
                reply = stub.replies.popleft() if stub.replies else Reply()
                time.sleep(reply.delay_s)
                if reply.body is not None:
                    return self._send(reply.status, reply.body)
                self._send(
                    reply.status,
                    json.dumps(
                        {
                            "id": "chatcmpl-1",
                            "object": "chat.completion",
                            "model": body.get("model"),
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": reply.content}
                                    if reply.tool_calls is None
                                    else {
                                        "role": "assistant",
                                        "content": None,
                                        "tool_calls": reply.tool_calls,
                                    },
                                    "finish_reason": "stop" if reply.tool_calls is None else "tool_calls",
                                }
                            ],
                            "usage": {
                                "prompt_tokens": reply.prompt_tokens,
                                "completion_tokens": reply.completion_tokens,
                                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                            },
                        }
                    ),
                )

            def _send(self, status: int, text: str) -> None:
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

        return Handler


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    server = StubLLM(models=["stub-model", "other-model"])
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tmp_cache(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A private VIBE_CACHE, so pid and state files of these tests never meet a real server's."""
    monkeypatch.setenv("VIBE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
